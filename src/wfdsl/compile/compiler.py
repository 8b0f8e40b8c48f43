"""Compiler: a checked `Project` (AST) in, a `plan.ProjectPlan` (plain data) out.

`compile_project` runs the checker first and refuses to produce a plan when
there are errors. Compilation itself is a pure function of the AST and the
source text, so identical input gives byte-identical `plan_to_json` output.
Step ids follow the scheme documented on `plan.Step` and in docs/plans.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from wfdsl.check import check_project
from wfdsl.collector import collector_paused
from wfdsl.diagnostics import Diagnostic, Severity, WfdslError
from wfdsl.plan import criteria as pc
from wfdsl.plan import steps as ps
from wfdsl.plan.codec import plans_from_json, step_args
from wfdsl.plan.model import (
    DURATION_UNITS,
    WEEKDAYS,
    Anchor,
    Criteria,
    Index,
    IndexKeys,
    PlanError,
    ProjectPlan,
    Recurrence,
    Reenroll,
    Settings,
    Trigger,
    Window,
    WorkflowPlan,
)
from wfdsl.plan.steps import Arm, Branch, Case, Duration, EventSpec, PropRef, Step
from wfdsl.schema import Schema
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n
from wfdsl.syntax.project import Project, SourceError, load_project

__all__ = [
    "CompileFailed",
    "compile_project",
    "compile_workflow",
    "criteria_plan",
    "criteria_keys",
    "load_plans",
]


class CompileFailed(WfdslError):
    """Raised by `load_plans` when the sources have errors; carries the diagnostics
    and the source text of each file (for rendering with a caret)."""

    def __init__(self, diagnostics: list[Diagnostic], sources: Mapping[str, str]) -> None:
        super().__init__(diagnostics)
        self.sources = dict(sources)


# ---------------------------------------------------------------- project


def compile_project(project: Project, schema: Schema | None = None) -> tuple[ProjectPlan | None, list[Diagnostic]]:
    """Check and compile every workflow of a project.

    Returns `(plan, diagnostics)`; `plan` is None when any diagnostic is an
    error. Diagnostics are sorted by file, line, column and code.

    >>> from wfdsl.syntax.project import project_from_text
    >>> plan, diags = compile_project(project_from_text(
    ...     'workflow "W" { object contact steps { send email "Hi" } }', "w.wf"))
    >>> plan.workflows[0].steps["steps.0"].email
    'Hi'
    """
    with collector_paused():  # no garbage cycles here; see `wfdsl.collector`
        diagnostics: list[Diagnostic] = list(project.diagnostics)
        for diagnostic in check_project(project, schema):
            if diagnostic not in diagnostics:
                diagnostics.append(diagnostic)
        diagnostics.sort(key=Diagnostic.sort_key)
        if any(d.severity is Severity.ERROR for d in diagnostics):
            return None, diagnostics
        workflows = []
        for result in project.files:
            lines = result.source.split("\n")  # once per file, not once per workflow
            for workflow in result.module.workflows:
                workflows.append(compile_workflow(workflow, lines))
        return ProjectPlan(workflows=tuple(workflows)), diagnostics


def load_plans(paths: Sequence[str | Path], schema: Schema | None = None) -> ProjectPlan:
    """Plans from `.wf` sources (files or directories) or from one compiled `.json` plan.

    Raises `SourceError` for unusable paths, `PlanError` for a malformed plan
    file, and `CompileFailed` (with the diagnostics) when the sources have errors.
    """
    if len(paths) == 1 and str(paths[0]).endswith(".json") and not Path(paths[0]).is_dir():
        path = Path(paths[0])
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SourceError(f"{path}: no such file or directory") from None
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise SourceError(f"{path}: cannot read: {reason}") from None
        try:
            return plans_from_json(text)
        except PlanError as error:
            raise PlanError(f"{path}: {error}") from None
    if any(str(p).endswith(".json") for p in paths):
        raise SourceError("a compiled plan (.json) must be the only path given")
    project = load_project(paths)
    plans, diagnostics = compile_project(project, schema)
    if plans is None:
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        sources = {r.module.path: r.source for r in project.files}
        raise CompileFailed(errors, sources)
    return plans


# ---------------------------------------------------------------- values


def _time(text: str) -> str:
    """`9:00` -> `09:00` (plans always write two-digit hours)."""
    hour, _, minute = text.partition(":")
    return f"{int(hour):02d}:{minute}" if hour.isdigit() else text


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def value_data(value: n.Value) -> Any:
    """A literal as plan data (see `plan` for the typed encoding)."""
    if isinstance(value, n.StringLit):
        return value.value
    if isinstance(value, n.NumberLit):
        return _number(value.text)
    if isinstance(value, n.BoolLit):
        return value.value
    if isinstance(value, n.DateLit):
        return {"date": value.text}
    if isinstance(value, n.DateTimeLit):
        return {"datetime": value.text}
    if isinstance(value, n.TimeLit):
        return {"time": _time(value.text)}
    if isinstance(value, n.PercentLit):
        return {"percent": _number(value.text)}
    return [value_data(item) for item in value.items]


def _duration(duration: n.Duration) -> Duration:
    """`1 day 6 hours` -> `Duration(parts=((1, "day"), (6, "hour")), seconds=108000)`."""
    parts = []
    seconds = 0
    for part in duration.parts:
        try:
            amount = int(part.amount)
        except ValueError:
            amount = int(float(part.amount))
        parts.append((amount, part.unit))
        seconds += amount * DURATION_UNITS.get(part.unit, 0)
    return Duration(parts=tuple(parts), seconds=seconds)


def duration_data(duration: n.Duration) -> dict[str, Any]:
    """`1 day 6 hours` -> `{"parts": [[1, "day"], [6, "hour"]], "seconds": 108000}` (in criteria)."""
    typed = _duration(duration)
    return {"parts": [list(part) for part in typed.parts], "seconds": typed.seconds}


def _prop(ref: n.PropertyRef) -> dict[str, str]:
    if len(ref.parts) < 2:
        return {"object": "", "property": ref.dotted}
    return {"object": ref.parts[0], "property": ".".join(ref.parts[1:])}


def _prop_ref(ref: n.PropertyRef) -> PropRef:
    data = _prop(ref)
    return PropRef(object=data["object"], property=data["property"])


# ---------------------------------------------------------------- criteria

_COMPARE = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def criteria_plan(criteria: n.Criteria, *, event: bool = False) -> pc.Criterion:
    """Criteria AST -> plan criteria. With `event=True`, property names
    are event attributes (`attribute="url.path"`), as inside `form.submitted(…)`.

    >>> from wfdsl.syntax.parser import parse
    >>> w = parse('workflow "W" { object contact enroll when contact.score >= 50 '
    ...           'steps { end } }').module.workflows[0]
    >>> criteria_plan(w.trigger.criteria)
    Compare(object='contact', property='score', attribute=None, op='ge', value=50)
    """

    def target(ref: n.PropertyRef) -> dict[str, str]:
        return {"attribute": ref.dotted} if event else _prop(ref)

    c = criteria
    if isinstance(c, n.Or):
        return pc.AnyOf(items=tuple(criteria_plan(i, event=event) for i in c.items))
    if isinstance(c, n.And):
        return pc.AllOf(items=tuple(criteria_plan(i, event=event) for i in c.items))
    if isinstance(c, n.Not):
        return pc.Not(item=criteria_plan(c.item, event=event))
    if isinstance(c, n.Compare):
        return pc.Compare(op=_COMPARE[c.op], **target(c.prop), value=value_data(c.value))
    if isinstance(c, n.IsKnown):
        return pc.Known(op="known" if c.known else "unknown", **target(c.prop))
    if isinstance(c, n.InValues):
        return pc.InValues(
            op="not_in" if c.negated else "in",
            **target(c.prop),
            values=[value_data(v) for v in c.values.items],
        )
    if isinstance(c, n.Between):
        return pc.Between(**target(c.prop), low=value_data(c.low), high=value_data(c.high))
    if isinstance(c, n.TextMatch):
        return pc.TextMatch(op=c.op, **target(c.prop), value=c.value.value)
    if isinstance(c, n.HistoryMatch):
        return pc.History(op="ever" if c.ever else "never", **target(c.prop), value=value_data(c.value))
    if isinstance(c, n.DateCompare):
        return pc.Compare(op=c.op, **target(c.prop), value=value_data(c.value))
    if isinstance(c, n.RelativeDate):
        return pc.RelativeDate(op=c.op, **target(c.prop), duration=_duration(c.duration))
    if isinstance(c, n.InList):
        return pc.InList(list=c.name.value)
    if isinstance(c, n.EnrolledIn):
        return pc.EnrolledIn(workflow=c.workflow.value)
    if isinstance(c, n.ReachedGoal):
        return pc.ReachedGoal(workflow=c.workflow.value)
    if isinstance(c, n.HasEvent):
        return pc.HasEvent(
            event=_event_spec(c.event),
            negated=c.negated,
            within=None if c.within is None else _duration(c.within),
            at_least=None if c.at_least is None else int(c.at_least.value),
        )
    if isinstance(c, n.Updated):
        op = "not_updated_within" if c.negated else "updated_within"
        return pc.Updated(op=op, **target(c.prop), duration=_duration(c.within))
    return pc.Received()


def _event_spec(event: n.Event, negated: bool = False) -> EventSpec:
    if isinstance(event, n.PropertyChange):
        prop = _prop(event.prop)
        return EventSpec(
            type="property.changed",
            negated=negated,
            object=prop["object"],
            property=prop["property"],
            from_value=None if event.from_value is None else value_data(event.from_value),
            to_value=None if event.to_value is None else value_data(event.to_value),
        )
    return EventSpec(
        type=event.name,
        negated=negated,
        criteria=None if event.criteria is None else criteria_plan(event.criteria, event=True),
    )


def _and(left: Criteria | None, right: Criteria) -> Criteria:
    if left is None:
        return right
    if isinstance(left, pc.AllOf):
        return pc.AllOf(items=(*left.items, right))
    return pc.AllOf(items=(left, right))


# ---------------------------------------------------------------- index keys


def _walk(criteria: Criteria | None) -> Iterator[Criteria]:
    if criteria is None:
        return
    stack = [criteria]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (pc.AllOf, pc.AnyOf)):
            stack.extend(reversed(node.items))
        elif isinstance(node, pc.Not):
            stack.append(node.item)


def _event_keys(event: EventSpec) -> tuple[set[str], set[str]]:
    events = {event.type}
    props = set()
    if event.property is not None:
        props.add(f"{event.object}.{event.property}")
    return events, props


def criteria_keys(criteria: Criteria | None) -> IndexKeys:
    """What criteria depend on: the changes that can flip their outcome.

    >>> criteria_keys(pc.AllOf(items=(
    ...     pc.Compare(op="eq", object="contact", property="city", value="Oslo"),
    ...     pc.InList(list="VIP"))))
    IndexKeys(events=('list.added', 'list.removed', 'property.changed'), \
properties=('contact.city',), lists=('VIP',), workflows=())
    """
    events: set[str] = set()
    props: set[str] = set()
    lists: set[str] = set()
    workflows: set[str] = set()
    for node in _walk(criteria):
        if isinstance(node, pc.Leaf) and node.property is not None and node.object is not None:
            props.add(f"{node.object}.{node.property}")
            events.add("property.changed")
        elif isinstance(node, pc.InList):
            lists.add(node.list)
            events.update(("list.added", "list.removed"))
        elif isinstance(node, pc.EnrolledIn):
            workflows.add(node.workflow)
            events.update(("workflow.enrolled", "workflow.unenrolled"))
        elif isinstance(node, pc.ReachedGoal):
            workflows.add(node.workflow)
            events.add("workflow.goal_met")
        elif isinstance(node, pc.HasEvent):
            more_events, more_props = _event_keys(node.event)
            events |= more_events
            props |= more_props
    return IndexKeys(
        events=tuple(sorted(events)),
        properties=tuple(sorted(props)),
        lists=tuple(sorted(lists)),
        workflows=tuple(sorted(workflows)),
    )


def _trigger_keys(trigger: Trigger) -> IndexKeys:
    if trigger.kind == "filter":
        return criteria_keys(trigger.criteria)
    if trigger.kind == "event":
        events: set[str] = set()
        props: set[str] = set()
        for spec in trigger.events:
            more_events, more_props = _event_keys(spec)
            events |= more_events
            props |= more_props
        return IndexKeys(events=tuple(sorted(events)), properties=tuple(sorted(props)))
    if trigger.kind == "manual":
        return IndexKeys(events=("workflow.enroll",))
    return IndexKeys()


# ---------------------------------------------------------------- workflow


def source_text(source: str | Sequence[str], span: Span) -> str:
    """The text a span covers (1-based lines and columns, end exclusive).

    `source` is a file's text or its lines (split on "\\n"); a caller that takes
    many spans from one file splits it once.
    """
    lines = source.split("\n") if isinstance(source, str) else source
    if not lines or span.line > len(lines):
        return ""
    if span.line == span.end_line:
        return lines[span.line - 1][span.col - 1 : span.end_col - 1]
    out = [lines[span.line - 1][span.col - 1 :]]
    out.extend(lines[span.line : span.end_line - 1])
    if span.end_line <= len(lines):
        out.append(lines[span.end_line - 1][: span.end_col - 1])
    return "\n".join(out)


def _trigger(workflow: n.Workflow) -> Trigger:
    trig = workflow.trigger
    if isinstance(trig, n.FilterTrigger):
        return Trigger(kind="filter", criteria=criteria_plan(trig.criteria))
    if isinstance(trig, n.EventTrigger):
        return Trigger(
            kind="event",
            events=tuple(_event_spec(e.event, e.negated) for e in trig.events),
            refinement=None if trig.refinement is None else criteria_plan(trig.refinement),
        )
    if isinstance(trig, n.ScheduleTrigger):
        rec = trig.recurrence
        if isinstance(rec, n.Daily):
            recurrence = Recurrence(kind="daily", at=_time(rec.at.text))
        elif isinstance(rec, n.Weekly):
            days = sorted({WEEKDAYS.index(d.value) for d in rec.days if d.value in WEEKDAYS})
            recurrence = Recurrence(kind="weekly", at=_time(rec.at.text), days=tuple(days))
        elif isinstance(rec, n.Monthly):
            recurrence = Recurrence(kind="monthly", at=_time(rec.at.text), day=int(rec.day.value))
        else:
            recurrence = Recurrence(kind="once", at=rec.at.text)
        return Trigger(
            kind="schedule",
            recurrence=recurrence,
            refinement=None if trig.refinement is None else criteria_plan(trig.refinement),
        )
    return Trigger(kind="manual")


def _days(specs: Iterable[n.DayRange | n.Day]) -> tuple[int, ...]:
    days: set[int] = set()
    for spec in specs:
        if isinstance(spec, n.Day):
            if spec.name in WEEKDAYS:
                days.add(WEEKDAYS.index(spec.name))
        elif spec.start in WEEKDAYS and spec.end in WEEKDAYS:
            start, end = WEEKDAYS.index(spec.start), WEEKDAYS.index(spec.end)
            # `friday..monday` wraps around the weekend.
            span = (end - start) % 7
            days.update((start + i) % 7 for i in range(span + 1))
    return tuple(sorted(days))


def _settings(workflow: n.Workflow) -> Settings:
    timezone = "UTC"
    windows: list[Window] = []
    pauses: list[str] = []
    enroll_existing = unenroll_unmet = False
    on_failure = "continue"
    for setting in workflow.settings:
        if isinstance(setting, n.TimezoneSetting):
            timezone = setting.name.value
        elif isinstance(setting, n.ExecuteSetting):
            windows.append(
                Window(
                    days=_days(setting.days),
                    start=_time(setting.start.text),
                    end=_time(setting.end.text),
                )
            )
        elif isinstance(setting, n.PauseSetting):
            pauses.extend(d.text for d in setting.dates)
        elif isinstance(setting, n.EnrollExistingSetting):
            enroll_existing = True
        elif isinstance(setting, n.UnenrollUnmetSetting):
            unenroll_unmet = True
        elif isinstance(setting, n.OnFailureSetting):
            on_failure = setting.mode
    return Settings(
        timezone=timezone,
        windows=tuple(windows),
        pause_dates=tuple(sorted(set(pauses))),
        enroll_existing=enroll_existing,
        unenroll_unmet=unenroll_unmet,
        on_failure=on_failure,
    )


def compile_workflow(workflow: n.Workflow, source: str | Sequence[str]) -> WorkflowPlan:
    """One checked workflow -> its plan. `source` is the text of its file (or its lines)."""
    trigger = _trigger(workflow)
    anchor = None
    clause = workflow.first(n.AnchorClause)
    if isinstance(clause, n.AnchorClause):
        if isinstance(clause.target, n.PropertyRef):
            anchor = Anchor(property=_prop_ref(clause.target), annually=clause.annually)
            # only records that have a value for the anchor enroll.
            known: Criteria = pc.Known(op="known", **_prop(clause.target))
            if trigger.kind == "filter":
                trigger = Trigger(kind="filter", criteria=_and(trigger.criteria, known))
            else:
                trigger = Trigger(
                    kind=trigger.kind,
                    events=trigger.events,
                    recurrence=trigger.recurrence,
                    refinement=_and(trigger.refinement, known),
                )
        else:
            anchor = Anchor(date=clause.target.text, annually=clause.annually)
    reenroll = Reenroll()
    re_clause = workflow.first(n.ReenrollClause)
    if isinstance(re_clause, n.ReenrollClause):
        if re_clause.every_time:
            reenroll = Reenroll(mode="every_time")
        else:
            reenroll = Reenroll(mode="on_change", properties=tuple(_prop_ref(p) for p in re_clause.properties))
    goal_clause = workflow.first(n.GoalClause)
    goal = criteria_plan(goal_clause.criteria) if isinstance(goal_clause, n.GoalClause) else None
    un_clause = workflow.first(n.UnenrollClause)
    unenroll = None
    if isinstance(un_clause, n.UnenrollClause):
        unenroll = criteria_plan(un_clause.criteria)
    sup_clause = workflow.first(n.SuppressClause)
    suppress: tuple[str, ...] = ()
    if isinstance(sup_clause, n.SuppressClause):
        suppress = tuple(dict.fromkeys(s.value for s in sup_clause.lists))
    desc_clause = workflow.first(n.DescriptionClause)
    description = desc_clause.text.value if isinstance(desc_clause, n.DescriptionClause) else None
    steps, entry = _StepCompiler(workflow.steps).run()
    index = Index(
        trigger=_trigger_keys(trigger),
        goal=criteria_keys(goal),
        unenroll=criteria_keys(unenroll),
        suppress=IndexKeys(events=("list.added",) if suppress else (), lists=tuple(sorted(suppress))),
    )
    text = source_text(source, workflow.span)
    return WorkflowPlan(
        name=workflow.name.value,
        object=workflow.object_type or "",
        source_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        span=workflow.span,
        description=description,
        trigger=trigger,
        reenroll=reenroll,
        goal=goal,
        unenroll=unenroll,
        suppress_lists=suppress,
        anchor=anchor,
        settings=_settings(workflow),
        entry=entry,
        steps=steps,
        index=index,
    )


# ---------------------------------------------------------------- steps


class _StepCompiler:
    """Assigns stable ids (first pass), then builds the step graph (second pass)."""

    def __init__(self, steps: tuple[n.Step, ...]) -> None:
        self.top = steps
        self.ids: dict[int, str] = {}
        self.labels: dict[str, str] = {}
        self.taken: set[str] = set()
        self.keys: dict[int, str] = {}
        self.keyed: set[str] = set()
        self.out: dict[str, Step] = {}

    def run(self) -> tuple[dict[str, Step], str | None]:
        self._assign(self.top, "steps")
        entry = self._block(self.top, None)
        ordered = {sid: self.out[sid] for sid in self._order(self.top)}
        return ordered, entry

    # -- ids
    def _assign(self, steps: Sequence[n.Step], base: str, block: str = "") -> None:
        label: tuple[str, int] | None = None
        pinned: tuple[str, int] | None = None
        seen: dict[str, int] = {}
        for i, step in enumerate(steps):
            structural = f"{base}.{i}"
            if isinstance(step, n.Label) and f"label:{step.name.value}" not in self.taken:
                sid = f"label:{step.name.value}"
                label = (sid, i)
                self.labels.setdefault(step.name.value, sid)
            elif label is not None:
                sid = f"{label[0]}.{i - label[1]}"
            else:
                sid = structural
            if sid in self.taken:
                sid = structural
            self.taken.add(sid)
            self.ids[id(step)] = sid
            key, pinned = self._key(step, i, block, pinned, seen)
            self.keys[id(step)] = key
            for sub_base, sub_block, body in self._bodies(step, sid, key):
                self._assign(body.steps, sub_base, sub_block)

    def _key(
        self, step: n.Step, i: int, block: str, pinned: tuple[str, int] | None, seen: dict[str, int]
    ) -> tuple[str, tuple[str, int] | None]:
        """The step's identity key (docs/runtime.md, "Changing a running workflow").

        `label "retry"` has the key `label:retry` and pins the key of the step
        right after it: `label:retry.1`, however that step is edited. Any other
        step is known by its content (kind and arguments; a branching step by
        its kind and property only, so editing a condition keeps it and the
        steps inside it), its block, and which occurrence of that content it is
        in the block: inserting, removing, moving or editing other steps leaves
        its key alone.
        """
        if isinstance(step, n.Label) and f"label:{step.name.value}" not in self.keyed:
            key = f"label:{step.name.value}"
            self.keyed.add(key)
            return key, (key, i)
        if pinned is not None and i == pinned[1] + 1:
            return f"{pinned[0]}.1", None
        cls, args = _step_fields(step)
        content = json.dumps([cls.kind, step_args(cls, args)], sort_keys=True)
        seen[content] = seen.get(content, 0) + 1
        digest = hashlib.sha256(f"{block}\x00{content}\x00{seen[content]}".encode()).hexdigest()
        return digest[:16], None

    @staticmethod
    def _bodies(step: n.Step, sid: str, key: str = "") -> list[tuple[str, str, n.Block]]:
        """A branching step's bodies: (id base, identity of the block, block)."""
        if isinstance(step, n.If):
            out = []
            for k, branch in enumerate(step.branches):
                name = "then" if k == 0 else f"elif.{k - 1}"
                out.append((f"{sid}.{name}", f"{key}/{name}", branch.body))
            if step.else_body is not None:
                out.append((f"{sid}.else", f"{key}/else", step.else_body))
            return out
        if isinstance(step, n.BranchOn):
            out = [
                (f"{sid}.case.{k}", f"{key}/case:{json.dumps(value_data(case.value), sort_keys=True)}", case.body)
                for k, case in enumerate(step.cases)
            ]
            if step.else_body is not None:
                out.append((f"{sid}.else", f"{key}/else", step.else_body))
            return out
        if isinstance(step, n.Split):
            return [(f"{sid}.arm.{k}", f"{key}/arm.{k}", arm.body) for k, arm in enumerate(step.arms)]
        return []

    def _order(self, steps: Sequence[n.Step]) -> Iterator[str]:
        for step in steps:
            sid = self.ids[id(step)]
            yield sid
            for _, _, body in self._bodies(step, sid):
                yield from self._order(body.steps)

    # -- graph
    def _block(self, steps: Sequence[n.Step], cont: str | None) -> str | None:
        for i, step in enumerate(steps):
            following = self.ids[id(steps[i + 1])] if i + 1 < len(steps) else cont
            self._step(step, following)
        return self.ids[id(steps[0])] if steps else cont

    def _else(self, body: n.Block | None, following: str | None) -> str | None:
        return following if body is None else self._block(body.steps, following)

    def _step(self, step: n.Step, following: str | None) -> None:
        sid = self.ids[id(step)]
        cls, args = _step_fields(step)
        extra: dict[str, Any] = {}
        nxt: str | None = following
        if isinstance(step, n.If):
            extra["branches"] = tuple(
                Branch(
                    criteria=criteria_plan(b.condition),
                    target=self._block(b.body.steps, following),
                )
                for b in step.branches
            )
            extra["else_target"] = self._else(step.else_body, following)
        elif isinstance(step, n.BranchOn):
            prop = _prop(step.prop)
            extra["cases"] = tuple(
                Case(
                    value=value_data(c.value),
                    criteria=pc.Compare(op="eq", **prop, value=value_data(c.value)),
                    target=self._block(c.body.steps, following),
                )
                for c in step.cases
            )
            extra["else_target"] = self._else(step.else_body, following)
        elif isinstance(step, n.Split):
            extra["arms"] = tuple(
                Arm(percent=_number(a.percent.text), target=self._block(a.body.steps, following)) for a in step.arms
            )
        elif isinstance(step, n.GoTo):
            nxt = None
            extra["target"] = self.labels.get(step.target.value)
        elif isinstance(step, n.End):
            nxt = None
        self.out[sid] = cls(id=sid, key=self.keys[id(step)], span=step.span, next=nxt, **args, **extra)


