"""Project-wide checks: all workflows of a project in, name, reference and loop diagnostics out."""

from __future__ import annotations

from collections.abc import Iterator

from wfdsl.catalog import WORKFLOW_EVENTS
from wfdsl.check.context import (
    Context,
    did_you_mean,
    event_attribute_values,
    event_workflow_names,
    sends_email,
    trigger_events,
    triggers,
    walk_record,
)
from wfdsl.diagnostics import Diagnostic
from wfdsl.frozen import frozen
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n


def _where(span: Span) -> str:
    return f"{span.file}:{span.line}"


def duplicate_workflow(ctx: Context) -> Iterator[Diagnostic]:
    """`duplicate-workflow`: two workflows share a name in the project."""
    for name, found in ctx.by_name.items():
        for other in found[1:]:
            yield Diagnostic.of(
                "duplicate-workflow",
                f'found a second workflow named "{name}" (the first is at '
                f"{_where(found[0].name.span)}); "
                "expected workflow names to be unique in a project",
                other.name.span,
                hint="rename one of them; other workflows refer to workflows by name",
            )


_REFERRING: tuple[type[n.Node], ...] = (
    n.EnrolledIn,
    n.ReachedGoal,
    n.EnrollInWorkflow,
    n.UnenrollFromWorkflow,
    n.EventRef,
)


def _references(ctx: Context, wf: n.Workflow) -> Iterator[tuple[str, n.StringLit]]:
    """(kind, name) of every workflow this one names."""
    for node in ctx.of_type(wf, _REFERRING):
        if isinstance(node, n.EnrolledIn):
            yield "enrolled", node.workflow
        elif isinstance(node, n.ReachedGoal):
            yield "goal", node.workflow
        elif isinstance(node, n.EnrollInWorkflow):
            yield "enroll", node.workflow
        elif isinstance(node, n.UnenrollFromWorkflow):
            yield "unenroll", node.workflow
        elif isinstance(node, n.EventRef) and node.name in WORKFLOW_EVENTS:
            kind = "goal_event" if node.name == "workflow.goal_met" else "event"
            for name in event_workflow_names(node):
                yield kind, name


def unknown_workflow(ctx: Context) -> Iterator[Diagnostic]:
    """`unknown-workflow`: a referenced workflow does not exist in the project."""
    broken = any(d.name == "syntax" for d in ctx.project.diagnostics)
    fallback = (
        "fix the syntax errors first: a workflow that does not parse is not in the project"
        if broken
        else "check the name, or lint the file that defines it together with this one"
    )
    for wf in ctx.workflows:
        for _, name in _references(ctx, wf):
            if name.value in ctx.by_name:
                continue
            yield Diagnostic.of(
                "unknown-workflow",
                f'found a reference to the workflow "{name.value}", which is not in the project; '
                "expected the name of a workflow in the files being checked",
                name.span,
                hint=did_you_mean(name.value, ctx.by_name, quote='"') or fallback,
            )


def goal_needs_marketing_email(ctx: Context) -> Iterator[Diagnostic]:
    """`goal-needs-marketing-email`: a goal reference that can never be true.

    `reached goal of workflow "W"` holds only for records counted as converted
    in W (sent a marketing email by W, then met its goal): it needs a goal and
    a `send email` step in W. The `workflow.goal_met` event fires on every goal
    met: it needs only the goal."""
    for wf in ctx.workflows:
        for kind, name in _references(ctx, wf):
            if kind not in ("goal", "goal_event") or name.value not in ctx.by_name:
                continue
            target = ctx.by_name[name.value][0]
            if target.first(n.GoalClause) is None:
                why = "has no `goal`"
                fix = "add a `goal` to it, or test `enrolled in workflow` instead"
            elif kind == "goal" and not sends_email(target):
                why = "sends no marketing email, so it never counts a goal conversion"
                fix = "add a `send email` step to it, or test its goal criteria directly"
            else:
                continue
            yield Diagnostic.of(
                "goal-needs-marketing-email",
                f'found a test of the goal of workflow "{name.value}", which {why}; this can never be true',
                name.span,
                hint=fix,
            )


