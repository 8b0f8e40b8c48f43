"""Engine: compiled plans + events + due timers in; enrollments, CRM actions and history out.

The interpreter `Engine(plans, crm, store, clock)` takes all its
effects as arguments (protocols in `runtime.protocols`). Inputs are
`ingest(event)` and `run_due(now)`; everything an enrollment does is recorded
in the store's history with a kind and a reason (`runtime.history`).

`Engine` is the facade: construction, deploying and turning workflows on and
off, and the entry points. The work is done by one object per phase, which
share a `runtime.context.Context`: `dispatch` (the event index, `index`),
`enroll` (triggers and enrollment), `lifecycle` (goals, unenrollment, the
end of enrollments), `steps` (one handler per step kind), `actions`
(building and performing actions) and `timers`. An `Observer`
(`runtime.observe`) watches them decide.

Events are dispatched through an index built from each plan's index keys
(event type, dotted property, list name, workflow name): an event only looks
at the workflows whose triggers, goals, unenrollment or suppression criteria
or `wait for` steps mention it. Events that the engine's own actions produce
(property changes, list membership, enrollments) go through the same queue,
so workflows chain.

>>> import datetime as dt
>>> from wfdsl.adapters.memory import MemoryCRM
>>> from wfdsl.stores.memory import MemoryStore
>>> from wfdsl.runtime.protocols import VirtualClock
>>> engine = Engine((), MemoryCRM(), MemoryStore(),
...                 VirtualClock(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)))
>>> engine.workflows
()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs

from wfdsl.collector import collector_paused
from wfdsl.placeholders import refusal, unfilled
from wfdsl.plan.model import ProjectPlan, WorkflowPlan
from wfdsl.runtime import history as h
from wfdsl.runtime.actions import Actions, action_arguments, idempotency_key
from wfdsl.runtime.context import LOOP_LIMIT, Context
from wfdsl.runtime.dispatch import MAX_CHAIN, Dispatcher
from wfdsl.runtime.enroll import Enroller
from wfdsl.runtime.index import Index, compile_plan
from wfdsl.runtime.lifecycle import Lifecycle
from wfdsl.runtime.migration import step_moves
from wfdsl.runtime.observe import Observer, Scope
from wfdsl.runtime.protocols import (
    Clock,
    CRMAdapter,
    Event,
    HistoryEntry,
    ReadAware,
    StateStore,
    Timer,
    utc,
)
from wfdsl.runtime.reads import crm_reads
from wfdsl.runtime.steps import MAX_STEPS_PER_RUN, Steps
from wfdsl.runtime.timers import Timers

__all__ = [
    "ACTION_RETENTION",
    "FACT_RETENTION",
    "HISTORY_RETENTION",
    "LOOP_LIMIT",
    "MAX_CHAIN",
    "MAX_STEPS_PER_RUN",
    "Engine",
    "EngineError",
    "action_arguments",
    "idempotency_key",
]

#: Retention.
ACTION_RETENTION = dt.timedelta(days=90)
HISTORY_RETENTION = dt.timedelta(days=183)
FACT_RETENTION = dt.timedelta(days=730)


class EngineError(Exception):
    """A call the engine cannot serve (an unknown workflow name)."""


class Engine:
    """The workflow interpreter."""

    def __init__(
        self,
        plans: ProjectPlan | Iterable[WorkflowPlan],
        crm: CRMAdapter,
        store: StateStore,
        clock: Clock,
        *,
        loop_limit: int = LOOP_LIMIT,
        allow_placeholders: bool = False,
        observer: Observer | None = None,
    ) -> None:
        self._ctx = ctx = Context(
            crm, store, clock, loop_limit=loop_limit, allow_placeholders=allow_placeholders, observer=observer
        )
        self._lifecycle = Lifecycle(ctx)
        self._steps = Steps(ctx, self._lifecycle, Actions(ctx, self._lifecycle))
        self._enroller = Enroller(ctx, self._lifecycle, self._steps)
        self._timers = Timers(ctx, self._enroller)
        self._dispatcher = Dispatcher(ctx, self._enroller, Index({}))
        #: The timer `run_due` is firing (None between firings): whose fault a failure is.
        self.firing: Timer | None = None
        self._load(plans)

    # ------------------------------------------------------------ the effects, as given

    @property
    def crm(self) -> CRMAdapter:
        return self._ctx.crm

    @property
    def store(self) -> StateStore:
        return self._ctx.store

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    @property
    def store_id(self) -> str:
        return self._ctx.store_id

    @property
    def loop_limit(self) -> int:
        return self._ctx.loop_limit

    @property
    def allow_placeholders(self) -> bool:
        return self._ctx.allow_placeholders

    @property
    def observer(self) -> Observer | None:
        """The observer given to the constructor (None: nothing observes)."""
        return self._ctx.observer

    # ------------------------------------------------------------ plans and index

    def _load(self, plans: ProjectPlan | Iterable[WorkflowPlan]) -> None:
        ctx = self._ctx
        workflows = plans.workflows if isinstance(plans, ProjectPlan) else tuple(plans)
        ctx.plans = {}
        for plan in workflows:
            ctx.plans[plan.name] = compile_plan(ctx, plan)
        self._dispatcher.index = index = Index(ctx.plans)
        ctx.hears = index.hears
        if isinstance(ctx.crm, ReadAware):  # a remote CRM reads only what the workflows use
            ctx.crm.prepare(crm_reads(workflows))

    @property
    def workflows(self) -> tuple[str, ...]:
        return tuple(self._ctx.plans)

    def plan(self, workflow: str) -> WorkflowPlan:
        if workflow not in self._ctx.plans:
            raise EngineError(f"unknown workflow {workflow!r}")
        return self._ctx.plans[workflow].plan

    # ------------------------------------------------------------ public API

    def activate(self, workflow: str, enroll_existing: bool | None = None) -> None:
        """Turn a workflow on: schedules start; with `enroll_existing` (default: the
        plan's setting) records that already meet a filter trigger enroll now."""
        compiled = self._ctx.plans.get(workflow)
        if compiled is None:
            raise EngineError(f"unknown workflow {workflow!r}")
        if self._ctx.observer is None:
            self._activate(workflow, enroll_existing)
            return
        plan = compiled.plan
        existing = plan.settings.enroll_existing if enroll_existing is None else enroll_existing
        scope = Scope(kind="activation", plan=plan, existing=existing)
        self._ctx.within(scope, self._activate, workflow, enroll_existing)

    def _activate(self, workflow: str, enroll_existing: bool | None) -> None:
        ctx = self._ctx
        compiled = ctx.plans[workflow]
        plan = compiled.plan
        refused = refusal(workflow, unfilled(plan.steps))
        if refused is not None and not ctx.allow_placeholders:
            raise EngineError(refused)
        ctx.now = max(ctx.now, utc(ctx.clock.now()))
        existing = plan.settings.enroll_existing if enroll_existing is None else enroll_existing
        with ctx.store.transaction():
            state = dict(ctx.store.workflow_state(workflow))
            state.update(active=True, version=plan.source_hash, has_goal=plan.goal is not None)
            ctx.store.set_workflow_state(workflow, state)
            if plan.trigger.kind == "schedule" and plan.trigger.recurrence is not None:
                self._timers.schedule_next(plan, ctx.now)
        if existing and plan.trigger.kind == "filter":
            for record_id in list(ctx.crm.query(plan.object, plan.trigger.criteria)):
                record = ctx.crm.get(plan.object, record_id)
                if record is None or compiled.trigger is None:
                    continue
                if compiled.trigger(ctx.facts(record, plan)):
                    with ctx.store.transaction():
                        self._enroller.try_enroll(compiled, record)
                        self._dispatcher.drain()

    def deactivate(self, workflow: str) -> None:
        """Turn a workflow off: no new enrollments; active ones are unenrolled (`deactivated`)."""
        ctx = self._ctx
        if workflow not in ctx.plans:
            raise EngineError(f"unknown workflow {workflow!r}")
        with ctx.store.transaction():
            state = dict(ctx.store.workflow_state(workflow))
            state["active"] = False
            ctx.store.set_workflow_state(workflow, state)
            ctx.store.cancel_timer(f"schedule:{workflow}")
            ctx.store.cancel_timer(f"annual:{workflow}")
            for enr in list(ctx.store.enrollments(workflow=workflow, status="active")):
                self._lifecycle.unenroll(enr, h.DEACTIVATED)
            self._dispatcher.drain()

    def is_active(self, workflow: str) -> bool:
        return self._ctx.is_active(workflow)

    def enroll(self, workflow: str, record: tuple[str, str] | str, *, at: dt.datetime | None = None) -> None:
        """Enroll a record by hand (the API, a `workflow.enroll` event)."""
        ctx = self._ctx
        object_type, record_id = _record_key(record)
        self._advance(at)
        with ctx.store.transaction():
            self._dispatcher.enroll(workflow, object_type, record_id)

    def ingest(self, event: Event) -> None:
        """Take one event from outside (input events or catalog events)."""
        ctx = self._ctx
        if ctx.observer is not None:
            ctx.observer.input(event)
        self._advance(event.at)
        # One transaction per input: the event and everything it sets off commit
        # together, so a crash never leaves half of a chain behind.
        try:
            with ctx.store.transaction():
                if event.type == "workflow.enroll":
                    ctx.queue.append([attrs.evolve(event, at=ctx.now)])
                else:
                    batch = list(ctx.crm.observe(attrs.evolve(event, at=ctx.now)))
                    if batch:
                        ctx.queue.append(batch)
                self._dispatcher.drain()
        except BaseException:
            self.discard_pending()
            raise

    @property
    def now(self) -> dt.datetime:
        """The engine's time: the latest of the clock and the inputs taken so far."""
        return self._ctx.now

    def rewind(self, when: dt.datetime) -> None:
        """Set the engine's time back to `when`, for a host that rolled back every
        change made since then and does the work again (one bad input taken out)."""
        self._ctx.now = utc(when)

    def quarantine(self, enrollment_id: str, reason: str) -> None:
        """End an active enrollment whose next step cannot be computed (a value out of
        range, a date past the calendar): `failed` with the error in its history, then
        `unenrolled` with reason `quarantined`. What a host does with a timer it had to
        set aside (`wfdsl run` keeps it as a dead letter), so the enrollment does not
        wait for ever."""
        ctx = self._ctx
        enr = ctx.store.enrollment(enrollment_id)
        if enr is None or enr.status != "active":
            return
        try:
            with ctx.store.transaction():
                ctx.record(
                    enr.workflow,
                    enr.object,
                    enr.record,
                    h.FAILED,
                    enr.step,
                    {"error": reason, "quarantined": True},
                    enr.id,
                )
                self._lifecycle.end(enr, "unenrolled", h.UNENROLLED, {"reason": h.QUARANTINED}, enr.step)
                self._dispatcher.drain()
        except BaseException:
            self.discard_pending()
            raise

    def run_due(self, now: dt.datetime | None = None, *, batch: int = 1) -> int:
        """Fire every timer due at or before `now` (default: the clock), in due order.
        Returns the number fired.

        Each firing is one transaction of the store. With `batch` > 1, up to that
        many firings share one commit (group commit), which a durable store makes
        much cheaper; a crash then undoes the uncommitted firings of the batch,
        which run again on restart with the same idempotency keys.

        The cyclic garbage collector is paused while the timers fire: a firing makes
        no reference cycles (tests/test_hot_path.py holds it to that), and the
        collections its allocations would set off walk every object already alive,
        each enrollment waiting in the store among them."""
        with collector_paused():
            return self._run_due(now, batch)

    def _run_due(self, now: dt.datetime | None, batch: int) -> int:
        ctx = self._ctx
        store = ctx.store
        limit = utc(now) if now is not None else utc(ctx.clock.now())
        self.firing = None
        fired = 0
        done = False
        per_commit = max(1, batch)
        fire, drain, queue = self._timers.fire, self._dispatcher.drain, ctx.queue
        while not done:
            try:
                with store.transaction():
                    for _ in range(per_commit):
                        timer = store.pop_due(limit)
                        if timer is None:
                            done = True
                            break
                        if timer.due > ctx.now:
                            ctx.now = timer.due
                        self.firing = timer
                        fire(timer)
                        if queue:  # events some workflow looks at (see `Context.chain`)
                            drain()
                        self.firing = None
                        fired += 1
            except BaseException:
                self.discard_pending()
                raise
            self.firing = None
        ctx.now = max(ctx.now, limit)
        return fired

    def next_due(self) -> dt.datetime | None:
        return self._ctx.store.next_due()

    def discard_pending(self) -> None:
        """Forget the events queued by a unit whose transaction failed and was rolled
        back (a host that runs the unit again starts from the committed state)."""
        self._ctx.queue.clear()
        self._ctx.triggered.clear()

    def workflows_for(self, event: Event) -> tuple[str, ...]:
        """The workflows an event is looked at by (through the index; never all of them).

        >>> import datetime as dt
        >>> from wfdsl.runtime.protocols import VirtualClock
        >>> engine = Engine((), None, None, VirtualClock(dt.datetime(2026, 1, 1)))
        >>> engine.workflows_for(Event(type="page.visited", object="contact", id="c1",
        ...                            at=dt.datetime(2026, 1, 1)))
        ()
        """
        return self._dispatcher.index.workflows_for(event)

    def stats(self, workflow: str) -> dict[str, Any]:
        """The counters and `conversion_rate` = converted / emailed."""
        counters: dict[str, Any] = dict(self._ctx.store.stats(workflow))
        emailed = counters.get("emailed", 0)
        rate = counters.get("converted", 0) / emailed if emailed else 0.0
        counters["conversion_rate"] = min(1.0, rate)
        return counters

    def history(self, record: tuple[str, str] | str | None = None, workflow: str | None = None) -> list[HistoryEntry]:
        """History entries in order, for a record (`("contact", "c1")` or `"contact:c1"`)
        and/or a workflow."""
        key = None if record is None else _record_key(record)
        return list(self._ctx.store.history(record=key, workflow=workflow))

    def deploy(self, new_plans: ProjectPlan | Iterable[WorkflowPlan]) -> None:
        """Switch to new versions of the workflows."""
        ctx = self._ctx
        store = ctx.store
        old = {name: c.plan for name, c in ctx.plans.items()}
        self._load(new_plans)
        with store.transaction():
            for name, compiled in ctx.plans.items():
                plan = compiled.plan
                previous = old.get(name)
                state = dict(store.workflow_state(name))
                if previous is not None and previous.goal is not None and plan.goal is None:
                    store.reset_stats(name, ("goal_met", "converted"))
                state.update(version=plan.source_hash, has_goal=plan.goal is not None)
                store.set_workflow_state(name, state)
                if previous is None:
                    continue
                moves = step_moves(previous, plan)
                for enr in list(store.enrollments(workflow=name, status="active")):
                    self._lifecycle.migrate(enr, plan, moves)
                if state.get("active") and plan.trigger.kind == "schedule":
                    if store.timer(f"schedule:{name}") is None:
                        self._timers.schedule_next(plan, ctx.now)

    def prune(self, now: dt.datetime | None = None) -> int:
        """Apply the retention rules; returns the number of rows removed."""
        ctx = self._ctx
        when = utc(now) if now is not None else utc(ctx.clock.now())
        with ctx.store.transaction():
            return ctx.store.prune(
                actions_before=when - ACTION_RETENTION,
                history_before=when - HISTORY_RETENTION,
                facts_before=when - FACT_RETENTION,
            )

    # ------------------------------------------------------------ time

    def _advance(self, at: dt.datetime | None) -> None:
        ctx = self._ctx
        when = utc(at) if at is not None else utc(ctx.clock.now())
        ctx.now = max(ctx.now, when)


def _record_key(record: tuple[str, str] | str) -> tuple[str, str]:
    if isinstance(record, str):
        object_type, sep, record_id = record.partition(":")
        if not sep:
            raise EngineError(f"a record is `type:id`, found {record!r}")
        return object_type, record_id
    return record[0], record[1]
