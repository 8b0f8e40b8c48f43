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
import hashlib
import json
import os
import queue
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

import attrs

from wfdsl.host.simulate import (
    HORIZON,
    SimulationInputError,
    load_records_data,
    loads_json,
    parse_event,
)
from wfdsl.plan.model import PlanError, ProjectPlan, plan_to_json, plans_from_json
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import (
    AdapterError,
    Clock,
    CRMAdapter,
    DeadLetter,
    Event,
    InputPosition,
    PermanentAdapterError,
    ServiceStore,
    StateStore,
    SystemClock,
    Timer,
    TransientAdapterError,
    VirtualClock,
    utc,
)
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.protocols import (
    CallOutCRM,
    CountingStore,
    EventInbox,
    InboxEvent,
    JournalStore,
    LimitedInbox,
    MetaStore,
    RecordLoader,
    SeedableCRM,
    UnitCRM,
    WorkerStore,
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
    housekeeping_every: float = 300.0  # shared stores: seconds between housekeeping passes
    retries: int = 20  # shared stores: a unit that conflicts with another worker is run again


@attrs.define
@attrs.define
class Counts:
    """What the status line shows."""

    enrolled: int = 0
    waiting: int = 0
    fired: int = 0
    failed: int = 0
    events: int = 0
    rejected: int = 0
    dead: int = 0
    retried: int = 0  # units rolled back by a transient CRM failure and run again
    next_timer: dt.datetime | None = None

    def line(self) -> str:
        """`enrolled 3 · waiting 2 · fired 5 · failed 0 · events 9 · rejected 0 · next timer …`."""
        nxt = "none" if self.next_timer is None else self.next_timer.strftime("%Y-%m-%dT%H:%M:%SZ")
        dead = f"dead letters {self.dead} · " if self.dead else ""  # set aside by this process
        return (
            f"enrolled {self.enrolled} · waiting {self.waiting} · fired {self.fired} · "
            f"failed {self.failed} · events {self.events} · rejected {self.rejected} · "
            f"{dead}next timer {nxt}"
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


#: The first line of an events file is fingerprinted up to this many bytes.
FINGERPRINT_BYTES = 64 * 1024


def fingerprint(first_line: bytes) -> str:
    """The fingerprint of an events file: SHA-256 (hex) of its first line (at most 64 KiB)."""
    return hashlib.sha256(first_line[:FINGERPRINT_BYTES]).hexdigest()


def first_line_fingerprint(stream: IO[bytes]) -> str | None:
    """The fingerprint of the file behind `stream` as it is now (None when it has no
    complete first line yet). Leaves the stream's position where it was."""
    try:
        head = os.pread(stream.fileno(), FINGERPRINT_BYTES, 0)
    except (AttributeError, OSError, ValueError):
        try:  # a stream without a file (BytesIO): read it and go back
            here = stream.tell()
            stream.seek(0)
            head = stream.read(FINGERPRINT_BYTES)
            stream.seek(here)
        except (AttributeError, OSError, ValueError):
            return None
    end = head.find(b"\n")
    if end < 0 and len(head) < FINGERPRINT_BYTES:
        return None
    return fingerprint(head if end < 0 else head[: end + 1])


def _size(stream: IO[bytes]) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        try:
            here = stream.tell()
            size = stream.seek(0, os.SEEK_END)
            stream.seek(here)
            return size
        except (AttributeError, OSError, ValueError):
            return None


def file_identity(stream: IO[bytes]) -> tuple[int, int] | None:
    """(device, inode) of the file behind `stream`, None when it has none."""
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info.st_dev, info.st_ino


def rotation(saved: InputPosition, stream: IO[bytes]) -> str | None:
    """Why `stream` is not the file `saved` belongs to (None when it is): another file
    at the path, a file shorter than the position, or a different first line."""
    ident = file_identity(stream)
    if ident is not None and saved.inode is not None and (saved.device, saved.inode) != ident:
        return "it is another file than the one read before (rotated)"
    size = _size(stream)
    if size is not None and size < saved.offset:
        return f"it is shorter ({size} bytes) than where reading stopped ({saved.offset}): truncated"
    if saved.fingerprint is not None and first_line_fingerprint(stream) != saved.fingerprint:
        return "its first line changed since it was read (replaced or truncated and written again)"
    return None


@attrs.frozen
class _Line:
    number: int
    end: int  # byte offset just after the line
    text: bytes
    ident: tuple[int, int] | None = None  # (device, inode) of the file it was read from
    fingerprint: str | None = None  # of that file's first line


_EOF = object()


class _Reader(threading.Thread):
    """Reads lines on a thread so the loop can wait for input and timers at once.

    Following a file (`tail -F`), it notices rotation while it waits for new
    lines: the file truncated (shorter than what was read, or its first line
    changed) is read again from its start; another file at the path (the old one
    renamed away) is opened and read from its start once the old one is read to
    its end. Each is said on the log."""

    def __init__(
        self,
        stream: IO[bytes],
        start_line: int,
        follow: bool,
        poll: float,
        *,
        path: str | None = None,
        fingerprint: str | None = None,
        log: Callable[[str], None] = lambda text: None,
    ) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.number = start_line
        self.follow = follow
        self.poll = poll
        self.path = path
        self.fingerprint = fingerprint
        self.log = log
        self.file_ident = file_identity(stream) if path is not None else None
        self.opened: list[IO[bytes]] = []  # files opened here after a rotation (closed on halt)
        self.lines: queue.Queue[Any] = queue.Queue(maxsize=10_000)
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def _put(self, text: bytes) -> None:
        self.number += 1
        end = self.stream.tell() if self.stream.seekable() else 0
        if self.number == 1:
            self.fingerprint = fingerprint(text)
        self.lines.put(_Line(self.number, end, text, self.file_ident, self.fingerprint))

    def _rotated(self) -> bool:
        """At the end of the file: start again if it was rotated (see the class docs)."""
        if self.path is None or not self.stream.seekable():
            return False
        position = self.stream.tell()
        try:
            size = os.fstat(self.stream.fileno()).st_size
        except OSError:
            return False
        if size < position or (
            self.fingerprint is not None
            and self.number >= 1
            and first_line_fingerprint(self.stream) not in (None, self.fingerprint)
        ):
            self.log(f"wfdsl run: {self.path} was truncated; reading it from the start")
            self.stream.seek(0)
            self._restart(self.file_ident)
            return True
        try:
            now = os.stat(self.path)
        except OSError:
            return False  # moved away and not there again yet
        if self.file_ident is not None and (now.st_dev, now.st_ino) != self.file_ident:
            try:
                fresh = open(self.path, "rb")  # noqa: SIM115 - closed when the reader halts
            except OSError:
                return False
            self.log(f"wfdsl run: {self.path} was rotated (a new file is at its path); reading it from the start")
            self.opened.append(fresh)
            self.stream = fresh
            self._restart(file_identity(fresh))
            return True
        return False

    def _restart(self, ident: tuple[int, int] | None) -> None:
        self.number = 0
        self.file_ident = ident
        self.fingerprint = None

    def run(self) -> None:
        partial = b""
        try:
            while not self.halt.is_set():
                chunk = self.stream.readline()
                if not chunk:
                    if not self.follow:
                        break
                    if not partial and self._rotated():
                        continue
                    time.sleep(self.poll)
                    continue
                partial += chunk
                if not partial.endswith(b"\n") and self.follow:
                    continue  # a line still being written
                self._put(partial)
                partial = b""
            if partial:
                self._put(partial)
        except BaseException as error:  # reported by the loop
            self.error = error
        self.lines.put(_EOF)

    def close(self) -> None:
        self.halt.set()
        for handle in self.opened:
            handle.close()


#: Errors that say the service itself cannot go on (its files, disk, network, memory):
#: never blamed on the event or enrollment being processed. Every other exception
#: raised while processing one input is that input's fault: it is set aside as a dead
#: letter and the rest goes on.
SYSTEMIC: tuple[type[BaseException], ...] = (
    OSError,
    MemoryError,
    sqlite3.OperationalError,
    sqlite3.InternalError,
    sqlite3.NotSupportedError,
)


def is_poison(error: BaseException) -> bool:
    """Whether `error`, raised while processing one input, is that input's fault
    (see `SYSTEMIC`). A store corrupted on disk (sqlite3.DatabaseError itself) and a
    CRM that failed (AdapterError other than a permanent refusal) are systemic."""
    if not isinstance(error, Exception) or isinstance(error, SYSTEMIC):
        return False
    if type(error) is sqlite3.DatabaseError:
        return False
    if isinstance(error, AdapterError):
        return isinstance(error, PermanentAdapterError)
    from wfdsl.stores.errors import StoreError

    return not isinstance(error, StoreError)


def describe(error: BaseException) -> str:
    """An error in one line for a dead letter: `OverflowError: date value out of range`."""
    text = str(error).strip().replace("\n", " ")
    name = type(error).__name__
    if isinstance(error, RecursionError):
        text = "nested too deeply"
    return f"{name}: {text}" if text else name


class _Poison(Exception):
    """Processing input `index` of a unit (at `where`, FILE:LINE) failed with `error`,
    that input's fault."""

    def __init__(self, index: int, error: BaseException, where: str) -> None:
        super().__init__(describe(error))
        self.index = index
        self.error = error
        self.where = where


class _PoisonTimer(Exception):
    """Firing `timer` (due before input `index`) failed with `error`, its enrollment's fault."""

    def __init__(self, index: int, timer: Timer, error: BaseException) -> None:
        super().__init__(describe(error))
        self.index = index
        self.timer = timer
        self.error = error


def _event_json(event: Event) -> dict[str, Any]:
    """An event in the events-file form (for a dead letter's payload)."""
    out: dict[str, Any] = {"at": utc(event.at).isoformat(), "type": event.type, "object": event.object, "id": event.id}
    if event.data:
        out["data"] = dict(event.data)
    if event.properties is not None:
        out["properties"] = dict(event.properties)
    return out


def load_records_into(crm: CRMAdapter, data: Any, at: dt.datetime) -> None:
    """Load a records file (decoded JSON) into a CRM: `import_records` when the
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
        self._refusals = store if isinstance(store, LimitedInbox) else None
        # The store's service side (lock, positions, dead letters), when it has one.
        self._service = store if isinstance(store, ServiceStore) else None
        # Whether a failed unit is undone in the store (the memory store cannot undo).
        self._atomic = not isinstance(store, MemoryStore)
        # A store that many workers share: claims, wake-ups, housekeeping under a lock.
        self._shared = store if isinstance(store, WorkerStore) else None
        self._call_out = crm if isinstance(crm, CallOutCRM) else None
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
                if self._shared is None:  # rows every worker would write: not on a shared store
                    self.meta.set("clock", self.clock.now().isoformat())
                    self.meta.set("fired", self.counts.fired)
                elif self.virtual:  # the latest of the workers' clocks, for the next start
                    self._shared.keep_latest("clock", self.clock.now())
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
        self.counts.fired = int(self.meta.get("fired", 0))
        with self._unit():
            if self._shared is not None:
                self._shared.exclusive()  # workers starting together deploy one after another
            old = self._stored_plans()
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
        if self._shared is not None:
            self._shared.expect_plans(new_text)
        self.engine = engine
        return engine

    # ------------------------------------------------------------ work

    def _fire_due(self, limit: dt.datetime) -> int:
        """Fire the timers due by `limit`, `batch` at a time per unit. A timer whose
        firing fails by its enrollment's fault is set aside (`_bury_timer`) and the
        others fire: one enrollment never blocks the rest."""
        assert self.engine is not None
        engine = self.engine
        total = 0
        while not self.stopping:
            due = engine.next_due()
            if due is None or due > limit:
                break
            fired = 0
            before = self._moment()
            try:
                with self._unit():
                    while fired < self.options.batch and not self.stopping:
                        due = engine.next_due()
                        if due is None or due > limit:
                            break
                        if isinstance(self.clock, VirtualClock):
                            self.clock.set(due)
                        # A shared store claims timers in batches: fire them in one transaction.
                        # (Real clock: everything due by now, not only the earliest, which
                        # another worker may hold.)
                        until = limit if self._shared and not self.virtual else due
                        count = engine.run_due(until, batch=self.options.batch - fired if self._shared else 1)
                        if not count:
                            break  # what is due is claimed by other workers (shared store)
                        fired += count
                        self.counts.fired += count
            except Exception as error:
                if self._atomic:  # rolled back: fired again (without the poisoned timer), not counted twice
                    self._undo(before)
                timer = engine.firing
                if timer is None or not is_poison(error):
                    raise
                with self._unit():
                    self._bury_timer(timer, error)
                continue
            total += fired
            if not fired:
                break
        return total

    def _moment(self) -> tuple[Counts, dt.datetime | None, dt.datetime, dt.datetime | None]:
        """What a unit changes outside the store, to put back when it is rolled back."""
        engine_now = self.engine.now if self.engine is not None else None
        return attrs.evolve(self.counts), self._last_event, self.clock.now(), engine_now

    def _undo(self, moment: tuple[Counts, dt.datetime | None, dt.datetime, dt.datetime | None]) -> None:
        """Back to `moment` after a unit was rolled back, so that doing it again
        without the bad input gives what it would have given without it."""
        self.counts, self._last_event, clock_now, engine_now = moment
        if isinstance(self.clock, VirtualClock):
            self.clock.rewind(clock_now)
        if self.engine is not None and engine_now is not None:
            self.engine.rewind(engine_now)

    def _bury_timer(self, timer: Timer, error: BaseException) -> None:
        """Set a timer aside as a dead letter, and end its enrollment (unenrolled with
        reason `error`, its history saying why) when that can be done."""
        assert self.engine is not None
        reason = describe(error)
        self.store.cancel_timer(timer.key)
        enrollment = self.store.enrollment(timer.enrollment) if timer.enrollment else None
        if enrollment is not None:
            try:
                with self.store.transaction():
                    self.engine.quarantine(enrollment.id, reason)
            except Exception as again:
                if not is_poison(again):
                    raise
        letter = DeadLetter(
            at=dt.datetime.now(UTC),
            kind="timer",
            reason=reason,
            payload=timer.key,
            workflow=timer.workflow,
            enrollment=timer.enrollment,
            object=None if enrollment is None else enrollment.object,
            id=None if enrollment is None else enrollment.record,
        )
        self._dead_letter(letter)

    def _dead_letter(self, letter: DeadLetter, *, quiet: bool = False) -> None:
        """Keep a dead letter in the store (a `ServiceStore`) and say so on the log
        (unless `quiet`: the caller said it already)."""
        number = self._service.add_dead_letter(letter) if self._service is not None else 0
        self.counts.dead += 1
        if quiet:
            return
        tag = f" (dead letter {number})" if number else ""
        what = "line" if letter.kind == "event" else f"{letter.kind} {letter.payload!r}"
        where = letter.where()
        self.log(f"wfdsl: error: {where}: {letter.reason}; {what} set aside{tag}, the rest goes on")

    def _bury_line(self, item: _Line, source: str, reason: str, *, quiet: bool = False) -> None:
        text = item.text.decode("utf-8", "replace").rstrip("\r\n")
        self._dead_letter(
            quiet=quiet,
            letter=DeadLetter(
                at=dt.datetime.now(UTC), kind="event", reason=reason, source=source, line=item.number, payload=text
            ),
        )

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

    def _retrying(self, work: Callable[[], Any]) -> Any:
        """Run a unit of work; on a shared store, a unit that conflicted with another
        worker (rolled back) is run again, a few times, after a short random pause."""
        attempt = 0
        while True:
            try:
                return work()
            except Exception as error:
                if self._shared is None or not self._shared.retryable(error) or attempt >= self.options.retries:
                    raise
                attempt += 1
                if self.engine is not None:
                    self.engine.discard_pending()
                time.sleep(random.uniform(0.0, 0.02 * attempt))

    def _process(self, items: list[_Line], source: str) -> None:
        self._retrying(lambda: self._process_once(items, source))

    def _process_once(self, items: list[_Line], source: str) -> None:
        """A batch of lines as one unit: into the inbox with the input position (a store
        with an inbox), then applied; stops early (and commits) on a stop request.

        A line that is not an event becomes a dead letter (FILE:LINE and why); so
        does an event whose processing fails through its own fault, and the others
        are processed (`_isolated`)."""
        lines: list[_Line] = []
        bodies: list[dict[str, Any]] = []
        position = None

        def take(skip: Mapping[int, str]) -> None:
            nonlocal position
            lines.clear()
            bodies.clear()
            for item in items:
                position = item
                try:
                    data = self._line(item, source)
                    refused = None if data is None or self._refusals is None else self._refusals.refusal(data)
                    if refused is not None:  # an event the store cannot hold: refused as a bad line
                        raise SimulationInputError(source, item.number, refused)
                except SimulationInputError as error:
                    self.log(f"wfdsl: warning: {error} (line skipped)")
                    self.counts.rejected += 1
                    self._bury_line(item, source, error.message, quiet=True)
                    continue
                except Exception as error:
                    if not is_poison(error):
                        raise
                    self._bury_line(item, source, describe(error))
                    continue
                if data is not None:
                    lines.append(item)
                    bodies.append(data)
            if position is not None:
                self._save_position(source, position)
            if self._inbox is not None:
                numbers = self._inbox.append_events(bodies)
                origin = {n: (source, line) for n, line in zip(numbers, lines, strict=True) if n is not None}
                self._consume(max(self.options.batch, len(bodies)), skip, origin)
            else:
                for index, (data, item) in enumerate(zip(bodies, lines, strict=True)):
                    if index in skip:
                        self._bury_line(item, source, skip[index], quiet=True)
                        continue
                    self._apply_isolated(index, parse_event(data, source, item.number), (source, item))
                    if self.stopping:
                        break
            self._save_last_event()

        self._isolated(take)

    def _isolated(self, work: Callable[[Mapping[int, str]], Any]) -> Any:
        """`work(skip)` as one unit. When input number `i` of the unit fails through its
        own fault (`_Poison`), the unit is rolled back and done again with `skip[i]`
        saying why: `work` then sets that input aside as a dead letter and does the
        rest, so the good inputs are all processed, once. A timer that fails while due
        before an input (`_PoisonTimer`) is set aside in a unit of its own first.
        (The memory store cannot roll back: there `work` sets inputs aside as it goes
        and never raises these.)"""
        skip: dict[int, str] = {}
        while True:
            before = self._moment()
            started = self.engine is not None
            try:
                try:
                    with self._unit():
                        return work(skip)
                except (_Poison, _PoisonTimer):
                    self._undo(before)
                    if not started:
                        self.engine = None  # its start was rolled back with the unit: start again
                    raise
            except _PoisonTimer as poison:
                with self._unit():
                    self._bury_timer(poison.timer, poison.error)
            except _Poison as poison:
                if poison.index in skip:
                    raise poison.error from None
                skip[poison.index] = str(poison)
                self.log(f"wfdsl: error: {poison.where}: {poison}; event set aside, the rest goes on")

    def _apply_isolated(self, index: int, event: Event, where: tuple[str, _Line | int]) -> bool:
        """`_apply(event)`, input number `index` of the unit: True when applied. A failure
        through the event's own fault raises `_Poison` (a store that rolls back) or
        sets the event aside at once (the memory store); likewise for a timer due
        before it (`_PoisonTimer`)."""
        source, at = where
        line = at.number if isinstance(at, _Line) else at
        while True:
            try:
                self._apply(event)
                return True
            except (_Poison, _PoisonTimer):
                raise
            except Exception as error:
                if not is_poison(error):
                    raise
                engine = self.engine
                timer = engine.firing if engine is not None else None
                if engine is None:
                    raise  # the engine's start failed: nobody's fault in particular
                if self._atomic:
                    if timer is not None:
                        raise _PoisonTimer(index, timer, error) from error
                    raise _Poison(index, error, f"{source}:{line}") from error
                if timer is not None:
                    self._bury_timer(timer, error)
                    continue  # then the event itself
                self._dead_letter(
                    DeadLetter(
                        at=dt.datetime.now(UTC),
                        kind="event",
                        reason=describe(error),
                        source=source,
                        line=line,
                        payload=json.dumps(_event_json(event), ensure_ascii=False, default=str),
                    )
                )
                return False

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
        if self._shared is None:  # a row every worker would write: not on a shared store
            self.meta.set("last_event", None if self._last_event is None else self._last_event.isoformat())
        elif self.virtual and self._last_event is not None:
            self._shared.keep_latest("last_event", self._last_event)

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

    def _consume(self, limit: int, skip: Mapping[int, str] = {}, origin: Mapping[int, tuple[str, _Line]] = {}) -> int:
        """Apply up to `limit` pending inbox events in the open unit; the number taken.
        `skip` and `origin` as in `_isolated` and `_process` (the file line of a row
        appended from an events file; other rows are named `inbox:<row>`)."""
        assert self._inbox is not None
        rows = self._inbox.claim_events(limit)
        done: list[int] = []
        for index, row in enumerate(rows):
            source, at = origin.get(row.id, ("inbox", row.id))
            if index in skip:
                self._bury_row(row, source, at, skip[index])
            else:
                event = self._inbox_event(row)
                if event is not None:
                    self._apply_isolated(index, event, (source, at))
            done.append(row.id)
            if not self._atomic:
                self._inbox.finish_events([row.id], self.clock.now())
            if self.stopping:
                break
        if done and self._atomic:
            self._inbox.finish_events(done, self.clock.now())
        return len(done)

    def _bury_row(self, row: InboxEvent, source: str, at: _Line | int, reason: str) -> None:
        line = at.number if isinstance(at, _Line) else at
        payload = (
            at.text.decode("utf-8", "replace").rstrip("\r\n")
            if isinstance(at, _Line)
            else json.dumps(row.body, ensure_ascii=False, default=str)
        )
        self._dead_letter(
            DeadLetter(at=dt.datetime.now(UTC), kind="event", reason=reason, source=source, line=line, payload=payload),
            quiet=True,  # said when it failed
        )

    def _drain(self) -> int:
        """Apply what waits in the inbox (from `wfdsl ingest`, `serve`, other programs),
        `batch` events per unit; the number taken."""
        if self._inbox is None:
            return 0
        inbox = self._inbox
        total = 0
        while not self.stopping and inbox.pending_events():

            def take(skip: Mapping[int, str]) -> int:
                taken = self._consume(self.options.batch, skip)
                self._save_last_event()
                return taken

            taken: int = self._retrying(lambda: self._isolated(take))
            if not taken:
                break
            total += taken
        return total

    def _position_key(self, source: str) -> str:
        return os.path.realpath(source)

    def _saved_position(self, source: str) -> InputPosition | None:
        key = self._position_key(source)
        saved = self._service.input_position(key) if self._service is not None else None
        if saved is None:
            # A store written before positions identified their file: the offset alone.
            old = self.meta.get("input")
            if isinstance(old, dict) and old.get("source") == source:
                saved = InputPosition(source=key, line=int(old["line"]), offset=int(old["offset"]))
        return saved

    def _save_position(self, source: str, item: _Line) -> None:
        if source == "-":
            return
        device, inode = item.ident if item.ident is not None else (None, None)
        position = InputPosition(
            source=self._position_key(source),
            line=item.number,
            offset=item.end,
            device=device,
            inode=inode,
            fingerprint=item.fingerprint,
        )
        if self._service is not None:
            self._service.set_input_position(position)
        else:
            self.meta.set("input", {"source": source, "line": item.number, "offset": item.end})

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
        if self._shared is not None and stream is not None and source != "-":
            if not self._shared.hold(f"events:{os.path.realpath(source)}"):
                self.log(f"wfdsl run: another worker reads {source}; this one takes events from the inbox")
                stream = None
        self.recover()
        start_line = 0
        known: str | None = None
        path = path or source
        follows_file = stream is not None and source != "-" and stream.seekable()
        if stream is not None and follows_file:
            saved = self._saved_position(source)
            if saved is not None:
                why = rotation(saved, stream)
                if why is None:
                    stream.seek(saved.offset)
                    start_line = saved.line
                    known = saved.fingerprint
                else:
                    self.log(f"wfdsl run: {path}: {why}; reading it from the start")
        saved_last = self.meta.get("last_event")
        self._last_event = dt.datetime.fromisoformat(saved_last) if saved_last else None
        if not self.virtual or self.meta.get("plans"):
            self._start(self.clock.now())
        follow = self.options.follow and not self.options.until_idle and stream is not None and stream.seekable()
        reader = (
            _Reader(
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
                    self._waiting_out(functools.partial(self._process, items, source))
                self._waiting_out(self._drain)
                if not items and self.engine is not None and not self.virtual:
                    self._waiting_out(lambda: self._retrying(lambda: self._fire_due(self.clock.now())))
                if self._call_out is not None:  # webhooks go out after the commit that made them
                    self._call_out.dispatch_outbox()
                if self._shared is not None and time.monotonic() >= next_housekeeping:
                    # Retention needs the real time: a virtual (replay) run does not prune.
                    self._shared.housekeeping(self.clock.now(), prune=not self.virtual)
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

    def _take(self, reader: _Reader | None, ended: bool) -> tuple[list[_Line], bool]:
        """Up to `batch` lines: waits for the first (until a timer is due), then takes
        what is already there."""
        if reader is None or ended:
            if not self.options.until_idle:
                if self._shared is not None:
                    self._shared.wait_for_work(self._wait_seconds())
                else:
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
            self._retrying(lambda: self._fire_due(end))
        else:
            self._retrying(lambda: self._fire_due(self.clock.now()))
        if self._call_out is not None:
            while self._call_out.dispatch_outbox():
                pass


# ---------------------------------------------------------------- status and prune

# `wfdsl status` and `wfdsl prune` live in `wfdsl.host.operate`, which loads without the engine.
from wfdsl.host.operate import prune_store, status_report  # noqa: E402

__all__ = ["CLOCKS", "Counts", "Options", "Service", "prune_store", "status_report"]
