"""`wfdsl plan`, `run` applying it, `history` and `outbox` on the PostgreSQL store and CRM
(a real server, tests/pg_server.py), as on SQLite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from test_operator_commands import PUSHDOWN_CASES, pushdown_keeps_every_match
from wfdsl.adapters.postgres import PostgresCRM
from wfdsl.cli import cli

V1 = """workflow "Drip" {
  object contact
  enroll on form.submitted
  steps {
    send email "A"
    delay 3 days
    send email "B"
  }
}
"""
EVENTS = [
    {"at": "2026-03-02T09:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1", "data": {}},
    {"at": "2026-03-02T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c2", "data": {}},
]
RECORDS = {"contact": [{"id": "c1", "email": "ann@example.com"}, {"id": "c2", "email": "bo@example.com"}]}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def run(root: Path, url: str, *extra: str, until: str) -> None:
    result = invoke(
        "run",
        str(root / "drip.wf"),
        "--store",
        url,
        "--crm",
        url,
        "--clock",
        "virtual",
        "--until-idle",
        "--until",
        until,
        "--status-every",
        "0",
        *extra,
    )
    assert result.exit_code == 0, result.output


def test_plan_run_history_outbox_on_postgres(tmp_path: Path, pg_url: str) -> None:
    (tmp_path / "drip.wf").write_text(V1, encoding="utf-8")
    (tmp_path / "records.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS), encoding="utf-8")
    run(
        tmp_path,
        pg_url,
        "--records",
        str(tmp_path / "records.json"),
        "--events",
        str(tmp_path / "events.jsonl"),
        until="2026-03-03T00:00:00Z",
    )
    assert invoke("plan", str(tmp_path / "drip.wf"), "--store", pg_url, "--detailed-exitcode").exit_code == 0
    (tmp_path / "drip.wf").write_text(V1.replace("  steps {\n", '  steps {\n    create task "T"\n'), encoding="utf-8")
    planned = invoke("plan", str(tmp_path / "drip.wf"), "--store", pg_url, "--format", "json", "--detailed-exitcode")
    assert planned.exit_code == 1, planned.output
    moves = json.loads(planned.output)["workflows"][0]["enrollments"]
    assert moves == [
        {
            "from": "steps.1",
            "to": "steps.2",
            "reason": "step_moved",
            "count": 2,
            "records": ["contact:c1", "contact:c2"],
        }
    ]
    run(tmp_path, pg_url, until="2026-03-10T00:00:00Z")
    assert invoke("plan", str(tmp_path / "drip.wf"), "--store", pg_url, "--detailed-exitcode").exit_code == 0
    history = invoke("history", "--store", pg_url, "--record", "contact:c1", "--format", "json")
    assert history.exit_code == 0, history.output
    entries = [json.loads(line) for line in history.output.splitlines()]
    assert [(e["kind"], e["step"]) for e in entries] == [
        ("enrolled", None),
        ("action", "steps.0"),
        ("delayed", "steps.1"),
        ("migrated", "steps.1"),
        ("action", "steps.3"),
        ("completed", None),
    ]
    assert entries[4]["at"] == "2026-03-05T09:00:00+00:00"
    outbox = invoke("outbox", "--crm", pg_url, "--format", "json", "--kind", "send_email", "--record", "contact:c1")
    assert outbox.exit_code == 0, outbox.output
    rows = [json.loads(line) for line in outbox.output.splitlines()]
    assert [(r["workflow"], r["email"], r["at"]) for r in rows] == [
        ("Drip", "A", "2026-03-02T09:00:00+00:00"),
        ("Drip", "B", "2026-03-05T09:00:00+00:00"),
    ]
    assert all(r["key"] for r in rows)


def test_pushdown_on_postgres_never_drops_a_record_that_meets_the_criteria(pg_url: str) -> None:
    crm = PostgresCRM(pg_url)
    try:
        narrowed = 0
        for n, criteria in enumerate(PUSHDOWN_CASES):
            meets, pushed = pushdown_keeps_every_match(crm, criteria, fresh=n == 0)
            assert meets <= pushed, criteria
            narrowed += len(pushed) < len(crm.records("contact"))
        assert narrowed >= 4  # it does narrow
    finally:
        crm.close()
