"""Runtime protocols: what the engine needs from a CRM adapter, a state store and a clock.

The engine (runtime.engine) is written against these protocols only; the
built-in implementations live in `wfdsl.adapters` and `wfdsl.stores`. The data
that crosses them (events, records, actions, enrollments, timers, history
entries) is plain frozen `attrs` classes defined here, so an adapter or a store
needs nothing else from wfdsl.

Store design, for durable implementations: every change the engine makes for
one input -- an ingested event or a fired timer, with every step and chained
event it sets off (enrollment rows, timers, history entries, stats, facts,
counters) -- happens inside one `with store.transaction():` block. A SQLite
store opens `BEGIN IMMEDIATE` on entry and commits on a clean exit (rolls back
on an exception); nested blocks join the outer one. After a crash the input is
either fully committed or not at all; replaying it re-creates the same
enrollment ids (counters roll back too), hence the same idempotency keys, so an
adapter that honours keys performs nothing twice. Timers are keyed
(`Timer.key`), so setting a timer replaces the previous one with that key: an
enrollment has at most one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import attrs

# ---------------------------------------------------------------- errors


class AdapterError(Exception):
    """A CRM adapter call failed."""


class TransientAdapterError(AdapterError):
    """A failure worth retrying (timeouts, rate limits, 5xx): retried with backoff."""


class PermanentAdapterError(AdapterError):
    """A failure that a retry cannot fix (validation, 4xx): `on failure` applies at once."""


# ---------------------------------------------------------------- data


def utc(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


@attrs.frozen(kw_only=True)
class Event:
    """Something that happened to a record (SPEC §2.4, §8).

    Input events (`record.created`, `record.updated`, `list.added`, …) carry
    `properties` for record changes and `data` for the catalog attributes.
    `cause` is the enrollment id when a workflow's own action produced the
    event (chaining and the loop guard use it).
    """

    type: str
    object: str
    id: str
    at: dt.datetime
    data: Mapping[str, Any] = attrs.field(factory=dict)
    properties: Mapping[str, Any] | None = None
    cause: str | None = None


@attrs.frozen(kw_only=True)
class Record:
    """A CRM record as the engine sees it: properties, list memberships, associations.

    `associations` maps an object type to the associated record ids, the
    primary one first.
    """

    object: str
    id: str
    properties: Mapping[str, Any]
    lists: frozenset[str] = frozenset()
    associations: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Action:
    """One action for the adapter to perform on record `object:id`.

    `kind` is the plan step kind (`send_email`, `set`, `create_task`, …);
    `args` its arguments with personalisation tokens already rendered.
    For `set`/`clear`/`increment`/`copy` the args name `object` (the type of
    the record to change; another type means the primary associated record),
    `property` and `value`.
    """

    kind: str
    object: str
    id: str
    args: Mapping[str, Any]
    at: dt.datetime


@attrs.frozen(kw_only=True)
class ActionResult:
    """What an action produced: the events of the changes it made (chaining), and data."""

    events: tuple[Event, ...] = ()
    data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Enrollment:
    """One record's passage through one workflow.

    `status` is `active`, `completed` or `unenrolled`. While active, `step` is
    where the enrollment stands and `phase` says what happens on resumption:
    `at` runs that step (an action moved to a window, a retry, a migrated
    enrollment), `after` continues after it (a delay or a `wait for` ended).
    `waiting_for` holds the event pattern of a `wait for` (plan JSON form).
    """

    id: str
    workflow: str
    object: str
    record: str
    status: str
    enrolled_at: dt.datetime
    seq: int
    version: str = ""
    step: str | None = None
    phase: str = "at"
    attempt: int = 0
    ended_at: dt.datetime | None = None
    emailed: bool = False
    goal_met: bool = False
    converted: bool = False
    received: bool | None = None
    waiting_for: Mapping[str, Any] | None = None
    anchor: str | None = None  # ISO date of the anchor for this enrollment
    caused_by: str | None = None
    passes: int = 0  # `go to` jumps taken: a step performed again in a loop gets a new key


@attrs.frozen(kw_only=True)
class Timer:
    """A due time. `key` is the enrollment id for enrollment timers, or
    `schedule:<workflow>` / `annual:<workflow>` for a workflow's own timers."""

    key: str
    due: dt.datetime
    seq: int
    kind: str  # resume | timeout | schedule | annual
    workflow: str
    enrollment: str | None = None


@attrs.frozen(kw_only=True)
class HistoryEntry:
    """One line of an enrollment's history; the simulation trace is these, in order (SPEC §8)."""

    seq: int
    at: dt.datetime
    workflow: str
    object: str
    id: str
    kind: str
    step: str | None
    detail: Mapping[str, Any]
    enrollment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": utc(self.at).isoformat(),
            "workflow": self.workflow,
            "object": self.object,
            "id": self.id,
            "kind": self.kind,
            "step": self.step,
            "detail": dict(self.detail),
        }


#: The stat counters of SPEC §5.3 (`conversion_rate` is derived).
STAT_FIELDS: tuple[str, ...] = (
    "enrolled",
    "active",
    "completed",
    "unenrolled",
    "goal_met",
    "emailed",
    "converted",
)


# ---------------------------------------------------------------- protocols


