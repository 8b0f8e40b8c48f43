"""Adapters learn whose action it is from `Action.enrollment` and `Action.workflow`, and the
logs of performed actions keep them where they always were (`_enrollment`, `_workflow`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_helpers import at, plans
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.host.operations import outbox_rows
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import Action, ActionResult, Event, VirtualClock
from wfdsl.stores.memory import MemoryStore

WELCOME = """\
workflow "Welcome" {
  object contact
  enroll on form.submitted
  steps {
    send email "Hi"
    set contact.lifecyclestage = "lead"
  }
}
"""


def _run(crm: Any) -> Engine:
    crm.observe(Event(type="record.created", object="contact", id="c1", at=at("2026-03-01T09:00:00Z")))
    eng = Engine(plans(WELCOME), crm, MemoryStore(), VirtualClock(at("2026-03-02T09:00:00Z")))
    eng.activate("Welcome")
    eng.ingest(Event(type="form.submitted", object="contact", id="c1", at=at("2026-03-02T10:00:00Z")))
    return eng


def test_the_engine_declares_whose_action_it_is() -> None:
    seen: list[Action] = []
    causes: list[str | None] = []

    class Watching(MemoryCRM):
        def perform(self, action: Action, idempotency_key: str) -> ActionResult:
            seen.append(action)
            result = super().perform(action, idempotency_key)
            causes.extend(e.cause for e in result.events)
            return result

    crm = Watching()
    _run(crm)
    assert [(a.kind, a.enrollment, a.workflow) for a in seen] == [
        ("send_email", "e1", "Welcome"),
        ("set", "e1", "Welcome"),
    ]
    # The arguments are the step's own: nothing hidden beside them.
    assert all(not str(k).startswith("_") for a in seen for k in a.args)
    # The events the actions cause are the enrollment's (chaining and the loop guard).
    assert causes == ["e1", "e1"]  # email.sent, property.changed
    assert crm.outbox == [
        {
            "kind": "send_email",
            "object": "contact",
            "id": "c1",
            "at": "2026-03-02T10:00:00+00:00",
            "args": {"email": "Hi"},
        }
    ]


def test_the_sqlite_log_and_the_outbox_keep_their_format(tmp_path: Path) -> None:
    crm = SQLiteCRM(tmp_path / "crm.db")
    _run(crm)
    logged = crm.performed()
    assert [row["args"] for row in logged] == [
        {"email": "Hi", "_enrollment": "e1", "_workflow": "Welcome"},
        {
            "object": "contact",
            "property": "lifecyclestage",
            "value": "lead",
            "_enrollment": "e1",
            "_workflow": "Welcome",
        },
    ]
    rows = outbox_rows(crm)
    assert [(r["workflow"], r["kind"]) for r in rows] == [("Welcome", "send_email"), ("Welcome", "set")]
    assert crm.outbox() == [
        {
            "kind": "send_email",
            "object": "contact",
            "id": "c1",
            "at": "2026-03-02T10:00:00+00:00",
            "args": {"email": "Hi"},
        }
    ]
    crm.close()


QUIET = """\
workflow "Score" {
  object contact
  enroll manually
  steps {
    if contact.hubspotscore >= 50 {
      set contact.hs_lead_status = "IN_PROGRESS"
      increment contact.touches by 1
    }
    send email "Hi"
  }
}
"""

HEARD = (
    QUIET
    + """
workflow "Follow" {
  object contact
  enroll when contact.hs_lead_status = "IN_PROGRESS"
  steps {
    clear contact.touches
  }
}
"""
)


def test_actions_no_one_hears_end_alike_whether_their_events_are_built_or_not() -> None:
    """The memory CRM performs an action whose events no workflow hears without building
    them; a subclass that overrides `perform` sees every action built. Both end alike,
    and where another workflow hears the change, it is dispatched and heard."""

    class Loud(MemoryCRM):
        def perform(self, action: Action, idempotency_key: str) -> ActionResult:
            return super().perform(action, idempotency_key)

    for text, chained in ((QUIET, False), (HEARD, True)):
        ends = []
        for crm in (MemoryCRM(), Loud()):
            for i in range(4):
                crm.add_record(
                    "contact", f"c{i}", {"hubspotscore": 30 * i, "touches": 1}, at=at("2026-03-01T09:00:00Z")
                )
            eng = Engine(plans(text), crm, MemoryStore(), VirtualClock(at("2026-03-02T09:00:00Z")))
            for name in eng.workflows:
                eng.activate(name)
            for i in range(4):
                eng.enroll("Score", ("contact", f"c{i}"))
            records = [crm.get("contact", f"c{i}") for i in range(4)]
            events = [crm.event_history("contact", f"c{i}", "property.changed") for i in range(4)]
            ends.append(([e.to_json() for e in eng.history()], records, events, crm.performed, crm.outbox))
        assert ends[0] == ends[1]
        followed = [e for e in ends[0][0] if e["workflow"] == "Follow" and e["kind"] == "enrolled"]
        assert len(followed) == (2 if chained else 0)
        assert ends[0][1][2] is not None and ends[0][1][2].properties.get("touches") == (None if chained else 2)
