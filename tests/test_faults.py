"""Fault injection: an adapter that fails transiently or permanently at random (seeded).

Whatever fails, the history is complete (every action reached is performed once
or recorded as failed with the error), retries follow the exponential backoff
with the attempt number in the idempotency key, no action is performed twice,
`on failure continue|stop` is honoured and the engine keeps serving other records.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_helpers import at, event, plans
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.host.simulate import Simulation, load_records_data
from wfdsl.runtime import timing
from wfdsl.runtime.protocols import (
    Action,
    ActionResult,
    PermanentAdapterError,
    TransientAdapterError,
)

WORKFLOWS = """\
workflow "Keep going" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  settings {
    on failure continue
  }
  steps {
    send email "One"
    set contact.hs_lead_status = "OPEN"
    create task "Call {{ contact.email }}" due in 1 day
    delay 1 day
    send email "Two"
  }
}

workflow "Stop on failure" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  settings {
    on failure stop
  }
  steps {
    send email "Three"
    delay 2 hours
    add to list "Nurtured"
    send email "Four"
  }
}
"""

ACTION_STEPS = {
    "Keep going": ["steps.0", "steps.1", "steps.2", "steps.4"],
    "Stop on failure": ["steps.0", "steps.2", "steps.3"],
}


class FlakyCRM(MemoryCRM):
    """A memory CRM whose actions fail at random: transient with `p_transient`,
    permanent with `p_permanent` (seeded, so a run is reproducible)."""

    def __init__(self, seed: int, p_transient: float, p_permanent: float) -> None:
        super().__init__()
        self.rnd = random.Random(seed)
        self.p_transient = p_transient
        self.p_permanent = p_permanent
        self.calls: list[tuple[str, dt.datetime]] = []  # (idempotency key, time)
        self.effects: Counter[str] = Counter()  # enrollment:step -> times performed

    def perform(self, action: Action, idempotency_key: str) -> ActionResult:
        self.calls.append((idempotency_key, action.at))
        roll = self.rnd.random()
        if roll < self.p_permanent:
            raise PermanentAdapterError(f"rejected {idempotency_key}")
        if roll < self.p_permanent + self.p_transient:
            raise TransientAdapterError(f"timeout {idempotency_key}")
        if idempotency_key not in self._results:
            self.effects[idempotency_key.rsplit(":", 1)[0]] += 1
        return super().perform(action, idempotency_key)


def run(seed: int, records: int, p_transient: float, p_permanent: float) -> tuple[Simulation, FlakyCRM]:
    sim = Simulation(plans(WORKFLOWS), load_records_data({}, "records.json"), start=at("2026-03-02T08:00:00Z"))
    crm = FlakyCRM(seed, p_transient, p_permanent)
    sim.crm = crm
    rnd = random.Random(seed)
    start = at("2026-03-02T09:00:00Z")
    times = sorted(start + dt.timedelta(minutes=rnd.randrange(0, 3 * 24 * 60)) for _ in range(records))
    events = [
        event(
            {
                "at": when.isoformat(),
                "type": "record.created",
                "object": "contact",
                "id": f"c{i}",
                "properties": {"email": f"p{i}@example.com", "lifecyclestage": "lead"},
            }
        )
        for i, when in enumerate(times)
    ]
    sim.run(events)
    return sim, crm


def check_invariants(sim: Simulation, crm: FlakyCRM, records: int) -> dict[str, int]:
    entries = sim.entries()
    by_enrollment: dict[str, list[Any]] = defaultdict(list)
    for entry in entries:
        if entry.enrollment is not None:
            by_enrollment[entry.enrollment].append(entry)
    seen = Counter()
    for enrollment_id, history in by_enrollment.items():
        workflow = history[0].workflow
        kinds = [e.kind for e in history]
        assert kinds[0] == "enrolled"
        # Every enrollment ends: nothing is stuck waiting on a retry.
        assert kinds[-1] in ("completed", "unenrolled"), kinds
        stopped = kinds[-1] == "unenrolled"
        if stopped:
            assert workflow == "Stop on failure"
            assert history[-1].detail["reason"] == "action_failed"
            assert history[-2].kind == "failed" and "retry_at" not in history[-2].detail
            assert history[-2].detail["on_failure"] == "stop"
        for step in ACTION_STEPS[workflow]:
            at_step = [e for e in history if e.step == step and e.kind in ("action", "failed")]
            if not at_step:
                assert stopped, (workflow, step, kinds)  # only a stop skips the rest
                continue
            # Attempts: failed-with-retry entries, then one action or one final failure.
            *retries, last = at_step
            for number, entry in enumerate(retries, start=1):
                assert entry.kind == "failed"
                assert entry.detail["attempt"] == number
                assert entry.detail["error"].startswith("timeout ")
                retry_at = dt.datetime.fromisoformat(entry.detail["retry_at"])
                base = dt.timedelta(seconds=timing.BACKOFF_BASE_SECONDS * 2 ** (number - 1))
                assert base <= retry_at - entry.at <= base * 1.1
                following = at_step[number]  # the next attempt happens at retry_at
                assert following.at == retry_at
            assert len(retries) < timing.MAX_ATTEMPTS
            if last.kind == "action":
                seen["performed"] += 1
                key = f"{enrollment_id}:{step}"
                assert crm.effects[key] == 1, key
            else:
                seen["failed"] += 1
                assert "retry_at" not in last.detail
                assert last.detail["error"]
                assert last.detail["attempt"] == len(retries) + 1
                assert last.detail["error"].startswith("rejected ") or last.detail["attempt"] == timing.MAX_ATTEMPTS
            seen["retried"] += len(retries)
    # No action performed twice, and no effect without an `action` history entry.
    assert all(count == 1 for count in crm.effects.values())
    assert sum(crm.effects.values()) == seen["performed"]
    # Idempotency keys: attempt numbers 1, 2, 3 … for each enrollment and step, each once.
    keys = Counter(key for key, _ in crm.calls)
    assert all(count == 1 for count in keys.values())
    attempts: dict[str, list[int]] = defaultdict(list)
    for key, _ in crm.calls:
        base, attempt = key.rsplit(":", 1)
        attempts[base].append(int(attempt))
    assert all(a == list(range(1, len(a) + 1)) for a in attempts.values())
    # Every record was served by both workflows, whatever happened to the others.
    enrolled = Counter(e.workflow for e in entries if e.kind == "enrolled")
    assert enrolled == {"Keep going": records, "Stop on failure": records}
    return dict(seen)


@pytest.mark.parametrize(
    ("seed", "p_transient", "p_permanent"), [(1, 0.3, 0.0), (2, 0.0, 0.2), (3, 0.25, 0.1), (4, 0.6, 0.05)]
)
def test_random_failures_lose_nothing_and_duplicate_nothing(seed: int, p_transient: float, p_permanent: float) -> None:
    sim, crm = run(seed, 40, p_transient, p_permanent)
    seen = check_invariants(sim, crm, 40)
    assert seen["performed"] > 0
    if p_transient:
        assert seen["retried"] > 0
    if p_permanent or p_transient > 0.5:
        assert seen["failed"] > 0


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32), p_transient=st.floats(0, 0.7), p_permanent=st.floats(0, 0.3), records=st.integers(1, 12)
)
def test_random_failures_property(seed: int, p_transient: float, p_permanent: float, records: int) -> None:
    sim, crm = run(seed, records, p_transient, p_permanent)
    check_invariants(sim, crm, records)


def test_a_permanently_failing_adapter_still_serves_every_record() -> None:
    sim, crm = run(5, 20, 0.0, 1.0)
    seen = check_invariants(sim, crm, 20)
    assert seen.get("performed", 0) == 0
    stats = sim.stats()
    assert stats["Stop on failure"]["unenrolled"] == 20
    assert stats["Keep going"]["completed"] == 20


def test_transient_failures_are_retried_until_the_attempts_run_out() -> None:
    sim, crm = run(6, 3, 1.0, 0.0)
    check_invariants(sim, crm, 3)
    failed = [e for e in sim.entries() if e.kind == "failed"]
    finals = [e for e in failed if "retry_at" not in e.detail]
    assert finals and all(e.detail["attempt"] == timing.MAX_ATTEMPTS for e in finals)
    # 1, 2, 4, 8 minutes (plus at most 10 % jitter) between the five attempts.
    first = [e for e in failed if e.enrollment == finals[0].enrollment and e.step == finals[0].step]
    gaps = [(b.at - a.at).total_seconds() / 60 for a, b in zip(first, first[1:], strict=False)]
    assert [int(g) for g in gaps] == [1, 2, 4, 8]


def test_without_faults_every_action_is_performed_once() -> None:
    sim, crm = run(7, 10, 0.0, 0.0)
    seen = check_invariants(sim, crm, 10)
    assert seen == {"performed": 10 * 7, "retried": 0}
