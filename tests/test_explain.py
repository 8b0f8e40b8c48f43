"""`wfdsl explain`: each decision about one record, with the criteria trees evaluated then.

The "why not enrolled" cases of the engine (criteria unmet, already enrolled,
re-enrollment off, suppressed, unenroll criteria, goal already met, `only if`
false, event attributes that do not match, no trigger at all) each get a
scenario whose explanation is pinned as a snapshot, plus direct assertions on
the verdict and the leaves that decided it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from syrupy.assertion import SnapshotAssertion

from engine_helpers import at, event, plans
from wfdsl.cli import cli
from wfdsl.compile.compiler import load_plans
from wfdsl.host.explain import (
    Check,
    EventMatch,
    ExplainError,
    ExplainSimulation,
    Explanation,
    Outcome,
    explain_record,
    render_text,
    resolve_record,
)
from wfdsl.host.simulate import Simulation, load_records, load_records_data, read_events
from wfdsl.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def explain(
    text: str,
    records: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    record: str,
    workflow: str | None = None,
    **kw: str,
) -> Explanation:
    times = {k: at(v) for k, v in kw.items()}
    return explain_record(
        plans(text),
        load_records_data(dict(records), "records.json"),
        [event(e) for e in events],
        record,
        workflow=workflow,
        **times,
    )


def outcomes(report: Explanation, workflow: str) -> list[tuple[str, str | None, bool]]:
    return [
        (item.kind, item.reason, item.recorded)
        for moment in report.workflow(workflow).moments
        for item in moment.items
        if isinstance(item, Outcome)
    ]


def leaves(report: Explanation, workflow: str, role: str) -> list[str]:
    """The rendered leaf lines of every check of `role` in that workflow."""
    out = []
    for moment in report.workflow(workflow).moments:
        for item in moment.items:
            if isinstance(item, (Check, EventMatch)) and getattr(item, "role", "match") == role:
                out.extend(line.strip() for line in item.tree.lines() if "(" in line)
    return out


def ev(when: str, kind: str, rid: str = "c1", **fields: Any) -> dict[str, Any]:
    return {"at": when, "type": kind, "object": "contact", "id": rid, **fields}


# ---------------------------------------------------------------- why not enrolled

FILTER = """\
workflow "Leads" {
  object contact
  enroll when contact.lifecyclestage = "lead" and contact.email is known
  steps { send email "Hello" delay 3 days send email "Again" }
}
"""


def test_criteria_unmet_shows_the_leaf_and_the_value_it_saw(snapshot: SnapshotAssertion) -> None:
    report = explain(
        FILTER,
        {"contact": [{"id": "c1", "email": "a@x.io", "lifecyclestage": "subscriber"}]},
        [ev("2026-03-02T10:00:00Z", "record.updated", properties={"lifecyclestage": "other"})],
        "c1",
    )
    wf = report.workflow("Leads")
    assert wf.enrollments == 0
    assert wf.reasons == ("criteria_unmet",)
    assert '✗ contact.lifecyclestage = "lead"   (was "subscriber")' in leaves(report, "Leads", "trigger_start")
    assert '✗ contact.lifecyclestage = "lead"   (was "other")' in leaves(report, "Leads", "trigger")
    assert ("not_enrolled", "criteria_unmet", False) in outcomes(report, "Leads")
    assert render_text(report) == snapshot


def test_already_met_before_the_change_is_not_a_new_match(snapshot: SnapshotAssertion) -> None:
    # It was a lead with an email before it changed its email: nothing new to enroll on.
    report = explain(
        FILTER,
        {"contact": [{"id": "c1", "email": "a@x.io", "lifecyclestage": "lead"}]},
        [ev("2026-03-02T10:00:00Z", "record.updated", properties={"email": "b@x.io"})],
        "c1",
    )
    assert report.workflow("Leads").reasons == ("already_met",)
    assert render_text(report) == snapshot


def test_already_enrolled(snapshot: SnapshotAssertion) -> None:
    text = """\
workflow "Demo" {
  object contact
  enroll on form.submitted
  reenroll every time
  steps { delay 2 days send email "Demo" }
}
"""
    report = explain(
        text,
        {"contact": [{"id": "c1"}]},
        [
            ev("2026-03-02T10:00:00Z", "form.submitted", data={"form": "A"}),
            ev("2026-03-03T10:00:00Z", "form.submitted", data={"form": "B"}),
        ],
        "c1",
    )
    assert report.workflow("Demo").enrollments == 1
    assert ("not_enrolled", "already_enrolled", True) in outcomes(report, "Demo")
    assert render_text(report) == snapshot


def test_reenroll_off_says_how_to_allow_it(snapshot: SnapshotAssertion) -> None:
    text = """\
