"""`Engine.run_due(batch=N)`: up to N timer firings share one commit of the store.

Group commit changes when work becomes durable, never what is done: the same
history, and after a failure inside a batch, nothing of that batch is committed,
and firing again performs each action once (the idempotency keys).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine_helpers import at, plans
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import VirtualClock
from wfdsl.runtime.timers import Timers
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.sqlite import SQLiteStore

DRIP = """workflow "Drip" {
  object contact
  enroll manually
  steps {
    delay 1 day
    send email "Day two"
    delay 1 hour
    set contact.hs_lead_status = "OPEN"
  }
}
"""
START = at("2026-03-02T09:00:00Z")
COUNT = 40


def waiting(store: object) -> tuple[Engine, MemoryCRM]:
    crm = MemoryCRM()
    for i in range(COUNT):
        crm.add_record("contact", f"c{i}", {"email": f"c{i}@example.com"}, at=START)
    engine = Engine(plans(DRIP), crm, store, VirtualClock(START))  # type: ignore[arg-type]
    engine.activate("Drip")
    for i in range(COUNT):
        engine.enroll("Drip", ("contact", f"c{i}"), at=START)
    return engine, crm


def history(engine: Engine) -> list[tuple[str, str, str | None]]:
    return sorted((e.id, e.kind, e.step) for e in engine.history())


@pytest.mark.parametrize("batch", [2, 7, 1000])
def test_batched_firing_does_what_one_by_one_does(tmp_path: Path, batch: int) -> None:
    one, one_crm = waiting(SQLiteStore(tmp_path / "one.db"))
    grouped, grouped_crm = waiting(SQLiteStore(tmp_path / "grouped.db"))
    later = START + dt.timedelta(days=2)
    assert one.run_due(later) == grouped.run_due(later, batch=batch) == 2 * COUNT
    assert history(one) == history(grouped)
    assert [a for _, a in one_crm.performed] == [a for _, a in grouped_crm.performed]
    assert one.stats("Drip") == grouped.stats("Drip")


def test_a_failure_inside_a_batch_commits_nothing_of_it_and_a_retry_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    engine, crm = waiting(SQLiteStore(path))
    fire = Timers.fire
    calls = 0

    def crash_on_the_fifth(self: Timers, timer: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("process dies here")
        fire(self, timer)  # type: ignore[arg-type]

    monkeypatch.setattr(Timers, "fire", crash_on_the_fifth)
    later = START + dt.timedelta(days=1, minutes=1)
    with pytest.raises(RuntimeError):
        engine.run_due(later, batch=10)
    monkeypatch.setattr(Timers, "fire", fire)
    # What a restarted process would see: no firing of the failed batch was committed.
    reopened = SQLiteStore(path)
    assert len(reopened.timers()) == COUNT
    assert not [e for e in reopened.history() if e.kind == "action"]
    # A restarted engine on that store, same CRM: every action happens once.
    again = Engine(plans(DRIP), crm, reopened, VirtualClock(later))
    assert again.run_due(later, batch=10) == COUNT
    keys = [key for key, _ in crm.performed]
    assert len(keys) == len(set(keys)) == COUNT
    assert len([e for e in again.history() if e.kind == "action"]) == COUNT


def test_the_memory_store_takes_batches_too() -> None:
    engine, _ = waiting(MemoryStore())
    assert engine.run_due(START + dt.timedelta(days=2), batch=16) == 2 * COUNT
    assert engine.stats("Drip")["completed"] == COUNT
