"""The service's work: lines of an events file, inbox rows and due timers -> units committed.

`Worker` does what `wfdsl run` does in each unit (`host/units.py`): it starts
the engine (importing the records, deploying changed plans), feeds it the
events of a batch through the shared `Driver` (`host/driver.py`), fires the
timers that are due in batches, and sets aside, as dead letters, the inputs
that fail through their own fault while the rest of the unit goes on.
`Service` (`host/service.py`) runs the loop around it: reading, waiting,
stopping, status lines.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

import attrs

from wfdsl.host.driver import Driver, time_source
from wfdsl.host.positions import Line, Meta, Positions
from wfdsl.host.units import DeadLetters, Poison, PoisonTimer, Units, describe, is_poison
from wfdsl.plan.model import PlanError, ProjectPlan, plan_to_json, plans_from_json
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.inputs import SEEDED_AT, Seed, SimulationInputError, event_line, parse_event
from wfdsl.runtime.protocols import Clock, CRMAdapter, Event, StateStore, VirtualClock
from wfdsl.stores.protocols import (
    EventInbox,
    InboxEvent,
    LimitedInbox,
    RecordLoader,
    RollbackStore,
    SeedableCRM,
    WorkerStore,
)


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


def load_records_into(crm: CRMAdapter, seed: Seed, at: dt.datetime) -> None:
    """Load a records file (read by `runtime.inputs`) into a CRM: `import_seed` when the
    adapter has it (SQLiteCRM imports a file once), else `add_record`/`associate`/`add_to_list`
    (MemoryCRM). ValueError for an adapter that can do neither."""
    if isinstance(crm, RecordLoader):
        crm.import_seed(seed, at=at)
        return
    if not isinstance(crm, SeedableCRM):
        raise ValueError(f"the {type(crm).__name__} adapter cannot load a records file")
    for record in seed.records:
        crm.add_record(record.object, record.id, record.properties, at=at)
    for left, right in seed.associations:
        crm.associate(left, right)
    for name, members in seed.lists.items():
        for member in members:
            crm.add_to_list(name, member)


#: What a unit changes outside the store, to put back when it is rolled back.
Moment = tuple[Counts, dt.datetime | None, dt.datetime, dt.datetime | None]


def changed_plans(meta: Meta, plans: ProjectPlan, new_text: str) -> ProjectPlan | None:
    """The plans a store last ran (`meta`'s `plans`) when they differ from `plans`,
    whose JSON is `new_text` (None when they are the same, or none are stored). The
    stored text is compared as it is; only when it differs is it read, and then
    compared as plans."""
    text = meta.get("plans")
    if not text or text == new_text:
        return None
    try:
        old = plans_from_json(text)
    except PlanError:
        return None
    return None if old == plans else old


class EventCheck(Protocol):
    """What a worker needs of `inputcheck.InputCheck`: warnings about an input event."""

    def event(self, event: Event, file: str) -> None: ...


class Worker:
    """Units of work for one engine against one store and CRM (see the module docs).
    With `check`, every input event is checked against the schema and the catalog
    (warnings, once per kind of problem) as it is read."""

    def __init__(
        self,
        plans: ProjectPlan,
        crm: CRMAdapter,
        store: StateStore,
        *,
        options: Options,
        records: Seed | None,
        log: Callable[[str], None],
        clock: Clock,
        stop: threading.Event,
        check: EventCheck | None = None,
    ) -> None:
        self.plans = plans
        self.check = check
        self.crm = crm
        self.store = store
        self.options = options
        self.records = records
        self.log = log
        self.clock = clock
        self.virtual = options.clock == "virtual"
        self._stop = stop
        self.meta = Meta(store)
        self.positions = Positions(store, self.meta)
        self.units = Units(store, crm, self.meta)
        self.counts = Counts()
        self.dead = DeadLetters(store, log, self.counts)
        self.inbox = store if isinstance(store, EventInbox) else None
        self.refusals = store if isinstance(store, LimitedInbox) else None
        # Whether a failed unit is undone in the store (the memory store cannot undo).
        self.atomic = isinstance(store, RollbackStore)
        # A store that many workers share: claims, wake-ups, housekeeping under a lock.
        self.shared = store if isinstance(store, WorkerStore) else None
        self.engine: Engine | None = None
        self.driver: Driver | None = None
        self._last_event: dt.datetime | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def last_event(self) -> dt.datetime | None:
        """The time of the latest event applied (kept by the driver once it runs)."""
        return self.driver.last if self.driver is not None else self._last_event

    @last_event.setter
    def last_event(self, value: dt.datetime | None) -> None:
        self._last_event = value
        if self.driver is not None:
            self.driver.last = value

    def _on_commit(self) -> None:
        if self.shared is None:  # rows every worker would write: not on a shared store
            self.meta.set("clock", self.clock.now().isoformat())
            self.meta.set("fired", self.counts.fired)
        elif self.virtual:  # the latest of the workers' clocks, for the next start
            self.shared.keep_latest("clock", self.clock.now())

    def unit(self) -> AbstractContextManager[None]:
        """A unit of work (`Units.unit`) that keeps the clock with its commit."""
        return self.units.unit(self._on_commit)

    # ------------------------------------------------------------ start

    def start(self, start: dt.datetime) -> Engine:
        """The engine, with the records imported and the workflows activated (first start),
        or the stored plans migrated to the new ones (a restart with changed plans)."""
        if isinstance(self.clock, VirtualClock):
            saved = self.meta.get("clock")
            self.clock.set(dt.datetime.fromisoformat(saved) if saved else start)
        new_text = plan_to_json(self.plans)
        self.counts.fired = int(self.meta.get("fired", 0))
        with self.unit():
            if self.shared is not None:
                self.shared.exclusive()  # workers starting together deploy one after another
            old = changed_plans(self.meta, self.plans, new_text)
            if old is not None:
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
                # Its values were set before the start, as in `wfdsl simulate`.
                load_records_into(self.crm, self.records, SEEDED_AT)
            for name in engine.workflows:
                if not self.store.workflow_state(name).get("active"):
                    engine.activate(name)
            self.meta.set("plans", new_text)
        if self.shared is not None:
            self.shared.expect_plans(new_text)
        self.engine = engine
        self.driver = Driver(engine, time_source(self.clock), last=self._last_event)
        return engine

    def stop_engine(self) -> None:
        """Forget the engine (its start was rolled back with the unit: start again)."""
        if self.driver is not None:
            self._last_event = self.driver.last
        self.engine = None
        self.driver = None

    # ------------------------------------------------------------ timers

    def fire_due(self, limit: dt.datetime) -> int:
        """Fire the timers due by `limit`, `batch` at a time per unit. A timer whose
        firing fails by its enrollment's fault is set aside and the others fire: one
        enrollment never blocks the rest."""
        assert self.engine is not None and self.driver is not None
        engine = self.engine
        total = 0
        while not self.stopping:
            due = engine.next_due()
            if due is None or due > limit:
                break
            fired = 0
            before = self.moment()
            try:
                with self.unit():
                    while fired < self.options.batch and not self.stopping:
                        due = engine.next_due()
                        if due is None or due > limit:
                            break
                        self.driver.time.at_timer(due)
                        # A shared store claims timers in batches: fire them in one transaction.
                        # (Real clock: everything due by now, not only the earliest, which
                        # another worker may hold.)
                        until = limit if self.shared and not self.virtual else due
                        count = engine.run_due(until, batch=self.options.batch - fired if self.shared else 1)
                        if not count:
                            break  # what is due is claimed by other workers (shared store)
                        fired += count
                        self.counts.fired += count
            except Exception as error:
                if self.atomic:  # rolled back: fired again (without the poisoned timer), not counted twice
                    self.undo(before)
                timer = engine.firing
                if timer is None or not is_poison(error):
                    raise
                with self.unit():
                    self.dead.timer(engine, timer, error)
                continue
            total += fired
            if not fired:
                break
        return total

    # ------------------------------------------------------------ roll back and isolate

    def moment(self) -> Moment:
        """What a unit changes outside the store, to put back when it is rolled back."""
        engine_now = self.engine.now if self.engine is not None else None
        return attrs.evolve(self.counts), self.last_event, self.clock.now(), engine_now

    def undo(self, moment: Moment) -> None:
        """Back to `moment` after a unit was rolled back, so that doing it again
        without the bad input gives what it would have given without it."""
        counts, self.last_event, clock_now, engine_now = moment
        for field in attrs.fields(Counts):  # the same object: the dead letters count into it
            setattr(self.counts, field.name, getattr(counts, field.name))
        if isinstance(self.clock, VirtualClock):
            self.clock.rewind(clock_now)
        if self.engine is not None and engine_now is not None:
            self.engine.rewind(engine_now)

    def retrying(self, work: Callable[[], Any]) -> Any:
        """Run a unit of work; on a shared store, a unit that conflicted with another
        worker (rolled back) is run again, a few times, after a short random pause."""
        attempt = 0
        while True:
            try:
                return work()
            except Exception as error:
                if self.shared is None or not self.shared.retryable(error) or attempt >= self.options.retries:
                    raise
                attempt += 1
                if self.engine is not None:
                    self.engine.discard_pending()
                time.sleep(random.uniform(0.0, 0.02 * attempt))

    def isolated(self, work: Callable[[Mapping[int, str]], Any]) -> Any:
        """`work(skip)` as one unit. When input number `i` of the unit fails through its
        own fault (`Poison`), the unit is rolled back and done again with `skip[i]`
        saying why: `work` then sets that input aside as a dead letter and does the
        rest, so the good inputs are all processed, once. A timer that fails while due
        before an input (`PoisonTimer`) is set aside in a unit of its own first.
        (The memory store cannot roll back: there `work` sets inputs aside as it goes
        and never raises these.)"""
        skip: dict[int, str] = {}
        while True:
            before = self.moment()
            started = self.engine is not None
            try:
                try:
                    with self.unit():
                        return work(skip)
                except (Poison, PoisonTimer):
                    self.undo(before)
                    if not started:
                        self.stop_engine()
                    raise
            except PoisonTimer as poison:
                assert self.engine is not None
                with self.unit():
                    self.dead.timer(self.engine, poison.timer, poison.error)
            except Poison as poison:
                if poison.index in skip:
                    raise poison.error from None
                skip[poison.index] = str(poison)
                self.log(f"wfdsl: error: {poison.where}: {poison}; event set aside, the rest goes on")

    def apply_isolated(self, index: int, event: Event, where: tuple[str, Line | int]) -> bool:
        """`apply(event)`, input number `index` of the unit: True when applied. A failure
        through the event's own fault raises `Poison` (a store that rolls back) or
        sets the event aside at once (the memory store); likewise for a timer due
        before it (`PoisonTimer`)."""
        source, at = where
        line = at.number if isinstance(at, Line) else at
        while True:
            try:
                self.apply(event)
                return True
            except (Poison, PoisonTimer):
                raise
            except Exception as error:
                if not is_poison(error):
                    raise
                engine = self.engine
                if engine is None:
                    raise  # the engine's start failed: nobody's fault in particular
                timer = engine.firing
                if self.atomic:
                    if timer is not None:
                        raise PoisonTimer(index, timer, error) from error
                    raise Poison(index, error, f"{source}:{line}") from error
                if timer is not None:
                    self.dead.timer(engine, timer, error)
                    continue  # then the event itself
                self.dead.event(event, describe(error), source, line)
                return False

    def apply(self, event: Event) -> None:
        """Fire what is due before the event, then ingest it (the driver)."""
        if self.driver is None:
            self.start(event.at)
        assert self.driver is not None
        before = self.driver.fired
        self.driver.feed(event)
        self.counts.fired += self.driver.fired - before  # the timers due before the event
        self.counts.events += 1

    # ------------------------------------------------------------ events

    def save_last_event(self) -> None:
        last = self.last_event
        if self.shared is None:  # a row every worker would write: not on a shared store
            self.meta.set("last_event", None if last is None else last.isoformat())
        elif self.virtual and last is not None:
            self.shared.keep_latest("last_event", last)

    def line(self, item: Line, source: str) -> dict[str, Any] | None:
        """One line as a checked events-format object (None for a blank line); an event
        without `at` happens now (real clock). SimulationInputError names FILE:LINE."""
        now = None if self.virtual else self.clock.now().isoformat()
        return event_line(item.text, source, item.number, default_at=now)

    def process(self, items: list[Line], source: str) -> None:
        """A batch of lines as one unit: into the inbox with the input position (a store
        with an inbox), then applied; stops early (and commits) on a stop request.

        A line that is not an event becomes a dead letter (FILE:LINE and why); so
        does an event whose processing fails through its own fault, and the others
        are processed (`isolated`)."""
        self.retrying(lambda: self.isolated(lambda skip: self._take_lines(items, source, skip)))

    def _take_lines(self, items: list[Line], source: str, skip: Mapping[int, str]) -> None:
        lines: list[Line] = []
        bodies: list[dict[str, Any]] = []
        position = None
        for item in items:
            position = item
            try:
                data = self.line(item, source)
                refused = None if data is None or self.refusals is None else self.refusals.refusal(data)
                if refused is not None:  # an event the store cannot hold: refused as a bad line
                    raise SimulationInputError(source, item.number, refused)
            except SimulationInputError as error:
                self.log(f"wfdsl: warning: {error} (line skipped)")
                self.counts.rejected += 1
                self.dead.line(item, source, error.message, quiet=True)
                continue
            except Exception as error:
                if not is_poison(error):
                    raise
                self.dead.line(item, source, describe(error))
                continue
            if data is not None:
                if self.check is not None:
                    self.check.event(parse_event(data, source, item.number), source)
                lines.append(item)
                bodies.append(data)
        if position is not None:
            self.positions.save(source, position)
        if self.inbox is not None:
            numbers = self.inbox.append_events(bodies)
            origin = {n: (source, line) for n, line in zip(numbers, lines, strict=True) if n is not None}
            self.consume(max(self.options.batch, len(bodies)), skip, origin)
        else:
            for index, (data, item) in enumerate(zip(bodies, lines, strict=True)):
                if index in skip:
                    self.dead.line(item, source, skip[index], quiet=True)
                    continue
                self.apply_isolated(index, parse_event(data, source, item.number), (source, item))
                if self.stopping:
                    break
        self.save_last_event()

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

    def consume(self, limit: int, skip: Mapping[int, str] = {}, origin: Mapping[int, tuple[str, Line]] = {}) -> int:
        """Apply up to `limit` pending inbox events in the open unit; the number taken.
        `skip` as in `isolated`; `origin` the file line of a row appended from an
        events file (other rows are named `inbox:<row>`)."""
        assert self.inbox is not None
        rows = self.inbox.claim_events(limit)
        done: list[int] = []
        for index, row in enumerate(rows):
            source, at = origin.get(row.id, ("inbox", row.id))
            if index in skip:
                self.dead.row(row, source, at, skip[index])
            else:
                event = self._inbox_event(row)
                if event is not None:
                    if self.check is not None and row.id not in origin:  # from ingest, serve, …
                        self.check.event(event, source)
                    self.apply_isolated(index, event, (source, at))
            done.append(row.id)
            if not self.atomic:
                self.inbox.finish_events([row.id], self.clock.now())
            if self.stopping:
                break
        if done and self.atomic:
            self.inbox.finish_events(done, self.clock.now())
        return len(done)

    def drain(self) -> int:
        """Apply what waits in the inbox (from `wfdsl ingest`, `serve`, other programs),
        `batch` events per unit; the number taken."""
        if self.inbox is None:
            return 0
        inbox = self.inbox
        total = 0
        while not self.stopping and inbox.pending_events():

            def take(skip: Mapping[int, str]) -> int:
                taken = self.consume(self.options.batch, skip)
                self.save_last_event()
                return taken

            taken: int = self.retrying(lambda: self.isolated(take))
            if not taken:
                break
            total += taken
        return total


__all__ = ["Counts", "EventCheck", "Options", "Worker", "changed_plans", "load_records_into"]
