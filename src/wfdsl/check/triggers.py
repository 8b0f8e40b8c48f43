"""Trigger and goal checks: enrollment, re-enrollment, goal clauses in, diagnostics out."""

from __future__ import annotations

from collections.abc import Iterator

from wfdsl.check.context import (
    Context,
    article,
    did_you_mean,
    one_of,
    sends_email,
    trigger_events,
    triggers,
    walk_record,
)
from wfdsl.diagnostics import Diagnostic
from wfdsl.syntax import nodes as n

_KIND = {
    n.ManualTrigger: "manual",
    n.FilterTrigger: "filter",
    n.EventTrigger: "event",
    n.ScheduleTrigger: "schedule",
}
_SYNTAX = {
    "manual": "enroll manually",
    "filter": "enroll when …",
    "event": "enroll on <event>",
    "schedule": "enroll on schedule …",
}


def _choices(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    return one_of(unique) if len(unique) == 1 else f"one of {one_of(unique)}"


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _kind(trigger: n.Node) -> str:
    return _KIND[type(trigger)]


def multiple_triggers(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`multiple-triggers` and `schedule-with-event`: more than one `enroll` clause."""
    clauses = [c for c in wf.clauses if isinstance(c, n.EnrollClause)]
    if len(clauses) < 2:
        return
    first = clauses[0]
    first_kind = _kind(first.trigger)
    seen = {first_kind}
    for clause in clauses[1:]:
        kind = _kind(clause.trigger)
        pair = seen | {kind}
        if kind in ("event", "schedule") and {"event", "schedule"} <= pair:
            yield Diagnostic.of(
                "schedule-with-event",
                "found a schedule trigger and an event trigger in one workflow; "
                "expected one of them (the product forbids the combination)",
                clause.span,
                hint="split the workflow in two, one per trigger",
            )
        elif kind == first_kind:
            same = [c.trigger for c in clauses if _kind(c.trigger) == kind]
            if n.combine_triggers(same) is not None:
                pass  # one trigger (`nodes.combine_triggers`)
            elif kind == "event":
                yield Diagnostic.of(
                    "multiple-triggers",
                    f"found a second `{_SYNTAX[kind]}` clause (the first is on line "
                    f"{first.span.line}) with an `only if` among them; expected one "
                    "`enroll on` clause when `only if` refines the events",
                    clause.span,
                    hint="list the events in one clause: `enroll on a or b only if …`",
                )
            else:
                yield Diagnostic.of(
                    "multiple-triggers",
                    f"found a second `{_SYNTAX[kind]}` clause (the first is on line "
                    f"{first.span.line}); expected one schedule per workflow",
                    clause.span,
                    hint="split the workflow in two, one per schedule",
                )
        else:
            yield Diagnostic.of(
                "multiple-triggers",
                f"found {_a(kind)} trigger after {_a(first_kind)} trigger (line "
                f"{first.span.line}); "
                "expected one trigger kind per workflow",
                clause.span,
                hint="keep one kind; a workflow enrolls through one kind of trigger",
            )
        seen.add(kind)


def negated_event_trigger(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`negated-event-trigger`: `enroll on not <event>`."""
    for trigger in triggers(wf):
        if not isinstance(trigger, n.EventTrigger):
            continue
        for item in trigger.events:
            if item.negated:
                name = item.event.name if isinstance(item.event, n.EventRef) else "the property change"
                yield Diagnostic.of(
                    "negated-event-trigger",
                    f"found `enroll on not {name}`: the absence of an event cannot trigger "
                    "enrollment; expected an event that happens",
                    item.span,
                    hint=f"test it with `has not {name}` in an `if` branch, or use a filter "
                    f"trigger such as `enroll when … and has not {name}`",
                )


def reenroll_mismatch(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`reenroll-mismatch`: re-enrollment that does not fit the trigger."""
    clause = wf.first(n.ReenrollClause)
    if not isinstance(clause, n.ReenrollClause):
        return
    trigger = wf.trigger
    kind = _kind(trigger)
    if kind == "manual":
        yield Diagnostic.of(
            "reenroll-mismatch",
            "found a `reenroll` clause in a workflow with a manual trigger; expected it only with "
            "a filter, event or schedule trigger",
            clause.span,
            hint="remove it: a record can always be enrolled again by hand",
        )
    elif clause.every_time and kind == "filter":
        yield Diagnostic.of(
            "reenroll-mismatch",
            "found `reenroll every time` with a filter trigger; expected `reenroll on change of "
            "<property>, …` naming properties of the criteria",
            clause.span,
            hint="a filter trigger re-enrolls when a listed property changes and the criteria hold",
        )
    elif not clause.every_time and kind in ("event", "schedule"):
        yield Diagnostic.of(
            "reenroll-mismatch",
            f"found `reenroll on change of …` with an {kind} trigger; expected `reenroll every time`",
            clause.span,
            hint=f"each {'event' if kind == 'event' else 'occurrence'} can enroll the record again "
            "with `reenroll every time`",
        )
    elif not clause.every_time and isinstance(trigger, n.FilterTrigger):
        used = [node.dotted for node in walk_record(trigger.criteria) if isinstance(node, n.PropertyRef)]
        for prop in clause.properties:
            if prop.dotted in used:
                continue
            guess = did_you_mean(prop.dotted, used)
            yield Diagnostic.of(
                "reenroll-mismatch",
                (
                    f"found `{prop.dotted}` in `reenroll on change of`, but the enrollment "
                    f"criteria do not use it; expected {_choices(used)}"
                )
                if used
                else (f"found `{prop.dotted}` in `reenroll on change of`, but the enrollment criteria use no property"),
                prop.span,
                hint=guess or "list only properties that the `enroll when` criteria test",
            )


def enroll_existing_with_event(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`enroll-existing-with-event`: `enroll existing records` with an event or manual trigger."""
    kind = _kind(wf.trigger)
    if kind not in ("event", "manual"):
        return
    for setting in wf.settings:
        if isinstance(setting, n.EnrollExistingSetting):
            yield Diagnostic.of(
                "enroll-existing-with-event",
                f"found `enroll existing records` with {_a(kind)} trigger; it only applies to "
                "filter "
                "and schedule triggers (past events are never replayed)",
                setting.span,
                hint=("remove the setting, or use a filter trigger to enroll records that already qualify"),
            )


def goal_not_contact(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`goal-not-contact`: `goal` in a workflow whose object is not contact."""
    object_type = wf.object_type
    if object_type is None or object_type == "contact":
        return
    for clause in wf.clauses:
        if isinstance(clause, n.GoalClause):
            yield Diagnostic.of(
                "goal-not-contact",
                f"found a `goal` in {article(object_type)} workflow; goals exist only in contact workflows",
                clause.span,
                hint="use `unenroll when <criteria>` to stop records that reached the outcome",
            )


def goal_without_marketing_email(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`goal-without-marketing-email`: a goal, and no `send email` step."""
    goal = wf.first(n.GoalClause)
    if goal is None or sends_email(wf) or wf.object_type not in (None, "contact"):
        return
    yield Diagnostic.of(
        "goal-without-marketing-email",
        "found a `goal` in a workflow that sends no marketing email; its conversion rate "
        "counts emailed records only and stays 0",
        goal.span,
        hint="if the goal only stops records, use `unenroll when …` or a suppression list",
    )


def email_open_criteria(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`email-open-criteria`: a trigger or goal on `email.opened`."""
    events: list[n.Node] = list(trigger_events(wf))
    for clause in wf.clauses:
        if isinstance(clause, n.GoalClause):
            events.extend(node.event for node in walk_record(clause.criteria) if isinstance(node, n.HasEvent))
    for event in events:
        if isinstance(event, n.EventRef) and event.name == "email.opened":
            yield Diagnostic.of(
                "email-open-criteria",
                "found `email.opened` in a trigger or goal; opens are inflated by mail privacy "
                "features (images loaded by the mail provider) and are not a reliable signal",
                event.span,
                hint="prefer `email.clicked` or `email.replied`",
            )
