"""Where the cursor is in the syntax tree, and what to show for it: the chain of nodes
at a position, hover text for events, properties and workflows, and a
document's symbols (workflows, their triggers, clauses and steps)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from wfdsl.catalog import EVENTS, WORKFLOW_EVENTS
from wfdsl.check.context import event_workflow_names
from wfdsl.schema import Schema
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n
from wfdsl.tools.lsp.values import Pos, Symbol, contains, span_range

# ---------------------------------------------------------------- AST helpers


def node_chain(module: n.Module, pos: Pos) -> list[n.Node]:
    """The nodes at a position, from the workflow down to the innermost one."""
    line, col = pos.line + 1, pos.char + 1
    chain: list[n.Node] = []
    children: Iterable[n.Node] = module.workflows
    while True:
        inside = [c for c in children if contains(c.span, line, col)]
        if not inside:
            return chain
        # Just after one node and at the start of the next: the next one.
        node = inside[-1]
        chain.append(node)
        children = list(node.children())


def enclosing_event(chain: Sequence[n.Node]) -> n.EventRef | None:
    for node in reversed(chain):
        if isinstance(node, n.EventRef):
            return node
    return None


def names_workflow(chain: Sequence[n.Node]) -> bool:
    """Whether the innermost node (a string) names a workflow."""
    literal = chain[-1]
    parent = chain[-2] if len(chain) > 1 else None
    if isinstance(parent, n.EnrolledIn | n.ReachedGoal | n.EnrollInWorkflow | n.UnenrollFromWorkflow):
        return True
    event = enclosing_event(chain)
    if event is not None and event.name in WORKFLOW_EVENTS:
        return any(item is literal for item in event_workflow_names(event))
    return False


def head_span(node: n.Node) -> Span:
    """A compound node's first line (an `if` block's head), else its span."""
    span = node.span
    if span.end_line > span.line and isinstance(node, n.If | n.BranchOn | n.Split | n.Block | n.SettingsClause):
        return Span(file=span.file, line=span.line, col=span.col, end_line=span.line, end_col=span.col + 1)
    return span


def event_markdown(name: str) -> str:
    spec = EVENTS.get(name)
    if spec is None:
        return f"`{name}` is not in the event catalog"
    return f"**{name}** (event, {spec.describe_objects()})\n\n{attributes_line(name)}"


def attributes_line(name: str) -> str:
    spec = EVENTS.get(name)
    if spec is None:
        return ""
    if not spec.attributes:
        return "No attributes."
    return "Attributes: " + ", ".join(f"`{a}`" for a in spec.attributes)


def options_line(options: Sequence[str]) -> str:
    return "Options: " + ", ".join(f'`"{o}"`' for o in options)


def property_markdown(schema: Schema, parts: Sequence[str]) -> str | None:
    if len(parts) != 2 or not schema.has_object(parts[0]):
        return None
    prop = schema.property(parts[0], parts[1])
    where = "the built-in schema" if schema.is_builtin else os.path.basename(schema.source or "")
    if prop is None:
        return f"`{parts[0]}.{parts[1]}` is not in {where}"
    text = f"**{parts[0]}.{parts[1]}**: {prop.type}"
    if prop.options:
        text += "\n\n" + options_line(prop.options)
    return text + f"\n\n(from {where})"


def workflow_markdown(workflow: n.Workflow, file: str) -> str:
    text = f'**workflow "{workflow.name.value}"**'
    if workflow.object_type:
        text += f" ({workflow.object_type})"
    described = workflow.first(n.DescriptionClause)
    if isinstance(described, n.DescriptionClause):
        text += f"\n\n{described.text.value}"
    return text + f"\n\n{os.path.basename(file)}:{workflow.span.line}"


_STEP_BLOCKS = (n.If, n.BranchOn, n.Split)


def _first_line(node: n.Node, lines: Sequence[str], limit: int = 60) -> str:
    if node.span.line - 1 >= len(lines):
        return type(node).__name__
    line = lines[node.span.line - 1]
    end = node.span.end_col - 1 if node.span.end_line == node.span.line else len(line)
    text = " ".join(line[node.span.col - 1 : end].split()).removesuffix("{").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _step_symbols(block: n.Block, source: Sequence[str]) -> tuple[Symbol, ...]:
    out: list[Symbol] = []
    for step in block.steps:
        children: list[Symbol] = []
        if isinstance(step, n.If):
            for branch in step.branches:
                children.extend(_step_symbols(branch.body, source))
            if step.else_body is not None:
                children.extend(_step_symbols(step.else_body, source))
        elif isinstance(step, n.BranchOn):
            for case in step.cases:
                children.extend(_step_symbols(case.body, source))
            if step.else_body is not None:
                children.extend(_step_symbols(step.else_body, source))
        elif isinstance(step, n.Split):
            for arm in step.arms:
                children.extend(_step_symbols(arm.body, source))
        selection = step.name.span if isinstance(step, n.Label) else head_span(step)
        out.append(
            Symbol(
                name=_first_line(step, source),
                kind="label" if isinstance(step, n.Label) else "step",
                range=span_range(step.span),
                selection=span_range(selection),
                children=tuple(children),
            )
        )
    return tuple(out)


def workflow_symbol(workflow: n.Workflow, source: Sequence[str]) -> Symbol:
    children: list[Symbol] = []
    for clause in workflow.clauses:
        if isinstance(clause, n.EnrollClause):
            children.append(
                Symbol(
                    name=_first_line(clause, source),
                    kind="trigger",
                    range=span_range(clause.span),
                    selection=span_range(head_span(clause)),
                )
            )
        elif isinstance(clause, n.StepsClause):
            children.append(
                Symbol(
                    name="steps",
                    kind="clause",
                    range=span_range(clause.span),
                    selection=span_range(head_span(clause)),
                    children=_step_symbols(clause.body, source),
                )
            )
        elif isinstance(clause, n.GoalClause | n.UnenrollClause):
            children.append(
                Symbol(
                    name=_first_line(clause, source),
                    kind="clause",
                    range=span_range(clause.span),
                    selection=span_range(head_span(clause)),
                )
            )
    return Symbol(
        name=workflow.name.value,
        kind="workflow",
        detail=workflow.object_type,
        range=span_range(workflow.span),
        selection=span_range(workflow.name.span),
        children=tuple(children),
    )
