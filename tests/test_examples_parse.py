"""The examples parse and lint clean (AST dumps pinned); the sample data runs every one.

examples/records.json and examples/events.jsonl follow the documented simulation-file formats exactly and
together enroll a record in every example workflow.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from wfdsl.check import check_project
from wfdsl.schema import load_schema
from wfdsl.syntax.parser import dump, parse, parse_file
from wfdsl.syntax.project import load_project

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.wf"))


def test_there_are_at_least_twelve_examples() -> None:
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_parses_without_diagnostics(path: Path, snapshot: object) -> None:
    # Parsed under its repository-relative name so the snapshot does not depend on
    # where the checkout lives.
    result = parse(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    assert result.diagnostics == ()
    assert result.module.workflows, f"{path.name} holds no workflow"
    assert dump(result.module) == snapshot


def test_examples_start_with_a_header_comment() -> None:
    for path in EXAMPLES:
        first = path.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first.startswith("#"), f"{path.name} does not start with a comment"


def test_examples_have_no_placeholders() -> None:
    for path in EXAMPLES:
        result = parse_file(path)
        kinds = {type(node).__name__ for wf in result.module.workflows for node in wf.walk()}
        assert "Placeholder" not in kinds, path.name


def test_examples_lint_clean_with_their_schema() -> None:
    examples = ROOT / "examples"
    schema = load_schema(examples)
    assert not schema.is_builtin, "examples/wfdsl.toml was not found"
    found = check_project(load_project([examples]), schema, strict=True)
    assert [f"{d.span.file}:{d.span.line}: {d.name} {d.message}" for d in found] == []


_EVENT_KEYS = {"at", "type", "object", "id"}


def test_records_file_has_the_simulation_format() -> None:
    data = json.loads((ROOT / "examples" / "records.json").read_text(encoding="utf-8"))
    objects = {k: v for k, v in data.items() if k not in ("associations", "lists")}
    assert set(objects) >= {"contact", "company", "deal", "ticket"}
    ids = set()
    for object_type, records in objects.items():
        for record in records:
            assert isinstance(record["id"], str)
            ids.add(f"{object_type}:{record['id']}")
    assert len(objects["contact"]) >= 12
    for link in data["associations"]:
        assert set(link) == {"from", "to"} and {link["from"], link["to"]} <= ids
    for members in data["lists"].values():
        assert set(members) <= ids


def test_events_file_is_in_time_order_with_zones() -> None:
    lines = (ROOT / "examples" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    times = []
    for line in lines:
        event = json.loads(line)
        assert _EVENT_KEYS <= set(event) <= _EVENT_KEYS | {"data", "properties"}
        at = dt.datetime.fromisoformat(event["at"].replace("Z", "+00:00"))
        assert at.tzinfo is not None, event["at"]
        times.append(at)
    assert times == sorted(times)
    assert times[0] >= dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)


def test_sample_data_enrolls_a_record_in_every_example_workflow() -> None:
    examples = ROOT / "examples"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "wfdsl",
            "simulate",
            str(examples),
            "--records",
            str(examples / "records.json"),
            "--events",
            str(examples / "events.jsonl"),
            "--until",
            "2026-12-31T00:00:00Z",
            "--format",
            "json",
            "--stats",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    *trace, last = run.stdout.splitlines()
    stats = json.loads(last)["stats"]
    names = {w.name.value for w in load_project([examples]).workflows}
    assert set(stats) == names
    assert {name for name, s in stats.items() if s["enrolled"] == 0} == set()
    kinds = {json.loads(line)["kind"] for line in trace}
    assert "failed" not in kinds
    assert {
        "enrolled",
        "not_enrolled",
        "action",
        "delayed",
        "branched",
        "skipped",
        "goal_met",
        "converted",
        "unenrolled",
        "completed",
    } <= kinds
