"""Explain's observer: the engine's decisions about one record in; criteria trees, event matches and outcomes out.

`ExplainObserver` is an engine `Observer` (`runtime.observe`): attached to
the engine of a simulation, it changes nothing the engine does and collects,
for one record, each decision with the criteria tree the engine evaluated at
that moment: which leaf was true or false and the value it saw. Besides the
history entries of the trace, it states the refusals the trace does not
record: enrollment criteria unmet, `only if` unmet, a trigger event whose
attributes do not match, criteria met already before a change.
`host.explain` turns what it collected into the report and its text.

>>> from wfdsl.plan.model import ProjectPlan
>>> from wfdsl.stores.memory import MemoryStore
>>> observer = ExplainObserver(("contact", "c1"), ProjectPlan(workflows=()), MemoryStore())
>>> observer.every_trigger, observer.seen
(True, [])
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from wfdsl.plan import criteria as pc
from wfdsl.plan.model import EventSpec, ProjectPlan, WorkflowPlan, decode_value
from wfdsl.plan.steps import BranchOn, If
from wfdsl.runtime import history as h
from wfdsl.runtime.criteria import (
    ExplainNode,
    compile_event_criteria,
    describe,
    event_attribute,
    explain_criteria,
    is_unknown,
)
from wfdsl.runtime.facts import RecordFacts
from wfdsl.runtime.observe import Scope
from wfdsl.runtime.protocols import Enrollment, Event, HistoryEntry, StateStore, Timer, utc

#: Refusals that the trace does not record (no history entry), stated by explain.
CRITERIA_UNMET = "criteria_unmet"
REFINEMENT_UNMET = "refinement_unmet"
EVENT_MISMATCH = "event_mismatch"
ALREADY_MET = "already_met"
DERIVED_REASONS = frozenset({CRITERIA_UNMET, REFINEMENT_UNMET, EVENT_MISMATCH, ALREADY_MET})

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
    children = tuple(_tree(c, facts) for c in node.children)
    seen: str | None = None
    if isinstance(data, pc.History) and facts is not None:
        values = [v for v in facts.history(str(data.object), str(data.property)) if not is_unknown(v)]
        seen = "values: " + ", ".join(_show(v) for v in values) if values else "never had a value"
    elif isinstance(data, pc.Updated):
        last = node.value
        if not isinstance(last, dt.datetime):
            seen = "never set"
        elif last.year == 1:
            seen = "set before the start, not since"
        else:
            seen = f"last updated {_time(last)}"
    elif isinstance(data, pc.Leaf):
        seen = _was(node.value)
    elif isinstance(data, pc.HasEvent):
        count = node.value if isinstance(node.value, int) else 0
        seen = f"{count} matching event{'' if count == 1 else 's'}"
    elif isinstance(data, pc.InList):
        seen = "member" if node.result else "not a member"
    elif isinstance(data, pc.EnrolledIn):
        seen = "enrolled" if node.result else "never enrolled"
    elif isinstance(data, pc.ReachedGoal):
        # Holds only for converted records: emailed by the workflow, then met its goal.
        seen = "converted" if node.result else "not converted (goal not met, or met without a marketing email)"
    elif isinstance(data, pc.Received):
        seen = {True: "received", False: "not received"}.get(node.value, "no wait before")  # type: ignore[call-overload]
    return Tree(text=describe(data), result=node.result, seen=seen, children=children)


def evaluate(criteria: pc.Criterion, facts: RecordFacts) -> Tree:
    """Criteria evaluated on a record's facts, every leaf with the value it saw."""
    return _tree(explain_criteria(criteria, facts), facts)


def _event_tree(data: pc.Criterion, attributes: Mapping[str, object], facts: RecordFacts | None) -> Tree:
    """Event criteria (bare names are the event's attributes) evaluated on one event."""
    op = data.op
    if isinstance(data, (pc.AllOf, pc.AnyOf)):
        kids = tuple(_event_tree(i, attributes, facts) for i in data.items)
        result = all(k.result for k in kids) if op == "and" else any(k.result for k in kids)
        return Tree(text=op, result=result, children=kids)
    if isinstance(data, pc.Not):
        kid = _event_tree(data.item, attributes, facts)
        return Tree(text="not", result=not kid.result, children=(kid,))
    leaf = data if isinstance(data, pc.Leaf) else None
    name = str(None if leaf is None else leaf.attribute or leaf.property)
    value = event_attribute(attributes, name)
    result = bool(compile_event_criteria(data)(attributes, facts))
    return Tree(text=describe(data), result=result, seen=_was(value))


def _time(at: dt.datetime) -> str:
    at = utc(at)
    return at.strftime("%Y-%m-%d %H:%M:%S" if at.second else "%Y-%m-%d %H:%M") + "Z"


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


# ---------------------------------------------------------------- observing the engine


