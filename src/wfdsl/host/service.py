"""Service loop: plans + CRM adapter + state store + JSON Lines events in; a running engine.

What `wfdsl run` does, as a library. `Service.run(stream)` reads events
(events-file lines) from a file object, feeds them to the engine, fires due
timers, and commits in *units*: everything done for a batch of events (or a
batch of timers) is one store transaction, together with the input position
and the clock. A unit is small (at most `batch` events or timers), so a
stop request (`Service.stop()`, wired to SIGTERM/SIGINT by the CLI) is
honoured within one batch: the unit in progress finishes, commits, and
`run` returns.

Crash safety (docs/operating.md): when the CRM adapter supports units
(`SQLiteCRM`) and the store keeps journals (`SQLiteStore`), a unit is

    1. CRM unit opened; engine work (CRM writes journaled, store writes in
       the store transaction);
    2. the CRM redo journal, the input position and the clock written to the
       store; store COMMIT  ← the unit is now durable;
    3. CRM COMMIT, recording the unit token.

A crash before 2 loses the unit in both files (its input is read again); a
crash between 2 and 3 is repaired on the next start by replaying the
journal into the CRM. Other adapters perform actions at once; the engine's
idempotency keys (enrollment + step + attempt) keep a re-run unit from
performing an action twice with an adapter that honours keys.

Clocks: `real` (the system clock; events' `at` may be omitted) or `virtual`
(the clock follows the events' `at`; timers fire as event time passes; at the
end of the input with `until_idle`, the clock runs on until no timer is left
or `until`, default 400 days past the last event, as `wfdsl simulate` does) —
a testing and replay mode.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from wfdsl.host.positions import EOF, Line, Meta, Reader, file_identity, rotation
from wfdsl.host.units import describe, is_poison
from wfdsl.host.work import Counts, EventCheck, Options, Worker, load_records_into
from wfdsl.plan.model import ProjectPlan
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.inputs import Seed, load_records_data
from wfdsl.runtime.protocols import (
    Clock,
    CRMAdapter,
    ServiceStore,
    StateStore,
    SystemClock,
    TransientAdapterError,
    VirtualClock,
)
from wfdsl.stores.protocols import CallOutCRM, CountingStore

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
CLOCKS = ("real", "virtual")
#: The `wfdsl run` defaults.
DEFAULT_OPTIONS = Options()


class EventsReadError(Exception):
    """The events stream could not be read (an I/O error of the file or pipe, not of
    an adapter or store, whose `OSError`s are runtime failures)."""


class Service:
    """One engine fed from an event stream, committing in units (see the module docs).
    The units themselves are a `Worker`'s (`host/work.py`); this is the loop."""

    def __init__(
        self,
        plans: ProjectPlan,
        crm: CRMAdapter,
        store: StateStore,
        *,
        options: Options = DEFAULT_OPTIONS,
        records: Seed | Mapping[str, Any] | None = None,
        log: Callable[[str], None] = lambda text: None,
        clock: Clock | None = None,
        check: EventCheck | None = None,
    ) -> None:
        if options.clock not in CLOCKS:
            raise ValueError(f"unknown clock {options.clock!r} (known: real, virtual)")
        self.plans = plans
        self.crm = crm
        self.store = store
        self.options = options
        # A records file read by `runtime.inputs` (`load_records`), or its decoded JSON.
        if records is not None and not isinstance(records, Seed):
            records = load_records_data(records, "records")
        self.records = records
        self.log = log
        self.virtual = options.clock == "virtual"
        if clock is None:
            # A virtual clock never goes back, so it starts at the epoch and is set to the
            # saved clock or the first event's time (which may well be in the past).
            clock = VirtualClock(EPOCH) if self.virtual else SystemClock()
        self.clock = clock
        self._stop = threading.Event()
        # The capabilities of the store and the CRM, looked at once (docs/embedding.md).
        self._service = store if isinstance(store, ServiceStore) else None
        self._call_out = crm if isinstance(crm, CallOutCRM) else None
        self._worker = Worker(
            plans, crm, store, options=options, records=records, log=log, clock=clock, stop=self._stop, check=check
        )
        self.meta: Meta = self._worker.meta

    @property
    def engine(self) -> Engine | None:
        """The running engine (None before the first unit started it)."""
        return self._worker.engine

    @property
    def counts(self) -> Counts:
        """What this process did so far (the status line's numbers)."""
        return self._worker.counts

    # ------------------------------------------------------------ control

    def stop(self) -> None:
        """Ask the loop to finish the unit in progress, commit and return (signal-safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def recover(self) -> int:
        """Replay CRM journals whose commit was lost in a crash; the number replayed."""
        return self._worker.units.recover()

    def refresh(self) -> Counts:
        """Counts from the store (totals over every workflow)."""
        store = self.store
        counts = self.counts
        names = list(self.engine.workflows) if self.engine else []
        counts.enrolled = sum(store.stats(name).get("enrolled", 0) for name in names)
        if isinstance(store, CountingStore):
            counts.waiting = store.count_enrollments(status="active")
            counts.failed = store.count_history("failed")
        else:
            counts.waiting = len(list(store.enrollments(status="active")))
            counts.failed = sum(1 for e in store.history() if e.kind == "failed")
        counts.next_timer = store.next_due()
        return counts

    # ------------------------------------------------------------ the loop

    def run(self, stream: IO[bytes] | None, source: str = "-", *, path: str | None = None) -> Counts:
        """Run until the input ends (`until_idle`) or `stop()`; returns the final counts.

        `stream` is a binary file object (None: no input, timers only). A
        seekable stream resumes after the last line a previous run committed
        when `source` names the same file (its resolved path is the key) and
        the file is the one that position was read from: a rotated file
        (another file at the path, a shorter one, another first line) is read
        from its start, and the log says so. `path` is the name to watch for
        rotation while following (default: `source`).
        """
        if self._service is not None:
            self._service.lock()
        if self._worker.shared is not None and stream is not None and source != "-":
            if not self._worker.shared.hold(f"events:{os.path.realpath(source)}"):
                self.log(f"wfdsl run: another worker reads {source}; this one takes events from the inbox")
                stream = None
        self.recover()
        start_line = 0
        known: str | None = None
        path = path or source
        follows_file = stream is not None and source != "-" and stream.seekable()
        if stream is not None and follows_file:
            saved = self._worker.positions.saved(source)
            if saved is not None:
                why = rotation(saved, stream)
                if why is None:
                    stream.seek(saved.offset)
                    start_line = saved.line
                    known = saved.fingerprint
                else:
                    self.log(f"wfdsl run: {path}: {why}; reading it from the start")
        saved_last = self.meta.get("last_event")
        self._worker.last_event = dt.datetime.fromisoformat(saved_last) if saved_last else None
        if not self.virtual or self.meta.get("plans"):
            self._worker.start(self.clock.now())
        follow = self.options.follow and not self.options.until_idle and stream is not None and stream.seekable()
        reader = (
            Reader(
                stream,
                start_line,
                follow,
                self.options.poll,
                path=path if follows_file and file_identity(stream) is not None else None,
                fingerprint=known,
                log=self.log,
            )
            if stream
            else None
        )
        if reader is not None:
            reader.start()
        ended = reader is None
        last_status = time.monotonic()
        next_housekeeping = time.monotonic()
        try:
            while not self.stopping:
                items, ended = self._take(reader, ended)
                if items:
                    self._waiting_out(functools.partial(self._worker.process, items, source))
                self._waiting_out(self._worker.drain)
                if not items and self.engine is not None and not self.virtual:
                    self._waiting_out(lambda: self._worker.retrying(lambda: self._worker.fire_due(self.clock.now())))
                if self._call_out is not None:  # webhooks go out after the commit that made them
                    self._call_out.dispatch_outbox()
                if self._worker.shared is not None and time.monotonic() >= next_housekeeping:
                    # Retention needs the real time: a virtual (replay) run does not prune.
                    self._worker.shared.housekeeping(self.clock.now(), prune=not self.virtual)
                    next_housekeeping = time.monotonic() + self.options.housekeeping_every
                if reader is not None and reader.error is not None:
                    if isinstance(reader.error, OSError):
                        raise EventsReadError(f"cannot read the events ({source}): {reader.error}") from reader.error
                    raise reader.error
                now = time.monotonic()
                if self.options.status_every and now - last_status >= self.options.status_every:
                    self.log(f"wfdsl run: {self.refresh().line()}")
                    last_status = now
                if ended and self.options.until_idle:
                    self._finish()
                    break
        finally:
            if reader is not None:
                reader.close()
        return self.refresh()

    def _waiting_out(self, work: Callable[[], object]) -> None:
        """Run a unit; when the CRM fails it for a passing reason (a rate limit, a 5xx,
        no connection) the unit has been rolled back: a service (real clock, not
        `until_idle`) waits (the `Retry-After` asked for, else 1, 2, 4 … 60 s) and runs
        it again; a one-shot run lets the error end it. Actions it already performed
        are not repeated: their idempotency keys are the same the second time."""
        delay = 1.0
        while True:
            try:
                work()
                return
            except TransientAdapterError as error:
                if self.virtual or self.options.until_idle:
                    raise
                wait = max(delay, error.retry_after or 0.0)
                self.log(f"wfdsl run: the CRM failed for now ({error}); the batch runs again in {wait:g} s")
                self.counts.retried += 1
                delay = min(60.0, delay * 2)
                if self.engine is not None:
                    self.engine.discard_pending()  # half a chain of the rolled-back unit
                if self._stop.wait(wait):
                    return

    def _take(self, reader: Reader | None, ended: bool) -> tuple[list[Line], bool]:
        """Up to `batch` lines: waits for the first (until a timer is due), then takes
        what is already there."""
        if reader is None or ended:
            if not self.options.until_idle:
                if self._worker.shared is not None:
                    self._worker.shared.wait_for_work(self._wait_seconds())
                else:
                    self._stop.wait(self._wait_seconds())
            return [], True
        items: list[Line] = []
        try:
            first = reader.lines.get(timeout=self._wait_seconds())
        except queue.Empty:
            return [], False
        if first is EOF:
            return [], True
        items.append(first)
        while len(items) < self.options.batch:
            try:
                nxt = reader.lines.get_nowait()
            except queue.Empty:
                break
            if nxt is EOF:
                return items, True
            items.append(nxt)
        return items, False

    def _wait_seconds(self) -> float:
        wait = 0.5
        if self.engine is not None and not self.virtual:
            due = self.engine.next_due()
            if due is not None:
                wait = min(wait, max(0.0, (due - self.clock.now()).total_seconds()))
        return wait

    def _finish(self) -> None:
        """The end of the input with `until_idle`: apply the inbox, fire what is due, then stop."""
        worker = self._worker
        worker.drain()
        if worker.driver is None:
            if not self.virtual:
                return
            worker.start(dt.datetime.now(UTC))  # no event ever came: start now
        assert worker.driver is not None
        if self.virtual:
            # The driver's run out: to `until`, else HORIZON past the last event.
            end = self.options.until or worker.driver.end()
            worker.retrying(lambda: worker.fire_due(end))
        else:
            worker.retrying(lambda: worker.fire_due(self.clock.now()))
        if self._call_out is not None:
            while self._call_out.dispatch_outbox():
                pass


# ---------------------------------------------------------------- status and prune

# `wfdsl status` and `wfdsl prune` live in `wfdsl.host.operate`, which loads without the engine.
from wfdsl.host.operate import prune_store, status_report  # noqa: E402

__all__ = [
    "CLOCKS",
    "Counts",
    "EventsReadError",
    "Options",
    "Service",
    "describe",
    "is_poison",
    "load_records_into",
    "prune_store",
    "status_report",
]
