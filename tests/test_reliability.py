"""Nothing lost, nothing doubled, no crash loop, no traceback: one test per guarantee.

Idempotency keys that two stores on one CRM never share, replays checked against
the original action, the single-service lock on the real file (and without
fcntl), rotated events files, dead letters for poison events and enrollments.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.compile.compiler import load_plans
from wfdsl.host.service import Options, Service, status_report
from wfdsl.runtime.protocols import Action, PermanentAdapterError, ServiceStore
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.sqlite import SQLiteStore, StoreError

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases" / "run"
WF = str(CASES / "welcome.wf")
RECORDS = json.loads((CASES / "records.json").read_text(encoding="utf-8"))
UTC = dt.timezone.utc


def wfdsl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfdsl", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8", timeout=120
    )


def lead(record: str, at: str) -> str:
    return json.dumps(
        {
            "at": at,
            "type": "record.updated",
            "object": "contact",
            "id": record,
            "properties": {"lifecyclestage": "lead"},
        }
    )


def run_file(
    store: Any,
    crm: Any,
    events: Path,
    *,
    plans: Any = None,
    log: list[str] | None = None,
    batch: int = 200,
    until: dt.datetime | None = None,
) -> Any:
    service = Service(
        plans or load_plans([CASES / "welcome.wf"]),
        crm,
        store,
        records=RECORDS,
        options=Options(clock="virtual", until_idle=True, batch=batch, until=until),
        log=(log.append if log is not None else lambda text: None),
    )
    with events.open("rb") as stream:
        return service.run(stream, str(events))


# ---------------------------------------------------------------- 1. keys unique across stores


def test_two_stores_on_one_crm_both_perform_their_actions(tmp_path: Path) -> None:
    # Both stores number their first enrollment e1: without the store's id in the
    # key, the second store's actions were taken for replays of the first's.
    for name, record in (("a", "c1"), ("b", "c2")):
        events = tmp_path / f"{name}.jsonl"
        events.write_text(lead(record, "2026-11-23T10:00:00Z") + "\n", encoding="utf-8")
        store, crm = SQLiteStore(tmp_path / f"{name}.db"), SQLiteCRM(tmp_path / "crm.db")
        try:
            run_file(store, crm, events)
        finally:
            store.close()
            crm.close()
    crm = SQLiteCRM(tmp_path / "crm.db")
    emails = [(row["id"], row["args"]["email"]) for row in crm.outbox() if row["kind"] == "send_email"]
    assert sorted(emails) == [(r, f"Welcome #{n}") for r in ("c1", "c2") for n in (1, 2)]
    assert crm.get("contact", "c2").properties["hs_lead_status"] == "IN_PROGRESS"  # type: ignore[union-attr]
    keys = [row["key"] for row in crm.performed()]
    assert len(set(keys)) == len(keys)
    ids = {SQLiteStore(tmp_path / f"{n}.db").store_id() for n in ("a", "b")}
    assert len(ids) == 2 and all(len(i) == 16 for i in ids)
    assert {key.partition("/")[0] for key in keys} == ids
    assert all(row["replays"] == 0 for row in crm.performed())


def test_a_recreated_store_gets_a_new_id(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path / "s.db")
    old = first.store_id()
    first.close()
    assert SQLiteStore(tmp_path / "s.db").store_id() == old  # kept while the file lives
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"s.db{suffix}").unlink(missing_ok=True)
    assert SQLiteStore(tmp_path / "s.db").store_id() not in ("", old)


@pytest.mark.parametrize("crm_kind", ["memory", "sqlite"])
def test_a_replay_must_be_the_same_action(tmp_path: Path, crm_kind: str) -> None:
    crm: Any = MemoryCRM() if crm_kind == "memory" else SQLiteCRM(tmp_path / "crm.db")
    at = dt.datetime(2026, 1, 1, tzinfo=UTC)
    crm.observe(
        __import__("wfdsl.runtime.protocols", fromlist=["Event"]).Event(
            type="record.created", object="contact", id="c1", at=at, properties={}
        )
    )
    email = Action(kind="send_email", object="contact", id="c1", args={"email": "Hi"}, at=at, enrollment="e1")
    first = crm.perform(email, "s1/e1:steps.0:1")
    again = crm.perform(attrs_evolve(email, at=at + dt.timedelta(hours=1)), "s1/e1:steps.0:1")
    assert again == first  # the same action again: a replay
    other = Action(kind="send_email", object="contact", id="c1", args={"email": "Other"}, at=at)
    with pytest.raises(PermanentAdapterError, match="already used for another action"):
        crm.perform(other, "s1/e1:steps.0:1")
    elsewhere = Action(kind="send_email", object="contact", id="c2", args={"email": "Hi"}, at=at)
    with pytest.raises(PermanentAdapterError, match="already used for another action"):
        crm.perform(elsewhere, "s1/e1:steps.0:1")


def attrs_evolve(action: Action, **changes: Any) -> Action:
    import attrs

    return attrs.evolve(action, **changes)


def test_the_memory_store_keeps_bare_keys_so_simulations_stay_the_same() -> None:
    assert MemoryStore().store_id() == ""
    assert isinstance(MemoryStore(), ServiceStore) and isinstance(SQLiteStore(":memory:"), ServiceStore)


# ---------------------------------------------------------------- 2. the lock


def test_a_store_reached_through_a_symlink_is_the_same_store(tmp_path: Path) -> None:
    real = tmp_path / "real" / "state.db"
    real.parent.mkdir()
    alias = tmp_path / "alias.db"
    alias.symlink_to(real)
    first = SQLiteStore(real)
    first.lock()
    second = SQLiteStore(alias)
    try:
        with pytest.raises(StoreError, match=r"alias\.db is in use by another `wfdsl run` \(pid \d+"):
            second.lock()
        linked_dir = tmp_path / "linked"
        linked_dir.symlink_to(real.parent)
        third = SQLiteStore(linked_dir / "state.db")
        with pytest.raises(StoreError, match="in use"):
            third.lock()
        third.close()
    finally:
        second.close()
        first.close()
    free = SQLiteStore(alias)
    free.lock()  # released with the first
    free.close()


def test_a_symlinked_store_refuses_a_second_service(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(lead("c1", "2026-11-23T10:00:00Z") + "\n", encoding="utf-8")
    (tmp_path / "alias.db").symlink_to(tmp_path / "state.db")
    process = subprocess.Popen(
        [sys.executable, "-m", "wfdsl", "run", WF, "--store", "sqlite:///state.db", "--crm", "sqlite:///crm.db"]
        + ["--events", str(events), "--clock", "virtual", "--status-every", "0.2"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        assert process.stderr is not None
        assert process.stderr.readline().startswith("wfdsl run: ")  # running, holding the store
        other = wfdsl(
            "run", WF, "--store", "sqlite:///alias.db", "--crm", "sqlite:///crm.db", "--until-idle", cwd=tmp_path
        )
        assert other.returncode == 2
        assert "alias.db is in use by another `wfdsl run`" in other.stderr
        assert "Traceback" not in other.stderr
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_lock_works_where_there_is_no_fcntl(tmp_path: Path) -> None:
    script = f"""
