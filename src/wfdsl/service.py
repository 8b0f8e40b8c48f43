"""Service loop: plans + CRM adapter + state store + JSON Lines events in; a running engine.

What `wfdsl run` does, as a library. `Service.run(stream)` reads events
(SPEC §8 lines) from a file object, feeds them to the engine, fires due
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
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

import attrs

from wfdsl.plan import PlanError, ProjectPlan, plan_to_json, plans_from_json
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import (
    Clock,
    CRMAdapter,
    Event,
    StateStore,
    SystemClock,
    VirtualClock,
    utc,
)
from wfdsl.simulate import (
    HORIZON,
    SimulationInputError,
    load_records_data,
    loads_json,
    parse_event,
)
from wfdsl.stores.protocols import (
    CountingStore,
    EventInbox,
    ExclusiveStore,
    InboxEvent,
    JournalStore,
    MetaStore,
    RecordLoader,
    SeedableCRM,
    UnitCRM,
)

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
CLOCKS = ("real", "virtual")


@attrs.frozen(kw_only=True)
class Options:
    """How the loop runs (the `wfdsl run` options)."""

    clock: str = "real"
    until_idle: bool = False  # stop at the end of the input once no timer is due
    until: dt.datetime | None = None  # virtual clock: run timers up to here at the end
    batch: int = 200  # events or timers per unit (one commit)
    status_every: float = 10.0  # seconds between status lines; 0: none
    poll: float = 0.2  # seconds between looks at a file that has no new line yet
    follow: bool = True  # keep reading a file that grows (like `tail -f`)


@attrs.define
class Counts:
    """What the status line shows."""

    enrolled: int = 0
    waiting: int = 0
    fired: int = 0
    failed: int = 0
    events: int = 0
    rejected: int = 0
    next_timer: dt.datetime | None = None

    def line(self) -> str:
        """`enrolled 3 · waiting 2 · fired 5 · failed 0 · events 9 · rejected 0 · next timer …`."""
        nxt = "none" if self.next_timer is None else self.next_timer.strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"enrolled {self.enrolled} · waiting {self.waiting} · fired {self.fired} · "
            f"failed {self.failed} · events {self.events} · rejected {self.rejected} · "
            f"next timer {nxt}"
        )


class _Meta:
    """Service metadata kept in the store when it can (a `MetaStore`), else here."""

    def __init__(self, store: StateStore) -> None:
        self._store = store if isinstance(store, MetaStore) else None
        self._local: dict[str, Any] = {}

    def get(self, name: str, default: Any = None) -> Any:
        if self._store is not None:
            return self._store.get_meta(name, default)
        return self._local.get(name, default)

    def set(self, name: str, value: Any) -> None:
        if self._store is not None:
            self._store.set_meta(name, value)
        else:
            self._local[name] = value


class EventsReadError(Exception):
    """The events stream could not be read (an I/O error of the file or pipe, not of
    an adapter or store, whose `OSError`s are runtime failures)."""


@attrs.frozen
class _Line:
    number: int
    end: int  # byte offset just after the line
    text: bytes


_EOF = object()


class _Reader(threading.Thread):
    """Reads lines on a thread so the loop can wait for input and timers at once."""

    def __init__(self, stream: IO[bytes], start_line: int, follow: bool, poll: float) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.number = start_line
        self.follow = follow
        self.poll = poll
        self.lines: queue.Queue[Any] = queue.Queue(maxsize=10_000)
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        partial = b""
        try:
            while not self.halt.is_set():
                chunk = self.stream.readline()
                if not chunk:
                    if not self.follow:
                        break
                    time.sleep(self.poll)
                    continue
                partial += chunk
                if not partial.endswith(b"\n") and self.follow:
                    continue  # a line still being written
                self.number += 1
                end = self.stream.tell() if self.stream.seekable() else 0
                self.lines.put(_Line(self.number, end, partial))
                partial = b""
            if partial:
                self.number += 1
                end = self.stream.tell() if self.stream.seekable() else 0
                self.lines.put(_Line(self.number, end, partial))
        except BaseException as error:  # reported by the loop
            self.error = error
        self.lines.put(_EOF)


def load_records_into(crm: CRMAdapter, data: Any, at: dt.datetime) -> None:
    """Load a records file (SPEC §8, decoded JSON) into a CRM: `import_records` when the
    adapter has it (SQLiteCRM imports a file once), else `add_record`/`associate`/`add_to_list`
    (MemoryCRM). ValueError for an adapter that can do neither."""
    if isinstance(crm, RecordLoader):
        crm.import_records(data, at=at)
        return
    if not isinstance(crm, SeedableCRM):
        raise ValueError(f"the {type(crm).__name__} adapter cannot load a records file")
    seed = load_records_data(data, "records")
    for record in seed.records:
        crm.add_record(record.object, record.id, record.properties, at=at)
    for left, right in seed.associations:
        crm.associate(left, right)
    for name, members in seed.lists.items():
        for member in members:
            crm.add_to_list(name, member)


class Service:
    """One engine fed from an event stream, committing in units (see the module docs)."""

    def __init__(
        self,
        plans: ProjectPlan,
        crm: CRMAdapter,
        store: StateStore,
        *,
        options: Options = Options(),
        records: Any = None,
        log: Callable[[str], None] = lambda text: None,
        clock: Clock | None = None,
    ) -> None:
        if options.clock not in CLOCKS:
            raise ValueError(f"unknown clock {options.clock!r} (known: real, virtual)")
        self.plans = plans
        self.crm = crm
        self.store = store
        self.options = options
        self.records = records
        self.log = log
        self.meta = _Meta(store)
        self._stop = threading.Event()
        # The capabilities of the store and the CRM, looked at once (docs/embedding.md).
        self._crm_units = crm if isinstance(crm, UnitCRM) else None
        self._journal = store if isinstance(store, JournalStore) and self._crm_units is not None else None
        self._inbox = store if isinstance(store, EventInbox) else None
        self.virtual = options.clock == "virtual"
        if clock is None:
            # A virtual clock never goes back, so it starts at the epoch and is set to the
            # saved clock or the first event's time (which may well be in the past).
            clock = VirtualClock(EPOCH) if self.virtual else SystemClock()
        self.clock = clock
        self.engine: Engine | None = None
        self.counts = Counts()
        self._last_event: dt.datetime | None = None
        self._unit_depth = 0

    # ------------------------------------------------------------ control

    def stop(self) -> None:
        """Ask the loop to finish the unit in progress, commit and return (signal-safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------ units

    @contextmanager
    def _unit(self) -> Iterator[None]:
        """One commit: store transaction (with the CRM journal), then the CRM unit.
        A unit opened inside another joins it."""
        if self._unit_depth:
            self._unit_depth += 1
            try:
                yield
            finally:
                self._unit_depth -= 1
            return
        self._unit_depth = 1
        try:
            yield from self._outer_unit()
        finally:
            self._unit_depth = 0

    def _outer_unit(self) -> Iterator[None]:
        units = self._crm_units
        if units is not None:
            units.begin_unit()
        token = 0
        try:
            with self.store.transaction():
                yield
                if self._journal is not None and units is not None:
                    applied = units.applied_unit()
                    token = max(int(self.meta.get("unit", 0)), applied) + 1
                    self._journal.put_journal(token, units.unit_journal())
                    self._journal.drop_journals(token - 1)
                    self.meta.set("unit", token)
                self.meta.set("clock", self.clock.now().isoformat())
                self.meta.set("fired", self.counts.fired)
        except BaseException:
            if units is not None:
                units.abort_unit()
            raise
        if units is not None:
            units.end_unit(token)

    def recover(self) -> int:
        """Replay CRM journals whose commit was lost in a crash; the number replayed."""
        if self._journal is None or self._crm_units is None:
            return 0
        units = self._crm_units
        replayed = 0
        for token, journal in self._journal.journals_after(units.applied_unit()):
            units.replay_unit(token, journal)
            replayed += 1
        return replayed

    # ------------------------------------------------------------ start

    def _stored_plans(self) -> ProjectPlan | None:
        text = self.meta.get("plans")
        if not text:
            return None
        try:
            return plans_from_json(text)
        except PlanError:
            return None

    def _start(self, start: dt.datetime) -> Engine:
        """The engine, with the records imported and the workflows activated (first start),
        or the stored plans migrated to the new ones (a restart with changed plans)."""
        if isinstance(self.clock, VirtualClock):
            saved = self.meta.get("clock")
            self.clock.set(dt.datetime.fromisoformat(saved) if saved else start)
        new_text = plan_to_json(self.plans)
        old = self._stored_plans()
        self.counts.fired = int(self.meta.get("fired", 0))
        with self._unit():
            if old is not None and plan_to_json(old) != new_text:
                engine = Engine(old, self.crm, self.store, self.clock)
                kept = {w.name for w in self.plans.workflows}
                for name in engine.workflows:
                    if name not in kept and engine.is_active(name):
                        engine.deactivate(name)  # removed from the sources: turned off
                engine.deploy(self.plans)
            else:
                engine = Engine(self.plans, self.crm, self.store, self.clock)
            if self.records is not None:
                # The CRM decides: SQLiteCRM imports a file once (it keeps the file's
                # digest), a memory CRM starts empty in every process and loads it again.
                load_records_into(self.crm, self.records, utc(self.clock.now()))
            for name in engine.workflows:
                if not self.store.workflow_state(name).get("active"):
                    engine.activate(name)
            self.meta.set("plans", new_text)
        self.engine = engine
        return engine

    # ------------------------------------------------------------ work

    def _fire_due(self, limit: dt.datetime) -> int:
        """Fire the timers due by `limit`, `batch` at a time per unit."""
        assert self.engine is not None
        engine = self.engine
        total = 0
        while not self.stopping:
            due = engine.next_due()
            if due is None or due > limit:
                break
            fired = 0
            with self._unit():
                while fired < self.options.batch and not self.stopping:
                    due = engine.next_due()
                    if due is None or due > limit:
                        break
                    if isinstance(self.clock, VirtualClock):
                        self.clock.set(due)
                    count = engine.run_due(due)
                    fired += count
                    self.counts.fired += count
            total += fired
        return total

    def _line(self, item: _Line, source: str) -> dict[str, Any] | None:
        """One line as a checked events-format object (None for a blank line); an event
        without `at` happens now (real clock). SimulationInputError names FILE:LINE."""
        try:
            text = item.text.decode("utf-8-sig" if item.number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise SimulationInputError(source, item.number, f"not UTF-8: {error}") from None
        if not text.strip():
            return None
        data = loads_json(text, source, item.number)
        if not self.virtual and isinstance(data, dict) and "at" not in data:
            data["at"] = self.clock.now().isoformat()
        parse_event(data, source, item.number)
        assert isinstance(data, dict)
        return data

    def _process(self, items: list[_Line], source: str) -> None:
        """A batch of lines as one unit: into the inbox with the input position (a store
        with an inbox), then applied; stops early (and commits) on a stop request."""
        position = None
        with self._unit():
            bodies: list[dict[str, Any]] = []
            for item in items:
                position = item
                try:
                    data = self._line(item, source)
                except SimulationInputError as error:
                    self.log(f"wfdsl: warning: {error} (line skipped)")
                    self.counts.rejected += 1
                    continue
                if data is not None:
                    bodies.append(data)
            if self._inbox is not None:
                self._inbox.append_events(bodies)
            if position is not None:
                self.meta.set("input", {"source": source, "line": position.number, "offset": position.end})
            if self._inbox is not None:
                self._consume(max(self.options.batch, len(bodies)))
            else:
                for data in bodies:
                    self._apply(parse_event(data, source, 0))
                    if self.stopping:
                        break
            self._save_last_event()

    def _apply(self, event: Event) -> None:
        """Fire what is due before the event, then ingest it."""
        if self.engine is None:
            self._start(event.at)
        assert self.engine is not None
        if isinstance(self.clock, VirtualClock):
            self.clock.set(event.at)
            self.counts.fired += self.engine.run_due(event.at)
        else:
            self.counts.fired += self.engine.run_due(self.clock.now())
        self.engine.ingest(event)
        self.counts.events += 1
        self._last_event = event.at

    def _save_last_event(self) -> None:
        self.meta.set("last_event", None if self._last_event is None else self._last_event.isoformat())

    def _inbox_event(self, row: InboxEvent) -> Event | None:
        """An inbox row as an event; a row that is not one is reported and skipped."""
        body = row.body
        try:
            if not isinstance(body, Mapping):
                raise SimulationInputError("inbox", row.id, "the row is not a JSON object")
            data = dict(body)
            if not self.virtual and "at" not in data:
                data["at"] = self.clock.now().isoformat()
            return parse_event(data, "inbox", row.id)
        except SimulationInputError as error:
            self.log(f"wfdsl: warning: {error} (inbox row skipped)")
            self.counts.rejected += 1
            return None

    def _consume(self, limit: int) -> int:
        """Apply up to `limit` pending inbox events in the open unit; the number taken."""
        assert self._inbox is not None
        rows = self._inbox.claim_events(limit)
        done: list[int] = []
        for row in rows:
            event = self._inbox_event(row)
            if event is not None:
                self._apply(event)
            done.append(row.id)
            if self.stopping:
                break
        if done:
            self._inbox.finish_events(done, self.clock.now())
        return len(done)

    def _drain(self) -> int:
        """Apply what waits in the inbox (from `wfdsl ingest`, `serve`, other programs),
        `batch` events per unit; the number taken."""
        if self._inbox is None:
            return 0
        total = 0
        while not self.stopping and self._inbox.pending_events():
            with self._unit():
                taken = self._consume(self.options.batch)
                self._save_last_event()
            if not taken:
                break
            total += taken
        return total

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

    def run(self, stream: IO[bytes] | None, source: str = "-") -> Counts:
        """Run until the input ends (`until_idle`) or `stop()`; returns the final counts.

        `stream` is a binary file object (None: no input, timers only). A
        seekable stream resumes after the last line a previous run committed
        when `source` names the same input.
        """
        if isinstance(self.store, ExclusiveStore):
            self.store.lock()
        self.recover()
        start_line = 0
        if stream is not None and source != "-" and stream.seekable():
            saved = self.meta.get("input")
            if saved and saved.get("source") == source:
                stream.seek(int(saved["offset"]))
                start_line = int(saved["line"])
        saved_last = self.meta.get("last_event")
        self._last_event = dt.datetime.fromisoformat(saved_last) if saved_last else None
        if not self.virtual or self.meta.get("plans"):
            self._start(self.clock.now())
        follow = self.options.follow and not self.options.until_idle and stream is not None and stream.seekable()
        reader = _Reader(stream, start_line, follow, self.options.poll) if stream else None
        if reader is not None:
            reader.start()
        ended = reader is None
        last_status = time.monotonic()
        try:
            while not self.stopping:
                items, ended = self._take(reader, ended)
                if items:
                    self._process(items, source)
                self._drain()
                if not items and self.engine is not None and not self.virtual:
                    self._fire_due(self.clock.now())
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
                reader.halt.set()
        return self.refresh()

    def _take(self, reader: _Reader | None, ended: bool) -> tuple[list[_Line], bool]:
        """Up to `batch` lines: waits for the first (until a timer is due), then takes
        what is already there."""
        if reader is None or ended:
            if not self.options.until_idle:
                self._stop.wait(self._wait_seconds())
            return [], True
        items: list[_Line] = []
        try:
            first = reader.lines.get(timeout=self._wait_seconds())
        except queue.Empty:
            return [], False
        if first is _EOF:
            return [], True
        items.append(first)
        while len(items) < self.options.batch:
            try:
                nxt = reader.lines.get_nowait()
            except queue.Empty:
                break
            if nxt is _EOF:
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
        self._drain()
        if self.engine is None:
            if not self.virtual:
                return
            self._start(dt.datetime.now(UTC))  # no event ever came: start now
        if self.virtual:
            last = self._last_event or self.clock.now()
            end = self.options.until or (last + HORIZON)
            self._fire_due(end)
        else:
            self._fire_due(self.clock.now())


# ---------------------------------------------------------------- status and prune


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def status_report(store: StateStore, *, limit: int = 20) -> dict[str, Any]:
    """What `wfdsl status` shows: workflows with stats, waiting enrollments, next timers.

    >>> from wfdsl.stores.memory import MemoryStore
    >>> status_report(MemoryStore())["totals"]["waiting"]
    0
    """
    active = list(store.enrollments(status="active"))
    counting = store if isinstance(store, CountingStore) else None
    names = sorted(counting.workflows() if counting else {e.workflow for e in active})
    timers = counting.timers() if counting else []
    due_of = {t.enrollment: t.due for t in timers if t.enrollment}
    workflows = []
    for name in names:
        counters: dict[str, float] = dict(store.stats(name))
        emailed = counters.get("emailed", 0)
        counters["conversion_rate"] = min(1.0, counters.get("converted", 0) / emailed) if emailed else 0.0
        state = store.workflow_state(name)
        workflows.append(
            {
                "name": name,
                "active": bool(state.get("active")),
                "version": state.get("version"),
                "waiting": sum(1 for e in active if e.workflow == name),
                "stats": counters,
            }
        )
    waiting = [
        {
            "enrollment": e.id,
            "workflow": e.workflow,
            "object": e.object,
            "id": e.record,
            "step": e.step,
            "phase": e.phase,
            "enrolled_at": _iso(e.enrolled_at),
            "until": _iso(due_of.get(e.id)),
            "waiting_for": None if e.waiting_for is None else dict(e.waiting_for).get("type"),
        }
        for e in active[:limit]
    ]
    next_timers = [
        {"due": _iso(t.due), "kind": t.kind, "workflow": t.workflow, "enrollment": t.enrollment, "key": t.key}
        for t in timers[:limit]
    ]
    return {
        "format_version": "1",
        "workflows": workflows,
        "waiting": waiting,
        "timers": next_timers,
        "totals": {
            "workflows": len(workflows),
            "waiting": len(active),
            "timers": len(timers),
            "history": counting.count_history() if counting else len(store.history()),
        },
    }


def prune_store(store: StateStore, now: dt.datetime) -> dict[str, Any]:
    """Apply the retention rules of SPEC §5.10 at `now`; what was removed and the cut-offs."""
    from wfdsl.runtime.engine import ACTION_RETENTION, FACT_RETENTION, HISTORY_RETENTION

    now = utc(now)
    cutoffs = {
        "actions_before": now - ACTION_RETENTION,
        "history_before": now - HISTORY_RETENTION,
        "facts_before": now - FACT_RETENTION,
    }
    with store.transaction():
        removed = store.prune(**cutoffs)
        # Applied inbox events are kept as long as action entries, for their `event_id`s.
        events = store.prune_events(cutoffs["actions_before"]) if isinstance(store, EventInbox) else 0
    return {
        "removed": removed,
        **{k: v.isoformat() for k, v in cutoffs.items()},
        "now": now.isoformat(),
        "inbox_removed": events,
    }


__all__ = ["CLOCKS", "Counts", "Options", "Service", "prune_store", "status_report"]