@attrs.define
class _Ctx:
    kind: str
    workflow: str
    plan: WorkflowPlan
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


class ExplainObserver:
    """An engine `Observer` that collects what the engine does about one record, in
    order: each criteria tree it evaluated, each event it held against a pattern,
    each suppression list it looked the record up in, each decision it recorded,
    grouped by the cause (an input batch, a timer, an activation)."""

    every_trigger = True  # see each trigger refuse, even the ones dispatch could skip

    def __init__(self, target: tuple[str, str], plans: ProjectPlan, store: StateStore) -> None:
        self.target = target
        self.plans = {plan.name: plan for plan in plans.workflows}
        self.store = store
        self.seen: list[_Seen] = []
        self.causes: dict[int, str] = {0: "start of the simulation"}
        self._cause_stack: list[int] = [0]
        self.contexts: list[_Ctx] = []
        # Per open scope: whether it pushed a cause, its context (or None), and where
        # its items begin in `seen`.
        self._open: list[tuple[bool, _Ctx | None, int]] = []
        self.events: list[tuple[dt.datetime, str]] = []
        self._ids = 0
        #: The engine's time (set by whoever builds the engine).
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.min.replace(tzinfo=dt.UTC)

    def _next(self) -> int:
        self._ids += 1
        return self._ids

    def is_target(self, object_type: str, record_id: str) -> bool:
        return (object_type, record_id) == self.target

    def top(self) -> _Ctx | None:
        return self.contexts[-1] if self.contexts else None

    def add(self, workflow: str, item: Item) -> None:
        self.seen.append(_Seen(self._next(), self.now(), workflow, self._cause_stack[-1], item))

    # -- scopes: causes and contexts

    def enter(self, scope: Scope) -> None:
        cause: str | None = None
        if scope.kind == "batch":
            cause = self._batch_text(scope.events)
        elif scope.kind == "timer" and scope.timer is not None:
            cause = self._timer_text(scope.timer)
        elif scope.kind == "activation":
            cause = "activation" + (" (enroll existing records)" if scope.existing else "")
        if cause is not None:
            ident = self._next()
            self.causes[ident] = cause
            self._cause_stack.append(ident)
        ctx = None
        if scope.plan is not None:
            ctx = _Ctx(
                kind=scope.kind,
                workflow=scope.plan.name,
                plan=scope.plan,
                ident=self._next(),
                step=scope.step,
                record=scope.record,
                on_change=scope.on_change,
                note=self._trigger_note(scope) if scope.kind == "filter_trigger" else None,
            )
            self.contexts.append(ctx)
        self._open.append((cause is not None, ctx, len(self.seen)))

    def leave(self, scope: Scope) -> None:
        pushed, ctx, mark = self._open.pop()
        if ctx is not None:
            self.contexts.pop()
            self._close(ctx, mark)
        if pushed:
            self._cause_stack.pop()

    def _timer_text(self, timer: Timer) -> str:
        text = {
            "schedule": "schedule occurrence",
            "annual": "anniversary: annual re-enrollment",
            "timeout": "`wait for` timed out",
        }.get(timer.kind, "timer")
        if timer.kind == "resume":
            enr = self.store.enrollment(timer.enrollment or "")
            if enr is not None and enr.step is not None:
                text = f"timer: resume at [{enr.step}]"
        return text

    def _batch_text(self, batch: Sequence[Event]) -> str:
        created = [e for e in batch if e.type == "record.created"]
        if created:
            # The properties it was created with are listed with the record's events.
            first = created[0]
            text = "record.created"
            if not self.is_target(first.object, first.id):
                text = f"{first.object}:{first.id} {text}"
            return text
        parts = []
        for event in batch:
            text = _event_text(event)
            if not self.is_target(event.object, event.id):
                text = f"{event.object}:{event.id} {text}"
            if event.cause:
                enr = self.store.enrollment(event.cause)
                if enr is not None:
                    text += f" (by workflow {_show(enr.workflow)})"
            parts.append(text)
        return "; ".join(parts) or "event"

    def _trigger_note(self, scope: Scope) -> str | None:
        """Why "met already" matters for a filter trigger: the record enrolled before."""
        plan = scope.plan
        record = scope.record
        if plan is None or record is None or not self.is_target(*record):
            return None
        if not any(e.workflow == plan.name for e in self.store.enrollments_of(*record)):
            return None
        if plan.reenroll.mode == "on_change":
            props = ", ".join(f"{p.object}.{p.property}" for p in plan.reenroll.properties)
            return f"it enrolled before, and re-enrolls only on a change of {props}"
        return "it enrolled before, and re-enrollment is off (add `reenroll on change of <property>` to allow it)"

    # -- what a context leaves behind

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

    # -- decisions

    def input(self, event: Event) -> None:
        if self.is_target(event.object, event.id):
            self.events.append((utc(event.at), _input_text(event)))

    def criteria_evaluated(self, criteria: pc.Criterion, facts: Any, result: bool) -> None:
        record = getattr(facts, "record", None)
        if record is None or not self.is_target(record.object, record.id):
            return
        ctx = self.top()
        if ctx is None:
            return
        plan = ctx.plan
        tree = evaluate(criteria, facts)
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
            role, label = "branch", _branch_label(plan, step, criteria)
        if tree.result != result:  # pragma: no cover - the two evaluators share leaf code
            label += " (explain and the engine disagree)"
        self.add(ctx.workflow, Check(role=role, label=label, result=result, tree=tree, step=step))

    def suppression_checked(self, plan: WorkflowPlan, record: tuple[str, str], name: str, member: bool) -> None:
        ctx = self.top()
        if ctx is None or not self.is_target(*record) or ctx.kind not in ("enroll", "check"):
            return
        label = "suppression lists" if ctx.kind == "enroll" else _check_label("suppression lists", ctx)
        last = self.seen[-1].item if self.seen else None
        if (
            isinstance(last, Lists)
            and last.label == label
            and self.seen[-1].workflow == ctx.workflow
            and name not in dict(last.lists)
        ):
            self.seen[-1] = attrs.evolve(self.seen[-1], item=Lists(label=label, lists=(*last.lists, (name, member))))
        else:
            self.add(ctx.workflow, Lists(label=label, lists=((name, member),)))

    def event_matched(self, pattern: EventSpec, event: Event, result: bool) -> None:
        ctx = self.top()
        if ctx is not None and ctx.record == self.target and ctx.kind in ("event_trigger", "watch"):
            label = "trigger event" if ctx.kind == "event_trigger" else "`wait for` event"
            text, tree = _match_tree(pattern, event)
            if tree.result != result:  # pragma: no cover - same rules as the engine
                label += " (explain and the engine disagree)"
            self.add(ctx.workflow, EventMatch(label=label, pattern=text, result=result, tree=tree))

    def recorded(self, entry: HistoryEntry) -> None:
        if not self.is_target(entry.object, entry.id):
            return
        detail = entry.detail
        rest = {k: v for k, v in detail.items() if k != "reason"}
        self.add(
            entry.workflow,
            Outcome(
                kind=entry.kind,
                reason=detail.get("reason"),
                step=entry.step,
                detail=rest,
                note=self._note(entry.workflow, entry.kind, detail),
            ),
        )

    def goal(self, enrollment: Enrollment, converted: bool) -> None:
        if not self.is_target(enrollment.object, enrollment.record):
            return
        note = (
            "converted: the workflow sent it a marketing email during this enrollment"
            if converted
            else "not converted: the workflow sent it no marketing email during this enrollment"
        )
        for i in range(len(self.seen) - 1, -1, -1):
            item = self.seen[i].item
            if isinstance(item, Outcome) and item.kind == h.GOAL_MET and self.seen[i].workflow == enrollment.workflow:
                self.seen[i] = attrs.evolve(self.seen[i], item=attrs.evolve(item, note=note))
                break

    def _note(self, workflow: str, kind: str, detail: Mapping[str, Any]) -> str | None:
        reason = detail.get("reason")
        plan = self.plans.get(workflow)
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


