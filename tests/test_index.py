"""The event index: which events concern some workflow, found without dispatching them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from engine_helpers import at, plans
from wfdsl.adapters.memory import MemoryCRM
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.index import Index
from wfdsl.runtime.observe import NullObserver
from wfdsl.runtime.protocols import Event, VirtualClock
from wfdsl.stores.memory import MemoryStore

PINNED = """\
workflow "Demo" {
  object contact
  enroll on form.submitted(form = "Demo request")
  steps {
    send email "Thanks"
  }
}

workflow "Oslo" {
  object contact
  enroll on contact.city changed to "Oslo"
  steps {
    send email "Hei"
  }
}
"""

WATCHED = (
    PINNED
    + """
workflow "Pages" {
  object contact
  enroll on page.visited
  goal contact.zip is known
  steps {
    delay 1 day
  }
}
"""
)

T0 = at("2026-03-02T09:00:00Z")


def _index(text: str) -> Index:
    engine = Engine(plans(text), MemoryCRM(), MemoryStore(), VirtualClock(T0))
    return engine._dispatcher.index


def _event(etype: str, **data: Any) -> Event:
    return Event(type=etype, object="contact", id="c1", at=T0, data=data)


def _changed(prop: str, value: Any) -> Event:
    return _event("property.changed", property=prop, value=value, previous=None)


def test_an_event_only_pinned_triggers_look_at_concerns_them_only_when_one_asks_for_its_text() -> None:
    index = _index(PINNED)
    assert index.concerns(_event("form.submitted", form="demo REQUEST"))  # text is compared case-folded
    assert not index.concerns(_event("form.submitted", form="Newsletter"))
    assert index.concerns(_event("form.submitted"))  # no text to compare: judged the long way
    assert index.concerns(_changed("city", "oslo"))
    assert not index.concerns(_changed("city", "Rome"))
    assert not index.concerns(_event("email.sent", email="Thanks"))  # no workflow hears the type


def test_an_event_something_else_looks_at_always_concerns() -> None:
    index = _index(WATCHED)
    assert index.concerns(_event("page.visited", url="https://x.example"))
    assert index.concerns(_changed("zip", "0150"))  # the goal of `Pages` watches it
    assert not index.concerns(_changed("city", "Rome"))  # still only pinned


class _Everything(NullObserver):
    """An observer that asks to see every trigger judged: nothing is skipped for it."""

    every_trigger = True


def test_skipping_events_no_workflow_asks_for_changes_no_outcome() -> None:
    events = [
        Event(type="record.updated", object="contact", id=f"c{i % 3}", at=T0, properties={"city": city, "zip": zip_})
        for i, (city, zip_) in enumerate([("Rome", None), ("Oslo", None), ("Bergen", "0150"), ("OSLO", "0151")])
    ]
    events += [
        Event(type="form.submitted", object="contact", id=f"c{i}", at=T0, data={"form": form})
        for i, form in enumerate(["Newsletter", "Demo request", "demo request", "Other"])
    ]
    events.append(Event(type="page.visited", object="contact", id="c2", at=T0, data={"url": "https://x.example"}))
    outcomes = []
    for observer in (None, _Everything()):
        crm = MemoryCRM()
        for i in range(4):
            crm.add_record("contact", f"c{i}", {"email": f"p{i}@example.com"}, at=T0 - dt.timedelta(days=1))
        engine = Engine(plans(WATCHED), crm, MemoryStore(), VirtualClock(T0), observer=observer)
        for name in engine.workflows:
            engine.activate(name)
        for event in events:
            engine.ingest(event)
        outcomes.append(([e.to_json() for e in engine.history()], crm.outbox))
    assert outcomes[0] == outcomes[1]
    enrolled = [(e["workflow"], e["id"]) for e in outcomes[0][0] if e["kind"] == "enrolled"]
    assert ("Demo", "c1") in enrolled and ("Demo", "c2") in enrolled and ("Oslo", "c1") in enrolled
    assert not any(name == "Demo" and rid in ("c0", "c3") for name, rid in enrolled)
