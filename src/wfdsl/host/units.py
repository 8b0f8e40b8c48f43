"""Units of work: a store transaction (+ the CRM's unit) in, one commit out; failures sorted.

A durable host commits everything done for a batch of inputs as one unit:

    1. CRM unit opened (a `UnitCRM`); engine work (CRM writes journaled,
       store writes in the store transaction);
    2. the CRM redo journal (a `JournalStore`), the input position and the
       clock written to the store; store COMMIT  <- the unit is now durable;
    3. CRM COMMIT, recording the unit token.

A crash between 2 and 3 is repaired on the next start (`Units.recover`) by
replaying the journal into the CRM. An input that cannot be processed through
its own fault (`is_poison`) is set aside as a dead letter (`DeadLetters`) and
the rest of the unit goes on; a failure of the service itself (its files,
disk, network) ends the unit, rolled back, and is read again on restart.

>>> describe(ValueError("date value out of range"))
'ValueError: date value out of range'
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from wfdsl.host.positions import Line, Meta
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import (
    AdapterError,
    CRMAdapter,
    DeadLetter,
    Event,
    PermanentAdapterError,
    ServiceStore,
    StateStore,
    Timer,
    utc,
)
from wfdsl.stores.protocols import InboxEvent, JournalStore, UnitCRM

UTC = dt.timezone.utc

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


class Poison(Exception):
    """Processing input `index` of a unit (at `where`, FILE:LINE) failed with `error`,
    that input's fault."""

    def __init__(self, index: int, error: BaseException, where: str) -> None:
        super().__init__(describe(error))
        self.index = index
        self.error = error
        self.where = where


class PoisonTimer(Exception):
    """Firing `timer` (due before input `index`) failed with `error`, its enrollment's fault."""

    def __init__(self, index: int, timer: Timer, error: BaseException) -> None:
        super().__init__(describe(error))
        self.index = index
        self.timer = timer
        self.error = error


def event_json(event: Event) -> dict[str, Any]:
    """An event in the events-file form (for a dead letter's payload)."""
    out: dict[str, Any] = {"at": utc(event.at).isoformat(), "type": event.type, "object": event.object, "id": event.id}
    if event.data:
        out["data"] = dict(event.data)
    if event.properties is not None:
        out["properties"] = dict(event.properties)
    return out


class Counted(Protocol):
    """Where dead letters are counted (the service's `Counts`)."""

    dead: int


class Units:
    """Opens units of work on a store and a CRM (see the module docs)."""

    def __init__(self, store: StateStore, crm: CRMAdapter, meta: Meta) -> None:
        self.store = store
        self.meta = meta
        # The capabilities of the store and the CRM, looked at once (docs/embedding.md).
        self.crm_units = crm if isinstance(crm, UnitCRM) else None
        self.journal = store if isinstance(store, JournalStore) and self.crm_units is not None else None
        self._depth = 0

    @contextmanager
    def unit(self, on_commit: Callable[[], None] = lambda: None) -> Iterator[None]:
        """One commit: store transaction (with the CRM journal), then the CRM unit.
        `on_commit` writes what the host keeps with every unit (the clock) inside the
        transaction. A unit opened inside another joins it."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            yield from self._outer(on_commit)
        finally:
            self._depth = 0

    def _outer(self, on_commit: Callable[[], None]) -> Iterator[None]:
        units = self.crm_units
        if units is not None:
            units.begin_unit()
        token = 0
        try:
            with self.store.transaction():
                yield
                if self.journal is not None and units is not None:
                    applied = units.applied_unit()
                    token = max(int(self.meta.get("unit", 0)), applied) + 1
                    self.journal.put_journal(token, units.unit_journal())
                    self.journal.drop_journals(token - 1)
                    self.meta.set("unit", token)
                on_commit()
        except BaseException:
            if units is not None:
                units.abort_unit()
            raise
        if units is not None:
            units.end_unit(token)

    def recover(self) -> int:
        """Replay CRM journals whose commit was lost in a crash; the number replayed."""
        if self.journal is None or self.crm_units is None:
            return 0
        units = self.crm_units
        replayed = 0
        for token, journal in self.journal.journals_after(units.applied_unit()):
            units.replay_unit(token, journal)
            replayed += 1
        return replayed


class DeadLetters:
    """Sets inputs and timers aside: kept by a `ServiceStore`, said on the log, counted
    in `counts.dead`."""

    def __init__(self, store: StateStore, log: Callable[[str], None], counts: Counted) -> None:
        self.store = store
        self._service = store if isinstance(store, ServiceStore) else None
        self.log = log
        self.counts = counts

    def add(self, letter: DeadLetter, *, quiet: bool = False) -> None:
        """Keep a dead letter and say so on the log (unless `quiet`: the caller said it already)."""
        number = self._service.add_dead_letter(letter) if self._service is not None else 0
        self.counts.dead += 1
        if quiet:
            return
        tag = f" (dead letter {number})" if number else ""
        what = "line" if letter.kind == "event" else f"{letter.kind} {letter.payload!r}"
        where = letter.where()
        self.log(f"wfdsl: error: {where}: {letter.reason}; {what} set aside{tag}, the rest goes on")

    def event(self, event: Event, reason: str, source: str, line: int) -> None:
        """An event that failed to process (the memory store: set aside as it goes)."""
        payload = json.dumps(event_json(event), ensure_ascii=False, default=str)
        self.add(
            DeadLetter(at=dt.datetime.now(UTC), kind="event", reason=reason, source=source, line=line, payload=payload)
        )

    def line(self, item: Line, source: str, reason: str, *, quiet: bool = False) -> None:
        """A line of an events file, as it was read."""
        text = item.text.decode("utf-8", "replace").rstrip("\r\n")
        self.add(
            quiet=quiet,
            letter=DeadLetter(
                at=dt.datetime.now(UTC), kind="event", reason=reason, source=source, line=item.number, payload=text
            ),
        )

    def row(self, row: InboxEvent, source: str, at: Line | int, reason: str) -> None:
        """An inbox row (from an events file's `Line`, or named `inbox:<row>`); said when it failed."""
        line = at.number if isinstance(at, Line) else at
        payload = (
            at.text.decode("utf-8", "replace").rstrip("\r\n")
            if isinstance(at, Line)
            else json.dumps(row.body, ensure_ascii=False, default=str)
        )
        self.add(
            DeadLetter(at=dt.datetime.now(UTC), kind="event", reason=reason, source=source, line=line, payload=payload),
            quiet=True,
        )

    def timer(self, engine: Engine, timer: Timer, error: BaseException) -> None:
        """Set a timer aside, and end its enrollment (unenrolled with reason `error`, its
        history saying why) when that can be done."""
        reason = describe(error)
        self.store.cancel_timer(timer.key)
        enrollment = self.store.enrollment(timer.enrollment) if timer.enrollment else None
        if enrollment is not None:
            try:
                with self.store.transaction():
                    engine.quarantine(enrollment.id, reason)
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
        self.add(letter)


__all__ = [
    "SYSTEMIC",
    "DeadLetters",
    "Poison",
    "PoisonTimer",
    "Units",
    "describe",
    "event_json",
    "is_poison",
]
