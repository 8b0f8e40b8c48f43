"""The StateStore contract (runtime.protocols): every built-in store behaves the same."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from wfdsl.runtime.protocols import STAT_FIELDS, Enrollment, HistoryEntry, StateStore, Timer
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.sqlite import SQLiteStore

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "state.db")
        yield sqlite
        sqlite.close()
    else:
        from wfdsl.stores.postgres import PostgresStore

        postgres = PostgresStore(request.getfixturevalue("pg_url"))
        try:
            yield postgres
        finally:
            postgres.close()


def enrollment(eid: str, record: str = "c1", workflow: str = "W", **kw: object) -> Enrollment:
    fields: dict[str, object] = {
        "id": eid,
        "workflow": workflow,
        "object": "contact",
        "record": record,
        "status": "active",
        "enrolled_at": at(0),
        "seq": int(eid.strip("e") or 0),
    }
    fields.update(kw)
    return Enrollment(**fields)  # type: ignore[arg-type]


def entry(
    seq: int,
    kind: str = "action",
    minutes: int = 0,
    enrollment: str | None = "e1",
    record: str = "c1",
    workflow: str = "W",
) -> HistoryEntry:
    return HistoryEntry(
        seq=seq,
        at=at(minutes),
        workflow=workflow,
        object="contact",
        id=record,
        kind=kind,
        step="steps.0",
        detail={"action": "send_email", "n": seq},
        enrollment=enrollment,
    )


def test_is_a_state_store(store: StateStore) -> None:
    assert isinstance(store, StateStore)


def test_a_store_that_declares_it_rolls_back_does(store: StateStore) -> None:
    """`RollbackStore` is how the host learns it can do a failed unit again without
    the bad input: every durable store declares it, and undoes a block that raises;
    the memory store does not declare it."""
    from wfdsl.stores.protocols import RollbackStore

    assert isinstance(store, RollbackStore) is (not isinstance(store, MemoryStore))
    if isinstance(store, RollbackStore):
        with pytest.raises(RuntimeError), store.transaction():
            store.put_enrollment(enrollment("e-9"))
            raise RuntimeError("the unit fails")
        assert store.enrollment("e-9") is None


def test_counters_count_per_name(store: StateStore) -> None:
    assert [store.next_seq("a"), store.next_seq("a"), store.next_seq("b")] == [1, 2, 1]


def test_enrollments_round_trip_with_every_field(store: StateStore) -> None:
    full = enrollment(
        "e1",
        step="steps.1",
        phase="after",
        attempt=2,
        ended_at=at(5),
        emailed=True,
        goal_met=True,
        converted=True,
        received=False,
        version="abc",
        waiting_for={"type": "form.submitted", "criteria": [{"op": "is", "value": [1, 2]}]},
        anchor="2026-03-01",
        caused_by="e0",
    )
    with store.transaction():
        store.put_enrollment(full)
    assert store.enrollment("e1") == full
    assert store.enrollment("nope") is None


def test_put_enrollment_replaces_and_keeps_order(store: StateStore) -> None:
    with store.transaction():
        for eid, record in (("e1", "c1"), ("e2", "c2"), ("e3", "c1")):
            store.put_enrollment(enrollment(eid, record))
        store.put_enrollment(enrollment("e1", "c1", status="completed", ended_at=at(9)))
    assert [e.id for e in store.enrollments()] == ["e1", "e2", "e3"]
    assert [e.id for e in store.enrollments_of("contact", "c1")] == ["e1", "e3"]
    assert [e.id for e in store.enrollments(status="active")] == ["e2", "e3"]
    assert [e.id for e in store.enrollments(workflow="W", status="completed")] == ["e1"]
    assert list(store.enrollments(workflow="Other")) == []
    assert store.enrollments_of("contact", "nobody") == []


def test_timers_pop_in_due_then_seq_order(store: StateStore) -> None:
    with store.transaction():
        store.set_timer(Timer(key="e1", due=at(10), seq=3, kind="resume", workflow="W", enrollment="e1"))
        store.set_timer(Timer(key="e2", due=at(5), seq=4, kind="resume", workflow="W", enrollment="e2"))
        store.set_timer(Timer(key="e3", due=at(5), seq=1, kind="timeout", workflow="W", enrollment="e3"))
        store.set_timer(Timer(key="schedule:W", due=at(20), seq=2, kind="schedule", workflow="W"))
    assert store.next_due() == at(5)
    assert store.pop_due(at(4)) is None
    popped = [store.pop_due(at(10)) for _ in range(4)]
    assert [t.key if t else None for t in popped] == ["e3", "e2", "e1", None]
    assert store.timer("schedule:W") == Timer(key="schedule:W", due=at(20), seq=2, kind="schedule", workflow="W")
    assert store.next_due() == at(20)


def test_set_timer_replaces_by_key_and_cancel_removes(store: StateStore) -> None:
    store.set_timer(Timer(key="e1", due=at(5), seq=1, kind="resume", workflow="W", enrollment="e1"))
    store.set_timer(Timer(key="e1", due=at(50), seq=2, kind="resume", workflow="W", enrollment="e1"))
    assert store.pop_due(at(10)) is None
    assert store.next_due() == at(50)
    store.cancel_timer("e1")
    store.cancel_timer("never")
    assert store.next_due() is None
    assert store.timer("e1") is None


def test_history_in_order_and_filtered(store: StateStore) -> None:
    with store.transaction():
        store.append_history(entry(1, "enrolled"))
        store.append_history(entry(2, record="c2", enrollment="e2", workflow="V"))
        store.append_history(entry(3, "delayed", minutes=3))
    assert [h.seq for h in store.history()] == [1, 2, 3]
    assert [h.seq for h in store.history(record=("contact", "c1"))] == [1, 3]
    assert [h.seq for h in store.history(workflow="V")] == [2]
    assert store.history(record=("contact", "c1"), workflow="V") == []
    assert store.history()[2] == entry(3, "delayed", minutes=3)


def test_history_detail_keeps_types(store: StateStore) -> None:
    detail = {
        "until": at(90),
        "date": dt.date(2026, 3, 1),
        "pair": (1, "x"),
        "none": None,
        "nested": {"list": [1.5, True]},
    }
    item = HistoryEntry(
        seq=1, at=at(0), workflow="W", object="contact", id="c1", kind="delayed", step="steps.0", detail=detail
    )
    store.append_history(item)
    assert store.history() == [item]
    assert store.history()[0].to_json() == item.to_json()


def test_stats_add_reset_and_default_zero(store: StateStore) -> None:
    assert store.stats("W") == {name: 0 for name in STAT_FIELDS}
    with store.transaction():
        store.add_stat("W", "enrolled", 1)
        store.add_stat("W", "enrolled", 2)
        store.add_stat("W", "active", 1)
        store.add_stat("W", "active", -1)
        store.add_stat("W", "goal_met", 4)
    assert store.stats("W")["enrolled"] == 3
    assert store.stats("W")["active"] == 0
    store.reset_stats("W", ["goal_met", "converted"])
    assert store.stats("W")["goal_met"] == 0
    assert store.stats("W")["enrolled"] == 3


def test_facts(store: StateStore) -> None:
    store.add_fact("enrolled", "W", "contact", "c1", at(0))
    assert store.has_fact("enrolled", "W", "contact", "c1")
    assert not store.has_fact("goal", "W", "contact", "c1")
    assert not store.has_fact("enrolled", "V", "contact", "c1")


def test_workflow_state_round_trips(store: StateStore) -> None:
    assert store.workflow_state("W") == {}
    store.set_workflow_state("W", {"active": True, "version": "h1", "since": at(1)})
    assert store.workflow_state("W") == {"active": True, "version": "h1", "since": at(1)}
    store.set_workflow_state("W", {"active": False})
    assert store.workflow_state("W") == {"active": False}


def test_transactions_nest(store: StateStore) -> None:
    with store.transaction():
        with store.transaction():
            store.add_stat("W", "enrolled", 1)
        store.add_stat("W", "enrolled", 1)
    assert store.stats("W")["enrolled"] == 2


def test_prune_per_retention_rules(store: StateStore) -> None:
    old, recent = -400 * 24 * 60, -10
    with store.transaction():
        store.put_enrollment(enrollment("e1", status="completed", ended_at=at(old + 5)))
        store.put_enrollment(enrollment("e2", record="c2", ended_at=None))
        store.append_history(entry(1, "enrolled", old, "e1"))
        store.append_history(entry(2, "action", old + 1, "e1"))
        store.append_history(entry(3, "action", old + 2, "e2", record="c2"))
        store.append_history(entry(4, "delayed", old + 3, "e2", record="c2"))
        store.append_history(entry(5, "action", recent, "e2", record="c2"))
        store.add_fact("enrolled", "W", "contact", "c1", at(-3 * 365 * 24 * 60))
        store.add_fact("goal", "W", "contact", "c2", at(old))
    removed = store.prune(
        actions_before=at(-90 * 24 * 60), history_before=at(-183 * 24 * 60), facts_before=at(-730 * 24 * 60)
    )
    # actions 2 and 3 (old), enrollment e1's remaining entry 1 (ended long ago), one fact
    assert removed == 4
    assert [h.seq for h in store.history()] == [4, 5]
    assert not store.has_fact("enrolled", "W", "contact", "c1")
    assert store.has_fact("goal", "W", "contact", "c2")


# ---------------------------------------------------------------- durable stores only


def test_sqlite_rolls_back_a_failed_transaction(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(RuntimeError), store.transaction():
        store.put_enrollment(enrollment("e1"))
        store.add_stat("W", "enrolled", 1)
        raise RuntimeError("boom")
    assert store.enrollment("e1") is None
    assert store.stats("W")["enrolled"] == 0


def test_sqlite_nested_failure_undoes_only_the_inner_block(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with store.transaction():
        store.add_stat("W", "enrolled", 1)
        try:
            with store.transaction():
                store.add_stat("W", "enrolled", 10)
                raise ValueError("inner")
        except ValueError:
            pass
    assert store.stats("W")["enrolled"] == 1


def test_sqlite_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    with store.transaction():
        store.put_enrollment(enrollment("e1"))
        store.set_timer(Timer(key="e1", due=at(5), seq=1, kind="resume", workflow="W", enrollment="e1"))
        store.append_history(entry(1, "enrolled"))
        store.add_stat("W", "enrolled", 1)
        store.add_fact("enrolled", "W", "contact", "c1", at(0))
        store.next_seq("enrollment")
    store.close()
    again = SQLiteStore(path)
    assert again.enrollment("e1") == enrollment("e1")
    assert again.next_due() == at(5)
    assert [h.seq for h in again.history()] == [1]
    assert again.stats("W")["enrolled"] == 1
    assert again.has_fact("enrolled", "W", "contact", "c1")
    assert again.next_seq("enrollment") == 2
    assert again.workflows() == ["W"]
