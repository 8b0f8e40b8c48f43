"""HubSpot flows: import, export and their round trips over the corpus in tests/cases/hubspot/.

Each `NAME.json` there is a flow in the documented Automation API v4 shape and
`NAME.wf` its import. The round trips: import(NAME.json) is NAME.wf byte for
byte; export(NAME.wf) is NAME.json up to key order and generated ids; and
import(export(NAME.wf)) is NAME.wf again. `src/` holds hand-written sources
whose export is the corpus flow of the same name; `refused/` what is refused.
"""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hubspot_helpers import canonical
from wfdsl.check import check_project
from wfdsl.cli import cli
from wfdsl.diagnostics import Severity
from wfdsl.schema import load_schema
from wfdsl.syntax.parser import parse
from wfdsl.syntax.project import load_project
from wfdsl.tools.fmt import format_source
from wfdsl.tools.hubspot import LockFile, export_workflow, import_flow, import_flow_file
from wfdsl.tools.hubspot.files import file_name
from wfdsl.tools.hubspot.locate import locate
from wfdsl.tools.hubspot.lockfile import LockError

CASES = Path(__file__).resolve().parent / "cases" / "hubspot"
FLOWS = sorted(CASES.glob("*.json"))
SOURCES = sorted((CASES / "src").glob("*.wf"))
REFUSED = json.loads((CASES / "refused" / "expectations.json").read_text(encoding="utf-8"))


def _lock() -> LockFile:
    return LockFile.load(CASES / "hubspot.lock.toml")


def _export(text: str, lock: LockFile | None = None) -> dict[str, Any]:
    workflow = parse(text, "x.wf").module.workflows[0]
    result = export_workflow(workflow, lock=lock or _lock(), schema=load_schema(CASES))
    assert result.flow is not None, [p.render("x.wf") for p in result.problems]
    assert not any(p.error for p in result.problems)
    return json.loads(json.dumps(result.flow))


def _import(flow: Any, lock: LockFile | None = None) -> str:
    result = import_flow(flow, lock=lock or _lock(), schema=load_schema(CASES))
    assert result.text is not None, [p.render("flow") for p in result.problems]
    return result.text


def test_corpus_covers_every_supported_shape() -> None:
    flows = [json.loads(p.read_text(encoding="utf-8")) for p in FLOWS]
    kinds = {f["enrollmentCriteria"]["type"] for f in flows} | {"SCHEDULE" for f in flows if "enrollmentSchedule" in f}
    assert kinds == {"MANUAL", "LIST_BASED", "EVENT_BASED", "SCHEDULE"}
    actions = {a.get("actionTypeId", a["type"]) for f in flows for a in f["actions"]}
    assert actions >= {"0-1", "0-3", "0-4", "0-5", "0-8", "0-11", "0-13", "0-14", "0-15", "0-29", "0-35", "WEBHOOK"}
    assert actions >= {"LIST_BRANCH", "STATIC_BRANCH", "AB_TEST_BRANCH"}
    edges = {
        c["edgeType"]
        for f in flows
        for a in f["actions"]
        for c in [
            a.get("connection"),
            a.get("defaultBranch"),
            *[b.get("connection") for b in a.get("listBranches", [])],
        ]
        if c
    }
    assert edges == {"STANDARD", "GO-TO"}
    assert {f["objectTypeId"] for f in flows} == {"0-1", "0-2", "0-3", "0-5"}


@pytest.mark.parametrize("path", FLOWS, ids=[p.stem for p in FLOWS])
def test_import_gives_the_corpus_text(path: Path) -> None:
    text = _import(json.loads(path.read_text(encoding="utf-8")))
    assert text == path.with_suffix(".wf").read_text(encoding="utf-8")
    assert format_source(text) == text  # formatted: `wfdsl fmt --check` accepts it


@pytest.mark.parametrize("path", FLOWS, ids=[p.stem for p in FLOWS])
def test_export_of_import_is_the_same_flow(path: Path) -> None:
    flow = json.loads(path.read_text(encoding="utf-8"))
    again = _export(_import(flow))
    assert canonical(again) == canonical(flow)
    assert again["isEnabled"] is False


@pytest.mark.parametrize("path", FLOWS, ids=[p.stem for p in FLOWS])
def test_import_of_export_is_the_same_text(path: Path) -> None:
    text = path.with_suffix(".wf").read_text(encoding="utf-8")
    assert _import(_export(text)) == text


