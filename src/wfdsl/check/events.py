"""Event checks: event references in triggers, criteria and waits in, catalog diagnostics out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from wfdsl.catalog import EVENTS, PROPERTY_CHANGED
from wfdsl.check.context import Context, article, did_you_mean, one_of, walk_record
from wfdsl.diagnostics import Diagnostic
from wfdsl.syntax import nodes as n

_EVENTS = (n.EventRef, n.PropertyChange)


def _events(ctx: Context, wf: n.Workflow) -> tuple[n.EventRef | n.PropertyChange, ...]:
    return cast("tuple[n.EventRef | n.PropertyChange, ...]", ctx.of_type(wf, _EVENTS))


def unknown_event(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`unknown-event`: an event name not in the catalog."""
    for event in _events(ctx, wf):
        if not isinstance(event, n.EventRef) or event.name in EVENTS:
            continue
        hint = did_you_mean(event.name, EVENTS)
        parts = event.name.split(".")
        if hint is None and len(parts) == 2 and ctx.schema.has_object(parts[0]):
            hint = f"to react to a property change, write `{event.name} changed`"
        yield Diagnostic.of(
            "unknown-event",
            f"found the event `{event.name}`, which is not in the event catalog; expected an "
            "event such as `form.submitted`, `email.clicked` or `list.added`",
            event.name_span,
            hint=hint or "see the event catalog in docs/checks.md#unknown-event",
        )


def event_object_mismatch(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`event-object-mismatch`: an event not available for the workflow's object type."""
    object_type = ctx.object_type(wf)
    if object_type is None:
        return
    for event in _events(ctx, wf):
        if isinstance(event, n.PropertyChange):
            owner = event.prop.parts[0]
            if len(event.prop.parts) == 2 and owner != object_type and ctx.schema.has_object(owner):
                yield Diagnostic.of(
                    "event-object-mismatch",
                    f"found a change of `{event.prop.dotted}` in {article(object_type)} "
                    "workflow; a "
                    "property "
                    "change is an event of the changed record, expected "
                    f"{article(object_type)} property",
                    event.prop.span,
                    hint=(
                        f"test `{event.prop.dotted}` in the criteria of a filter trigger "
                        "instead, or "
                        f"move this to {article(owner)} workflow"
                    ),
                )
            continue
        spec = EVENTS.get(event.name)
        if spec is None or spec.applies_to(object_type, custom_types=ctx.schema.custom_types):
            continue
        yield Diagnostic.of(
            "event-object-mismatch",
            f"found the event `{event.name}` in {article(object_type)} workflow; it applies to "
            f"{spec.describe_objects()} only",
            event.name_span,
            hint=f"use it in a {sorted(spec.objects)[0]} workflow, or pick an event that {object_type} records have",
        )


def unknown_event_attribute(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`unknown-event-attribute`: a bare name inside `event(…)` that the event does not have."""
    for event in _events(ctx, wf):
        if not isinstance(event, n.EventRef) or event.criteria is None:
            continue
        spec = EVENTS.get(event.name)
        if spec is None:
            continue
        for node in walk_record(event.criteria):
            prop = getattr(node, "prop", None)
            if isinstance(node, n.Updated) and isinstance(prop, n.PropertyRef):
                yield Diagnostic.of(
                    "type-mismatch",
                    f"found `{prop.dotted} {'not ' if node.negated else ''}updated within last …` inside "
                    f"the criteria of `{event.name}`; expected a record property: `updated` reads a "
                    "property's history, and an event's attributes have none",
                    node.span,
                    hint=f"test it outside the event: `{event.name}(…) only if contact.<property> updated within …`",
                )
                continue
            if not isinstance(prop, n.PropertyRef) or prop.dotted in spec.attributes:
                continue
            if spec.attributes:
                expected = f"one of {one_of(spec.attributes)}"
                hint = did_you_mean(prop.dotted, spec.attributes)
                if hint is None and len(prop.parts) == 2 and ctx.schema.has_object(prop.parts[0]):
                    hint = (
                        f"test record properties such as `{prop.dotted}` outside the event: "
                        f"`{event.name}(…) only if {prop.dotted} …` or in `if`"
                    )
            else:
                expected = "no attributes"
                hint = (
                    "use `only if <criteria>` to test the record's properties"
                    if event.name != PROPERTY_CHANGED
                    else None
                )
            yield Diagnostic.of(
                "unknown-event-attribute",
                f"found the attribute `{prop.dotted}` for the event `{event.name}`; expected {expected}",
                prop.span,
                hint=hint,
            )