@runtime_checkable
class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, aware UTC."""
        ...


class VirtualClock:
    """A clock that moves only when told to: a year of workflow time in milliseconds.

    >>> clock = VirtualClock(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    >>> clock.set(dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)); clock.now().day
    2
    """

    def __init__(self, start: dt.datetime) -> None:
        self._now = utc(start)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, when: dt.datetime) -> None:
        """Move to `when`; the clock never goes back."""
        when = utc(when)
        if when > self._now:
            self._now = when

    def advance(self, delta: dt.timedelta) -> None:
        self._now = self._now + delta


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


@runtime_checkable
class CRMAdapter(Protocol):
    """The CRM the workflows act on (SPEC §6). Found by name via `wfdsl.adapters`."""

    def get(self, object_type: str, record_id: str) -> Record | None:
        """The record with its properties, lists and associations; None if unknown."""
        ...

    def property_history(self, object_type: str, record_id: str, prop: str) -> Sequence[tuple[dt.datetime, Any]]:
        """Every value the property has had, oldest first (the current one last)."""
        ...

    def event_history(
        self, object_type: str, record_id: str, event_type: str
    ) -> Sequence[tuple[dt.datetime, Mapping[str, Any]]]:
        """Events of that type that happened to the record, oldest first."""
        ...

    def query(self, object_type: str, criteria: Mapping[str, Any] | None = None) -> Iterator[str]:
        """Ids of the records of a type, in a stable order. `criteria` (plan
        criteria data) is a hint an adapter may push down; the engine re-checks."""
        ...

    def observe(self, event: Event) -> Sequence[Event]:
        """Take note of an event from outside: apply it when it is a change to data
        the adapter holds (`record.created`, `record.updated`, `list.added`,
        `list.removed`), keep it in the event history, and return the catalog
        events it stands for (`record.updated` becomes `property.changed`s)."""
        ...

    def perform(self, action: Action, idempotency_key: str) -> ActionResult:
        """Perform an action once per key: a second call with the same key does
        nothing and returns the first result. Raises Transient/PermanentAdapterError."""
        ...


@runtime_checkable
class StateStore(Protocol):
    """Where the engine keeps its state (SPEC §6). Found by name via `wfdsl.stores`."""

    def transaction(self) -> AbstractContextManager[None]:
        """All changes inside commit together or not at all; nesting joins the outer block."""
        ...

    def next_seq(self, name: str) -> int:
        """The next number of a named counter (enrollment ids, timer and history order)."""
        ...

    # enrollments
    def put_enrollment(self, enrollment: Enrollment) -> None:
        """Insert or replace by `enrollment.id`."""
        ...

    def enrollment(self, enrollment_id: str) -> Enrollment | None: ...

    def enrollments_of(self, object_type: str, record_id: str) -> Sequence[Enrollment]:
        """Every enrollment of a record (all workflows, all statuses), oldest first."""
        ...

    def enrollments(self, workflow: str | None = None, status: str | None = None) -> Iterable[Enrollment]:
        """Enrollments filtered by workflow and/or status, oldest first."""
        ...

    # timers
    def set_timer(self, timer: Timer) -> None:
        """Insert, replacing the timer with the same key."""
        ...

    def cancel_timer(self, key: str) -> None: ...

    def timer(self, key: str) -> Timer | None: ...

    def pop_due(self, now: dt.datetime) -> Timer | None:
        """Remove and return the earliest timer due at or before `now` (by due, then seq)."""
        ...

    def next_due(self) -> dt.datetime | None: ...

    # history
    def append_history(self, entry: HistoryEntry) -> None: ...

    def history(self, record: tuple[str, str] | None = None, workflow: str | None = None) -> Sequence[HistoryEntry]:
        """History entries in order, filtered by record `(object, id)` and/or workflow."""
        ...

    # stats
    def add_stat(self, workflow: str, field: str, delta: int) -> None: ...

    def stats(self, workflow: str) -> Mapping[str, int]:
        """The counters of STAT_FIELDS (missing ones are 0)."""
        ...

    def reset_stats(self, workflow: str, fields: Sequence[str]) -> None: ...

    # facts (`enrolled in workflow`, `reached goal of workflow`)
    def add_fact(self, kind: str, workflow: str, object_type: str, record_id: str, at: dt.datetime) -> None: ...

    def has_fact(self, kind: str, workflow: str, object_type: str, record_id: str) -> bool: ...

    # workflow state (active flag, deployed version, …)
    def workflow_state(self, workflow: str) -> Mapping[str, Any]: ...

    def set_workflow_state(self, workflow: str, state: Mapping[str, Any]) -> None: ...

    # retention (SPEC §5.10)
    def prune(self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime) -> int:
        """Delete `action` entries older than `actions_before`, the history of
        enrollments that ended before `history_before`, and facts older than
        `facts_before`; return the number of rows removed."""
        ...


__all__ = [
    "STAT_FIELDS",
    "Action",
    "ActionResult",
    "AdapterError",
    "CRMAdapter",
    "Clock",
    "Enrollment",
    "Event",
    "HistoryEntry",
    "PermanentAdapterError",
    "Record",
    "StateStore",
    "SystemClock",
    "Timer",
    "TransientAdapterError",
    "VirtualClock",
    "utc",
]
