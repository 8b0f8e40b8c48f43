"""Step checks: a workflow's step blocks in, diagnostics about actions, labels and waits out."""

from __future__ import annotations

from collections.abc import Iterator

from wfdsl import placeholders
from wfdsl.check.context import Context, blocks, did_you_mean
from wfdsl.diagnostics import Diagnostic
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n


def _body(wf: n.Workflow) -> n.Block | None:
    clause = wf.first(n.StepsClause)
    return clause.body if isinstance(clause, n.StepsClause) else None


def placeholder_action(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`placeholder-action`: a warning, an error with `strict`."""
    for step in ctx.steps(wf):
        if isinstance(step, n.Placeholder):
            yield placeholders.placeholder_action(step.text.value, step.span, strict=ctx.strict)


def split_percentages(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`split-percentages`: the shares of a `split` do not add up to 100%."""
    for step in ctx.steps(wf):
        if not isinstance(step, n.Split):
            continue
        total = sum(arm.percent.value for arm in step.arms)
        if abs(total - 100) > 1e-9:
            shares = " + ".join(f"{arm.percent.text}%" for arm in step.arms) or "no arms"
            shown = f"{total:g}%"
            yield Diagnostic.of(
                "split-percentages",
                f"found split shares that add up to {shown} ({shares}); expected 100%",
                step.span,
                hint=("adjust the shares; an arm with an empty block keeps records as a control group"),
            )


def unreachable_step(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`unreachable-step`: steps after `end` or `go to` in a block (up to a targeted label)."""
    body = _body(wf)
    if body is None:
        return
    targets = {step.target.value for step in ctx.steps(wf) if isinstance(step, n.GoTo)}
    for block in blocks(body):
        stopper: n.Node | None = None
        dead: list[n.Node] = []
        for step in [*block.steps, None]:
            if step is None or (isinstance(step, n.Label) and step.name.value in targets):
                if stopper is not None and dead:
                    word = "end" if isinstance(stopper, n.End) else "go to"
                    count = f"{len(dead)} step{'s' if len(dead) > 1 else ''}"
                    yield Diagnostic.of(
                        "unreachable-step",
                        f"found {count} after `{word}` on line {stopper.span.line}; no record "
                        "can reach "
                        f"{'them' if len(dead) > 1 else 'it'}",
                        Span(
                            file=dead[0].span.file,
                            line=dead[0].span.line,
                            col=dead[0].span.col,
                            end_line=dead[-1].span.end_line,
                            end_col=dead[-1].span.end_col,
                        ),
                        hint=("remove the steps, or put a `label` that a `go to` jumps to before them"),
                    )
                stopper, dead = None, []
                continue
            if stopper is not None:
                dead.append(step)
            elif isinstance(step, (n.End, n.GoTo)):
                stopper = step


def labels(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`duplicate-label` and `unknown-label`."""
    seen: dict[str, n.Label] = {}
    for step in ctx.steps(wf):
        if isinstance(step, n.Label):
            name = step.name.value
            if name in seen:
                yield Diagnostic.of(
                    "duplicate-label",
                    f'found the label "{name}" a second time (the first is on line '
                    f"{seen[name].span.line}); expected each label once per workflow",
                    step.name.span,
                    hint="rename one of them",
                )
            else:
                seen[name] = step
    for step in ctx.steps(wf):
        if isinstance(step, n.GoTo) and step.target.value not in seen:
            yield Diagnostic.of(
                "unknown-label",
                f'found `go to "{step.target.value}"`, but the workflow has no such label; '
                "expected "
                + (
                    f"a label such as {', '.join(chr(34) + k + chr(34) for k in list(seen)[:3])}"
                    if seen
                    else "a `label` step to jump to"
                ),
                step.target.span,
                hint=did_you_mean(step.target.value, seen, quote='"')
                or f'add `label "{step.target.value}"` where the jump should land',
            )


def anchor_delay_first(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`anchor-delay-first`: a date-centred workflow that does not start with an anchor delay."""
    anchor = wf.first(n.AnchorClause)
    body = _body(wf)
    if anchor is None or body is None or not body.steps:
        return
    first = body.steps[0]
    if not isinstance(first, n.DATE_CENTRED_DELAYS):
        yield Diagnostic.of(
            "anchor-delay-first",
            "found a date-centred workflow whose first step is not a date-centred delay; expected "
            "`delay until … anchor` first",
            first.span,
            hint="start the steps with e.g. `delay until 7 days before anchor at 09:00`",
        )


def anchor_without_date(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`anchor-without-date`: `delay until … anchor` in a workflow without an `anchor` clause."""
    if wf.first(n.AnchorClause) is not None:
        return
    for step in ctx.steps(wf):
        if isinstance(step, n.DelayUntilAnchor):
            yield Diagnostic.of(
                "anchor-without-date",
                "found a delay relative to `anchor`, but the workflow has no `anchor` clause; "
                "expected `anchor <date property>` or `anchor date <date>`",
                step.span,
                hint="add e.g. `anchor contact.renewal_date annually`, or use `delay until <date>`",
            )


def received_without_wait(ctx: Context, wf: n.Workflow) -> Iterator[Diagnostic]:
    """`received-without-wait`: `received` anywhere but in the `if` right after a `wait for`."""
    allowed: set[int] = set()
    body = _body(wf)
    if body is not None:
        for block in blocks(body):
            for before, step in zip(block.steps, block.steps[1:], strict=False):
                if isinstance(before, n.WaitFor) and isinstance(step, n.If):
                    for branch in step.branches:
                        allowed.update(id(node) for node in branch.condition.walk() if isinstance(node, n.Received))
    for node in ctx.of_type(wf, (n.Received,)):
        if id(node) not in allowed:
            yield Diagnostic.of(
                "received-without-wait",
                "found `received` outside the `if` that directly follows a `wait for`; it tests "
                "whether the awaited event arrived, so it needs that `wait for` just before "
                "the `if`",
                node.span,
                hint="place `wait for <event> up to <duration>` immediately before this `if`",
            )
