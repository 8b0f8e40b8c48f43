"""The PostgreSQL store and CRM against a real server (tests/pg_server.py): the engine
cases, `run`/`ingest`/`status`/`prune` end to end, schema versions, locking between workers."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest

import pg_server
from engine_helpers import at, event, plans
from test_engine_cases import CASES, _sections
from wfdsl.adapters.postgres import OutboxDispatcher, PostgresCRM
from wfdsl.host.simulate import HORIZON, SEEDED_AT, Simulation, load_records_data
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import Enrollment, ServiceStore, StateStore, Timer, VirtualClock
from wfdsl.stores.postgres import PostgresStore
from wfdsl.stores.protocols import CountingStore, EventInbox, MetaStore, WorkerStore
from wfdsl.stores.sqlite import SchemaVersionError, SQLiteStore, StoreError

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "tests" / "cases" / "run"
UTC = dt.timezone.utc


def wfdsl(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfdsl", *args], cwd=cwd, input=input, capture_output=True, text=True, timeout=300
    )


def test_the_store_declares_every_host_seam(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        for seam in (EventInbox, MetaStore, CountingStore, WorkerStore, ServiceStore, StateStore):
            assert isinstance(store, seam), seam
    finally:
        store.close()


# ---------------------------------------------------------------- the engine case suite


def _run_on_postgres(path: Path, url: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A case as `Simulation` runs it, with the PostgreSQL store and CRM in its place."""
    sections = _sections(path.read_text(encoding="utf-8"))
    options = json.loads(sections.get("options") or "{}")
    seed = load_records_data(json.loads(sections.get("records") or "{}"), "records.json")
    events = [event(json.loads(line)) for line in (sections.get("events") or "").splitlines() if line.strip()]
    until = at(options["until"]) if "until" in options else None
    start = at(options["start"]) if "start" in options else (events[0].at if events else until)
    assert start is not None
    store, crm = PostgresStore(url), PostgresCRM(url)
    try:
        clock = VirtualClock(start)
        for record in seed.records:
            # as Simulation seeds them: set at an unknown time before the start
            crm.add_record(record.object, record.id, record.properties, at=SEEDED_AT)
        for left, right in seed.associations:
            crm.associate(left, right)
        for name, members in seed.lists.items():
            for member in members:
                crm.add_to_list(name, member)
        engine = Engine(plans(sections["workflows"]), crm, store, clock, allow_placeholders=True)
        for workflow in engine.workflows:
            engine.activate(workflow)
        last = start
        for item in events:
            if until is not None and item.at > until:
                break
            clock.set(item.at)
            engine.run_due(item.at)
            engine.ingest(item)
            last = max(last, item.at)
        end = until if until is not None else last + HORIZON
        while True:
            due = engine.next_due()
            if due is None or due > end:
                break
            clock.set(due)
            engine.run_due(due)
        trace = [entry.to_json() for entry in store.history()]
        stats = {name: engine.stats(name) for name in engine.workflows}
        return trace, stats
    finally:
        crm.close()
        store.close()


