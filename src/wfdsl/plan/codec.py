"""Plan JSON: a `ProjectPlan` in, the canonical JSON of docs/plans.md out (format_version 1), and back.

One cattrs converter does both directions. Its functions for the plan classes
are generated from the classes' fields (`make_dict_unstructure_fn`,
`make_dict_structure_fn`); hooks cover what has a shape of its own: spans
(`[file, line, col, end_line, end_col]`), a step (`id`, `key`, `kind`, its
arguments under `args`, its targets), an event pattern (absent keys for what
it does not pin), a trigger (the keys of its kind) and `delay until`'s base.
A criterion (`wfdsl.plan.criteria`) is written as an object with `op` first
and its other keys sorted; typed values are JSON trees already, written with
their keys sorted.

Reading checks the data before structuring it (`wfdsl.plan.checks`, and the
checks each step argument names): a hand-edited plan is refused with a
`PlanError` that gives the JSON path of the wrong value.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs

from wfdsl.plan import checks as c
from wfdsl.plan.checks import PlanError, Reader
from wfdsl.plan.criteria import CRITERION_CLASSES, Criterion, Leaf
from wfdsl.plan.model import (
    FORMAT_VERSION,
    RECURRENCE_KINDS,
    REENROLL_MODES,
    TRIGGER_KINDS,
    Anchor,
    Index,
    IndexKeys,
    ProjectPlan,
    Recurrence,
    Reenroll,
    Settings,
    Trigger,
    Window,
    WorkflowPlan,
)
from wfdsl.plan.steps import (
    STEP_CLASSES,
    Arm,
    Branch,
    BranchOn,
    Case,
    DateBase,
    Duration,
    EventSpec,
    GoTo,
    If,
    PropRef,
    RecordField,
    Split,
    Step,
    arg_fields,
)
from wfdsl.spans import Span

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "args_data",
    "criteria_data",
    "criteria_from_data",
    "event_data",
    "event_pattern",
    "history_reads",
    "plan_to_data",
    "plan_to_json",
    "plans_from_data",
    "plans_from_json",
    "step_args",
    "workflow_to_data",
]


def _sorted(data: Any) -> Any:
    """Free-form data (criteria, typed values, args) with dict keys in sorted order."""
    if isinstance(data, Mapping):
        # `op` first keeps criteria readable; every other key in sorted order.
        return {str(k): _sorted(data[k]) for k in sorted(data, key=lambda k: (k != "op", k))}
    if isinstance(data, (list, tuple)):
        return [_sorted(item) for item in data]
    return data


def _same(value: Any, _type: Any) -> Any:
    """Structure data that the checks have already passed as it is."""
    return value


# ---------------------------------------------------------------- the converter


def event_data(event: EventSpec) -> dict[str, Any]:
    """An event pattern as plan JSON writes it (in `trigger.events`, `wait_for`, `has_event`).

    >>> event_data(EventSpec(type="form.submitted"))
    {'type': 'form.submitted', 'negated': False, 'criteria': None}
    """
    out: dict[str, Any] = {"type": event.type, "negated": event.negated}
    if event.object is not None:
        out["object"] = event.object
    if event.property is not None:
        out["property"] = event.property
    if event.from_value is not None:
        out["from"] = _sorted(event.from_value)
    if event.to_value is not None:
        out["to"] = _sorted(event.to_value)
    out["criteria"] = None if event.criteria is None else criteria_data(event.criteria)
    return out


def criteria_data(criterion: Criterion) -> dict[str, Any]:
    """A criterion as plan JSON writes it: `op` first, the other keys sorted.

    >>> from wfdsl.plan.criteria import Compare
    >>> criteria_data(Compare(op="ge", object="contact", property="score", value=50))
    {'op': 'ge', 'object': 'contact', 'property': 'score', 'value': 50}
    """
    # Written field by field rather than by a generated function: one Python frame per
    # level, as criteria may nest MAX_CRITERIA_DEPTH deep (the converter's hooks call these).
    out: dict[str, Any] = {}
    by_attribute = isinstance(criterion, Leaf) and criterion.attribute is not None
    for f in attrs.fields(cast("type[attrs.AttrsInstance]", type(criterion))):
        name = f.name
        value = getattr(criterion, name)
        if name in ("object", "property", "attribute"):
            # A leaf names a property or, inside an event's criteria, an attribute.
            if (name == "attribute") == by_attribute:
                out[name] = value
        elif name == "items":
            out[name] = [criteria_data(item) for item in value]
        elif name == "item":
            out[name] = criteria_data(value)
        elif name == "event":
            out[name] = _sorted(event_data(value))
        elif name in ("duration", "within"):
            out[name] = None if value is None else _converter().unstructure(value)
        elif name != "at_least" or value is not None:
            out[name] = _sorted(value)
    return {"op": out.pop("op"), **{k: out[k] for k in sorted(out)}}


def criteria_from_data(data: Mapping[str, Any]) -> Criterion:
    """A criterion from its plan JSON form, which `checks.check_criteria` has passed.

    >>> criteria_from_data({"op": "not", "item": {"op": "in_list", "list": "VIP"}})
    Not(item=InList(list='VIP', op='in_list'), op='not')
    """
    cls = CRITERION_CLASSES[data["op"]]
    values: dict[str, Any] = {}
    for f in attrs.fields(cast("type[attrs.AttrsInstance]", cls)):
        name = f.name
        if name not in data:
            continue
        value = data[name]
        if name == "items":
            value = tuple(criteria_from_data(item) for item in value)
        elif name == "item":
            value = criteria_from_data(value)
        elif name == "event":
            value = event_pattern(value)
        elif name in ("duration", "within") and value is not None:
            value = _converter().structure(value, Duration)
        values[name] = value
    criterion: Criterion = cls(**values)
    return criterion


def _base_out(base: DateBase) -> dict[str, Any]:
    if base.property is not None:
        return {"property": _converter().unstructure(base.property)}
    if base.datetime is not None:
        return {"datetime": base.datetime}
    return {"date": base.date}


def _trigger_out(trigger: Trigger) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": trigger.kind}
    if trigger.kind == "filter":
        out["criteria"] = None if trigger.criteria is None else criteria_data(trigger.criteria)
    if trigger.kind == "event":
        out["events"] = [event_data(e) for e in trigger.events]
    if trigger.recurrence is not None:
        out["recurrence"] = _converter().unstructure(trigger.recurrence)
    out["refinement"] = None if trigger.refinement is None else criteria_data(trigger.refinement)
    return out


def _step_out(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": step.id,
        "key": step.key,
        "kind": step.kind,
        "args": args_data(step),
        "next": step.next,
    }
    unstructure = _converter().unstructure
    if isinstance(step, If):
        out["branches"] = [unstructure(b) for b in step.branches]
        out["else_target"] = step.else_target
    elif isinstance(step, BranchOn):
        out["cases"] = [unstructure(case) for case in step.cases]
        out["else_target"] = step.else_target
    elif isinstance(step, Split):
        out["arms"] = [unstructure(a) for a in step.arms]
    elif isinstance(step, GoTo):
        out["target"] = step.target
    out["span"] = step.span.to_json()
    return out


@functools.cache
def _converter() -> cattrs.Converter:
    """The plan converter, made on first use (a program that imports the plan classes
    without encoding or decoding them does not load cattrs). Its functions for a class
    are generated when the class is first encoded or decoded."""
    import cattrs
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    conv = cattrs.Converter(unstruct_collection_overrides={Sequence: list, tuple: list})
    plain = override(unstruct_hook=_sorted, struct_hook=_same)
    conv.register_unstructure_hook(Span, Span.to_json)
    conv.register_structure_hook(Span, lambda data, _: Span.from_json(data))
    conv.register_unstructure_hook(EventSpec, event_data)
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, Criterion), criteria_data)
    conv.register_structure_hook(Criterion, lambda data, _: criteria_from_data(data))
    conv.register_unstructure_hook(DateBase, _base_out)
    conv.register_unstructure_hook(Trigger, _trigger_out)
    conv.register_unstructure_hook_func(lambda t: isinstance(t, type) and issubclass(t, Step), _step_out)
    # Numbers and values pass as the checks let them through (an int stays an int).
    for exact in (float, int | float, Any):
        conv.register_structure_hook(exact, _same)
    #: Overrides of the generated functions, by class and field.
    generated: dict[Any, dict[str, Any]] = {
        PropRef: {},
        Duration: {},
        DateBase: {},
        RecordField: {"value": plain},
        Branch: {},
        Case: {"value": plain},
        Arm: {},
        Recurrence: {},
        Reenroll: {},
        Anchor: {},
        Window: {},
        Settings: {},
        IndexKeys: {name: override(unstruct_hook=sorted) for name in ("events", "properties", "lists", "workflows")},
        Index: {},
        WorkflowPlan: {},
        ProjectPlan: {},
        EventSpec: {
            "from_value": override(rename="from", struct_hook=_same),
            "to_value": override(rename="to", struct_hook=_same),
        },
    }
    for cls in STEP_CLASSES.values():
        # Arguments are read under their JSON names; typed values stay JSON trees.
        generated[cls] = {
            f.name: override(rename=f.json, struct_hook=_same if f.check in _PLAIN_CHECKS else None)
            for f in arg_fields(cls)
        }
    conv.register_unstructure_hook_factory(
        lambda t: t in generated and not issubclass(t, Step),
        lambda t: make_dict_unstructure_fn(t, conv, **generated[t]),
    )
    conv.register_structure_hook_factory(
        lambda t: t in generated, lambda t: make_dict_structure_fn(t, conv, **generated[t])
    )
    return conv


#: Checks of arguments that hold a typed value (plain JSON data).
_PLAIN_CHECKS = (c.check_value,)
# ---------------------------------------------------------------- JSON out


def args_data(step: Step) -> dict[str, Any]:
    """A step's arguments as plan JSON holds them under `args` (keys sorted).

    >>> from wfdsl.plan.steps import SendEmail
    >>> args_data(SendEmail(id="steps.0", span=Span.from_json(["w.wf", 1, 1, 1, 9]), next=None, email="Hi"))
    {'email': 'Hi'}
    """
    return step_args(type(step), {f.name: getattr(step, f.name) for f in arg_fields(type(step))})


def step_args(cls: type[Step], values: Mapping[str, Any]) -> dict[str, Any]:
    """The `args` of a step of class `cls` with these argument values (by attribute name)."""
    unstructure = _converter().unstructure
    args: dict[str, Any] = _sorted({f.json: unstructure(values[f.name]) for f in arg_fields(cls)})
    return args


def workflow_to_data(plan: WorkflowPlan) -> dict[str, Any]:
    """The JSON-ready dict of one workflow plan (fixed key order)."""
    data: dict[str, Any] = _converter().unstructure(plan)
    return data


def plan_to_data(plans: ProjectPlan) -> dict[str, Any]:
    data: dict[str, Any] = _converter().unstructure(plans)
    return data


def history_reads(plans: ProjectPlan) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """What the plans' criteria read from a CRM's histories: the event types of
    `has <event>` filters, and the (object type, property) pairs of `has ever been` /
    `has never been` / `updated within last`. A CRM that keeps only these histories answers every criterion
    of these plans the same (what `wfdsl simulate` does to bound its memory).

    >>> history_reads(ProjectPlan(workflows=()))
    (frozenset(), frozenset())
    """
    events: set[str] = set()
    properties: set[tuple[str, str]] = set()
    stack: list[Any] = [plan_to_data(plans)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            op = item.get("op")
            if op == "has_event" and isinstance(item.get("event"), dict):
                events.add(str(item["event"].get("type")))
            elif op in ("ever", "never", "updated_within", "not_updated_within") and "property" in item:
                properties.add((str(item.get("object")), str(item["property"])))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return frozenset(events), frozenset(properties)


def plan_to_json(plans: ProjectPlan) -> str:
    """Deterministic JSON text (two-space indent, trailing newline, no timestamps).

    >>> text = plan_to_json(ProjectPlan(workflows=()))
    >>> text
    '{\\n  "format_version": "1",\\n  "workflows": []\\n}\\n'
    >>> plan_to_json(plans_from_json(text)) == text
    True
    """
    return _dump(plan_to_data(plans), "") + "\n"


def _dump(data: Any, indent: str) -> str:
    """JSON with two-space indentation; lists of scalars (spans, days) on one line."""
    inner = indent + "  "
    if isinstance(data, dict):
        if not data:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {_dump(v, inner)}" for k, v in data.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(data, list):
        if all(not isinstance(v, (dict, list)) for v in data):
            return "[" + ", ".join(_dump(v, inner) for v in data) + "]"
        return "[\n" + ",\n".join(inner + _dump(v, inner) for v in data) + "\n" + indent + "]"
    return json.dumps(data, ensure_ascii=False, allow_nan=False)


# ---------------------------------------------------------------- JSON in


def _prop_in(data: Any, where: str) -> PropRef:
    r = Reader(data, where)
    return PropRef(object=r.text("object"), property=r.text("property"))


def _event_in(data: Any, where: str) -> EventSpec:
    c.check_event(data, where)
    event: EventSpec = _converter().structure(data, EventSpec)
    return event


def event_pattern(data: Mapping[str, Any]) -> EventSpec:
    """An event pattern from its plan JSON form (as a waiting enrollment keeps it), unchecked.

    >>> event_pattern({"type": "property.changed", "negated": False, "criteria": None, "from": "a"}).from_value
    'a'
    """
    event: EventSpec = _converter().structure(data, EventSpec)
    return event


def _criteria_in(data: Mapping[str, Any] | None) -> Criterion | None:
    return None if data is None else criteria_from_data(data)


def _keys_in(data: Any, where: str) -> IndexKeys:
    r = Reader(data, where)
    return IndexKeys(
        events=c.strings(r.seq("events", []), f"{where}.events"),
        properties=c.strings(r.seq("properties", []), f"{where}.properties"),
        lists=c.strings(r.seq("lists", []), f"{where}.lists"),
        workflows=c.strings(r.seq("workflows", []), f"{where}.workflows"),
    )


#: The parts of a step's JSON besides `args`, by the step class that has them.
_TARGETS: dict[type[Step], tuple[str, ...]] = {
    If: ("branches", "else_target"),
    BranchOn: ("cases", "else_target"),
    Split: ("arms",),
    GoTo: ("target",),
}


def _check_targets(r: Reader, where: str) -> None:
    """The branches, cases and arms of a step (checked whatever its kind)."""
    for i, item in enumerate(r.seq("branches", [])):
        b = Reader(item, f"{where}.branches[{i}]")
        if b.criteria("criteria") is None:
            raise PlanError(f"{where}.branches[{i}]: missing field `criteria`")
        b.opt_str("target")
    for i, item in enumerate(r.seq("cases", [])):
        case = Reader(item, f"{where}.cases[{i}]")
        if case.criteria("criteria") is None:
            raise PlanError(f"{where}.cases[{i}]: missing field `criteria`")
        c.check_value(case.raw("value"), f"{where}.cases[{i}].value")
        case.opt_str("target")
    for i, item in enumerate(r.seq("arms", [])):
        a = Reader(item, f"{where}.arms[{i}]")
        percent = a.raw("percent")
        c.number(percent, f"{where}.arms[{i}].percent")
        if not 0 < percent <= 100:
            raise PlanError(
                f"{where}.arms[{i}].percent: expected a share above 0 and at most 100, found {c.shown(percent)}"
            )
        a.opt_str("target")
    for key in ("else_target", "target"):
        r.opt_str(key)


def _step_in(data: Any, where: str) -> Step:
    r = Reader(data, where)
    kind = r.text("kind")
    cls = STEP_CLASSES.get(kind)
    if cls is None:
        raise PlanError(f"{where}.kind: unknown step kind `{kind}`")
    args = r.raw("args", {})
    if not isinstance(args, dict):
        raise PlanError(f"{where}.args: expected an object, found {c.kind_of(args)}")
    fields = arg_fields(cls)
    missing = [f.json for f in fields if f.required and f.json not in args]
    if missing:
        raise PlanError(f"{where}.args: a `{kind}` step needs `{missing[0]}`")
    for f in fields:
        if f.json in args:
            f.check(args[f.json], f"{where}.args.{f.json}")
    _check_targets(r, where)
    step_id = r.text("id")
    key = r.text("key", "")
    span = c.span_in(r.raw("span"), where)
    nxt = r.opt_str("next")
    payload: dict[str, Any] = {"id": step_id, "key": key, "span": span.to_json(), "next": nxt}
    payload.update((f.json, args[f.json]) for f in fields if f.json in args)
    payload.update((name, data[name]) for name in _TARGETS.get(cls, ()) if name in data)
    step: Step = _converter().structure(payload, cls)
    return step


def _choice(value: str, allowed: Sequence[str], where: str) -> str:
    if value not in allowed:
        raise PlanError(f"{where}: `{value}` is not one of {', '.join(allowed)}")
    return value


def _trigger_in(t: Reader, where: str) -> Trigger:
    recurrence = None
    if t.raw("recurrence", None) is not None:
        rr = t.obj("recurrence")
        day = rr.raw("day", None)
        if day is not None:
            c.whole(day, f"{where}.trigger.recurrence.day", 1, 31)
        kind = _choice(rr.text("kind"), RECURRENCE_KINDS, f"{where}.trigger.recurrence.kind")
        at = rr.text("at")
        at_check: Callable[[Any, str], None] = c.time_to_act(c.datetime_text) if kind == "once" else c.time_of_day
        at_check(at, f"{where}.trigger.recurrence.at")
        recurrence = Recurrence(
            kind=kind,
            at=at,
            days=c.weekdays(rr.raw("days", []), f"{where}.trigger.recurrence.days"),
            day=day,
        )
    trigger_kind = _choice(t.text("kind"), TRIGGER_KINDS, f"{where}.trigger.kind")
    needs = {"filter": "criteria", "schedule": "recurrence"}.get(trigger_kind)
    if needs is not None and t.raw(needs, None) is None:
        raise PlanError(f"{where}.trigger: a `{trigger_kind}` trigger needs `{needs}`")
    return Trigger(
        kind=trigger_kind,
        criteria=_criteria_in(t.criteria("criteria")),
        events=tuple(_event_in(e, f"{where}.trigger.events[{i}]") for i, e in enumerate(t.seq("events", []))),
        recurrence=recurrence,
        refinement=_criteria_in(t.criteria("refinement")),
    )


def _settings_in(s: Reader, where: str) -> Settings:
    windows = []
    for i, item in enumerate(s.seq("windows", [])):
        at = f"{where}.settings.windows[{i}]"
        w = Reader(item, at)
        start, end = w.text("start"), w.text("end")
        c.time_of_day(start, f"{at}.start")
        c.time_of_day(end, f"{at}.end")
        if end <= start:
            raise PlanError(f"{at}.end: expected a time after `start` ({start}), found {end!r}")
        windows.append(Window(days=c.weekdays(w.raw("days"), f"{at}.days"), start=start, end=end))
    timezone = s.text("timezone", "UTC")
    c.timezone(timezone, f"{where}.settings.timezone")
    pause_dates = c.strings(s.seq("pause_dates", []), f"{where}.settings.pause_dates")
    for i, day in enumerate(pause_dates):
        c.time_to_act(c.date_text)(day, f"{where}.settings.pause_dates[{i}]")
    return Settings(
        timezone=timezone,
        windows=tuple(windows),
        pause_dates=pause_dates,
        enroll_existing=s.flag("enroll_existing", False),
        unenroll_unmet=s.flag("unenroll_unmet", False),
        on_failure=_choice(s.text("on_failure", "continue"), ("continue", "stop"), f"{where}.settings.on_failure"),
    )


def _workflow_in(data: Any, where: str) -> WorkflowPlan:
    r = Reader(data, where)
    name = r.text("name")
    where = f"workflow {name!r}"
    trigger = _trigger_in(r.obj("trigger"), where)
    re = r.obj("reenroll") if r.has("reenroll") else Reader({}, f"{where}.reenroll")
    reenroll = Reenroll(
        mode=_choice(re.text("mode", "none"), REENROLL_MODES, f"{where}.reenroll.mode"),
        properties=tuple(
            _prop_in(p, f"{where}.reenroll.properties[{i}]") for i, p in enumerate(re.seq("properties", []))
        ),
    )
    anchor = None
    if r.raw("anchor", None) is not None:
        a = r.obj("anchor")
        if a.raw("date", None) is not None:
            c.time_to_act(c.date_text)(a.raw("date"), f"{where}.anchor.date")
        anchor = Anchor(
            property=None
            if a.raw("property", None) is None
            else _prop_in(a.raw("property"), f"{where}.anchor.property"),
            date=a.opt_str("date"),
            annually=a.flag("annually", False),
        )
    settings = _settings_in(r.obj("settings") if r.has("settings") else Reader({}, f"{where}.settings"), where)
    ix = r.obj("index") if r.has("index") else Reader({}, f"{where}.index")
    index = Index(
        trigger=_keys_in(ix.raw("trigger", {}), f"{where}.index.trigger"),
        goal=_keys_in(ix.raw("goal", {}), f"{where}.index.goal"),
        unenroll=_keys_in(ix.raw("unenroll", {}), f"{where}.index.unenroll"),
        suppress=_keys_in(ix.raw("suppress", {}), f"{where}.index.suppress"),
    )
    raw_steps = r.raw("steps")
    if not isinstance(raw_steps, dict):
        raise PlanError(f"{where}.steps: expected an object of steps by id")
    steps: dict[str, Step] = {}
    for step_id, raw in raw_steps.items():
        step = _step_in(raw, f"{where}.steps[{step_id!r}]")
        if step.id != step_id:
            raise PlanError(f"{where}.steps[{step_id!r}]: its `id` is {step.id!r}")
        steps[step_id] = step
    entry = r.opt_str("entry")
    for ref in [entry, *(t for s_ in steps.values() for t in (*s_.targets(), s_.next))]:
        if ref is not None and ref not in steps:
            raise PlanError(f"{where}: step id {ref!r} is referenced but not defined")
    description = r.opt_str("description")
    return WorkflowPlan(
        name=name,
        object=r.text("object"),
        source_hash=r.text("source_hash"),
        span=c.span_in(r.raw("span"), where),
        description=description,
        trigger=trigger,
        reenroll=reenroll,
        goal=_criteria_in(r.criteria("goal")),
        unenroll=_criteria_in(r.criteria("unenroll")),
        suppress_lists=c.strings(r.seq("suppress_lists", []), f"{where}.suppress_lists"),
        anchor=anchor,
        settings=settings,
        entry=entry,
        steps=steps,
        index=index,
    )


def plans_from_data(data: Any) -> ProjectPlan:
    """A `ProjectPlan` from decoded JSON data; raises PlanError."""
    r = Reader(data, "plan")
    version = r.raw("format_version", None)
    if version != FORMAT_VERSION:
        shown = "missing" if version is None else repr(version)
        raise PlanError(
            f"plan format_version is {shown}; this version of wfdsl reads "
            f"format_version {FORMAT_VERSION!r} (recompile the workflows with `wfdsl compile`)"
        )
    workflows = tuple(_workflow_in(w, f"plan.workflows[{i}]") for i, w in enumerate(r.seq("workflows")))
    names = [w.name for w in workflows]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PlanError(f"plan: workflow {duplicates[0]!r} appears more than once")
    return ProjectPlan(workflows=workflows, format_version=FORMAT_VERSION)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def plans_from_json(text: str | bytes) -> ProjectPlan:
    """Read a plan written by `plan_to_json`; raises PlanError for anything malformed.

    >>> try:
    ...     plans_from_json('{"format_version": "9", "workflows": []}')
    ... except PlanError as error:
    ...     print(str(error)[:30])
    plan format_version is '9'; th
    """
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise PlanError(f"plan is not valid JSON: {error}") from None
    except UnicodeDecodeError as error:  # pragma: no cover - ValueError subclass
        raise PlanError(f"plan is not UTF-8: {error}") from None
    return plans_from_data(data)
