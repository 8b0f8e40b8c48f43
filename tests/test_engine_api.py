"""Engine API: deploy, retries and idempotency, failures, retention, the trigger index."""

from __future__ import annotations

import datetime as dt

from engine_helpers import at, engine, plans
from wfdsl.runtime.history import trace_text
from wfdsl.runtime.protocols import Event

NURTURE = """
workflow "Nurture" {
  object contact
  enroll on form.submitted
  goal contact.lifecyclestage = "customer"
  steps {
    send email "One"
    delay 2 days
    send email "Two"
    delay 2 days
    send email "Three"
  }
}
"""


def submit(record: str, when: str) -> Event:
    return Event(type="form.submitted", object="contact", id=record, at=at(when), data={})


def update(record: str, when: str, **props: object) -> Event:
    return Event(type="record.updated", object="contact", id=record, at=at(when), properties=props)


def summary(eng, record: str = "c1") -> list[tuple[str, str | None, str]]:  # type: ignore[no-untyped-def]
    return [
        (e.kind, e.step, str(e.detail.get("reason") or e.detail.get("action") or ""))
        for e in eng.history(record=("contact", record))
    ]


def test_deploy_goal_removed_resets_goal_stats_and_changed_goal_keeps_them() -> None:
    eng, crm = engine(NURTURE)
    crm.add_record("contact", "c1", {"lifecyclestage": "lead"}, at=at("2026-01-05T08:00:00Z"))
    eng.activate("Nurture")
    eng.ingest(submit("c1", "2026-01-05T09:00:00Z"))
    eng.ingest(update("c1", "2026-01-05T10:00:00Z", lifecyclestage="customer"))
    assert eng.stats("Nurture")["converted"] == 1
    changed = NURTURE.replace('"customer"', '"evangelist"')
    eng.deploy(plans(changed))
    assert (eng.stats("Nurture")["goal_met"], eng.stats("Nurture")["converted"]) == (1, 1)
    removed = NURTURE.replace('  goal contact.lifecyclestage = "customer"\n', "")
    eng.deploy(plans(removed))
    stats = eng.stats("Nurture")
    assert (stats["goal_met"], stats["converted"], stats["conversion_rate"]) == (0, 0, 0.0)
    assert stats["enrolled"] == 1 and stats["emailed"] == 1


def test_deploy_keeps_waiting_enrollments_at_their_step_or_the_next_that_exists() -> None:
    v1 = (
        'workflow "W" { object contact enroll on form.submitted steps { '
        'send email "One"  delay 2 days  label "tail"  send email "Two" } }'
    )
    eng, crm = engine(v1)
    crm.add_record("contact", "c1", {}, at=at("2026-01-05T08:00:00Z"))
    crm.add_record("contact", "c2", {}, at=at("2026-01-05T08:00:00Z"))
    eng.activate("W")
    eng.ingest(submit("c1", "2026-01-05T09:00:00Z"))
    # v2 drops the delay c1 waits in (`steps.1`): c1 continues at the next step that
    # still exists (`label:tail`) when its timer ends, and the history says so.
    eng.deploy(plans(v1.replace("delay 2 days", "")))
    eng.ingest(submit("c2", "2026-01-05T10:00:00Z"))
    eng.run_due(at("2026-02-01T00:00:00Z"))
    assert summary(eng) == [
        ("enrolled", None, ""),
        ("action", "steps.0", "send_email"),
        ("delayed", "steps.1", ""),
        ("migrated", "steps.1", "step_removed"),
        ("action", "label:tail.1", "send_email"),
        ("completed", None, ""),
    ]
    assert eng.history(record="contact:c1")[3].detail == {
        "from": "steps.1",
        "to": "label:tail",
        "reason": "step_removed",
    }
    assert eng.history(record="contact:c1")[4].at == at("2026-01-07T09:00:00Z")
    # new enrollments run the new version straight through
    assert [k for k, _, _ in summary(eng, "c2")] == ["enrolled", "action", "action", "completed"]


