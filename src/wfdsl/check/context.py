"""Check context: a parsed project and its schema in, the lookups every check shares out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TypeVar, cast

from wfdsl.diagnostics import Diagnostic
from wfdsl.schema import Property, Schema
from wfdsl.syntax import nodes as n
from wfdsl.syntax.project import Project

_N = TypeVar("_N", bound=n.Node)


class Context:
    """What a check sees: the project, the schema, the options, and an index of workflows."""

    __slots__ = ("_steps", "_views", "_walks", "by_name", "project", "schema", "strict")

    def __init__(
        self,
        *,
        project: Project,
        schema: Schema,
        strict: bool = False,
        by_name: Mapping[str, tuple[n.Workflow, ...]],
    ) -> None:
        self.project = project
        self.schema = schema
        self.strict = strict
        self.by_name = by_name
        self._walks: dict[int, _Walk] = {}
        self._views: dict[tuple[int, bool, tuple[type[n.Node], ...]], tuple[n.Node, ...]] = {}
        self._steps: dict[int, tuple[n.Node, ...]] = {}

    @classmethod
    def build(cls, project: Project, schema: Schema, *, strict: bool = False) -> Context:
        by_name: dict[str, list[n.Workflow]] = {}
        for workflow in project.workflows:
            by_name.setdefault(workflow.name.value, []).append(workflow)
        return cls(
            project=project,
            schema=schema,
            strict=strict,
            by_name={k: tuple(v) for k, v in by_name.items()},
        )

    @property
    def workflows(self) -> tuple[n.Workflow, ...]:
        return self.project.workflows

    def object_type(self, workflow: n.Workflow) -> str | None:
        """The workflow's object type if it is known to the schema, else None."""
        name = workflow.object_type
        return name if name is not None and self.schema.has_object(name) else None

    def nodes(self, workflow: n.Workflow, *, record: bool = False) -> tuple[n.Node, ...]:
        """Every node of a workflow (`record`: not inside event criteria), walked once and kept."""
        walk = self._walk(workflow)
        return walk.record if record else walk.every

    def of_type(self, workflow: n.Workflow, kinds: tuple[type[_N], ...], *, record: bool = False) -> tuple[_N, ...]:
        """The nodes of `nodes(workflow, record=record)` whose class is one of `kinds`, in the
        same order. The checks ask for a few node classes each; the workflow is walked once
        and its nodes indexed by class, so no check tests every node against its classes."""
        key = (id(workflow), record, kinds)
        found = self._views.get(key)
        if found is None:
            walk = self._walk(workflow)
            nodes, where = (walk.record, walk.record_where) if record else (walk.every, walk.where)
            if len(kinds) == 1:
                found = tuple([nodes[i] for i in where.get(kinds[0], ())])
            else:
                found = tuple([nodes[i] for i in sorted([i for kind in kinds for i in where.get(kind, ())])])
            self._views[key] = found
        return cast("tuple[_N, ...]", found)

    def steps(self, workflow: n.Workflow) -> tuple[n.Node, ...]:
        """`workflow_steps(workflow)`, kept."""
        found = self._steps.get(id(workflow))
        if found is None:
            found = self._steps[id(workflow)] = tuple(workflow_steps(workflow))
        return found

    def _walk(self, workflow: n.Workflow) -> _Walk:
        found = self._walks.get(id(workflow))
        if found is None:
            found = self._walks[id(workflow)] = _Walk(workflow)
        return found

    def resolve(self, prop: n.PropertyRef) -> Property | None:
        """The schema property a two-part reference names, or None."""
        if len(prop.parts) != 2:
            return None
        return self.schema.property(prop.parts[0], prop.parts[1])


Check = Callable[[Context], Iterable[Diagnostic]]
WorkflowCheck = Callable[[Context, n.Workflow], Iterable[Diagnostic]]


def per_workflow(check: WorkflowCheck) -> Check:
    """A project check that runs `check` on every workflow, in source order."""

    def run(ctx: Context) -> Iterator[Diagnostic]:
        for workflow in ctx.workflows:
            yield from check(ctx, workflow)

    run.__name__ = check.__name__
    run.__doc__ = check.__doc__
    return run


def did_you_mean(word: str, options: Iterable[str], *, quote: str = "`") -> str | None:
    """`did you mean `x`?` for the closest option, or None.

    >>> did_you_mean("form.submited", ["form.submitted", "form.viewed"])
    'did you mean `form.submitted`?'
    """
    import difflib  # here: most runs find nothing to suggest

    choices = list(options)
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f"did you mean {quote}{matches[0]}{quote}?" if matches else None


def article(word: str) -> str:
    """`an enumeration`, `a string`, `an invoice`, `a user`."""
    return ("an " if word[:1] in ("a", "e", "i", "o") else "a ") + word


def one_of(options: Iterable[str], *, limit: int = 8) -> str:
    """`"a", "b" or "c"` (with `…` past `limit`)."""
    items = [f"`{o}`" for o in options]
    if len(items) > limit:
        return ", ".join(items[:limit]) + ", …"
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


# ---------------------------------------------------------------- walking

Event = n.EventRef | n.PropertyChange


