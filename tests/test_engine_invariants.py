"""Invariants of the engine over random records and event streams (hypothesis)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_helpers import plans
from wfdsl.host.simulate import Simulation, load_records_data
from wfdsl.plan.model import ProjectPlan
from wfdsl.runtime.protocols import Event

WORKFLOWS = """
workflow "Nurture" {
  object contact
  enroll when contact.lifecyclestage = "lead"
  reenroll on change of contact.lifecyclestage
  goal contact.lifecyclestage = "customer"
  suppress list "Competitors"
  settings { unenroll if criteria unmet  execute on monday..friday from 09:00 to 17:00 }
  steps {
    send email "One"
    delay 1 day
    if contact.score >= 50 { create task "Call" } else { send email "Two" }
    wait for meeting.booked up to 2 days
    if received { set contact.lifecyclestage = "opportunity" }
    send email "Three"
  }
}
workflow "Forms" {
  object contact
  enroll on form.submitted
  reenroll every time
  goal contact.lifecyclestage = "customer"
  unenroll when contact.city = "Nowhere"
  steps {
    split { 50% { send email "A" } 50% { send email "B" } }
    delay 3 hours
    increment contact.score by 10
    enroll in workflow "Manual"
  }
}
workflow "Manual" {
  object contact
  enroll manually
  steps { add to list "Touched"  delay 1 day  remove from list "Touched" }
}
workflow "Touched" {
  object contact
  enroll on list.added(list = "Touched")
  reenroll every time
  steps { set contact.touched = true }
}
"""

RECORDS = ("c1", "c2", "c3")
START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc)


@functools.lru_cache(maxsize=1)
def project() -> ProjectPlan:
    return plans(WORKFLOWS)


def _event(kind: str, record: str, value: Any, minutes: int) -> Event:
    at = START + dt.timedelta(minutes=minutes)
    if kind == "stage":
        return Event(type="record.updated", object="contact", id=record, at=at, properties={"lifecyclestage": value})
    if kind == "score":
        return Event(type="record.updated", object="contact", id=record, at=at, properties={"score": value})
    if kind == "city":
        return Event(type="record.updated", object="contact", id=record, at=at, properties={"city": value})
    if kind in ("list.added", "list.removed"):
        return Event(type=kind, object="contact", id=record, at=at, data={"list": value})
    if kind == "enroll":
        return Event(type="workflow.enroll", object="contact", id=record, at=at, data={"workflow": value})
    return Event(type=kind, object="contact", id=record, at=at, data={"form": "F"})


steps = st.tuples(
    st.sampled_from(
        ["stage", "score", "city", "list.added", "list.removed", "form.submitted", "meeting.booked", "enroll"]
    ),
    st.sampled_from(RECORDS),
    st.sampled_from(
        ["lead", "customer", "subscriber", 10, 70, "Nowhere", "Oslo", "Competitors", "Touched", "Manual", "Nurture"]
    ),
    st.integers(min_value=0, max_value=600),
)

records = st.fixed_dictionaries(
    {
        "contact": st.lists(
            st.fixed_dictionaries(
                {
                    "lifecyclestage": st.sampled_from(["lead", "subscriber", "customer"]),
                    "score": st.integers(0, 100),
                }
            ),
            min_size=len(RECORDS),
            max_size=len(RECORDS),
        ),
    }
)


def run(data: dict[str, Any], stream: list[tuple[str, str, Any, int]]) -> Simulation:
    contacts = [{"id": rid, **props} for rid, props in zip(RECORDS, data["contact"], strict=True)]
    seed = load_records_data({"contact": contacts}, "records.json")
    sim = Simulation(project(), seed, start=START, until=START + dt.timedelta(days=20))
    minutes = 0
    events = []
    for kind, record, value, gap in stream:
        minutes += gap
        events.append(_event(kind, record, value, minutes))
    sim.run(events)
    return sim


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records, st.lists(steps, max_size=25))
def test_invariants(data: dict[str, Any], stream: list[tuple[str, str, Any, int]]) -> None:
    sim = run(data, stream)
    trace = sim.trace()
    active: dict[tuple[str, str], bool] = {}
    for entry in trace:
        key = (entry["workflow"], entry["id"])
        kind = entry["kind"]
        if kind == "enrolled":
            # at most one active enrollment per record and workflow
            assert not active.get(key), entry
            active[key] = True
        elif kind in ("unenrolled", "completed"):
            assert active.get(key), entry
            active[key] = False
        elif kind in ("action", "delayed", "branched", "failed"):
            # nothing happens to an enrollment after it ended
            assert active.get(key), entry
    # history is in time order
    assert [e["at"] for e in trace] == sorted(e["at"] for e in trace)
    for name, stats in sim.stats().items():
        assert 0 <= stats["conversion_rate"] <= 1, name
        assert stats["converted"] <= stats["emailed"] <= stats["enrolled"]
        assert stats["enrolled"] == stats["active"] + stats["completed"] + stats["unenrolled"]
        assert stats["active"] == sum(1 for (wf, _), on in active.items() if wf == name and on)
    # identical input, identical trace
    assert run(data, stream).trace() == trace
