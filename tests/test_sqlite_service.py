"""The service loop as a library: real-clock timers, stop requests, units with any store."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
from pathlib import Path

import pytest

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.compile.compiler import load_plans
from wfdsl.host.service import Counts, Options, Service, status_report
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.sqlite import SQLiteStore

CASES = Path(__file__).resolve().parent / "cases" / "run"
UTC = dt.timezone.utc
RECORDS = json.loads((CASES / "records.json").read_text(encoding="utf-8"))


class FakeClock:
    """A real-mode clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.value = now

    def now(self) -> dt.datetime:
        return self.value


def plans() -> object:
    return load_plans([CASES / "welcome.wf"])


def lead(record: str, at: str | None = None) -> bytes:
    event = {"type": "record.updated", "object": "contact", "id": record, "properties": {"lifecyclestage": "lead"}}
    if at is not None:
        event["at"] = at
    return (json.dumps(event) + "\n").encode()


def test_real_clock_fires_timers_when_they_are_due(tmp_path: Path) -> None:
    clock = FakeClock(dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    store, crm = SQLiteStore(tmp_path / "s.db"), SQLiteCRM(tmp_path / "c.db")
    service = Service(plans(), crm, store, options=Options(until_idle=True), records=RECORDS, clock=clock)  # type: ignore[arg-type]
    counts = service.run(io.BytesIO(lead("c1")), "-")
    assert (counts.enrolled, counts.waiting, counts.fired) == (1, 1, 0)
    assert counts.next_timer == dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    clock.value = dt.datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC)
    later = Service(plans(), crm, store, options=Options(until_idle=True), clock=clock)  # type: ignore[arg-type]
    counts = later.run(None)
    assert (counts.waiting, counts.fired, counts.next_timer) == (0, 1, None)
    assert [e.kind for e in store.history()][-2:] == ["action", "completed"]
    assert crm.get("contact", "c1").properties["hs_lead_status"] == "IN_PROGRESS"  # type: ignore[union-attr]


def test_stop_finishes_and_remembers_the_position(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes((CASES / "events.jsonl").read_bytes())
    store = SQLiteStore(tmp_path / "s.db")
    service = Service(
        plans(), SQLiteCRM(tmp_path / "c.db"), store, records=RECORDS, options=Options(clock="virtual", poll=0.05)
    )
    timer = threading.Timer(0.5, service.stop)
    timer.start()
    with events.open("rb") as stream:  # followed: only stop() ends this run
        counts = service.run(stream, str(events))
    assert counts.events == 4 and service.stopping
    position = store.input_position(str(events))
    assert position is not None
    assert (position.line, position.offset) == (4, events.stat().st_size)
    assert (position.device, position.inode) == (events.stat().st_dev, events.stat().st_ino)
    assert store.get_meta("clock") == "2026-11-24T10:00:00+00:00"


def test_memory_store_and_crm_work_without_units() -> None:
    service = Service(
        plans(), MemoryCRM(), MemoryStore(), records=RECORDS, options=Options(clock="virtual", until_idle=True)
    )
    counts = service.run(io.BytesIO((CASES / "events.jsonl").read_bytes()), "-")
    assert (counts.enrolled, counts.fired, counts.events) == (3, 2, 4)
    report = status_report(service.store)
    assert report["totals"]["history"] == 18


def test_status_line() -> None:
    counts = Counts(
        enrolled=3,
        waiting=1,
        fired=2,
        failed=0,
        events=4,
        rejected=1,
        next_timer=dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
    )
    assert counts.line() == (
        "enrolled 3 · waiting 1 · fired 2 · failed 0 · events 4 · rejected 1 · next timer 2026-11-26T10:00:00Z"
    )


def test_failed_actions_are_counted_and_retried(tmp_path: Path) -> None:
    crm = MemoryCRM()
    crm.fail_next("send_email", error="transient", times=1, message="rate limited")
    store = SQLiteStore(tmp_path / "s.db")
    service = Service(plans(), crm, store, records=RECORDS, options=Options(clock="virtual", until_idle=True))
    counts = service.run(io.BytesIO(lead("c1", "2026-11-23T10:00:00Z")), "-")
    assert counts.failed == 1
    kinds = [(e.kind, e.detail.get("error")) for e in store.history()]
    assert kinds[:3] == [("enrolled", None), ("failed", "rate limited"), ("action", None)]


def test_records_reach_a_fresh_memory_crm_at_every_start(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    for _ in range(2):
        crm = MemoryCRM()
        Service(plans(), crm, store, records=RECORDS, options=Options(until_idle=True)).run(None)
        assert crm.get("contact", "c1") is not None


def test_sqlite_crm_imports_a_records_file_once(tmp_path: Path) -> None:
    store, crm = SQLiteStore(tmp_path / "s.db"), SQLiteCRM(tmp_path / "c.db")
    clock = FakeClock(dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    Service(
        plans(),
        crm,
        store,
        records=RECORDS,
        clock=clock,  # type: ignore[arg-type]
        options=Options(until_idle=True),
    ).run(io.BytesIO(lead("c1")), "-")
    Service(
        plans(),
        crm,
        store,
        records=RECORDS,
        clock=clock,  # type: ignore[arg-type]
        options=Options(until_idle=True),
    ).run(None)
    record = crm.get("contact", "c1")
    assert record is not None and record.properties["lifecyclestage"] == "lead"  # kept


def test_an_adapter_failure_outside_actions_rolls_the_batch_back(tmp_path: Path) -> None:
    from wfdsl.runtime.protocols import Event, TransientAdapterError

    class Down(SQLiteCRM):
        def observe(self, event: Event) -> list[Event]:
            raise TransientAdapterError("CRM unreachable")

    store, crm = SQLiteStore(tmp_path / "s.db"), Down(tmp_path / "c.db")
    service = Service(plans(), crm, store, records=RECORDS, options=Options(clock="virtual", until_idle=True))
    events = (CASES / "events.jsonl").read_bytes()
    with pytest.raises(TransientAdapterError, match="CRM unreachable"):
        service.run(io.BytesIO(events), "events")
    assert store.history() == []
    assert store.input_position(os.path.realpath("events")) is None  # read again on the next start
    assert crm.get("contact", "c1") is None  # the records import was rolled back with it


def test_virtual_time_in_the_past_resumes_at_the_saved_clock(tmp_path: Path) -> None:
    def shifted() -> bytes:  # the test events, six years earlier
        out = []
        for line in (CASES / "events.jsonl").read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            data["at"] = data["at"].replace("2026-", "2020-")
            out.append(json.dumps(data))
        return ("\n".join(out) + "\n").encode()

    def run(where: str, until: dt.datetime | None) -> list[dict[str, object]]:
        store = SQLiteStore(tmp_path / f"{where}.db")
        Service(
            plans(),
            SQLiteCRM(tmp_path / f"{where}-crm.db"),
            store,
            records=RECORDS,
            options=Options(clock="virtual", until_idle=True, until=until),
        ).run(io.BytesIO(shifted()), "events")
        return [e.to_json() for e in store.history()]

    whole = run("whole", None)
    assert whole[0]["at"] == "2020-11-23T10:00:00+00:00"
    run("parts", dt.datetime(2020, 11, 25, 12, 0, tzinfo=UTC))  # stops with c3 waiting
    assert run("parts", None) == whole
