"""Flow JSON in, `.wf` text out: HubSpot Automation API v4 flows become formatted workflows.

The action graph is walked from `startActionId`. STANDARD edges make the
step sequence; a branch's arms become `if`/`branch on`/`split` blocks, and
where the arms meet again (the other arms' GO-TO edges lead to an action on
the last arm's path) the steps after the block continue there. Any other
GO-TO edge becomes `go to "step N"` and a `label "step N"` before its target.
Filter branches become criteria. Whatever the language cannot say is an
error naming its JSON path; nothing is dropped silently.

The text is printed by the formatter, so it is canonical: `wfdsl fmt --check`
accepts it as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from wfdsl.schema import BUILTIN, Schema
from wfdsl.spans import Span
from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import parse
from wfdsl.tools.fmt import format_source, quote
from wfdsl.tools.hubspot import ids
from wfdsl.tools.hubspot.ids import LABELS_PROPERTY, TIMEZONE_PROPERTY
from wfdsl.tools.hubspot.importer.graph import GraphReader
from wfdsl.tools.hubspot.importer.reader import (
    STATE_KEYS,
    crit_text,
    id_text,
    show,
)
from wfdsl.tools.hubspot.lockfile import LockFile
from wfdsl.tools.hubspot.problems import FlowError, Problem, has_errors, join_path


@attrs.frozen(kw_only=True)
class FlowImport:
    """One imported flow: its formatted text (None when it has errors), problems, and
    where each statement of the text came from (`source_map`: span -> JSON path)."""

    name: str | None
    text: str | None
    problems: tuple[Problem, ...]
    source_map: tuple[tuple[Span, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.text is not None and not has_errors(self.problems)

    def json_path_at(self, line: int, col: int = 1) -> str | None:
        """The JSON path of the innermost statement of the text at `line`, `col`."""
        best: tuple[Span, str] | None = None
        for span, path in self.source_map:
            inside = (span.line, span.col) <= (line, col) <= (span.end_line, span.end_col) or span.line == line
            if inside and (best is None or (span.line, span.col) >= (best[0].line, best[0].col)):
                best = (span, path)
        return best[1] if best else None


def import_flow_file(path: str | Path, *, lock: LockFile, schema: Schema | None = None) -> FlowImport:
    """Read a flow JSON file and import it; unreadable files and bad JSON are problems too."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        return FlowImport(name=None, text=None, problems=(Problem(path="", message=f"cannot read: {error}"),))
    except UnicodeDecodeError:
        return FlowImport(name=None, text=None, problems=(Problem(path="", message="not UTF-8 text"),))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        problem = Problem(path="", message=f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")
        return FlowImport(name=None, text=None, problems=(problem,))
    return import_flow(data, lock=lock, schema=schema, file=str(path))


def import_flow(data: Any, *, lock: LockFile, schema: Schema | None = None, file: str = "<flow>") -> FlowImport:
    """Import one flow (the JSON of `GET /automation/v4/flows/{flowId}`, already decoded).

    >>> flow = {"type": "CONTACT_FLOW", "objectTypeId": "0-1", "name": "Hello",
    ...         "enrollmentCriteria": {"type": "MANUAL", "shouldReEnroll": False},
    ...         "startActionId": "1", "actions": [{"actionId": "1", "actionTypeId": "0-1",
    ...         "actionTypeVersion": 0, "type": "SINGLE_CONNECTION",
    ...         "fields": {"delta": "2", "time_unit": "DAYS"}}]}
    >>> print(import_flow(flow, lock=LockFile()).text, end="")
    workflow "Hello" {
      object contact
    <BLANKLINE>
      enroll manually
    <BLANKLINE>
      steps {
        delay 2 days
      }
    }
    """
    importer = _Importer(lock=lock, schema=schema or BUILTIN)
    try:
        name, pieces = importer.flow(data)
    except FlowError as error:
        importer.problems.append(error.problem)
        return FlowImport(name=None, text=None, problems=tuple(importer.problems))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as error:
        # A shape no check above foresaw: refuse the flow with what is known, never a traceback.
        problem = Problem(path="", message=f"this flow has a shape wfdsl cannot read ({type(error).__name__}: {error})")
        return FlowImport(name=None, text=None, problems=(*importer.problems, problem))
    if has_errors(importer.problems):
        return FlowImport(name=name, text=None, problems=tuple(importer.problems))
    raw = "\n".join(text for text, _path in pieces) + "\n"
    formatted = format_source(raw, file)
    if not isinstance(formatted, str):  # a bug here, not in the flow: say so plainly
        message = "; ".join(d.message for d in formatted)
        problem = Problem(path="", message=f"the imported text does not parse ({message}):\n{raw}")
        return FlowImport(name=name, text=None, problems=(*importer.problems, problem))
    source_map = _source_map(formatted, file, importer)
    return FlowImport(name=name, text=formatted, problems=tuple(importer.problems), source_map=source_map)


class _Importer(GraphReader):
    """The import of one flow: its families of JSON (`importer/`) put together."""

    def flow(self, data: Any) -> tuple[str, list[tuple[str, str]]]:
        flow = self.obj(data, "")
        known = {
            *STATE_KEYS,
            "type",
            "objectTypeId",
            "name",
            "description",
            "actions",
            "startActionId",
            "enrollmentCriteria",
            "enrollmentSchedule",
            "goalFilterBranch",
            "suppressionListIds",
            "timeWindows",
            "blockedDates",
            "unEnrollmentSetting",
            "customProperties",
            "dataSources",
            "eventAnchor",
            "suppressionFilterBranch",
        }
        self.only_keys(flow, "", known, "a flow")
        kind = flow.get("type")
        if kind not in ("CONTACT_FLOW", "PLATFORM_FLOW"):
            raise self.fail("type", f"expected CONTACT_FLOW or PLATFORM_FLOW, found {show(kind)}")
        if flow.get("flowType", "WORKFLOW") != "WORKFLOW":
            raise self.fail("flowType", f"only WORKFLOW flows are workflows; found {show(flow.get('flowType'))}")
        type_id = flow.get("objectTypeId")
        if not isinstance(type_id, str) or type_id not in ids.OBJECT_TYPES:
            known_ids = ", ".join(f"{v} ({k})" for k, v in ids.OBJECT_TYPE_IDS.items())
            raise self.fail("objectTypeId", f"object type {show(type_id)} is not supported; expected {known_ids}")
        self.object = ids.OBJECT_TYPES[type_id]
        name = flow.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail("name", "a workflow needs a name; found none")
        for key in ("dataSources", "eventAnchor", "suppressionFilterBranch"):
            value = flow.get(key)
            if value not in (None, [], {}):
                self.error(
                    key,
                    f"`{key}` is not supported by wfdsl (fetched records, date-centred anchors and "
                    "suppression filters have no flow equivalent here)",
                )
        unenroll = flow.get("unEnrollmentSetting")
        if unenroll not in (None, {}) and not (
            isinstance(unenroll, dict) and unenroll.get("type") == "SELECTIVE" and not unenroll.get("flowIds")
        ):
            self.error(
                "unEnrollmentSetting",
                "unenrolling records from other workflows on enrollment has no wfdsl equivalent",
                hint='add `unenroll from workflow "…"` steps at the start instead',
            )
        custom = self.obj(flow.get("customProperties") or {}, "customProperties")
        for key in custom:
            if key not in (TIMEZONE_PROPERTY, LABELS_PROPERTY):
                self.error(join_path("customProperties", key), "custom properties have no wfdsl equivalent")

        out: list[tuple[str, str]] = [(f"workflow {quote(name)} {{", ""), (f"object {self.object}", "objectTypeId")]
        self.clause_paths.append((n.ObjectClause, "objectTypeId"))
        description = flow.get("description")
        if isinstance(description, str) and description:
            out.append((f"description {quote(description)}", "description"))
            self.clause_paths.append((n.DescriptionClause, "description"))
        out.extend(self.enrollment(flow))
        if flow.get("goalFilterBranch") not in (None, {}):
            crit = self.criteria(flow["goalFilterBranch"], "goalFilterBranch", self.object)
            out.append((f"goal {crit_text(crit)}", "goalFilterBranch"))
            self.clause_paths.append((n.GoalClause, "goalFilterBranch"))
        lists = self.items(flow.get("suppressionListIds"), "suppressionListIds")
        if lists:
            names = [
                self.lock.name_for("lists", id_text(v), join_path("suppressionListIds", i), self.problems)
                for i, v in enumerate(lists)
            ]
            out.append(("suppress " + ", ".join(f"list {quote(x)}" for x in names), "suppressionListIds"))
            self.clause_paths.append((n.SuppressClause, "suppressionListIds"))
        settings = self.settings(flow, custom)
        self.emitted_settings = [p for _t, p in settings]
        if settings:
            out.append(("settings {", ""))
            out.extend(settings)
            out.append(("}", ""))
        self.steps = self.walk(flow)
        if has_errors(self.problems):  # jumps to missing actions: nothing sensible to print
            return name, out
        self.name_labels(custom)
        out.append(("steps {", ""))
        out.extend(self.render(self.steps))
        out.append(("}", ""))
        out.append(("}", ""))
        return name, out


def _source_map(text: str, file: str, importer: _Importer) -> tuple[tuple[Span, str], ...]:
    """Pair the statements of the printed text with the JSON paths they came from."""
    result = parse(text, file)
    if not result.ok or not result.module.workflows:
        return ()
    wf = result.module.workflows[0]
    out: list[tuple[Span, str]] = [(wf.name.span, "name")]
    for kind, path in importer.clause_paths:
        clause = wf.first(kind)
        if clause is not None:
            out.append((clause.span, path))
    settings = wf.settings
    for setting, path in zip(settings, importer.emitted_settings, strict=False):
        out.append((setting.span, path))
    steps: list[n.Node] = []

    def visit(block: tuple[n.Node, ...]) -> None:
        for step in block:
            steps.append(step)
            if isinstance(step, n.If):
                for branch in step.branches:
                    visit(branch.body.steps)
                if step.else_body is not None:
                    visit(step.else_body.steps)
            elif isinstance(step, n.BranchOn):
                for case in step.cases:
                    visit(case.body.steps)
                if step.else_body is not None:
                    visit(step.else_body.steps)
            elif isinstance(step, n.Split):
                for arm in step.arms:
                    visit(arm.body.steps)

    visit(wf.steps)
    out.extend(zip((s.span for s in steps), importer.step_paths(), strict=False))
    return tuple(out)


__all__ = ["LABELS_PROPERTY", "STATE_KEYS", "TIMEZONE_PROPERTY", "FlowImport", "import_flow", "import_flow_file"]
