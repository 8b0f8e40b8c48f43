"""Hostile input at the CLI: every bad file, path, URL or stream is answered with a clear
`wfdsl: error: …` (or a diagnostic) naming the file — and the line where there is one —
and the exit code Never a traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.cli import cli
from wfdsl.stores.sqlite import SCHEMA_VERSION, SQLiteStore

WORKFLOW = """\
workflow "Welcome series" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  steps {
    send email "Welcome #1"
    delay 2 days
    send email "Welcome #2"
  }
}

workflow "Form follow-up" {
  object contact
  enroll on form.submitted(form = "Demo")
  steps {
    send email "Thanks"
  }
}
"""

RECORDS = {"contact": [{"id": "c1", "email": "ann@example.com"}]}


def event(at: str = "2026-11-23T10:00:00Z", **fields: object) -> str:
    data: dict[str, object] = {
        "at": at,
        "type": "record.updated",
        "object": "contact",
        "id": "c1",
        "properties": {"lifecyclestage": "lead"},
    }
    data.update(fields)
    return json.dumps(data)


def invoke(*args: str, input: bytes | str | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result


def expect(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    for needle in needles:
        assert needle in result.output, (needle, result.output)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("w.wf").write_text(WORKFLOW, encoding="utf-8")
    Path("records.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    Path("events.jsonl").write_text(event() + "\n", encoding="utf-8")
    return tmp_path


def simulate(records: str = "records.json", events: str = "events.jsonl", *paths: str) -> Result:
    return invoke("simulate", *(paths or ("w.wf",)), "--records", records, "--events", events, "--format", "json")


# ---------------------------------------------------------------- source paths and files


SOURCE_COMMANDS = [["lint"], ["fmt", "--check"], ["compile", "-o", "-"], ["graph"]]


@pytest.mark.parametrize("command", SOURCE_COMMANDS, ids=lambda c: c[0])
def test_missing_file_and_empty_directory_exit_2(work: Path, command: list[str]) -> None:
    expect(invoke(*command, "missing.wf"), 2, "wfdsl: error: missing.wf: no such file")
    Path("empty").mkdir()
    expect(invoke(*command, "empty"), 2, "wfdsl: error: empty: no .wf files in this directory")


@pytest.mark.parametrize("command", SOURCE_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"\xff\xfe\x00\x01binary", "bad.wf:1:1: error[syntax]"),
        ('workflow "Caf\xe9" {}'.encode("latin-1"), "bad.wf:1:14: error[syntax] found a byte that is not UTF-8 (0xe9)"),
        (WORKFLOW.encode()[:40] + b"\x00" + WORKFLOW.encode()[40:], "bad.wf:2:"),
        (b'workflow "W" {\n  object contact\n  steps { send email "\xe2\x82', "bad.wf:3:"),
    ],
    ids=["binary", "latin-1", "nul", "cut-utf8"],
)
def test_binary_and_non_utf8_files_are_syntax_errors(work: Path, command: list[str], data: bytes, where: str) -> None:
    Path("bad.wf").write_bytes(data)
    result = invoke(*command, "bad.wf")
    expect(result, 1, where)
    assert Path("bad.wf").read_bytes() == data


@pytest.mark.parametrize("command", [["lint"], ["fmt", "--check"]], ids=lambda c: c[0])
def test_an_empty_file_is_a_valid_empty_project(work: Path, command: list[str]) -> None:
    Path("empty.wf").write_text("")
    expect(invoke(*command, "empty.wf"), 0)


def test_a_json_file_given_as_source_is_a_syntax_error(work: Path) -> None:
    expect(invoke("lint", "records.json"), 1, "records.json:1:1: error[syntax]")


def test_stdin_that_is_not_utf8(work: Path) -> None:
    expect(
        invoke("lint", "-", "--stdin-filename", "x.wf", input=b"\xff\x00"), 2, "wfdsl: error: stdin is not UTF-8 text"
    )
    expect(invoke("fmt", "-", input=b"\xff\x00"), 2, "stdin is not UTF-8 text")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_exits_2(work: Path) -> None:
    Path("locked.wf").write_text(WORKFLOW)
    Path("locked.wf").chmod(0)
    try:
        expect(invoke("lint", "locked.wf"), 2, "locked.wf: cannot read")
    finally:
        Path("locked.wf").chmod(0o644)


def test_compile_output_into_a_missing_directory_or_onto_a_directory(work: Path) -> None:
    expect(
        invoke("compile", "w.wf", "-o", "nodir/plan.json"),
        2,
        "wfdsl: error: cannot write nodir/plan.json: No such file or directory",
    )
    Path("adir").mkdir()
    expect(invoke("compile", "w.wf", "-o", "adir"), 2, "cannot write adir")
    assert not any(Path("adir").iterdir())


def test_new_into_a_missing_directory(work: Path) -> None:
    expect(invoke("new", "--template", "birthday", "nodir/x.wf"), 2, "nodir/x.wf: cannot write")


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("wfdsl.toml", "[[[ nope", "wfdsl.toml: not valid TOML"),
        ("wfdsl.toml", "[schema]\nobjects = 3\n", "wfdsl.toml: `schema.objects`"),
        ("pyproject.toml", '[tool.wfdsl]\nschema = ["x"]\n', "pyproject.toml: `tool.wfdsl.schema` must be a table"),
        ("wfdsl.toml", b"\xff\xfe = 1", "wfdsl.toml: not UTF-8 text"),
    ],
    ids=["toml-syntax", "wrong-shape", "pyproject-wrong-type", "not-utf8"],
)
@pytest.mark.parametrize("command", [["lint"], ["compile", "-o", "-"], ["simulate"]], ids=lambda c: c[0])
def test_bad_configuration_exits_2_naming_the_file(
    work: Path, name: str, text: str | bytes, needle: str, command: list[str]
) -> None:
    Path("proj").mkdir()
    Path("proj/w.wf").write_text(WORKFLOW)
    target = Path("proj") / name
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    extra = ["--records", "records.json", "--events", "events.jsonl"] if command == ["simulate"] else []
    result = invoke(*command[:1], "proj", *command[1:], *extra)
    expect(result, 2, "wfdsl: error:", needle)


# ---------------------------------------------------------------- plans


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"format_version": "99", "workflows": []}', "plan format_version is '99'"),
        ('{"format_version": "1", "workflows": [{"name": 3}]}', "plan.workflows[0].name"),
        ("[]", "plan: expected an object, found a list"),
        ("{", "not valid JSON"),
        ("[" * 100_000, "not valid JSON"),
        ("\xff", "cannot read"),
    ],
    ids=["future-version", "wrong-type", "list", "truncated", "deep", "not-utf8"],
)
def test_bad_plan_files_exit_2(work: Path, text: str, needle: str) -> None:
    Path("plan.json").write_bytes(text.encode("latin-1") if text == "\xff" else text.encode())
    for result in (
        simulate("records.json", "events.jsonl", "plan.json"),
        invoke("run", "plan.json", "--store", "memory://", "--crm", "memory://", "--once", "--events", "events.jsonl"),
    ):
        expect(result, 2, "wfdsl: error: plan.json:", needle)


def test_a_plan_among_sources_is_refused(work: Path) -> None:
    invoke("compile", "w.wf", "-o", "plan.json")
    expect(
        simulate("records.json", "events.jsonl", "plan.json", "w.wf"),
        2,
        "a compiled plan (.json) must be the only path given",
    )


# ---------------------------------------------------------------- records files


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("[1, 2]", 1, "expected a JSON object"),
        ('{"contact": [{"email": "x"}]}', 1, 'each `contact` record must be an object with an "id"'),
        ('{"contact": [\n{"id": "c1"},\n{"id": "c1"}]}', 3, "duplicate record contact:c1"),
        ('{"contact": [{"id": {"x": 1}}]}', 1, "`contact` record id must be a string"),
        ('{"contact": {"id": "c1"}}', 1, "`contact` must be a list of records"),
        (
            '{"contact": [{"id": "c1"}],\n "associations": [{"from": "c1", "to": "company:x"}]}',
            2,
            "`from` must be `type:id`",
        ),
        (
            '{"contact": [{"id": "c1"}],\n "associations": [{"from": "contact:c1",\n "to": "company:nope"}]}',
            3,
            "association with company:nope, which is not a record of this file",
        ),
        ('{"associations": "x"}', 1, "`associations` must be a list"),
        ('{"lists": {"A": ["nocolon"]}}', 1, "a list member must be `type:id`"),
        ('{"lists": ["A"]}', 1, "`lists` must map list names"),
        ('{"contact": [\n', 1, "invalid JSON"),
        ("[" * 100_000, 1, "invalid JSON: nested too deeply"),
        ('{"contact": [{"id": "c1", "n": ' + "1" * 5000 + "}]}", 1, "invalid JSON"),
        ("", 1, "invalid JSON"),
    ],
    ids=[
        "not-object",
        "no-id",
        "duplicate",
        "id-object",
        "not-list",
        "bad-from",
        "dangling-association",
        "associations-not-list",
        "bad-member",
        "lists-not-object",
        "truncated",
        "deep",
        "huge-int",
        "empty",
    ],
)
def test_records_files_with_wrong_shapes_exit_2_naming_file_and_line(
    work: Path, text: str, line: int, needle: str
) -> None:
    Path("bad.json").write_text(text)
    for result in (
        simulate("bad.json"),
        invoke("explain", "w.wf", "--records", "bad.json", "--events", "events.jsonl", "--record", "c1"),
        invoke(
            "run",
            "w.wf",
            "--store",
            "memory://",
            "--crm",
            "memory://",
            "--records",
            "bad.json",
            "--once",
            "--events",
            "events.jsonl",
        ),
    ):
        expect(result, 2, f"wfdsl: error: bad.json:{line}: {needle}")


def test_records_file_missing_or_not_utf8(work: Path) -> None:
    expect(simulate("nope.json"), 2, "wfdsl: error: nope.json:1: no such file")
    Path("bin.json").write_bytes(b"\xff\xfe\x00")
    expect(simulate("bin.json"), 2, "wfdsl: error: bin.json:1: cannot read")


def test_records_of_object_types_no_workflow_uses_are_kept(work: Path) -> None:
    # Custom object types are the schema's business, not the records file's.
    Path("odd.json").write_text('{"spaceship": [{"id": "s1"}], "contact": [{"id": "c1"}]}')
    result = simulate("odd.json")
    expect(result, 0)
    assert '"kind": "enrolled"' in result.output


# ---------------------------------------------------------------- events files


@pytest.mark.parametrize(
    ("lines", "line", "needle"),
    [
        (
            [event(), event(at="2026-11-22T10:00:00Z")],
            2,
            "events must be in time order: 2026-11-22T10:00:00Z is before the previous event",
        ),
        ([event(), '{"at": '], 2, "invalid JSON"),
        ([event(), "[" * 100_000], 2, "invalid JSON: nested too deeply"),
        ([event().replace('"lead"', "1" * 4500)], 1, "invalid JSON"),
        (["[1]"], 1, "each line must be a JSON object"),
        ([json.dumps({"at": "2026-11-23T10:00:00Z", "type": "record.updated"})], 1, "missing field `object`"),
        ([event(at="2026-11-23T10:00:00")], 1, "`at` '2026-11-23T10:00:00' has no zone"),
        ([event(at="yesterday")], 1, "`at` is not an ISO 8601 time"),
        ([event(at="9999-12-31T23:59:59Z")], 1, "`at` '9999-12-31T23:59:59Z' is after the year 9000"),
        ([event(properties=None)], 1, "record.updated needs `properties`"),
        ([event(properties=[1])], 1, "`properties` must be a JSON object"),
        ([event(id=True)], 1, "`id` must be a string"),
        ([event(object="")], 1, "`object` must be an object type"),
        ([event(type="list.added", data={})], 1, "list.added needs `data.list`"),
        ([event(type="workflow.enroll", data={"workflow": 3})], 1, "workflow.enroll needs `data.workflow`"),
        (["", "   "], 1, "no events and no --start: nothing to simulate"),
    ],
    ids=[
        "out-of-order",
        "truncated",
        "deep",
        "huge-int",
        "not-object",
        "missing-field",
        "naive-time",
        "bad-time",
        "far-future",
        "no-properties",
        "properties-list",
        "id-bool",
        "object-empty",
        "list-without-name",
        "enroll-without-workflow",
        "blank",
    ],
)
def test_malformed_events_exit_2_naming_file_and_line(work: Path, lines: list[str], line: int, needle: str) -> None:
    Path("bad.jsonl").write_text("\n".join(lines) + "\n")
    expect(simulate("records.json", "bad.jsonl"), 2, f"wfdsl: error: bad.jsonl:{line}: {needle}")
    if "nothing to simulate" not in needle:
        expect(
            invoke("explain", "w.wf", "--records", "records.json", "--events", "bad.jsonl", "--record", "c1"),
            2,
            f"bad.jsonl:{line}: {needle}",
        )


def test_events_file_not_utf8_missing_or_a_directory(work: Path) -> None:
    Path("bin.jsonl").write_bytes(event().encode() + b"\n" + b'{"at": "\xff"}\n')
    expect(simulate("records.json", "bin.jsonl"), 2, "wfdsl: error: bin.jsonl:2: not UTF-8")
    expect(simulate("records.json", "nope.jsonl"), 2, "wfdsl: error: nope.jsonl:1: no such file")
    Path("dir").mkdir()
    expect(simulate("records.json", "dir"), 2, "wfdsl: error: dir:1: cannot read")


def test_a_byte_order_mark_at_the_start_of_records_and_events_is_allowed(work: Path) -> None:
    """Files saved by Windows tools often start with a UTF-8 BOM; it is not JSON, but
    it is not the user's mistake either. Only the start of the file may have one."""
    bom = b"\xef\xbb\xbf"
    Path("records.json").write_bytes(bom + json.dumps(RECORDS).encode())
    Path("events.jsonl").write_bytes(bom + event().encode() + b"\n")
    plain = simulate()
    expect(plain, 0, '"kind": "enrolled"')
    ran = invoke(
        "run",
        "w.wf",
        "--store",
        "memory://",
        "--crm",
        "memory://",
        "--records",
        "records.json",
        "--events",
        "events.jsonl",
        "--clock",
        "virtual",
        "--until-idle",
    )
    expect(ran, 0, "enrolled 1")
    assert "warning" not in ran.output
    Path("late.jsonl").write_bytes(event().encode() + b"\n" + bom + event().encode() + b"\n")
    expect(simulate("records.json", "late.jsonl"), 2, "late.jsonl:2: invalid JSON")


