"""What `wfdsl status` and `wfdsl prune` do, as a library: reports and retention for a store.

Kept apart from the service loop (`wfdsl.host.service`) so that these commands load
neither the engine nor the compiler: a store's counts come from the store.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from wfdsl.runtime.protocols import DeadLetter, ServiceStore, StateStore, Timer, utc
from wfdsl.stores.protocols import EventInbox


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


@attrs.frozen(kw_only=True)
class WorkflowStatus:
    """One workflow of a store: on or off, its version, how many wait, its stats (with
    `conversion_rate`: converted / emailed, at most 1)."""

    name: str
    active: bool
    version: Any
    waiting: int
    stats: Mapping[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "active": self.active,
            "version": self.version,
            "waiting": self.waiting,
            "stats": dict(self.stats),
        }


@attrs.frozen(kw_only=True)
class WaitingStatus:
    """A waiting enrollment: where it is, and until when (a timer) or for what (an event)."""

    enrollment: str
    workflow: str
    object: str
    id: str
    step: str | None
    phase: str
    enrolled_at: dt.datetime | None
    until: dt.datetime | None
    waiting_for: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "enrollment": self.enrollment,
            "workflow": self.workflow,
            "object": self.object,
            "id": self.id,
            "step": self.step,
            "phase": self.phase,
            "enrolled_at": _iso(self.enrolled_at),
            "until": _iso(self.until),
            "waiting_for": self.waiting_for,
        }


@attrs.frozen(kw_only=True)
class TimerStatus:
    """A timer still to fire."""

    due: dt.datetime
    kind: str
    workflow: str
    enrollment: str | None
    key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "due": _iso(self.due),
            "kind": self.kind,
            "workflow": self.workflow,
            "enrollment": self.enrollment,
            "key": self.key,
        }


@attrs.frozen(kw_only=True)
class Totals:
    """Counts over the whole store (not only the rows shown)."""

    workflows: int
    waiting: int
    timers: int
    history: int

    def to_json(self) -> dict[str, Any]:
        return {"workflows": self.workflows, "waiting": self.waiting, "timers": self.timers, "history": self.history}


@attrs.frozen(kw_only=True)
class StatusReport:
    """What `wfdsl status` shows (`to_json()` is its `--format json`, format_version 1)."""

    workflows: tuple[WorkflowStatus, ...]
    waiting: tuple[WaitingStatus, ...]
    timers: tuple[TimerStatus, ...]
    dead_letter_count: int
    dead_letters: tuple[DeadLetter, ...]  # the most recent, newest last
    totals: Totals

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": "1",
            "workflows": [w.to_json() for w in self.workflows],
            "waiting": [w.to_json() for w in self.waiting],
            "timers": [t.to_json() for t in self.timers],
            "dead_letters": {"count": self.dead_letter_count, "recent": [d.to_json() for d in self.dead_letters]},
            "totals": self.totals.to_json(),
        }


def store_status(store: StateStore, *, limit: int = 20) -> StatusReport:
    """What `wfdsl status` shows: workflows with stats, waiting enrollments, next timers,
    dead letters. A `ServiceStore` counts in the store and loads only the rows shown,
    so the report costs the same for a thousand waiting enrollments or a million.

    >>> from wfdsl.stores.memory import MemoryStore
    >>> store_status(MemoryStore()).totals.waiting
    0
    """
    timers: list[Timer]
    dead: Sequence[DeadLetter]
    if isinstance(store, ServiceStore):
        names = store.workflows()
        waiting_of = store.count_by_workflow("active")
        page = store.waiting(limit)
        timers = list(store.timers(limit))
        dead = store.dead_letters(limit)
        waiting_total = sum(waiting_of.values())  # every workflow with enrollments is counted
        timer_total = store.count_timers()
        history_total = store.count_history()
        dead_count = store.count_dead_letters()
    else:
        active = list(store.enrollments(status="active"))
        names = sorted({e.workflow for e in active})
        counted: dict[str, int] = {}
        for e in active:
            counted[e.workflow] = counted.get(e.workflow, 0) + 1
        waiting_of = counted
        page = [(e, None) for e in active[:limit]]
        timers = []
        dead = []
        waiting_total, timer_total, history_total = len(active), 0, len(store.history())
        dead_count = 0
    workflows = []
    for name in names:
        counters: dict[str, float] = dict(store.stats(name))
        emailed = counters.get("emailed", 0)
        counters["conversion_rate"] = min(1.0, counters.get("converted", 0) / emailed) if emailed else 0.0
        state = store.workflow_state(name)
        workflows.append(
            WorkflowStatus(
                name=name,
                active=bool(state.get("active")),
                version=state.get("version"),
                waiting=waiting_of.get(name, 0),
                stats=counters,
            )
        )
    waiting = tuple(
        WaitingStatus(
            enrollment=e.id,
            workflow=e.workflow,
            object=e.object,
            id=e.record,
            step=e.step,
            phase=e.phase,
            enrolled_at=e.enrolled_at,
            until=due,
            waiting_for=None if e.waiting_for is None else dict(e.waiting_for).get("type"),
        )
        for e, due in page
    )
    next_timers = tuple(
        TimerStatus(due=t.due, kind=t.kind, workflow=t.workflow, enrollment=t.enrollment, key=t.key)
        for t in timers[:limit]
    )
    return StatusReport(
        workflows=tuple(workflows),
        waiting=waiting,
        timers=next_timers,
        dead_letter_count=dead_count,
        dead_letters=tuple(dead),
        totals=Totals(workflows=len(workflows), waiting=waiting_total, timers=timer_total, history=history_total),
    )


def status_report(store: StateStore, *, limit: int = 20) -> dict[str, Any]:
    """`store_status(store).to_json()`: the report as `wfdsl status --format json` prints it.

    >>> from wfdsl.stores.memory import MemoryStore
    >>> status_report(MemoryStore())["totals"]["waiting"]
    0
    """
    return store_status(store, limit=limit).to_json()


#: Rows one step of `prune_store` removes (one short transaction).
PRUNE_STEP = 2000
#: Pause between two steps, so a running service gets the write lock in between.
PRUNE_PAUSE = 0.02


def prune_store(store: StateStore, now: dt.datetime) -> dict[str, Any]:
    """Apply the retention rules at `now` (action entries after 90 days, the history of ended
    enrollments after 6 months, workflow facts after 2 years); what was removed and the cut-offs."""
    from wfdsl.runtime.engine import ACTION_RETENTION, FACT_RETENTION, HISTORY_RETENTION

    now = utc(now)
    cutoffs = {
        "actions_before": now - ACTION_RETENTION,
        "history_before": now - HISTORY_RETENTION,
        "facts_before": now - FACT_RETENTION,
    }
    if isinstance(store, ServiceStore):
        # Small steps, each its own short transaction: a service running on the store
        # meanwhile waits at most one step for the write lock, never the whole prune.
        removed = 0
        more = True
        while more:
            count, more = store.prune_some(**cutoffs, limit=PRUNE_STEP)
            removed += count
            if more and PRUNE_PAUSE:
                time.sleep(PRUNE_PAUSE)
    else:
        with store.transaction():
            removed = store.prune(**cutoffs)
    # Applied inbox events are kept as long as action entries, for their `event_id`s.
    events = store.prune_events(cutoffs["actions_before"]) if isinstance(store, EventInbox) else 0
    return {
        "removed": removed,
        **{k: v.isoformat() for k, v in cutoffs.items()},
        "now": now.isoformat(),
        "inbox_removed": events,
    }


__all__ = [
    "PRUNE_PAUSE",
    "PRUNE_STEP",
    "StatusReport",
    "TimerStatus",
    "Totals",
    "WaitingStatus",
    "WorkflowStatus",
    "prune_store",
    "status_report",
    "store_status",
]