import sys
sys.modules["fcntl"] = None  # as on a platform without it
from wfdsl.stores.sqlite import SQLiteStore, StoreError
first = SQLiteStore({str(tmp_path / "s.db")!r})
first.lock()
second = SQLiteStore({str(tmp_path / "s.db")!r})
try:
    second.lock()
except StoreError as error:
    print("refused:", error)
first.close()
second.lock()
print("then locked")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "in use by another" in done.stdout
    assert done.stdout.endswith("then locked\n")


# ---------------------------------------------------------------- 3. rotated events files


def _enrolled(store: SQLiteStore) -> list[str]:
    return sorted({e.id for e in store.history() if e.kind == "enrolled"})


@pytest.mark.parametrize("how", ["replaced-shorter", "replaced-longer", "truncated-rewritten"])
def test_a_rotated_events_file_is_read_from_its_start(tmp_path: Path, how: str) -> None:
    events = tmp_path / "events.jsonl"
    first = [lead(f"a{i}", f"2026-11-23T10:0{i}:00Z") for i in range(3)]
    events.write_text("\n".join(first) + "\n", encoding="utf-8")
    store, crm = SQLiteStore(tmp_path / "s.db"), SQLiteCRM(tmp_path / "c.db")
    run_file(store, crm, events)
    assert _enrolled(store) == ["a0", "a1", "a2"]
    count = {"replaced-shorter": 1, "replaced-longer": 6, "truncated-rewritten": 6}[how]
    second = [lead(f"b{i}", f"2026-11-24T10:0{i}:00Z") for i in range(count)]
    if how.startswith("replaced"):
        events.rename(tmp_path / "events.jsonl.1")
        events.write_text("\n".join(second) + "\n", encoding="utf-8")
    else:
        with events.open("r+", encoding="utf-8") as handle:  # same file: copytruncate, then written again
            handle.truncate(0)
            handle.write("\n".join(second) + "\n")
    log: list[str] = []
    run_file(store, crm, events, log=log)
    assert _enrolled(store) == ["a0", "a1", "a2"] + [f"b{i}" for i in range(count)]
    assert any("reading it from the start" in line for line in log), log
    log.clear()
    run_file(store, crm, events, log=log)  # the same file again: nothing read twice
    assert not any("from the start" in line for line in log)
    assert len([e for e in store.history() if e.kind == "enrolled"]) == 3 + count
    store.close()
    crm.close()


