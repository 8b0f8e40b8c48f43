"""Row 5's SQLite store work alone: the calls a group commit of timer firings makes
of the store (`delay 1 day` then `send email`), replayed without the engine, so the
store's share of a firing is measured apart from the engine's.

    python -m benchmarks.sqlite_store [--enrollments 20000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time

from benchmarks.engine import T0, waiting
from wfdsl.runtime.context import evolve
from wfdsl.stores.sqlite import SQLiteStore


def replay(store: SQLiteStore, batch: int, now: dt.datetime) -> int:
    """Fire every due timer as the engine's `send email` + completion would, `batch` to a commit."""
    fired = 0
    while True:
        with store.transaction():
            for _ in range(batch):
                timer = store.pop_due(now)
                if timer is None:
                    return fired
                enr = store.enrollment(timer.enrollment or "")
                assert enr is not None
                entry = (now, enr.workflow, enr.object, enr.record)
                store.add_history(*entry, "action", "steps.1", {"action": "send_email", "email": "Day two"}, enr.id)
                store.add_stat(enr.workflow, "emailed", 1)
                enr = evolve(enr, emailed=True)
                store.enrollment(enr.id)
                store.cancel_timer(enr.id)
                store.put_enrollment(evolve(enr, status="completed", ended_at=now, step=None, waiting_for=None))
                store.add_stat(enr.workflow, "active", -1)
                store.add_stat(enr.workflow, "completed", 1)
                store.add_history(*entry, "completed", None, {}, enr.id)
                fired += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enrollments", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="wfdsl-store-")
    try:
        template = os.path.join(tmp, "template.db")
        store = SQLiteStore(template, synchronous="normal")
        waiting(args.enrollments, store)
        store.close()
        for rep in range(args.reps):
            path = os.path.join(tmp, f"r{rep}.db")
            shutil.copyfile(template, path)
            store = SQLiteStore(path, synchronous="normal")
            cpu = time.process_time()
            fired = replay(store, args.batch, T0 + dt.timedelta(days=1, seconds=1))
            cpu = time.process_time() - cpu
            store.close()
            assert fired == args.enrollments, fired
            print(f"{fired:,} firings, batch {args.batch}: {cpu / fired * 1e6:.1f} us of CPU per firing in the store")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
