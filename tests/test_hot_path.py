"""What a timer firing or an action skips when nothing needs it, and that skipping it
changes no outcome: events no workflow looks at are not dispatched."""

from __future__ import annotations

import datetime as dt
import gc

from engine_helpers import plans
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.runtime.context import evolve
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import Enrollment, VirtualClock
from wfdsl.stores.memory import MemoryStore

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, inside office hours

DRIP = """workflow "Drip" {
  object contact
  enroll manually
  steps {
    delay 1 day
    send email "Day two"
  }
}
"""
ON_EMAIL = """workflow "Sent" {
  object contact
  enroll on email.sent
  steps {
    set contact.lifecyclestage = "lead"
  }
}
"""


def engine(text: str) -> tuple[Engine, MemoryCRM]:
    crm = MemoryCRM()
    crm.add_record("contact", "c1", {"email": "a@example.com"}, at=T0)
    store = MemoryStore()
    e = Engine(plans(text), crm, store, VirtualClock(T0))
    for name in e.workflows:
        e.activate(name)
    return e, crm


def test_the_index_hears_what_some_workflow_names() -> None:
    e, _ = engine(DRIP)
    index = e._dispatcher.index
    assert index.hears("workflow.enroll")  # enrolling by hand always
    assert not index.hears("email.sent") and not index.hears("property.changed")
    e, _ = engine(DRIP + ON_EMAIL)
    index = e._dispatcher.index
    assert index.hears("email.sent")
    text = """workflow "Goal" {
  object contact
  enroll when contact.city is known
  goal in list "Customers"
  steps { delay 1 day }
}
workflow "After" {
  object contact
  enroll when enrolled in workflow "Goal"
  steps { delay 1 day }
}
"""
    index = engine(text)[0]._dispatcher.index
    assert index.hears("property.changed") and index.hears("list.added") and index.hears("list.removed")
    assert index.hears("workflow.enrolled") and index.hears("workflow.unenrolled")
    assert not index.hears("email.sent") and not index.hears("form.submitted")


def test_an_email_no_workflow_listens_for_is_not_dispatched_and_one_that_is_heard_chains() -> None:
    e, crm = engine(DRIP)
    e.enroll("Drip", ("contact", "c1"), at=T0)
    dispatched: list[object] = []
    dispatch = e._dispatcher.dispatch
    e._dispatcher.dispatch = lambda batch: (dispatched.append(batch), dispatch(batch))  # type: ignore[method-assign]
    assert e.run_due(T0 + dt.timedelta(days=2)) == 1
    assert [k for k, _ in crm.performed] == ["e1:steps.1:1"]
    assert crm.event_history("contact", "c1", "email.sent")  # the CRM still keeps it
    assert dispatched == []
    chained, crm = engine(DRIP + ON_EMAIL)
    chained.enroll("Drip", ("contact", "c1"), at=T0)
    chained.run_due(T0 + dt.timedelta(days=2))
    record = crm.get("contact", "c1")
    assert record is not None and record.properties.get("lifecyclestage") == "lead"


def test_evolve_copies_every_field_and_changes_only_those_named() -> None:
    enr = Enrollment(
        id="e1",
        workflow="W",
        object="contact",
        record="c1",
        status="active",
        enrolled_at=T0,
        seq=1,
        step="steps.0",
        waiting_for={"type": "form.submitted"},
        passes=2,
    )
    moved = evolve(enr, step="steps.1", attempt=3)
    assert moved == Enrollment(
        **{**{f: getattr(enr, f) for f in enr.__slots__ if f != "__weakref__"}, "step": "steps.1", "attempt": 3}
    )  # type: ignore[arg-type]
    assert enr.step == "steps.0" and enr.attempt == 0


def test_arguments_with_tokens_are_rendered_for_each_record() -> None:
    text = """workflow "Hello" {
  object contact
  enroll manually
  steps {
    send email "Hello {{contact.firstname}}"
    send email "Plain"
  }
}
"""
    e, crm = engine(text)
    crm.add_record("contact", "c2", {"firstname": "Bo"}, at=T0)
    crm.add_record("contact", "c1", {"firstname": "Ann"}, at=T0)
    e.enroll("Hello", ("contact", "c1"), at=T0)
    e.enroll("Hello", ("contact", "c2"), at=T0)
    assert [(a.id, a.args["email"]) for _, a in crm.performed] == [
        ("c1", "Hello Ann"),
        ("c1", "Plain"),
        ("c2", "Hello Bo"),
        ("c2", "Plain"),
    ]


MIXED = """workflow "Mixed" {
  object contact
  enroll manually
  goal contact.lifecyclestage = "customer"
  steps {
    delay 1 day
    if contact.email is known {
      set contact.city = "Dublin"
    }
    send email "Day two"
    wait for form.submitted up to 1 day
    create task "Call {{contact.firstname}}"
    delay 1 day
    set contact.lifecyclestage = "customer"
    send email "Never sent: the goal was met"
  }
}
"""


def test_firing_timers_makes_no_reference_cycles_so_the_collector_may_pause() -> None:
    # `run_due` pauses the cyclic collector while it fires: that frees nothing only
    # if a firing leaves no cycles behind (branches, chained events, retries, goals).
    e, crm = engine(DRIP + ON_EMAIL + MIXED)
    for i in range(2, 6):
        crm.add_record("contact", f"c{i}", {"email": f"p{i}@example.com"}, at=T0)
    for i in range(1, 6):
        e.enroll("Drip", ("contact", f"c{i}"), at=T0)
        e.enroll("Mixed", ("contact", f"c{i}"), at=T0)
    crm.fail_next("create_task", times=2)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for day in range(1, 6):
            assert gc.isenabled()
            e.run_due(T0 + dt.timedelta(days=day))
            assert gc.collect() == 0, [type(o).__name__ for o in gc.garbage[:10]]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    kinds = {entry.kind for entry in e.history()}
    assert {"action", "branched", "failed", "goal_met", "converted", "completed", "unenrolled"} <= kinds


def test_a_firing_changes_no_enrollment_it_has_handed_out() -> None:
    # A run changes its own copy of the enrollment in place, never one the store
    # or a caller holds: what was read before the firing still reads the same.
    e, _ = engine(MIXED)
    e.enroll("Mixed", ("contact", "c1"), at=T0)
    store = e.store
    waiting = store.enrollment("e1")
    assert waiting is not None and waiting.step == "steps.0" and waiting.phase == "after"
    e.run_due(T0 + dt.timedelta(days=1))
    assert (waiting.status, waiting.step, waiting.phase, waiting.emailed) == ("active", "steps.0", "after", False)
    now = store.enrollment("e1")
    assert now is not None and now is not waiting
    assert (now.status, now.step, now.emailed) == ("active", "steps.3", True)
    e.run_due(T0 + dt.timedelta(days=3))
    assert (now.status, now.step, now.emailed) == ("active", "steps.3", True)
    done = store.enrollment("e1")
    assert done is not None and (done.status, done.goal_met, done.converted) == ("unenrolled", True, True)
