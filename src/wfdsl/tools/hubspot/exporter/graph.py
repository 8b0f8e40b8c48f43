"""The steps of a workflow in; the action graph out: ids in text order, STANDARD edges
for the sequence, branch actions for blocks, GO-TO edges for `go to` and for arms
that meet again after a block."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wfdsl.syntax import nodes as n
from wfdsl.tools.hubspot.exporter.actions import ActionWriter
from wfdsl.tools.hubspot.exporter.writer import (
    BRANCHES,
    Target,
    blocks_of,
    number_value,
    tests_received,
)
from wfdsl.tools.hubspot.problems import FlowError, Problem


class GraphWriter(ActionWriter):
    """The step tree as an action graph with its edges and labels."""

    def allocate(self, steps: Sequence[n.Node]) -> None:
        """Action ids in the order the text lists the steps."""
        for step in steps:
            if isinstance(step, (n.Label, n.GoTo, n.End)):
                if isinstance(step, n.Label):
                    self.label_order.append(step.name.value)
                continue
            self.ids[id(step)] = str(len(self.ids) + 1)
            for block in blocks_of(step):
                self.allocate(block.steps)

    def connect(self, action: dict[str, Any], key: str, target: Target, standard: bool) -> None:
        if target is None:
            return
        if isinstance(target, tuple):
            action[key] = {}
            self.patches.append((action, key, target[1]))
            return
        action[key] = {"edgeType": "STANDARD" if standard else "GO-TO", "nextActionId": target}
        if standard:
            self.standard_in[target] = self.standard_in.get(target, 0) + 1

    def block(self, steps: Sequence[n.Node], cont: Target, standard: bool) -> Target:
        """Emit a block whose end continues at `cont`; return where the block starts.

        Returns the first action's id (entered by a STANDARD edge), the `cont`
        of an empty block, or a label target for a block that starts with `go to`.
        The flag tells whether an edge into the returned target is STANDARD.
        """
        target, _std = self.block_std(steps, cont, standard)
        return target

    def block_std(self, steps: Sequence[n.Node], cont: Target, standard: bool) -> tuple[Target, bool]:
        nxt, std = cont, standard
        for step in reversed(steps):
            if isinstance(step, n.Label):
                self.labels[step.name.value] = nxt
                continue
            if isinstance(step, n.GoTo):
                nxt, std = ("label", step.target.value), False
                continue
            if isinstance(step, n.End):
                nxt, std = None, True
                continue
            ident = self.ids[id(step)]
            if isinstance(step, n.If) and tests_received(step):
                action = self.received_action(step, steps, ident, nxt, std)
                self.actions.append(action)
                nxt, std = ident, True
                continue
            if isinstance(step, BRANCHES):
                action = self.branch_action(step, ident, nxt, std)
            else:
                action = self.single(step, ident)
                self.connect(action, "connection", nxt, std)
            self.actions.append(action)
            nxt, std = ident, True
        return nxt, std

    def arms(self, bodies: Sequence[n.Block | None], cont: Target, standard: bool) -> list[tuple[Target, bool]]:
        """The entry of each arm. One arm reaches `cont` by a STANDARD edge (the last one that
        reaches it at all), the others by GO-TO edges: every action keeps one STANDARD parent."""
        out: list[tuple[Target, bool]] = []
        pending = standard
        for body in reversed(bodies):
            before = self.standard_in.get(cont, 0) if isinstance(cont, str) else 0
            steps = body.steps if body is not None else ()
            entry = self.block_std(steps, cont, pending)
            out.append(entry)
            # The arm's own edges reached `cont`, or the arm is empty and its entry edge will.
            if pending and isinstance(cont, str) and (self.standard_in.get(cont, 0) > before or entry == (cont, True)):
                pending = False
        out.reverse()
        return out

    def branch_action(self, step: n.Node, ident: str, cont: Target, standard: bool) -> dict[str, Any]:
        if isinstance(step, n.If):
            bodies: list[n.Block | None] = [b.body for b in step.branches]
            has_else = step.else_body is not None or cont is not None
            bodies.append(step.else_body if has_else else None)
            entries = self.arms(bodies if has_else else bodies[:-1], cont, standard)
            action: dict[str, Any] = {"type": "LIST_BRANCH", "actionId": ident, "listBranches": []}
            for i, branch in enumerate(step.branches):
                arm: dict[str, Any] = {"branchName": f"Branch {i + 1}", "filterBranch": self.branch(branch.condition)}
                self.put_arm(arm, "connection", entries[i])
                action["listBranches"].append(arm)
            if has_else:
                action["defaultBranchName"] = "Otherwise"
                self.put_arm(action, "defaultBranch", entries[-1])
            return action
        if isinstance(step, n.BranchOn):
            if len(step.prop.parts) != 2 or step.prop.parts[0] != self.object:
                raise self.fail(step.prop, f"flow value branches test a property of the enrolled {self.object}")
            name = step.prop.parts[1]
            has_else = step.else_body is not None or cont is not None
            cases: list[n.Block | None] = [case.body for case in step.cases]
            entries = self.arms(cases + ([step.else_body] if has_else else []), cont, standard)
            action = {
                "type": "STATIC_BRANCH",
                "actionId": ident,
                "inputValue": {"type": "OBJECT_PROPERTY", "propertyName": name},
                "staticBranches": [],
            }
            for i, case in enumerate(step.cases):
                arm = {"branchValue": str(self.raw_value(self.object, name, case.value))}
                self.put_arm(arm, "connection", entries[i])
                action["staticBranches"].append(arm)
            if has_else:
                action["defaultBranchName"] = "Otherwise"
                self.put_arm(action, "defaultBranch", entries[-1])
            return action
        assert isinstance(step, n.Split)
        count = len(step.arms)
        for arm_node in step.arms:
            if number_value(arm_node.percent.text) * count != 100:
                raise self.fail(
                    arm_node.percent,
                    "flow JSON splits into equal shares only (HubSpot's A/B test "
                    f"branch); expected {100 / count:g}% for each of {count} arms",
                )
        entries = self.arms([a.body for a in step.arms], cont, standard)
        branches = []
        for arm_node, entry in zip(step.arms, entries, strict=True):
            if entry[0] is None:
                raise self.fail(
                    arm_node,
                    "a split arm with nothing after it has no flow JSON equivalent",
                    hint="add a step, or `end` the workflow after the split",
                )
            holder: dict[str, Any] = {}
            self.put_arm(holder, "c", entry)
            branches.append(holder["c"])
        return {"type": "AB_TEST_BRANCH", "actionId": ident, "testBranches": branches}

    def received_action(
        self, step: n.If, block: Sequence[n.Node], ident: str, cont: Target, standard: bool
    ) -> dict[str, Any]:
        """`if received { } else { }` after a `wait for`: a branch on the wait's outcome."""
        index = next(i for i, s in enumerate(block) if s is step)
        wait = block[index - 1] if index else None
        condition = step.branches[0].condition
        alone = isinstance(condition, n.Received) or (
            isinstance(condition, n.Not) and isinstance(condition.item, n.Received)
        )
        if not isinstance(wait, n.WaitFor) or len(step.branches) != 1 or not alone:
            raise self.fail(
                step,
                "flow JSON branches on a wait's outcome right after the `wait for`, "
                "with `if received` or `if not received` alone (and `else`)",
            )
        condition = step.branches[0].condition
        has_else = step.else_body is not None or cont is not None
        bodies: list[n.Block | None] = [step.branches[0].body]
        if has_else:
            bodies.append(step.else_body)
        entries = self.arms(bodies, cont, standard)
        arm: dict[str, Any] = {"branchValue": "true" if isinstance(condition, n.Received) else "false"}
        self.put_arm(arm, "connection", entries[0])
        action: dict[str, Any] = {
            "type": "STATIC_BRANCH",
            "actionId": ident,
            "inputValue": {"type": "FIELD_DATA", "actionId": self.ids[id(wait)], "dataKey": "hs_event_criteria_met"},
            "staticBranches": [arm],
        }
        if has_else:
            action["defaultBranchName"] = "Otherwise"
            self.put_arm(action, "defaultBranch", entries[-1])
        return action

    def put_arm(self, holder: dict[str, Any], key: str, entry: tuple[Target, bool]) -> None:
        target, std = entry
        self.connect(holder, key, target, std)

    def resolve(self, label: str) -> str | None:
        """The action a label stands before (following labels that stand before a `go to`)."""
        seen: set[str] = set()
        target: Target = ("label", label)
        while isinstance(target, tuple):
            name = target[1]
            if name in seen or name not in self.labels:  # the checker reports these (unknown-label)
                raise FlowError(
                    Problem(path="", message=f"`go to {name!r}` leads nowhere: no label {name!r} before an action")
                )
            seen.add(name)
            target = self.labels[name]
        return target  # type: ignore[no-any-return]
