"""Explain: plans, records, events and one record in; every decision about that record out.

`explain_record` runs the simulation with an observing engine
(`ExplainEngine`, a subclass of `runtime.Engine` that changes nothing it
does) and collects, for one record, each decision with the criteria tree the
engine evaluated at that moment: which leaf was true or false and the value it
saw. Besides the history entries of the trace, it states the refusals the
trace does not record: enrollment criteria unmet, `only if` unmet, a trigger
event whose attributes do not match, criteria met already before a change.

>>> import datetime as dt
>>> from wfdsl.plan.model import ProjectPlan
>>> from wfdsl.host.simulate import load_records_data
>>> seed = load_records_data({"contact": [{"id": "c1"}]}, "records.json")
>>> report = explain_record(ProjectPlan(workflows=()), seed, [], "c1",
...                         start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
>>> report.record, report.workflows
(('contact', 'c1'), ())
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from wfdsl.host.simulate import Seed, Simulation
from wfdsl.plan.model import EventSpec, ProjectPlan, WorkflowPlan, decode_value
from wfdsl.runtime import history as h
from wfdsl.runtime.criteria import (
    PROPERTY_OPS,
    UPDATED_OPS,
    ExplainNode,
    compile_event_criteria,
    describe,
    event_attribute,
    explain_criteria,
    is_unknown,
)
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.facts import RecordFacts
from wfdsl.runtime.protocols import Event, Record, Timer, VirtualClock, utc

__all__ = [
    "DERIVED_REASONS",
    "Check",
    "EventMatch",
    "ExplainEngine",
    "ExplainError",
    "Explanation",
    "Lists",
    "Moment",
    "Outcome",
    "Tree",
    "WorkflowReport",
    "explain_record",
    "render_text",
    "resolve_record",
    "why_not",
]

#: Refusals that the trace does not record (no history entry), stated by explain.
CRITERIA_UNMET = "criteria_unmet"
REFINEMENT_UNMET = "refinement_unmet"
EVENT_MISMATCH = "event_mismatch"
ALREADY_MET = "already_met"
DERIVED_REASONS = frozenset({CRITERIA_UNMET, REFINEMENT_UNMET, EVENT_MISMATCH, ALREADY_MET})


class ExplainError(Exception):
    """A record or workflow that the explanation cannot be about (message has did-you-mean)."""


# ---------------------------------------------------------------- evaluated trees


@attrs.frozen(kw_only=True)
class Tree:
    """One evaluated criteria node: its text, result, the value it saw, its children."""

    text: str
    result: bool
    seen: str | None = None
    children: tuple[Tree, ...] = ()

    def lines(self, indent: str = "") -> list[str]:
        mark = "✓" if self.result else "✗"
        line = f"{indent}{mark} {self.text}"
        if self.seen is not None:
            line += f"   ({self.seen})"
        out = [line]
        for child in self.children:
            out.extend(child.lines(indent + "  "))
        return out

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "result": self.result}
        if self.seen is not None:
            out["seen"] = self.seen
        if self.children:
            out["children"] = [c.to_json() for c in self.children]
        return out


def _show(value: object) -> str:
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float, bool)):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


def _was(value: object) -> str:
    return "was unknown" if is_unknown(value) else f"was {_show(value)}"


def _tree(node: ExplainNode, facts: RecordFacts | None) -> Tree:
    """An `ExplainNode` as a `Tree`, with what each leaf saw written out."""
    data = node.data
    op = str(data.get("op"))
    children = tuple(_tree(c, facts) for c in node.children)
    seen: str | None = None
    if op in ("ever", "never") and facts is not None:
        values = [v for v in facts.history(str(data["object"]), str(data["property"])) if not is_unknown(v)]
        seen = "values: " + ", ".join(_show(v) for v in values) if values else "never had a value"
    elif op in PROPERTY_OPS:
        seen = _was(node.value)
    elif op == "has_event":
        count = node.value if isinstance(node.value, int) else 0
        seen = f"{count} matching event{'' if count == 1 else 's'}"
    elif op in UPDATED_OPS:
        last = node.value
        if not isinstance(last, dt.datetime):
            seen = "never set"
        elif last.year == 1:
            seen = "set before the start, not since"
        else:
            seen = f"last updated {_time(last)}"
    elif op == "in_list":
        seen = "member" if node.result else "not a member"
    elif op == "enrolled_in":
        seen = "enrolled" if node.result else "never enrolled"
    elif op == "reached_goal":
        # Holds only for converted records: emailed by the workflow, then met its goal.
        seen = "converted" if node.result else "not converted (goal not met, or met without a marketing email)"
    elif op == "received":
        seen = {True: "received", False: "not received"}.get(node.value, "no wait before")  # type: ignore[call-overload]
    return Tree(text=describe(data), result=node.result, seen=seen, children=children)


def evaluate(criteria: Mapping[str, Any], facts: RecordFacts) -> Tree:
    """Criteria evaluated on a record's facts, every leaf with the value it saw."""
    return _tree(explain_criteria(criteria, facts), facts)


def _event_tree(data: Mapping[str, Any], attributes: Mapping[str, object], facts: RecordFacts | None) -> Tree:
    """Event criteria (bare names are the event's attributes) evaluated on one event."""
    op = str(data.get("op"))
    if op in ("and", "or"):
        kids = tuple(_event_tree(i, attributes, facts) for i in data["items"])
        result = all(k.result for k in kids) if op == "and" else any(k.result for k in kids)
        return Tree(text=op, result=result, children=kids)
    if op == "not":
        kid = _event_tree(data["item"], attributes, facts)
        return Tree(text="not", result=not kid.result, children=(kid,))
    name = str(data.get("attribute") or data.get("property"))
    value = event_attribute(attributes, name)
    result = bool(compile_event_criteria(data)(attributes, facts))
    return Tree(text=describe(data), result=result, seen=_was(value))


# ---------------------------------------------------------------- what explain collects


