"""Lifecycle: active enrollments and the record as it is in; goals met, unenrollments, completions and migrations out.

Before each action, and when an event concerns an enrollment, `check` holds
the record against the workflow's goal, `unenroll when`, suppression lists
and (with `unenroll if criteria unmet`) its enrollment criteria. `end` is the
one way an enrollment stops; with `annually` it schedules the next
anniversary. `migrate` moves a waiting enrollment onto a new plan version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wfdsl.plan.model import WorkflowPlan
from wfdsl.runtime import history as h
from wfdsl.runtime.anchors import schedule_anniversary
from wfdsl.runtime.context import Compiled, Context, evolve
from wfdsl.runtime.facts import CONVERTED_FACT, GOAL_FACT
from wfdsl.runtime.history import Shape
from wfdsl.runtime.migration import Move
from wfdsl.runtime.observe import Scope
from wfdsl.runtime.protocols import Enrollment, Event, Record


class Lifecycle:
    """Goal, unenrollment and the end of enrollments."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def check(self, enr: Enrollment, compiled: Compiled, record: Record | None = None) -> bool:
        """Goal, unenroll criteria, suppression and `unenroll if criteria unmet` on the
        record as it is now (`record`, when an event brought it). Returns False when the
        enrollment ended."""
        if self.ctx.observer is None:
            return self._check(enr, compiled, record)
        scope = Scope(
            kind="check",
            plan=compiled.plan,
            step=enr.step,
            record=(enr.object, enr.record),
            on_change=record is not None,
        )
        return self.ctx.within(scope, self._check, enr, compiled, record)

    def _check(self, enr: Enrollment, compiled: Compiled, record: Record | None) -> bool:
        if compiled.unchecked:
            return True  # nothing to check: the record need not be read for it
        ctx = self.ctx
        plan = compiled.plan
        record = record or ctx.crm.get(enr.object, enr.record)
        if record is None:
            return True
        facts = ctx.facts(record, plan, received=enr.received)
        if compiled.goal is not None and compiled.goal(facts):
            enr = self.goal(enr, plan)
            self.unenroll(enr, h.GOAL_MET_REASON)
            return False
        if compiled.unenroll is not None and compiled.unenroll(facts):
            self.unenroll(enr, h.UNENROLL_CRITERIA)
            return False
        if plan.suppress_lists and ctx.suppressed(plan, facts):
            self.unenroll(enr, h.SUPPRESSED)
            return False
        if plan.settings.unenroll_unmet and compiled.trigger is not None and not compiled.trigger(facts):
            self.unenroll(enr, h.CRITERIA_UNMET)
            return False
        return True

    def goal(self, enr: Enrollment, plan: WorkflowPlan, *, after_completion: bool = False) -> Enrollment:
        """The enrollment met the goal: recorded, counted, converted when the workflow
        had emailed it; returns the enrollment as it now stands."""
        ctx = self.ctx
        store = ctx.store
        detail: dict[str, Any] = {"after_completion": True} if after_completion else {}
        ctx.record(plan.name, enr.object, enr.record, h.GOAL_MET, None, detail, enr.id)
        store.add_stat(plan.name, "goal_met", 1)
        store.add_fact(GOAL_FACT, plan.name, enr.object, enr.record, ctx.now)
        converted = enr.emailed
        if converted:
            ctx.record(plan.name, enr.object, enr.record, h.CONVERTED, None, {}, enr.id)
            store.add_stat(plan.name, "converted", 1)
            store.add_fact(CONVERTED_FACT, plan.name, enr.object, enr.record, ctx.now)
        if ctx.observer is not None:
            ctx.observer.goal(enr, converted)
        enr = ctx.change(enr, goal_met=True, converted=converted)
        ctx.put(enr)
        ctx.emit(
            Event(type="workflow.goal_met", object=enr.object, id=enr.record, at=ctx.now, data={"workflow": plan.name})
        )
        return enr

    def end(
        self,
        enr: Enrollment,
        status: str,
        kind: str,
        detail: Mapping[str, Any],
        step: str | None = None,
        *,
        shape: Shape | None = None,
    ) -> None:
        """Stop an active enrollment (`completed` or `unenrolled`), recorded as `kind`
        (given as its `shape` too, when the caller has it made)."""
        ctx = self.ctx
        store = ctx.store
        current = enr if ctx.owns(enr) else store.enrollment(enr.id) or enr
        if current.status != "active":
            return
        # A fresh enrollment (ended by its first run) has no timer and was never
        # counted `active` (see `Context.put`).
        fresh = ctx.fresh(enr)
        if not fresh:
            store.cancel_timer(enr.id)
        ended = ctx.change(enr, status=status, ended_at=ctx.now, waiting_for=None, step=None)
        ctx.put(ended)
        if not fresh:
            store.add_stat(enr.workflow, "active", -1)
        store.add_stat(enr.workflow, status, 1)
        if shape is not None:
            ctx.record_shape(shape, enr.object, enr.record, enr.id)
        else:
            ctx.record(enr.workflow, enr.object, enr.record, kind, step, detail, enr.id)
        if status == "unenrolled":
            ctx.emit(
                Event(
                    type="workflow.unenrolled",
                    object=enr.object,
                    id=enr.record,
                    at=ctx.now,
                    data={"workflow": enr.workflow},
                )
            )
        schedule_anniversary(ctx, ended)

    def unenroll(self, enr: Enrollment, reason: str) -> None:
        self.end(enr, "unenrolled", h.UNENROLLED, {"reason": reason})

    def complete(self, enr: Enrollment, compiled: Compiled | None = None) -> None:
        self.end(enr, "completed", h.COMPLETED, {}, shape=None if compiled is None else compiled.completed_shape)

    def migrate(self, enr: Enrollment, new: WorkflowPlan, moves: Mapping[str, Move]) -> None:
        """Move a waiting enrollment onto a new version:
        to its step's new id, or past a removed step to the next one that still exists.
        A running timer keeps its due time; a moved enrollment's history says `migrated`."""
        ctx = self.ctx
        updated = evolve(enr, version=new.source_hash)
        move = moves.get(enr.step) if enr.step is not None else None
        if move is None or not move.moved:
            ctx.store.put_enrollment(updated)
            return
        ctx.record(
            new.name,
            enr.object,
            enr.record,
            h.MIGRATED,
            enr.step,
            {"from": move.step, "to": move.to, "reason": move.reason},
            enr.id,
        )
        if move.reason == h.STEP_MOVED:
            ctx.store.put_enrollment(evolve(updated, step=move.to))
            return
        # The timer (if any) keeps running; when it fires the enrollment runs `move.to`.
        ctx.store.put_enrollment(evolve(updated, step=move.to, phase="at", waiting_for=None))
        if move.to is None and ctx.store.timer(enr.id) is None:
            self.complete(updated)
