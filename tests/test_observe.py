"""The engine's Observer: hooks in scopes, the decisions unchanged, nothing called without one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from engine_helpers import at, plans
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.observe import NullObserver, Scope
from wfdsl.runtime.protocols import Enrollment, Event, HistoryEntry, VirtualClock
from wfdsl.stores.memory import MemoryStore

NURTURE = """\
workflow "Nurture" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  goal contact.lifecyclestage = "customer"
  suppress list "Do not contact"
  steps {
    send email "Welcome"
    delay 2 days
    if contact.country = "IE" {
      create task "Call"
    }
    send email "Offer"
  }
}
"""


class Recorder(NullObserver):
    """Writes down every hook call as a line."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.depth = 0
        self.entries: list[HistoryEntry] = []

    def input(self, event: Event) -> None:
        self.calls.append(f"input {event.type}")

    def enter(self, scope: Scope) -> None:
        self.calls.append("  " * self.depth + f"enter {scope.kind} {scope.workflow or ''} {scope.step or ''}".rstrip())
        self.depth += 1

    def leave(self, scope: Scope) -> None:
        self.depth -= 1
        self.calls.append("  " * self.depth + f"leave {scope.kind}")

    def criteria_evaluated(self, criteria: Mapping[str, Any], facts: Any, result: bool) -> None:
        self.calls.append("  " * self.depth + f"criteria {criteria.get('op')} {result}")

    def suppression_checked(self, plan: Any, record: tuple[str, str], name: str, member: bool) -> None:
        self.calls.append("  " * self.depth + f"list {name} {member}")

    def recorded(self, entry: HistoryEntry) -> None:
        self.entries.append(entry)
        self.calls.append("  " * self.depth + f"recorded {entry.kind} {entry.step or ''}".rstrip())

    def goal(self, enrollment: Enrollment, converted: bool) -> None:
        self.calls.append("  " * self.depth + f"goal {enrollment.id} converted={converted}")


def _run(observer: NullObserver | None) -> Engine:
    crm = MemoryCRM()
    crm.add_record("contact", "c1", {"country": "IE"}, at=at("2026-03-01T00:00:00Z"))
    eng = Engine(plans(NURTURE), crm, MemoryStore(), VirtualClock(at("2026-03-02T09:00:00Z")), observer=observer)
    eng.activate("Nurture")
    for when, props in [
        ("2026-03-02T10:00:00Z", {"lifecyclestage": "lead"}),
        ("2026-03-05T10:00:00Z", {"lifecyclestage": "customer"}),
    ]:
        eng.run_due(at(when))
        eng.ingest(Event(type="record.updated", object="contact", id="c1", at=at(when), properties=props))
    eng.run_due(at("2026-03-10T00:00:00Z"))
    return eng


def test_an_observer_changes_no_decision() -> None:
    plain, observed = _run(None), _run(Recorder())
    assert [e.to_json() for e in observed.history()] == [e.to_json() for e in plain.history()]


def test_each_recorded_decision_is_reported_once_in_order() -> None:
    recorder = Recorder()
    eng = _run(recorder)
    assert recorder.entries == eng.history()
    assert eng.observer is recorder


def test_scopes_nest_and_the_hooks_fall_inside_them() -> None:
    recorder = Recorder()
    _run(recorder)
    calls = recorder.calls
    assert calls[:3] == ["enter activation Nurture", "leave activation", "input record.updated"]
    assert calls[3:22] == [
        "enter batch",
        "  enter watch Nurture",  # the goal's property changed: enrollments that exist first
        "  leave watch",
        "  enter filter_trigger Nurture",
        "    criteria eq True",  # the criteria now ...
        "    criteria eq False",  # ... and before the change: the record comes to meet them
        "    enter enroll Nurture",
        "      list Do not contact False",
        "      criteria eq False",  # the goal, not met already
        "      recorded enrolled",
        "      enter check Nurture steps.0",  # before the first action
        "        criteria eq False",
        "        list Do not contact False",
        "      leave check",
        "      recorded action steps.0",
        "      recorded delayed steps.1",
        "    leave enroll",
        "  leave filter_trigger",
        "leave batch",
    ]
    timer = calls.index("enter timer")
    assert calls[timer + 1 : timer + 5] == [
        "  enter branch Nurture steps.2",
        "    criteria eq True",
        "    recorded branched steps.2",
        "  leave branch",
    ]
    goal = calls.index("    recorded goal_met")
    assert calls[goal - 2 : goal + 4] == [
        "  enter watch Nurture",
        "    criteria eq True",
        "    recorded goal_met",
        "    recorded converted",
        "    goal e1 converted=True",
        "  leave watch",
    ]
    assert recorder.depth == 0
    enters = sum(line.strip().startswith("enter ") for line in calls)
    assert enters == sum(line.strip().startswith("leave ") for line in calls)


def test_scopes_are_left_when_an_error_unwinds_them() -> None:
    class Boom(MemoryCRM):
        def perform(self, action: Any, idempotency_key: str) -> Any:
            raise RuntimeError("the adapter fell over")

    recorder = Recorder()
    crm = Boom()
    crm.add_record("contact", "c1", {}, at=at("2026-03-01T00:00:00Z"))
    eng = Engine(plans(NURTURE), crm, MemoryStore(), VirtualClock(at("2026-03-02T09:00:00Z")), observer=recorder)
    eng.activate("Nurture")
    update = Event(
        type="record.updated",
        object="contact",
        id="c1",
        at=at("2026-03-02T10:00:00Z"),
        properties={"lifecyclestage": "lead"},
    )
    with pytest.raises(RuntimeError, match="fell over"):
        eng.ingest(update)
    assert recorder.depth == 0


def test_a_simulation_takes_an_observer_and_a_start_hook() -> None:
    """Explain composes a `Simulation` this way: the observer reaches the engine, and the
    start hook runs once the CRM holds the records, before any workflow is activated."""
    from wfdsl.host.simulate import Simulation, load_records_data

    seed = load_records_data({"contact": [{"id": "c1", "country": "IE"}]}, "records.json")
    recorder = Recorder()
    seen: list[tuple[bool, int, bool]] = []

    def on_start(engine: Engine) -> None:
        seen.append((engine.crm.get("contact", "c1") is not None, len(engine.history()), engine.observer is recorder))

    sim = Simulation(plans(NURTURE), seed, start=at("2026-03-02T09:00:00Z"), observer=recorder, on_start=on_start)
    sim.run(
        [
            Event(
                type="record.updated",
                object="contact",
                id="c1",
                at=at("2026-03-02T10:00:00Z"),
                properties={"lifecyclestage": "lead"},
            )
        ]
    )
    assert seen == [(True, 0, True)]
    assert recorder.entries == sim.entries() and recorder.entries
    with pytest.raises(ValueError, match="not both"):
        Simulation(plans(NURTURE), seed, store=MemoryStore(), on_history=lambda entry: None)
