"""The SQLite CRM adapter: like the memory one, durable, honours keys, redoes units."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.adapters.sqlite import RecordsError, SQLiteCRM
from wfdsl.runtime.protocols import Action, CRMAdapter, Event, PermanentAdapterError

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture(params=["memory", "sqlite"])
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryCRM()
    else:
        adapter = SQLiteCRM(tmp_path / "crm.db")
        yield adapter
        adapter.close()


def seed(crm: Any) -> None:
    crm.add_record("contact", "c1", {"id": "c1", "email": "ann@example.com", "score": 3}, at=at(0))
    crm.add_record("company", "co1", {"name": "Acme"}, at=at(0))
    crm.associate(("contact", "c1"), ("company", "co1"))
    crm.add_to_list("VIP", ("contact", "c1"))


def test_is_an_adapter(crm: Any) -> None:
    assert isinstance(crm, CRMAdapter)


def test_reads(crm: Any) -> None:
    seed(crm)
    record = crm.get("contact", "c1")
    assert record.properties == {"email": "ann@example.com", "score": 3}
    assert record.lists == frozenset({"VIP"})
    assert record.associations == {"company": ("co1",)}
    assert crm.get("company", "co1").associations == {"contact": ("c1",)}
    assert crm.get("contact", "nobody") is None
    assert list(crm.query("contact")) == ["c1"]
    assert crm.property_history("contact", "c1", "score") == [(at(0), 3)]


def test_observe_derives_property_changes(crm: Any) -> None:
    seed(crm)
    events = crm.observe(
        Event(
            type="record.updated",
            object="contact",
            id="c1",
            at=at(5),
            properties={"score": 4, "email": "ann@example.com", "x": None},
        )
    )
    assert [(e.type, dict(e.data)) for e in events] == [
        ("property.changed", {"property": "score", "value": 4, "previous": 3})
    ]
    created = crm.observe(
        Event(type="record.created", object="contact", id="c2", at=at(6), properties={"email": "bo@example.com"})
    )
    assert [e.type for e in created] == ["record.created", "property.changed"]
    again = crm.observe(
        Event(type="record.created", object="contact", id="c2", at=at(7), properties={"email": "bo@example.com"})
    )
    assert again == []
    added = crm.observe(Event(type="list.added", object="contact", id="c2", at=at(8), data={"list": "VIP"}))
    assert [e.type for e in added] == ["list.added"]
    assert crm.observe(Event(type="list.added", object="contact", id="c2", at=at(9), data={"list": "VIP"})) == []
    form = Event(
        type="form.submitted", object="contact", id="c2", at=at(10), data={"form": "Demo", "when": dt.date(2026, 1, 2)}
    )
    assert crm.observe(form) == [form]
    assert crm.event_history("contact", "c2", "form.submitted") == [
        (at(10), {"form": "Demo", "when": dt.date(2026, 1, 2)})
    ]
    assert crm.property_history("contact", "c1", "score") == [(at(0), 3), (at(5), 4)]
    assert list(crm.query("contact")) == ["c1", "c2"]


ACTIONS = [
    Action(
        kind="set",
        object="contact",
        id="c1",
        args={"object": "contact", "property": "stage", "value": "customer"},
        at=at(1),
    ),
    Action(
        kind="set", object="contact", id="c1", args={"object": "company", "property": "tier", "value": "gold"}, at=at(2)
    ),
    Action(
        kind="increment", object="contact", id="c1", args={"object": "contact", "property": "score", "by": 2}, at=at(3)
    ),
    Action(kind="clear", object="contact", id="c1", args={"object": "contact", "property": "email"}, at=at(4)),
    Action(kind="assign_owner", object="contact", id="c1", args={"owner": "o7"}, at=at(5)),
    Action(kind="remove_from_list", object="contact", id="c1", args={"list": "VIP"}, at=at(6)),
    Action(
        kind="create_record",
        object="contact",
        id="c1",
        args={"object_type": "deal", "properties": {"amount": 10}},
        at=at(7),
    ),
    Action(kind="send_email", object="contact", id="c1", args={"email": "Welcome"}, at=at(8), enrollment="e1"),
    Action(kind="create_task", object="contact", id="c1", args={"title": "Call"}, at=at(9)),
]


def test_actions_match_the_memory_adapter(tmp_path: Path) -> None:
    memory, sqlite = MemoryCRM(), SQLiteCRM(tmp_path / "crm.db")
    for crm in (memory, sqlite):
        seed(crm)
    for number, action in enumerate(ACTIONS):
        assert sqlite.perform(action, f"k{number}") == memory.perform(action, f"k{number}")
    for object_type, record_id in [("contact", "c1"), ("company", "co1"), ("deal", "deal-1")]:
        assert sqlite.get(object_type, record_id) == memory.get(object_type, record_id)
    for prop in ("stage", "score", "email", "hubspot_owner_id"):
        assert sqlite.property_history("contact", "c1", prop) == memory.property_history("contact", "c1", prop)
    assert sqlite.event_history("contact", "c1", "email.sent") == memory.event_history("contact", "c1", "email.sent")
    assert sqlite.outbox() == memory.outbox
    assert [r["key"] for r in sqlite.performed()] == [k for k, _ in memory.performed]


def test_idempotency_key_performs_once(crm: Any) -> None:
    seed(crm)
    action = ACTIONS[2]
    first = crm.perform(action, "e1:steps.0:1")
    second = crm.perform(action, "e1:steps.0:1")
    assert first == second
    assert crm.get("contact", "c1").properties["score"] == 5
    third = crm.perform(action, "e1:steps.0:2")
    assert crm.get("contact", "c1").properties["score"] == 7
    assert third != first


def test_permanent_error_changes_nothing(crm: Any) -> None:
    crm.add_record("contact", "c1", {}, at=at(0))
    bad = Action(
        kind="set", object="contact", id="c1", args={"object": "company", "property": "tier", "value": "x"}, at=at(1)
    )
    with pytest.raises(PermanentAdapterError, match="no associated company"):
        crm.perform(bad, "k")
    crm.add_record("company", "co1", {}, at=at(0))
    crm.associate(("contact", "c1"), ("company", "co1"))
    crm.perform(bad, "k")  # the failed attempt did not use up the key
    assert crm.get("company", "co1").properties == {"tier": "x"}


def test_sqlite_log_counts_replays_and_survives_reopen(tmp_path: Path) -> None:
    crm = SQLiteCRM(tmp_path / "crm.db")
    seed(crm)
    crm.perform(ACTIONS[7], "e1:steps.0:1")
    crm.perform(ACTIONS[7], "e1:steps.0:1")
    crm.close()
    crm = SQLiteCRM(tmp_path / "crm.db")
    crm.perform(ACTIONS[7], "e1:steps.0:1")
    log = crm.performed()
    assert [(r["key"], r["kind"], r["replays"]) for r in log] == [("e1:steps.0:1", "send_email", 2)]
    assert len(crm.outbox()) == 1
    assert crm.get("contact", "c1").lists == frozenset({"VIP"})


def test_unit_journal_redoes_a_lost_commit(tmp_path: Path) -> None:
    crm = SQLiteCRM(tmp_path / "a.db")
    seed(crm)
    twin = SQLiteCRM(tmp_path / "b.db")
    seed(twin)
    crm.begin_unit()
    crm.observe(Event(type="record.updated", object="contact", id="c1", at=at(5), properties={"score": 9}))
    crm.perform(ACTIONS[6], "k1")
    with pytest.raises(PermanentAdapterError):  # a failed action leaves no trace in the journal
        crm.perform(
            Action(
                kind="set", object="contact", id="c1", args={"object": "ticket", "property": "p", "value": 1}, at=at(6)
            ),
            "k2",
        )
    journal = crm.unit_journal()
    crm.end_unit(1)
    twin.replay_unit(1, journal)
    assert twin.applied_unit() == 1
    for object_type, record_id in [("contact", "c1"), ("deal", "deal-1")]:
        assert twin.get(object_type, record_id) == crm.get(object_type, record_id)
    assert twin.performed() == crm.performed()
    assert twin.property_history("contact", "c1", "score") == crm.property_history("contact", "c1", "score")


def test_aborted_unit_leaves_nothing(tmp_path: Path) -> None:
    crm = SQLiteCRM(tmp_path / "a.db")
    crm.begin_unit()
    crm.add_record("contact", "c1", {"a": 1}, at=at(0))
    crm.abort_unit()
    assert crm.get("contact", "c1") is None
    assert crm.applied_unit() == 0


RECORDS = {
    "contact": [{"id": "c1", "email": "ann@example.com", "renewal_date": "2026-03-01"}],
    "company": [{"id": "co1", "name": "Acme"}],
    "associations": [{"from": "contact:c1", "to": "company:co1"}],
    "lists": {"Competitors": ["contact:c1"]},
}


def test_import_records_once(tmp_path: Path) -> None:
    crm = SQLiteCRM(tmp_path / "crm.db")
    assert crm.import_records(RECORDS, at=at(0)) == 2
    crm.perform(ACTIONS[0], "k")
    assert crm.import_records(RECORDS, at=at(5)) == 0  # already imported: changes are kept
    record = crm.get("contact", "c1")
    assert record.properties["stage"] == "customer"
    assert record.lists == frozenset({"Competitors"})
    assert record.associations == {"company": ("co1",)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # The messages of `runtime.inputs`, the one reader of records files.
        ([], "expected a JSON object with a list of records per object type"),
        ({"contact": {"id": "c1"}}, "`contact` must be a list of records"),
        ({"contact": [{"email": "x"}]}, 'each `contact` record must be an object with an "id"'),
        ({"associations": [{"from": "c1"}]}, "`from` must be `type:id`"),
        ({"lists": {"L": ["nocolon"]}}, "a list member must be `type:id` (e.g. \"contact:c1\"), found 'nocolon'"),
    ],
)
def test_import_records_errors(tmp_path: Path, data: Any, message: str) -> None:
    crm = SQLiteCRM(tmp_path / "crm.db")
    with pytest.raises(RecordsError) as caught:
        crm.import_records(data, at=at(0))
    assert message in str(caught.value)
    assert crm.records() == []
