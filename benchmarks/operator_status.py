"""Operator commands at scale: `wfdsl status` on a store with many waiting enrollments.

`python -m benchmarks.operator_status [--enrollments N] [--runs R]` builds a SQLite
store with N waiting enrollments (each with its timer and two history
entries, as a delay leaves them), then runs `wfdsl status` (text and JSON)
R times in fresh processes and prints the median wall time and the peak
memory (max RSS) of each, as a markdown table. Run it with another wfdsl on
`PYTHONPATH` to compare versions side by side; the store is built by the
wfdsl being measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

UTC = dt.timezone.utc


def build(path: Path, enrollments: int) -> None:
    """A store with `enrollments` waiting enrollments in 10 workflows, written in bulk."""
    from wfdsl.runtime.protocols import Enrollment
    from wfdsl.stores.codec import dumps, micros
    from wfdsl.stores.sqlite import SQLiteStore

    store = SQLiteStore(path, synchronous="off")
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    due = micros(start + dt.timedelta(days=30))
    conn = store._conn
    chunk = 50_000
    with store.transaction():
        for workflow in range(10):
            store.set_workflow_state(f"Workflow {workflow}", {"active": True, "version": "v1"})
            store.add_stat(f"Workflow {workflow}", "enrolled", enrollments // 10)
            store.add_stat(f"Workflow {workflow}", "active", enrollments // 10)
    for first in range(0, enrollments, chunk):
        rows = []
        timers = []
        history = []
        for n in range(first, min(first + chunk, enrollments)):
            workflow = f"Workflow {n % 10}"
            enrollment = Enrollment(
                id=f"e{n + 1}",
                workflow=workflow,
                object="contact",
                record=f"c{n}",
                status="active",
                enrolled_at=start,
                seq=n + 1,
                version="v1",
                step="steps.1",
                phase="after",
            )
            data = dumps(attrs.asdict(enrollment, recurse=False))
            rows.append((enrollment.id, workflow, "contact", f"c{n}", "active", None, data))
            timers.append((enrollment.id, due + n, n + 1, "resume", workflow, enrollment.id))
            for kind, detail in (("enrolled", "{}"), ("delayed", '{"until":"2026-01-31T00:00:00+00:00"}')):
                history.append((n, micros(start), workflow, "contact", f"c{n}", kind, None, detail, enrollment.id))
        with store.transaction():
            conn.executemany(
                "INSERT INTO enrollments (id, workflow, object, record, status, ended, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.executemany(
                "INSERT INTO timers (key, due, seq, kind, workflow, enrollment) VALUES (?, ?, ?, ?, ?, ?)", timers
            )
            conn.executemany(
                "INSERT INTO history (seq, at, workflow, object, id, kind, step, detail, enrollment) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                history,
            )
    store.close()


_PEAK = (
    "import resource, subprocess, sys; "
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
    "sys.stderr.write(done.stderr); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
    "sys.exit(done.returncode)"
)


def measure(path: Path, fmt: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `wfdsl status` process (measured by a
    parent of its own, so that each run's peak is its own)."""
    command = [sys.executable, "-m", "wfdsl", "status", "--store", f"sqlite:///{path}", "--format", fmt]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return seconds, int(done.stdout.strip()) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / "state.db"
        started = time.perf_counter()
        build(path, args.enrollments)
        print(
            f"built {args.enrollments:,} waiting enrollments in {time.perf_counter() - started:.0f} s", file=sys.stderr
        )
        print("| command | waiting enrollments | median time | peak memory (max RSS) |")
        print("|---|---:|---:|---:|")
        for fmt in ("text", "json"):
            times = []
            peak = 0.0
            for _ in range(args.runs):
                seconds, rss = measure(path, fmt)
                times.append(seconds)
                peak = max(peak, rss)
            print(
                f"| `wfdsl status --format {fmt}` | {args.enrollments:,} | "
                f"{statistics.median(times):.2f} s | {peak:.0f} MB |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
