"""Timers: a due timer in; the enrollment resumed, a schedule occurrence or an anniversary enrolled out.

Timer kinds: `resume` (a delay ended, a retry, an execution window opened),
`timeout` (a `wait for` ran out), `schedule` (a recurring trigger's next
occurrence) and `annual` (a record's next anniversary).
"""

from __future__ import annotations

import datetime as dt

from wfdsl.plan.model import WorkflowPlan
from wfdsl.runtime import timing
from wfdsl.runtime.anchors import anniversary_key, anniversary_year, schedule_anniversary, upcoming_anniversary
from wfdsl.runtime.context import Compiled, Context, evolve
from wfdsl.runtime.enroll import Enroller
from wfdsl.runtime.observe import Scope
from wfdsl.runtime.protocols import Timer


class Timers:
    """Fires timers."""

    def __init__(self, ctx: Context, enroller: Enroller) -> None:
        self.ctx = ctx
        self.enroller = enroller

    def schedule_next(self, plan: WorkflowPlan, after: dt.datetime) -> None:
        """Set the workflow's `schedule` timer to its next occurrence after `after`."""
        rec = plan.trigger.recurrence
        if rec is None:
            return
        due = timing.next_recurrence(rec, after, plan.settings.timezone)
        if due is not None:
            self.ctx.set_timer(f"schedule:{plan.name}", due, "schedule", plan.name)

    def fire(self, timer: Timer) -> None:
        if self.ctx.observer is None:
            self._fire(timer)
            return
        self.ctx.within(Scope(kind="timer", timer=timer), self._fire, timer)

    def _fire(self, timer: Timer) -> None:
        ctx = self.ctx
        compiled = ctx.plans.get(timer.workflow)
        if compiled is None:
            return
        if timer.kind == "schedule":
            self._schedule_fire(compiled)
            return
        if timer.kind == "annual":
            self._annual_fire(compiled, timer)
            return
        enr = ctx.store.enrollment(timer.enrollment or "")
        if enr is None or enr.status != "active":
            return
        if timer.kind == "timeout":
            enr = evolve(enr, waiting_for=None, received=False)
            ctx.store.put_enrollment(enr)
        self.enroller.steps.run(enr)

    def _schedule_fire(self, compiled: Compiled) -> None:
        if self.ctx.observer is None:
            self._schedule_enroll(compiled)
            return
        self.ctx.within(Scope(kind="schedule", plan=compiled.plan), self._schedule_enroll, compiled)

    def _schedule_enroll(self, compiled: Compiled) -> None:
        ctx = self.ctx
        plan = compiled.plan
        self.schedule_next(plan, ctx.now)
        if not ctx.is_active(plan.name):
            return
        for record_id in list(ctx.crm.query(plan.object, plan.trigger.refinement)):
            record = ctx.crm.get(plan.object, record_id)
            if record is None:
                continue
            if compiled.refinement is not None and not compiled.refinement(ctx.facts(record, plan)):
                continue
            self.enroller.try_enroll(compiled, record, reenroll_ok=plan.reenroll.mode == "every_time")

    def _annual_fire(self, compiled: Compiled, timer: Timer) -> None:
        if self.ctx.observer is None:
            self._annual_enroll(compiled, timer)
            return
        self.ctx.within(Scope(kind="annual", plan=compiled.plan), self._annual_enroll, compiled, timer)

    def _annual_enroll(self, compiled: Compiled, timer: Timer) -> None:
        """A record's next anniversary is due: it enrolls again if it still meets the
        criteria; if not, it is looked at again for the anniversary after."""
        ctx = self.ctx
        store = ctx.store
        plan = compiled.plan
        if not ctx.is_active(plan.name):
            return
        if timer.enrollment is None:
            # A workflow-wide new-year timer of an earlier version: give each record
            # whose enrollment has ended its own anniversary timer instead.
            for enr in list(store.enrollments(workflow=plan.name)):
                latest = [e for e in store.enrollments_of(enr.object, enr.record) if e.workflow == plan.name]
                key = anniversary_key(plan.name, enr.object, enr.record)
                if latest and latest[-1].id == enr.id and enr.status != "active" and store.timer(key) is None:
                    schedule_anniversary(ctx, enr)
            return
        ended = store.enrollment(timer.enrollment)
        if ended is None:
            return
        mine = [e for e in store.enrollments_of(ended.object, ended.record) if e.workflow == plan.name]
        if not mine or mine[-1].id != ended.id or ended.status == "active":
            return  # enrolled again since (by hand): its end schedules the next one
        record = ctx.crm.get(ended.object, ended.record)
        if record is None:
            return
        year = upcoming_anniversary(ctx, plan, record, anniversary_year(plan, ended))
        criteria = compiled.trigger or compiled.refinement
        if criteria is not None and not criteria(ctx.facts(record, plan)):
            schedule_anniversary(ctx, ended, year + 1)
            return
        if self.enroller.try_enroll(compiled, record, annual=True, anchor_year=year) is None:
            schedule_anniversary(ctx, ended, year + 1)
