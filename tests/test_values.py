"""Property values in HubSpot's API forms: the readers, and the same schedule from every date form."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_helpers import at, event, plans
from wfdsl.host.simulate import Simulation, load_records_data
from wfdsl.runtime.values import (
    as_bool,
    as_date,
    as_datetime,
    as_number,
    hubspot_value,
    is_date_form,
    parse_temporal,
)

UTC = dt.timezone.utc


def _forms(day: dt.date) -> list[Any]:
    """Every form HubSpot's API gives a date property in: ISO date, ISO date-time with
    milliseconds and Z, epoch milliseconds as a number and as a string of digits."""
    ms = int(dt.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    return [day.isoformat(), f"{day.isoformat()}T00:00:00.000Z", ms, str(ms)]


def test_documented_example() -> None:
    # 1774915200000 is 2026-03-31 00:00 UTC: the date 2026-03-31 in any zone.
    for form in _forms(dt.date(2026, 3, 31)):
        assert as_date(form, dt.timezone(dt.timedelta(hours=-5))) == dt.date(2026, 3, 31), form
        assert hubspot_value(form, "date") == "2026-03-31"
        assert is_date_form(form)
    assert hubspot_value("1774915200000", "datetime") == "2026-03-31T00:00:00+00:00"


@pytest.mark.parametrize(
    ("text", "number"),
    [("42", 42), (" -3.5 ", -3.5), ("1e3", 1000.0), ("+7", 7), (".5", 0.5), (42, 42), (2.5, 2.5)],
)
def test_numbers(text: Any, number: float) -> None:
    assert as_number(text) == number


@pytest.mark.parametrize("text", ["４２", "٤٢", "1_000", "NaN", "inf", "0x10", "", "4 2", True, None, float("nan")])
def test_not_numbers(text: Any) -> None:
    assert as_number(text) is None
    assert hubspot_value(text, "number") == text or text != text  # unchanged (NaN is not equal to itself)


@pytest.mark.parametrize(("text", "flag"), [("true", True), ("FALSE", False), (True, True), ("yes", True)])
def test_booleans(text: Any, flag: bool) -> None:
    assert as_bool(text) is flag
    assert hubspot_value(text, "bool") is flag


@pytest.mark.parametrize("text", ["2026-02-30", "next spring", "", "2026-3-5", "٢٠٢٦-٠٣-٣١", True, [], {}])
def test_not_dates(text: Any) -> None:
    assert parse_temporal(text) is None
    assert as_date(text) is None
    assert as_datetime(text) is None


def test_date_times() -> None:
    assert as_datetime("2026-03-31T10:15:30.123456789+0100") == dt.datetime(2026, 3, 31, 9, 15, 30, 123456, tzinfo=UTC)
    assert as_datetime("2026-03-31T10:15") == dt.datetime(2026, 3, 31, 10, 15, tzinfo=UTC)
    # a moment that is not midnight UTC is a moment: its day depends on the zone
    assert not is_date_form("2026-03-31T03:00:00Z")
    assert as_date("2026-03-31T03:00:00Z", dt.timezone(dt.timedelta(hours=-5))) == dt.date(2026, 3, 30)


WORKFLOW = """
workflow "Renewal" {
  object contact
  anchor contact.renewal_date
  enroll when contact.lifecyclestage = "customer"
  settings { timezone "TZ" }
  steps {
    delay until 10 days before anchor at 09:00
    send email "Soon"
    if contact.renewal_date within next 5 days { send email "Very soon" }
    delay until contact.renewal_date - 1 day at 10:00
    create task "Call"
    delay until anchor
    send email "Today"
  }
}
"""

ZONES = ["UTC", "America/New_York", "Europe/Oslo", "Asia/Tokyo", "Pacific/Auckland", "America/Los_Angeles"]


def _schedule(day: dt.date, form: Any, zone: str) -> list[tuple[str, str, str | None, str]]:
    sim = Simulation(
        plans(WORKFLOW.replace("TZ", zone)),
        load_records_data({"contact": [{"id": "c1", "renewal_date": form}]}, "records.json"),
        until=at(f"{day.year + 1}-12-31T00:00:00Z"),
    )
    start = dt.datetime(day.year, day.month, day.day, 12, tzinfo=UTC) - dt.timedelta(days=40)
    sim.run(
        [
            event(
                {
                    "at": start.isoformat(),
                    "type": "record.updated",
                    "object": "contact",
                    "id": "c1",
                    "properties": {"lifecyclestage": "customer"},
                }
            )
        ]
    )
    return [(e["at"], e["kind"], e["step"], str(e["detail"].get("until", ""))) for e in sim.trace()]


@settings(max_examples=20, deadline=None)
@given(
    day=st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2090, 12, 31)),
    zone=st.sampled_from(ZONES),
)
def test_every_date_form_gives_the_same_schedule(day: dt.date, zone: str) -> None:
    schedules = [_schedule(day, form, zone) for form in _forms(day)]
    assert all(s == schedules[0] for s in schedules[1:]), (day, zone, schedules)
    kinds = [kind for _, kind, _, _ in schedules[0]]
    assert kinds.count("action") == 3  # the schedule ran: the first email, the task, the last email