def _run_in_memory(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sections = _sections(path.read_text(encoding="utf-8"))
    options = json.loads(sections.get("options") or "{}")
    sim = Simulation(
        plans(sections["workflows"]),
        load_records_data(json.loads(sections.get("records") or "{}"), "records.json"),
        start=at(options["start"]) if "start" in options else None,
        until=at(options["until"]) if "until" in options else None,
    )
    sim.run(event(json.loads(line)) for line in (sections.get("events") or "").splitlines() if line.strip())
    return sim.trace(), sim.stats()


def test_every_engine_case_gives_the_same_trace_on_postgresql() -> None:
    """One database, emptied before each case."""
    cases = sorted(CASES.glob("*.case"))
    assert len(cases) > 20
    for url in pg_server.database():
        for path in cases:
            pg_server.reset(url)  # fresh counters, so the same enrollment ids
            expected = _run_in_memory(path)
            got = _run_on_postgres(path, url)
            assert got[0] == expected[0], path.name
            assert got[1] == expected[1], path.name


# ---------------------------------------------------------------- the CLI end to end


def test_run_on_postgresql_equals_run_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    common = ["--records", str(RUN / "records.json"), "--events", str(RUN / "events.jsonl")]
    common += ["--clock", "virtual", "--until-idle", "--status-every", "0"]
    ran = wfdsl("run", str(RUN / "welcome.wf"), "--store", pg_url, "--crm", pg_url, *common, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    local = wfdsl("run", str(RUN / "welcome.wf"), *common, cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    store = PostgresStore(pg_url)
    sqlite = SQLiteStore(tmp_path / "wfdsl-state.db")
    try:
        assert [e.to_json() for e in store.history()] == [e.to_json() for e in sqlite.history()] != []
        assert store.stats("Welcome") == sqlite.stats("Welcome")
    finally:
        store.close()
        sqlite.close()
    crm = PostgresCRM(pg_url)
    try:
        emails = [(row["kind"], row["id"], row["args"]["email"]) for row in crm.outbox()]
        assert emails[0] == ("send_email", "c1", "Welcome #1")
        assert all(row["key"] and row["sent"] for row in crm.outbox())
    finally:
        crm.close()
    # history and outbox read PostgreSQL as they read SQLite (keys differ: each store has its id)
    history = wfdsl("history", "--store", pg_url, "--record", "contact:c1", "--format", "json", cwd=tmp_path)
    local_history = wfdsl("history", "--record", "contact:c1", "--format", "json", cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    assert history.stdout == local_history.stdout != ""
    outbox = wfdsl("outbox", "--crm", pg_url, "--format", "json", cwd=tmp_path)
    local_outbox = wfdsl("outbox", "--format", "json", cwd=tmp_path)
    assert outbox.returncode == 0, outbox.stderr

    def keyless(text: str) -> list[dict[str, Any]]:
        return [{k: v for k, v in json.loads(line).items() if k != "key"} for line in text.splitlines()]

    assert keyless(outbox.stdout) == keyless(local_outbox.stdout) != []
    # status and prune work against PostgreSQL as against SQLite
    status = wfdsl("status", "--store", pg_url, "--format", "json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    local_status = wfdsl("status", "--format", "json", cwd=tmp_path)
    assert json.loads(status.stdout) == json.loads(local_status.stdout)
    pruned = wfdsl("prune", "--store", pg_url, "--now", "2027-12-01T00:00:00Z", "--format", "json", cwd=tmp_path)
    local_pruned = wfdsl("prune", "--now", "2027-12-01T00:00:00Z", "--format", "json", cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["removed"] == json.loads(local_pruned.stdout)["removed"] == 18


def test_ingest_into_postgresql_dedupes_and_a_worker_applies_it(pg_url: str, tmp_path: Path) -> None:
    lines = (RUN / "events.jsonl").read_text(encoding="utf-8").splitlines()
    text = "".join(json.dumps({**json.loads(line), "event_id": f"k{n}"}) + "\n" for n, line in enumerate(lines))
    first = wfdsl("ingest", "--store", pg_url, "-", cwd=tmp_path, input=text)
    assert (first.returncode, first.stdout) == (0, f"ingested {len(lines)} events\n"), first.stderr
    again = wfdsl("ingest", "--store", pg_url, "-", cwd=tmp_path, input=text)
    assert again.stdout == f"ingested 0 events ({len(lines)} duplicates dropped)\n"
    common = ["--records", str(RUN / "records.json"), "--clock", "virtual", "--until-idle", "--status-every", "0"]
    ran = wfdsl("run", str(RUN / "welcome.wf"), "--store", pg_url, "--crm", pg_url, *common, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    store = PostgresStore(pg_url)
    try:
        assert store.pending_events() == 0
        assert store.stats("Welcome")["enrolled"] == 3
    finally:
        store.close()


def test_a_newer_schema_is_refused_with_exit_2(pg_url: str, tmp_path: Path) -> None:
    PostgresStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE wfdsl_schema SET version = version + 5 WHERE component = 'store'")
    with pytest.raises(SchemaVersionError, match="newer than this wfdsl understands"):
        PostgresStore(pg_url)
    result = wfdsl("status", "--store", pg_url, cwd=tmp_path)
    assert result.returncode == 2
    assert "state store schema version 6, newer than this wfdsl understands (1)" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_older_schema_is_migrated_forward_keeping_its_data(pg_url: str) -> None:
    from wfdsl.stores.postgres import MIGRATIONS

    old = PostgresStore(pg_url)
    with old.transaction():
        old.add_stat("W", "enrolled", 2)
    old.close()

    class NextVersion(PostgresStore):
        migrations = (*MIGRATIONS, "ALTER TABLE workflows ADD COLUMN note text")

    new = NextVersion(pg_url)
    try:
        assert new.stats("W")["enrolled"] == 2
        assert new.db.one("SELECT version FROM wfdsl_schema WHERE component = 'store'") == len(MIGRATIONS) + 1
    finally:
        new.close()
    with pytest.raises(SchemaVersionError):
        PostgresStore(pg_url)


def test_the_missing_extra_is_named(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None; sys.modules['psycopg_pool'] = None\n"
        "from wfdsl.cli import main; sys.argv = ['wfdsl', 'status', '--store', 'postgresql://u@127.0.0.1:1/x']\n"
        "main()"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "PostgreSQL support needs: pip install 'wfdsl-crm[postgres]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_a_configuration_error(tmp_path: Path) -> None:
    result = wfdsl("status", "--store", "postgresql://nobody:secret@127.0.0.1:1/none", cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot connect to postgresql://nobody@127.0.0.1:1/none" in result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- workers share the work safely


T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)


def _enrollment(eid: str, record: str) -> Enrollment:
    return Enrollment(
        id=eid, workflow="W", object="contact", record=record, status="active", enrolled_at=T0, seq=int(eid[1:])
    )


def test_two_workers_never_hold_one_record_at_once(pg_url: str) -> None:
    """Worker A claims the timer of contact c1; meanwhile worker B cannot claim it, cannot
    claim c1's next inbox event, and waits to read c1's enrollments until A commits."""
    store = PostgresStore(pg_url)
    try:
        with store.transaction():
            for n, record in enumerate(["c1", "c1", "c2"], start=1):
                store.put_enrollment(_enrollment(f"e{n}", record))
                store.set_timer(Timer(key=f"e{n}", due=T0, seq=n, kind="resume", workflow="W", enrollment=f"e{n}"))
            store.append_events(
                [
                    {"type": "list.added", "object": "contact", "id": "c1", "data": {"list": "A"}, "at": "2026-01-01"},
                    {"type": "list.added", "object": "contact", "id": "c1", "data": {"list": "B"}, "at": "2026-01-01"},
                    {"type": "list.added", "object": "contact", "id": "c3", "data": {"list": "A"}, "at": "2026-01-01"},
                ]
            )
        a_claimed = threading.Event()
        release = threading.Event()
        seen: dict[str, Any] = {}

        def worker_a() -> None:
            with store.transaction():
                seen["a_timers"] = [t.key for t in store.claim_timers(T0, 10)]
                seen["a_events"] = [e.body["id"] for e in store.claim_events(10)]
                a_claimed.set()
                release.wait(10)
                for eid in ("e1", "e2"):
                    store.put_enrollment(attrs.evolve(_enrollment(eid, "c1"), status="completed"))
                seen["a_commit"] = time.monotonic()

        thread = threading.Thread(target=worker_a)
        thread.start()
        assert a_claimed.wait(10)
        # A holds c1 (its timers and its events), c2 and c3: B gets none of them.
        assert seen["a_timers"] == ["e1", "e2", "e3"] and seen["a_events"] == ["c1", "c1", "c3"]
        with store.transaction():
            assert store.claim_timers(T0, 10) == []
            assert store.claim_events(10) == []
        # B reading c1's enrollments waits for A's commit, then sees what A wrote.
        threading.Timer(0.5, release.set).start()
        with store.transaction():
            statuses = [e.status for e in store.enrollments_of("contact", "c1")]
            waited_until = time.monotonic()
        thread.join(10)
        assert waited_until >= seen["a_commit"]
        assert statuses == ["completed", "completed"]
    finally:
        store.close()


def test_a_killed_workers_claims_are_free_at_once(pg_url: str, tmp_path: Path) -> None:
    """A process that dies holding claims loses its connection; the server rolls back and
    another worker claims the same timer immediately (no lease to wait out)."""
    store = PostgresStore(pg_url)
    try:
        with store.transaction():
            store.put_enrollment(_enrollment("e1", "c1"))
            store.set_timer(Timer(key="e1", due=T0, seq=1, kind="resume", workflow="W", enrollment="e1"))
        script = (
            "import sys, time\n"
            "from wfdsl.stores.postgres import PostgresStore\n"
            "import datetime as dt\n"
            "store = PostgresStore(sys.argv[1])\n"
            "with store.transaction():\n"
            "    print([t.key for t in store.claim_timers(dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), 5)],"
            " flush=True)\n"
            "    time.sleep(60)\n"
        )
        child = subprocess.Popen([sys.executable, "-c", script, pg_url], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "['e1']"
        with store.transaction():
            assert store.claim_timers(T0, 5) == []
        child.kill()
        child.wait(10)
        deadline = time.monotonic() + 5
        while True:
            with store.transaction():
                got = [t.key for t in store.claim_timers(T0, 5)]
            if got or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert got == ["e1"]
    finally:
        store.close()


def test_the_dispatcher_sends_each_call_out_once(pg_url: str) -> None:
    """Webhooks wait in the outbox until a dispatcher claims and sends them; two
    dispatchers never send one row twice, and a failed send is tried again."""
    crm = PostgresCRM(pg_url)
    try:
        from wfdsl.runtime.protocols import Action

        for n in range(40):
            crm.perform(
                Action(kind="webhook", object="contact", id=f"c{n}", args={"url": "http://x/h"}, at=T0), f"k{n}"
            )
        sent: list[str] = []
        lock = threading.Lock()
        failures = {"k3": 1}

        def send(row: Any) -> None:
            if failures.get(row["key"]):
                failures[row["key"]] -= 1
                raise ConnectionError("refused")
            with lock:
                sent.append(row["key"])
            time.sleep(0.005)

        def run() -> None:
            dispatcher = OutboxDispatcher(crm, send)
            while dispatcher.dispatch(batch=8):
                pass

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        OutboxDispatcher(crm, send).dispatch()
        assert sorted(sent) == sorted(f"k{n}" for n in range(40))
        assert all(row["sent"] for row in crm.outbox())
    finally:
        crm.close()


def test_a_store_url_that_is_not_postgresql_is_refused() -> None:
    from wfdsl.stores.pgdb import Database

    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        Database("sqlite:///x.db")


def test_run_sends_each_webhook_once_after_the_commit(pg_url: str, tmp_path: Path) -> None:
    """A webhook is an outbox row until `wfdsl run`'s dispatcher sends it: one request per
    row, with the idempotency key, to a real HTTP server on 127.0.0.1."""
    import http.server

    received: list[tuple[str, str, str | None]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the handler's API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            received.append((self.path, body, self.headers.get("Idempotency-Key")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        wf = tmp_path / "hook.wf"
        wf.write_text(
            'workflow "Hook" {\n  object contact\n  enroll when contact.lifecyclestage = "lead"\n  steps {\n'
            f'    webhook post "http://127.0.0.1:{port}/mql" body "{{{{ contact.email }}}}"\n'
            "  }\n}\n",
            encoding="utf-8",
        )
        events = tmp_path / "events.jsonl"
        events.write_text(
            "".join(
                json.dumps(
                    {
                        "at": "2026-11-23T10:00:00Z",
                        "type": "record.created",
                        "object": "contact",
                        "id": f"c{n}",
                        "properties": {"email": f"c{n}@example.com", "lifecyclestage": "lead"},
                    }
                )
                + "\n"
                for n in range(5)
            ),
            encoding="utf-8",
        )
        args = ["run", str(wf), "--store", pg_url, "--crm", pg_url, "--events", str(events)]
        ran = wfdsl(*args, "--clock", "virtual", "--until-idle", "--status-every", "0", cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        again = wfdsl(*args, "--clock", "virtual", "--until-idle", "--status-every", "0", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
    finally:
        server.shutdown()
    assert sorted(body for _, body, _ in received) == [f"c{n}@example.com" for n in range(5)]
    assert {path for path, _, _ in received} == {"/mql"}
    assert len({key for _, _, key in received}) == 5 and all(key for _, _, key in received)
    crm = PostgresCRM(pg_url)
    try:
        assert all(row["sent"] for row in crm.outbox())
    finally:
        crm.close()


def test_one_worker_reads_an_events_file_and_the_others_work_its_inbox(pg_url: str, tmp_path: Path) -> None:
    """Two workers given the same --events file: one reads it (a session lock on the
    file), the other says so and works the inbox; every event is applied once."""
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "type": "record.created",
                    "object": "contact",
                    "id": f"c{n}",
                    "properties": {"email": f"c{n}@example.com", "lifecyclestage": "lead"},
                }
            )
            + "\n"
            for n in range(30)
        ),
        encoding="utf-8",
    )
    args = [sys.executable, "-m", "wfdsl", "run", str(RUN / "welcome.wf"), "--store", pg_url, "--crm", pg_url]
    args += ["--events", str(events), "--status-every", "0"]
    first = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    second = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def collect(process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        lines.extend(process.stderr)

    readers = [threading.Thread(target=collect, args=(p,), daemon=True) for p in (first, second)]
    for reader in readers:
        reader.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            store = PostgresStore(pg_url)
            try:
                done = store.stats("Welcome")["enrolled"] >= 30 and store.pending_events() == 0
            finally:
                store.close()
            # both are running (the one that does not read has said so) before they are stopped
            if done and any("another worker reads" in line for line in lines):
                break
            time.sleep(0.3)
    finally:
        first.terminate()
        second.terminate()
        first.wait(60)
        second.wait(60)
        for reader in readers:
            reader.join(10)
    errors = "".join(lines)
    assert (first.returncode, second.returncode) == (0, 0), errors
    assert errors.count("another worker reads") == 1, errors
    store = PostgresStore(pg_url)
    try:
        assert store.stats("Welcome")["enrolled"] == 30
        assert store.count_enrollments() == 30
        assert store.db.one("SELECT count(*) FROM inbox") == 30  # each line entered once
    finally:
        store.close()


def test_an_event_postgresql_cannot_hold_is_refused_cleanly(pg_url: str, tmp_path: Path) -> None:
    text = '{"at": "2026-11-23T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1", '
    text += '"data": {"form": "a\\u0000b"}}\n'
    result = wfdsl("ingest", "--store", pg_url, "-", cwd=tmp_path, input=text)
    assert result.returncode == 2, result.stderr
    assert "NUL character" in result.stderr and "nothing ingested" in result.stderr
    assert "Traceback" not in result.stderr