def test_rotation_while_following_is_noticed(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(lead("a0", "2026-11-23T10:00:00Z") + "\n", encoding="utf-8")
    store, crm = SQLiteStore(tmp_path / "s.db"), SQLiteCRM(tmp_path / "c.db")
    log: list[str] = []
    service = Service(
        load_plans([CASES / "welcome.wf"]),
        crm,
        store,
        records=RECORDS,
        options=Options(clock="virtual", poll=0.02, status_every=0),
        log=log.append,
    )

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 20
        while service.counts.events < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service.counts.events >= count, log

    def write() -> None:
        try:
            wait_for(1)
            with events.open("a", encoding="utf-8") as handle:
                handle.write(lead("a1", "2026-11-23T10:01:00Z") + "\n")
            wait_for(2)
            events.rename(tmp_path / "events.jsonl.1")  # logrotate's create mode
            events.write_text(lead("b0", "2026-11-23T10:02:00Z") + "\n", encoding="utf-8")
            wait_for(3)
            with events.open("r+", encoding="utf-8") as handle:  # copytruncate mode
                handle.truncate(0)
            time.sleep(0.2)
            with events.open("a", encoding="utf-8") as handle:
                handle.write(lead("c0", "2026-11-23T10:03:00Z") + "\n")
            wait_for(4)
        finally:
            service.stop()

    writer = threading.Thread(target=write)
    writer.start()
    with events.open("rb") as stream:
        service.run(stream, str(events))
    writer.join()
    assert _enrolled(store) == ["a0", "a1", "b0", "c0"]
    assert any("was rotated" in line for line in log), log
    assert any("was truncated" in line for line in log), log
    store.close()
    crm.close()


# ---------------------------------------------------------------- 4. dead letters

ANCHORED = """
workflow "Renewal" {
  object contact
  anchor contact.renewal_date

  enroll when contact.lifecyclestage = "customer"

  steps {
    delay until 30 days before anchor at 09:00
    delay until 30 days after anchor at 09:00
    send email "Thanks"
  }
}
"""


def _deep(levels: int) -> Any:
    value: Any = {"a": 1}
    for _ in range(levels):
        value = {"x": value}
    return value


POISON_LINES = [
    # an event that cannot be processed, then a good one of another record
    json.dumps(
        {
            "at": "2026-11-23T10:00:00Z",
            "type": "record.updated",
            "object": "contact",
            "id": "c1",
            "properties": {"lifecyclestage": "lead", "deep": _deep(500)},
        }
    ),
    '{"at": "2026-11-23T10:00:01Z", "type": "record.updated", "object": "contact", "id": "\\ud800", '
    '"properties": {"lifecyclestage": "lead"}}',
    '{"at": "0001-01-01T00:00:00+01:00", "type": "record.updated", "object": "contact", "id": "c1", '
    '"properties": {"lifecyclestage": "lead"}}',
    lead("c2", "2026-11-23T11:00:00Z"),
]


def test_poison_events_are_set_aside_and_the_rest_goes_on(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(POISON_LINES) + "\n", encoding="utf-8")
    store, crm = SQLiteStore(tmp_path / "s.db"), SQLiteCRM(tmp_path / "c.db")
    log: list[str] = []
    run_file(store, crm, events, log=log)
    # the good event of the same batch is processed, once
    assert [e.id for e in store.history() if e.kind == "enrolled"] == ["c2"]
    letters = store.dead_letters()
    assert sorted((d.kind, d.source, d.line) for d in letters) == [("event", str(events), n) for n in (1, 2, 3)]
    reasons = {d.line: d.reason for d in letters}
    assert "nested too deeply" in reasons[1]
    assert "lone surrogate" in reasons[2]
    assert "before the year 1900" in reasons[3]
    report = status_report(store)
    assert report["dead_letters"]["count"] == len(letters)
    assert report["dead_letters"]["recent"][0]["source"] == str(events)
    # a restart is not a crash loop: nothing is read again, nothing set aside twice
    run_file(store, crm, events, log=log)
    assert store.count_dead_letters() == len(letters)
    store.close()
    crm.close()


def test_a_poison_event_in_the_middle_of_a_batch_leaves_every_good_event_processed_once(tmp_path: Path) -> None:
    lines = [lead(f"g{i}", f"2026-11-23T10:{i:02d}:00Z") for i in range(10)]
    poison = json.dumps(
        {
            "at": "2026-11-23T10:05:30Z",
            "type": "record.updated",
            "object": "contact",
            "id": "p1",
            "properties": {"lifecyclestage": "lead", "deep": _deep(500)},
        }
    )
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([*lines[:6], poison, *lines[6:]]) + "\n", encoding="utf-8")
    store, crm = SQLiteStore(tmp_path / "s.db"), SQLiteCRM(tmp_path / "c.db")
    run_file(store, crm, events)
    enrolled = [e.id for e in store.history() if e.kind == "enrolled"]
    assert sorted(enrolled) == sorted(f"g{i}" for i in range(10))
    emails = [row for row in crm.outbox() if row["kind"] == "send_email"]
    assert len(emails) == 20  # two each, none twice
    assert [d.line for d in store.dead_letters()] == [7]
    store.close()
    crm.close()