@attrs.frozen(kw_only=True)
class Check:
    """A criteria tree the engine evaluated (`role`: trigger, trigger_before, refinement,
    goal, unenroll, unmet, branch)."""

    role: str
    label: str
    result: bool
    tree: Tree
    step: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "check",
            "role": self.role,
            "label": self.label,
            "result": self.result,
            "step": self.step,
            "tree": self.tree.to_json(),
        }


@attrs.frozen(kw_only=True)
class Lists:
    """Suppression lists the engine looked the record up in, with the answers."""

    label: str
    lists: tuple[tuple[str, bool], ...]

    @property
    def result(self) -> bool:
        return any(member for _, member in self.lists)

    def to_json(self) -> dict[str, Any]:
        return {"type": "suppression", "label": self.label, "lists": {name: member for name, member in self.lists}}


@attrs.frozen(kw_only=True)
class EventMatch:
    """An event held against one trigger (or `wait for`) event pattern."""

    label: str
    pattern: str
    result: bool
    tree: Tree

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "event_match",
            "label": self.label,
            "pattern": self.pattern,
            "result": self.result,
            "tree": self.tree.to_json(),
        }


@attrs.frozen(kw_only=True)
class Outcome:
    """A decision: a history entry of the trace (`recorded`), or a refusal explain states."""

    kind: str
    reason: str | None = None
    step: str | None = None
    detail: Mapping[str, Any] = attrs.field(factory=dict)
    recorded: bool = True
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "outcome",
            "kind": self.kind,
            "reason": self.reason,
            "step": self.step,
            "detail": dict(self.detail),
            "recorded": self.recorded,
        }
        if self.note:
            out["note"] = self.note
        return out


@attrs.frozen(kw_only=True)
class Passed:
    """The checks before an action that let the enrollment go on (shown on one line)."""

    step: str | None
    items: tuple[Check | Lists, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": "checks_passed", "step": self.step, "checks": [i.to_json() for i in self.items]}


Item = Check | Lists | EventMatch | Outcome | Passed


@attrs.frozen(kw_only=True)
class Moment:
    """What happened in one workflow for the record at one time, for one cause."""

    at: dt.datetime
    cause: str
    items: tuple[Item, ...]
    repeat: int = 1
    last: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "at": self.at.isoformat(),
            "cause": self.cause,
            "items": [i.to_json() for i in self.items],
        }
        if self.repeat > 1 and self.last is not None:
            out["repeat"] = self.repeat
            out["last"] = self.last.isoformat()
        return out


@attrs.frozen(kw_only=True)
class WorkflowReport:
    """Everything about the record in one workflow, and a one-line verdict."""

    name: str
    trigger: str
    enrollments: int
    verdict: str
    reasons: tuple[str, ...]
    moments: tuple[Moment, ...]
    final: tuple[Check | Lists, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.name,
            "trigger": self.trigger,
            "enrollments": self.enrollments,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "moments": [m.to_json() for m in self.moments],
            "final": [c.to_json() for c in self.final],
        }


@attrs.frozen(kw_only=True)
class Explanation:
    """The answer of `wfdsl explain` for one record."""

    record: tuple[str, str]
    start: dt.datetime | None
    end: dt.datetime | None
    events: tuple[tuple[dt.datetime, str], ...]
    workflows: tuple[WorkflowReport, ...]

    def workflow(self, name: str) -> WorkflowReport:
        for report in self.workflows:
            if report.name == name:
                return report
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "record": f"{self.record[0]}:{self.record[1]}",
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "events": [{"at": at.isoformat(), "event": text} for at, text in self.events],
            "workflows": [w.to_json() for w in self.workflows],
        }


# ---------------------------------------------------------------- observing the engine


@attrs.define
class _Ctx:
    kind: str
    workflow: str
    ident: int
    step: str | None = None
    record: tuple[str, str] | None = None
    on_change: bool = False
    note: str | None = None  # why "met already" matters here (re-enrollment)


@attrs.frozen
class _Seen:
    seq: int
    at: dt.datetime
    workflow: str
    cause: int
    item: Item


class _Observer:
    """Collects what the engine does about one record, in order."""

    def __init__(self, target: tuple[str, str]) -> None:
        self.target = target
        self.seen: list[_Seen] = []
        self.causes: dict[int, str] = {0: "start of the simulation"}
        self._cause_stack: list[int] = [0]
        self.contexts: list[_Ctx] = []
        self.depth = 0  # > 0 while a criteria predicate runs
        self.events: list[tuple[dt.datetime, str]] = []
        self._ids = 0
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.min.replace(tzinfo=dt.UTC)

    def _next(self) -> int:
        self._ids += 1
        return self._ids

    def is_target(self, object_type: str, record_id: str) -> bool:
        return (object_type, record_id) == self.target

    @contextmanager
    def cause(self, text: str) -> Iterator[None]:
        ident = self._next()
        self.causes[ident] = text
        self._cause_stack.append(ident)
        try:
            yield
        finally:
            self._cause_stack.pop()

    @contextmanager
    def context(self, kind: str, workflow: str, **kw: Any) -> Iterator[_Ctx]:
        ctx = _Ctx(kind=kind, workflow=workflow, ident=self._next(), **kw)
        self.contexts.append(ctx)
        mark = len(self.seen)
        try:
            yield ctx
        finally:
            self.contexts.pop()
            self._close(ctx, mark)

    def top(self) -> _Ctx | None:
        return self.contexts[-1] if self.contexts else None

    def add(self, workflow: str, item: Item) -> None:
        self.seen.append(_Seen(self._next(), self.now(), workflow, self._cause_stack[-1], item))

    # -- what the context leaves behind

    def _close(self, ctx: _Ctx, mark: int) -> None:
        mine = [s for s in self.seen[mark:] if s.workflow == ctx.workflow]
        if not mine:
            return
        outcomes = [s.item for s in mine if isinstance(s.item, Outcome)]
        if ctx.kind == "check" and not ctx.on_change and not outcomes:
            checks = tuple(s.item for s in mine if isinstance(s.item, (Check, Lists)))
            if len(checks) == len(mine):
                ids = {id(s) for s in mine}
                keep = [s for s in self.seen[mark:] if id(s) not in ids]
                first = mine[0]
                self.seen[mark:] = [
                    _Seen(first.seq, first.at, first.workflow, first.cause, Passed(step=ctx.step, items=checks)),
                    *keep,
                ]
            return
        if ctx.kind not in ("activation", "filter_trigger", "event_trigger", "schedule", "annual"):
            return
        if any(o.kind in (h.ENROLLED, h.NOT_ENROLLED) for o in outcomes):
            return
        reason, note = self._derive(ctx, [s.item for s in mine])
        if reason is not None:
            self.add(ctx.workflow, Outcome(kind=h.NOT_ENROLLED, reason=reason, recorded=False, note=note))

    @staticmethod
    def _derive(ctx: _Ctx, items: list[Item]) -> tuple[str | None, str | None]:
        matches = [i for i in items if isinstance(i, EventMatch)]
        checks = {i.role: i for i in items if isinstance(i, Check)}
        if ctx.kind == "event_trigger" and matches and not any(m.result for m in matches):
            return EVENT_MISMATCH, "the event does not match the trigger"
        if "refinement" in checks and not checks["refinement"].result:
            return REFINEMENT_UNMET, "`only if` is not met"
        if "trigger" in checks and not checks["trigger"].result:
            return CRITERIA_UNMET, "the enrollment criteria are not met"
        if "trigger" in checks and checks.get("trigger_before") is not None and checks["trigger_before"].result:
            return ALREADY_MET, (
                "the criteria were met already before this change: a filter "
                "trigger enrolls when a record comes to meet them" + (f"; {ctx.note}" if ctx.note else "")
            )
        return None, None


