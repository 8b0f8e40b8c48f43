"""The compact forms the memory store and the memory CRM keep their state in read back
exactly what was written: the history log, a record's event history, cached reads."""

from __future__ import annotations

import datetime as dt

import pytest

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.runtime.history import SHARED_SHAPES, HistoryLog
from wfdsl.runtime.protocols import Action, Event, HistoryEntry

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, 9, tzinfo=UTC)


def entry(seq: int, kind: str = "action", record: str = "c1", workflow: str = "W", **detail: object) -> HistoryEntry:
    return HistoryEntry(
        seq=seq,
        at=T0 + dt.timedelta(minutes=seq),
        workflow=workflow,
        object="contact",
        id=record,
        kind=kind,
        step=None if kind == "enrolled" else "steps.0",
        detail=detail,
        enrollment=f"e{record}",
    )


def test_the_history_log_gives_back_every_entry_in_order() -> None:
    written = [
        entry(1, "enrolled"),
        entry(2, "delayed", until="2026-01-02T09:00:00+00:00"),
        entry(3, "action", record="c2", workflow="V", action="send_email", email="Hi", tags=["a", "b"]),
        entry(4, "action", action="send_email", email="Hi", n=None, when=T0),
    ]
    log = HistoryLog(written)
    assert list(log) == written
    assert len(log) == 4
    assert log.select(record=("contact", "c2")) == [written[2]]
    assert log.select(workflow="W", kind="action") == [written[3]]
    assert log.count() == 4 and log.count("action") == 2
    assert [(k, d.get("email")) for k, d in log.kinds_and_details()][2:] == [("action", "Hi"), ("action", "Hi")]
    # A detail read back is a dict of its own: changing it changes nothing kept.
    first = log.entry(1)
    first.detail["until"] = "changed"  # type: ignore[index]
    assert log.entry(1) == written[1]


def test_equal_shapes_are_kept_once_up_to_a_limit() -> None:
    log = HistoryLog(entry(i, "action", action="send_email", email="Hi") for i in range(3))
    assert log._shape[0] is log._shape[1] is log._shape[2]
    many = HistoryLog(entry(i, "delayed", until=str(i)) for i in range(SHARED_SHAPES + 10))
    assert len(many._shared) == SHARED_SHAPES
    assert [e.detail["until"] for e in many][-1] == str(SHARED_SHAPES + 9)


def test_the_history_log_keeps_what_prune_wants() -> None:
    log = HistoryLog([entry(1, "enrolled"), entry(2, "action"), entry(3, "delayed", until="x"), entry(4, "action")])
    removed = log.keep(lambda kind, at, enrollment: kind != "action" or at > T0 + dt.timedelta(minutes=3))
    assert removed == 1
    assert [e.seq for e in log] == [1, 3, 4]
    assert log.entry(1).detail == {"until": "x"}


def test_a_records_event_history_holds_one_event_then_many() -> None:
    crm = MemoryCRM()
    crm.add_record("contact", "c1", {"email": "a@example.com"}, at=T0)
    assert crm.event_history("contact", "c1", "page.visited") == []
    crm.observe(Event(type="page.visited", object="contact", id="c1", at=T0, data={"url": "/a"}))
    assert crm.event_history("contact", "c1", "page.visited") == [(T0, {"url": "/a"})]
    assert crm.event_history("contact", "c1", "form.submitted") == []
    later = T0 + dt.timedelta(hours=1)
    crm.observe(Event(type="form.submitted", object="contact", id="c1", at=later, data={"form": "f"}))
    crm.observe(Event(type="page.visited", object="contact", id="c1", at=later, data={"url": "/b", "t": ["x"]}))
    assert crm.event_history("contact", "c1", "page.visited") == [
        (T0, {"url": "/a"}),
        (later, {"url": "/b", "t": ["x"]}),
    ]
    assert crm.event_history("contact", "c1", "form.submitted") == [(later, {"form": "f"})]
    assert crm.event_history("contact", "c2", "page.visited") == []


def test_equal_event_data_is_shared_and_still_reads_equal() -> None:
    crm = MemoryCRM()
    for rid in ("c1", "c2"):
        crm.observe(Event(type="workflow.enrolled", object="contact", id=rid, at=T0, data={"workflow": "W"}))
    (_, one), (_, two) = (crm.event_history("contact", rid, "workflow.enrolled")[0] for rid in ("c1", "c2"))
    assert one is two and one == {"workflow": "W"}


def test_a_record_read_again_sees_every_change_made_since() -> None:
    crm = MemoryCRM()
    crm.add_record("contact", "c1", {"email": "a@example.com"}, at=T0)
    crm.add_record("company", "k1", {"name": "K"}, at=T0)
    first = crm.get("contact", "c1")
    assert first is crm.get("contact", "c1")  # read again with no change: the same snapshot
    crm.observe(Event(type="record.updated", object="contact", id="c1", at=T0, properties={"city": "Oslo"}))
    second = crm.get("contact", "c1")
    assert second is not None and second.properties["city"] == "Oslo"
    assert first is not None and "city" not in first.properties  # a snapshot never changes
    crm.observe(Event(type="list.added", object="contact", id="c1", at=T0, data={"list": "L"}))
    assert crm.get("contact", "c1").lists == frozenset({"L"})  # type: ignore[union-attr]
    crm.associate(("contact", "c1"), ("company", "k1"))
    assert crm.get("contact", "c1").associations == {"company": ("k1",)}  # type: ignore[union-attr]
    crm.add_to_list("M", ("contact", "c1"))
    crm.set_lists(("company", "k1"), {"N"})
    assert crm.get("contact", "c1").lists == frozenset({"L", "M"})  # type: ignore[union-attr]
    assert crm.get("company", "k1").lists == frozenset({"N"})  # type: ignore[union-attr]
    action = Action(
        kind="set", object="contact", id="c1", args={"object": "company", "property": "name", "value": "J"}, at=T0
    )
    crm.perform(action, "k-1")
    assert crm.get("company", "k1").properties["name"] == "J"  # type: ignore[union-attr]
    crm.add_record("contact", "c1", {"email": "b@example.com"}, at=T0)
    assert crm.get("contact", "c1").properties == {"email": "b@example.com"}  # type: ignore[union-attr]


def test_new_enrollment_is_the_enrollment_its_keywords_make() -> None:
    from wfdsl.runtime.context import evolve, new_enrollment
    from wfdsl.runtime.protocols import Enrollment

    made = new_enrollment("e1", "W", "contact", "c1", T0, 1, "abc", "steps.0", "2026-01-01", "e0")
    assert made == Enrollment(
        id="e1",
        workflow="W",
        object="contact",
        record="c1",
        status="active",
        enrolled_at=T0,
        seq=1,
        version="abc",
        step="steps.0",
        phase="at",
        anchor="2026-01-01",
        caused_by="e0",
    )
    copy = evolve(made, step="steps.1", attempt=2)
    assert (copy.step, copy.attempt, made.step, made.attempt) == ("steps.1", 2, "steps.0", 0)
    with pytest.raises(TypeError, match="no field 'stage'"):
        evolve(made, stage="x")