def test_imported_corpus_lints_clean() -> None:
    project = load_project([*(p.with_suffix(".wf") for p in FLOWS)])
    errors = [d for d in check_project(project, load_schema(CASES)) if d.severity is Severity.ERROR]
    assert errors == []


@pytest.mark.parametrize("path", SOURCES, ids=[p.stem for p in SOURCES])
def test_hand_written_sources_export_to_the_corpus(path: Path) -> None:
    for workflow in parse(path.read_text(encoding="utf-8"), str(path)).module.workflows:
        flow = json.loads((CASES / file_name(workflow.name.value, ".json")).read_text(encoding="utf-8"))
        result = export_workflow(workflow, lock=_lock(), schema=load_schema(CASES))
        assert result.flow is not None
        assert canonical(json.loads(json.dumps(result.flow))) == canonical(flow)


@pytest.mark.parametrize("name", sorted(REFUSED), ids=sorted(REFUSED))
def test_refused_flows_name_the_json_path(name: str) -> None:
    path, words = REFUSED[name]
    result = import_flow_file(CASES / "refused" / f"{name}.json", lock=_lock())
    assert result.text is None
    errors = [p for p in result.problems if p.error]
    assert any(p.path == path and words in p.message for p in errors), [p.render(name) for p in errors]


def test_refused_sources_name_the_line() -> None:
    path = CASES / "refused" / "export-refused.wf"
    text = path.read_text(encoding="utf-8")
    expected = {
        i + 1: m.group(1).strip()
        for i, line in enumerate(text.splitlines())
        if (m := re.search(r"# expect: (.*)", line))
    }
    found: dict[int, str] = {}
    for workflow in parse(text, str(path)).module.workflows:
        result = export_workflow(workflow, lock=_lock())
        assert result.flow is None, workflow.name.value
        for problem in result.problems:
            if problem.error and problem.span is not None:
                found[problem.span.line] = problem.message
    assert set(found) == set(expected)
    for line, words in expected.items():
        assert words in found[line]


def test_in_app_notifications_import_as_notify_with_a_warning() -> None:
    flow = json.loads((CASES / "new-form-submission-workflow.json").read_text(encoding="utf-8"))
    flow["actions"][1]["actionTypeId"] = "0-9"
    flow["actions"][1]["fields"]["delivery_method"] = "APP"
    result = import_flow(flow, lock=_lock())
    assert result.text == (CASES / "new-form-submission-workflow.wf").read_text(encoding="utf-8")
    (warning,) = result.problems
    assert not warning.error and warning.path == "actions[1].actionTypeId"
    assert "export writes it as an internal email notification (0-8)" in warning.message


# ---------------------------------------------------------------- lock file


def test_unknown_ids_import_as_placeholders_with_a_warning() -> None:
    flow = json.loads((CASES / "new-form-submission-workflow.json").read_text(encoding="utf-8"))
    lock = LockFile()
    result = import_flow(flow, lock=lock)
    assert result.text is not None and 'add to list "list 178"' in result.text
    assert 'notify "user 2620022"' in result.text
    warnings = [p for p in result.problems if not p.error]
    assert {p.path for p in warnings} == {"actions[0].fields.list_id", "actions[1].fields.user_ids[0]"}
    assert lock.changed and lock.tables["lists"] == {"178": "list 178"}
    # The placeholder names export back to the same ids.
    assert canonical(_export(result.text, lock)) == canonical(flow)


def test_unknown_names_export_as_placeholder_ids_and_import_back() -> None:
    text = _import({**json.loads((CASES / "onboarding.json").read_text(encoding="utf-8"))})
    text = text.replace("Welcome #2", "Brand new email")
    lock = _lock()
    workflow = parse(text, "x.wf").module.workflows[0]
    result = export_workflow(workflow, lock=lock)
    assert result.flow is not None
    assert result.flow["actions"][0]["fields"]["content_id"] == "wfdsl:marketing_emails:Brand new email"
    warning = next(p for p in result.problems if not p.error)
    assert (
        warning.span is not None
        and warning.span.line
        == text.splitlines().index(next(line for line in text.splitlines() if "Brand new email" in line)) + 1
    )
    assert _import(result.flow, lock) == text