class _ObservedFacts(RecordFacts):
    """RecordFacts that tell the observer about suppression-list look-ups."""

    observer: _Observer | None = None
    is_before = False

    def before(self, *args: Any, **kw: Any) -> RecordFacts:
        return _observed(super().before(*args, **kw), self.observer, before=True)

    def in_list(self, name: str) -> bool:
        result = super().in_list(name)
        obs = self.observer
        ctx = None if obs is None else obs.top()
        if (
            obs is not None
            and ctx is not None
            and obs.depth == 0
            and obs.is_target(self.record.object, self.record.id)
            and ctx.kind in ("enroll", "check")
        ):
            label = "suppression lists" if ctx.kind == "enroll" else _check_label("suppression lists", ctx)
            last = obs.seen[-1].item if obs.seen else None
            if (
                isinstance(last, Lists)
                and last.label == label
                and obs.seen[-1].workflow == ctx.workflow
                and name not in dict(last.lists)
            ):
                obs.seen[-1] = attrs.evolve(obs.seen[-1], item=Lists(label=label, lists=(*last.lists, (name, result))))
            else:
                obs.add(ctx.workflow, Lists(label=label, lists=((name, result),)))
        return result


def _observed(facts: RecordFacts, observer: _Observer | None, *, before: bool = False) -> _ObservedFacts:
    """The same facts object, observed (its class swapped: no copy, no constructor call)."""
    facts.__class__ = _ObservedFacts
    assert isinstance(facts, _ObservedFacts)
    facts.observer = observer
    facts.is_before = before
    return facts


def _check_label(what: str, ctx: _Ctx) -> str:
    if ctx.on_change:
        return f"{what}, on this change"
    return f"{what}, before the action" + (f" [{ctx.step}]" if ctx.step else "")