def test_transient_errors_retry_with_backoff_and_new_keys_then_succeed() -> None:
    eng, crm = engine('workflow "W" { object contact enroll on form.submitted steps { send email "Hi" } }')
    crm.add_record("contact", "c1", {}, at=at("2026-01-05T08:00:00Z"))
    crm.fail_next("send_email", times=2, message="503 from the mail service")
    eng.activate("W")
    eng.ingest(submit("c1", "2026-01-05T09:00:00Z"))
    eng.run_due(at("2026-01-06T00:00:00Z"))
    entries = eng.history(record="contact:c1")
    failed = [e for e in entries if e.kind == "failed"]
    assert [e.detail["attempt"] for e in failed] == [1, 2]
    assert failed[0].detail["error"] == "503 from the mail service"
    first_retry = dt.datetime.fromisoformat(failed[0].detail["retry_at"])
    second_retry = dt.datetime.fromisoformat(failed[1].detail["retry_at"])
    assert dt.timedelta(minutes=1) <= first_retry - failed[0].at < dt.timedelta(minutes=1.2)
    assert dt.timedelta(minutes=2) <= second_retry - failed[1].at < dt.timedelta(minutes=2.4)
    assert [k for k, _ in crm.performed] == ["e1:steps.0:3"]  # the third attempt, as in history
    assert [e.kind for e in entries][-2:] == ["action", "completed"]


def test_idempotency_key_makes_a_repeated_action_a_no_op() -> None:
    eng, crm = engine('workflow "W" { object contact enroll manually steps { increment contact.n by 1 } }')
    crm.add_record("contact", "c1", {"n": 1}, at=at("2026-01-05T08:00:00Z"))
    from wfdsl.runtime.protocols import Action

    action = Action(
        kind="increment",
        object="contact",
        id="c1",
        args={"object": "contact", "property": "n", "by": 1},
        at=at("2026-01-05T08:00:00Z"),
    )
    crm.perform(action, "e1:steps.0:0")
    crm.perform(action, "e1:steps.0:0")
    assert crm.get("contact", "c1").properties["n"] == 2
    assert len(crm.performed) == 1


def test_retries_exhausted_then_on_failure_continue_or_stop() -> None:
    text = (
        'workflow "W" {{ object contact enroll on form.submitted '
        "settings {{ on failure {mode} }} "
        'steps {{ webhook post "https://x.example/h"  send email "After" }} }}'
    )
    for mode, tail in (("continue", ("action", "completed")), ("stop", ("failed", "unenrolled"))):
        eng, crm = engine(text.format(mode=mode))
        crm.add_record("contact", "c1", {}, at=at("2026-01-05T08:00:00Z"))
        crm.fail_next("webhook", times=99)
        eng.activate("W")
        eng.ingest(submit("c1", "2026-01-05T09:00:00Z"))
        eng.run_due(at("2026-01-06T00:00:00Z"))
        entries = eng.history(record="contact:c1")
        failed = [e for e in entries if e.kind == "failed"]
        assert [e.detail["attempt"] for e in failed] == [1, 2, 3, 4, 5]
        assert failed[-1].detail["on_failure"] == mode
        assert tuple(e.kind for e in entries[-2:]) == tail
        if mode == "stop":
            assert entries[-1].detail["reason"] == "action_failed"


def test_permanent_error_is_not_retried() -> None:
    eng, crm = engine('workflow "W" { object contact enroll on form.submitted steps { send email "Hi" } }')
    crm.add_record("contact", "c1", {}, at=at("2026-01-05T08:00:00Z"))
    crm.fail_next("send_email", error="permanent", message="invalid address")
    eng.activate("W")
    eng.ingest(submit("c1", "2026-01-05T09:00:00Z"))
    failed = [e for e in eng.history() if e.kind == "failed"]
    assert len(failed) == 1 and failed[0].detail["error"] == "invalid address"
    assert eng.stats("W")["emailed"] == 0


def test_trigger_index_looks_only_at_workflows_that_mention_the_change() -> None:
    text = "\n".join(
        f'workflow "W{i}" {{ object contact enroll when contact.p{i} = "x" steps {{ send email "E{i}" }} }}'
        for i in range(200)
    )
    eng, crm = engine(text)
    changed = Event(
        type="property.changed",
        object="contact",
        id="c1",
        at=at("2026-01-05T08:00:00Z"),
        data={"property": "p17", "value": "x", "previous": None},
    )
    assert eng.workflows_for(changed) == ("W17",)
    other = Event(type="page.visited", object="contact", id="c1", at=at("2026-01-05T08:00:00Z"), data={})
    assert eng.workflows_for(other) == ()