# ---------------------------------------------------------------- workflow-cycle


@frozen
class _Edge:
    source: str
    target: str
    span: Span | None = None
    why: str = ""


def _literal(value: n.Node | None) -> str | None:
    """A comparable text for a literal value; None when it is not known before run time."""
    if isinstance(value, n.StringLit):
        return None if value.variables else value.value
    if isinstance(value, n.BoolLit):
        return "true" if value.value else "false"
    text = getattr(value, "text", None)
    return text if isinstance(text, str) else None


_ANY = "*"
_HUB = "\x00"  # hub nodes (a property or list change) are not workflow names


def _hub(*parts: str) -> str:
    return _HUB + "\x1f".join(parts)


def _filter_criteria(wf: n.Workflow) -> Iterator[n.Criteria]:
    for trigger in triggers(wf):
        if isinstance(trigger, n.FilterTrigger):
            yield trigger.criteria


def _edges(ctx: Context) -> list[_Edge]:
    """The graph: `A -> B` when something workflow A does can enroll a record in workflow B.

    Property and list changes go through hub nodes (a writer -> `S|prop|value`
    -> `W|prop|value` -> a watcher), so the graph stays linear in the number
    of workflows even when many of them write and watch the same property.
    """
    edges: list[_Edge] = []
    writes: dict[tuple[str, str], set[str]] = {}  # (kind, thing) -> values written
    watches: dict[tuple[str, str], set[str]] = {}  # (kind, thing) -> values watched
    for wf in ctx.workflows:
        name = wf.name.value
        for step in ctx.steps(wf):
            change: tuple[str, str, str, str] | None = None  # kind, thing, value, description
            if isinstance(step, n.SetProperty):
                written = _literal(step.value)
                change = ("prop", step.prop.dotted, _ANY if written is None else written, "")
            elif isinstance(step, n.ClearProperty):
                change = ("prop", step.prop.dotted, "", "")
            elif isinstance(step, n.Increment):
                change = ("prop", step.prop.dotted, _ANY, "")
            elif isinstance(step, n.CopyProperty):
                change = ("prop", step.target.dotted, _ANY, "")
            elif isinstance(step, (n.AddToList, n.RemoveFromList)):
                kind = "added" if isinstance(step, n.AddToList) else "removed"
                change = ("list", step.name.value, kind, "")
            elif isinstance(step, n.EnrollInWorkflow) and step.workflow.value in ctx.by_name:
                edges.append(
                    _Edge(
                        source=name,
                        target=step.workflow.value,
                        span=step.span,
                        why=f'"{name}" enrolls records in "{step.workflow.value}"',
                    )
                )
            if change is not None:
                kind, thing, value, _ = change
                writes.setdefault((kind, thing), set()).add(value)
                what = f"`{thing}`" if kind == "prop" else f'the list "{thing}"'
                edges.append(
                    _Edge(
                        source=name,
                        target=_hub("S", kind, thing, value),
                        span=step.span,
                        why=f'"{name}" changes {what}',
                    )
                )
    for wf in ctx.workflows:
        name = wf.name.value
        watched: set[tuple[str, str, str]] = set()
        sources: list[tuple[str, str]] = []
        for event in trigger_events(wf):
            if isinstance(event, n.PropertyChange):
                wanted = _literal(event.to_value) if event.to_value is not None else None
                watched.add(("prop", event.prop.dotted, _ANY if wanted is None else wanted))
            elif event.name in WORKFLOW_EVENTS:
                sources.extend(
                    (s.value, f'"{name}" enrolls on `{event.name}` of "{s.value}"') for s in event_workflow_names(event)
                )
            elif event.name in ("list.added", "list.removed"):
                for list_name in event_attribute_values(event, "list"):
                    watched.add(("list", list_name.value, event.name.split(".")[1]))
        # Only filter criteria enroll on a change; `only if` refinements of event and
        # schedule triggers are tested when the event or the occurrence comes.
        for criteria in _filter_criteria(wf):
            for node in walk_record(criteria):
                if isinstance(node, n.PropertyRef):
                    watched.add(("prop", node.dotted, _ANY))
                elif isinstance(node, n.InList):
                    watched.add(("list", node.name.value, _ANY))
                elif isinstance(node, (n.EnrolledIn, n.ReachedGoal)):
                    sources.append(
                        (
                            node.workflow.value,
                            f'"{name}" enrolls on the state of "{node.workflow.value}"',
                        )
                    )
        for kind, thing, value in sorted(watched):
            watches.setdefault((kind, thing), set()).add(value)
            edges.append(_Edge(source=_hub("W", kind, thing, value), target=name))
        for source, why in sources:
            found = ctx.by_name.get(source)
            if found:
                edges.append(_Edge(source=source, target=name, span=found[0].name.span, why=why))
    for key, values in writes.items():
        for value in values:
            for target in watches.get(key, set()):
                if _ANY in (value, target) or value == target:
                    edges.append(_Edge(source=_hub("S", *key, value), target=_hub("W", *key, target)))
    return [e for e in edges if e.source != e.target]