class ExplainEngine(Engine):
    """The engine, observed: identical decisions, plus what it evaluated for one record."""

    observe_every_trigger = True

    def __init__(
        self,
        plans: ProjectPlan | Iterable[WorkflowPlan],
        crm: Any,
        store: Any,
        clock: Any,
        *,
        observer: _Observer,
        **kw: Any,
    ) -> None:
        self._observer = observer
        observer.now = lambda: self._now
        super().__init__(plans, crm, store, clock, **kw)

    # -- criteria

    def _fn(self, criteria: Any) -> Callable[[Any], bool]:
        inner = super()._fn(criteria)
        obs = self._observer

        def predicate(facts: Any) -> bool:
            obs.depth += 1
            try:
                result = bool(inner(facts))
            finally:
                obs.depth -= 1
            record = getattr(facts, "record", None)
            if obs.depth == 0 and record is not None and obs.is_target(record.object, record.id):
                self._evaluated(criteria, facts, result)
            return result

        return predicate

    def _facts(
        self,
        record: Record,
        plan: WorkflowPlan,
        *,
        received: bool | None = None,
    ) -> RecordFacts:
        return _observed(super()._facts(record, plan, received=received), self._observer)

    def _evaluated(self, criteria: Any, facts: Any, result: bool) -> None:
        obs = self._observer
        ctx = obs.top()
        if ctx is None:
            return
        plan = self.plan(ctx.workflow)
        obs.depth += 1
        try:
            tree = evaluate(criteria, facts)
        finally:
            obs.depth -= 1
        step = ctx.step
        if criteria is plan.goal:
            role = "goal"
            label = {"enroll": "goal at enrollment", "watch": "goal after completion"}.get(ctx.kind) or _check_label(
                "goal", ctx
            )
        elif criteria is plan.unenroll:
            role = "unenroll"
            label = "unenroll when, at enrollment" if ctx.kind == "enroll" else _check_label("unenroll when", ctx)
        elif criteria is plan.trigger.criteria and ctx.kind == "check":
            role, label = "unmet", _check_label("enrollment criteria still met (unenroll if criteria unmet)", ctx)
        elif criteria is plan.trigger.criteria:
            before = getattr(facts, "is_before", False)
            role = "trigger_before" if before else "trigger"
            label = "enrollment criteria before this change" if before else "enrollment criteria"
        elif criteria is plan.trigger.refinement:
            role, label = "refinement", "only if"
        else:
            role, label = "branch", self._branch_label(plan, step, criteria)
        if tree.result != result:  # pragma: no cover - the two evaluators share leaf code
            label += " (explain and the engine disagree)"
        obs.add(ctx.workflow, Check(role=role, label=label, result=result, tree=tree, step=step))

    @staticmethod
    def _branch_label(plan: WorkflowPlan, step_id: str | None, criteria: Any) -> str:
        step = plan.steps.get(step_id or "")
        if step is None:
            return "branch"
        for i, branch in enumerate(step.branches):
            if branch.criteria is criteria:
                return f"[{step.id}] {'if' if i == 0 else 'else if'} (branch {i})"
        for case in step.cases:
            if case.criteria is criteria:
                return f"[{step.id}] branch on, case {_show(decode_value(case.value))}"
        return f"[{step.id}] branch"

    # -- causes

    def ingest(self, event: Event) -> None:
        obs = self._observer
        if obs.is_target(event.object, event.id):
            obs.events.append((utc(event.at), _input_text(event)))
        super().ingest(event)

    def _dispatch(self, batch: list[Event]) -> None:
        with self._observer.cause(self._batch_text(batch)):
            super()._dispatch(batch)

    def _fire(self, timer: Timer) -> None:
        text = {
            "schedule": "schedule occurrence",
            "annual": "anniversary: annual re-enrollment",
            "timeout": "`wait for` timed out",
        }.get(timer.kind, "timer")
        if timer.kind == "resume":
            enr = self.store.enrollment(timer.enrollment or "")
            if enr is not None and enr.step is not None:
                text = f"timer: resume at [{enr.step}]"
        with self._observer.cause(text):
            super()._fire(timer)

    def activate(self, workflow: str, enroll_existing: bool | None = None) -> None:
        plan = self.plan(workflow)
        existing = plan.settings.enroll_existing if enroll_existing is None else enroll_existing
        text = "activation" + (" (enroll existing records)" if existing else "")
        with self._observer.cause(text), self._observer.context("activation", workflow):
            super().activate(workflow, enroll_existing)

    # -- decisions

    def _filter_trigger(self, compiled: Any, record: Record, events: Sequence[Event]) -> None:
        plan = compiled.plan
        note = None
        if self._observer.is_target(record.object, record.id) and any(
            e.workflow == plan.name for e in self.store.enrollments_of(record.object, record.id)
        ):
            if plan.reenroll.mode == "on_change":
                props = ", ".join(f"{p.object}.{p.property}" for p in plan.reenroll.properties)
                note = f"it enrolled before, and re-enrolls only on a change of {props}"
            else:
                note = (
                    "it enrolled before, and re-enrollment is off (add `reenroll on change of <property>` to allow it)"
                )
        with self._observer.context("filter_trigger", plan.name, record=(record.object, record.id), note=note):
            super()._filter_trigger(compiled, record, events)

    def _event_trigger(self, compiled: Any, event: Event) -> None:
        with self._observer.context("event_trigger", compiled.plan.name, record=(event.object, event.id)):
            super()._event_trigger(compiled, event)

    def _schedule_fire(self, compiled: Any) -> None:
        with self._observer.context("schedule", compiled.plan.name):
            super()._schedule_fire(compiled)

    def _annual_fire(self, compiled: Any, timer: Timer) -> None:
        with self._observer.context("annual", compiled.plan.name):
            super()._annual_fire(compiled, timer)

    def _try_enroll(self, compiled: Any, record: Record, **kw: Any) -> Any:
        with self._observer.context("enroll", compiled.plan.name, record=(record.object, record.id)):
            return super()._try_enroll(compiled, record, **kw)

    def _watch(self, compiled: Any, record: Record, event: Event) -> None:
        with self._observer.context("watch", compiled.plan.name, record=(record.object, record.id)):
            super()._watch(compiled, record, event)

    def _check(self, enr: Any, compiled: Any, record: Record | None = None) -> bool:
        with self._observer.context(
            "check", compiled.plan.name, step=enr.step, record=(enr.object, enr.record), on_change=record is not None
        ):
            return super()._check(enr, compiled, record)

    def _branch(self, enr: Any, compiled: Any, step: Any) -> object:
        with self._observer.context("branch", compiled.plan.name, step=step.id, record=(enr.object, enr.record)):
            return super()._branch(enr, compiled, step)

    def _goal(self, enr: Any, plan: WorkflowPlan, **kw: Any) -> Any:
        obs = self._observer
        mark = len(obs.seen)
        out = super()._goal(enr, plan, **kw)
        if obs.is_target(enr.object, enr.record):
            note = (
                "converted: the workflow sent it a marketing email during this enrollment"
                if enr.emailed
                else "not converted: the workflow sent it no marketing email during this enrollment"
            )
            for i in range(mark, len(obs.seen)):
                item = obs.seen[i].item
                if isinstance(item, Outcome) and item.kind == h.GOAL_MET:
                    obs.seen[i] = attrs.evolve(obs.seen[i], item=attrs.evolve(item, note=note))
                    break
        return out

    def _matches(self, spec: EventSpec | Mapping[str, Any], fn: Any, event: Event) -> bool:
        result = super()._matches(spec, fn, event)
        obs = self._observer
        ctx = obs.top()
        if ctx is not None and ctx.record == obs.target and ctx.kind in ("event_trigger", "watch"):
            label = "trigger event" if ctx.kind == "event_trigger" else "`wait for` event"
            pattern, tree = _match_tree(spec, event)
            if tree.result != result:  # pragma: no cover - same rules as the engine
                label += " (explain and the engine disagree)"
            obs.add(ctx.workflow, EventMatch(label=label, pattern=pattern, result=result, tree=tree))
        return result

    def _record(
        self,
        workflow: str,
        object_type: str,
        record_id: str,
        kind: str,
        step: str | None,
        detail: Mapping[str, Any],
        enrollment: str | None = None,
    ) -> None:
        super()._record(workflow, object_type, record_id, kind, step, detail, enrollment)
        obs = self._observer
        if obs.is_target(object_type, record_id):
            rest = {k: v for k, v in detail.items() if k != "reason"}
            obs.add(
                workflow,
                Outcome(
                    kind=kind,
                    reason=detail.get("reason"),
                    step=step,
                    detail=rest,
                    note=self._note(workflow, kind, detail),
                ),
            )

    def _note(self, workflow: str, kind: str, detail: Mapping[str, Any]) -> str | None:
        reason = detail.get("reason")
        plan = self._plans[workflow].plan if workflow in self._plans else None
        if kind == h.SKIPPED and reason == h.ANCHOR_UNKNOWN:
            anchor = plan.anchor if plan is not None else None
            where = (
                f"{anchor.property.object}.{anchor.property.property}"
                if anchor is not None and anchor.property is not None
                else "the anchor"
            )
            return f"{where} is {_show(detail.get('value'))}, which is not a date"
        if kind not in (h.NOT_ENROLLED, h.UNENROLLED) or reason is None:
            return None
        if reason == h.REENROLL_OFF and plan is not None:
            if plan.reenroll.mode == "on_change":
                props = ", ".join(f"{p.object}.{p.property}" for p in plan.reenroll.properties)
                return f"enrolled before; re-enrollment needs a change of {props}"
            hint = (
                "`reenroll every time`"
                if plan.trigger.kind in ("event", "schedule")
                else "`reenroll on change of <property>`"
            )
            return f"enrolled before and re-enrollment is off (add {hint} to allow it)"
        return _NOTES.get((kind, str(reason)))

    def _batch_text(self, batch: Sequence[Event]) -> str:
        created = [e for e in batch if e.type == "record.created"]
        if created:
            # The properties it was created with are listed with the record's events.
            first = created[0]
            text = "record.created"
            if not self._observer.is_target(first.object, first.id):
                text = f"{first.object}:{first.id} {text}"
            return text
        parts = []
        for event in batch:
            text = _event_text(event)
            if not self._observer.is_target(event.object, event.id):
                text = f"{event.object}:{event.id} {text}"
            if event.cause:
                enr = self.store.enrollment(event.cause)
                if enr is not None:
                    text += f" (by workflow {_show(enr.workflow)})"
            parts.append(text)
        return "; ".join(parts) or "event"

    # -- for the report

    def evaluate_now(self, workflow: str, criteria: Mapping[str, Any]) -> Tree | None:
        """`criteria` evaluated on the target record as it is now."""
        obs = self._observer
        record = self.crm.get(*obs.target)
        if record is None:
            return None
        facts = super()._facts(record, self.plan(workflow))
        return evaluate(criteria, facts)

    def lists_now(self, workflow: str) -> Lists | None:
        plan = self.plan(workflow)
        record = self.crm.get(*self._observer.target)
        if record is None or not plan.suppress_lists:
            return None
        return Lists(
            label="suppression lists", lists=tuple((name, name in record.lists) for name in plan.suppress_lists)
        )