def _opt_duration(duration: n.Duration | None) -> Duration | None:
    return None if duration is None else _duration(duration)


def _opt_time(at: n.TimeLit | None) -> str | None:
    return None if at is None else _time(at.text)


def _opt_text(text: n.StringLit | None) -> str | None:
    return None if text is None else text.value


def _step_fields(step: n.Step) -> tuple[type[Step], dict[str, Any]]:  # noqa: C901 - one case per kind
    """The step class of an AST step and its arguments (by attribute name)."""
    s = step
    if isinstance(s, n.Delay):
        return ps.Delay, {"duration": _duration(s.duration)}
    if isinstance(s, n.DelayUntilDay):
        return ps.DelayUntilDay, {
            "day": s.day,
            "weekday": WEEKDAYS.index(s.day) if s.day in WEEKDAYS else None,
            "at": _opt_time(s.at),
        }
    if isinstance(s, n.DelayUntilDate):
        if isinstance(s.base, n.PropertyRef):
            base = ps.DateBase(property=_prop_ref(s.base))
        elif isinstance(s.base, n.DateTimeLit):
            base = ps.DateBase(datetime=s.base.text)
        else:
            base = ps.DateBase(date=s.base.text)
        return ps.DelayUntilDate, {
            "base": base,
            "sign": -1 if s.sign == "-" else 1,
            "offset": _opt_duration(s.offset),
            "at": _opt_time(s.at),
        }
    if isinstance(s, n.DelayUntilAnchor):
        return ps.DelayUntilAnchor, {"side": s.side, "offset": _opt_duration(s.offset), "at": _opt_time(s.at)}
    if isinstance(s, n.WaitFor):
        return ps.WaitFor, {"event": _event_spec(s.event), "timeout": _duration(s.timeout)}
    if isinstance(s, n.If):
        return ps.If, {}
    if isinstance(s, n.BranchOn):
        return ps.BranchOn, _prop(s.prop)
    if isinstance(s, n.Split):
        return ps.Split, {}
    if isinstance(s, n.SendEmail):
        return ps.SendEmail, {"email": s.email.value}
    if isinstance(s, n.Notify):
        return ps.Notify, {
            "recipient": _opt_text(s.recipient),
            "subject": _opt_text(s.subject),
            "body": _opt_text(s.body),
        }
    if isinstance(s, n.SetProperty):
        return ps.SetProperty, {**_prop(s.prop), "value": value_data(s.value)}
    if isinstance(s, n.ClearProperty):
        return ps.ClearProperty, _prop(s.prop)
    if isinstance(s, n.Increment):
        return ps.Increment, {**_prop(s.prop), "amount": _number(s.amount.text)}
    if isinstance(s, n.CopyProperty):
        return ps.CopyProperty, {"source": _prop_ref(s.source), "destination": _prop_ref(s.target)}
    if isinstance(s, n.CreateTask):
        return ps.CreateTask, {
            "title": s.title.value,
            "due": _opt_duration(s.due),
            "assign_owner": s.assign_owner,
            "assignee": _opt_text(s.assignee),
            "notes": _opt_text(s.notes),
            "priority": s.priority,
        }
    if isinstance(s, n.CreateRecord):
        return ps.CreateRecord, {
            "object": s.object_type.value,
            "fields": tuple(ps.RecordField(name=f.name.value, value=value_data(f.value)) for f in s.fields),
        }
    if isinstance(s, n.AssignOwner):
        return ps.AssignOwner, {"owner": s.owner.value}
    if isinstance(s, n.RotateOwner):
        return ps.RotateOwner, {"owners": tuple(value_data(v) for v in s.owners.items)}
    if isinstance(s, n.AddToList):
        return ps.AddToList, {"list": s.name.value}
    if isinstance(s, n.RemoveFromList):
        return ps.RemoveFromList, {"list": s.name.value}
    if isinstance(s, n.EnrollInWorkflow):
        return ps.EnrollInWorkflow, {"workflow": s.workflow.value}
    if isinstance(s, n.UnenrollFromWorkflow):
        return ps.UnenrollFromWorkflow, {"workflow": s.workflow.value}
    if isinstance(s, n.Webhook):
        return ps.Webhook, {"method": s.method.lower(), "url": s.url.value, "body": _opt_text(s.body)}
    if isinstance(s, n.Placeholder):
        return ps.Placeholder, {"text": s.text.value}
    if isinstance(s, n.Label):
        return ps.Label, {"name": s.name.value}
    if isinstance(s, n.GoTo):
        return ps.GoTo, {"label": s.target.value}
    return ps.End, {}