def test_lock_file_round_trips_and_refuses_bad_tables(tmp_path: Path) -> None:
    lock = _lock()
    path = tmp_path / "hubspot.lock.toml"
    lock.write(path)
    assert LockFile.load(path).tables == lock.tables
    assert path.read_text(encoding="utf-8") == (CASES / "hubspot.lock.toml").read_text(encoding="utf-8")
    path.write_text('[mailing_lists]\n"1" = "x"\n', encoding="utf-8")
    with pytest.raises(LockError, match=r"unknown table \[mailing_lists\]"):
        LockFile.load(path)
    path.write_text("[lists\n", encoding="utf-8")
    with pytest.raises(LockError, match="not valid TOML"):
        LockFile.load(path)


# ---------------------------------------------------------------- CLI


def test_cli_import_writes_wf_files_and_the_lock(tmp_path: Path) -> None:
    out = tmp_path / "wf"
    flows = [str(CASES / "lead-nurture.json"), str(CASES / "refused" / "custom-code.json")]
    result = CliRunner().invoke(cli, ["import", *flows, "-o", str(out)])
    assert result.exit_code == 1, result.output
    custom = (CASES / "refused" / "custom-code.json").read_text(encoding="utf-8")
    line, col = locate(custom, "actions[1].type")
    assert f"custom-code.json:{line}:{col}: error: actions[1].type: the action type" in result.stderr
    assert "1 of 2 flows not imported" in result.stderr
    written = (out / "lead-nurture.wf").read_text(encoding="utf-8")
    assert written == (CASES / "lead-nurture.wf").read_text(encoding="utf-8").replace(
        '"Welcome #1"', '"email 14410"'
    ).replace('"Welcome #2"', '"email 14411"').replace('"Newsletter"', '"list 178"').replace(
        '"Competitors"', '"list 203"'
    ).replace('"Employees"', '"list 204"').replace('"Demo request"', '"form 5f1c2a9e-4b7d-4c1e-9a51-2d3f0e6b7c88"')
    lock = LockFile.load(out / "hubspot.lock.toml")
    assert lock.tables["lists"]["178"] == "list 178"
    assert "is not in hubspot.lock.toml" in result.stderr


