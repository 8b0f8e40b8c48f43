"""Simulation: plans + records file + JSON Lines events -> engine on a virtual clock -> trace.

Records exist before the simulation starts; events are read and fed
one line at a time (the file is never loaded whole), with the timers that
fall due between them fired first. The files are read by `runtime.inputs`
(re-exported here); malformed input raises `SimulationInputError`, which
names the file and the line.

>>> import datetime as dt
>>> from wfdsl.plan.model import ProjectPlan
>>> sim = Simulation(ProjectPlan(workflows=()), load_records_data({}, "records.json"),
...                  start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
>>> sim.run([]); sim.trace()
[]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.host.driver import HORIZON, Driver, VirtualTime
from wfdsl.plan.model import ProjectPlan, history_reads
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.inputs import (
    MAX_YEAR,
    MIN_YEAR,
    SEEDED_AT,
    Seed,
    SeedRecord,
    SimulationInputError,
    load_records,
    load_records_data,
    loads_json,
    parse_event,
    read_events,
)
from wfdsl.runtime.observe import Observer
from wfdsl.runtime.protocols import Event, HistoryEntry, VirtualClock
from wfdsl.stores.memory import MemoryStore


class SimulationRuntimeError(Exception):
    """An event or an enrollment the simulation could not process (a value out of
    range, a date past the calendar): `str()` says which, and why."""


# ---------------------------------------------------------------- running


class Simulation:
    """One simulation run: a memory CRM seeded from the records, a memory store, a
    virtual clock, and every workflow active from the start.

    With `on_history`, each history entry is handed to it as it is written (in
    time order) and not kept: `trace()` and `entries()` are then empty. With
    `lean_crm`, the memory CRM keeps only the event and property histories the
    workflows' criteria read. Both together keep a long run's memory from
    growing with every event (what `wfdsl simulate` does).

    With `observer` (a `runtime.observe.Observer`), the engine tells it each
    decision; `on_start` is called with the engine once the CRM holds the records
    and before any workflow is activated (explain records the criteria at the
    start there). `store` replaces the memory store the simulation would make (an
    observer that looks enrollments up is built on it); it cannot go with
    `on_history`, which is how that store is made."""

    def __init__(
        self,
        plans: ProjectPlan,
        seed: Seed,
        *,
        start: dt.datetime | None = None,
        until: dt.datetime | None = None,
        on_history: Callable[[HistoryEntry], None] | None = None,
        lean_crm: bool = False,
        observer: Observer | None = None,
        on_start: Callable[[Engine], None] | None = None,
        store: MemoryStore | None = None,
    ) -> None:
        if store is not None and on_history is not None:
            raise ValueError("Simulation: give either `store` or `on_history`, not both")
        self.plans = plans
        self.seed = seed
        self.start = start
        self.until = until
        if lean_crm:
            events, properties = history_reads(plans)
            self.crm = MemoryCRM(kept_events=events, kept_properties=properties)
        else:
            self.crm = MemoryCRM()
        self.store = store if store is not None else MemoryStore(history_sink=on_history)
        self.observer = observer
        self.on_start = on_start
        self.engine: Engine | None = None

    def _seed_crm(self) -> None:
        """The records, associations and lists of the records file, in the memory CRM."""
        for record in self.seed.records:
            # Values of the records file were set at some unknown time before the start:
            # never "updated within last N days".
            self.crm.add_record(record.object, record.id, record.properties, at=SEEDED_AT)
        for left, right in self.seed.associations:
            self.crm.associate(left, right)
        for name, members in self.seed.lists.items():
            for member in members:
                self.crm.add_to_list(name, member)

    def _begin(self, clock: VirtualClock) -> Engine:
        self._seed_crm()
        engine = Engine(self.plans, self.crm, self.store, clock, observer=self.observer, allow_placeholders=True)
        if self.on_start is not None:
            self.on_start(engine)
        for workflow in engine.workflows:
            engine.activate(workflow)
        self.engine = engine
        return engine

    def run(self, events: Iterable[Event], source: str = "events", where: Mapping[str, int] | None = None) -> None:
        """Feed the events in order, firing due timers in between, then run out the clock.
        `source` names the events in errors, `where["line"]` the line of the event in
        hand (see `read_events`). An event or an enrollment that cannot be processed
        (a value out of range, a date past the calendar) is a SimulationRuntimeError
        naming it, never a traceback."""
        stream = iter(events)
        first = next(stream, None)
        start = self.start or (first.at if first is not None else self.until)
        if start is None:
            raise SimulationInputError(source, 1, "no events and no --start: nothing to simulate")
        clock = VirtualClock(start)
        engine = self._begin(clock)
        driver = Driver(
            engine, VirtualTime(clock), until=self.until, fire=lambda now: self._fire(engine, now), last=start
        )
        pending = [] if first is None else [first]
        for event in _chain(pending, stream):
            try:
                if not driver.feed(event):
                    break
            except SimulationRuntimeError:
                raise  # a timer due before the event (`_fire`), already named
            except Exception as error:
                if not _poison(error):
                    raise
                line = (where or {}).get("line")
                at = f"{source}:{line}" if line else f"{source}: the {event.type} event of {event.object}:{event.id}"
                raise SimulationRuntimeError(f"{at}: cannot process this event: {_describe(error)}") from None
        driver.run_out(driver.end())

    def _fire(self, engine: Engine, now: dt.datetime) -> int:
        try:
            return engine.run_due(now)
        except Exception as error:
            timer = engine.firing
            if timer is None or not _poison(error):
                raise
            enr = self.store.enrollment(timer.enrollment) if timer.enrollment else None
            whose = f"workflow {timer.workflow!r}"
            if enr is not None:
                whose += f", {enr.object}:{enr.record} (enrollment {enr.id}, step {enr.step})"
            raise SimulationRuntimeError(f"{whose}: cannot go on: {_describe(error)}") from None

    def trace(self) -> list[dict[str, Any]]:
        """The history entries in time order, as trace JSON objects."""
        return [entry.to_json() for entry in self.store.history()]

    def entries(self) -> list[Any]:
        return list(self.store.history())

    def stats(self) -> dict[str, dict[str, Any]]:
        if self.engine is None:
            return {}
        return {name: self.engine.stats(name) for name in self.engine.workflows}


def _chain(first: list[Event], rest: Iterator[Event]) -> Iterator[Event]:
    yield from first
    yield from rest


def simulate_files(
    plans: ProjectPlan,
    records: str | Path,
    events: str | Path,
    *,
    start: dt.datetime | None = None,
    until: dt.datetime | None = None,
    on_history: Callable[[HistoryEntry], None] | None = None,
    lean_crm: bool = False,
    check: InputCheckLike | None = None,
    observer: Observer | None = None,
) -> Simulation:
    """Run a simulation from files (what `wfdsl simulate` does, streaming and lean).
    With `check` (an `inputcheck.InputCheck`), the records and each event are checked
    against the schema and the catalog as they are read; with `observer`, the engine
    tells it each decision (see `Simulation`)."""
    seed = load_records(records)
    where: dict[str, int] = {}
    stream: Iterable[Event] = read_events(events, where)
    if check is not None:
        check.records(seed, str(records))
        stream = check.events(stream, str(events))
    sim = Simulation(plans, seed, start=start, until=until, on_history=on_history, lean_crm=lean_crm, observer=observer)
    sim.run(stream, str(events), where)
    return sim


class InputCheckLike(Protocol):
    """What `simulate_files` needs of `inputcheck.InputCheck`."""

    def records(self, seed: Seed, file: str) -> None: ...

    def events(self, events: Iterable[Event], file: str) -> Iterator[Event]: ...


def _poison(error: BaseException) -> bool:
    """Whether an error raised while processing one input is that input's fault (all
    but the run's own failures: memory, I/O, and the adapter's)."""
    from wfdsl.runtime.protocols import AdapterError

    return not isinstance(error, (MemoryError, OSError, AdapterError, SimulationInputError))


def _describe(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "RecursionError: nested too deeply"
    text = str(error).strip().replace("\n", " ")
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


__all__ = [
    "HORIZON",
    "MAX_YEAR",
    "MIN_YEAR",
    "SEEDED_AT",
    "Seed",
    "SeedRecord",
    "Simulation",
    "SimulationInputError",
    "SimulationRuntimeError",
    "load_records",
    "load_records_data",
    "loads_json",
    "parse_event",
    "read_events",
    "simulate_files",
]
