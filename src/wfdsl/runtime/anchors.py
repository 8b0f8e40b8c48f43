"""Anchors: a workflow's anchor date and a record in; anchor days, date-centred step times and anniversary timers out.

`delay until N days before <property>` steps are centred on an enrollment's
anchor day; with `annually`, an enrollment that ends sets the record's timer
to enroll again in time for its next anniversary.

>>> anniversary_key("Birthday", "contact", "c1")
'annual:Birthday:contact:c1'
"""

from __future__ import annotations

import datetime as dt

from wfdsl.limits import ACT_YEARS
from wfdsl.plan.model import WorkflowPlan
from wfdsl.plan.steps import DelayUntilAnchor
from wfdsl.runtime import timing
from wfdsl.runtime.context import Context
from wfdsl.runtime.protocols import Enrollment, Record

#: How many years ahead a record's next anniversary is looked for.
_ANNIVERSARY_LOOKAHEAD = 8


def anchor_value(ctx: Context, plan: WorkflowPlan, record: Record) -> object | None:
    """The anchor as the record holds it (the property's value, or the fixed date)."""
    anchor = plan.anchor
    if anchor is None:
        return None
    if anchor.property is not None:
        return ctx.facts(record, plan).value(anchor.property.object, anchor.property.property)
    return anchor.date


def anchor_day(ctx: Context, plan: WorkflowPlan, record: Record, year: int | None = None) -> dt.date | None:
    """The anchor day of a new enrollment; with `annually`, in `year` (default: this
    year in the workflow's zone). None when the value is no usable date."""
    anchor = plan.anchor
    if anchor is None:
        return None
    tz = plan.settings.timezone
    base = timing.to_date(anchor_value(ctx, plan, record), tz)
    if base is None:
        return None
    if year is None:
        year = ctx.now.astimezone(timing.zone(tz)).year
    try:
        return timing.anchor_day(base, anchor.annually, year)
    except ValueError:
        return None


def step_time(plan: WorkflowPlan, step: DelayUntilAnchor, anchor: dt.date) -> dt.datetime:
    """The moment of a date-centred step (`delay_until_anchor`) for this anchor day."""
    at = timing.parse_time(step.at) if step.at else None
    offset = timing.duration_parts(step.offset) if step.offset else None
    sign = -1 if step.side == "before" else 1
    return timing.date_target(anchor, at, offset, sign, plan.settings.timezone)


def enrollment_step_time(enr: Enrollment, plan: WorkflowPlan, step: DelayUntilAnchor) -> dt.datetime | None:
    """`step_time` for an enrollment's own anchor day (None when it has none)."""
    if enr.anchor is None:
        return None
    return step_time(plan, step, dt.date.fromisoformat(enr.anchor))


def anniversary_key(workflow: str, object_type: str, record_id: str) -> str:
    return f"annual:{workflow}:{object_type}:{record_id}"


def anniversary_year(plan: WorkflowPlan, enr: Enrollment) -> int:
    """The anchor year of the enrollment after `enr`: the year after its anchor's."""
    if enr.anchor is not None:
        return dt.date.fromisoformat(enr.anchor).year + 1
    return enr.enrolled_at.astimezone(timing.zone(plan.settings.timezone)).year + 1


def upcoming_anniversary(ctx: Context, plan: WorkflowPlan, record: Record, year: int) -> int:
    """`year`, or a later one: the first with a date-centred step still ahead.

    After a year in which the record did not enroll, the timer fires for an
    anniversary later than the one its last enrollment points to.
    """
    zone = timing.zone(plan.settings.timezone)
    for _ in range(_ANNIVERSARY_LOOKAHEAD):
        anchor = anchor_day(ctx, plan, record, year)
        if anchor is None or year >= ACT_YEARS[1]:
            break
        times = [step_time(plan, step, anchor) for step in plan.steps.values() if isinstance(step, DelayUntilAnchor)]
        last = max(times) if times else timing.localize(anchor, dt.time(0, 0), zone)
        if last >= ctx.now:
            break  # a date-centred step of this anniversary is still ahead
        year += 1
    return year


def _earliest_anchor_step(plan: WorkflowPlan, anchor: dt.date) -> dt.datetime | None:
    """The moment of the workflow's earliest date-centred step for this anchor day."""
    times = []
    for step in plan.steps.values():
        if isinstance(step, DelayUntilAnchor):
            times.append(step_time(plan, step, anchor))
    return min(times) if times else None


def schedule_anniversary(ctx: Context, enr: Enrollment, year: int | None = None) -> None:
    """`annually`: once an enrollment has ended, the record is due to enroll again in
    time for its next anniversary, at the workflow's earliest date-centred step
    relative to it (its anchor year is then the anniversary's year)."""
    compiled = ctx.plans.get(enr.workflow)
    if compiled is None:
        return
    plan = compiled.plan
    if plan.anchor is None or not plan.anchor.annually:
        return
    record = ctx.crm.get(enr.object, enr.record)
    if record is None:
        return
    # A year given by the caller is a look again after an anniversary that did
    # not enroll: it must fall after now, or the same timer would fire forever.
    later = year is not None
    if year is None:
        year = anniversary_year(plan, enr)
    zone = timing.zone(plan.settings.timezone)
    for _ in range(_ANNIVERSARY_LOOKAHEAD):
        anchor = anchor_day(ctx, plan, record, year)
        if anchor is not None:
            due = _earliest_anchor_step(plan, anchor) or timing.localize(anchor, dt.time(0, 0), zone)
        else:
            # No usable date now: look again on 1 January of that year.
            due = timing.localize(dt.date(year, 1, 1), dt.time(0, 0), zone)
        if not later or due > ctx.now or year >= ACT_YEARS[1]:
            break
        year += 1
    else:
        return  # no anniversary ahead within reach: nothing to schedule
    ctx.set_timer(
        anniversary_key(plan.name, enr.object, enr.record),
        max(due, ctx.now),
        "annual",
        plan.name,
        enr.id,
    )
