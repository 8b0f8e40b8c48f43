"""The action graph of a flow in; the step tree out: STANDARD edges make the sequence,
branch arms become blocks that continue where the arms meet, other GO-TO edges
become labels and `go to`s; the tree is then printed as text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from wfdsl.tools.fmt import quote
from wfdsl.tools.hubspot.ids import LABELS_PROPERTY
from wfdsl.tools.hubspot.importer.actions import ActionReader
from wfdsl.tools.hubspot.importer.reader import (
    Step,
    crit_text,
    id_text,
    show,
    walk_steps,
)
from wfdsl.tools.hubspot.problems import join_path


class GraphReader(ActionReader):
    """The action graph walked from the start action, branches, labels, and the text."""

    def walk(self, flow: dict[str, Any]) -> list[Step]:
        for i, action in enumerate(self.items(flow.get("actions"), "actions")):
            path = join_path("actions", i)
            a = self.obj(action, path)
            ident = self.string(a, "actionId", path)
            if ident in self.actions:
                raise self.fail(path + ".actionId", f"a second action with the id {ident}")
            self.actions[ident] = (i, a)
        start = flow.get("startActionId")
        if start is None:
            if self.actions:
                raise self.fail("startActionId", "actions without a startActionId")
            return []
        steps = self.chain(id_text(start), None, "startActionId")
        for ident, (i, _a) in self.actions.items():
            if ident not in self.placed:
                self.error(
                    join_path("actions", i),
                    f"action {ident} is not reached from startActionId by a STANDARD edge",
                    hint="connect it, or delete it in HubSpot",
                )
        for target in self.targets:
            if target not in self.placed:
                self.error("actions", f"a GO-TO edge leads to action {target}, which does not exist")
        return steps

    def action(self, ident: str, path: str) -> tuple[int, dict[str, Any]]:
        if ident not in self.actions:
            raise self.fail(path, f"no action has the id {ident}")
        return self.actions[ident]

    def chain(self, start: str | None, cont: str | None, path: str) -> list[Step]:
        """The steps from `start` until the flow ends or reaches `cont` (where the enclosing
        block continues)."""
        steps: list[Step] = []
        current, where = start, path
        while current is not None and current != cont:
            if current in self.placed:  # a second STANDARD edge into an action: a jump
                self.targets.add(current)
                steps.append(Step(path=where, goto=current))
                return steps
            index, action = self.action(current, where)
            apath = join_path("actions", index)
            self.placed.add(current)
            steps.append(Step(path=apath, label=current))
            kind = action.get("type", "SINGLE_CONNECTION")
            if kind in ("LIST_BRANCH", "STATIC_BRANCH", "AB_TEST_BRANCH"):
                step, after = self.branch(action, apath, cont)
                steps.append(step)
                current, where = after, apath
                continue
            steps.append(self.single(action, apath, kind))
            connection = action.get("connection")
            if connection in (None, {}):
                if cont is not None:
                    steps.append(Step(path=apath, text="end"))
                return steps
            target, go_to = self.connection(connection, apath + ".connection")
            if go_to and target != cont:
                self.targets.add(target)
                steps.append(Step(path=apath + ".connection", goto=target))
                return steps
            current, where = target, apath + ".connection.nextActionId"
        return steps

    def connection(self, data: Any, path: str) -> tuple[str, bool]:
        c = self.obj(data, path)
        edge = c.get("edgeType", "STANDARD")
        if edge not in ("STANDARD", "GO-TO", "GOTO"):
            raise self.fail(path + ".edgeType", f"expected STANDARD or GO-TO, found {show(edge)}")
        return self.string(c, "nextActionId", path), edge != "STANDARD"

    def arms(self, action: dict[str, Any], path: str) -> tuple[list[tuple[Any, str]], bool]:
        """The arms of a branch action as (connection, path) in order; and whether the last is the default."""
        kind = action.get("type")
        arms: list[tuple[Any, str]] = []
        if kind == "LIST_BRANCH":
            for i, arm in enumerate(self.items(action.get("listBranches"), path + ".listBranches")):
                apath = join_path(path, "listBranches", i)
                arms.append((self.obj(arm, apath).get("connection"), apath + ".connection"))
        elif kind == "STATIC_BRANCH":
            for i, arm in enumerate(self.items(action.get("staticBranches"), path + ".staticBranches")):
                apath = join_path(path, "staticBranches", i)
                arms.append((self.obj(arm, apath).get("connection"), apath + ".connection"))
        else:
            for i, arm in enumerate(self.items(action.get("testBranches"), path + ".testBranches")):
                arms.append((arm, join_path(path, "testBranches", i)))
            return arms, False
        default = action.get("defaultBranch")
        if default not in (None, {}):
            arms.append((default, path + ".defaultBranch"))
            return arms, True
        return arms, False

    def exits(self, start: Any, path: str) -> frozenset[str | None]:
        """Where the steps from a connection leave: GO-TO targets, or None when they end."""
        if start in (None, {}):
            return frozenset({None})
        target, go_to = self.connection(start, path)
        return frozenset({target}) if go_to else self.exits_of(target)

    def exits_of(self, ident: str) -> frozenset[str | None]:
        """`exits` of the steps from an action, remembered: each action is walked once, so
        finding where branches meet stays linear in the size of the flow."""
        chain: list[str] = []
        current: str | None = ident
        found: frozenset[str | None] = frozenset()
        while current is not None and current in self.actions:
            if current in self.exit_cache:
                found = self.exit_cache[current]
                break
            self.exit_cache[current] = frozenset()  # a cycle of STANDARD edges leads nowhere
            chain.append(current)
            index, action = self.actions[current]
            apath = join_path("actions", index)
            if action.get("type") in ("LIST_BRANCH", "STATIC_BRANCH", "AB_TEST_BRANCH"):
                found = frozenset().union(*(self.exits(conn, cpath) for conn, cpath in self.arms(action, apath)[0]))
                break
            conn = action.get("connection")
            if conn in (None, {}):
                found = frozenset({None})
                break
            current, go_to = self.connection(conn, apath + ".connection")
            if go_to:
                found = frozenset({current})
                break
        for item in chain:
            self.exit_cache[item] = found
        return found

    def tail_path(self, start: Any, path: str) -> Iterator[str]:
        """The actions reached from a connection by STANDARD edges, into each branch's last arm."""
        if start in (None, {}):
            return
        target, go_to = self.connection(start, path)
        current: str | None = None if go_to else target
        seen: set[str] = set()
        while current is not None and current not in seen and current in self.actions:
            seen.add(current)
            yield current
            index, action = self.actions[current]
            apath = join_path("actions", index)
            if action.get("type") in ("LIST_BRANCH", "STATIC_BRANCH", "AB_TEST_BRANCH"):
                arms = self.arms(action, apath)[0]
                if not arms:
                    return
                conn, cpath = arms[-1]
            else:
                conn, cpath = action.get("connection"), apath + ".connection"
            if conn in (None, {}):
                return
            current, go_to = self.connection(conn, cpath)
            if go_to:
                return

    def join(self, arms: list[tuple[Any, str]], cont: str | None) -> str | None:
        """Where the arms meet again: an action on one arm's STANDARD path (the last arm's
        first) that the other arms reach by GO-TO edges."""
        if len(arms) < 2:
            return None
        exits = [self.exits(conn, cpath) for conn, cpath in arms]
        for k in reversed(range(len(arms))):
            candidates = set().union(*(e for i, e in enumerate(exits) if i != k))
            for ident in self.tail_path(*arms[k]):
                if ident in candidates:
                    return None if ident == cont else ident
        return None

    def arm_steps(self, conn: Any, path: str, cont: str | None) -> list[Step]:
        if conn in (None, {}):  # an arm that stops the workflow
            return [Step(path=path, text="end")]
        target, go_to = self.connection(conn, path)
        if target == cont:
            return []
        if go_to:
            self.targets.add(target)
            return [Step(path=path, goto=target)]
        return self.chain(target, cont, path + ".nextActionId")

    def branch(self, action: dict[str, Any], path: str, cont: str | None) -> tuple[Step, str | None]:
        kind = action.get("type")
        arms, has_default = self.arms(action, path)
        joined = self.join(arms, cont)
        inner = joined if joined is not None else cont
        bodies = [self.arm_steps(conn, cpath, inner) for conn, cpath in arms]
        step = Step(path=path)
        if kind == "LIST_BRANCH":
            self.only_keys(
                action, path, {"type", "actionId", "listBranches", "defaultBranch", "defaultBranchName"}, "a branch"
            )
            for i, arm in enumerate(self.items(action.get("listBranches"), path + ".listBranches")):
                apath = join_path(path, "listBranches", i)
                self.only_keys(arm, apath, {"branchName", "connection", "filterBranch"}, "a branch arm")
                crit = self.criteria(arm.get("filterBranch"), apath + ".filterBranch", self.object)
                step.parts.append((f"{'if' if i == 0 else 'else if'} {crit_text(crit)}", bodies[i]))
            if not step.parts:
                raise self.fail(path + ".listBranches", "a branch without any condition")
        elif kind == "STATIC_BRANCH":
            self.only_keys(
                action,
                path,
                {"type", "actionId", "inputValue", "staticBranches", "defaultBranch", "defaultBranchName"},
                "a value branch",
            )
            ipath = path + ".inputValue"
            value = self.obj(action.get("inputValue"), ipath)
            if value.get("type") == "FIELD_DATA" and value.get("dataKey") == "hs_event_criteria_met":
                return self.received_branch(action, path, bodies, has_default), joined
            if value.get("type") != "OBJECT_PROPERTY":
                raise self.fail(
                    ipath + ".type", f"wfdsl branches on a property of the record; found {show(value.get('type'))}"
                )
            name = self.string(value, "propertyName", ipath)
            ref = self.prop(self.object, name, ipath + ".propertyName")
            step.opener = f"branch on {ref} {{"
            for i, arm in enumerate(self.items(action.get("staticBranches"), path + ".staticBranches")):
                apath = join_path(path, "staticBranches", i)
                self.only_keys(arm, apath, {"branchValue", "connection"}, "a branch arm")
                step.parts.append(
                    (self.value(self.object, name, arm.get("branchValue"), apath + ".branchValue"), bodies[i])
                )
        else:
            self.only_keys(action, path, {"type", "actionId", "testBranches"}, "a random split")
            count = len(arms)
            if count < 2 or 100 % count:
                raise self.fail(
                    path + ".testBranches",
                    f"a split into {count} equal shares cannot be written in whole percentages",
                    hint="wfdsl splits into 2, 4, 5 or 10 equal shares",
                )
            step.opener = "split {"
            for body in bodies:
                step.parts.append((f"{100 // count}%", body))
        if has_default and bodies[-1]:  # an empty default arm just continues: no `else`
            step.parts.append(("else", bodies[-1]))
        return step, joined

    def received_branch(self, action: dict[str, Any], path: str, bodies: list[list[Step]], has_default: bool) -> Step:
        """The branch on a wait's outcome (`hs_event_criteria_met`): `if received { } else { }`."""
        arms = self.items(action.get("staticBranches"), path + ".staticBranches")
        if len(arms) != 1:
            raise self.fail(path + ".staticBranches", "expected one branch on the outcome of the wait")
        apath = join_path(path, "staticBranches", 0)
        value = self.obj(arms[0], apath).get("branchValue")
        if value not in ("true", "false"):
            raise self.fail(apath + ".branchValue", f'expected "true" or "false", found {show(value)}')
        step = Step(path=path)
        step.parts.append(("if received" if value == "true" else "if not received", bodies[0]))
        if has_default and bodies[-1]:
            step.parts.append(("else", bodies[-1]))
        return step

    def name_labels(self, custom: dict[str, Any]) -> None:
        order = [s.label for s in walk_steps(self.steps) if s.label is not None and s.label in self.targets]
        names = [f"step {i + 1}" for i in range(len(order))]
        given = custom.get(LABELS_PROPERTY)
        if given is not None:
            try:
                decoded = json.loads(str(given))
            except json.JSONDecodeError:
                decoded = None
            if isinstance(decoded, list) and len(decoded) == len(order) and all(isinstance(x, str) for x in decoded):
                names = decoded
            else:
                self.error(
                    join_path("customProperties", LABELS_PROPERTY), f"expected a JSON list of {len(order)} label names"
                )
        self.label_names = dict(zip(order, names, strict=True))

    def render(self, steps: list[Step]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for step in steps:
            if step.label is not None:
                if step.label in self.label_names:
                    out.append((f"label {quote(self.label_names[step.label])}", step.path))
                continue
            if step.goto is not None:
                out.append((f"go to {quote(self.label_names[step.goto])}", step.path))
                continue
            if not step.parts:
                out.append((step.text, step.path))
                continue
            if step.opener:
                out.append((step.opener, step.path))
            for i, (header, body) in enumerate(step.parts):
                prefix = "} " if i and not step.opener else ""
                out.append((f"{prefix}{header} {{", step.path))
                out.extend(self.render(body))
                if step.opener:
                    out.append(("}", ""))
            out.append(("}", ""))
        return out

    def step_paths(self) -> list[str]:
        """JSON paths of the steps in the order the text lists them (pre-order)."""
        out: list[str] = []

        def visit(steps: list[Step]) -> None:
            for step in steps:
                if step.label is not None:
                    if step.label in self.label_names:
                        out.append(step.path)
                    continue
                out.append(step.path)
                for _header, body in step.parts:
                    visit(body)

        visit(self.steps)
        return out
