"""`wfdsl simulate`: files in, trace out; exit codes and messages for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from syrupy.assertion import SnapshotAssertion

from wfdsl.cli import cli
from wfdsl.host.simulate import SimulationInputError, read_events

WORKFLOW = """\
workflow "Welcome series" {
  object contact
  enroll when contact.lifecyclestage = "lead" and contact.email is known
  goal contact.lifecyclestage = "customer"
  suppress list "Competitors"
  steps {
    send email "Welcome #1"
    delay 2 days
    send email "Welcome #2"
  }
}
"""

RECORDS = {
    "contact": [{"id": "c1", "email": "ann@example.com", "lifecyclestage": "subscriber"}],
    "company": [{"id": "co1", "name": "Acme"}],
    "associations": [{"from": "contact:c1", "to": "company:co1"}],
    "lists": {"Competitors": ["contact:c9"]},
}

EVENTS = [
    {
        "at": "2026-11-23T10:00:00Z",
        "type": "record.updated",
        "object": "contact",
        "id": "c1",
        "properties": {"lifecyclestage": "lead"},
    },
    {
        "at": "2026-11-23T11:00:00Z",
        "type": "form.submitted",
        "object": "contact",
        "id": "c1",
        "data": {"form": "Demo request", "url": "https://www.example.com/demo?utm=x"},
    },
    {
        "at": "2026-11-24T08:00:00Z",
        "type": "record.updated",
        "object": "contact",
        "id": "c1",
        "properties": {"lifecyclestage": "customer"},
    },
    {
        "at": "2026-11-24T09:00:00Z",
        "type": "record.created",
        "object": "contact",
        "id": "c2",
        "properties": {"email": "bo@example.com", "lifecyclestage": "lead"},
    },
    {
        "at": "2026-11-25T09:00:00Z",
        "type": "list.added",
        "object": "contact",
        "id": "c2",
        "data": {"list": "Competitors"},
    },
    {
        "at": "2026-11-25T09:30:00Z",
        "type": "workflow.enroll",
        "object": "contact",
        "id": "c2",
        "data": {"workflow": "Welcome series"},
    },
]


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "welcome.wf").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "records.json").write_text(json.dumps(RECORDS, indent=2), encoding="utf-8")
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS), encoding="utf-8")
    return tmp_path


def run(tmp: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, ["simulate", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def base(tmp: Path, wf: str = "welcome.wf") -> list[str]:
    return [str(tmp / wf), "--records", str(tmp / "records.json"), "--events", str(tmp / "events.jsonl")]


def test_json_trace_with_stats(files: Path, snapshot: SnapshotAssertion) -> None:
    code, out, err = run(files, *base(files), "--format", "json", "--stats")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    for entry in lines[:-1]:
        assert list(entry) == ["at", "workflow", "object", "id", "kind", "step", "detail"]
    assert lines[-1]["stats"]["Welcome series"] == {
        "enrolled": 2,
        "active": 0,
        "completed": 0,
        "unenrolled": 2,
        "goal_met": 1,
        "emailed": 2,
        "converted": 1,
        "conversion_rate": 0.5,
    }
    assert out == snapshot


def test_text_trace(files: Path, snapshot: SnapshotAssertion) -> None:
    code, out, _ = run(files, *base(files))
    assert code == 0
    assert out == snapshot


def test_compiled_plan_gives_the_same_trace(files: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["compile", str(files / "welcome.wf"), "-o", str(files / "plan.json")])
    assert result.exit_code == 0, result.output
    from_source = run(files, *base(files), "--format", "json")[1]
    from_plan = run(files, *base(files, "plan.json"), "--format", "json")[1]
    assert from_plan == from_source


def test_until_and_start(files: Path) -> None:
    code, out, _ = run(
        files, *base(files), "--format", "json", "--start", "2026-11-20T00:00:00Z", "--until", "2026-11-23T12:00:00Z"
    )
    assert code == 0
    times = [json.loads(line)["at"] for line in out.splitlines()]
    assert times and max(times) <= "2026-11-23T12:00:00+00:00"
    assert "2026-11-24" not in out


def test_workflow_errors_exit_1_with_diagnostics(files: Path) -> None:
    (files / "bad.wf").write_text(
        'workflow "Bad" {\n  object contact\n  enroll on form.sumbitted\n  steps { end }\n}\n', encoding="utf-8"
    )
    code, out, err = run(files, *base(files, "bad.wf"))
    assert code == 1
    assert out == ""
    assert "bad.wf:3:" in err and "form.submitted" in err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "events.jsonl",
            '{"at": "2026-11-23T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1"}\n{"at": oops}\n',
            "events.jsonl:2: invalid JSON",
        ),
        (
            "events.jsonl",
            '{"at": "2026-11-23T10:00:00", "type": "form.submitted", "object": "contact", "id": "c1"}\n',
            "events.jsonl:1: `at` '2026-11-23T10:00:00' has no zone",
        ),
        (
            "events.jsonl",
            '{"at": "2026-11-23T10:00:00Z", "type": "record.updated", "object": "contact", "id": "c1"}\n',
            "events.jsonl:1: record.updated needs `properties`",
        ),
        (
            "events.jsonl",
            '{"at": "2026-11-24T10:00:00Z", "type": "page.visited", '
            '"object": "contact", "id": "c1"}\n'
            '{"at": "2026-11-23T10:00:00Z", "type": "page.visited", '
            '"object": "contact", "id": "c1"}\n',
            "events.jsonl:2: events must be in time order",
        ),
        ("events.jsonl", "[1, 2]\n", "events.jsonl:1: each line must be a JSON object"),
        ("records.json", '{\n  "contact": [\n    {"id": "c1",}\n  ]\n}\n', "records.json:3: invalid JSON"),
        (
            "records.json",
            '{\n  "contact": [{"id": "c1"}],\n  "lists": {"A": ["c1"]}\n}\n',
            "records.json:3: a list member must be `type:id`",
        ),
        ("records.json", '{\n  "contact": {"id": "c1"}\n}\n', "records.json:2: `contact` must be a list of records"),
    ],
)
def test_malformed_input_exits_2_naming_file_and_line(files: Path, name: str, content: str, message: str) -> None:
    (files / name).write_text(content, encoding="utf-8")
    code, out, err = run(files, *base(files))
    assert code == 2
    assert err.startswith("wfdsl: error: ")
    assert message in err
    assert "Traceback" not in err


def test_input_data_is_checked_against_the_schema_and_the_catalog(files: Path) -> None:
    """Unknown properties, attributes, object and event types: one warning each on stderr,
    with a did-you-mean; the run goes on and the trace is on stdout."""
    records = {
        "contact": [
            {"id": "c1", "email": "ann@example.com", "lifecylestage": "lead"},
            {"id": "c2", "lifecylestage": "lead"},
        ],
        "contct": [{"id": "x1"}],
    }
    (files / "records.json").write_text(json.dumps(records), encoding="utf-8")
    events = [
        {"at": "2026-11-23T10:00:00Z", "type": "form.sumbitted", "object": "contact", "id": "c1"},
        {"at": "2026-11-23T10:00:00Z", "type": "form.sumbitted", "object": "contact", "id": "c2"},
        {"at": "2026-11-23T11:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1", "data": {"frm": "A"}},
        {
            "at": "2026-11-23T12:00:00Z",
            "type": "record.updated",
            "object": "contact",
            "id": "c1",
            "properties": {"lifecyclestage": "lead", "hs_object_id": "c1"},
        },
    ]
    (files / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    code, out, err = run(files, *base(files))
    assert code == 0, err
    lines = err.splitlines()
    assert (
        f"{files / 'records.json'}: contact c1: unknown property `lifecylestage`; did you mean `lifecyclestage`?"
        in lines
    )
    assert f"{files / 'records.json'}: unknown object type `contct`; did you mean `contact`?" in lines
    assert (
        f"{files / 'events.jsonl'}: contact c1: unknown event type `form.sumbitted`; did you mean `form.submitted`?"
        in lines
    )
    assert (
        f"{files / 'events.jsonl'}: contact c1: unknown attribute `frm` of `form.submitted`; did you mean `form`?"
        in lines
    )
    assert len(lines) == 4  # once per object type and name; hs_object_id is every record's
    assert "enrolled" in out  # the run went on


def test_missing_files_and_bad_options_exit_2(files: Path) -> None:
    code, _, err = run(
        files, str(files / "welcome.wf"), "--records", str(files / "nope.json"), "--events", str(files / "events.jsonl")
    )
    assert code == 2 and "nope.json:1: no such file" in err
    code, _, err = run(files, *base(files), "--start", "yesterday")
    assert code == 2 and "--start" in err
    code, _, err = run(files, str(files / "missing.wf"), "--records", "r", "--events", "e")
    assert code == 2 and "missing.wf" in err


def test_adapter_failure_exits_3(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wfdsl.adapters.memory import MemoryCRM
    from wfdsl.runtime.protocols import AdapterError

    def broken(self: MemoryCRM, event: object) -> list[object]:
        raise AdapterError("the CRM is down")

    monkeypatch.setattr(MemoryCRM, "observe", broken)
    code, _, err = run(files, *base(files))
    assert code == 3
    assert "wfdsl: error: adapter failure: the CRM is down" in err


def test_events_are_streamed_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"at": "2026-11-23T10:00:00Z", "type": "page.visited", "object": "contact", "id": "c1"}\nnot json\n',
        encoding="utf-8",
    )
    events = read_events(path)
    first = next(events)  # the first line is usable before the second is read
    assert first.type == "page.visited"
    with pytest.raises(SimulationInputError) as error:
        next(events)
    assert (error.value.file, error.value.line) == (str(path), 2)


def test_examples_simulate(root: Path) -> None:
    examples = root / "examples"
    if not (examples / "records.json").exists():
        pytest.skip("examples not present")
    code, out, err = run(
        examples,
        str(examples),
        "--records",
        str(examples / "records.json"),
        "--events",
        str(examples / "events.jsonl"),
        "--stats",
        "--format",
        "json",
    )
    assert code == 0, err
    lines = out.splitlines()
    stats = json.loads(lines[-1])["stats"]
    assert stats and all(0 <= s["conversion_rate"] <= 1 for s in stats.values())
    kinds = {json.loads(line)["kind"] for line in lines[:-1]}
    assert {"enrolled", "action", "delayed", "completed"} <= kinds


def test_the_examples_trace_is_byte_identical_from_sources_and_from_a_plan(root: Path, tmp_path: Path) -> None:
    examples = root / "examples"
    plan = tmp_path / "plan.json"
    assert CliRunner().invoke(cli, ["compile", str(examples), "-o", str(plan)]).exit_code == 0
    common = [
        "--records",
        str(examples / "records.json"),
        "--events",
        str(examples / "events.jsonl"),
        "--format",
        "json",
        "--stats",
    ]
    code, from_sources, _ = run(tmp_path, str(examples), *common)
    assert code == 0
    code, from_plan, _ = run(tmp_path, str(plan), *common)
    assert code == 0
    assert from_plan == from_sources
    assert '"action": "create_task"' in from_sources  # arguments of several kinds compared