workflow "Once" {
  object contact
  enroll on form.submitted
  steps { send email "Hi" }
}
"""
    report = explain(
        text,
        {"contact": [{"id": "c1"}]},
        [ev("2026-03-02T10:00:00Z", "form.submitted"), ev("2026-03-05T10:00:00Z", "form.submitted")],
        "c1",
    )
    body = render_text(report)
    assert "not_enrolled (reenroll_off)" in body
    assert "add `reenroll every time` to allow it" in body
    assert body == snapshot


def test_suppressed_names_the_list(snapshot: SnapshotAssertion) -> None:
    text = """\
workflow "Nurture" {
  object contact
  enroll on form.submitted
  suppress list "Competitors", list "Employees"
  steps { send email "One" }
}
"""
    report = explain(
        text,
        {"contact": [{"id": "c9"}], "lists": {"Employees": ["contact:c9"]}},
        [ev("2026-03-02T10:00:00Z", "form.submitted", "c9")],
        "c9",
    )
    assert report.workflow("Nurture").reasons == ("suppressed",)
    body = render_text(report)
    assert '✗ not in list "Competitors", ✓ in list "Employees"' in body
    assert body == snapshot


def test_unenroll_criteria_at_enrollment(snapshot: SnapshotAssertion) -> None:
    text = """\
workflow "Trial" {
  object contact
  enroll on form.submitted
  unenroll when contact.email_opt_out = true
  steps { delay 2 days send email "Trial ending" }
}
"""
    report = explain(
        text,
        {"contact": [{"id": "c2", "email_opt_out": True}]},
        [ev("2026-03-02T10:00:00Z", "form.submitted", "c2")],
        "c2",
    )
    assert report.workflow("Trial").reasons == ("unenroll_criteria",)
    assert "✓ contact.email_opt_out = true   (was true)" in render_text(report)
    assert render_text(report) == snapshot


def test_goal_already_met(snapshot: SnapshotAssertion) -> None:
    text = """\
workflow "Upsell" {
  object contact
  enroll on form.submitted
  goal contact.lifecyclestage = "customer"
  steps { send email "Offer" }
}
"""
    report = explain(
        text,
        {"contact": [{"id": "c1", "lifecyclestage": "customer"}]},
        [ev("2026-03-02T10:00:00Z", "form.submitted")],
        "c1",
    )
    assert report.workflow("Upsell").reasons == ("goal_already_met",)
    assert leaves(report, "Upsell", "goal") == ['✓ contact.lifecyclestage = "customer"   (was "customer")']
    assert render_text(report) == snapshot


REFINED = """\
workflow "Demo follow-up" {
  object contact
  enroll on form.submitted(form = "Demo request" and url.domain = "example.com")
    only if contact.country = "NO"
  steps { create task "Call {{ contact.firstname }}" }
}
"""


def test_refinement_false_at_the_moment_of_the_event(snapshot: SnapshotAssertion) -> None:
    # c2 becomes Norwegian after the form: `only if` is judged when the event occurs.
    report = explain(
        REFINED,
        {"contact": [{"id": "c2", "country": "SE"}]},
        [
            ev(
                "2026-03-02T10:05:00Z",
                "form.submitted",
                "c2",
                data={"form": "Demo request", "url": "https://www.example.com/demo"},
            ),
            ev("2026-03-02T10:10:00Z", "record.updated", "c2", properties={"country": "NO"}),
        ],
        "c2",
    )
    wf = report.workflow("Demo follow-up")
    assert wf.reasons == ("refinement_unmet",)
    assert leaves(report, "Demo follow-up", "refinement") == ['✗ contact.country = "NO"   (was "SE")']
    assert render_text(report) == snapshot


def test_wrong_event_attributes(snapshot: SnapshotAssertion) -> None:
    report = explain(
        REFINED,
        {"contact": [{"id": "c2", "country": "NO"}]},
        [
            ev(
                "2026-03-02T10:15:00Z",
                "form.submitted",
                "c2",
                data={"form": "Newsletter", "url": "https://www.example.com/news"},
            ),
            ev(
                "2026-03-02T10:20:00Z",
                "form.submitted",
                "c2",
                data={"form": "Demo request", "url": "https://other.org/demo"},
            ),
        ],
        "c2",
    )
    wf = report.workflow("Demo follow-up")
    assert wf.reasons == ("event_mismatch",)
    body = render_text(report)
    assert '✗ form = "Demo request"   (was "Newsletter")' in body
    assert '✗ url.domain = "example.com"   (was "other.org")' in body
    assert body == snapshot


def test_no_trigger_ever_matched(snapshot: SnapshotAssertion) -> None:
    text = (
        REFINED
        + """
