"""Workflows in, flow JSON out: each `.wf` workflow becomes a HubSpot Automation API v4 flow.

Flows are written disabled (`isEnabled: false`): turning a workflow on is a
decision made in HubSpot. Steps become actions with ids `1`, `2`, … in the
order the text lists them; a block's last step connects to the step after
the block (STANDARD from the last arm of a branch, GO-TO from the others),
`go to` becomes a GO-TO edge. What flow JSON cannot hold is an error with
the file, line and column of the construct.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from wfdsl.schema import BUILTIN, Schema
from wfdsl.syntax import nodes as n
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.exporter.graph import GraphWriter
from wfdsl.tools.hubspot.ids import LABELS_PROPERTY
from wfdsl.tools.hubspot.lockfile import LockFile
from wfdsl.tools.hubspot.problems import FlowError, Problem, has_errors


@attrs.frozen(kw_only=True)
class ExportResult:
    """One exported workflow: its flow JSON (None when it has errors) and problems."""

    name: str
    flow: dict[str, Any] | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.flow is not None and not has_errors(self.problems)


def export_workflow(workflow: n.Workflow, *, lock: LockFile, schema: Schema | None = None) -> ExportResult:
    """The flow JSON of one parsed workflow.

    >>> from wfdsl.syntax.parser import parse
    >>> wf = parse('workflow "W" { object contact steps { delay 2 days } }').module.workflows[0]
    >>> flow = export_workflow(wf, lock=LockFile()).flow
    >>> (flow["isEnabled"], flow["actions"][0]["fields"])
    (False, {'delta': '2', 'time_unit': 'DAYS'})
    """
    exporter = _Exporter(workflow=workflow, lock=lock, schema=schema or BUILTIN)
    try:
        flow = exporter.flow()
    except FlowError as error:
        exporter.problems.append(error.problem)
        flow = None
    problems = tuple(sorted(exporter.problems, key=lambda p: (p.span.line, p.span.col) if p.span else (0, 0)))
    return ExportResult(name=workflow.name.value, flow=None if has_errors(problems) else flow, problems=problems)


def export_project(
    workflows: Sequence[n.Workflow], *, lock: LockFile, schema: Schema | None = None
) -> list[ExportResult]:
    """`export_workflow` for each workflow, in order."""
    return [export_workflow(wf, lock=lock, schema=schema) for wf in workflows]


def flow_json(flow: dict[str, Any]) -> str:
    """The text of a flow file: indented JSON with a final newline, keys in insertion order."""
    return json.dumps(flow, indent=2, ensure_ascii=False) + "\n"


class _Exporter(GraphWriter):
    """The export of one workflow: its families of flow JSON (`exporter/`) put together."""

    def flow(self) -> dict[str, Any]:
        wf = self.wf
        if self.object not in ids.OBJECT_TYPE_IDS:
            clause = wf.first(n.ObjectClause) or wf
            raise self.fail(
                clause,
                f"{self.object} workflows have no flow JSON equivalent here; expected "
                + ", ".join(ids.OBJECT_TYPE_IDS),
            )
        flow: dict[str, Any] = {
            "type": "CONTACT_FLOW" if self.object == "contact" else "PLATFORM_FLOW",
            "objectTypeId": ids.OBJECT_TYPE_IDS[self.object],
            "flowType": "WORKFLOW",
            "name": wf.name.value,
        }
        description = wf.first(n.DescriptionClause)
        if isinstance(description, n.DescriptionClause):
            flow["description"] = description.text.value
        flow["isEnabled"] = False
        for kind, what in ((n.UnenrollClause, "`unenroll when`"), (n.AnchorClause, "`anchor` (date-centred)")):
            found = wf.first(kind)
            if found is not None:
                self.problems.append(
                    Problem(
                        path="",
                        span=found.span,
                        message=f"{what} has no flow JSON equivalent",
                        hint="keep this workflow in wfdsl, or remove the clause",
                    )
                )
        custom: dict[str, str] = {}
        settings = self.settings(custom)
        self.allocate(wf.steps)
        start = self.block(wf.steps, None, True)
        for holder, key, label in self.patches:
            target = self.resolve(label)
            if target is None:
                del holder[key]
            else:
                holder[key] = {"edgeType": "GO-TO", "nextActionId": target}
        if start is not None:
            flow["startActionId"] = start
        flow["nextAvailableActionId"] = str(len(self.actions) + 1)
        flow["actions"] = sorted(self.actions, key=lambda a: int(a["actionId"]))
        flow.update(self.enrollment(settings))
        goal = wf.first(n.GoalClause)
        if isinstance(goal, n.GoalClause):
            flow["goalFilterBranch"] = self.branch(goal.criteria)
        suppress = wf.first(n.SuppressClause)
        lists = []
        if isinstance(suppress, n.SuppressClause):
            for item in suppress.lists:
                ident = self.lock.id_for("lists", item.value, "", self.problems, span=item.span)
                lists.append(int(ident) if ident.isdigit() else ident)
        if lists or self.object == "contact":  # platform flows have no suppression list field unless used
            flow["suppressionListIds"] = lists
        flow["timeWindows"] = settings["timeWindows"]
        flow["blockedDates"] = settings["blockedDates"]
        defaults = [f"step {i + 1}" for i in range(len(self.label_order))]
        if self.label_order != defaults:
            custom[LABELS_PROPERTY] = json.dumps(self.label_order, ensure_ascii=False)
        flow["customProperties"] = custom
        flow["dataSources"] = []
        return flow


__all__ = ["ExportResult", "export_project", "export_workflow", "flow_json"]