def _branch_label(plan: WorkflowPlan, step_id: str | None, criteria: Any) -> str:
    step = plan.steps.get(step_id or "")
    if step is None:
        return "branch"
    for i, branch in enumerate(step.branches if isinstance(step, If) else ()):
        if branch.criteria is criteria:
            return f"[{step.id}] {'if' if i == 0 else 'else if'} (branch {i})"
    for case in step.cases if isinstance(step, BranchOn) else ():
        if case.criteria is criteria:
            return f"[{step.id}] branch on, case {_show(decode_value(case.value))}"
    return f"[{step.id}] branch"


def _check_label(what: str, ctx: _Ctx) -> str:
    if ctx.on_change:
        return f"{what}, on this change"
    return f"{what}, before the action" + (f" [{ctx.step}]" if ctx.step else "")


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


def _match_tree(spec: EventSpec, event: Event) -> tuple[str, Tree]:
    """An event against one event pattern: which part held, with what the event had."""
    etype, obj, prop = spec.type, spec.object, spec.property
    from_v, to_v, criteria = spec.from_value, spec.to_value, spec.criteria
    pattern = _pattern_text(spec)
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


def _pattern_text(event: EventSpec) -> str:
    if event.type == "property.changed":
        text = f"{event.object}.{event.property} changed"
        if event.from_value is not None:
            text += f" from {_show(decode_value(event.from_value))}"
        if event.to_value is not None:
            text += f" to {_show(decode_value(event.to_value))}"
        return text
    criteria = event.criteria
    return event.type + ("" if criteria is None else f"({_bare(describe(criteria, True))})")


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