def test_the_service_reports_and_skips_bad_lines(work: Path) -> None:
    """`wfdsl run` is a service: a bad line is a warning naming file and line, then skipped;
    late (out-of-order) events are taken at the engine's current time."""
    lines = [
        event(),
        '{"at": ',
        "[" * 100_000,
        event().replace('"lead"', "1" * 4500),
        event(at="9999-12-31T23:59:59Z"),
        event(at="2026-11-20T10:00:00Z", id="c2", type="record.created"),
    ]
    Path("bad.jsonl").write_text("\n".join(lines) + "\n")
    result = invoke(
        "run",
        "w.wf",
        "--store",
        "memory://",
        "--crm",
        "memory://",
        "--records",
        "records.json",
        "--events",
        "bad.jsonl",
        "--once",
        "--clock",
        "virtual",
        "--status-every",
        "0",
    )
    expect(result, 0)
    path = str(work / "bad.jsonl")
    for number, needle in (
        (2, "invalid JSON"),
        (3, "invalid JSON: nested too deeply"),
        (4, "invalid JSON"),
        (5, "`at` '9999-12-31T23:59:59Z' is after the year 9000"),
    ):
        assert f"wfdsl: warning: {path}:{number}: {needle}" in result.output
    assert result.output.count("(line skipped)") == 4


