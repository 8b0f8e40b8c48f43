"""What enrolling by hand skips when nothing needs it (the queued `workflow.enroll` event,
a `workflow.enrolled` event no workflow listens to, a record's facts with nothing to
judge), and that skipping it changes no outcome: the same history, enrollments, CRM
event history and actions as the path an observer sees."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from engine_helpers import plans
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.observe import NullObserver
from wfdsl.runtime.protocols import HistoryEntry, StateStore, VirtualClock
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.sqlite import SQLiteStore

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, inside office hours

MINIMAL = """workflow "Minimal" {
  object contact
  enroll manually
  steps {
    if contact.hubspotscore >= 50 {
      set contact.hs_lead_status = "IN_PROGRESS"
    }
  }
}
"""
AFTER = """workflow "After" {
  object contact
  enroll when enrolled in workflow "Minimal"
  steps {
    set contact.lifecyclestage = "lead"
  }
}
"""
GUARDED = """workflow "Guarded" {
  object contact
  enroll manually
  goal contact.lifecyclestage = "customer"
  unenroll when contact.hubspotscore < 10
  suppress list "Blocked"
  steps {
    set contact.hs_lead_status = "OPEN"
  }
}
"""

WAITS = """workflow "Waits" {
  object contact
  enroll manually
  steps {
    if contact.hubspotscore >= 50 {
      delay 1 day
    }
    set contact.hs_lead_status = "OPEN"
  }
}
"""


def run(text: str, observed: bool) -> tuple[Engine, MemoryCRM]:
    crm = MemoryCRM()
    scores = {"c1": 75, "c2": 20, "c3": 5, "c4": 90, "c5": 60}
    for rid, score in scores.items():
        crm.add_record("contact", rid, {"hubspotscore": score}, at=T0)
    crm.add_record("contact", "c6", {"hubspotscore": 80, "lifecyclestage": "customer"}, at=T0)
    crm.add_to_list("Blocked", ("contact", "c5"))
    e = Engine(plans(text), crm, MemoryStore(), VirtualClock(T0), observer=NullObserver() if observed else None)
    for name in e.workflows:
        e.activate(name)
    first = e.workflows[0]
    for rid in (*scores, "c6", "c1", "missing"):  # c1 again: already enrolled
        e.enroll(first, ("contact", rid), at=T0)
    e.enroll("Nope", ("contact", "c1"), at=T0)
    e.run_due(T0 + dt.timedelta(days=2))
    return e, crm


def outcome(e: Engine, crm: MemoryCRM) -> dict[str, Any]:
    store = e.store
    assert isinstance(store, MemoryStore)
    return {
        "history": [(h.seq, h.workflow, h.id, h.kind, h.step, dict(h.detail), h.enrollment) for h in e.history()],
        "enrollments": list(store.enrollments()),
        "stats": {name: dict(store.stats(name)) for name in e.workflows},
        "performed": crm.performed,
        "events": {
            rid: [(t, crm.event_history("contact", rid, t)) for t in ("workflow.enrolled", "property.changed")]
            for rid in ("c1", "c2", "c3", "c4", "c5", "c6")
        },
        "records": {rid: crm.get("contact", rid) for rid in ("c1", "c2", "c3", "c4", "c5", "c6")},
    }


def test_enrolling_by_hand_unobserved_is_what_an_observer_sees() -> None:
    for text in (MINIMAL, MINIMAL + AFTER, GUARDED, WAITS):
        quick, observed = outcome(*run(text, False)), outcome(*run(text, True))
        assert quick == observed
        assert quick["events"]["c1"][0][1]  # `workflow.enrolled` kept in the CRM's history


def test_workflow_enrolled_is_dispatched_only_when_a_workflow_listens() -> None:
    e, crm = run(MINIMAL, False)
    assert e._dispatcher.enroller.keeper is crm  # kept, not dispatched
    e, crm = run(MINIMAL + AFTER, False)
    assert e._dispatcher.enroller.keeper is None
    record = crm.get("contact", "c2")
    assert record is not None and record.properties.get("lifecyclestage") == "lead"
    assert [h.kind for h in e.history(workflow="After", record=("contact", "c2"))] == [
        "enrolled",
        "action",
        "completed",
    ]
    e, crm = run(MINIMAL, True)
    assert e._dispatcher.enroller.keeper is None  # an observer sees every event


def test_a_new_enrollment_is_given_to_the_store_when_its_first_run_waits_and_never_changed_after() -> None:
    crm = MemoryCRM()
    crm.add_record("contact", "c1", {"hubspotscore": 75}, at=T0)
    store = MemoryStore()
    e = Engine(plans(WAITS), crm, store, VirtualClock(T0))
    e.activate("Waits")
    e.enroll("Waits", ("contact", "c1"), at=T0)
    (held,) = store.enrollments_of("contact", "c1")
    assert (held.status, held.step, held.phase) == ("active", "steps.0.then.0", "after")
    assert store.count_timers() == 1
    e.run_due(T0 + dt.timedelta(days=3))
    assert (held.status, held.step) == ("active", "steps.0.then.0")  # replaced in the store, not changed
    (done,) = store.enrollments_of("contact", "c1")
    assert done.status == "completed" and done.id == held.id


def test_entries_made_once_as_shapes_read_as_every_store_records_them(tmp_path: Path) -> None:
    """A decision recorded the same way for every enrollment (enrolled, a branch taken,
    a fixed action, completed) is handed to the memory store as one shared shape; a
    store with a history sink, and the SQLite store, are given the fields. All read the
    same, and so do their counters."""
    text = MINIMAL + GUARDED

    def drive(store: StateStore) -> Engine:
        crm = MemoryCRM()
        for rid, score in {"c1": 75, "c2": 20, "c3": 5}.items():
            crm.add_record("contact", rid, {"hubspotscore": score}, at=T0)
        crm.add_record("contact", "c4", {"hubspotscore": 80, "lifecyclestage": "customer"}, at=T0)
        e = Engine(plans(text), crm, store, VirtualClock(T0))
        for name in e.workflows:
            e.activate(name)
        for name in e.workflows:
            for rid in ("c1", "c2", "c3", "c4", "c1"):
                e.enroll(name, ("contact", rid), at=T0)
        return e

    def seen(e: Engine) -> list[tuple[Any, ...]]:
        return [(h.seq, h.workflow, h.object, h.id, h.kind, h.step, dict(h.detail), h.enrollment) for h in e.history()]

    shaped = drive(MemoryStore())
    sunk: list[HistoryEntry] = []
    sink = drive(MemoryStore(history_sink=sunk.append))
    durable_store = SQLiteStore(tmp_path / "state.db")
    durable = drive(durable_store)
    expected = seen(shaped)
    assert {row[4] for row in expected} >= {"enrolled", "not_enrolled", "branched", "action", "completed"}
    assert [(x.seq, x.workflow, x.object, x.id, x.kind, x.step, dict(x.detail), x.enrollment) for x in sunk] == expected
    assert seen(durable) == expected
    for name in shaped.workflows:
        assert shaped.stats(name) == sink.stats(name) == durable.stats(name)
    # c1 twice: by hand, a record enrolls again once its enrollment has ended
    assert shaped.stats("Minimal")["completed"] == 5 and shaped.stats("Minimal")["active"] == 0
    durable_store.close()
