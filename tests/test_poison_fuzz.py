"""Poison fuzz: any JSON value at any place of an event or a record never stops the others.

Hypothesis puts a JSON value of every type — null, booleans, integers of any
size, floats with NaN and infinities, strings with lone surrogates and control
characters, deep lists and objects, and the values that once broke the runtime
— at one place of one event (a field, a property, a data attribute) or of one
record, among good events of other records. The invariant: nothing raises out
of the service, every good event is processed once, and a bad event is a dead
letter (or a skipped line) — never a stop. The short variant runs in the
default tier; `pytest -m slow` runs the long one (WFDSL_POISON_EXAMPLES).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.compile.compiler import load_plans
from wfdsl.host.service import Options, Service
from wfdsl.host.simulate import SimulationInputError, load_records_data, loads_json
from wfdsl.stores.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = """
workflow "Welcome" {
  object contact
  enroll when contact.lifecyclestage = "lead"

  steps {
    send email "Welcome"
    increment contact.score by 1
    delay 1 day
    set contact.hs_lead_status = "IN_PROGRESS"
  }
}

workflow "Renewal" {
  object contact
  anchor contact.renewal_date
  enroll when contact.lifecyclestage = "customer"

  steps {
    delay until 30 days before anchor at 09:00
    send email "Renewal soon"
    delay until 30 days after anchor at 09:00
    send email "Thanks"
  }
}
"""
CONFIG = '[schema.contact]\nrenewal_date = "date"\nscore = "number"\n'

#: The values that broke the runtime once, and their kin.
NASTY: list[Any] = [
    "\ud800",
    "0001-01-01T00:00:00+01:00",
    "9999-12-20",
    "9999-12-31T23:00-05:00",
    "0001-01-01T00:00+14:00",
    253402300800000,
    10**400,
    -(10**400),
    float("nan"),
    float("inf"),
    float("-inf"),
    1e15,
    1e308,
    "\x1b[2J",
    "",
    "lead",
    "customer",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=20),
    st.sampled_from(NASTY),
)


def deep(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = {"x": value}
    return value


json_values = st.one_of(
    scalars,
    st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
        max_leaves=12,
    ),
    st.builds(deep, scalars, st.integers(min_value=100, max_value=1500)),
)

#: Where the value goes: a field of the event, or inside its properties or data, or a record.
PLACES = [
    ("event", "at"),
    ("event", "type"),
    ("event", "object"),
    ("event", "id"),
    ("event", "data"),
    ("event", "properties"),
    ("event", "event_id"),
    ("properties", "lifecyclestage"),
    ("properties", "renewal_date"),
    ("properties", "score"),
    ("properties", "email"),
    ("properties", "\ud800"),
    ("data", "list"),
    ("data", "workflow"),
    ("record", "id"),
    ("record", "renewal_date"),
    ("record", "score"),
    ("record", "lifecyclestage"),
]


def good(record: str, at: str, stage: str = "lead") -> dict[str, Any]:
    return {
        "at": at,
        "type": "record.updated",
        "object": "contact",
        "id": record,
        "properties": {"lifecyclestage": stage},
    }


def scenario(place: tuple[str, str], value: Any, poison_type: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A records file and events with the value at `place` of one event (or record)."""
    records: dict[str, Any] = {
        "contact": [
            {"id": "g1", "email": "g1@example.com"},
            {"id": "g2", "email": "g2@example.com", "renewal_date": "2026-03-01"},
            {"id": "p1", "email": "p1@example.com", "score": 1},
        ]
    }
    poison: dict[str, Any] = {
        "at": "2026-01-01T00:00:01Z",
        "type": poison_type,
        "object": "contact",
        "id": "p1",
        "properties": {"lifecyclestage": "customer"},
        "data": {"list": "L", "workflow": "Welcome"},
    }
    where, key = place
    if where == "event":
        poison[key] = value
    elif where == "properties":
        poison["properties"][key] = value
    elif where == "data":
        poison["data"][key] = value
    else:
        records["contact"][2][key] = value
    events = [
        good("g1", "2026-01-01T00:00:00Z"),
        poison,
        good("g2", "2026-01-01T00:00:02Z", "customer"),
        good("g3", "2026-01-01T00:00:03Z"),
    ]
    return records, events


def run_one(place: tuple[str, str], value: Any, poison_type: str) -> None:
    records, events = scenario(place, value, poison_type)
    text = json.dumps(records)  # ASCII: lone surrogates travel as \ud800 escapes
    try:
        load_records_data(loads_json(text, "records.json", 1), "records.json", text)  # as `run --records` does
    except SimulationInputError:
        return  # refused at load, with file and line: a clear error is a fine outcome
    lines = "".join(json.dumps(e) + "\n" for e in events).encode("ascii")
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        (base / "w.wf").write_text(WORKFLOWS, encoding="utf-8")
        (base / "wfdsl.toml").write_text(CONFIG, encoding="utf-8")
        store = SQLiteStore(base / "s.db", synchronous="off")
        crm = SQLiteCRM(base / "c.db", synchronous="off")
        try:
            service = Service(
                load_plans([base / "w.wf"]),
                crm,
                store,
                records=json.loads(text),
                options=Options(clock="virtual", until_idle=True, batch=10),
            )
            service.run(io.BytesIO(lines), "events.jsonl")  # nothing raises
            enrolled = [(e.workflow, e.id) for e in store.history() if e.kind == "enrolled"]
            # every good event processed, once
            assert enrolled.count(("Welcome", "g1")) == 1, enrolled
            assert enrolled.count(("Renewal", "g2")) == 1, enrolled
            assert enrolled.count(("Welcome", "g3")) == 1, enrolled
            sent = [(row["id"], row["args"]["email"]) for row in crm.outbox()]
            assert sent.count(("g1", "Welcome")) == 1 and sent.count(("g3", "Welcome")) == 1, sent
            # the bad input, if any, is accounted for: a dead letter, never silence
            for letter in store.dead_letters():
                assert letter.reason
                assert letter.kind in ("event", "timer")
        finally:
            store.close()
            crm.close()


POISON_TYPES = st.sampled_from(["record.updated", "record.created", "list.added", "workflow.enroll", "form.submitted"])
SHORT = settings(
    max_examples=int(os.environ.get("WFDSL_POISON_SHORT", "30")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONG = settings(
    max_examples=int(os.environ.get("WFDSL_POISON_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("value", NASTY, ids=repr)
def test_each_value_that_once_broke_the_runtime(value: Any) -> None:
    for place in (
        ("properties", "renewal_date"),
        ("properties", "score"),
        ("event", "id"),
        ("event", "at"),
        ("record", "id"),
        ("record", "renewal_date"),
    ):
        run_one(place, value, "record.updated")


@SHORT
@given(place=st.sampled_from(PLACES), value=json_values, poison_type=POISON_TYPES)
def test_poison_anywhere_short(place: tuple[str, str], value: Any, poison_type: str) -> None:
    run_one(place, value, poison_type)


@pytest.mark.slow
@LONG
@given(place=st.sampled_from(PLACES), value=json_values, poison_type=POISON_TYPES)
def test_poison_anywhere_long(place: tuple[str, str], value: Any, poison_type: str) -> None:
    run_one(place, value, poison_type)
