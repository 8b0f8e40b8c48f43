"""Syntax: a grammar rule's children and span in, its `nodes` out.

The AST is built while the LALR parser (`lalr`, or Lark's on the error path)
reduces (`reductions`): each grammar rule's `Builder` method makes its node at
once, named fields from the children's positions, with the span of everything
it was reduced from.
"""

from __future__ import annotations

import re
from typing import Any

from wfdsl.spans import Span
from wfdsl.syntax import nodes as n
from wfdsl.syntax.errors import bad_escape, repeated_task_option, token_span
from wfdsl.syntax.tokens import Token


class _Dotted:
    __slots__ = ("text", "span")

    def __init__(self, text: str, span: Span) -> None:
        self.text = text
        self.span = span


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_UNITS = {
    "minute": "minute",
    "minutes": "minute",
    "hour": "hour",
    "hours": "hour",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
}


def _bad_escape_column(raw: str) -> int | None:
    """The offset in a string literal (quotes included) of its first unknown escape."""
    i = 1
    while i < len(raw) - 1:
        if raw[i] == "\\":
            if raw[i + 1] not in _ESCAPES:
                return i
            i += 2
            continue
        i += 1
    return None


def decode_string(raw: str) -> tuple[str, str | None]:
    """The value of a string literal (quotes included) and an error, if any."""
    body = raw[1:-1]
    if "\\" not in body:
        return body, None
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            escaped = body[i + 1]
            if escaped not in _ESCAPES:
                return body, f'found the escape `\\{escaped}`, expected one of `\\"`, `\\\\`, `\\n`, `\\t`'
            out.append(_ESCAPES[escaped])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out), None


