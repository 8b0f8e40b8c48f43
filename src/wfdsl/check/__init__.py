"""Checker: a parsed `Project` and a `Schema` in, sorted `Diagnostic`s out.

Every check is a pure function of a `Context` that yields diagnostics; they
are listed once, in order, in `CHECKS`. `check_project` runs them all,
applies suppression comments and returns every diagnostic of the project
(the parser's syntax diagnostics included), sorted by file, line, column
and code.

>>> from wfdsl.syntax.project import project_from_text
>>> text = 'workflow "W" { object contact enroll on form.submited steps { end } }'
>>> p = project_from_text(text, "w.wf")
>>> [(d.name, d.hint) for d in check_project(p)]
[('unknown-event', 'did you mean `form.submitted`?')]
"""

from __future__ import annotations

from collections.abc import Iterable

from wfdsl.check import events, properties, steps, structure, suppress, triggers, values, workflows
from wfdsl.check.context import Check, Context, did_you_mean, per_workflow
from wfdsl.collector import collector_paused
from wfdsl.diagnostics import RULES, Diagnostic, Severity
from wfdsl.schema import BUILTIN, Schema
from wfdsl.syntax.project import Project, project_from_text

#: Every check, in the order it runs (roughly the order of the rule codes).
CHECKS: tuple[Check, ...] = (
    workflows.duplicate_workflow,
    per_workflow(structure.duplicate_clause),
    per_workflow(structure.missing_object),
    per_workflow(structure.missing_steps),
    per_workflow(structure.unknown_object),
    per_workflow(events.unknown_event),
    per_workflow(events.event_object_mismatch),
    per_workflow(events.unknown_event_attribute),
    per_workflow(triggers.multiple_triggers),
    per_workflow(triggers.negated_event_trigger),
    per_workflow(triggers.reenroll_mismatch),
    per_workflow(triggers.goal_not_contact),
    per_workflow(steps.anchor_delay_first),
    per_workflow(steps.anchor_without_date),
    per_workflow(properties.date_property_type),
    workflows.unknown_workflow,
    per_workflow(properties.unknown_property),
    per_workflow(properties.type_mismatch),
    per_workflow(values.invalid_value),
    per_workflow(properties.unknown_variable),
    per_workflow(steps.placeholder_action),
    per_workflow(steps.split_percentages),
    per_workflow(steps.unreachable_step),
    per_workflow(steps.labels),
    per_workflow(triggers.enroll_existing_with_event),
    per_workflow(triggers.goal_without_marketing_email),
    workflows.goal_needs_marketing_email,
    per_workflow(triggers.email_open_criteria),
    workflows.workflow_cycle,
    per_workflow(structure.empty_steps),
    per_workflow(structure.empty_branch),
    per_workflow(steps.received_without_wait),
)


def check_project(project: Project, schema: Schema | None = None, *, strict: bool = False) -> list[Diagnostic]:
    """Every diagnostic of `project`, sorted: syntax problems and the results of `CHECKS`.

    `schema` defaults to the built-in schema (`wfdsl.schema.load_schema(path)`
    finds a project's own). With `strict`, `placeholder-action` is an error.
    """
    with collector_paused():  # no garbage cycles here; see `wfdsl.collector`
        ctx = Context.build(project, schema or BUILTIN, strict=strict)
        found: list[Diagnostic] = []
        for check in CHECKS:
            found.extend(check(ctx))
        kept = suppress.apply(project, found)
    return sorted([*project.diagnostics, *kept], key=Diagnostic.sort_key)


def check_source(
    text: str, path: str = "<string>", schema: Schema | None = None, *, strict: bool = False
) -> list[Diagnostic]:
    """`check_project` for one file's text.

    >>> [d.name for d in check_source('workflow "W" { object contcat steps { end } }')]
    ['unknown-object']
    """
    return check_project(project_from_text(text, path), schema, strict=strict)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


def resolve_names(items: Iterable[str]) -> tuple[str, ...]:
    """Rule names for names or codes, comma-separated or not; ValueError names the unknown one.

    >>> resolve_names(["WF018,syntax"])
    ('unknown-property', 'syntax')
    """
    out: list[str] = []
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            name = suppress.normalise(part)
            if name is None:
                hint = did_you_mean(part.strip(), RULES)
                raise ValueError(
                    f"unknown check `{part.strip()}`"
                    + (f" ({hint})" if hint else "")
                    + "; see docs/checks.md for the names and codes"
                )
            out.append(name)
    return tuple(dict.fromkeys(out))


def select(
    diagnostics: Iterable[Diagnostic], *, only: Iterable[str] = (), ignore: Iterable[str] = ()
) -> list[Diagnostic]:
    """The diagnostics named in `only` (all when empty) and not in `ignore` (resolved names)."""
    chosen = set(only)
    dropped = set(ignore)
    return [d for d in diagnostics if (not chosen or d.name in chosen) and d.name not in dropped]


__all__ = [
    "CHECKS",
    "Context",
    "check_project",
    "check_source",
    "has_errors",
    "resolve_names",
    "select",
]
