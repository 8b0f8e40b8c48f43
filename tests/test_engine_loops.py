"""A step reached again through `go to` is performed again, with its own idempotency key."""

from __future__ import annotations

import attrs

from engine_helpers import simulate
from wfdsl.runtime.engine import idempotency_key
from wfdsl.runtime.protocols import Enrollment

LOOP = """
workflow "Loop" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  steps {
    set contact.hubspotscore = 0
    label "again"
    delay 1 hour
    increment contact.hubspotscore by 1
    if contact.hubspotscore < 3 {
      go to "again"
    }
    send email "Done"
  }
}
"""


def test_increment_in_a_go_to_loop_runs_on_every_pass() -> None:
    sim = simulate(
        LOOP,
        {"contact": [{"id": "c1", "email": "a@x.com"}]},
        [
            {
                "at": "2026-11-23T10:00:00Z",
                "type": "record.updated",
                "object": "contact",
                "id": "c1",
                "properties": {"lifecyclestage": "lead"},
            }
        ],
    )
    actions = [e["detail"]["action"] for e in sim.trace() if e["kind"] == "action"]
    assert actions == ["set", "increment", "increment", "increment", "send_email"]
    assert sim.trace()[-1]["kind"] == "completed"


def test_key_names_the_pass_only_after_the_first() -> None:
    import datetime as dt

    enr = Enrollment(
        id="e1",
        workflow="W",
        object="contact",
        record="c1",
        status="active",
        enrolled_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
        seq=1,
    )
    assert idempotency_key(enr, "steps.2") == "e1:steps.2:1"
    assert idempotency_key(attrs.evolve(enr, passes=2), "steps.2") == "e1:steps.2@2:1"


PLACEHOLDER = """
workflow "Draft" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  steps {
    placeholder "Send a survey"
  }
}
"""


def test_a_workflow_with_placeholders_cannot_be_turned_on() -> None:
    import datetime as dt

    import pytest

    from engine_helpers import plans
    from wfdsl.adapters.memory import MemoryCRM
    from wfdsl.runtime.engine import Engine, EngineError
    from wfdsl.runtime.protocols import VirtualClock
    from wfdsl.stores.memory import MemoryStore

    clock = VirtualClock(dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc))
    engine = Engine(plans(PLACEHOLDER), MemoryCRM(), MemoryStore(), clock)
    with pytest.raises(EngineError, match="placeholder actions"):
        engine.activate("Draft")
    assert not engine.is_active("Draft")


def test_a_simulation_previews_placeholders_as_skipped() -> None:
    sim = simulate(
        PLACEHOLDER,
        {"contact": [{"id": "c1"}]},
        [
            {
                "at": "2026-11-23T10:00:00Z",
                "type": "record.updated",
                "object": "contact",
                "id": "c1",
                "properties": {"lifecyclestage": "lead"},
            }
        ],
    )
    skipped = [e for e in sim.trace() if e["kind"] == "skipped"]
    assert [e["detail"]["reason"] for e in skipped] == ["placeholder"]


ADDRESS = """
workflow "Address sync" {
  object contact
  enroll on contact.city changed or contact.country changed
  reenroll every time
  steps {
    webhook post "https://erp.example.com/address"
  }
}
"""


def test_one_update_matching_two_trigger_groups_enrolls_once() -> None:
    sim = simulate(
        ADDRESS,
        {"contact": [{"id": "c1", "city": "Oslo", "country": "Norway"}]},
        [
            {
                "at": "2026-11-23T10:00:00Z",
                "type": "record.updated",
                "object": "contact",
                "id": "c1",
                "properties": {"city": "Dublin", "country": "Ireland"},
            },
            {
                "at": "2026-11-24T10:00:00Z",
                "type": "record.updated",
                "object": "contact",
                "id": "c1",
                "properties": {"city": "Cork"},
            },
        ],
    )
    enrolled = [e["at"] for e in sim.trace() if e["kind"] == "enrolled"]
    assert enrolled == ["2026-11-23T10:00:00+00:00", "2026-11-24T10:00:00+00:00"]