class _Walk:
    """A workflow's nodes in `Node.walk` order (`every`) and in `walk_record` order
    (`record`: not below an event reference), each with the positions of every node
    class, made in one pass over the tree."""

    __slots__ = ("every", "record", "record_where", "where")

    def __init__(self, workflow: n.Workflow) -> None:
        every: list[n.Node] = []
        record: list[n.Node] = []
        where: dict[type[n.Node], list[int]] = {}
        record_where: dict[type[n.Node], list[int]] = {}
        event = n.EventRef
        node_class = n.Node
        # Children are pushed in reverse, so popped in order. Below an event reference a
        # `None` is pushed first: popping it leaves the event's subtree.
        stack: list[n.Node | None] = [workflow]
        inside = 0
        while stack:
            node = stack.pop()
            if node is None:
                inside -= 1
                continue
            kind = node.__class__
            found = where.get(kind)
            if found is None:
                where[kind] = [len(every)]
            else:
                found.append(len(every))
            every.append(node)
            if not inside:
                found = record_where.get(kind)
                if found is None:
                    record_where[kind] = [len(record)]
                else:
                    found.append(len(record))
                record.append(node)
            if kind is event:
                inside += 1
                stack.append(None)
            below: list[n.Node] = []
            for name in kind._child_fields:
                value = getattr(node, name)
                if isinstance(value, tuple):
                    below.extend([item for item in value if isinstance(item, node_class)])
                elif isinstance(value, node_class):
                    below.append(value)
            below.reverse()
            stack.extend(below)
        self.every = tuple(every)
        self.record = tuple(record)
        self.where = where
        self.record_where = record_where


def walk_record(node: n.Node) -> Iterator[n.Node]:
    """Like `Node.walk`, but not into the criteria of events (their names are event attributes)."""
    stack: list[n.Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, n.EventRef):
            continue
        stack.extend(reversed(list(current.children())))


def all_steps(block: n.Block) -> Iterator[n.Node]:
    """Every step of a block and of the blocks nested in it, in source order."""
    for step in block.steps:
        yield step
        for child in _blocks_of(step):
            yield from all_steps(child)


def _blocks_of(step: n.Node) -> Iterator[n.Block]:
    if isinstance(step, n.If):
        for branch in step.branches:
            yield branch.body
        if step.else_body is not None:
            yield step.else_body
    elif isinstance(step, n.BranchOn):
        for case in step.cases:
            yield case.body
        if step.else_body is not None:
            yield step.else_body
    elif isinstance(step, n.Split):
        for arm in step.arms:
            yield arm.body


def blocks(block: n.Block) -> Iterator[n.Block]:
    """A block and every block nested in it."""
    yield block
    for step in block.steps:
        for child in _blocks_of(step):
            yield from blocks(child)


def workflow_steps(workflow: n.Workflow) -> Iterator[n.Node]:
    for clause in workflow.clauses:
        if isinstance(clause, n.StepsClause):
            yield from all_steps(clause.body)


def triggers(workflow: n.Workflow) -> list[n.Trigger]:
    return [c.trigger for c in workflow.clauses if isinstance(c, n.EnrollClause)]


def trigger_criteria(workflow: n.Workflow) -> Iterator[n.Criteria]:
    """The criteria that enroll: filter criteria and `only if` refinements."""
    for trigger in triggers(workflow):
        if isinstance(trigger, n.FilterTrigger):
            yield trigger.criteria
        elif isinstance(trigger, (n.EventTrigger, n.ScheduleTrigger)) and trigger.refinement is not None:
            yield trigger.refinement


def trigger_events(workflow: n.Workflow) -> Iterator[Event]:
    """The events of event triggers and of `has <event>` in enrolling criteria."""
    for trigger in triggers(workflow):
        if isinstance(trigger, n.EventTrigger):
            for item in trigger.events:
                yield item.event
    for criteria in trigger_criteria(workflow):
        for node in walk_record(criteria):
            if isinstance(node, n.HasEvent):
                yield node.event


def sends_email(workflow: n.Workflow) -> bool:
    return any(isinstance(step, n.SendEmail) for step in workflow_steps(workflow))


def event_workflow_names(event: n.EventRef) -> Iterator[n.StringLit]:
    """The workflow names an event's criteria test (`workflow = "X"`, `workflow in [...]`)."""
    if event.criteria is None:
        return
    for node in event.criteria.walk():
        if isinstance(node, n.Compare) and node.prop.dotted == "workflow" and node.op == "=":
            if isinstance(node.value, n.StringLit):
                yield node.value
        elif isinstance(node, n.InValues) and node.prop.dotted == "workflow" and not node.negated:
            for item in node.values.items:
                if isinstance(item, n.StringLit):
                    yield item


def event_attribute_values(event: n.EventRef, attribute: str) -> Iterator[n.StringLit]:
    """The string values an event's criteria require for `attribute` (`list = "X"`)."""
    if event.criteria is None:
        return
    for node in event.criteria.walk():
        if isinstance(node, n.Compare) and node.prop.dotted == attribute and node.op == "=":
            if isinstance(node.value, n.StringLit):
                yield node.value
        elif isinstance(node, n.InValues) and node.prop.dotted == attribute and not node.negated:
            yield from (i for i in node.values.items if isinstance(i, n.StringLit))


def clause_keyword(clause: n.Node) -> str:
    for kind, keyword in n.CLAUSE_ORDER:
        if isinstance(clause, kind):
            return keyword
    return type(clause).__name__.lower()