# ---------------------------------------------------------------- unknown things in events


def _trace(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"type": "form.submitted", "id": "nobody", "data": {"form": "Demo"}, "properties": None},
            [("Form follow-up", "contact", "nobody", "not_enrolled", "unknown_record")],
        ),
        (
            {"type": "workflow.enroll", "data": {"workflow": "Nope"}, "properties": None},
            [("Nope", "contact", "c1", "not_enrolled", "unknown_workflow")],
        ),
        (
            {"type": "workflow.enroll", "object": "deal", "data": {"workflow": "Welcome series"}, "properties": None},
            [("Welcome series", "deal", "c1", "not_enrolled", "unknown_record")],
        ),
        ({"type": "form.submitted", "object": "spaceship", "data": {"form": "Demo"}, "properties": None}, []),
        ({"type": "list.added", "id": "zz", "data": {"list": "A"}, "properties": None}, []),
    ],
    ids=[
        "unknown-record",
        "unknown-workflow",
        "wrong-object-type",
        "unknown-object-type",
        "list-change-of-unknown-record",
    ],
)
def test_events_about_unknown_things_are_history_entries_or_ignored(
    work: Path, fields: dict[str, object], expected: list[tuple[str, ...]]
) -> None:
    data = json.loads(event())
    data.update(fields)
    Path("ev.jsonl").write_text(json.dumps({k: v for k, v in data.items() if v is not None}) + "\n")
    result = simulate("records.json", "ev.jsonl")
    expect(result, 0)
    got = [(e["workflow"], e["object"], e["id"], e["kind"], e["detail"].get("reason")) for e in _trace(result)]
    assert got == expected