class _Rules:
    """What every rule's builder shares: the file's path, the extents of what
    was reduced so far, and the nodes made from single tokens."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.extents: dict[int, tuple[int, int, int, int]] = {}

    def _tspan(self, token: Token) -> Span:
        return token_span(token, self.path)

    def _string(self, token: Token) -> n.StringLit:
        span = self._tspan(token)
        value, problem = decode_string(str(token))
        if problem is not None:
            at = _bad_escape_column(str(token))
            if at is not None and span.line == span.end_line:
                col = span.col + at
                span = Span(file=self.path, line=span.line, col=col, end_line=span.line, end_col=col + 2)
            raise bad_escape(problem, span)
        variables = []
        raw = str(token)
        for match in _VARIABLE.finditer(raw):
            path = tuple(part.strip() for part in match.group(1).split("."))
            start = span.col + match.start()
            variables.append(
                n.Variable(
                    span=Span(
                        file=self.path,
                        line=span.line,
                        col=start,
                        end_line=span.line,
                        end_col=start + len(match.group()),
                    ),
                    path=path,
                )
            )
        return n.StringLit(span=span, value=value, variables=tuple(variables))

    def _time(self, token: Token | None) -> n.TimeLit:
        assert token is not None
        return n.TimeLit(span=self._tspan(token), text=str(token))

    def _maybe_time(self, token: Token | None) -> n.TimeLit | None:
        return None if token is None else self._time(token)

    def _maybe_string(self, token: Token | None) -> n.StringLit | None:
        return None if token is None else self._string(token)


class _ClauseRules(_Rules):
    """The file, the workflow and its clauses: triggers, goal, settings."""

    # -- file and workflow
    def start(self, meta: Any, children: list[n.Workflow]) -> list[n.Workflow]:
        return children

    def workflow(self, meta: Any, children: list[Any]) -> n.Workflow:
        name, *clauses = children
        return n.Workflow(span=meta, name=self._string(name), clauses=tuple(clauses))

    def object_clause(self, meta: Any, children: list[Token]) -> n.ObjectClause:
        (name,) = children
        return n.ObjectClause(span=meta, type=n.Name(span=self._tspan(name), value=str(name)))

    def description_clause(self, meta: Any, children: list[Token]) -> n.DescriptionClause:
        return n.DescriptionClause(span=meta, text=self._string(children[0]))

    # -- triggers
    def enroll_manual(self, meta: Any, children: list[Any]) -> n.EnrollClause:
        span = meta
        return n.EnrollClause(span=span, trigger=n.ManualTrigger(span=span))

    def enroll_filter(self, meta: Any, children: list[Any]) -> n.EnrollClause:
        span = meta
        return n.EnrollClause(span=span, trigger=n.FilterTrigger(span=span, criteria=children[0]))

    def enroll_schedule(self, meta: Any, children: list[Any]) -> n.EnrollClause:
        recurrence, refinement = children
        span = meta
        trigger = n.ScheduleTrigger(span=span, recurrence=recurrence, refinement=refinement)
        return n.EnrollClause(span=span, trigger=trigger)

    def enroll_event(self, meta: Any, children: list[Any]) -> n.EnrollClause:
        *events, refinement = children
        span = meta
        trigger = n.EventTrigger(span=span, events=tuple(events), refinement=refinement)
        return n.EnrollClause(span=span, trigger=trigger)

    def refinement(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def trigger_event(self, meta: Any, children: list[Any]) -> n.TriggerEvent:
        return n.TriggerEvent(span=meta, event=children[0], negated=False)

    def negated_event(self, meta: Any, children: list[Any]) -> n.TriggerEvent:
        return n.TriggerEvent(span=meta, event=children[0], negated=True)

    def event_ref(self, meta: Any, children: list[Any]) -> n.EventRef:
        dotted, args = children
        return n.EventRef(span=meta, name=dotted.text, name_span=dotted.span, criteria=args)

    def event_args(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def property_change(self, meta: Any, children: list[Any]) -> n.PropertyChange:
        dotted, from_value, to_value = children
        prop = n.PropertyRef(span=dotted.span, parts=tuple(dotted.text.split(".")))
        return n.PropertyChange(span=meta, prop=prop, from_value=from_value, to_value=to_value)

    def change_from(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    change_to = change_from

    def rec_daily(self, meta: Any, children: list[Token]) -> n.Daily:
        return n.Daily(span=meta, at=self._time(children[0]))

    def rec_weekly(self, meta: Any, children: list[Token]) -> n.Weekly:
        *days, at = children
        return n.Weekly(
            span=meta,
            days=tuple(n.Name(span=self._tspan(d), value=str(d)) for d in days),
            at=self._time(at),
        )

    def rec_monthly(self, meta: Any, children: list[Token]) -> n.Monthly:
        day, at = children
        return n.Monthly(
            span=meta,
            day=n.NumberLit(span=self._tspan(day), text=str(day)),
            at=self._time(at),
        )

    def rec_once(self, meta: Any, children: list[Token]) -> n.Once:
        (at,) = children
        return n.Once(span=meta, at=n.DateTimeLit(span=self._tspan(at), text=str(at)))

    def reenroll_every_time(self, meta: Any, children: list[Any]) -> n.ReenrollClause:
        return n.ReenrollClause(span=meta, every_time=True)

    def reenroll_on_change(self, meta: Any, children: list[Any]) -> n.ReenrollClause:
        return n.ReenrollClause(span=meta, every_time=False, properties=tuple(children))

    # -- goal, unenroll, suppression, anchor
    def goal_clause(self, meta: Any, children: list[Any]) -> n.GoalClause:
        return n.GoalClause(span=meta, criteria=children[0])

    def unenroll_clause(self, meta: Any, children: list[Any]) -> n.UnenrollClause:
        return n.UnenrollClause(span=meta, criteria=children[0])

    def suppress_clause(self, meta: Any, children: list[Token]) -> n.SuppressClause:
        return n.SuppressClause(span=meta, lists=tuple(self._string(t) for t in children))

    def anchor_property(self, meta: Any, children: list[Any]) -> n.AnchorClause:
        prop, annually = children
        return n.AnchorClause(span=meta, target=prop, annually=annually is not None)

    def anchor_date(self, meta: Any, children: list[Any]) -> n.AnchorClause:
        date, annually = children
        return n.AnchorClause(
            span=meta,
            target=n.DateLit(span=self._tspan(date), text=str(date)),
            annually=annually is not None,
        )

    # -- settings
    def settings_clause(self, meta: Any, children: list[Any]) -> n.SettingsClause:
        return n.SettingsClause(span=meta, settings=tuple(children))

    def set_timezone(self, meta: Any, children: list[Token]) -> n.TimezoneSetting:
        return n.TimezoneSetting(span=meta, name=self._string(children[0]))

    def set_execute(self, meta: Any, children: list[Any]) -> n.ExecuteSetting:
        *days, start, end = children
        return n.ExecuteSetting(span=meta, days=tuple(days), start=self._time(start), end=self._time(end))

    def day_range(self, meta: Any, children: list[Token]) -> n.DayRange:
        start, _dots, end = children
        return n.DayRange(span=meta, start=str(start), end=str(end))

    def day_single(self, meta: Any, children: list[Token]) -> n.Day:
        return n.Day(span=meta, name=str(children[0]))

    def set_pause(self, meta: Any, children: list[Token]) -> n.PauseSetting:
        return n.PauseSetting(
            span=meta,
            dates=tuple(n.DateLit(span=self._tspan(d), text=str(d)) for d in children),
        )

    def set_enroll_existing(self, meta: Any, children: list[Any]) -> n.EnrollExistingSetting:
        return n.EnrollExistingSetting(span=meta)

    def set_unenroll_unmet(self, meta: Any, children: list[Any]) -> n.UnenrollUnmetSetting:
        return n.UnenrollUnmetSetting(span=meta)

    def set_on_failure(self, meta: Any, children: list[Token]) -> n.OnFailureSetting:
        return n.OnFailureSetting(span=meta, mode=str(children[0]))


class _CriteriaRules(_Rules):
    """Criteria and values."""

    # -- criteria
    def or_expr(self, meta: Any, children: list[Any]) -> n.Or:
        return n.Or(span=meta, items=tuple(children))

    def and_expr(self, meta: Any, children: list[Any]) -> n.And:
        return n.And(span=meta, items=tuple(children))

    def not_expr(self, meta: Any, children: list[Any]) -> n.Not:
        return n.Not(span=meta, item=children[0])

    def compare(self, meta: Any, children: list[Any]) -> n.Compare:
        prop, op, value = children
        return n.Compare(span=meta, prop=prop, op=op, value=value)

    def cmp_op(self, meta: Any, children: list[Token]) -> str:
        return str(children[0])

    def is_known(self, meta: Any, children: list[Any]) -> n.IsKnown:
        prop, word = children
        return n.IsKnown(span=meta, prop=prop, known=str(word) == "known")

    def in_values(self, meta: Any, children: list[Any]) -> n.InValues:
        prop, values = children
        return n.InValues(span=meta, prop=prop, values=values, negated=False)

    def not_in_values(self, meta: Any, children: list[Any]) -> n.InValues:
        prop, values = children
        return n.InValues(span=meta, prop=prop, values=values, negated=True)

    def between(self, meta: Any, children: list[Any]) -> n.Between:
        prop, low, high = children
        return n.Between(span=meta, prop=prop, low=low, high=high)

    def _text_match(self, op: str, meta: Any, children: list[Any]) -> n.TextMatch:
        prop, value = children
        return n.TextMatch(span=meta, prop=prop, op=op, value=self._string(value))

    def contains(self, meta: Any, children: list[Any]) -> n.TextMatch:
        return self._text_match("contains", meta, children)

    def not_contains(self, meta: Any, children: list[Any]) -> n.TextMatch:
        return self._text_match("not_contains", meta, children)

    def starts_with(self, meta: Any, children: list[Any]) -> n.TextMatch:
        return self._text_match("starts_with", meta, children)

    def ends_with(self, meta: Any, children: list[Any]) -> n.TextMatch:
        return self._text_match("ends_with", meta, children)

    def has_ever_been(self, meta: Any, children: list[Any]) -> n.HistoryMatch:
        prop, value = children
        return n.HistoryMatch(span=meta, prop=prop, ever=True, value=value)

    def has_never_been(self, meta: Any, children: list[Any]) -> n.HistoryMatch:
        prop, value = children
        return n.HistoryMatch(span=meta, prop=prop, ever=False, value=value)

    def before(self, meta: Any, children: list[Any]) -> n.DateCompare:
        prop, value = children
        return n.DateCompare(span=meta, prop=prop, op="before", value=value)

    def after(self, meta: Any, children: list[Any]) -> n.DateCompare:
        prop, value = children
        return n.DateCompare(span=meta, prop=prop, op="after", value=value)

    def _relative(self, op: str, meta: Any, children: list[Any]) -> n.RelativeDate:
        prop, duration = children
        return n.RelativeDate(span=meta, prop=prop, op=op, duration=duration)

    def within_last(self, meta: Any, children: list[Any]) -> n.RelativeDate:
        return self._relative("within_last", meta, children)

    def within_next(self, meta: Any, children: list[Any]) -> n.RelativeDate:
        return self._relative("within_next", meta, children)

    def more_than_ago(self, meta: Any, children: list[Any]) -> n.RelativeDate:
        return self._relative("more_than_ago", meta, children)

    def in_list(self, meta: Any, children: list[Token]) -> n.InList:
        return n.InList(span=meta, name=self._string(children[0]))

    def enrolled_in(self, meta: Any, children: list[Token]) -> n.EnrolledIn:
        return n.EnrolledIn(span=meta, workflow=self._string(children[0]))

    def reached_goal(self, meta: Any, children: list[Token]) -> n.ReachedGoal:
        return n.ReachedGoal(span=meta, workflow=self._string(children[0]))

    def has_event(self, meta: Any, children: list[Any]) -> n.HasEvent:
        event, within = children
        return n.HasEvent(span=meta, event=event, negated=False, within=within)

    def has_event_count(self, meta: Any, children: list[Any]) -> n.HasEvent:
        event, count, _times, within = children
        return n.HasEvent(
            span=meta,
            event=event,
            negated=False,
            within=within,
            at_least=n.NumberLit(span=self._tspan(count), text=str(count)),
        )

    def updated_within(self, meta: Any, children: list[Any]) -> n.Updated:
        prop, duration = children
        return n.Updated(span=meta, prop=prop, within=duration, negated=False)

    def not_updated_within(self, meta: Any, children: list[Any]) -> n.Updated:
        prop, duration = children
        return n.Updated(span=meta, prop=prop, within=duration, negated=True)

    def has_not_event(self, meta: Any, children: list[Any]) -> n.HasEvent:
        event, within = children
        return n.HasEvent(span=meta, event=event, negated=True, within=within)

    def within(self, meta: Any, children: list[Any]) -> Any:
        return children[0]

    def received(self, meta: Any, children: list[Any]) -> n.Received:
        return n.Received(span=meta)

    def prop_ref(self, meta: Any, children: list[Any]) -> n.PropertyRef:
        dotted = children[0]
        return n.PropertyRef(span=dotted.span, parts=tuple(dotted.text.split(".")))

    def dotted_name(self, meta: Any, children: list[Token]) -> _Dotted:
        return _Dotted(".".join(str(t) for t in children), meta)

    # -- values
    def string(self, meta: Any, children: list[Token]) -> n.StringLit:
        return self._string(children[0])

    def number(self, meta: Any, children: list[Token]) -> n.NumberLit:
        return n.NumberLit(span=meta, text=str(children[0]))

    def boolean(self, meta: Any, children: list[Token]) -> n.BoolLit:
        return n.BoolLit(span=meta, value=str(children[0]) == "true")

    def date(self, meta: Any, children: list[Token]) -> n.DateLit:
        return n.DateLit(span=meta, text=str(children[0]))

    def time(self, meta: Any, children: list[Token]) -> n.TimeLit:
        return n.TimeLit(span=meta, text=str(children[0]))

    def datetime(self, meta: Any, children: list[Token]) -> n.DateTimeLit:
        return n.DateTimeLit(span=meta, text=str(children[0]))

    def percent(self, meta: Any, children: list[Token]) -> n.PercentLit:
        return n.PercentLit(span=meta, text=str(children[0])[:-1])

    def list_lit(self, meta: Any, children: list[Any]) -> n.ListLit:
        return n.ListLit(span=meta, items=tuple(children))

    def duration(self, meta: Any, children: list[n.DurationPart]) -> n.Duration:
        return n.Duration(span=meta, parts=tuple(children))

    def duration_part(self, meta: Any, children: list[Token]) -> n.DurationPart:
        amount, unit = children
        return n.DurationPart(span=meta, amount=str(amount), unit=_UNITS[str(unit)])


class _StepRules(_Rules):
    """Steps and their blocks."""

    # -- steps
    def steps_clause(self, meta: Any, children: list[n.Block]) -> n.StepsClause:
        return n.StepsClause(span=meta, body=children[0])

    def block(self, meta: Any, children: list[Any]) -> n.Block:
        return n.Block(span=meta, steps=tuple(children))

    def delay(self, meta: Any, children: list[Any]) -> n.Delay:
        return n.Delay(span=meta, duration=children[0])

    def delay_until_day(self, meta: Any, children: list[Any]) -> n.DelayUntilDay:
        day, at = children
        return n.DelayUntilDay(span=meta, day=str(day), at=self._maybe_time(at))

    def delay_until_time(self, meta: Any, children: list[Any]) -> n.DelayUntilDay:
        return n.DelayUntilDay(span=meta, day=None, at=self._time(children[0]))

    def delay_until_date(self, meta: Any, children: list[Any]) -> n.DelayUntilDate:
        base, sign, offset, at = children
        return n.DelayUntilDate(
            span=meta,
            base=base,
            sign=None if sign is None else str(sign),
            offset=offset,
            at=self._maybe_time(at),
        )

    def date_base(self, meta: Any, children: list[Any]) -> Any:
        (item,) = children
        if isinstance(item, Token):
            cls = n.DateTimeLit if item.type == "DATETIME" else n.DateLit
            return cls(span=self._tspan(item), text=str(item))
        return item

    def delay_until_anchor(self, meta: Any, children: list[Any]) -> n.DelayUntilAnchor:
        return n.DelayUntilAnchor(span=meta, offset=None, side=None, at=self._maybe_time(children[0]))

    def delay_until_anchor_offset(self, meta: Any, children: list[Any]) -> n.DelayUntilAnchor:
        offset, side, at = children
        return n.DelayUntilAnchor(span=meta, offset=offset, side=str(side), at=self._maybe_time(at))

    def wait_for(self, meta: Any, children: list[Any]) -> n.WaitFor:
        event, timeout = children
        return n.WaitFor(span=meta, event=event, timeout=timeout)

    def if_step(self, meta: Any, children: list[Any]) -> n.If:
        condition, body, rest = children
        first = n.IfBranch(
            span=Span(
                file=self.path, line=meta.line, col=meta.col, end_line=body.span.end_line, end_col=body.span.end_col
            ),
            condition=condition,
            body=body,
        )
        branches = [first]
        else_body = None
        while rest is not None:
            if isinstance(rest, n.Block):
                else_body = rest
                break
            branch, rest = rest
            branches.append(branch)
        return n.If(span=meta, branches=tuple(branches), else_body=else_body)

    def else_block(self, meta: Any, children: list[Any]) -> n.Block:
        block: n.Block = children[0]
        return block

    def else_if(self, meta: Any, children: list[Any]) -> tuple[n.IfBranch, Any]:
        condition, body, rest = children
        branch = n.IfBranch(
            span=Span(
                file=self.path, line=meta.line, col=meta.col, end_line=body.span.end_line, end_col=body.span.end_col
            ),
            condition=condition,
            body=body,
        )
        return branch, rest

    def branch_on(self, meta: Any, children: list[Any]) -> n.BranchOn:
        prop, *cases, else_body = children
        return n.BranchOn(span=meta, prop=prop, cases=tuple(cases), else_body=else_body)

    def branch_case(self, meta: Any, children: list[Any]) -> n.BranchCase:
        value, body = children
        return n.BranchCase(span=meta, value=value, body=body)

    def split(self, meta: Any, children: list[Any]) -> n.Split:
        return n.Split(span=meta, arms=tuple(children))

    def split_arm(self, meta: Any, children: list[Any]) -> n.SplitArm:
        percent, body = children
        return n.SplitArm(
            span=meta,
            percent=n.PercentLit(span=self._tspan(percent), text=str(percent)[:-1]),
            body=body,
        )

    def send_email(self, meta: Any, children: list[Token]) -> n.SendEmail:
        return n.SendEmail(span=meta, email=self._string(children[0]))

    def notify(self, meta: Any, children: list[Any]) -> n.Notify:
        recipient, subject, body = children
        return n.Notify(
            span=meta,
            recipient=recipient,
            subject=self._maybe_string(subject),
            body=self._maybe_string(body),
        )

    def recipient(self, meta: Any, children: list[Token]) -> n.StringLit | None:
        (token,) = children
        return None if token.type == "OWNER" else self._string(token)

    def set_property(self, meta: Any, children: list[Any]) -> n.SetProperty:
        prop, value = children
        return n.SetProperty(span=meta, prop=prop, value=value)

    def clear_property(self, meta: Any, children: list[Any]) -> n.ClearProperty:
        return n.ClearProperty(span=meta, prop=children[0])

    def increment(self, meta: Any, children: list[Any]) -> n.Increment:
        prop, amount = children
        return n.Increment(
            span=meta,
            prop=prop,
            amount=n.NumberLit(span=self._tspan(amount), text=str(amount)),
        )

    def copy_property(self, meta: Any, children: list[Any]) -> n.CopyProperty:
        source, target = children
        return n.CopyProperty(span=meta, source=source, target=target)

    def create_task(self, meta: Any, children: list[Any]) -> n.CreateTask:
        title, *options = children
        values: dict[str, Any] = {}
        for name, value, span in options:
            if name in values:
                raise repeated_task_option(name, span)
            values[name] = value
        assignee = values.pop("assign", None)
        return n.CreateTask(
            span=meta,
            title=self._string(title),
            assign_owner=assignee == "owner",
            assignee=assignee if isinstance(assignee, n.StringLit) else None,
            **values,
        )

    def task_due(self, meta: Any, children: list[Any]) -> tuple[str, Any, Span]:
        return "due", children[0], meta

    def task_assign(self, meta: Any, children: list[Token]) -> tuple[str, Any, Span]:
        _assign_to, target = children
        value = "owner" if target.type == "OWNER" else self._string(target)
        return "assign", value, meta

    def task_notes(self, meta: Any, children: list[Token]) -> tuple[str, Any, Span]:
        return "notes", self._string(children[0]), meta

    def task_priority(self, meta: Any, children: list[Token]) -> tuple[str, Any, Span]:
        return "priority", str(children[0]), meta

    def create_record(self, meta: Any, children: list[Any]) -> n.CreateRecord:
        object_type, *fields = children
        return n.CreateRecord(
            span=meta,
            object_type=n.Name(span=self._tspan(object_type), value=str(object_type)),
            fields=tuple(fields),
        )

    def field(self, meta: Any, children: list[Any]) -> n.Field:
        name, value = children
        return n.Field(span=meta, name=n.Name(span=self._tspan(name), value=str(name)), value=value)

    def assign_owner(self, meta: Any, children: list[Token]) -> n.AssignOwner:
        return n.AssignOwner(span=meta, owner=self._string(children[0]))

    def rotate_owner(self, meta: Any, children: list[Any]) -> n.RotateOwner:
        return n.RotateOwner(span=meta, owners=children[0])

    def add_to_list(self, meta: Any, children: list[Token]) -> n.AddToList:
        return n.AddToList(span=meta, name=self._string(children[0]))

    def remove_from_list(self, meta: Any, children: list[Token]) -> n.RemoveFromList:
        return n.RemoveFromList(span=meta, name=self._string(children[0]))

    def enroll_in_workflow(self, meta: Any, children: list[Token]) -> n.EnrollInWorkflow:
        return n.EnrollInWorkflow(span=meta, workflow=self._string(children[0]))

    def unenroll_from_workflow(self, meta: Any, children: list[Token]) -> n.UnenrollFromWorkflow:
        return n.UnenrollFromWorkflow(span=meta, workflow=self._string(children[0]))

    def webhook(self, meta: Any, children: list[Any]) -> n.Webhook:
        method, url, body = children
        return n.Webhook(
            span=meta,
            method=str(method),
            url=self._string(url),
            body=self._maybe_string(body),
        )

    def placeholder(self, meta: Any, children: list[Token]) -> n.Placeholder:
        return n.Placeholder(span=meta, text=self._string(children[0]))

    def label(self, meta: Any, children: list[Token]) -> n.Label:
        return n.Label(span=meta, name=self._string(children[0]))

    def go_to(self, meta: Any, children: list[Token]) -> n.GoTo:
        return n.GoTo(span=meta, target=self._string(children[0]))

    def end(self, meta: Any, children: list[Any]) -> n.End:
        return n.End(span=meta)


class Builder(_ClauseRules, _CriteriaRules, _StepRules):
    """Builds `nodes` for each grammar rule. Each method gets the rule's span
    and its children by position from the grammar, and names them at once."""