_NOTES: dict[tuple[str, str], str] = {
    (
        h.NOT_ENROLLED,
        h.ALREADY_ENROLLED,
    ): "an enrollment of this record is still active: one active enrollment per workflow",
    (h.NOT_ENROLLED, h.SUPPRESSED): "the record is in a suppression list",
    (h.NOT_ENROLLED, h.UNENROLL_CRITERIA): "the record meets `unenroll when`",
    (h.NOT_ENROLLED, h.GOAL_ALREADY_MET): "the record meets the goal already (not counted toward the conversion rate)",
    (h.NOT_ENROLLED, h.LOOP_GUARD): "re-entered through workflow actions too often within an hour",
    (h.NOT_ENROLLED, h.WORKFLOW_OFF): "the workflow is not active",
    (h.NOT_ENROLLED, h.UNKNOWN_RECORD): "the record does not exist",
    (h.UNENROLLED, h.GOAL_MET_REASON): "the record met the goal",
    (h.UNENROLLED, h.UNENROLL_CRITERIA): "the record meets `unenroll when`",
    (h.UNENROLLED, h.SUPPRESSED): "the record joined a suppression list",
    (h.UNENROLLED, h.CRITERIA_UNMET): "the record no longer meets the enrollment criteria (unenroll if criteria unmet)",
    (h.UNENROLLED, h.MANUAL): "unenrolled by `unenroll from workflow`",
    (h.UNENROLLED, h.LOOP_GUARD): "stopped: too many steps without a wait",
    (h.UNENROLLED, h.DEACTIVATED): "the workflow was turned off",
    (h.UNENROLLED, h.ACTION_FAILED): "an action failed and `on failure stop` applies",
}


def _match_tree(spec: EventSpec | Mapping[str, Any], event: Event) -> tuple[str, Tree]:
    """An event against one event pattern: which part held, with what the event had."""
    if isinstance(spec, Mapping):
        etype, obj, prop = spec.get("type"), spec.get("object"), spec.get("property")
        from_v, to_v, criteria = spec.get("from"), spec.get("to"), spec.get("criteria")
    else:
        etype, obj, prop = spec.type, spec.object, spec.property
        from_v, to_v, criteria = spec.from_value, spec.to_value, spec.criteria
    pattern_data = {"type": etype, "object": obj, "property": prop, "from": from_v, "to": to_v, "criteria": criteria}
    pattern = _pattern_text(pattern_data)
    if etype != event.type:
        return pattern, Tree(text=f"event is {etype}", result=False, seen=f"was {_event_text(event)}")
    parts: list[Tree] = []
    if etype == "property.changed":
        changed = f"{event.object}.{event.data.get('property')}"
        parts.append(
            Tree(
                text=f"property is {obj}.{prop}",
                result=(obj == event.object and prop == event.data.get("property")),
                seen=f"was {changed}",
            )
        )
        if from_v is not None:
            parts.append(_value_tree("previous value", from_v, event.data.get("previous")))
        if to_v is not None:
            parts.append(_value_tree("new value", to_v, event.data.get("value")))
    if criteria is not None:
        parts.append(_event_tree(criteria, event.data, None))
    if not parts:
        return pattern, Tree(text=f"event is {etype}", result=True)
    if len(parts) == 1:
        return pattern, parts[0]
    return pattern, Tree(text="and", result=all(p.result for p in parts), children=tuple(parts))