def test_an_update_of_an_unknown_record_creates_it(work: Path) -> None:
    Path("ev.jsonl").write_text(event(id="new") + "\n")
    trace = _trace(simulate("records.json", "ev.jsonl"))
    assert (trace[0]["id"], trace[0]["kind"]) == ("new", "enrolled")


# ---------------------------------------------------------------- stores and adapters


@pytest.mark.parametrize(
    ("option", "url", "needle"),
    [
        (
            "--store",
            "nonsense://x",
            "unknown store 'nonsense' in 'nonsense://x' (known: memory, postgres, postgresql, sqlite)",
        ),
        ("--store", "nonsense", "not a URL: 'nonsense'"),
        ("--store", "memory://x/y", "the memory store takes no location"),
        ("--store", "sqlite:///nodir/x.db", "directory 'nodir' does not exist"),
        ("--store", "sqlite:///records.json", "records.json: file is not a database"),
        ("--store", "sqlite:///s.db?bogus=1", "unknown option 'bogus'"),
        ("--crm", "bogus://x", "unknown adapter 'bogus'"),
        ("--crm", "sqlite:///records.json", "records.json: file is not a database"),
        ("--crm", "://", "not a URL"),
    ],
)
def test_bad_store_and_adapter_urls_exit_2(work: Path, option: str, url: str, needle: str) -> None:
    urls = {"--store": "memory://", "--crm": "memory://", option: url}
    result = invoke(
        "run", "w.wf", "--store", urls["--store"], "--crm", urls["--crm"], "--events", "events.jsonl", "--once"
    )
    expect(result, 2, "wfdsl: error:", needle)
    if option == "--store":
        expect(invoke("status", "--store", url), 2, "wfdsl: error:")
        expect(invoke("prune", "--store", url), 2, "wfdsl: error:")


