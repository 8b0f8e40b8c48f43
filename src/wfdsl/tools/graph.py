"""Diagrams: a workflow's AST in, a `Graph` (nodes and labelled edges) and Mermaid or DOT text out.

The text counterpart of HubSpot's workflow minimap: the trigger (with its
criteria), every step with its canonical text, branch labels on edges (if /
else-if / else conditions, `branch on` values, split percentages, `received`
/ `not received` after a `wait for`), `go to` edges back to their labels, the
end of the workflow, and the ways out of it (goal, unenrollment, suppression)
as exits. Node ids are assigned in source order, so the output is
deterministic.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import attrs

from wfdsl.syntax import nodes as n
from wfdsl.tools.printers import (
    anchor_text,
    criteria_text,
    duration_text,
    event_text,
    recurrence_text,
    reenroll_text,
    step_text,
    trigger_event_text,
    value_text,
)

#: Node kinds: how each is drawn.
KINDS = ("trigger", "action", "delay", "decision", "label", "goto", "end", "exit")


@attrs.frozen(kw_only=True)
class GraphNode:
    id: str
    kind: str  # one of KINDS
    text: str


@attrs.frozen(kw_only=True)
class GraphEdge:
    source: str
    target: str
    label: str | None = None
    style: str = "flow"  # flow, goto (dashed: a jump), exit (dotted: can happen at any time)


@attrs.frozen(kw_only=True)
class Graph:
    """One workflow as a directed graph; `nodes` and `edges` in a stable order."""

    workflow: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]

    def node(self, node_id: str) -> GraphNode:
        for item in self.nodes:
            if item.id == node_id:
                return item
        raise KeyError(node_id)


def trigger_text(wf: n.Workflow) -> str:
    """The enrollment trigger in words, one line per part (trigger, refinement, re-enrollment)."""
    trigger = wf.trigger
    lines: list[str] = []
    if isinstance(trigger, n.ManualTrigger):
        lines.append("enroll manually")
    elif isinstance(trigger, n.FilterTrigger):
        lines.append(f"enroll when {criteria_text(trigger.criteria)}")
    elif isinstance(trigger, n.EventTrigger):
        lines.append("enroll on " + " or ".join(trigger_event_text(e) for e in trigger.events))
    elif isinstance(trigger, n.ScheduleTrigger):
        lines.append("enroll on schedule " + recurrence_text(trigger.recurrence))
    refinement = getattr(trigger, "refinement", None)
    if refinement is not None:
        lines.append(f"only if {criteria_text(refinement)}")
    anchor = wf.first(n.AnchorClause)
    if isinstance(anchor, n.AnchorClause):
        lines.append(anchor_text(anchor))
    reenroll = wf.first(n.ReenrollClause)
    if isinstance(reenroll, n.ReenrollClause):
        lines.append(reenroll_text(reenroll))
    return "\n".join(lines)


def _branch_label(condition: n.Node) -> str:
    if isinstance(condition, n.Received):
        return "received"
    if isinstance(condition, n.Not) and isinstance(condition.item, n.Received):
        return "not received"
    return criteria_text(condition)


def _else_label(first: n.Node) -> str:
    """The label of an `if`'s else edge: `not received` opposite `received`, else `else`."""
    if isinstance(first, n.Received):
        return "not received"
    if isinstance(first, n.Not) and isinstance(first.item, n.Received):
        return "received"
    return "else"