def test_cli_import_uses_an_existing_lock_and_exports_back(tmp_path: Path) -> None:
    out = tmp_path / "wf"
    out.mkdir()
    (out / "hubspot.lock.toml").write_text((CASES / "hubspot.lock.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (out / "wfdsl.toml").write_text((CASES / "wfdsl.toml").read_text(encoding="utf-8"), encoding="utf-8")
    flows = [str(p) for p in FLOWS]
    result = CliRunner().invoke(cli, ["import", *flows, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    for path in FLOWS:
        assert (out / path.with_suffix(".wf").name).read_text(encoding="utf-8") == path.with_suffix(".wf").read_text(
            encoding="utf-8"
        )
    assert CliRunner().invoke(cli, ["lint", str(out)]).exit_code == 0
    assert CliRunner().invoke(cli, ["fmt", "--check", str(out)]).exit_code == 0
    back = tmp_path / "json"
    result = CliRunner().invoke(cli, ["export", str(out), "-o", str(back)])
    assert result.exit_code == 0, result.output
    for path in FLOWS:
        exported = json.loads((back / path.name).read_text(encoding="utf-8"))
        assert exported["isEnabled"] is False
        assert canonical(exported) == canonical(json.loads(path.read_text(encoding="utf-8")))


def test_cli_export_refuses_sources_with_errors_and_bad_locks(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wf"
    bad.write_text('workflow "W" { object contcat steps { end } }\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["export", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "unknown-object" in result.stderr and "nothing exported" in result.stderr
    good = tmp_path / "good.wf"
    good.write_text('workflow "W" { object contact steps { delay 1 day } }\n', encoding="utf-8")
    (tmp_path / "hubspot.lock.toml").write_text("[lists\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["export", str(good), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr
    result = CliRunner().invoke(
        cli, ["export", str(CASES / "refused" / "export-refused.wf"), "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "export-refused.wf:6:5: error: a placeholder must be filled" in result.stderr


# ---------------------------------------------------------------- docs/hubspot.md


def test_the_worked_example_imports_as_documented(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "hubspot.md").read_text(encoding="utf-8")
    example = text.split("### A worked example", 1)[1]
    flow_text = re.search(r"```json\n(.*?)```", example, re.S)
    lock_text = re.search(r"```toml\n(.*?)```", example, re.S)
    wf_text = re.search(r"```wf\n(.*?)```", example, re.S)
    assert flow_text and lock_text and wf_text
    (tmp_path / "hubspot.lock.toml").write_text(lock_text.group(1), encoding="utf-8")
    flow = json.loads(flow_text.group(1))
    lock = LockFile.load(tmp_path / "hubspot.lock.toml")
    result = import_flow(flow, lock=lock)
    assert result.problems == ()
    assert result.text == wf_text.group(1)
    again = export_workflow(parse(result.text, "x.wf").module.workflows[0], lock=lock).flow
    assert again is not None
    expected = canonical(flow)
    expected["actions"][2]["listBranches"][0]["branchName"] = "Branch 1"
    expected["actions"][2]["defaultBranchName"] = "Otherwise"
    expected["actions"][3]["fields"]["associations"] = [
        {
            "target": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204},
            "value": {"type": "ENROLLED_OBJECT"},
        }
    ]
    expected["actions"][3]["fields"]["use_explicit_associations"] = "true"
    assert canonical(json.loads(json.dumps(again))) == expected


# ---------------------------------------------------------------- lint of flow JSON


def test_lint_checks_flow_json_at_json_paths(tmp_path: Path) -> None:
    flow = json.loads((CASES / "new-form-submission-workflow.json").read_text(encoding="utf-8"))
    flow["actions"][0]["fields"]["operation"] = "MOVE"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(flow, indent=2), encoding="utf-8")
    flow = json.loads((CASES / "new-form-submission-workflow.json").read_text(encoding="utf-8"))
    flow["actions"][1]["fields"]["subject"] = "Hi {{ contact.nosuch.deep.thing }}"
    warned = tmp_path / "warned.json"
    warned.write_text(json.dumps(flow, indent=2), encoding="utf-8")
    result = CliRunner().invoke(cli, ["lint", str(bad), str(warned), str(CASES / "lead-nurture.json")])
    assert result.exit_code == 1, result.output
    line = next(i + 1 for i, text in enumerate(bad.read_text(encoding="utf-8").splitlines()) if '"MOVE"' in text)
    assert f"{bad}:{line}:" in result.output
    assert "error[syntax] actions[0].fields.operation: expected ADD or REMOVE" in result.output
    line, col = locate(warned.read_text(encoding="utf-8"), "actions[1]")
    assert (
        f"{warned}:{line}:{col}: error[unknown-variable] actions[1]: found `{{{{ contact.nosuch.deep.thing }}}}`"
        in (result.output)
    )
    assert "lead-nurture.json:" not in result.output  # imports and lints clean
    assert "in 3 files" in result.output


def test_lint_json_output_for_flow_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["lint", "--format", "json", str(CASES / "criteria.json")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["diagnostics"] == [] or all(d["severity"] != "error" for d in data["diagnostics"])


# ---------------------------------------------------------------- robustness


def _mutations(seed: int, count: int) -> list[Any]:
    """Corpus flows with one to three values replaced by junk or removed, deterministically."""
    rng = random.Random(seed)
    flows = [json.loads(p.read_text(encoding="utf-8")) for p in FLOWS]
    junk: list[Any] = [None, 0, -1, 1.5, "", "x", "0-1", [], {}, [1], {"a": 1}, True, "1", "GO-TO", "99"]
    out = []
    for _ in range(count):
        flow = copy.deepcopy(rng.choice(flows))
        for _ in range(rng.randint(1, 3)):
            spots = list(_spots(flow))
            holder, key = rng.choice(spots)
            if isinstance(holder, dict) and rng.random() < 0.2:
                del holder[key]
            else:
                holder[key] = copy.deepcopy(rng.choice(junk))
        out.append(flow)
    return out


def _spots(value: Any) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from _spots(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _spots(item)


@pytest.mark.parametrize("seed", [1, 2])
def test_damaged_flows_are_refused_or_imported_never_a_traceback(seed: int) -> None:
    for flow in _mutations(seed, 150):
        result = import_flow(flow, lock=LockFile())
        assert result.text is not None or any(p.error for p in result.problems)
        assert not any("cannot read" in p.message or "does not parse" in p.message for p in result.problems)
        if result.text is not None:
            assert format_source(result.text) == result.text


@pytest.mark.slow
def test_damaged_flows_long() -> None:
    for seed in range(3, 23):
        for flow in _mutations(seed, 500):
            result = import_flow(flow, lock=LockFile())
            assert result.text is not None or any(p.error for p in result.problems)
