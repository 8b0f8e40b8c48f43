"""Enrollment: triggers judged on a record in; new enrollments (or recorded refusals), goals and `wait for` answers out.

A filter trigger enrolls a record when a change makes it meet the criteria
(or, with `reenroll on change of`, when a named property changed); an event
trigger when a matching event arrives (`only if` holding). `try_enroll` is
where every enrollment is decided: workflow off, already enrolled,
re-enrollment off, loop guard, suppression, `unenroll when` and goal already
met are refusals recorded as `not_enrolled`. `watch` looks at an event for an
enrollment that exists: the checks of `runtime.lifecycle`, then a `wait for`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from wfdsl.plan.codec import event_pattern
from wfdsl.runtime import history as h
from wfdsl.runtime.anchors import anchor_day
from wfdsl.runtime.context import Compiled, Context, evolve, new_enrollment
from wfdsl.runtime.facts import ENROLLED_FACT, RecordFacts
from wfdsl.runtime.lifecycle import Lifecycle
from wfdsl.runtime.observe import Scope
from wfdsl.runtime.protocols import Enrollment, Event, EventKeeper, Record
from wfdsl.runtime.steps import Steps


class Enroller:
    """Triggers, enrollment and the events that concern existing enrollments."""

    def __init__(self, ctx: Context, lifecycle: Lifecycle, steps: Steps) -> None:
        self.ctx = ctx
        self.lifecycle = lifecycle
        self.steps = steps
        #: The CRM, when no workflow listens to `workflow.enrolled` and nothing observes:
        #: the event is then only kept in the record's history (set with the index).
        self.keeper: EventKeeper | None = None
        # The data of each workflow's `workflow.enrolled` events, one mapping for all.
        self._enrolled_data: dict[str, Mapping[str, Any]] = {}

    # ------------------------------------------------------------ triggers

    def filter_trigger(self, compiled: Compiled, record: Record, events: Sequence[Event]) -> None:
        """Enroll when the record comes to meet the criteria with these changes, or
        re-enroll when a `reenroll on change of` property changed."""
        if self.ctx.observer is None:
            self._filter_trigger(compiled, record, events)
            return
        scope = Scope(kind="filter_trigger", plan=compiled.plan, record=(record.object, record.id))
        self.ctx.within(scope, self._filter_trigger, compiled, record, events)

    def _filter_trigger(self, compiled: Compiled, record: Record, events: Sequence[Event]) -> None:
        if compiled.trigger is None:
            return
        ctx = self.ctx
        plan = compiled.plan
        facts = ctx.facts(record, plan)
        if not compiled.trigger(facts):
            return
        created = any(e.type == "record.created" and e.object == record.object and e.id == record.id for e in events)
        # A record that did not exist before met no criteria before.
        was_met = False if created else compiled.trigger(self._before(facts, events))
        prior = [e for e in ctx.store.enrollments_of(record.object, record.id) if e.workflow == plan.name]
        reenroll = False
        if prior and plan.reenroll.mode == "on_change":
            changed = {f"{e.object}.{e.data.get('property')}" for e in events if e.type == "property.changed"}
            reenroll = any(f"{p.object}.{p.property}" in changed for p in plan.reenroll.properties)
        if was_met and not reenroll:
            return  # it met the criteria already: nothing new
        cause = next((e.cause for e in events if e.cause), None)
        self.try_enroll(compiled, record, reenroll_ok=reenroll, cause=cause)

    @staticmethod
    def _before(facts: RecordFacts, events: Sequence[Event]) -> RecordFacts:
        """The record as it was before `events` (the changes they report undone)."""
        values: dict[tuple[str, str], Any] = {}
        lists: dict[str, bool] = {}
        hidden = [(e.type, e.at, e.data) for e in events if e.object == facts.record.object and e.id == facts.record.id]
        for event in events:
            if event.type == "property.changed":
                key = (event.object, str(event.data.get("property")))
                values.setdefault(key, event.data.get("previous"))
            elif event.type in ("list.added", "list.removed") and event.object == facts.record.object:
                lists.setdefault(str(event.data.get("list")), event.type == "list.removed")
        return facts.before(values, lists, hidden)

    def event_trigger(self, compiled: Compiled, event: Event) -> None:
        """Enroll the event's record when the event matches a trigger event and `only if` holds."""
        if self.ctx.observer is None:
            self._event_trigger(compiled, event)
            return
        scope = Scope(kind="event_trigger", plan=compiled.plan, record=(event.object, event.id))
        self.ctx.within(scope, self._event_trigger, compiled, event)

    def _event_trigger(self, compiled: Compiled, event: Event) -> None:
        ctx = self.ctx
        plan = compiled.plan
        if not any(ctx.matches(spec, fn, event) for spec, fn in compiled.events if not spec.negated):
            return
        # One change is one trigger occurrence: an update that matches two trigger
        # groups (city and country changed) enrolls once.
        key = (plan.name, event.object, event.id)
        if key in ctx.triggered:
            return
        ctx.triggered.add(key)
        record = ctx.crm.get(event.object, event.id)
        if record is None:
            ctx.record(plan.name, event.object, event.id, h.NOT_ENROLLED, None, {"reason": h.UNKNOWN_RECORD})
            return
        if compiled.refinement is not None and not compiled.refinement(ctx.facts(record, plan)):
            return
        self.try_enroll(compiled, record, reenroll_ok=plan.reenroll.mode == "every_time", cause=event.cause)

    # ------------------------------------------------------------ enrollment

    def try_enroll(
        self,
        compiled: Compiled,
        record: Record,
        *,
        manual: bool = False,
        reenroll_ok: bool = False,
        cause: str | None = None,
        annual: bool = False,
        anchor_year: int | None = None,
    ) -> Enrollment | None:
        """Enroll `record` unless a rule refuses it (recorded `not_enrolled` with the
        reason); the new enrollment runs at once. Returns it, or None."""
        if self.ctx.observer is None:
            return self._try_enroll(compiled, record, manual, reenroll_ok, cause, annual, anchor_year)
        scope = Scope(kind="enroll", plan=compiled.plan, record=(record.object, record.id))
        return self.ctx.within(
            scope, self._try_enroll, compiled, record, manual, reenroll_ok, cause, annual, anchor_year
        )

    def _try_enroll(
        self,
        compiled: Compiled,
        record: Record,
        manual: bool,
        reenroll_ok: bool,
        cause: str | None,
        annual: bool,
        anchor_year: int | None,
    ) -> Enrollment | None:
        ctx = self.ctx
        store = ctx.store
        plan = compiled.plan
        name, obj, rid = plan.name, record.object, record.id
        refused = self._refusal(compiled, record, manual, reenroll_ok, cause, annual)
        if refused is not None:
            ctx.record(name, obj, rid, h.NOT_ENROLLED, None, {"reason": refused})
            return None
        anchor = None if plan.anchor is None else anchor_day(ctx, plan, record, anchor_year)
        seq = store.next_seq("enrollment")
        enr = new_enrollment(
            f"e{seq}",
            name,
            obj,
            rid,
            ctx.now,
            seq,
            plan.source_hash,
            plan.entry,
            None if anchor is None else anchor.isoformat(),
            cause,
        )
        # Unobserved, the new enrollment is its first run's own until the run hands it
        # to the store (as every run ends by doing): the run changes it in place rather
        # than copying it at its first step. An observer may keep what it is shown.
        # It is counted `active` when the store is given it (`Context.put`).
        new = ctx.observer is None
        store.add_stat(name, "enrolled", 1)
        if not new:
            store.put_enrollment(enr)
            store.add_stat(name, "active", 1)
        store.add_fact(ENROLLED_FACT, name, obj, rid, ctx.now)
        ctx.record_shape(compiled.enrolled_by_hand_shape if manual else compiled.enrolled_shape, obj, rid, enr.id)
        keeper = self.keeper
        if keeper is None:
            ctx.emit(
                Event(type="workflow.enrolled", object=obj, id=rid, at=ctx.now, data={"workflow": name}, cause=cause)
            )
        else:
            data = self._enrolled_data.get(name)
            if data is None:
                data = self._enrolled_data[name] = {"workflow": name}
            keeper.keep_event("workflow.enrolled", obj, rid, ctx.now, data)
        self.steps.run(enr, new=new)
        return enr

    def _refusal(
        self, compiled: Compiled, record: Record, manual: bool, reenroll_ok: bool, cause: str | None, annual: bool
    ) -> str | None:
        """Why the record may not enroll now (a `not_enrolled` reason), or None."""
        ctx = self.ctx
        plan = compiled.plan
        name = plan.name
        if not ctx.is_active(name):
            return h.WORKFLOW_OFF
        held = ctx.store.enrollments_of(record.object, record.id)
        prior = [e for e in held if e.workflow == name] if held else held
        if prior:
            if any(e.status == "active" for e in prior):
                return h.ALREADY_ENROLLED
            if not (reenroll_ok or manual or annual):
                return h.REENROLL_OFF
        if cause is not None:
            hour_ago = ctx.now - dt.timedelta(hours=1)
            recent = [e for e in prior if e.caused_by is not None and e.enrolled_at > hour_ago]
            if len(recent) >= ctx.loop_limit:
                return h.LOOP_GUARD
        if not plan.suppress_lists and compiled.unenroll is None and compiled.goal is None:
            return None  # nothing to judge the record by: its facts are not built
        facts = ctx.facts(record, plan)
        if plan.suppress_lists and ctx.suppressed(plan, facts):
            return h.SUPPRESSED
        if compiled.unenroll is not None and compiled.unenroll(facts):
            return h.UNENROLL_CRITERIA
        if compiled.goal is not None and compiled.goal(facts):
            return h.GOAL_ALREADY_MET
        return None

    # ------------------------------------------------------------ enrollments that exist

    def watch(self, compiled: Compiled, record: Record, event: Event) -> None:
        """An event about a record enrolled in this workflow: the checks (goal, unenroll,
        suppression), a `wait for` it answers, or a goal met after completion."""
        if self.ctx.observer is None:
            self._watch(compiled, record, event)
            return
        scope = Scope(kind="watch", plan=compiled.plan, record=(record.object, record.id))
        self.ctx.within(scope, self._watch, compiled, record, event)

    def _watch(self, compiled: Compiled, record: Record, event: Event) -> None:
        ctx = self.ctx
        plan = compiled.plan
        mine = [e for e in ctx.store.enrollments_of(record.object, record.id) if e.workflow == plan.name]
        if not mine:
            return
        latest = mine[-1]
        if latest.status == "active":
            if self.lifecycle.check(latest, compiled, record):
                stored = latest.waiting_for
                spec = None if stored is None else event_pattern(stored)
                if spec is not None and ctx.matches(spec, ctx.event_fn(spec.criteria), event):
                    ctx.store.cancel_timer(latest.id)
                    enr = evolve(latest, waiting_for=None, received=True)
                    ctx.store.put_enrollment(enr)
                    self.steps.run(enr)
        elif latest.status == "completed" and not latest.goal_met and compiled.goal is not None:
            if compiled.goal(ctx.facts(record, plan)):
                self.lifecycle.goal(latest, plan, after_completion=True)
