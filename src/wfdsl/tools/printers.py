"""Printers: AST nodes in, their canonical one-line text out.

Values, durations, events, criteria (with the fewest parentheses that keep
their tree), recurrences, settings, clauses and simple steps, as `wfdsl fmt`
writes them. The formatter lays these out in lines; `graph` labels its nodes
and edges with them, so a diagram says what the source says.
"""

from __future__ import annotations

from collections.abc import Callable

from wfdsl.syntax import nodes as n


def quote(value: str) -> str:
    """A string literal for `value` with the canonical escapes.

    >>> print(quote('say "hi"\\tnow'))
    "say \\"hi\\"\\tnow"
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def value_text(value: n.Node) -> str:
    if isinstance(value, n.StringLit):
        return quote(value.value)
    if isinstance(value, n.BoolLit):
        return "true" if value.value else "false"
    if isinstance(value, n.PercentLit):
        return f"{value.text}%"
    if isinstance(value, n.ListLit):
        return "[" + ", ".join(value_text(item) for item in value.items) + "]"
    if isinstance(value, n.PropertyRef):
        return value.dotted
    if isinstance(value, (n.NumberLit, n.DateLit, n.TimeLit, n.DateTimeLit)):
        return value.text
    raise TypeError(f"not a value: {type(value).__name__}")  # pragma: no cover


def duration_text(duration: n.Duration) -> str:
    """`1 day 6 hours`: singular for an amount of 1, plural otherwise."""
    return " ".join(f"{part.amount} {part.unit}{'' if part.amount == '1' else 's'}" for part in duration.parts)


def event_text(event: n.Node) -> str:
    if isinstance(event, n.EventRef):
        if event.criteria is None:
            return event.name
        return f"{event.name}({criteria_text(event.criteria)})"
    if isinstance(event, n.PropertyChange):
        out = f"{event.prop.dotted} changed"
        if event.from_value is not None:
            out += f" from {value_text(event.from_value)}"
        if event.to_value is not None:
            out += f" to {value_text(event.to_value)}"
        return out
    raise TypeError(f"not an event: {type(event).__name__}")  # pragma: no cover


_TEXT_OPS = {
    "contains": "contains",
    "not_contains": "not contains",
    "starts_with": "starts with",
    "ends_with": "ends with",
}


def _precedence(criteria: n.Node) -> int:
    if isinstance(criteria, n.Or):
        return 1
    if isinstance(criteria, n.And):
        return 2
    return 3


def operand(child: n.Node, parent: int) -> str:
    """A child of an `or` (1), `and` (2) or `not` (3), parenthesised when it must be.

    A chain inside a chain of the same kind keeps its parentheses, so the
    output parses to the same tree (`a or (b or c)` stays nested).
    """
    text = criteria_text(child)
    return f"({text})" if _precedence(child) <= parent and _precedence(child) < 3 else text


def criteria_text(criteria: n.Node) -> str:
    """Criteria on one line with the fewest parentheses that keep its tree.

    >>> from wfdsl.syntax.parser import parse
    >>> text = 'not ((contact.a = 1) and (contact.b = 2 or contact.c = 3))'
    >>> source = f'workflow "W" {{ object contact enroll when {text} steps {{ end }} }}'
    >>> criteria_text(parse(source).module.workflows[0].trigger.criteria)
    'not (contact.a = 1 and (contact.b = 2 or contact.c = 3))'
    """
    c = criteria
    if isinstance(c, n.Or):
        return " or ".join(operand(item, 1) for item in c.items)
    if isinstance(c, n.And):
        return " and ".join(operand(item, 2) for item in c.items)
    if isinstance(c, n.Not):
        return f"not {operand(c.item, 3)}"
    if isinstance(c, n.Compare):
        return f"{c.prop.dotted} {c.op} {value_text(c.value)}"
    if isinstance(c, n.IsKnown):
        return f"{c.prop.dotted} is {'known' if c.known else 'unknown'}"
    if isinstance(c, n.InValues):
        return f"{c.prop.dotted} {'not in' if c.negated else 'in'} {value_text(c.values)}"
    if isinstance(c, n.Between):
        return f"{c.prop.dotted} between {value_text(c.low)} and {value_text(c.high)}"
    if isinstance(c, n.TextMatch):
        return f"{c.prop.dotted} {_TEXT_OPS[c.op]} {value_text(c.value)}"
    if isinstance(c, n.HistoryMatch):
        return f"{c.prop.dotted} has {'ever' if c.ever else 'never'} been {value_text(c.value)}"
    if isinstance(c, n.DateCompare):
        return f"{c.prop.dotted} {c.op} {value_text(c.value)}"
    if isinstance(c, n.RelativeDate):
        if c.op == "more_than_ago":
            return f"{c.prop.dotted} more than {duration_text(c.duration)} ago"
        word = "last" if c.op == "within_last" else "next"
        return f"{c.prop.dotted} within {word} {duration_text(c.duration)}"
    if isinstance(c, n.InList):
        return f"in list {value_text(c.name)}"
    if isinstance(c, n.EnrolledIn):
        return f"enrolled in workflow {value_text(c.workflow)}"
    if isinstance(c, n.ReachedGoal):
        return f"reached goal of workflow {value_text(c.workflow)}"
    if isinstance(c, n.HasEvent):
        out = f"has {'not ' if c.negated else ''}{event_text(c.event)}"
        if c.at_least is not None:
            out += f" at least {c.at_least.text} time{'' if c.at_least.text == '1' else 's'}"
        if c.within is not None:
            out += f" within last {duration_text(c.within)}"
        return out
    if isinstance(c, n.Updated):
        return f"{c.prop.dotted} {'not ' if c.negated else ''}updated within last {duration_text(c.within)}"
    if isinstance(c, n.Received):
        return "received"
    raise TypeError(f"not criteria: {type(c).__name__}")  # pragma: no cover


def recurrence_text(rec: n.Node) -> str:
    if isinstance(rec, n.Daily):
        return f"daily at {rec.at.text}"
    if isinstance(rec, n.Weekly):
        return f"weekly on {', '.join(d.value for d in rec.days)} at {rec.at.text}"
    if isinstance(rec, n.Monthly):
        return f"monthly on day {rec.day.text} at {rec.at.text}"
    if isinstance(rec, n.Once):
        return f"once at {rec.at.text}"
    raise TypeError(type(rec).__name__)  # pragma: no cover


def setting_text(setting: n.Node) -> str:
    s = setting
    if isinstance(s, n.TimezoneSetting):
        return f"timezone {value_text(s.name)}"
    if isinstance(s, n.ExecuteSetting):
        days = ", ".join(f"{d.start}..{d.end}" if isinstance(d, n.DayRange) else d.name for d in s.days)
        return f"execute on {days} from {s.start.text} to {s.end.text}"
    if isinstance(s, n.PauseSetting):
        return "pause on " + ", ".join(d.text for d in s.dates)
    if isinstance(s, n.EnrollExistingSetting):
        return "enroll existing records"
    if isinstance(s, n.UnenrollUnmetSetting):
        return "unenroll if criteria unmet"
    if isinstance(s, n.OnFailureSetting):
        return f"on failure {s.mode}"
    raise TypeError(type(s).__name__)  # pragma: no cover


def _at(time: n.TimeLit | None) -> str:
    return "" if time is None else f" at {time.text}"


_SIMPLE: dict[type[n.Node], Callable[[n.Node], str]] = {}


def _simple(cls: type[n.Node]) -> Callable[[Callable[[n.Node], str]], Callable[[n.Node], str]]:
    def register(fn: Callable[[n.Node], str]) -> Callable[[n.Node], str]:
        _SIMPLE[cls] = fn
        return fn

    return register


def step_text(step: n.Node) -> str:
    """One simple step (not `if`, `branch on`, `split`) as canonical text on one line.

    >>> from wfdsl.syntax.parser import parse
    >>> module = parse('workflow "W" { object contact steps { delay 1 days 2 hour } }').module
    >>> step_text(module.workflows[0].steps[0])
    'delay 1 day 2 hours'
    """
    if isinstance(step, n.CreateRecord):
        fields = ", ".join(f"{f.name.value} = {value_text(f.value)}" for f in step.fields)
        return (
            f"create {step.object_type.value} {{ {fields} }}" if fields else (f"create {step.object_type.value} {{}}")
        )
    return _SIMPLE[type(step)](step)


@_simple(n.Delay)
def _(s: n.Node) -> str:
    assert isinstance(s, n.Delay)
    return f"delay {duration_text(s.duration)}"


@_simple(n.DelayUntilDay)
def _(s: n.Node) -> str:
    assert isinstance(s, n.DelayUntilDay)
    if s.day is None:
        assert s.at is not None
        return f"delay until {s.at.text}"
    return f"delay until {s.day}{_at(s.at)}"


@_simple(n.DelayUntilDate)
def _(s: n.Node) -> str:
    assert isinstance(s, n.DelayUntilDate)
    out = f"delay until {value_text(s.base)}"
    if s.sign is not None and s.offset is not None:
        out += f" {s.sign} {duration_text(s.offset)}"
    return out + _at(s.at)


@_simple(n.DelayUntilAnchor)
def _(s: n.Node) -> str:
    assert isinstance(s, n.DelayUntilAnchor)
    if s.offset is None:
        return f"delay until anchor{_at(s.at)}"
    return f"delay until {duration_text(s.offset)} {s.side} anchor{_at(s.at)}"


@_simple(n.WaitFor)
def _(s: n.Node) -> str:
    assert isinstance(s, n.WaitFor)
    return f"wait for {event_text(s.event)} up to {duration_text(s.timeout)}"


@_simple(n.SendEmail)
def _(s: n.Node) -> str:
    assert isinstance(s, n.SendEmail)
    return f"send email {value_text(s.email)}"


@_simple(n.Notify)
def _(s: n.Node) -> str:
    assert isinstance(s, n.Notify)
    out = "notify " + ("owner" if s.recipient is None else value_text(s.recipient))
    if s.subject is not None:
        out += f" subject {value_text(s.subject)}"
    if s.body is not None:
        out += f" body {value_text(s.body)}"
    return out


@_simple(n.SetProperty)
def _(s: n.Node) -> str:
    assert isinstance(s, n.SetProperty)
    return f"set {s.prop.dotted} = {value_text(s.value)}"


@_simple(n.ClearProperty)
def _(s: n.Node) -> str:
    assert isinstance(s, n.ClearProperty)
    return f"clear {s.prop.dotted}"


@_simple(n.Increment)
def _(s: n.Node) -> str:
    assert isinstance(s, n.Increment)
    return f"increment {s.prop.dotted} by {s.amount.text}"


@_simple(n.CopyProperty)
def _(s: n.Node) -> str:
    assert isinstance(s, n.CopyProperty)
    return f"copy {s.source.dotted} to {s.target.dotted}"


@_simple(n.CreateTask)
def _(s: n.Node) -> str:
    assert isinstance(s, n.CreateTask)
    out = f"create task {value_text(s.title)}"
    if s.due is not None:
        out += f" due in {duration_text(s.due)}"
    if s.assign_owner:
        out += " assign to owner"
    elif s.assignee is not None:
        out += f" assign to {value_text(s.assignee)}"
    if s.notes is not None:
        out += f" notes {value_text(s.notes)}"
    if s.priority is not None:
        out += f" priority {s.priority}"
    return out


@_simple(n.AssignOwner)
def _(s: n.Node) -> str:
    assert isinstance(s, n.AssignOwner)
    return f"assign owner {value_text(s.owner)}"


@_simple(n.RotateOwner)
def _(s: n.Node) -> str:
    assert isinstance(s, n.RotateOwner)
    return f"rotate owner among {value_text(s.owners)}"


@_simple(n.AddToList)
def _(s: n.Node) -> str:
    assert isinstance(s, n.AddToList)
    return f"add to list {value_text(s.name)}"


@_simple(n.RemoveFromList)
def _(s: n.Node) -> str:
    assert isinstance(s, n.RemoveFromList)
    return f"remove from list {value_text(s.name)}"


@_simple(n.EnrollInWorkflow)
def _(s: n.Node) -> str:
    assert isinstance(s, n.EnrollInWorkflow)
    return f"enroll in workflow {value_text(s.workflow)}"


@_simple(n.UnenrollFromWorkflow)
def _(s: n.Node) -> str:
    assert isinstance(s, n.UnenrollFromWorkflow)
    return f"unenroll from workflow {value_text(s.workflow)}"


@_simple(n.Webhook)
def _(s: n.Node) -> str:
    assert isinstance(s, n.Webhook)
    out = f"webhook {s.method} {value_text(s.url)}"
    return out + (f" body {value_text(s.body)}" if s.body is not None else "")


@_simple(n.Placeholder)
def _(s: n.Node) -> str:
    assert isinstance(s, n.Placeholder)
    return f"placeholder {value_text(s.text)}"


@_simple(n.Label)
def _(s: n.Node) -> str:
    assert isinstance(s, n.Label)
    return f"label {value_text(s.name)}"


@_simple(n.GoTo)
def _(s: n.Node) -> str:
    assert isinstance(s, n.GoTo)
    return f"go to {value_text(s.target)}"


@_simple(n.End)
def _(s: n.Node) -> str:
    return "end"


def trigger_event_text(event: n.TriggerEvent) -> str:
    """One event of an `enroll on` trigger: `form.submitted`, `not email.opened`."""
    return ("not " if event.negated else "") + event_text(event.event)


def anchor_text(clause: n.AnchorClause) -> str:
    """`anchor contact.birthday annually`, `anchor date 2026-12-24`."""
    target = clause.target
    text = target.dotted if isinstance(target, n.PropertyRef) else f"date {target.text}"
    return f"anchor {text}{' annually' if clause.annually else ''}"


def reenroll_text(clause: n.ReenrollClause) -> str:
    """`reenroll every time`, `reenroll on change of contact.a, contact.b`."""
    if clause.every_time:
        return "reenroll every time"
    return "reenroll on change of " + ", ".join(p.dotted for p in clause.properties)