def workflow_cycle(ctx: Context) -> Iterator[Diagnostic]:
    """`workflow-cycle`: workflows that enroll each other in a loop; once per workflow on it."""
    graph: dict[str, list[_Edge]] = {}
    for edge in _edges(ctx):
        graph.setdefault(edge.source, []).append(edge)
    nodes = sorted(set(ctx.by_name) | set(graph))
    for component in _strongly_connected(nodes, graph):
        workflows = [c for c in component if not c.startswith(_HUB)]
        if len(workflows) < 2:
            continue
        members = set(component)
        for start in workflows:
            path = _cycle_from(start, graph, members)
            if not path:
                continue
            names = [e.source for e in path if not e.source.startswith(_HUB)]
            loop = " → ".join(f'"{w}"' for w in [*names, start])
            why = path[0].why
            if path[0].target.startswith(_HUB):
                following = next(e.target for e in path if not e.target.startswith(_HUB))
                why += f', which "{following}" enrolls on'
            assert path[0].span is not None
            yield Diagnostic.of(
                "workflow-cycle",
                f"found a loop of workflows: {loop}; {why}, and so on around the loop",
                path[0].span,
                hint=(
                    "break the loop (e.g. an `unenroll when` or suppression list), or suppress "
                    "this warning if re-enrollment settings keep it finite"
                ),
            )


def _cycle_from(start: str, graph: dict[str, list[_Edge]], members: set[str]) -> list[_Edge]:
    """The shortest path from `start` back to it through at least one other workflow."""
    State = tuple[str, bool]
    frontier: list[tuple[State, list[_Edge]]] = [((start, False), [])]
    seen: set[State] = {(start, False)}
    while frontier:
        following: list[tuple[State, list[_Edge]]] = []
        for (node, other), path in frontier:
            for edge in graph.get(node, []):
                target = edge.target
                if target not in members:
                    continue
                if target == start:
                    if other:
                        return [*path, edge]
                    continue
                state = (target, other or not target.startswith(_HUB))
                if state not in seen:
                    seen.add(state)
                    following.append((state, [*path, edge]))
        frontier = following
    return []


def _strongly_connected(nodes: list[str], graph: dict[str, list[_Edge]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = graph.get(node, [])
            if i < len(targets):
                work.append((node, i + 1))
                target = targets[i].target
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    item = stack.pop()
                    on_stack.discard(item)
                    component.append(item)
                    if item == node:
                        break
                out.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out