workflow "Leads" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  steps { send email "Hello" }
}

workflow "By hand" {
  object contact
  steps { send email "Hello" }
}
"""
    )
    report = explain(
        text,
        {"contact": [{"id": "c1", "country": "NO", "lifecyclestage": "subscriber"}]},
        [ev("2026-03-02T10:00:00Z", "page.visited", data={"url": "https://www.example.com/pricing"})],
        "c1",
    )
    verdicts = {w.name: w.verdict for w in report.workflows}
    assert verdicts["Demo follow-up"].startswith(
        "never enrolled: no trigger event ever arrived (form.submitted); events of this record: page.visited"
    )
    assert verdicts["By hand"].startswith("never enrolled: it enrolls only manually")
    # the final state is evaluated for every workflow it never enrolled in
    final = report.workflow("Leads").final
    assert final and not final[0].result
    assert render_text(report) == snapshot


def test_branches_and_goal_while_waiting(snapshot: SnapshotAssertion) -> None:
    text = """\
workflow "Welcome" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  goal contact.lifecyclestage = "customer" or has form.submitted(form = "Demo request")
  steps {
    send email "Welcome #1"
    delay 2 days
    if contact.hubspotscore >= 50 { create task "Call" } else { send email "Welcome #2" }
    delay 2 days
    send email "Welcome #3"
  }
}
"""
    report = explain(
        text,
        {"contact": [{"id": "c1", "hubspotscore": 35}]},
        [
            ev("2026-03-02T10:00:00Z", "record.updated", properties={"lifecyclestage": "lead"}),
            ev("2026-03-05T10:00:00Z", "form.submitted", data={"form": "Demo request"}),
        ],
        "c1",
    )
    wf = report.workflow("Welcome")
    assert wf.verdict == "enrolled 1 time; goal met, converted, unenrolled (goal_met)"
    assert "✗ contact.hubspotscore >= 50   (was 35)" in leaves(report, "Welcome", "branch")
    body = render_text(report)
    assert '✓ has form.submitted(form = "Demo request")   (1 matching event)' in body
    assert body == snapshot


# ---------------------------------------------------------------- the observed engine


def _example_plans() -> Any:
    return load_plans([str(EXAMPLES)], load_schema(EXAMPLES))


def test_observing_changes_nothing_the_engine_does() -> None:
    plans_ = _example_plans()
    seed = load_records(EXAMPLES / "records.json")
    events = list(read_events(EXAMPLES / "events.jsonl"))
    until = at("2027-02-01T00:00:00Z")
    plain = Simulation(plans_, seed, until=until)
    plain.run(events)
    observed = ExplainSimulation(plans_, seed, ("contact", "c1"), until=until)
    observed.run(events)
    assert observed.trace() == plain.trace()
    assert observed.stats() == plain.stats()


def test_resolve_record() -> None:
    known = [("contact", "c1"), ("company", "c1"), ("contact", "c2")]
    assert resolve_record("contact:c2", known) == ("contact", "c2")
    assert resolve_record("c2", known) == ("contact", "c2")
    with pytest.raises(ExplainError, match="ambiguous: company:c1, contact:c1"):
        resolve_record("c1", known)
    with pytest.raises(ExplainError, match="did you mean `contact:c2`"):
        resolve_record("contact:c3", known)


# ---------------------------------------------------------------- CLI

ARGS = [str(EXAMPLES), "--records", str(EXAMPLES / "records.json"), "--events", str(EXAMPLES / "events.jsonl")]


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["explain", *args])


def test_cli_text_on_an_example(snapshot: SnapshotAssertion) -> None:
    result = run(*ARGS, "--record", "c1", "--workflow", "Welcome series")
    assert result.exit_code == 0, result.output
    assert result.output == snapshot


def test_cli_why_not_on_an_example(snapshot: SnapshotAssertion) -> None:
    result = run(*ARGS, "--record", "contact:c9", "--workflow", "Welcome series")
    assert result.exit_code == 0, result.output
    assert "Welcome series: never enrolled: suppressed" in result.output
    assert result.output == snapshot


def test_cli_json() -> None:
    result = run(*ARGS, "--record", "c3", "--workflow", "Contact form follow-up", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["record"] == "contact:c3"
    (wf,) = data["workflows"]
    assert wf["reasons"] == ["refinement_unmet"]
    check = next(i for m in wf["moments"] for i in m["items"] if i.get("role") == "refinement")
    leaf = check["tree"]["children"][0]
    assert leaf == {
        "text": 'contact.country in ["Norway", "Sweden", "Denmark", "Finland"]',
        "result": False,
        "seen": 'was "Ireland"',
    }


def test_cli_every_workflow_of_the_object_type() -> None:
    result = run(*ARGS, "--record", "deal:d2")
    assert result.exit_code == 0, result.output
    assert "Deal won hand-off: never enrolled: event_mismatch" in result.output
    assert "Welcome series" not in result.output
    assert '✗ previous value = "contractsent"   (was "presentationscheduled")' in result.output


def test_cli_unknown_record_exits_2_with_did_you_mean() -> None:
    result = run(*ARGS, "--record", "c99")
    assert result.exit_code == 2
    assert "wfdsl: error: unknown record 'c99'" in result.output
    assert "did you mean" in result.output
    result = run(*ARGS, "--record", "contakt:c13")
    assert result.exit_code == 2
    assert "did you mean `contact:c13`" in result.output


def test_cli_unknown_workflow_exits_2_with_did_you_mean() -> None:
    result = run(*ARGS, "--record", "c1", "--workflow", "Welcome serie")
    assert result.exit_code == 2
    assert result.output == ('wfdsl: error: unknown workflow "Welcome serie"; did you mean "Welcome series"?\n')


def test_cli_workflow_of_another_object_type_exits_2() -> None:
    result = run(*ARGS, "--record", "c1", "--workflow", "Deal won hand-off")
    assert result.exit_code == 2
    assert "enrolls deal records; contact:c1 is a contact" in result.output


def test_cli_bad_files_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "events.jsonl"
    bad.write_text('{"at": "2026-11-23T10:00:00Z"}\n', encoding="utf-8")
    result = run(str(EXAMPLES), "--records", str(EXAMPLES / "records.json"), "--events", str(bad), "--record", "c1")
    assert result.exit_code == 2
    assert f"{bad}:1: missing field `type`" in result.output
    result = run(str(EXAMPLES), "--records", str(tmp_path / "none.json"), "--events", str(bad), "--record", "c1")
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_reenroll_on_change_needs_a_listed_property(snapshot: SnapshotAssertion) -> None:
    text = """\
