"""`wfdsl history`, `outbox`, `preview` and `--redact`, end to end on SQLite files that
`wfdsl run` wrote, with enrollments still waiting."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wfdsl.adapters.pushdown import criteria_sql
from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.cli import cli
from wfdsl.host.redact import Redactor, redactor_for
from wfdsl.plan.codec import criteria_from_data
from wfdsl.runtime.criteria import compile_criteria
from wfdsl.runtime.facts import RecordFacts
from wfdsl.stores.memory import MemoryStore

WELCOME = """workflow "Welcome" {
  object contact
  enroll on form.submitted
  steps {
    send email "Hello {{ contact.firstname }}"
    create task "Call {{ contact.firstname }}" assign to "rep@example.com"
    set contact.lifecyclestage = "lead"
    delay 3 days
    notify "sales@example.com" subject "Follow up" body "Call {{ contact.phone }}"
  }
}
"""

LEADS = """workflow "Leads" {
  object contact
  enroll when contact.lifecyclestage = "lead" and contact.country = "Norway"
  steps { send email "Velkommen" }
}
"""

RECORDS = {
    "contact": [
        {
            "id": "c1",
            "email": "Ann.Lee@example.com",
            "firstname": "Ann",
            "phone": "+47 912 34 567",
            "country": "Norway",
        },
        {"id": "c2", "email": "bo@example.com", "firstname": "Bo", "country": "Sweden"},
        {"id": "c3", "email": "cy@example.com", "firstname": "Cy", "country": "norway", "lifecyclestage": "lead"},
    ]
}
EVENTS = [
    {"at": "2026-03-02T09:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1", "data": {}},
    {"at": "2026-03-02T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c2", "data": {}},
    {"at": "2026-03-06T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c3", "data": {}},
]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """c1 and c2 completed Welcome; c3 waits in its delay."""
    root = tmp_path_factory.mktemp("ops")
    (root / "welcome.wf").write_text(WELCOME, encoding="utf-8")
    (root / "leads.wf").write_text(LEADS, encoding="utf-8")
    (root / "records.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (root / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS), encoding="utf-8")
    result = invoke(
        "run",
        str(root / "welcome.wf"),
        "--store",
        f"sqlite:///{root / 'state.db'}",
        "--crm",
        f"sqlite:///{root / 'crm.db'}",
        "--records",
        str(root / "records.json"),
        "--events",
        str(root / "events.jsonl"),
        "--clock",
        "virtual",
        "--until-idle",
        "--until",
        "2026-03-07T00:00:00Z",
        "--status-every",
        "0",
    )
    assert result.exit_code == 0, result.output
    return root


def store_url(root: Path) -> str:
    return f"sqlite:///{root / 'state.db'}"


def crm_url(root: Path) -> str:
    return f"sqlite:///{root / 'crm.db'}"


# ---------------------------------------------------------------- history


def test_history_json_is_the_simulate_trace_of_that_record(project: Path) -> None:
    result = invoke("history", "--store", store_url(project), "--record", "contact:c1", "--format", "json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["kind"], e["step"]) for e in lines] == [
        ("enrolled", None),
        ("action", "steps.0"),
        ("action", "steps.1"),
        ("action", "steps.2"),
        ("delayed", "steps.3"),
        ("action", "steps.4"),
        ("completed", None),
    ]
    assert set(lines[0]) == {"at", "workflow", "object", "id", "kind", "step", "detail"}
    assert lines[1]["detail"] == {"action": "send_email", "email": "Hello Ann"}
    simulated = invoke(
        "simulate",
        str(project / "welcome.wf"),
        "--records",
        str(project / "records.json"),
        "--events",
        str(project / "events.jsonl"),
        "--format",
        "json",
    )
    from_simulate = [json.loads(x) for x in simulated.output.splitlines() if json.loads(x)["id"] == "c1"]
    assert lines == from_simulate


def test_history_text_shows_the_waiting_enrollment(project: Path) -> None:
    result = invoke("history", "--store", store_url(project), "--record", "contact:c3")
    assert result.exit_code == 0, result.output
    head = result.output.splitlines()[:2]
    assert head == [
        "contact:c3: 1 enrollment",
        "  Welcome  active  enrolled 2026-03-06T10:00:00Z  at steps.3  until 2026-03-09T10:00:00Z",
    ]
    assert '2026-03-06 10:00Z  Welcome  contact:c3  action send_email  [steps.0]  email="Hello Cy"' in result.output


def test_history_filters_and_errors(project: Path) -> None:
    ok = invoke("history", "--store", store_url(project), "--record", "contact:c1", "--workflow", "Welcome")
    assert ok.exit_code == 0
    for args, message in [
        (["--record", "contact:c9"], "contact:c9: no enrollments or history in this store"),
        (["--record", "contact:c1", "--workflow", "Nope"], 'unknown workflow "Nope" (the store knows: "Welcome")'),
        (["--record", "c1"], "--record: expected TYPE:ID (e.g. contact:c1), found 'c1'"),
    ]:
        result = invoke("history", "--store", store_url(project), *args)
        assert result.exit_code == 2
        assert message in result.output
    missing = invoke("history", "--store", f"sqlite:///{project / 'nope.db'}", "--record", "contact:c1")
    assert missing.exit_code == 2 and not (project / "nope.db").exists()


# ---------------------------------------------------------------- outbox


def test_outbox_lists_every_performed_action_with_its_key(project: Path) -> None:
    result = invoke("outbox", "--crm", crm_url(project), "--format", "json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["id"], r["kind"]) for r in rows] == [
        ("c1", "send_email"),
        ("c1", "create_task"),
        ("c1", "set"),
        ("c2", "send_email"),
        ("c2", "create_task"),
        ("c2", "set"),
        ("c1", "notify"),
        ("c2", "notify"),
        ("c3", "send_email"),
        ("c3", "create_task"),
        ("c3", "set"),
    ]
    first = rows[0]
    assert list(first)[:6] == ["at", "workflow", "kind", "object", "id", "key"]
    assert first == {
        "at": "2026-03-02T09:00:00+00:00",
        "workflow": "Welcome",
        "kind": "send_email",
        "object": "contact",
        "id": "c1",
        "key": first["key"],
        "email": "Hello Ann",
    }
    assert len({r["key"] for r in rows}) == len(rows)
    # the arguments are those of the trace
    trace = invoke("history", "--store", store_url(project), "--record", "contact:c1", "--format", "json")
    actions = [json.loads(x)["detail"] for x in trace.output.splitlines() if json.loads(x)["kind"] == "action"]
    mine = [
        {
            "action": r["kind"],
            **{k: v for k, v in r.items() if k not in ("at", "workflow", "kind", "object", "id", "key")},
        }
        for r in rows
        if r["id"] == "c1"
    ]
    assert mine == [{k: v for k, v in a.items() if k != "object"} for a in actions]


def test_outbox_filters(project: Path) -> None:
    def ids(*args: str) -> list[tuple[str, str]]:
        result = invoke("outbox", "--crm", crm_url(project), "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return [(json.loads(x)["id"], json.loads(x)["kind"]) for x in result.output.splitlines()]

    assert ids("--record", "contact:c3") == [("c3", "send_email"), ("c3", "create_task"), ("c3", "set")]
    assert ids("--kind", "notify") == [("c1", "notify"), ("c2", "notify")]
    assert ids("--since", "2026-03-05T09:30:00Z") == [
        ("c2", "notify"),
        ("c3", "send_email"),
        ("c3", "create_task"),
        ("c3", "set"),
    ]
    assert ids("--kind", "webhook") == []
    text = invoke("outbox", "--crm", crm_url(project), "--kind", "notify").output
    assert text.splitlines()[0] == (
        '2026-03-05T09:00:00Z  Welcome  contact:c1  notify  body="Call +47 912 34 567" '
        'recipient="sales@example.com" subject="Follow up"  key=' + text.split("key=")[1].split()[0]
    )
    assert invoke("outbox", "--crm", crm_url(project), "--since", "yesterday").exit_code == 2
    assert invoke("outbox", "--crm", f"sqlite:///{project / 'none.db'}").exit_code == 2
    assert invoke("outbox", "--crm", "memory://").exit_code == 2  # keeps no log


# ---------------------------------------------------------------- preview


def test_preview_counts_and_lists_the_records_that_meet_the_criteria(project: Path) -> None:
    result = invoke("preview", str(project / "leads.wf"), "--crm", crm_url(project))
    assert result.exit_code == 0, result.output
    # c1 and c2 became leads through the workflow; c3 was one; only Norway counts (any case)
    assert result.output == ('2 records meet the enrollment criteria of "Leads" now\n  contact:c1\n  contact:c3\n')
    data = json.loads(
        invoke(
            "preview", str(project / "leads.wf"), "--crm", crm_url(project), "--format", "json", "--limit", "1"
        ).output
    )
    assert data == {"workflow": "Leads", "object": "contact", "total": 2, "records": ["contact:c1"], "scanned": 2}


def test_preview_errors(project: Path) -> None:
    both = invoke("preview", str(project / "welcome.wf"), str(project / "leads.wf"), "--crm", crm_url(project))
    assert both.exit_code == 2 and "--workflow" in both.output
    events = invoke("preview", str(project / "welcome.wf"), "--crm", crm_url(project))
    assert events.exit_code == 2 and "enrolls on events" in events.output


PUSHDOWN_CASES: list[dict[str, Any]] = [
    {"op": "eq", "object": "contact", "property": "country", "value": "Norway"},
    {"op": "in", "object": "contact", "property": "country", "values": ["norway", "Sweden"]},
    {"op": "known", "object": "contact", "property": "phone"},
    {"op": "not", "item": {"op": "in_list", "list": "VIP"}},
    {"op": "not", "item": {"op": "eq", "object": "contact", "property": "country", "value": "Norway"}},
    {
        "op": "or",
        "items": [
            {"op": "in_list", "list": "VIP"},
            {"op": "eq", "object": "contact", "property": "city", "value": "Oslo"},
        ],
    },
    {
        "op": "and",
        "items": [
            {"op": "in_list", "list": "VIP"},
            {"op": "eq", "object": "contact", "property": "city", "value": "Norway"},
            {"op": "enrolled_in", "workflow": "W"},
        ],
    },
    {"op": "eq", "object": "contact", "property": "score", "value": "42"},
    {"op": "eq", "object": "contact", "property": "vip", "value": "true"},
    {"op": "eq", "object": "company", "property": "name", "value": "Acme"},
]
PUSHDOWN_VALUES: list[Any] = ["Norway", "NORWAY", "norway ", "Sweden", "", None, "Straße", "42", 42, 42.0, True, "true"]


def pushdown_keeps_every_match(crm: Any, criteria: dict[str, Any], fresh: bool = True) -> tuple[set[str], set[str]]:
    """Fill `crm` with awkward values, and return (the records that meet `criteria`, the
    ones its query returns)."""
    at = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    if fresh:
        for i, value in enumerate(PUSHDOWN_VALUES):
            props = {"country": value, "city": value, "score": value, "vip": value, "phone": value}
            crm.add_record("contact", f"c{i}", {k: v for k, v in props.items() if v is not None}, at=at)
        crm.add_to_list("VIP", ("contact", "c3"))
        crm.add_to_list("VIP", ("contact", "c0"))
    typed = criteria_from_data(criteria)
    check = compile_criteria(typed)
    store = MemoryStore()
    meets = {r.id for r in crm.records("contact") if check(RecordFacts(crm, store, r, now=at, tz=dt.timezone.utc))}
    return meets, set(crm.query("contact", typed))


@pytest.mark.parametrize("criteria", PUSHDOWN_CASES)
def test_pushdown_never_drops_a_record_that_meets_the_criteria(tmp_path: Path, criteria: dict[str, Any]) -> None:
    crm = SQLiteCRM(tmp_path / "crm.db")
    try:
        meets, pushed = pushdown_keeps_every_match(crm, criteria)
    finally:
        crm.close()
    assert meets <= pushed


def test_pushdown_narrows_what_it_can() -> None:
    sql, params = criteria_sql(
        criteria_from_data({"op": "eq", "object": "contact", "property": "country", "value": "Norway"}), "contact"
    )
    assert "json_extract" in sql and params == ["norway"]
    assert criteria_sql(
        criteria_from_data({"op": "eq", "object": "contact", "property": "n", "value": "42"}), "contact"
    ) == ("1", [])
    assert criteria_sql(None, "contact") == ("1", [])


# ---------------------------------------------------------------- redaction


def test_redacted_history_and_outbox(project: Path) -> None:
    history = invoke("history", "--store", store_url(project), "--record", "contact:c1", "--format", "json", "--redact")
    text = history.output
    assert "sales@example.com" not in text and "rep@example.com" not in text
    assert "<email:" in text
    outbox = invoke("outbox", "--crm", crm_url(project), "--redact", "--format", "json").output
    assert "example.com" not in outbox
    assert "+47" not in outbox and "<phone:" in outbox
    # stable: the same address gives the same hash everywhere
    token = Redactor(salt="").token("email", "sales@example.com")
    assert token in outbox


def test_redacted_simulate_hides_names_known_from_the_records(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WFDSL_REDACT_SALT", raising=False)
    args = [
        "simulate",
        str(project / "welcome.wf"),
        "--records",
        str(project / "records.json"),
        "--events",
        str(project / "events.jsonl"),
    ]
    plain = invoke(*args).output
    redacted = invoke(*args, "--redact").output
    assert "Hello Ann" in plain and "Ann" not in redacted and "Hello <name:" in redacted
    assert "example.com" not in redacted
    assert redacted.count("\n") == plain.count("\n")
    again = invoke(*args, "--redact").output
    assert again == redacted
    # step ids, workflow names, record ids and times are kept
    assert "Welcome  contact:c1  action send_email  [steps.0]" in redacted


def test_redacted_explain(project: Path) -> None:
    args = [
        "explain",
        str(project / "leads.wf"),
        "--records",
        str(project / "records.json"),
        "--events",
        str(project / "events.jsonl"),
        "--record",
        "contact:c3",
    ]
    assert invoke(*args).exit_code == 0
    for fmt in ("text", "json"):
        out = invoke(*args, "--redact", "--format", fmt).output
        assert "cy@example.com" not in out and "Cy" not in out.replace("Cyc", "")


def test_redactor_keeps_what_is_not_personal() -> None:
    r = Redactor(salt="")
    kept = "2026-03-05T09:00:00+00:00 until 09:00 amount 1500000 id 12345678 v1.2.3 2026-03-05"
    assert r.text(kept) == kept
    assert r.text("call (555) 123-4567 or +4915112345678").count("<phone:") == 2
    assert r.json({"action": "send_email", "email": "Welcome #1"}) == {"action": "send_email", "email": "Welcome #1"}
    assert r.json({"action": "set", "object": "contact", "property": "lastname", "value": "Lee"})["value"].startswith(
        "<name:"
    )


def test_schema_sensitive_properties_are_redacted(tmp_path: Path) -> None:
    (tmp_path / "wfdsl.toml").write_text(
        '[schema.contact]\nshoe_size = { type = "number", sensitive = true }\n', encoding="utf-8"
    )
    from wfdsl.schema import load_schema

    schema = load_schema(tmp_path)
    r = redactor_for(schema, [{"shoe_size": "44", "firstname": "Ann"}])
    out = r.json({"properties": {"shoe_size": 44, "city": "Oslo"}})
    assert out["properties"]["shoe_size"].startswith("<sensitive:") and out["properties"]["city"] == "Oslo"
    assert r.text("Dear Ann") == f"Dear {r.token('name', 'Ann')}"
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nx = { type = "number", sensitive = 1 }\n', encoding="utf-8")
    from wfdsl.schema import ConfigError

    with pytest.raises(ConfigError, match="sensitive"):
        load_schema(tmp_path)


def test_run_redacts_its_warning_and_status_lines(tmp_path: Path) -> None:
    (tmp_path / "welcome.wf").write_text(WELCOME, encoding="utf-8")
    (tmp_path / "bad.jsonl").write_text(
        '{"at": "ann@example.com", "type": "form.submitted", "object": "contact", "id": "c1"}\n', encoding="utf-8"
    )

    def run(name: str, *extra: str) -> str:
        result = invoke(
            "run",
            str(tmp_path / "welcome.wf"),
            "--store",
            f"sqlite:///{tmp_path / (name + '.db')}",
            "--crm",
            f"sqlite:///{tmp_path / (name + '-crm.db')}",
            "--events",
            str(tmp_path / "bad.jsonl"),
            "--clock",
            "virtual",
            "--until-idle",
            *extra,
        )
        assert result.exit_code == 0, result.output
        return str(result.output)

    plain, redacted = run("plain"), run("redacted", "--redact")
    assert "'ann@example.com'" in plain
    assert "ann@example.com" not in redacted and "<email:" in redacted
    assert redacted.splitlines()[-1] == plain.splitlines()[-1]  # the status line has no personal data