def test_a_poison_enrollment_is_set_aside_and_the_others_fire(tmp_path: Path) -> None:
    source = tmp_path / "renewal.wf"
    source.write_text(ANCHORED, encoding="utf-8")
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nrenewal_date = "date"\n', encoding="utf-8")
    lines = [
        json.dumps(
            {
                "at": "2026-01-01T00:00:00Z",
                "type": "record.updated",
                "object": "contact",
                "id": record,
                "properties": {"lifecyclestage": "customer", "renewal_date": date},
            }
        )
        for record, date in (("c1", "9999-12-20"), ("c2", "2026-02-01"))
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store, crm = SQLiteStore(tmp_path / "s.db"), SQLiteCRM(tmp_path / "c.db")
    log: list[str] = []
    # The clock runs until c1's first delay ends, in the year 9999; its second cannot.
    run_file(store, crm, events, plans=load_plans([source]), log=log, until=dt.datetime(9999, 12, 1, tzinfo=UTC))
    c1 = [e.kind for e in store.history(record=("contact", "c1"))]
    c2 = [e.kind for e in store.history(record=("contact", "c2"))]
    assert c2[-2:] == ["action", "completed"]
    assert c1[-2:] == ["failed", "unenrolled"]
    (letter,) = store.dead_letters()
    assert (letter.kind, letter.workflow, letter.object, letter.id) == ("timer", "Renewal", "contact", "c1")
    assert "beyond the year 9999" in letter.reason
    assert store.count_enrollments(status="active") == 0
    status = wfdsl("status", "--store", f"sqlite:///{tmp_path / 's.db'}", cwd=tmp_path)
    assert status.returncode == 0
    assert "1 dead letter" in status.stdout and "Renewal contact:c1" in status.stdout
    store.close()
    crm.close()


def test_the_memory_store_sets_poison_aside_too(tmp_path: Path) -> None:
    import io

    source = tmp_path / "renewal.wf"
    source.write_text(ANCHORED.replace("30 days before", "30 days after"), encoding="utf-8")
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nrenewal_date = "date"\n', encoding="utf-8")
    store = MemoryStore()
    service = Service(
        load_plans([source]), MemoryCRM(), store, records=RECORDS, options=Options(clock="virtual", until_idle=True)
    )
    lines = [
        json.dumps(
            {
                "at": f"2026-01-01T00:00:0{n}Z",
                "type": "record.updated",
                "object": "contact",
                "id": record,
                "properties": {"lifecyclestage": "customer", "renewal_date": date},
            }
        )
        for n, (record, date) in enumerate((("c1", "9999-12-20"), ("c2", "2026-02-01"), ("c3", "9999-12-25")))
    ]
    service.run(io.BytesIO(("\n".join(lines) + "\n").encode()), "events")
    # The memory store cannot undo what a failed event did before it failed: the
    # enrollments of c1 and c3 were made; the dead letters say why they stopped there.
    assert [(d.line, "beyond the year 9999" in d.reason) for d in store.dead_letters()] == [(1, True), (3, True)]
    assert [e.kind for e in store.history(record=("contact", "c2"))][-1] == "completed"


# ---------------------------------------------------------------- 5. no tracebacks


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"9999-12-20"', "cannot process this event: TimingError"),
        ("253402300800000", None),
        ("NaN", None),
        ("1e15", None),
        ("Infinity", None),
        ('"9999-12-31T23:00-05:00"', None),
        ('"0001-01-01T00:00+14:00"', None),
    ],
)
def test_simulate_with_anchors_off_the_calendar_never_shows_a_traceback(
    tmp_path: Path, value: str, expected: str | None
) -> None:
    (tmp_path / "renewal.wf").write_text(ANCHORED.replace("30 days before", "30 days after"), encoding="utf-8")
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nrenewal_date = "date"\n', encoding="utf-8")
    (tmp_path / "records.json").write_text('{"contact": [{"id": "c2", "renewal_date": "2026-03-01"}]}')
    (tmp_path / "events.jsonl").write_text(
        '{"at": "2026-01-01T00:00:00Z", "type": "record.updated", "object": "contact", "id": "c1", '
        f'"properties": {{"lifecyclestage": "customer", "renewal_date": {value}}}}}\n'
        + json.dumps(
            {
                "at": "2026-01-01T00:00:01Z",
                "type": "record.updated",
                "object": "contact",
                "id": "c2",
                "properties": {"lifecyclestage": "customer"},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    done = wfdsl("simulate", "renewal.wf", "--records", "records.json", "--events", "events.jsonl", cwd=tmp_path)
    assert "Traceback" not in done.stderr
    if expected is None:  # a date off the calendar is an unknown date
        assert done.returncode == 0, done.stderr
        assert "contact:c2" in done.stdout
    else:
        assert done.returncode == 3
        assert done.stderr.startswith("wfdsl: error: runtime failure: events.jsonl:1: " + expected)


def test_simulate_refuses_poison_lines_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "records.json").write_text('{"contact": []}')
    for number, line in enumerate(POISON_LINES[1:3], start=1):
        (tmp_path / "events.jsonl").write_text(line + "\n", encoding="utf-8")
        done = wfdsl("simulate", WF, "--records", "records.json", "--events", "events.jsonl", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("wfdsl: error: events.jsonl:1: "), number
        assert "Traceback" not in done.stderr


def _corrupt(path: Path) -> None:
    """Overwrite every page but the schema's with garbage (a damaged disk or copy)."""
    import sqlite3

    connection = sqlite3.connect(path)
    pages = [page for (page,) in connection.execute("SELECT pageno FROM dbstat WHERE name NOT IN ('sqlite_schema')")]
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    assert pages
    with path.open("r+b") as handle:
        for page in pages:
            handle.seek((page - 1) * page_size)
            handle.write(b"\xde\xad\xbe\xef" * (page_size // 4))


@pytest.mark.parametrize("command", [["status"], ["status", "--format", "json"], ["prune"]])
def test_status_and_prune_on_a_corrupted_store_say_so(tmp_path: Path, command: list[str]) -> None:
    ran = wfdsl(
        "run",
        WF,
        "--records",
        str(CASES / "records.json"),
        "--events",
        str(CASES / "events.jsonl"),
        "--clock",
        "virtual",
        "--until-idle",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    _corrupt(tmp_path / "wfdsl-state.db")
    done = wfdsl(*command, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("wfdsl: error: cannot read store 'sqlite:///wfdsl-state.db': ")
    assert "malformed" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- 6. prune beside run


def test_prune_never_holds_the_write_lock_long(tmp_path: Path) -> None:
    """A service on the store (here a writer with a 1-second busy timeout, a tenth of
    the service's) never meets "database is locked" while a big prune runs."""
    import sqlite3

    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    old = 1_000_000  # microseconds after the epoch: long past every retention
    rows = 300_000
    with store.transaction():
        store._conn.executemany(
            "INSERT INTO history (seq, at, workflow, object, id, kind, step, detail, enrollment) "
            "VALUES (?, ?, 'W', 'contact', ?, 'action', 'steps.0', '{}', ?)",
            ((n, old, f"c{n}", f"e{n}") for n in range(rows)),
        )
    errors: list[str] = []
    writes = 0
    stop = threading.Event()

    def writer() -> None:
        nonlocal writes
        conn = sqlite3.connect(path, isolation_level=None, timeout=1.0)
        while not stop.is_set():
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('beat', ?)", (str(writes),))
                conn.execute("COMMIT")
                writes += 1
            except sqlite3.OperationalError as error:
                errors.append(str(error))
                conn.execute("ROLLBACK") if conn.in_transaction else None
            time.sleep(0.005)
        conn.close()

    from wfdsl.host.service import prune_store

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        result = prune_store(store, dt.datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        stop.set()
        thread.join()
    assert result["removed"] == rows
    assert store.count_history() == 0
    assert errors == []
    assert writes > 10
    store.close()


# ---------------------------------------------------------------- 7. numeric record ids


def test_numeric_record_ids_work_with_the_sqlite_crm(tmp_path: Path) -> None:
    (tmp_path / "records.json").write_text('{"contact": [{"id": 1, "email": "a@example.com"}]}')
    (tmp_path / "events.jsonl").write_text(
        '{"at": "2026-11-23T10:00:00Z", "type": "record.updated", "object": "contact", "id": 1, '
        '"properties": {"lifecyclestage": "lead"}}\n'
    )
    args = [WF, "--records", "records.json", "--events", "events.jsonl"]
    ran = wfdsl("run", *args, "--clock", "virtual", "--until-idle", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    simulated = wfdsl("simulate", *args, "--format", "json", cwd=tmp_path)
    trace = [json.loads(line) for line in simulated.stdout.splitlines()]
    store = SQLiteStore(tmp_path / "wfdsl-state.db")
    assert [e.to_json() for e in store.history()] == trace
    assert {e["id"] for e in trace} == {"1"}
    store.close()
    (tmp_path / "records.json").write_text('{"contact": [{"id": 1.5}]}')
    refused = wfdsl("run", *args, "--clock", "virtual", "--until-idle", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("wfdsl: error: records.json:1: ")


# ---------------------------------------------------------------- 8. terminal safety

ESC = "\x1b"


def test_control_characters_never_reach_the_terminal_raw(tmp_path: Path) -> None:
    (tmp_path / "records.json").write_text('{"contact": []}')
    hostile = "c" + ESC + "[2J" + ESC + "]0;pwned\x07\u202e1"
    (tmp_path / "events.jsonl").write_text(
        json.dumps(
            {
                "at": "2026-11-23T10:00:00Z",
                "type": "record.updated",
                "object": "contact",
                "id": hostile,
                "properties": {"lifecyclestage": "lead", "email": "x\ny"},
            }
        )
        + "\n"
    )
    args = [WF, "--records", "records.json", "--events", "events.jsonl"]
    simulated = wfdsl("simulate", *args, cwd=tmp_path)
    assert simulated.returncode == 0, simulated.stderr
    assert "contact:c\\x1b[2J\\x1b]0;pwned\\x07\\u202e1" in simulated.stdout
    assert (
        wfdsl(
            "run", *args, "--clock", "virtual", "--until-idle", "--until", "2026-11-24T00:00:00Z", cwd=tmp_path
        ).returncode
        == 0
    )
    status = wfdsl("status", cwd=tmp_path)
    assert "c\\x1b[2J" in status.stdout
    explained = wfdsl("explain", *args, "--record", "contact:" + hostile, cwd=tmp_path)
    lint_source = tmp_path / "hostile.wf"
    lint_source.write_text(
        'workflow "W" {\n  object contact\n  enroll when contact.emial = "' + ESC + ']0;x\x07"\n}\n', encoding="utf-8"
    )
    linted = wfdsl("lint", "--color", "always", str(lint_source), cwd=tmp_path)
    for output in (simulated.stdout, status.stdout, explained.stdout, explained.stderr, linted.stdout):
        assert "\x07" not in output and "\u202e" not in output
        assert ESC + "[2J" not in output and ESC + "]0" not in output
    assert '"\\x1b]0;x\\x07"' in linted.stdout


# ---------------------------------------------------------------- 9. compile -o and the umask


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_compile_output_honours_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    script = (
        f"import os, sys; os.umask({umask}); from wfdsl.cli import main; "
        f"sys.argv = ['wfdsl', 'compile', {WF!r}, '-o', 'plan.json']; main()"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "plan.json").stat().st_mode & 0o777 == mode


# ---------------------------------------------------------------- 11. config discovery


def test_a_config_above_the_project_root_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "wfdsl.toml").write_text('[lint]\nignore = ["unknown-property"]\n', encoding="utf-8")
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "flows").mkdir()
    source = project / "flows" / "w.wf"
    source.write_text(
        'workflow "W" {\n  object contact\n  enroll when contact.emial = "x"\n  steps { send email "Hi" }\n}\n',
        encoding="utf-8",
    )
    linted = wfdsl("lint", "-v", "flows/w.wf", cwd=project)
    assert "warning[unknown-property]" in linted.stdout  # the ancestor's `ignore` does not apply
    assert linted.stderr.startswith(f"wfdsl: config: none found from {project / 'flows'} up to {project}")
    (project / "wfdsl.toml").write_text('[lint]\nignore = ["unknown-property"]\n', encoding="utf-8")
    linted = wfdsl("lint", "-v", "flows/w.wf", cwd=project)
    assert "unknown-property" not in linted.stdout
    assert linted.stderr == f"wfdsl: config: {project / 'wfdsl.toml'}\n"
