"""`wfdsl run`, `wfdsl status`, `wfdsl prune`: end to end with SQLite, resume, signals, errors."""

from __future__ import annotations

import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.cli import cli
from wfdsl.stores.sqlite import SCHEMA_VERSION, SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases" / "run"
EXAMPLES = ROOT / "examples"
WF = str(CASES / "welcome.wf")
RECORDS = str(CASES / "records.json")
EVENTS = str(CASES / "events.jsonl")


def wfdsl(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfdsl", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def history(path: Path) -> list[dict[str, Any]]:
    store = SQLiteStore(path)
    try:
        return [e.to_json() for e in store.history()]
    finally:
        store.close()


def test_run_equals_simulate_on_the_examples(tmp_path: Path) -> None:
    args = [
        str(EXAMPLES),
        "--records",
        str(EXAMPLES / "records.json"),
        "--events",
        str(EXAMPLES / "events.jsonl"),
        "--until",
        "2027-01-20T00:00:00Z",
    ]
    ran = wfdsl("run", *args, "--clock", "virtual", "--until-idle", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ""
    assert ran.stderr.startswith("wfdsl run: enrolled ")
    simulated = wfdsl("simulate", *args, "--format", "json", cwd=tmp_path)
    assert simulated.returncode == 0, simulated.stderr
    trace = [json.loads(line) for line in simulated.stdout.splitlines()]
    assert history(tmp_path / "wfdsl-state.db") == trace  # the documented default store
    crm = SQLiteCRM(tmp_path / "wfdsl-crm.db")
    assert crm.get("contact", "c1") is not None
    assert len(crm.outbox()) == sum(
        1 for e in trace if e["kind"] == "action" and e["detail"]["action"] == "send_email"
    ) + sum(
        1 for p in crm.performed() if p["kind"] != "send_email" and p["kind"] in {"create_task", "notify", "webhook"}
    )


def test_run_then_status_and_prune(tmp_path: Path, snapshot: Any) -> None:
    ran = wfdsl("run", WF, "--records", RECORDS, "--events", EVENTS, "--clock", "virtual", "--until-idle", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == (
        "wfdsl run: enrolled 3 · waiting 0 · fired 2 · failed 0 · events 4 · rejected 0 · next timer none\n"
    )
    status = wfdsl("status", cwd=tmp_path)
    assert status.returncode == 0
    assert status.stdout == snapshot
    report = json.loads(wfdsl("status", "--format", "json", cwd=tmp_path).stdout)
    assert report["workflows"][0]["stats"]["converted"] == 1
    assert report["totals"] == {"workflows": 1, "waiting": 0, "timers": 0, "history": 18}
    kept = wfdsl("prune", "--now", "2027-01-01T00:00:00Z", cwd=tmp_path)
    assert kept.returncode == 0
    assert kept.stdout.startswith("removed 0 rows")
    pruned = wfdsl("prune", "--now", "2027-12-01T00:00:00Z", "--format", "json", cwd=tmp_path)
    assert json.loads(pruned.stdout)["removed"] == 18  # every enrollment ended > 183 days ago


def test_status_lists_waiting_enrollments_and_timers(tmp_path: Path, snapshot: Any) -> None:
    ran = wfdsl(
        "run",
        WF,
        "--records",
        RECORDS,
        "--events",
        EVENTS,
        "--clock",
        "virtual",
        "--until-idle",
        "--until",
        "2026-11-25T12:00:00Z",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    status = wfdsl("status", cwd=tmp_path)
    assert status.stdout == snapshot


def test_a_second_run_does_not_read_the_input_again(tmp_path: Path) -> None:
    args = [
        "run",
        WF,
        "--records",
        RECORDS,
        "--events",
        EVENTS,
        "--clock",
        "virtual",
        "--until-idle",
        "--status-every",
        "0",
    ]
    assert wfdsl(*args, cwd=tmp_path).returncode == 0
    first = history(tmp_path / "wfdsl-state.db")
    again = wfdsl(*args, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == ""
    assert history(tmp_path / "wfdsl-state.db") == first


def test_events_from_stdin_on_the_real_clock(tmp_path: Path) -> None:
    lines = '{"type": "record.updated", "object": "contact", "id": "c1", "properties": {"lifecyclestage": "lead"}}\n'
    ran = wfdsl(
        "run",
        WF,
        "--records",
        RECORDS,
        "--events",
        "-",
        "--until-idle",
        "--status-every",
        "0",
        cwd=tmp_path,
        input=lines,
    )
    assert ran.returncode == 0, ran.stderr
    kinds = [e["kind"] for e in history(tmp_path / "wfdsl-state.db")]
    assert kinds == ["enrolled", "action", "delayed"]


def test_malformed_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = Path(EVENTS).read_text(encoding="utf-8").splitlines()
    events.write_text("\n".join([good[0], "{not json", '{"at": "x"}', good[1]]) + "\n")
    ran = wfdsl(
        "run", WF, "--records", RECORDS, "--events", str(events), "--clock", "virtual", "--until-idle", cwd=tmp_path
    )
    assert ran.returncode == 0
    lines = ran.stderr.splitlines()
    assert (
        lines[0] == f"wfdsl: warning: {events}:2: invalid JSON: Expecting property name "
        "enclosed in double quotes (line skipped)"
    )
    assert lines[1] == f"wfdsl: warning: {events}:3: missing field `type` (line skipped)"
    assert "events 2 · rejected 2" in lines[2]


def test_sigterm_finishes_the_batch_commits_and_exits_0(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(Path(EVENTS).read_text(encoding="utf-8"), encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wfdsl",
            "run",
            WF,
            "--records",
            RECORDS,
            "--events",
            str(events),
            "--clock",
            "virtual",
            "--status-every",
            "0.2",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert process.stderr is not None
    first = process.stderr.readline()  # the loop is up: the file was read, it is followed
    assert first.startswith("wfdsl run: enrolled 3 ")
    with events.open("a", encoding="utf-8") as handle:  # a line appended later is picked up
        handle.write(
            '{"at": "2026-11-27T10:00:00Z", "type": "record.created", "object": '
            '"contact", "id": "c4", "properties": {"lifecyclestage": "lead"}}\n'
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "enrolled 4 " in line:
            break
    os.kill(process.pid, signal.SIGTERM)
    rest = process.stderr.read()
    assert process.wait(timeout=20) == 0
    assert rest.splitlines()[-1].startswith("wfdsl run: enrolled 4 ")
    assert sum(1 for e in history(tmp_path / "wfdsl-state.db") if e["kind"] == "enrolled") == 4


# ---------------------------------------------------------------- errors


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "state.db"], "wfdsl: error: not a URL: 'state.db'"),
        (
            ["--crm", "salesforce://x"],
            "wfdsl: error: unknown adapter 'salesforce' in 'salesforce://x' "
            "(known: hubspot, memory, postgres, postgresql, sqlite)",
        ),
        (["--crm", "hubspot://x"], "wfdsl: error: cannot open adapter 'hubspot://x': options go in the query string"),
        (["--until", "2026-01-01"], "wfdsl: error: --until needs --clock virtual"),
        (["--until", "soon", "--clock", "virtual"], "wfdsl: error: --until: 'soon' is not an ISO"),
        (["--events", "nowhere.jsonl"], "wfdsl: error: nowhere.jsonl: no such file"),
        (["--records", "nowhere.json"], "wfdsl: error: nowhere.json:1: no such file"),
    ],
)
def test_run_usage_errors_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("run", WF, "--until-idle", *args)
    assert result.exit_code == 2
    assert result.output.startswith(message)


def test_run_with_errors_in_the_workflow_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wf"
    bad.write_text('workflow "W" { object contact steps { send email } }\n')
    result = invoke("run", str(bad), "--store", "memory://", "--crm", "memory://")
    assert result.exit_code == 1
    assert "nothing run" in result.output


def test_newer_store_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    for args in (["run", WF, "--until-idle", "--crm", "memory://"], ["status"], ["prune"]):
        result = invoke(*args, "--store", f"sqlite:///{path}")
        assert result.exit_code == 2, args
        assert (
            f"has state store schema version {SCHEMA_VERSION + 5}, newer than this wfdsl understands" in result.output
        )


def test_memory_store_and_crm_run(tmp_path: Path) -> None:
    result = invoke(
        "run",
        WF,
        "--store",
        "memory://",
        "--crm",
        "memory://",
        "--records",
        RECORDS,
        "--events",
        EVENTS,
        "--clock",
        "virtual",
        "--until-idle",
    )
    assert result.exit_code == 0, result.output
    assert "enrolled 3 · waiting 0 · fired 2" in result.output


def test_restart_with_changed_workflows_deploys_them(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    source = Path(WF).read_text(encoding="utf-8")
    (project / "welcome.wf").write_text(source, encoding="utf-8")
    args = [
        "run",
        str(project),
        "--records",
        RECORDS,
        "--events",
        EVENTS,
        "--clock",
        "virtual",
        "--until-idle",
        "--status-every",
        "0",
    ]
    first = wfdsl(*args, "--until", "2026-11-25T12:00:00Z", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    # c3 waits in the delay; the new version adds a last email, and a new workflow appears
    (project / "welcome.wf").write_text(
        source.replace(
            'set contact.hs_lead_status = "IN_PROGRESS"',
            'set contact.hs_lead_status = "IN_PROGRESS"\n    send email "Welcome #3"',
        ),
        encoding="utf-8",
    )
    (project / "customers.wf").write_text(
        'workflow "Customers" {\n  object contact\n'
        '  enroll when contact.lifecyclestage = "customer"\n'
        "  settings { enroll existing records }\n"
        '  steps { send email "Thanks" }\n}\n',
        encoding="utf-8",
    )
    second = wfdsl(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    entries = history(tmp_path / "wfdsl-state.db")
    c3 = [(e["kind"], e["detail"].get("email")) for e in entries if e["id"] == "c3" and e["workflow"] == "Welcome"]
    assert c3[-3:] == [("action", None), ("action", "Welcome #3"), ("completed", None)]
    c1 = [e["detail"].get("email") for e in entries if e["id"] == "c1" and e["kind"] == "action"]
    assert "Welcome #3" not in c1  # c1 completed under the first version
    thanks = [e["id"] for e in entries if e["workflow"] == "Customers" and e["kind"] == "action"]
    assert thanks == ["c2"]  # activated on restart, enrolled the existing customer


def test_a_second_service_on_the_same_store_is_refused(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(Path(EVENTS).read_text(encoding="utf-8"), encoding="utf-8")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wfdsl",
            "run",
            WF,
            "--events",
            str(events),
            "--clock",
            "virtual",
            "--status-every",
            "0.2",
        ],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    assert process.stderr is not None
    assert process.stderr.readline().startswith("wfdsl run: ")  # running, holding the store
    other = wfdsl("run", WF, "--until-idle", cwd=tmp_path)
    os.kill(process.pid, signal.SIGINT)
    assert process.wait(timeout=20) == 0
    assert other.returncode == 2
    assert other.stderr == (
        f"wfdsl: error: wfdsl-state.db is in use by another `wfdsl run` "
        f"(pid {process.pid} on {platform.node() or 'this host'}); stop it first or use another --store\n"
    )
    assert wfdsl("run", WF, "--until-idle", cwd=tmp_path).returncode == 0  # free again


@pytest.mark.parametrize("command", ["status", "prune"])
def test_status_and_prune_never_create_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(command, "--store", "sqlite:///nope.db")
    assert result.exit_code == 2
    assert result.output == ("wfdsl: error: nope.db: no such state store (run `wfdsl run` first, or check --store)\n")
    assert not (tmp_path / "nope.db").exists()


def test_a_workflow_removed_from_the_sources_is_turned_off(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "welcome.wf").write_text(Path(WF).read_text(encoding="utf-8"), encoding="utf-8")
    args = [
        "run",
        str(project),
        "--records",
        RECORDS,
        "--events",
        EVENTS,
        "--clock",
        "virtual",
        "--until-idle",
        "--status-every",
        "0",
    ]
    assert wfdsl(*args, "--until", "2026-11-25T12:00:00Z", cwd=tmp_path).returncode == 0
    (project / "welcome.wf").write_text(
        'workflow "Other" {\n  object contact\n  enroll when contact.city = "Oslo"\n  steps { send email "Hei" }\n}\n',
        encoding="utf-8",
    )
    again = wfdsl(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    entries = history(tmp_path / "wfdsl-state.db")
    assert entries[-1]["id"] == "c3" and entries[-1]["kind"] == "unenrolled"
    assert entries[-1]["detail"]["reason"] == "deactivated"
    report = json.loads(wfdsl("status", "--format", "json", cwd=tmp_path).stdout)
    assert {w["name"]: w["active"] for w in report["workflows"]} == {"Other": True, "Welcome": False}
    assert report["totals"]["timers"] == 0


def test_run_refuses_workflows_with_placeholders(tmp_path: Path) -> None:
    source = tmp_path / "draft.wf"
    source.write_text(
        'workflow "Draft" {\n  object contact\n  enroll when contact.lifecyclestage = "lead"\n'
        '  steps {\n    placeholder "Send a survey"\n  }\n}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(source),
            "--store",
            f"sqlite:///{tmp_path / 's.db'}",
            "--crm",
            f"sqlite:///{tmp_path / 'c.db'}",
            "--events",
            os.devnull,
            "--until-idle",
        ],
    )
    assert result.exit_code == 1
    assert "draft.wf:5:5: error[placeholder-action]" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize(
    "error",
    [ConnectionError("connection refused by crm.example.com"), TimeoutError("read timed out"), OSError("disk full")],
)
def test_an_adapter_s_os_error_is_a_runtime_failure_not_an_events_error(
    monkeypatch: pytest.MonkeyPatch, error: OSError
) -> None:
    # Remote adapters raise OSError subclasses (ConnectionError, TimeoutError): exit 3,
    # never "cannot read the events" with exit 2.
    from wfdsl.adapters.memory import MemoryCRM

    def down(self: MemoryCRM, object_type: str, record_id: str) -> None:
        raise error

    monkeypatch.setattr(MemoryCRM, "get", down)
    result = invoke(
        "run",
        WF,
        "--store",
        "memory://",
        "--crm",
        "memory://",
        "--records",
        RECORDS,
        "--events",
        EVENTS,
        "--clock",
        "virtual",
        "--until-idle",
    )
    assert result.exit_code == 3, result.output
    assert "runtime failure" in result.output and str(error) in result.output
    assert "cannot read the events" not in result.output
    assert "Traceback" not in result.output


def test_an_unreadable_events_stream_is_exit_2(tmp_path: Path) -> None:
    # A directory opens but cannot be read as lines: an I/O error of the events, exit 2.
    result = invoke(
        "run",
        WF,
        "--store",
        "memory://",
        "--crm",
        "memory://",
        "--records",
        RECORDS,
        "--events",
        str(tmp_path),
        "--clock",
        "virtual",
        "--until-idle",
    )
    assert result.exit_code == 2, result.output
    assert str(tmp_path) in result.output
