"""`python -m benchmarks.scaleout URL`: the PostgreSQL store with 1, 2 and 4 workers, side
by side with the SQLite store in the same run.

URL is a PostgreSQL server the benchmark may create and drop databases on
(`postgresql://postgres@127.0.0.1:5432/postgres`). Measured:

1. timers fired per second: N enrollments wait in `delay 1 day` with their
   timers due; K worker processes (`wfdsl run`'s service loop, real clock,
   `--batch`) fire them all; each firing is three steps (the timer, a `set`
   action, completion). SQLite: one process (it allows no more).
2. claim latency with LISTEN/NOTIFY: idle workers; timers set to fall due
   every few milliseconds; latency = when a worker claimed the timer minus
   when it was due (p50, p99).
3. ingest: events per second into the inbox (`wfdsl ingest`'s library call,
   one transaction of 10,000 events).

Every worker is a separate process that imports and connects first, then
waits for a start signal, so start-up is not measured. With `--repeat N` each
measurement is made N times (SQLite and PostgreSQL interleaved, from the same
seeds) and the median is shown; the load average before and after is printed
with the table, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

WORKFLOW = """workflow "Drip" {
  object contact
  enroll manually
  steps {
    delay 1 day
    set contact.hs_lead_status = "OPEN"
  }
}
"""
UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- workers (child processes)


def worker_main(argv: list[str]) -> None:
    """A worker: `worker URL-OR-PATH WF BATCH MODE LOG`; prints `ready`, waits for a line on
    stdin, runs, writes what it claimed (key, due, claimed-at) to LOG as JSON."""
    target, wf, batch, mode, log = argv
    from wfdsl.compile.compiler import load_plans
    from wfdsl.host.registry import open_adapter, open_store
    from wfdsl.host.service import Options, Service
    from wfdsl.stores.postgres import PostgresStore

    claims: list[tuple[str, float, float]] = []
    store: Any
    if target.startswith("postgresql://"):

        class Timed(PostgresStore):
            def claim_timers(self, now: dt.datetime, limit: int) -> Any:
                got = super().claim_timers(now, limit)
                stamp = time.time()
                claims.extend((t.key, t.due.timestamp(), stamp) for t in got)
                return got

        store = Timed(target)
        crm = open_adapter(target)
    else:
        store = open_store(f"sqlite:///{target}.state.db?synchronous=normal")
        crm = open_adapter(f"sqlite:///{target}.crm.db?synchronous=normal")
    options = Options(until_idle=(mode == "drain"), batch=int(batch), status_every=0)
    service = Service(load_plans([Path(wf)]), crm, store, options=options)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    if mode == "drain":
        service.run(None)
    else:
        import signal
        import threading

        signal.signal(signal.SIGTERM, lambda *_: service.stop())
        threading.Thread(target=lambda: (sys.stdin.readline(), service.stop()), daemon=True).start()
        service.run(None)
    Path(log).write_text(
        json.dumps({"started": started, "ended": time.time(), "fired": service.counts.fired, "claims": claims})
    )


def _spawn(target: str, wf: Path, batch: int, mode: str, log: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.scaleout", "worker", target, str(wf), str(batch), mode, str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"worker did not start: {line!r}")
    return process


# ---------------------------------------------------------------- setup


def _seed(store: Any, crm: Any, count: int) -> None:
    """`count` contacts enrolled in Drip, each waiting in its delay (due 2026-01-06)."""
    from wfdsl.compile.compiler import load_plans
    from wfdsl.runtime.engine import Engine
    from wfdsl.runtime.protocols import VirtualClock

    with tempfile.TemporaryDirectory() as tmp:
        wf = Path(tmp) / "drip.wf"
        wf.write_text(WORKFLOW, encoding="utf-8")
        plans = load_plans([wf])
    engine = Engine(plans, crm, store, VirtualClock(START))
    with store.transaction():
        engine.activate("Drip")
        for n in range(count):
            crm.add_record("contact", f"c{n}", {"email": f"c{n}@example.com"}, at=START)
            engine.enroll("Drip", ("contact", f"c{n}"), at=START)


def _admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _database(admin_url: str, template: str | None = None) -> str:
    name = f"wfdsl_bench_{uuid.uuid4().hex[:8]}"
    with _admin(admin_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return admin_url.rpartition("/")[0] + "/" + name


def _drop(admin_url: str, url: str) -> None:
    with _admin(admin_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


# ---------------------------------------------------------------- measurements


def timers_per_second(target: str, wf: Path, workers: int, batch: int, count: int, tmp: Path) -> float:
    logs = [tmp / f"log-{uuid.uuid4().hex[:6]}.json" for _ in range(workers)]
    processes = [_spawn(target, wf, batch, "drain", log) for log in logs]
    begin = time.time()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        process.wait(timeout=3600)
    results = [json.loads(log.read_text()) for log in logs]
    fired = sum(r["fired"] for r in results)
    if fired != count:
        raise RuntimeError(f"fired {fired} timers, expected {count}")
    return count / (max(r["ended"] for r in results) - begin)


def claim_latency(target: str, wf: Path, workers: int, timers: int, tmp: Path) -> tuple[float, float]:
    """Idle workers; `timers` timers falling due 20 ms apart from 2 s ahead; due→claimed."""
    import psycopg

    from wfdsl.runtime.protocols import Timer
    from wfdsl.stores.postgres import PostgresStore

    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("DELETE FROM timers")  # only the timers set below are due
    logs = [tmp / f"lat-{uuid.uuid4().hex[:6]}.json" for _ in range(workers)]
    processes = [_spawn(target, wf, 64, "serve", log) for log in logs]
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    store = PostgresStore(target)
    enrollments = [e.id for e in store.enrollments(workflow="Drip", status="active")][:timers]
    time.sleep(1.0)
    first = dt.datetime.now(UTC) + dt.timedelta(seconds=2)
    with store.transaction():
        for n, eid in enumerate(enrollments):
            due = first + dt.timedelta(milliseconds=20 * n)
            store.set_timer(Timer(key=eid, due=due, seq=10_000_000 + n, kind="resume", workflow="Drip", enrollment=eid))
        store.db.execute("SELECT pg_notify('wfdsl_work', '')")
    time.sleep(2.0 + 0.02 * timers)
    deadline = time.monotonic() + 120
    while store.count_timers() and time.monotonic() < deadline:  # until every one fired
        time.sleep(0.2)
    store.close()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("stop\n")
        process.stdin.flush()
    for process in processes:
        process.wait(timeout=120)
    claims = [c for log in logs for c in json.loads(log.read_text())["claims"]]
    latencies = sorted(max(0.0, claimed - due) * 1000 for _, due, claimed in claims)
    if len(latencies) < timers:
        raise RuntimeError(f"only {len(latencies)} of {timers} timers were claimed")
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


def ingest_rate(store: Any, count: int) -> float:
    from wfdsl.host.ingest import ingest_events

    events = [
        {
            "at": "2026-01-05T09:00:00Z",
            "type": "form.submitted",
            "object": "contact",
            "id": f"c{n}",
            "event_id": f"i{n}",
        }
        for n in range(count)
    ]
    began = time.perf_counter()
    ingest_events(store, events)
    return count / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "worker":
        worker_main(args[1:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaleout")
    parser.add_argument("url", help="a PostgreSQL admin URL (databases are created and dropped)")
    parser.add_argument("--timers", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency-timers", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; the median is shown")
    options = parser.parse_args(args)
    load_before = os.getloadavg()
    from wfdsl.adapters.postgres import PostgresCRM
    from wfdsl.adapters.sqlite import SQLiteCRM
    from wfdsl.stores.postgres import PostgresStore
    from wfdsl.stores.sqlite import SQLiteStore

    rows: list[tuple[str, str, str]] = []

    class Rows(list[tuple[str, str, str]]):
        def append(self, row: tuple[str, str, str]) -> None:
            print("  measured:", " · ".join(row), file=sys.stderr, flush=True)
            super().append(row)

    rows = Rows()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wf = tmp / "drip.wf"
        wf.write_text(WORKFLOW, encoding="utf-8")
        # seeds: a template database for PostgreSQL, files for SQLite
        template = _database(options.url)
        store, crm = PostgresStore(template), PostgresCRM(template)
        _seed(store, crm, options.timers)
        crm.close()
        store.close()
        from wfdsl.stores.pgdb import _OPEN

        for database in list(_OPEN.values()):
            database.close()
        _OPEN.clear()
        base = str(tmp / "sqlite")
        sqlite, sqlite_crm = (
            SQLiteStore(base + ".state.db", synchronous="normal"),
            SQLiteCRM(base + ".crm.db", synchronous="normal"),
        )
        _seed(sqlite, sqlite_crm, options.timers)
        sqlite.close()
        sqlite_crm.close()
        worker_counts = [int(w) for w in options.workers.split(",")]
        rates: dict[int, list[float]] = {0: [], **{w: [] for w in worker_counts}}  # 0: SQLite
        for run in range(options.repeat):
            copy = str(tmp / f"sqlite-{run}")
            for suffix in (".state.db", ".crm.db"):
                shutil.copy(base + suffix, copy + suffix)
            rates[0].append(timers_per_second(copy, wf, 1, options.batch, options.timers, tmp))
            for workers in worker_counts:
                url = _database(options.url, template.rpartition("/")[2])
                try:
                    rates[workers].append(timers_per_second(url, wf, workers, options.batch, options.timers, tmp))
                finally:
                    _drop(options.url, url)
        for workers, measured in rates.items():
            rate = statistics.median(measured)
            what = "SQLite, 1 process" if workers == 0 else f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}"
            rows.append((f"timers fired/s, {what}", f"{rate:,.0f} timers/s", f"{3 * rate:,.0f} steps/s"))
        for workers in (1, 2):
            p50s, p99s = [], []
            for _ in range(options.repeat):
                url = _database(options.url, template.rpartition("/")[2])
                try:
                    p50, p99 = claim_latency(url, wf, workers, options.latency_timers, tmp)
                finally:
                    _drop(options.url, url)
                p50s.append(p50)
                p99s.append(p99)
            p50, p99 = statistics.median(p50s), statistics.median(p99s)
            rows.append(
                (
                    f"claim latency due→claimed, NOTIFY, {workers} idle worker(s)",
                    f"p50 {p50:.1f} ms",
                    f"p99 {p99:.1f} ms",
                )
            )
        _drop(options.url, template)
        url = _database(options.url)
        try:
            pg = PostgresStore(url)
            rate = ingest_rate(pg, 10_000)
            pg.close()
        finally:
            for database in list(_OPEN.values()):
                database.close()
            _OPEN.clear()
            _drop(options.url, url)
        rows.append(("ingest, PostgreSQL inbox, 10,000 events in one transaction", f"{rate:,.0f} events/s", ""))
        local = SQLiteStore(tmp / "ingest.db")
        rate = ingest_rate(local, 10_000)
        local.close()
        rows.append(("ingest, SQLite inbox, 10,000 events in one transaction", f"{rate:,.0f} events/s", ""))
    stamp = dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load_after = os.getloadavg()
    print(
        f"Run {stamp}: {options.timers:,} timers, --batch {options.batch}, nproc {os.cpu_count()}, "
        f"median of {options.repeat}, load average {load_before[0]:.1f} before, {load_after[0]:.1f} after.\n"
    )
    print("| measurement | result | |")
    print("|---|---:|---:|")
    for name, result, extra in rows:
        print(f"| {name} | {result} | {extra} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
