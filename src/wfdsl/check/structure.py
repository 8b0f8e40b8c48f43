"""Structure checks: a workflow's clauses, object type and blocks in, diagnostics out."""

from __future__ import annotations

from collections.abc import Iterator

from wfdsl.check.context import (
    Context,
    blocks,
    clause_keyword,
    did_you_mean,
)
from wfdsl.diagnostics import Diagnostic
from wfdsl.syntax import nodes as n


def missing_object(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`missing-object`: no `object` clause."""
    if wf.first(n.ObjectClause) is None:
        yield Diagnostic.of(
            "missing-object",
            f'workflow "{wf.name.value}" has no `object` clause; expected `object <type>` '
            "naming the type of record it enrolls",
            wf.name.span,
            hint="add a line such as `object contact`",
        )


def missing_steps(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`missing-steps`: no `steps` clause."""
    if wf.first(n.StepsClause) is None:
        yield Diagnostic.of(
            "missing-steps",
            f'workflow "{wf.name.value}" has no `steps` clause; expected `steps {{ … }}` with the actions to perform',
            wf.name.span,
            hint="add `steps { … }`; write `steps { }` for a workflow that only enrolls",
        )


def unknown_object(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`unknown-object`: the `object` clause or `create <type>` names no known type.

    Unknown types in property references are reported with the properties.
    """
    known = ctx.schema.object_types
    for clause in wf.clauses:
        if isinstance(clause, n.ObjectClause) and not ctx.schema.has_object(clause.type.value):
            yield _unknown_object(clause.type, known, "workflow object")
    for step in ctx.steps(wf):
        if isinstance(step, n.CreateRecord) and not ctx.schema.has_object(step.object_type.value):
            yield _unknown_object(step.object_type, known, "record to create")


def _unknown_object(name: n.Name, known: tuple[str, ...], what: str) -> Diagnostic:
    hint = did_you_mean(name.value, known)
    return Diagnostic.of(
        "unknown-object",
        f"found the object type `{name.value}` for the {what}; expected a standard type "
        "such as `contact`, `company` or `deal`, or a custom object type declared in the schema",
        name.span,
        hint=hint or "declare custom object types under [schema.custom.<name>] in wfdsl.toml",
    )


_SINGLE_SETTINGS: tuple[tuple[type[n.Node], str], ...] = (
    (n.TimezoneSetting, "timezone"),
    (n.EnrollExistingSetting, "enroll existing records"),
    (n.UnenrollUnmetSetting, "unenroll if criteria unmet"),
    (n.OnFailureSetting, "on failure"),
)


def duplicate_clause(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`duplicate-clause`: a clause or a one-off setting twice (`enroll`: `multiple-triggers`)."""
    seen: dict[str, n.Node] = {}
    for clause in wf.clauses:
        if isinstance(clause, n.EnrollClause):
            continue
        keyword = clause_keyword(clause)
        first = seen.get(keyword)
        if first is None:
            seen[keyword] = clause
            continue
        yield Diagnostic.of(
            "duplicate-clause",
            f'found a second `{keyword}` clause in workflow "{wf.name.value}" '
            f"(the first is on line {first.span.line}); expected each clause at most once",
            clause.span,
            hint=f"merge the two `{keyword}` clauses into one",
        )
    for clause in wf.clauses:
        if not isinstance(clause, n.SettingsClause):
            continue
        found: dict[str, n.Node] = {}
        for setting in clause.settings:
            for kind, label in _SINGLE_SETTINGS:
                if isinstance(setting, kind):
                    if label in found:
                        yield Diagnostic.of(
                            "duplicate-clause",
                            f"found the setting `{label}` a second time (the first is on line "
                            f"{found[label].span.line}); expected it at most once",
                            setting.span,
                            hint="keep one of them",
                        )
                    else:
                        found[label] = setting


def empty_steps(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`empty-steps`: `steps { }` with nothing to do."""
    clause = wf.first(n.StepsClause)
    if isinstance(clause, n.StepsClause) and not clause.body.steps:
        yield Diagnostic.of(
            "empty-steps",
            f'workflow "{wf.name.value}" has no steps; it enrolls records and does nothing',
            clause.span,
            hint='add actions, or a `placeholder "…"` step to fill in later',
        )


def empty_branch(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`empty-branch`: an `if`/`else`/`branch on` case with an empty block.

    Empty `split` arms are allowed: they are the usual hold-out (control) group.
    """
    clause = wf.first(n.StepsClause)
    if not isinstance(clause, n.StepsClause):
        return
    for block in blocks(clause.body):
        for step in block.steps:
            if isinstance(step, n.If):
                for index, branch in enumerate(step.branches):
                    if not branch.body.steps:
                        what = "`if`" if index == 0 else "`else if`"
                        yield _empty(branch.body, what, "negate the condition, or remove the branch")
                if step.else_body is not None and not step.else_body.steps:
                    yield _empty(step.else_body, "`else`", "remove the empty `else { }`")
            elif isinstance(step, n.BranchOn):
                for case in step.cases:
                    if not case.body.steps:
                        yield _empty(
                            case.body,
                            "branch case",
                            "remove the case; values without a case go to `else`",
                        )
                if step.else_body is not None and not step.else_body.steps:
                    yield _empty(step.else_body, "`else`", "remove the empty `else { }`")


def _empty(block: n.Block, what: str, fix: str) -> Diagnostic:
    return Diagnostic.of(
        "empty-branch",
        f"found an empty {what} block; expected at least one step",
        block.span,
        hint=fix,
    )
