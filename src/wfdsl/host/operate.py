"""What `wfdsl status` and `wfdsl prune` do, as a library: reports and retention for a store.

Kept apart from the service loop (`wfdsl.host.service`) so that these commands load
neither the engine nor the compiler: a store's counts come from the store.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from wfdsl.runtime.protocols import ServiceStore, StateStore, utc
from wfdsl.stores.protocols import EventInbox


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def status_report(store: StateStore, *, limit: int = 20) -> dict[str, Any]:
    """What `wfdsl status` shows: workflows with stats, waiting enrollments, next timers,
    dead letters. A `ServiceStore` counts in the store and loads only the rows shown,
    so the report costs the same for a thousand waiting enrollments or a million.

    >>> from wfdsl.stores.memory import MemoryStore
    >>> status_report(MemoryStore())["totals"]["waiting"]
    0
    """
    if isinstance(store, ServiceStore):
        names = store.workflows()
        waiting_of = store.count_by_workflow("active")
        page = store.waiting(limit)
        timers = list(store.timers(limit))
        dead = store.dead_letters(limit)
        totals = {
            "waiting": sum(waiting_of.values()),  # every workflow with enrollments is counted
            "timers": store.count_timers(),
            "history": store.count_history(),
        }
        dead_count = store.count_dead_letters()
    else:
        active = list(store.enrollments(status="active"))
        names = sorted({e.workflow for e in active})
        waiting_of = {}
        for e in active:
            waiting_of[e.workflow] = waiting_of.get(e.workflow, 0) + 1
        page = [(e, None) for e in active[:limit]]
        timers = []
        dead = []
        totals = {"waiting": len(active), "timers": 0, "history": len(store.history())}
        dead_count = 0
    workflows = []
    for name in names:
        counters: dict[str, float] = dict(store.stats(name))
        emailed = counters.get("emailed", 0)
        counters["conversion_rate"] = min(1.0, counters.get("converted", 0) / emailed) if emailed else 0.0
        state = store.workflow_state(name)
        workflows.append(
            {
                "name": name,
                "active": bool(state.get("active")),
                "version": state.get("version"),
                "waiting": waiting_of.get(name, 0),
                "stats": counters,
            }
        )
    waiting = [
        {
            "enrollment": e.id,
            "workflow": e.workflow,
            "object": e.object,
            "id": e.record,
            "step": e.step,
            "phase": e.phase,
            "enrolled_at": _iso(e.enrolled_at),
            "until": _iso(due),
            "waiting_for": None if e.waiting_for is None else dict(e.waiting_for).get("type"),
        }
        for e, due in page
    ]
    next_timers = [
        {"due": _iso(t.due), "kind": t.kind, "workflow": t.workflow, "enrollment": t.enrollment, "key": t.key}
        for t in timers[:limit]
    ]
    return {
        "format_version": "1",
        "workflows": workflows,
        "waiting": waiting,
        "timers": next_timers,
        "dead_letters": {"count": dead_count, "recent": [letter.to_json() for letter in dead]},
        "totals": {"workflows": len(workflows), **totals},
    }


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


__all__ = ["PRUNE_PAUSE", "PRUNE_STEP", "prune_store", "status_report"]