workflow "On change" {
  object contact
  enroll when contact.lifecyclestage = "lead" and contact.score > 10
  reenroll on change of contact.score
  steps { send email "Score" }
}
"""
    report = explain(
        text,
        {"contact": [{"id": "c1", "lifecyclestage": "lead", "score": 1}]},
        [
            ev("2026-03-05T11:00:00Z", "record.updated", properties={"score": 20}),
            ev("2026-03-05T13:00:00Z", "record.updated", properties={"lifecyclestage": "other"}),
            ev("2026-03-05T14:00:00Z", "record.updated", properties={"lifecyclestage": "lead"}),
            ev("2026-03-05T15:00:00Z", "record.updated", properties={"email": "x@y.z", "score": 30}),
            ev("2026-03-05T16:00:00Z", "record.updated", properties={"lifecyclestage": "Lead"}),
        ],
        "c1",
    )
    wf = report.workflow("On change")
    assert wf.enrollments == 2
    assert wf.reasons == ("criteria_unmet", "reenroll_off", "already_met")
    body = render_text(report)
    assert "enrolled before; re-enrollment needs a change of contact.score" in body
    assert "it enrolled before, and re-enrolls only on a change of contact.score" in body
    assert body == snapshot


# ---------------------------------------------------------------- the engine's scenarios

ENGINE_CASES = sorted((ROOT / "tests" / "cases" / "engine").glob("*.case"))


def _case(path: Path) -> tuple[str, dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    parts = {"workflows": ""}
    current = "workflows"
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("--- "):
            current = line[4:].strip()
            parts[current] = ""
        else:
            parts[current] += line
    events = [json.loads(x) for x in (parts.get("events") or "").splitlines() if x.strip()]
    return (
        parts["workflows"],
        json.loads(parts.get("records") or "{}"),
        events,
        json.loads(parts.get("options") or "{}"),
    )


@pytest.mark.parametrize("path", ENGINE_CASES, ids=[p.stem for p in ENGINE_CASES])
def test_explain_agrees_with_every_engine_scenario(path: Path) -> None:
    """Observing changes no decision, and each `not_enrolled` of the trace is explained."""
    text, records, events, options = _case(path)
    times = {k: at(v) for k, v in options.items() if k in ("start", "until")}
    plan = plans(text)
    seed = load_records_data(records, "records.json")
    stream = [event(e) for e in events]
    plain = Simulation(plan, seed, **times)
    plain.run(iter(stream))
    trace = plain.trace()
    refused: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for entry in trace:
        # (a record that does not exist cannot be explained: explain says so, exit 2)
        if (
            entry["kind"] == "not_enrolled"
            and entry["workflow"] in {w.name for w in plan.workflows}
            and entry["detail"]["reason"] != "unknown_record"
        ):
            refused.setdefault((entry["object"], entry["id"]), set()).add(
                (entry["workflow"], entry["detail"]["reason"])
            )
    if not refused and seed.records:
        first = seed.records[0]
        observed = ExplainSimulation(plan, seed, (first.object, first.id), **times)
        observed.run(iter(stream))
        assert observed.trace() == trace
    for (object_type, record_id), expected in refused.items():
        observed = ExplainSimulation(plan, seed, (object_type, record_id), **times)
        observed.run(iter(stream))
        assert observed.trace() == trace
        report = explain_record(plan, seed, stream, f"{object_type}:{record_id}", **times)
        for workflow, reason in expected:
            wf = report.workflow(workflow)
            assert reason in wf.reasons, (workflow, reason, wf.verdict)
            assert f"not_enrolled ({reason})" in render_text(report)


def test_the_explain_observer_implements_every_hook() -> None:
    """Explain watches the engine through the `Observer` protocol: a hook renamed on one
    side would silently stop being called, so each hook of the protocol must exist on
    the explain observer (and on the no-op observer) with the same parameters."""
    import inspect

    from wfdsl.host.explain import ExplainObserver
    from wfdsl.runtime.observe import NullObserver, Observer

    hooks = [name for name, value in vars(Observer).items() if callable(value) and not name.startswith("_")]
    assert len(hooks) >= 8
    for cls in (ExplainObserver, NullObserver):
        for name in hooks:
            mine = inspect.signature(getattr(cls, name))
            assert list(mine.parameters) == list(inspect.signature(getattr(Observer, name)).parameters), (cls, name)
    assert ExplainObserver.every_trigger is True


def test_goal_without_an_email_says_why_not_converted() -> None:
    text = """\
