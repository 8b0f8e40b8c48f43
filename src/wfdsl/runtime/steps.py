"""Steps: an enrollment where it stands in; its steps run until it waits (a timer) or ends.

Each step class has its handler in one table (`HANDLERS`, class -> handler):
control steps (`label`, `go to`, `end`), branches (`if`, `branch on`,
`split`), waits (`delay …`, `wait for`) and actions (checked first, then held
to the execution window, then performed by `runtime.actions`). A handler
returns a `Goto` to go on, `WAIT` when a timer is set, or `ENDED`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from wfdsl.plan import steps as ps
from wfdsl.plan.model import Step, WorkflowPlan
from wfdsl.runtime import history as h
from wfdsl.runtime import timing
from wfdsl.runtime.actions import Actions
from wfdsl.runtime.anchors import anchor_value, enrollment_step_time
from wfdsl.runtime.context import ENDED, WAIT, Compiled, Context, Goto, is_plain, plan_value
from wfdsl.runtime.history import Shape, shape_of
from wfdsl.runtime.lifecycle import Lifecycle
from wfdsl.runtime.observe import Scope
from wfdsl.runtime.protocols import Enrollment, utc
from wfdsl.runtime.values import is_date_form, parse_temporal

#: Steps one enrollment may take without waiting before it is stopped (a `go to` loop).
MAX_STEPS_PER_RUN = 1000
#: A branching step's options (predicate, target, history entry's shape) and its `else`.
_Choices = tuple[list[tuple[Callable[[Any], bool], str | None, Shape]], str | None, Shape]
#: Steps that a skipped stretch of the workflow passes without a `skipped` entry.
_UNRECORDED = (ps.Label, ps.GoTo, ps.End)


class Steps:
    """Runs enrollments step by step, each step kind by its handler (`HANDLERS`)."""

    def __init__(self, ctx: Context, lifecycle: Lifecycle, actions: Actions) -> None:
        self.ctx = ctx
        self.lifecycle = lifecycle
        self.actions = actions
        # Each branching step's options, compiled on its first use (see `_compile_choices`).
        self._choices: dict[int, tuple[Step, _Choices]] = {}

    def run(self, enr: Enrollment, *, new: bool = False) -> None:
        """Run an enrollment from where it stands until it waits or ends (`new`: one the
        store has not been given yet; every run ends by giving it)."""
        compiled = self.ctx.plans.get(enr.workflow)
        if compiled is None:
            return
        ctx = self.ctx
        before = ctx.run_starts(enr, new=new)
        try:
            self._run(enr, compiled)
        finally:
            ctx.run_ends(before)

    def _run(self, enr: Enrollment, compiled: Compiled) -> None:
        plan = compiled.plan
        change = self.ctx.change
        handlers = HANDLERS
        action = Steps._action
        step_id = enr.step
        if enr.phase == "after" and step_id is not None:
            step_id = plan.steps[step_id].next if step_id in plan.steps else None
            enr = change(enr, step=step_id, phase="at", attempt=0)
        for _ in range(MAX_STEPS_PER_RUN):
            if step_id is None:
                self.lifecycle.complete(enr, compiled)
                return
            step = plan.steps.get(step_id)
            if step is None:
                self.lifecycle.complete(enr, compiled)
                return
            if enr.step != step_id:
                enr = change(enr, step=step_id)
            result = handlers.get(type(step), action)(self, enr, compiled, step)
            if result is WAIT:
                return
            if isinstance(result, Goto):
                enr = result.enr if result.enr.attempt == 0 else change(result.enr, attempt=0)
                step_id = result.target
                continue
            return  # ended
        self.lifecycle.unenroll(enr, h.LOOP_GUARD)

    # ------------------------------------------------------------ control

    def _label(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        return Goto(enr, step.next)

    def _go_to(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        assert isinstance(step, ps.GoTo)
        return Goto(self.ctx.change(enr, passes=enr.passes + 1), step.target)

    def _end(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        self.lifecycle.complete(enr, compiled)
        return ENDED

    # ------------------------------------------------------------ actions

    def _action(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        """An action: re-read and check the record first, then wait for the execution
        window if it is closed, then perform it."""
        if not self.lifecycle.check(enr, compiled):
            return ENDED
        now = self.ctx.now
        settings = compiled.plan.settings
        # No windows and no pause dates: always open (what `in_window` would say).
        if (settings.windows or settings.pause_dates) and not timing.in_window(
            now, settings.windows, settings.pause_dates, settings.timezone
        ):
            start = timing.next_window_start(now, settings.windows, settings.pause_dates, settings.timezone)
            until = start + timing.spread(enr.id)
            reason = "paused" if timing.is_paused(now, settings.pause_dates, settings.timezone) else "execution_window"
            return self._sleep(enr, step, until, {"reason": reason}, phase="at")
        return self.actions.act(enr, compiled, step)

    # ------------------------------------------------------------ branches

    def _branch(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        if self.ctx.observer is None:
            return self._choose(enr, compiled, step)
        scope = Scope(kind="branch", plan=compiled.plan, step=step.id, record=(enr.object, enr.record))
        return self.ctx.within(scope, self._choose, enr, compiled, step)

    def _choose(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        ctx = self.ctx
        plan = compiled.plan
        target: str | None
        detail: Mapping[str, Any]
        if type(step) is ps.Split:
            roll = (timing.stable_hash("split", enr.id, step.id) % 10000) / 100
            total = 0.0
            target = step.arms[-1].target if step.arms else step.next
            chosen = len(step.arms) - 1
            for i, arm in enumerate(step.arms):
                total += arm.percent
                if roll < total:
                    target, chosen = arm.target, i
                    break
            detail = {"arm": chosen, "percent": step.arms[chosen].percent if step.arms else 0, "target": target}
        else:
            found = self._choices.get(id(step))
            if found is None or found[0] is not step:
                found = self._choices[id(step)] = (step, self._compile_choices(plan, step))
            options, target, shape = found[1]
            record = ctx.crm.get(enr.object, enr.record)
            if record is not None:
                facts = ctx.facts(record, plan, received=enr.received)
                for holds, to, made in options:
                    if holds(facts):
                        target, shape = to, made
                        break
            ctx.record_shape(shape, enr.object, enr.record, enr.id)
            return Goto(enr, target)
        ctx.record(plan.name, enr.object, enr.record, h.BRANCHED, step.id, detail, enr.id)
        return Goto(enr, target)

    def _compile_choices(self, plan: WorkflowPlan, step: Step) -> _Choices:
        """An `if` or `branch on` step's options (predicate, target, the shape of its
        history entry) in order, and its `else` (target, shape): made once per step."""
        fn = self.ctx.fn

        def shape(detail: Mapping[str, Any]) -> Shape:
            return shape_of(plan.name, plan.object, h.BRANCHED, step.id, detail)

        options: list[tuple[Callable[[Any], bool], str | None, Shape]]
        if isinstance(step, ps.If):
            options = [
                (fn(b.criteria), b.target, shape({"branch": i, "target": b.target}))
                for i, b in enumerate(step.branches)
            ]
            return options, step.else_target, shape({"branch": "else", "target": step.else_target})
        assert isinstance(step, ps.BranchOn)
        options = [
            (fn(c.criteria), c.target, shape({"value": plan_value(c.value), "target": c.target})) for c in step.cases
        ]
        return options, step.else_target, shape({"value": "else", "target": step.else_target})

    # ------------------------------------------------------------ waits

    def _sleep(
        self,
        enr: Enrollment,
        step: Step,
        until: dt.datetime,
        detail: Mapping[str, Any],
        *,
        phase: str,
        kind: str = "resume",
        waiting_for: Mapping[str, Any] | None = None,
    ) -> object:
        ctx = self.ctx
        enr = ctx.change(enr, step=step.id, phase=phase, waiting_for=waiting_for)
        ctx.put(enr)
        ctx.set_timer(enr.id, until, kind, enr.workflow, enr.id)
        ctx.record(
            enr.workflow, enr.object, enr.record, h.DELAYED, step.id, {"until": until.isoformat(), **detail}, enr.id
        )
        return WAIT

    def _delay(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        assert isinstance(step, ps.Delay)
        tz = compiled.plan.settings.timezone
        until = timing.add_duration(self.ctx.now, timing.duration_parts(step.duration), tz)
        return self._sleep(enr, step, until, {}, phase="after")

    def _wait_for(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        assert isinstance(step, ps.WaitFor)
        tz = compiled.plan.settings.timezone
        until = timing.add_duration(self.ctx.now, timing.duration_parts(step.timeout), tz)
        # The enrollment keeps the pattern in its plan JSON form (what stores hold).
        pattern = step.args["event"]
        return self._sleep(
            enr, step, until, {"wait_for": step.event.type}, phase="after", kind="timeout", waiting_for=pattern
        )

    def _delay_until_day(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        assert isinstance(step, ps.DelayUntilDay)
        now = self.ctx.now
        at = timing.parse_time(step.at) if step.at else dt.time(0, 0)
        weekday = step.weekday
        until = timing.next_time_of_day(
            now, at, compiled.plan.settings.timezone, None if weekday is None else [int(weekday)]
        )
        if until <= now:
            return Goto(enr, step.next)
        return self._sleep(enr, step, until, {}, phase="after")

    def _delay_until_date(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        ctx = self.ctx
        plan = compiled.plan
        assert isinstance(step, ps.DelayUntilDate)
        target = self._date_target(enr, plan, step)
        if target is None:
            ctx.record(plan.name, enr.object, enr.record, h.SKIPPED, step.id, {"reason": h.DATE_UNKNOWN}, enr.id)
            return Goto(enr, step.next)
        if target <= ctx.now:
            ctx.record(
                plan.name,
                enr.object,
                enr.record,
                h.SKIPPED,
                step.id,
                {"reason": h.DATE_PASSED, "until": target.isoformat()},
                enr.id,
            )
            return Goto(enr, step.next)
        return self._sleep(enr, step, target, {}, phase="after")

    def _delay_until_anchor(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        assert isinstance(step, ps.DelayUntilAnchor)
        if enr.anchor is None:
            return self._skip_rest(enr, compiled, step)
        now = self.ctx.now
        anchor_at = enrollment_step_time(enr, compiled.plan, step)
        if anchor_at is not None and anchor_at > now:
            return self._sleep(enr, step, anchor_at, {}, phase="after")
        if anchor_at == now:
            return Goto(enr, step.next)  # due now, not passed
        return self._skip_passed(enr, compiled, step)

    def _date_target(self, enr: Enrollment, plan: WorkflowPlan, step: ps.DelayUntilDate) -> dt.datetime | None:
        tz = plan.settings.timezone
        base = step.base
        at = timing.parse_time(step.at) if step.at else None
        offset = timing.duration_parts(step.offset) if step.offset else None
        sign = step.sign
        if base.datetime is not None:
            moment = dt.datetime.fromisoformat(base.datetime)
            day, at = moment.date(), at or moment.time()
        elif base.date is not None:
            day = dt.date.fromisoformat(base.date)
        else:
            prop = base.property
            record = self.ctx.crm.get(enr.object, enr.record)
            if record is None or prop is None:
                return None
            value = self.ctx.facts(record, plan).value(prop.object, prop.property)
            parsed = timing.to_date(value, tz)
            if parsed is None:
                return None
            found = parse_temporal(value)
            if at is None and isinstance(found, dt.datetime) and not is_date_form(found):
                # a date-time property with no `at`: that very moment
                moment = utc(found if found.tzinfo is not None else found.replace(tzinfo=dt.timezone.utc))
                if offset:
                    return timing.add_duration(moment, offset, tz, sign=sign)
                return moment
            day = parsed
        return timing.date_target(day, at, offset, sign, tz)

    def _skip_passed(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        """A date-centred delay in the past: skip to the next one still ahead."""
        ctx = self.ctx
        plan = compiled.plan
        cur: str | None = step.id
        seen: set[str] = set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            here = plan.steps[cur]
            if isinstance(here, ps.DelayUntilAnchor) and cur != step.id:
                until = enrollment_step_time(enr, plan, here)
                if until is not None and until >= ctx.now:
                    return Goto(enr, cur)
            if not isinstance(here, _UNRECORDED):
                ctx.record(plan.name, enr.object, enr.record, h.SKIPPED, cur, {"reason": h.ANCHOR_PASSED}, enr.id)
            if isinstance(here, ps.End):
                break
            cur = here.target if isinstance(here, ps.GoTo) else here.next
        self.lifecycle.complete(enr, compiled)
        return ENDED

    def _skip_rest(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        """No usable anchor date: none of the date-centred steps runs; each is recorded
        `skipped` (`anchor_unknown`, with the value found) and the enrollment completes."""
        ctx = self.ctx
        plan = compiled.plan
        record = ctx.crm.get(enr.object, enr.record)
        value = None if record is None else anchor_value(ctx, plan, record)
        shown = value if value is None or is_plain(value) else str(value)
        detail: dict[str, Any] = {"reason": h.ANCHOR_UNKNOWN, "value": shown}
        cur: str | None = step.id
        seen: set[str] = set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            here = plan.steps[cur]
            if not isinstance(here, _UNRECORDED):
                ctx.record(plan.name, enr.object, enr.record, h.SKIPPED, cur, detail, enr.id)
            if isinstance(here, ps.End):
                break
            cur = here.target if isinstance(here, ps.GoTo) else here.next
        self.lifecycle.complete(enr, compiled)
        return ENDED


Handler = Callable[[Steps, Enrollment, Compiled, Step], object]

#: Step class -> handler; a class not listed is an action (`Steps._action`). The table
#: holds the class's functions, not bound methods, so a `Steps` is no reference cycle
#: (an engine and its store are freed as soon as they are dropped).
HANDLERS: dict[type[Step], Handler] = {
    ps.Label: Steps._label,
    ps.GoTo: Steps._go_to,
    ps.End: Steps._end,
    ps.If: Steps._branch,
    ps.BranchOn: Steps._branch,
    ps.Split: Steps._branch,
    ps.Delay: Steps._delay,
    ps.WaitFor: Steps._wait_for,
    ps.DelayUntilDay: Steps._delay_until_day,
    ps.DelayUntilDate: Steps._delay_until_date,
    ps.DelayUntilAnchor: Steps._delay_until_anchor,
}