def test_deactivate_unenrolls_and_stops_enrolling() -> None:
    eng, crm = engine(NURTURE)
    crm.add_record("contact", "c1", {}, at=at("2026-01-05T08:00:00Z"))
    crm.add_record("contact", "c2", {}, at=at("2026-01-05T08:00:00Z"))
    eng.activate("Nurture")
    eng.ingest(submit("c1", "2026-01-05T09:00:00Z"))
    eng.deactivate("Nurture")
    eng.ingest(submit("c2", "2026-01-05T10:00:00Z"))
    assert summary(eng, "c1")[-1] == ("unenrolled", None, "deactivated")
    assert summary(eng, "c2") == []  # an inactive workflow's triggers are not looked at
    assert eng.stats("Nurture")["active"] == 0


def test_manual_enroll_api_and_history_filters() -> None:
    eng, crm = engine(NURTURE)
    crm.add_record("contact", "c1", {}, at=at("2026-01-05T08:00:00Z"))
    eng.activate("Nurture")
    eng.enroll("Nurture", "contact:c1", at=at("2026-01-05T09:00:00Z"))
    assert eng.history(record=("contact", "c1"))[0].detail == {"trigger": "manual"}
    assert eng.history(workflow="Other") == []
    assert trace_text(eng.history()[:2]) == (
        '2026-01-05 09:00Z  Nurture  contact:c1  enrolled  trigger="manual"\n'
        '2026-01-05 09:00Z  Nurture  contact:c1  action send_email  [steps.0]  email="One"\n'
    )


def test_retention_prunes_old_history_and_keeps_facts_two_years() -> None:
    text = (
        'workflow "W" { object contact enroll on form.submitted '
        'goal contact.lifecyclestage = "customer" steps { send email "Hi" } }'
    )
    eng, crm = engine(text)
    crm.add_record("contact", "c1", {}, at=at("2026-01-05T08:00:00Z"))
    eng.activate("W")
    eng.ingest(submit("c1", "2026-01-05T09:00:00Z"))
    eng.ingest(update("c1", "2026-01-06T09:00:00Z", lifecyclestage="customer"))
    assert eng.prune(at("2026-03-01T00:00:00Z")) == 0
    removed = eng.prune(at("2026-05-01T00:00:00Z"))  # > 90 days: action entries go
    assert removed == 1
    assert "action" not in [e.kind for e in eng.history()]
    eng.prune(at("2026-08-01T00:00:00Z"))  # > 6 months after the enrollment ended
    assert eng.history() == []
    assert eng.store.has_fact("enrolled", "W", "contact", "c1")
    assert eng.store.has_fact("goal", "W", "contact", "c1")
    eng.prune(at("2028-02-01T00:00:00Z"))  # > 2 years: the facts go too
    assert not eng.store.has_fact("enrolled", "W", "contact", "c1")


def test_goal_on_an_associated_record_is_checked_when_that_record_changes() -> None:
    text = (
        'workflow "W" { object contact enroll on form.submitted '
        'goal company.lifecyclestage = "customer" '
        'steps { send email "Hi" delay 5 days send email "Bye" } }'
    )
    eng, crm = engine(text)
    crm.add_record("contact", "c1", {}, at=at("2026-01-05T08:00:00Z"))
    crm.add_record("company", "co1", {}, at=at("2026-01-05T08:00:00Z"))
    crm.associate(("contact", "c1"), ("company", "co1"))
    eng.activate("W")
    eng.ingest(submit("c1", "2026-01-05T09:00:00Z"))
    eng.ingest(
        Event(
            type="record.updated",
            object="company",
            id="co1",
            at=at("2026-01-06T09:00:00Z"),
            properties={"lifecyclestage": "customer"},
        )
    )
    assert summary(eng)[-3:] == [("goal_met", None, ""), ("converted", None, ""), ("unenrolled", None, "goal_met")]
    assert eng.history()[-1].at == at("2026-01-06T09:00:00Z")


def test_the_engine_is_importable_as_runtime_engine() -> None:
    # The design names it `runtime.Engine`; the module path works too.
    from wfdsl.runtime import Engine as Short
    from wfdsl.runtime.engine import Engine as Long

    assert Short is Long