workflow "Nurture" {
  object contact
  enroll on form.submitted
  goal contact.lifecyclestage = "customer"
  steps { delay 2 days send email "Offer" }
}
"""
    report = explain(
        text,
        {"contact": [{"id": "c1"}]},
        [
            ev("2026-03-02T10:00:00Z", "form.submitted"),
            ev("2026-03-03T10:00:00Z", "record.updated", properties={"lifecyclestage": "customer"}),
        ],
        "c1",
    )
    assert report.workflow("Nurture").verdict == "enrolled 1 time; goal met, unenrolled (goal_met)"
    assert ("→ goal_met: not converted: the workflow sent it no marketing email during this enrollment") in render_text(
        report
    )


def test_a_daily_cycle_is_folded_in_the_text() -> None:
    text = """\
workflow "Daily" {
  object contact
  enroll on schedule daily at 07:30
  reenroll every time
  steps { create task "Call" delay until 16:00 send email "Later" }
}
"""
    report = explain(
        text, {"contact": [{"id": "c1"}]}, [], "c1", start="2026-03-02T00:00:00Z", until="2026-03-12T00:00:00Z"
    )
    assert report.workflow("Daily").enrollments == 10
    body = render_text(report)
    assert body.count("→ enrolled") == 1
    assert "  … the same 9 more times, times aside, until 2026-03-11 16:00Z\n" in body
    # the JSON keeps every moment
    assert len(report.to_json()["workflows"][0]["moments"]) == 20