def _bump_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


def test_a_store_and_a_crm_from_a_newer_wfdsl_exit_2(work: Path) -> None:
    SQLiteStore(work / "state.db").close()
    _bump_version(work / "state.db", SCHEMA_VERSION + 1)
    result = invoke(
        "run", "w.wf", "--store", "sqlite:///state.db", "--crm", "memory://", "--once", "--events", "events.jsonl"
    )
    expect(result, 2, "state.db has state store schema version", "upgrade wfdsl")
    crm = SQLiteCRM(work / "crm.db")
    crm.close()
    _bump_version(work / "crm.db", 99)
    result = invoke(
        "run", "w.wf", "--store", "memory://", "--crm", "sqlite:///crm.db", "--once", "--events", "events.jsonl"
    )
    expect(result, 2, "crm.db", "schema version 99", "upgrade wfdsl")


def test_a_store_file_that_is_garbage_exits_2(work: Path) -> None:
    Path("state.db").write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    result = invoke("status", "--store", "sqlite:///state.db")
    assert result.exit_code == 2, result.output
    assert "state.db" in result.output


@pytest.mark.parametrize("option", ["--start", "--until"])
def test_times_far_in_the_future_are_usage_errors(work: Path, option: str) -> None:
    result = invoke(
        "simulate", "w.wf", "--records", "records.json", "--events", "events.jsonl", option, "9999-12-31T00:00:00Z"
    )
    expect(result, 2, f"wfdsl: error: {option}: '9999-12-31T00:00:00Z' is after the year 9000")
