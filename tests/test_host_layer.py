"""The host layer: one reader of the input formats, one driver, typed status reports,
and the hosts agreeing on what the inputs mean."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.adapters.sqlite import RecordsError, SQLiteCRM
from wfdsl.cli import cli
from wfdsl.compile.compiler import load_plans
from wfdsl.host.driver import HORIZON, Driver, RealTime, VirtualTime
from wfdsl.host.operate import StatusReport, status_report, store_status
from wfdsl.host.service import Options, Service
from wfdsl.host.simulate import Simulation, simulate_files
from wfdsl.plan.model import ProjectPlan
from wfdsl.runtime import inputs
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.inputs import SEEDED_AT, SimulationInputError, load_records_data, read_events
from wfdsl.runtime.protocols import Event, VirtualClock
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.sqlite import SQLiteStore

UTC = dt.timezone.utc
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

RECENT = """
workflow "Recently staged" {
  object contact
  enroll on form.submitted(form = "Stage") only if contact.lifecyclestage updated within last 7 days
  steps {
    send email "Hello"
  }
}
"""


def event(at: dt.datetime, record: str = "c1", **extra: Any) -> dict[str, Any]:
    return {"at": at.isoformat(), "type": "form.submitted", "object": "contact", "id": record, **extra}


def test_one_reader_the_sqlite_crm_refuses_what_simulate_refuses() -> None:
    data = {"contact": [{"id": "c1"}], "associations": [{"from": "contact:c1", "to": "company:co9"}]}
    with pytest.raises(SimulationInputError) as simulated:
        load_records_data(data, "records")
    with pytest.raises(RecordsError) as imported:
        SQLiteCRM(":memory:").import_records(data, at=START)
    assert str(imported.value) == simulated.value.message
    assert "company:co9, which is not a record of this file" in str(imported.value)


def test_run_records_reads_the_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "w.wf").write_text(RECENT, encoding="utf-8")
    records = tmp_path / "records.json"
    records.write_text(json.dumps({"contact": [{"id": "c1", "lifecyclestage": "lead"}]}), encoding="utf-8")
    reads: list[str] = []
    real = Path.read_text

    def counting(self: Path, *args: Any, **kwargs: Any) -> str:
        if self.name == "records.json":
            reads.append(str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting)
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(tmp_path / "w.wf"),
            "--store",
            f"sqlite:///{tmp_path / 's.db'}",
            "--crm",
            f"sqlite:///{tmp_path / 'c.db'}",
            "--records",
            str(records),
            "--until-idle",
            "--status-every",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert reads == [str(records)]
    crm = SQLiteCRM(tmp_path / "c.db")
    assert crm.property_history("contact", "c1", "lifecyclestage") == [(SEEDED_AT, "lead")]


def test_run_and_simulate_both_date_imported_values_before_the_start(tmp_path: Path) -> None:
    # Values of the records file are never "updated within last N days": simulate and
    # run --records agree, whatever the CRM.
    wf = tmp_path / "w.wf"
    wf.write_text(RECENT, encoding="utf-8")
    plans = load_plans([wf])
    seed = load_records_data({"contact": [{"id": "c1", "lifecyclestage": "lead"}]}, "records.json")
    line = event(START, data={"form": "Stage"})
    sim = Simulation(plans, seed)
    sim.run([inputs.parse_event(line, "events.jsonl", 1)])
    assert [e.kind for e in sim.entries()] == []
    for crm in (MemoryCRM(), SQLiteCRM(tmp_path / "c.db")):
        store = MemoryStore()
        Service(plans, crm, store, records=seed, options=Options(clock="virtual", until_idle=True)).run(
            io.BytesIO((json.dumps(line) + "\n").encode()), "events.jsonl"
        )
        assert [e.kind for e in store.history()] == [], type(crm).__name__


def test_simulate_drops_a_repeated_event_id(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    lines = [
        event(START, event_id="e-1", data={"form": "Stage"}),
        event(START + dt.timedelta(hours=1), event_id="e-1", data={"form": "Stage"}),  # a repeat
        event(START + dt.timedelta(hours=2), event_id="e-2", data={"form": "Stage"}),
        event(START + dt.timedelta(hours=3), data={"form": "Stage"}),  # no id: always delivered
    ]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    where: dict[str, int] = {}
    got = [(e.at, where["line"]) for e in read_events(events, where)]
    assert [line for _, line in got] == [1, 3, 4]
    records = tmp_path / "records.json"
    records.write_text('{"contact": [{"id": "c1"}]}', encoding="utf-8")
    plans = load_plans([_write(tmp_path, ON_FORM)])
    sim = simulate_files(plans, records, events)
    assert [e.kind for e in sim.entries()].count("enrolled") == 3


ON_FORM = """
workflow "Form" {
  object contact
  enroll on form.submitted(form = "Stage")
  reenroll every time
  steps {
    send email "Hello"
  }
}
"""


def _write(where: Path, text: str) -> Path:
    path = where / "w.wf"
    path.write_text(text, encoding="utf-8")
    return path


def test_driver_stops_at_until_and_runs_out_the_clock() -> None:
    clock = VirtualClock(START)
    engine = Engine(ProjectPlan(workflows=()), MemoryCRM(), MemoryStore(), clock)
    until = START + dt.timedelta(days=1)
    driver = Driver(engine, VirtualTime(clock), until=until, last=START)
    late = Event(type="form.submitted", object="contact", id="c1", at=until + dt.timedelta(seconds=1))
    on_time = Event(type="form.submitted", object="contact", id="c1", at=START + dt.timedelta(hours=1))
    assert driver.feed(on_time)
    assert clock.now() == on_time.at
    assert not driver.feed(late)  # the input ends: nothing done
    assert (driver.events, driver.last, driver.end()) == (1, on_time.at, until)
    free = Driver(engine, VirtualTime(clock), last=START)
    assert free.end() == START + HORIZON


def test_real_time_leaves_the_clock_alone() -> None:
    class Fixed:
        def now(self) -> dt.datetime:
            return START

    fired: list[dt.datetime] = []
    clock = VirtualClock(START)
    engine = Engine(ProjectPlan(workflows=()), MemoryCRM(), MemoryStore(), clock)

    def fire(limit: dt.datetime) -> int:
        fired.append(limit)
        return 0

    driver = Driver(engine, RealTime(Fixed()), fire=fire)
    driver.feed(Event(type="form.submitted", object="contact", id="c1", at=START + dt.timedelta(days=3)))
    assert fired == [START]  # what is due by now, not by the event's time


def test_status_report_is_typed_and_its_json_is_the_status_json(tmp_path: Path) -> None:
    wf = _write(tmp_path, ON_FORM)
    store = SQLiteStore(tmp_path / "s.db")
    lines = [event(START, data={"form": "Stage"}), {"not": "an event"}]
    Service(
        load_plans([wf]),
        SQLiteCRM(tmp_path / "c.db"),
        store,
        records={"contact": [{"id": "c1"}]},
        options=Options(clock="virtual", until_idle=True),
    ).run(io.BytesIO("".join(json.dumps(line) + "\n" for line in lines).encode()), "events.jsonl")
    report = store_status(store)
    assert isinstance(report, StatusReport)
    assert [(w.name, w.active, w.stats["enrolled"]) for w in report.workflows] == [("Form", True, 1)]
    assert report.dead_letter_count == 1 and report.dead_letters[0].line == 2
    assert report.totals.workflows == 1
    assert report.to_json() == status_report(store)


def test_run_warns_about_input_data_as_simulate_does(tmp_path: Path) -> None:
    wf = _write(tmp_path, ON_FORM)
    records = tmp_path / "records.json"
    records.write_text('{"contact": [{"id": "c1", "lifecylestage": "lead"}]}', encoding="utf-8")
    events = tmp_path / "events.jsonl"
    lines = [event(START, data={"form": "Stage"}), {**event(START), "type": "form.submited"}]
    events.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    common = ["--records", str(records), "--events", str(events)]
    simulated = CliRunner().invoke(cli, ["simulate", str(wf), *common])
    ran = CliRunner().invoke(
        cli,
        [
            "run",
            str(wf),
            *common,
            "--store",
            f"sqlite:///{tmp_path / 's.db'}",
            "--crm",
            f"sqlite:///{tmp_path / 'c.db'}",
            "--clock",
            "virtual",
            "--until-idle",
            "--status-every",
            "0",
        ],
    )
    assert ran.exit_code == 0, ran.output
    for message in (
        "contact c1: unknown property `lifecylestage`; did you mean `lifecyclestage`?",
        "contact c1: unknown event type `form.submited`; did you mean `form.submitted`?",
    ):
        assert message in simulated.stderr
        assert message in ran.stderr