class _Builder:
    def __init__(self, wf: n.Workflow) -> None:
        self.wf = wf
        self.ids: dict[int, str] = {}
        self.labels: dict[str, str] = {}
        self.nodes: dict[str, GraphNode] = {}
        self.edges: list[GraphEdge] = []
        count = 0
        for step in _all_steps(wf.steps):
            count += 1
            self.ids[id(step)] = f"s{count}"
            if isinstance(step, n.Label):
                self.labels.setdefault(step.name.value, f"s{count}")

    def add(self, node_id: str, kind: str, text: str) -> str:
        self.nodes[node_id] = GraphNode(id=node_id, kind=kind, text=text)
        return node_id

    def edge(self, source: str, target: str, label: str | None = None, style: str = "flow") -> None:
        self.edges.append(GraphEdge(source=source, target=target, label=label, style=style))

    def block(self, steps: Sequence[n.Node], after: str) -> str:
        """Add a block's steps; return the id of its first node (`after` when it is empty)."""
        following = after
        for step in reversed(steps):
            following = self.step(step, following)
        return following

    def step(self, step: n.Node, after: str) -> str:
        sid = self.ids[id(step)]
        if isinstance(step, n.If):
            self.add(sid, "decision", "if/then branch")
            for branch in step.branches:
                target = self.block(branch.body.steps, after)
                self.edge(sid, target, _branch_label(branch.condition))
            else_target = after if step.else_body is None else self.block(step.else_body.steps, after)
            single = len(step.branches) == 1
            self.edge(sid, else_target, _else_label(step.branches[0].condition) if single else "else")
            return sid
        if isinstance(step, n.BranchOn):
            self.add(sid, "decision", f"branch on {step.prop.dotted}")
            for case in step.cases:
                self.edge(sid, self.block(case.body.steps, after), value_text(case.value))
            else_target = after if step.else_body is None else self.block(step.else_body.steps, after)
            self.edge(sid, else_target, "else")
            return sid
        if isinstance(step, n.Split):
            self.add(sid, "decision", "random split")
            for arm in step.arms:
                self.edge(sid, self.block(arm.body.steps, after), f"{arm.percent.text}%")
            return sid
        if isinstance(step, n.GoTo):
            self.add(sid, "goto", step_text(step))
            label = self.labels.get(step.target.value)
            if label is not None:
                self.edge(sid, label, "go to", style="goto")
            return sid
        if isinstance(step, n.End):
            return "end"  # straight to the end of the workflow
        if isinstance(step, n.Label):
            self.add(sid, "label", step_text(step))
        elif isinstance(step, (n.Delay, n.DelayUntilDay, n.DelayUntilDate, n.DelayUntilAnchor)):
            self.add(sid, "delay", step_text(step))
        elif isinstance(step, n.WaitFor):
            text = f"wait for {event_text(step.event)}\nup to {duration_text(step.timeout)}"
            self.add(sid, "delay", text)
        else:
            self.add(sid, "action", step_text(step))
        self.edge(sid, after)
        return sid

    def build(self) -> Graph:
        self.add("trigger", "trigger", trigger_text(self.wf))
        self.add("end", "end", "end")
        first = self.block(self.wf.steps, "end")
        self.edge("trigger", first)
        exits = self.exits()
        for node_id, text in exits:
            self.add(node_id, "exit", text)
            self.edge("trigger", node_id, style="exit")
        order = {"trigger": 0, "end": len(self.ids) + 1}
        for i, node_id in enumerate(self.ids.values(), start=1):
            order[node_id] = i
        for i, (node_id, _text) in enumerate(exits, start=len(self.ids) + 2):
            order[node_id] = i
        nodes = sorted(self.nodes.values(), key=lambda x: (order.get(x.id, 10**9 + 1), x.id))
        # Edges in the order of their source node; a node's own edges in branch order.
        edges = sorted(self.edges, key=lambda e: order.get(e.source, 10**9 + 1))
        return Graph(workflow=self.wf.name.value, nodes=tuple(nodes), edges=tuple(edges))

    def exits(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        goal = self.wf.first(n.GoalClause)
        if isinstance(goal, n.GoalClause):
            out.append(("goal", f"goal met: {criteria_text(goal.criteria)}"))
        unenroll = self.wf.first(n.UnenrollClause)
        if isinstance(unenroll, n.UnenrollClause):
            out.append(("unenroll", f"unenroll when {criteria_text(unenroll.criteria)}"))
        if any(isinstance(s, n.UnenrollUnmetSetting) for s in self.wf.settings):
            out.append(("unmet", "unenroll when the enrollment criteria are no longer met"))
        suppress = self.wf.first(n.SuppressClause)
        if isinstance(suppress, n.SuppressClause):
            lists = ", ".join(value_text(s) for s in suppress.lists)
            out.append(("suppress", f"unenroll on joining {lists}"))
        return out


def _all_steps(steps: Sequence[n.Node]) -> list[n.Node]:
    """Every step, nested ones included, in source order (pre-order)."""
    out: list[n.Node] = []
    for step in steps:
        out.append(step)
        if isinstance(step, n.If):
            for branch in step.branches:
                out.extend(_all_steps(branch.body.steps))
            if step.else_body is not None:
                out.extend(_all_steps(step.else_body.steps))
        elif isinstance(step, n.BranchOn):
            for case in step.cases:
                out.extend(_all_steps(case.body.steps))
            if step.else_body is not None:
                out.extend(_all_steps(step.else_body.steps))
        elif isinstance(step, n.Split):
            for arm in step.arms:
                out.extend(_all_steps(arm.body.steps))
    return out


def workflow_graph(workflow: n.Workflow) -> Graph:
    """The graph of one workflow.

    >>> from wfdsl.syntax.parser import parse
    >>> wf = parse('workflow "W" { object contact steps { send email "Hi" } }').module.workflows[0]
    >>> g = workflow_graph(wf)
    >>> [(e.source, e.target) for e in g.edges]
    [('trigger', 's1'), ('s1', 'end')]
    """
    return _Builder(workflow).build()


# ---------------------------------------------------------------- rendering

WRAP = 40


def _wrap(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.split("\n"):
        lines.extend(textwrap.wrap(line, WRAP, break_long_words=False, break_on_hyphens=False) or [""])
    return lines


def _mermaid_text(text: str) -> str:
    escaped = (
        text.replace("#", "#35;")
        .replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("|", "#124;")  # would end an edge label
        .replace("`", "#96;")  # "` starts a Markdown string
    )
    return escaped


_MERMAID_SHAPES = {
    "trigger": ('(["', '"])'),
    "action": ('["', '"]'),
    "delay": ('[/"', '"/]'),
    "decision": ('{"', '"}'),
    "label": ('[["', '"]]'),
    "goto": ('["', '"]'),
    "end": ('(("', '"))'),
    "exit": ('>"', '"]'),
}


def to_mermaid(graphs: Sequence[Graph]) -> str:
    """A Mermaid `flowchart TD`; several workflows become one subgraph each.

    >>> from wfdsl.syntax.parser import parse
    >>> wf = parse('workflow "W" { object contact steps { delay 1 day } }').module.workflows[0]
    >>> print(to_mermaid([workflow_graph(wf)]))
    flowchart TD
      trigger(["enroll manually"])
      s1[/"delay 1 day"/]
      end_(("end"))
      trigger --> s1
      s1 --> end_
    """
    out = ["flowchart TD"]
    several = len(graphs) > 1
    for number, graph in enumerate(graphs, start=1):
        prefix = f"w{number}_" if several else ""
        pad = "    " if several else "  "
        if several:
            out.append(f'  subgraph w{number}["{_mermaid_text(graph.workflow)}"]')
            out.append("    direction TB")
        for node in graph.nodes:
            start, end = _MERMAID_SHAPES[node.kind]
            label = "<br/>".join(_mermaid_text(line) for line in _wrap(node.text))
            out.append(f"{pad}{_mermaid_id(prefix, node.id)}{start}{label}{end}")
        for edge in graph.edges:
            arrow = {"flow": "-->", "goto": "-.->", "exit": "-.->"}[edge.style]
            label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
            source = _mermaid_id(prefix, edge.source)
            target = _mermaid_id(prefix, edge.target)
            out.append(f"{pad}{source} {arrow}{label} {target}")
        if several:
            out.append("  end")
    return "\n".join(out)


def _mermaid_id(prefix: str, node_id: str) -> str:
    # `end` is a Mermaid keyword: it cannot be a node id.
    return prefix + ("end_" if node_id == "end" else node_id)


def _dot_text(text: str) -> str:
    return "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in _wrap(text))


_DOT_SHAPES = {
    "trigger": 'shape=box, style="rounded,filled", fillcolor="#dbeafe"',
    "action": 'shape=box, style="rounded"',
    "delay": 'shape=box, style="rounded,filled", fillcolor="#f3f4f6"',
    "decision": 'shape=diamond, style="filled", fillcolor="#fef3c7"',
    "label": 'shape=box, style="rounded,bold"',
    "goto": 'shape=box, style="rounded,dashed"',
    "end": 'shape=doublecircle, style="filled", fillcolor="#e5e7eb"',
    "exit": 'shape=box, style="filled", fillcolor="#dcfce7"',
}


def to_dot(graphs: Sequence[Graph]) -> str:
    """A Graphviz `digraph`; several workflows become one cluster each.

    >>> from wfdsl.syntax.parser import parse
    >>> wf = parse('workflow "W" { object contact steps { end } }').module.workflows[0]
    >>> print(to_dot([workflow_graph(wf)]))  # doctest: +ELLIPSIS
    digraph "W" {
      rankdir=TB;
    ...
      trigger -> end;
    }
    """
    several = len(graphs) > 1
    title = "workflows" if several else graphs[0].workflow
    out = [
        f'digraph "{_dot_text(title)}" {{',
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for number, graph in enumerate(graphs, start=1):
        prefix = f"w{number}_" if several else ""
        pad = "    " if several else "  "
        if several:
            out.append(f"  subgraph cluster_{number} {{")
            out.append(f'    label="{_dot_text(graph.workflow)}";')
        for node in graph.nodes:
            label = "end" if node.kind == "end" else _dot_text(node.text)
            out.append(f'{pad}{prefix}{node.id} [label="{label}", {_DOT_SHAPES[node.kind]}];')
        for edge in graph.edges:
            attributes = []
            if edge.label:
                attributes.append(f'label="{_dot_text(edge.label)}"')
            if edge.style == "goto":
                attributes.append("style=dashed")
            elif edge.style == "exit":
                attributes.append("style=dotted, arrowhead=empty")
            suffix = f" [{', '.join(attributes)}]" if attributes else ""
            out.append(f"{pad}{prefix}{edge.source} -> {prefix}{edge.target}{suffix};")
        if several:
            out.append("  }")
    out.append("}")
    return "\n".join(out)


FORMATS = {"mermaid": to_mermaid, "dot": to_dot}


def render_graphs(workflows: Sequence[n.Workflow], fmt: str = "mermaid") -> str:
    """The diagram of `workflows` in `fmt` (`mermaid` or `dot`)."""
    return FORMATS[fmt]([workflow_graph(wf) for wf in workflows])


__all__ = [
    "FORMATS",
    "Graph",
    "GraphEdge",
    "GraphNode",
    "render_graphs",
    "to_dot",
    "to_mermaid",
    "trigger_text",
    "workflow_graph",
]
