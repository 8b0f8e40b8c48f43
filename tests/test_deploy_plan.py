"""`wfdsl plan`: every kind of change against a SQLite store with waiting enrollments, and
`wfdsl run` of the same sources doing exactly what the plan said."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli
from wfdsl.stores.sqlite import SQLiteStore

WELCOME = """workflow "Welcome" {
  object contact
  enroll on form.submitted
  goal contact.lifecyclestage = "customer"
  steps {
    send email "A"
    delay 3 days
    send email "B"
    label "cool-off"
    delay 2 days
    send email "C"
  }
}
"""

NURTURE = """workflow "Nurture" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  steps {
    delay 1 day
    send email "N"
  }
}
"""

RECORDS = {
    "contact": [
        {"id": "c1", "email": "ann@example.com"},
        {"id": "c2", "email": "bo@example.com"},
        {"id": "c3", "email": "cy@example.com"},
    ]
}
EVENTS = [
    {"at": "2026-03-02T09:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1", "data": {}},
    {"at": "2026-03-02T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c2", "data": {}},
    {
        "at": "2026-03-02T11:00:00Z",
        "type": "record.updated",
        "object": "contact",
        "id": "c3",
        "properties": {"lifecyclestage": "lead"},
    },
    # c3 is in the second delay of Welcome by the end
    {"at": "2026-02-26T09:00:00Z", "type": "form.submitted", "object": "contact", "id": "c3", "data": {}},
]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A store where c1 and c2 wait in Welcome's first delay, c3 in the second one, and
    c3 in Nurture's delay."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "welcome.wf").write_text(WELCOME, encoding="utf-8")
    (tmp_path / "src" / "nurture.wf").write_text(NURTURE, encoding="utf-8")
    (tmp_path / "records.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    events = sorted(EVENTS, key=lambda e: e["at"])
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    result = run(tmp_path, "--records", str(tmp_path / "records.json"), "--events", str(tmp_path / "events.jsonl"))
    assert result.exit_code == 0, result.output
    return tmp_path


def run(root: Path, *extra: str, until: str = "2026-03-02T12:00:00Z") -> Any:
    return invoke(
        "run",
        str(root / "src"),
        "--store",
        f"sqlite:///{root / 'state.db'}",
        "--crm",
        f"sqlite:///{root / 'crm.db'}",
        "--clock",
        "virtual",
        "--until-idle",
        "--until",
        until,
        "--status-every",
        "0",
        *extra,
    )


def plan(root: Path, *extra: str) -> Any:
    return invoke("plan", str(root / "src"), "--store", f"sqlite:///{root / 'state.db'}", *extra)


def plan_json(root: Path) -> dict[str, Any]:
    result = plan(root, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "src" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def workflow(data: dict[str, Any], name: str) -> dict[str, Any]:
    found = [w for w in data["workflows"] if w["name"] == name]
    assert len(found) == 1, data
    return found[0]


def waiting(root: Path) -> dict[str, str | None]:
    store = SQLiteStore(root / "state.db")
    try:
        return {f"{e.workflow}/{e.record}": e.step for e in store.enrollments(status="active")}
    finally:
        store.close()


def migrated(root: Path) -> list[tuple[str, str, Any]]:
    store = SQLiteStore(root / "state.db")
    try:
        return [(e.workflow, e.id, dict(e.detail)) for e in store.history() if e.kind == "migrated"]
    finally:
        store.close()


def test_the_fixture_has_waiting_enrollments(project: Path) -> None:
    assert waiting(project) == {
        "Welcome/c3": "label:cool-off.1",
        "Nurture/c3": "steps.0",
        "Welcome/c1": "steps.1",
        "Welcome/c2": "steps.1",
    }


def test_no_change(project: Path) -> None:
    result = plan(project, "--detailed-exitcode")
    assert (result.exit_code, result.output) == (0, "No changes. The store runs these workflows as they are.\n")
    assert plan_json(project) == {
        "format_version": "1",
        "changed": False,
        "summary": {"add": 0, "change": 0, "remove": 0, "turn_on": 0, "moved": 0},
        "workflows": [],
    }


def test_reformatting_is_no_change(project: Path) -> None:
    edit(project, "welcome.wf", '    send email "A"\n', '\n\n    send email "A"   \n')
    assert plan(project, "--detailed-exitcode").exit_code == 0


def test_first_deploy_adds_everything_and_creates_no_store(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "welcome.wf").write_text(WELCOME, encoding="utf-8")
    result = plan(tmp_path, "--detailed-exitcode")
    assert result.exit_code == 1
    assert '+ workflow "Welcome" will be added and turned on' in result.output
    assert "Plan: 1 to add, 0 to change, 0 to turn off; 0 waiting enrollments to move." in result.output
    assert not (tmp_path / "state.db").exists()


def test_step_inserted_moves_waiting_enrollments_and_run_applies_it(project: Path) -> None:
    edit(project, "welcome.wf", '    send email "A"\n', '    create task "T"\n    send email "A"\n')
    result = plan(project, "--detailed-exitcode")
    assert result.exit_code == 1
    assert '~ workflow "Welcome" will be changed' in result.output
    assert '+ step steps.0  create task "T"  (added)' in result.output
    assert "2 waiting enrollments at steps.1 (contact:c1, contact:c2): they move with the step to steps.2" in (
        result.output
    )
    assert "1 waiting enrollment at label:cool-off.1" not in result.output  # its id does not change
    data = workflow(plan_json(project), "Welcome")
    assert data["enrollments"] == [
        {
            "from": "steps.1",
            "to": "steps.2",
            "reason": "step_moved",
            "count": 2,
            "records": ["contact:c1", "contact:c2"],
        }
    ]
    # run applies exactly that plan, and B goes out when the original 3 days are up
    assert run(project, until="2026-03-10T00:00:00Z").exit_code == 0
    moved = [(wf, rid, d["from"], d["to"]) for wf, rid, d in migrated(project)]
    assert moved == [("Welcome", "c1", "steps.1", "steps.2"), ("Welcome", "c2", "steps.1", "steps.2")]
    store = SQLiteStore(project / "state.db")
    try:
        sent_b = [e for e in store.history(record=("contact", "c1")) if e.detail.get("email") == "B"]
        tasks = [e for e in store.history(record=("contact", "c1")) if e.detail.get("action") == "create_task"]
    finally:
        store.close()
    assert [e.at.isoformat() for e in sent_b] == ["2026-03-05T09:00:00+00:00"]
    assert tasks == []
    assert plan(project, "--detailed-exitcode").exit_code == 0


def test_step_removed_continues_at_the_next_that_still_exists(project: Path) -> None:
    edit(project, "welcome.wf", '    delay 3 days\n    send email "B"\n', "")
    data = workflow(plan_json(project), "Welcome")
    assert [(s["change"], s["summary"], s["before"]) for s in data["steps"]] == [
        ("removed", "delay 3 days", "steps.1"),
        ("removed", 'send email "B"', "steps.2"),
    ]
    assert data["enrollments"] == [
        {
            "from": "steps.1",
            "to": "label:cool-off",
            "reason": "step_removed",
            "count": 2,
            "records": ["contact:c1", "contact:c2"],
        }
    ]
    text = plan(project).output
    assert "the step is removed; they continue at label:cool-off when their wait ends" in text
    assert run(project, until="2026-03-10T00:00:00Z").exit_code == 0
    assert {(rid, d["to"], d["reason"]) for _, rid, d in migrated(project)} == {
        ("c1", "label:cool-off", "step_removed"),
        ("c2", "label:cool-off", "step_removed"),
    }


def test_last_steps_removed_enrollments_complete(project: Path) -> None:
    edit(project, "welcome.wf", '    label "cool-off"\n    delay 2 days\n    send email "C"\n', "")
    data = workflow(plan_json(project), "Welcome")
    assert data["enrollments"] == [
        {"from": "label:cool-off.1", "to": None, "reason": "step_removed", "count": 1, "records": ["contact:c3"]}
    ]
    assert "the step is removed; it completes when its wait ends" in plan(project).output


def test_pinned_step_edited_is_changed_and_its_enrollments_stay(project: Path) -> None:
    edit(project, "welcome.wf", "    delay 2 days\n", "    delay 4 days\n")
    data = workflow(plan_json(project), "Welcome")
    assert [(s["change"], s["summary"]) for s in data["steps"]] == [
        ("changed", "delay 2 days → delay 4 days"),
    ]
    assert data["enrollments"] == [
        {
            "from": "label:cool-off.1",
            "to": "label:cool-off.1",
            "reason": "step_changed",
            "count": 1,
            "records": ["contact:c3"],
        }
    ]
    assert "the step is changed; it stays at it (its new version)" in plan(project).output
    assert plan_json(project)["summary"]["moved"] == 0


def test_content_edit_is_removed_plus_added(project: Path) -> None:
    edit(project, "welcome.wf", 'send email "B"', 'send email "B2"')
    data = workflow(plan_json(project), "Welcome")
    assert [(s["change"], s["summary"]) for s in data["steps"]] == [
        ("removed", 'send email "B"'),
        ("added", 'send email "B2"'),
    ]
    assert data["enrollments"] == []  # nobody waits at B


@pytest.mark.parametrize(
    "old,new,part,change",
    [
        ("enroll on form.submitted", "enroll on email.clicked", "trigger", "changed"),
        ('goal contact.lifecyclestage = "customer"', 'goal contact.lifecyclestage = "evangelist"', "goal", "changed"),
        ("  object contact\n", '  object contact\n  suppress list "Competitors"\n', "suppress_lists", "added"),
        ("  object contact\n", '  object contact\n  settings { timezone "Europe/Paris" }\n', "settings", "changed"),
        ("  object contact\n", '  object contact\n  unenroll when contact.city = "Oslo"\n', "unenroll", "added"),
        ("  object contact\n", '  object contact\n  description "Two emails"\n', "description", "added"),
    ],
)
def test_workflow_parts(project: Path, old: str, new: str, part: str, change: str) -> None:
    edit(project, "welcome.wf", old, new)
    data = workflow(plan_json(project), "Welcome")
    assert [(p["part"], p["change"]) for p in data["changes"]] == [(part, change)]
    assert data["steps"] == [] and data["enrollments"] == []
    assert plan(project, "--detailed-exitcode").exit_code == 1


def test_goal_removed_says_goal_stats_reset(project: Path) -> None:
    edit(project, "welcome.wf", '  goal contact.lifecyclestage = "customer"\n', "")
    data = workflow(plan_json(project), "Welcome")
    assert data["changes"][0]["part"] == "goal" and data["changes"][0]["change"] == "removed"
    assert data["stats_reset"] == {"goal_met": 0, "converted": 0}
    assert "goal stats reset: goal_met, converted and conversion_rate go to 0" in plan(project).output


def test_workflow_added_and_removed(project: Path) -> None:
    (project / "src" / "nurture.wf").unlink()
    (project / "src" / "extra.wf").write_text(NURTURE.replace('"Nurture"', '"Extra"'), encoding="utf-8")
    result = plan(project, "--detailed-exitcode")
    assert result.exit_code == 1
    assert '+ workflow "Extra" will be added and turned on' in result.output
    assert '- workflow "Nurture" is not in the sources: it will be turned off' in result.output
    assert "1 waiting enrollment will be unenrolled (deactivated)" in result.output
    assert "Plan: 1 to add, 0 to change, 1 to turn off; 0 waiting enrollments to move." in result.output
    assert run(project).exit_code == 0
    store = SQLiteStore(project / "state.db")
    try:
        assert not store.workflow_state("Nurture").get("active")
        assert store.workflow_state("Extra").get("active")
        reasons = [e.detail.get("reason") for e in store.history(workflow="Nurture") if e.kind == "unenrolled"]
    finally:
        store.close()
    assert reasons == ["deactivated"]
    assert plan(project, "--detailed-exitcode").exit_code == 0


def test_errors_exit_2(project: Path) -> None:
    (project / "src" / "broken.wf").write_text('workflow "X" {\n  object contact\n  steps { delay }\n}\n')
    assert plan(project, "--detailed-exitcode").exit_code == 2
    (project / "src" / "broken.wf").unlink()
    assert invoke("plan", str(project / "src"), "--store", "nope").exit_code == 2
    store = SQLiteStore(project / "state.db")
    try:
        with store.transaction():
            store.set_meta("plans", '{"format_version": "9", "workflows": []}')
    finally:
        store.close()
    result = plan(project)
    assert result.exit_code == 2
    assert "the deployed plans cannot be read" in result.output


def test_added_workflow_with_enroll_existing_counts_the_records_with_a_crm(project: Path) -> None:
    leads = (
        'workflow "Leads" {\n  object contact\n  enroll when contact.email is known\n'
        "  settings { enroll existing records }\n  steps { delay 1 day }\n}\n"
    )
    (project / "src" / "leads.wf").write_text(leads, encoding="utf-8")
    result = plan(project, "--crm", f"sqlite:///{project / 'crm.db'}")
    assert result.exit_code == 0, result.output
    assert "enroll existing records: 3 records meet its criteria now (contact:c1, contact:c2, contact:c3)" in (
        result.output
    )
    data = plan_json(project)  # without --crm: not counted
    assert workflow(data, "Leads")["enroll_existing"] is None
    counted = json.loads(plan(project, "--crm", f"sqlite:///{project / 'crm.db'}", "--format", "json").output)
    assert workflow(counted, "Leads")["enroll_existing"] == {
        "count": 3,
        "records": ["contact:c1", "contact:c2", "contact:c3"],
    }
    # and that is what turning it on does
    assert run(project).exit_code == 0
    assert sorted(k for k in waiting(project) if k.startswith("Leads/")) == ["Leads/c1", "Leads/c2", "Leads/c3"]
    missing = plan(project, "--crm", f"sqlite:///{project / 'nope.db'}")
    assert missing.exit_code == 2