def _value_tree(what: str, expected: Any, actual: Any) -> Tree:
    literal = decode_value(expected)
    same = False
    if actual is not None:
        try:
            same = float(actual) == float(literal)
        except (TypeError, ValueError):
            same = str(actual).casefold() == str(literal).casefold()
    return Tree(text=f"{what} = {_show(literal)}", result=same, seen=_was(actual))


def _pattern_text(event: Mapping[str, Any]) -> str:
    if event.get("type") == "property.changed":
        text = f"{event.get('object')}.{event.get('property')} changed"
        if event.get("from") is not None:
            text += f" from {_show(decode_value(event['from']))}"
        if event.get("to") is not None:
            text += f" to {_show(decode_value(event['to']))}"
        return text
    criteria = event.get("criteria")
    return str(event.get("type")) + ("" if criteria is None else f"({_bare(describe(criteria, True))})")


def _bare(text: str) -> str:
    """`(a and b)` as `a and b` when the outer parentheses enclose the whole text."""
    if not (text.startswith("(") and text.endswith(")")):
        return text
    depth = 0
    for i, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and i < len(text) - 1:
            return text
    return text[1:-1]


def _attrs_text(data: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={_show(v)}" for k, v in data.items())


def _input_text(event: Event) -> str:
    if event.properties:
        return f"{event.type} {_attrs_text(event.properties)}"
    return f"{event.type} {_attrs_text(event.data)}".rstrip()


def _event_text(event: Event) -> str:
    data = event.data
    if event.type == "property.changed":
        return (
            f"{event.object}.{data.get('property')} changed from "
            f"{_show(data.get('previous')) if data.get('previous') is not None else 'unknown'}"
            f" to {_show(data.get('value')) if data.get('value') is not None else 'unknown'}"
        )
    if event.type == "list.added":
        return f"added to list {_show(data.get('list'))}"
    if event.type == "list.removed":
        return f"removed from list {_show(data.get('list'))}"
    return f"{event.type} {_attrs_text(data)}".rstrip()


class ExplainSimulation(Simulation):
    """A simulation run by an `ExplainEngine` watching one record."""

    def __init__(
        self,
        plans: ProjectPlan,
        seed: Seed,
        target: tuple[str, str],
        *,
        start: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> None:
        super().__init__(plans, seed, start=start, until=until)
        self.observer = _Observer(target)
        self.started: dt.datetime | None = None

    def _begin(self, clock: Any) -> Engine:
        # As Simulation._begin, with the observing engine; tests hold the traces equal.
        if not isinstance(clock, VirtualClock):
            clock = VirtualClock(clock)
        start = clock.now()
        self._seed_crm()
        engine = ExplainEngine(self.plans, self.crm, self.store, clock, observer=self.observer, allow_placeholders=True)
        self.started = utc(start)
        self._initial(engine)
        for workflow in engine.workflows:
            engine.activate(workflow)
        self.engine = engine
        return engine

    def _initial(self, engine: ExplainEngine) -> None:
        """Filter triggers that do not enroll existing records: the criteria at the start."""
        obs = self.observer
        for plan in self.plans.workflows:
            if (
                plan.object != obs.target[0]
                or plan.trigger.kind != "filter"
                or plan.trigger.criteria is None
                or plan.settings.enroll_existing
            ):
                continue
            tree = engine.evaluate_now(plan.name, plan.trigger.criteria)
            if tree is not None:
                obs.add(
                    plan.name,
                    Check(
                        role="trigger_start",
                        label="enrollment criteria at the start (existing records are not enrolled)",
                        result=tree.result,
                        tree=tree,
                    ),
                )


# ---------------------------------------------------------------- records and the report


def resolve_record(ref: str, known: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """`c1` or `contact:c1` as a known `(type, id)`; ExplainError with did-you-mean otherwise.

    >>> resolve_record("c1", [("contact", "c1"), ("company", "co1")])
    ('contact', 'c1')
    """
    keys = sorted(set(known))
    if ":" in ref:
        object_type, _, record_id = ref.partition(":")
        if (object_type, record_id) in keys:
            return object_type, record_id
    else:
        found = [k for k in keys if k[1] == ref]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            both = ", ".join(f"{a}:{b}" for a, b in found)
            raise ExplainError(f"record {ref!r} is ambiguous: {both}; write it as type:id")
    names = [f"{a}:{b}" for a, b in keys]
    close = difflib.get_close_matches(ref, names + [b for _, b in keys], n=3, cutoff=0.5)
    hint = ""
    if close:
        hint = "; did you mean " + " or ".join(f"`{c}`" for c in dict.fromkeys(close)) + "?"
    raise ExplainError(f"unknown record {ref!r}: it is neither in the records file nor created by an event{hint}")


def _known_records(seed: Seed, events: Sequence[Event]) -> list[tuple[str, str]]:
    keys = [(r.object, r.id) for r in seed.records]
    keys += [(e.object, e.id) for e in events if e.type == "record.created"]
    return keys


def _trigger_text(plan: WorkflowPlan) -> str:
    trig = plan.trigger
    if trig.kind == "filter" and trig.criteria is not None:
        return f"enroll when {_bare(describe(trig.criteria, True))}"
    if trig.kind == "event":
        text = "enroll on " + " or ".join(
            _pattern_text(
                {
                    "type": s.type,
                    "object": s.object,
                    "property": s.property,
                    "from": s.from_value,
                    "to": s.to_value,
                    "criteria": s.criteria,
                }
            )
            for s in trig.events
            if not s.negated
        )
    elif trig.kind == "schedule" and trig.recurrence is not None:
        rec = trig.recurrence
        text = f"enroll on schedule {rec.kind} at {rec.at}"
    else:
        return "enroll manually"
    if trig.refinement is not None:
        text += f" only if {_bare(describe(trig.refinement, True))}"
    return text


def explain_record(
    plans: ProjectPlan,
    seed: Seed,
    events: Sequence[Event],
    record: str,
    *,
    workflow: str | None = None,
    start: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Explanation:
    """Simulate, watching one record (`c1` or `contact:c1`), and explain every decision
    about it in each workflow of its object type (or only `workflow`)."""
    target = resolve_record(record, _known_records(seed, events))
    names = [p.name for p in plans.workflows]
    if workflow is not None and workflow not in names:
        close = difflib.get_close_matches(workflow, names, n=1, cutoff=0.5)
        hint = f"; did you mean {_show(close[0])}?" if close else ""
        raise ExplainError(f"unknown workflow {_show(workflow)}{hint}")
    chosen = [p for p in plans.workflows if (workflow is None or p.name == workflow) and p.object == target[0]]
    if workflow is not None and not chosen:
        plan = next(p for p in plans.workflows if p.name == workflow)
        raise ExplainError(
            f"workflow {_show(workflow)} enrolls {plan.object} records; {target[0]}:{target[1]} is a {target[0]}"
        )
    sim = ExplainSimulation(plans, seed, target, start=start, until=until)
    sim.run(events)
    engine = sim.engine
    assert isinstance(engine, ExplainEngine)
    obs = sim.observer
    reports = tuple(_report(plan, obs, engine) for plan in chosen)
    return Explanation(
        record=target, start=sim.started, end=utc(engine.clock.now()), events=tuple(obs.events), workflows=reports
    )


def _report(plan: WorkflowPlan, obs: _Observer, engine: ExplainEngine) -> WorkflowReport:
    seen = [s for s in obs.seen if s.workflow == plan.name]
    moments: list[Moment] = []
    for item in seen:
        cause = obs.causes.get(item.cause, "")
        if moments and moments[-1].cause == cause and moments[-1].at == item.at:
            last = moments[-1]
            moments[-1] = attrs.evolve(last, items=(*last.items, item.item))
        else:
            moments.append(Moment(at=item.at, cause=cause, items=(item.item,)))
    merged: list[Moment] = []
    for moment in moments:
        if merged and merged[-1].cause == moment.cause and _body(merged[-1]) == _body(moment):
            prev = merged[-1]
            merged[-1] = attrs.evolve(prev, repeat=prev.repeat + 1, last=moment.at)
        else:
            merged.append(moment)
    outcomes = [s.item for s in seen if isinstance(s.item, Outcome)]
    enrolled = [o for o in outcomes if o.kind == h.ENROLLED]
    reasons = tuple(dict.fromkeys(str(o.reason) for o in outcomes if o.kind == h.NOT_ENROLLED and o.reason))
    final: list[Check | Lists] = []
    if enrolled:
        verdict = _enrolled_verdict(outcomes, len(enrolled))
    else:
        verdict = _never_verdict(plan, outcomes, obs)
        criteria = plan.trigger.criteria if plan.trigger.kind == "filter" else plan.trigger.refinement
        label = "enrollment criteria" if plan.trigger.kind == "filter" else "only if"
        if criteria is not None:
            tree = engine.evaluate_now(plan.name, criteria)
            if tree is not None:
                final.append(Check(role="final", label=f"{label} on the final state", result=tree.result, tree=tree))
        lists = engine.lists_now(plan.name)
        if lists is not None:
            final.append(attrs.evolve(lists, label="suppression lists on the final state"))
    return WorkflowReport(
        name=plan.name,
        trigger=_trigger_text(plan),
        enrollments=len(enrolled),
        verdict=verdict,
        reasons=reasons,
        moments=tuple(merged),
        final=tuple(final),
    )


def _enrolled_verdict(outcomes: list[Outcome], count: int) -> str:
    text = f"enrolled {count} time{'' if count == 1 else 's'}"
    ends = []
    for o in outcomes:
        if o.kind == h.COMPLETED:
            ends.append("completed")
        elif o.kind == h.UNENROLLED:
            ends.append(f"unenrolled ({o.reason})")
        elif o.kind == h.GOAL_MET:
            ends.append("goal met")
        elif o.kind == h.CONVERTED:
            ends.append("converted")
    last_enrolled = max(i for i, o in enumerate(outcomes) if o.kind == h.ENROLLED)
    if not any(o.kind in (h.COMPLETED, h.UNENROLLED) for o in outcomes[last_enrolled:]):
        ends.append("still active at the end")
    return text + ("; " + ", ".join(dict.fromkeys(ends)) if ends else "")


def _never_verdict(plan: WorkflowPlan, outcomes: list[Outcome], obs: _Observer) -> str:
    refusals = [o for o in outcomes if o.kind == h.NOT_ENROLLED]
    if refusals:
        counts: dict[str, int] = {}
        for o in refusals:
            counts[str(o.reason)] = counts.get(str(o.reason), 0) + 1
        parts = [f"{r}" + (f" ×{n}" if n > 1 else "") for r, n in counts.items()]
        return "never enrolled: " + ", ".join(parts)
    trig = plan.trigger
    if trig.kind == "manual":
        return (
            "never enrolled: it enrolls only manually (a workflow.enroll event, the API "
            "or `enroll in workflow`), and nothing enrolled this record"
        )
    if trig.kind == "event":
        types = sorted({s.type for s in trig.events if not s.negated})
        had = sorted({text.split(" ", 1)[0] for _, text in obs.events})
        have = ", ".join(had) if had else "no events"
        return f"never enrolled: no trigger event ever arrived ({' or '.join(types)}); events of this record: {have}"
    if trig.kind == "schedule":
        return "never enrolled: no schedule occurrence within the simulation"
    return "never enrolled: no change ever made the record meet the enrollment criteria" + (
        "" if plan.settings.enroll_existing else " (and existing records are not enrolled)"
    )


def _body(moment: Moment) -> str:
    return "\n".join(_item_lines(moment.items, ""))


# ---------------------------------------------------------------- text


def _time(at: dt.datetime) -> str:
    at = utc(at)
    return at.strftime("%Y-%m-%d %H:%M:%S" if at.second else "%Y-%m-%d %H:%M") + "Z"


def _item_lines(items: Sequence[Item], indent: str) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Check):
            out.append(
                f"{indent}{item.label}: {'met' if item.result else 'not met'}"
                if item.role != "branch"
                else f"{indent}{item.label}: {'taken' if item.result else 'not taken'}"
            )
            out.extend(item.tree.lines(indent + "  "))
        elif isinstance(item, Lists):
            out.append(
                f"{indent}{item.label}: "
                + ", ".join(f"{'✓ in' if member else '✗ not in'} list {_show(name)}" for name, member in item.lists)
            )
        elif isinstance(item, EventMatch):
            out.append(f"{indent}{item.label} {item.pattern}: {'matches' if item.result else 'does not match'}")
            out.extend(item.tree.lines(indent + "  "))
        elif isinstance(item, Passed):
            parts = []
            for check in item.items:
                if isinstance(check, Lists):
                    parts.append("not in a suppression list")
                else:
                    name = {"goal": "goal", "unenroll": "unenroll when", "unmet": "enrollment criteria"}.get(
                        check.role, check.role
                    )
                    parts.append(f"{name} {'✓' if check.result else '✗'}")
            where = f" [{item.step}]" if item.step else ""
            out.append(f"{indent}checks before the action{where}: " + ", ".join(parts))
        else:
            out.append(indent + _outcome_line(item))
    return out


def _outcome_line(item: Outcome) -> str:
    if not item.recorded:
        return f"→ not enrolled ({item.reason}): {item.note}"
    head = item.kind
    detail = dict(item.detail)
    if item.kind == h.ACTION and "action" in detail:
        head = f"action {detail.pop('action')}"
    elif item.reason:
        head = f"{item.kind} ({item.reason})"
    line = f"→ {head}"
    if item.step:
        line += f" [{item.step}]"
    rest = " ".join(f"{k}={_show(v)}" for k, v in detail.items())
    if rest:
        line += f"  {rest}"
    if item.note:
        line += f": {item.note}"
    return line


def why_not(report: Explanation, workflow: str) -> list[str]:
    """The verdict for `workflow` and, when the record was refused, the last moment that
    refused it, as text lines (what `wfdsl test` prints under an unexpected non-enrollment).
    """
    wf = report.workflow(workflow)
    lines = [wf.verdict]
    for moment in reversed(wf.moments):
        if any(isinstance(i, Outcome) and i.kind == h.NOT_ENROLLED for i in moment.items):
            lines.extend(line[2:] for line in _moment_lines([moment]))
            break
    else:
        for check in wf.final:
            lines.extend(_item_lines([check], ""))
    return lines


_TIMES = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d)?(?:\+00:00|Z)?")
#: Cycles of up to this many moments that repeat (times aside) are folded in the text.
MAX_CYCLE = 30
#: ... when they occur at least this many times in a row.
MIN_REPEATS = 3


def _moment_lines(moments: Sequence[Moment]) -> list[str]:
    """The moments as text; a cycle of moments repeated with only the times changed (a
    daily schedule) is shown once, then folded into one line."""
    keys = [(m.cause, _TIMES.sub("T", _body(m))) for m in moments]
    lines: list[str] = []
    i = 0
    while i < len(moments):
        best: tuple[int, int] | None = None
        for k in range(1, MAX_CYCLE + 1):
            reps = 1
            while keys[i + reps * k : i + (reps + 1) * k] == keys[i : i + k] and i + (reps + 1) * k <= len(moments):
                reps += 1
            if reps >= MIN_REPEATS and (best is None or reps * k > best[0] * best[1]):
                best = (reps, k)
        shown = best[1] if best else 1
        for moment in moments[i : i + shown]:
            when = _time(moment.at)
            if moment.repeat > 1 and moment.last is not None:
                when += f" … {_time(moment.last)} ({moment.repeat} times, the same each time)"
            lines.append(f"  {when}  {moment.cause}")
            lines.extend(_item_lines(moment.items, "    "))
        if best is None:
            i += 1
            continue
        reps, k = best
        last = moments[i + reps * k - 1]
        lines.append(
            f"  … the same {reps - 1} more time{'s' if reps > 2 else ''}, times "
            f"aside, until {_time(last.last or last.at)}"
        )
        i += reps * k
    return lines


def render_text(report: Explanation) -> str:
    """The explanation as the text `wfdsl explain` prints."""
    key = f"{report.record[0]}:{report.record[1]}"
    lines = [f"Record {key}"]
    if report.start is not None and report.end is not None:
        lines.append(f"simulated from {_time(report.start)} to {_time(report.end)}")
    lines.append("")
    if report.events:
        lines.append(f"Events of {key}:")
        lines.extend(f"  {_time(at)}  {text}" for at, text in report.events)
    else:
        lines.append(f"Events of {key}: none")
    if not report.workflows:
        lines += ["", f"No workflow enrolls {report.record[0]} records."]
    for wf in report.workflows:
        lines += ["", f"{wf.name}: {wf.verdict}", f"  trigger: {wf.trigger}"]
        lines.extend(_moment_lines(wf.moments))
        if wf.final:
            lines.append(f"  at the end ({_time(report.end) if report.end else ''})")
            lines.extend(_item_lines(wf.final, "    "))
    return "\n".join(lines) + "\n"
