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

Operating a durable store (`wfdsl run`, `status`, `prune`) needs more than
the engine does: `ServiceStore` declares it -- the store's own id (part of
every idempotency key, so two stores on one CRM never share a key), the
single-service lock, input positions with what identifies the file read
(so a rotated file is noticed), the dead-letter table where input or work
that cannot be processed is set aside, and the counts and pages `status`
shows. The built-in stores implement both protocols; a store that offers
only `StateStore` runs under the engine but not under the service commands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from wfdsl.plan.criteria import Criterion

T = TypeVar("T")
_UTC = dt.timezone.utc

# ---------------------------------------------------------------- errors


class AdapterError(Exception):
    """A CRM adapter call failed."""


class TransientAdapterError(AdapterError):
    """A failure worth retrying (timeouts, rate limits, 5xx): retried with backoff.

    `retry_after` (seconds) is when the remote side asked to be called again
    (HTTP `Retry-After`); the engine retries then instead of after its backoff.
    """

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentAdapterError(AdapterError):
    """A failure that a retry cannot fix (validation, 4xx): `on failure` applies at once."""


# ---------------------------------------------------------------- data
#
# `Event`, `Record`, `Action`, `ActionResult` and `Enrollment` are made for every input,
# record read, action and enrollment: slotted attrs classes without a guard against
# assignment (a frozen class's fields can only be set through a descriptor call, several
# times the cost). They are read-only by contract: the engine shares them (one `Event`
# for every workflow that looks at it, one cached `Record` for every read until the
# record changes) and only ever changes an enrollment that its run holds alone.


def _slot_init(cls: type) -> Callable[..., None]:
    """An `__init__` for a frozen, slotted, keyword-only attrs class whose fields have
    plain defaults (no validators, converters or factories): the one attrs writes, with
    each field stored through its slot's own setter rather than `object.__setattr__` by
    name (about half the time). The values made for every event, record read, action
    and enrollment are not frozen at all, which is cheaper still: assigning a slot costs
    a tenth of either (see the section's head)."""
    namespace: dict[str, Any] = {}
    params, body = [], []
    for field in attrs.fields(cls):
        assert field.validator is None and field.converter is None and field.kw_only
        assert not isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
        name = field.name
        namespace[f"_set_{name}"] = getattr(cls, name).__set__
        if field.default is attrs.NOTHING:
            params.append(name)
        else:
            namespace[f"_default_{name}"] = field.default
            params.append(f"{name}=_default_{name}")
        body.append(f"    _set_{name}(self, {name})")
    source = f"def __init__(self, *, {', '.join(params)}):\n" + "\n".join(body)
    exec(source, namespace)  # the text is made above from the class's own field names
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(vars(cls)["__init__"].__annotations__)
    return init


def fast_init(cls: type[T]) -> type[T]:
    """Give a frozen slotted attrs class the `__init__` of `_slot_init`."""
    type.__setattr__(cls, "__init__", _slot_init(cls))
    return cls


def utc(value: dt.datetime) -> dt.datetime:
    """`value` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is _UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


@attrs.define(kw_only=True)
class Event:
    """Something that happened to a record.

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


@attrs.define(kw_only=True)
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


@attrs.define(kw_only=True)
class Action:
    """One action for the adapter to perform on record `object:id`.

    `kind` is the plan step kind (`send_email`, `set`, `create_task`, …);
    `args` its arguments with personalisation tokens already rendered.
    For `set`/`clear`/`increment`/`copy` the args name `object` (the type of
    the record to change; another type means the primary associated record),
    `property` and `value`.

    `enrollment` and `workflow` say whose step it is (the enrollment id and its
    workflow's name; None for an action not made by an enrollment): an adapter
    gives the events the action causes that enrollment as their `cause`, and a
    log of performed actions keeps them (`wfdsl outbox` shows the workflow).
    """

    kind: str
    object: str
    id: str
    args: Mapping[str, Any]
    at: dt.datetime
    enrollment: str | None = None
    workflow: str | None = None


def same_action(first: Action, kind: str, object_type: str, record_id: str, args: Mapping[str, Any]) -> bool:
    """Whether an action performed under an idempotency key (`first`) is the one
    now asked for again under that key: same kind, record and arguments (the
    `_`-prefixed keys that stored logs keep beside the arguments aside). An adapter that honours keys
    replays the first result only when this holds; a key that comes back with
    another action is an error, never a silent "already done"."""

    def public(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if not str(k).startswith("_")}

    return (
        first.kind == kind
        and first.object == object_type
        and first.id == record_id
        and public(first.args) == public(args)
    )


def replay_mismatch(key: str, first: Action, again: Action) -> PermanentAdapterError:
    """The error for a key used again for another action (see `same_action`)."""
    return PermanentAdapterError(
        f"idempotency key {key!r} was already used for another action "
        f"({first.kind} on {first.object}:{first.id}); {again.kind} on {again.object}:{again.id} not performed"
    )


@attrs.define(kw_only=True)
class ActionResult:
    """What an action produced: the events of the changes it made (chaining), and data."""

    events: tuple[Event, ...] = ()
    data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class Enrollment:
    """One record's passage through one workflow.

    `status` is `active`, `completed` or `unenrolled`. While active, `step` is
    where the enrollment stands and `phase` says what happens on resumption:
    `at` runs that step (an action moved to a window, a retry, a migrated
    enrollment), `after` continues after it (a delay or a `wait for` ended).
    `waiting_for` holds the event pattern of a `wait for` (plan JSON form).

    The engine changes an enrollment in place only while the run that made it (or
    made a copy of it) holds it alone; once handed to a store it is never changed
    again, and one read back from a store is a snapshot for reading.
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


@fast_init
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


@fast_init
@attrs.frozen(kw_only=True)
class HistoryEntry:
    """One line of an enrollment's history; the simulation trace is these, in order."""

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


@attrs.frozen(kw_only=True)
class DeadLetter:
    """Input or work set aside because processing it failed: one bad event or one
    enrollment whose values cannot be computed never blocks the others.

    `kind` is `event` (an input line: `source` and `line` say where, `payload`
    holds its text) or `timer` (a due timer: `workflow`, `enrollment` and the
    record say whose). `reason` is the error in one line. `n` is the number
    the store gave it (0 before it is stored).
    """

    at: dt.datetime
    kind: str
    reason: str
    source: str | None = None
    line: int | None = None
    payload: str = ""
    object: str | None = None
    id: str | None = None
    workflow: str | None = None
    enrollment: str | None = None
    n: int = 0

    def where(self) -> str:
        """`events.jsonl:12`, or the enrollment's workflow and record."""
        if self.source is not None:
            return f"{self.source}:{self.line}" if self.line is not None else self.source
        record = f"{self.object}:{self.id}" if self.object is not None else ""
        return " ".join(x for x in (self.workflow and repr(self.workflow), record, self.enrollment) if x)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "at": utc(self.at).isoformat(),
            "kind": self.kind,
            "source": self.source,
            "line": self.line,
            "object": self.object,
            "id": self.id,
            "workflow": self.workflow,
            "enrollment": self.enrollment,
            "reason": self.reason,
            "payload": self.payload,
        }


@attrs.frozen(kw_only=True)
class InputPosition:
    """How far an events file was read, and what identifies the file that was read.

    `source` is the file's resolved path (the key), `line` and `offset` the
    last line committed and the byte just after it. `device`/`inode` and
    `fingerprint` (SHA-256 of the file's first line, hex) tell a rotated
    file -- replaced, truncated, or truncated and written again -- from the
    one the position belongs to; such a file is read from its start.
    """

    source: str
    line: int
    offset: int
    device: int | None = None
    inode: int | None = None
    fingerprint: str | None = None


#: The stat counters (`conversion_rate` is derived).
STAT_FIELDS: tuple[str, ...] = (
    "enrolled",
    "active",
    "completed",
    "unenrolled",
    "goal_met",
    "emailed",
    "converted",
)


@attrs.frozen(kw_only=True)
class CRMReads:
    """What a set of workflows reads from the CRM, for adapters that fetch records
    remotely and should ask only for that (see `ReadAware`).

    `properties` maps an object type to the properties read of it (criteria,
    tokens, anchors, copies); `history` holds the (object type, property) pairs
    whose history criteria read; `associations` maps an object type to the
    other types read through its associations; `lists` says whether any
    criteria or suppression reads list membership.
    """

    properties: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    history: frozenset[tuple[str, str]] = frozenset()
    associations: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    lists: bool = False


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

    def rewind(self, when: dt.datetime) -> None:
        """Go back to `when`: only for a host undoing a unit of work it rolled back
        (and will do again), never for moving time itself."""
        self._now = utc(when)


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


@runtime_checkable
class CRMAdapter(Protocol):
    """The CRM the workflows act on. Found by name via `wfdsl.adapters`."""

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

    def query(self, object_type: str, criteria: Criterion | None = None) -> Iterator[str]:
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
class EventKeeper(Protocol):
    """A CRM adapter that keeps an event in the record's event history from its parts,
    as `observe` would keep it: the engine's own events (`workflow.enrolled`) that no
    workflow listens to need no `Event` built and dispatched."""

    def keep_event(
        self, event_type: str, object_type: str, record_id: str, at: dt.datetime, data: Mapping[str, Any]
    ) -> None: ...


@runtime_checkable
class QuietPerformer(Protocol):
    """A CRM adapter that performs an action whose events no one would hear (no
    workflow listens to their type, no observer looks on) as `perform` would, keeping
    the events in the record's event history without building them."""

    def perform_unheard(self, action: Action, idempotency_key: str) -> None: ...


@runtime_checkable
class ReadAware(Protocol):
    """A CRM adapter that wants to know what the workflows read (the engine tells it
    once at start and again on every deploy)."""

    def prepare(self, reads: CRMReads) -> None: ...


@runtime_checkable
class StateStore(Protocol):
    """Where the engine keeps its state. Found by name via `wfdsl.stores`."""

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

    # retention
    def prune(self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime) -> int:
        """Delete `action` entries older than `actions_before`, the history of
        enrollments that ended before `history_before`, and facts older than
        `facts_before`; return the number of rows removed."""
        ...


@runtime_checkable
class HistoryColumns(Protocol):
    """A store that takes a history entry as its fields and numbers it itself (the next
    `history` sequence number, as `StateStore.append_history` would be given): no
    `HistoryEntry` is built for an entry nobody reads at once. The engine uses it when
    no observer is shown the entries."""

    def add_history(
        self,
        at: dt.datetime,
        workflow: str,
        object_type: str,
        record_id: str,
        kind: str,
        step: str | None,
        detail: Mapping[str, Any],
        enrollment: str | None,
    ) -> None: ...


@runtime_checkable
class ShapedHistory(Protocol):
    """A store that keeps history entries as shapes (`wfdsl.runtime.history.shape_of`:
    workflow, object type, kind, step and detail in one tuple) and takes an entry as its
    shape, made once for a decision recorded the same way for every enrollment, with
    the time, record id and enrollment id. The engine uses it when no observer is shown
    the entries."""

    def add_shape(self, at: dt.datetime, shape: tuple[Any, ...], record_id: str, enrollment: str | None) -> None: ...


@runtime_checkable
class IdentifiedStore(Protocol):
    """A store with an id of its own (the engine puts it in every idempotency key)."""

    def store_id(self) -> str:
        """The store's own id, random and fixed when the store is created; it begins
        every idempotency key the engine makes (`<store id>/<enrollment>:<step>:<attempt>`),
        so keys of two stores never meet in one CRM. The empty string means "no id"
        (the memory store of `simulate`: keys keep their bare form)."""
        ...


@runtime_checkable
class ServiceStore(IdentifiedStore, Protocol):
    """What `wfdsl run`, `status` and `prune` need from a durable store besides `StateStore`."""

    def lock(self) -> None:
        """Claim the store for one service process, whatever path or alias names it;
        released when the process ends, however it ends. StoreError when another holds it."""
        ...

    # metadata of the service loop (clock, deployed plans, unit tokens)
    def get_meta(self, name: str, default: Any = None) -> Any: ...

    def set_meta(self, name: str, value: Any) -> None: ...

    # input positions (one per events file)
    def input_position(self, source: str) -> InputPosition | None: ...

    def set_input_position(self, position: InputPosition) -> None:
        """Insert or replace by `position.source`, inside the current transaction."""
        ...

    # dead letters
    def add_dead_letter(self, letter: DeadLetter) -> int:
        """Keep a dead letter (in the current transaction); its number."""
        ...

    def dead_letters(self, limit: int | None = None) -> Sequence[DeadLetter]:
        """The most recent `limit` dead letters (all when None), oldest first."""
        ...

    def count_dead_letters(self) -> int: ...

    # what `status` shows, counted by the store (never by loading every row)
    def workflows(self) -> list[str]:
        """Every workflow the store knows of (state, stats or enrollments), sorted."""
        ...

    def count_enrollments(self, workflow: str | None = None, status: str | None = None) -> int: ...

    def count_by_workflow(self, status: str) -> Mapping[str, int]:
        """Enrollments with `status`, counted per workflow."""
        ...

    def waiting(self, limit: int) -> Sequence[tuple[Enrollment, dt.datetime | None]]:
        """The oldest `limit` active enrollments, each with the due time of its timer."""
        ...

    def timers(self, limit: int | None = None) -> Sequence[Timer]:
        """Timers by due time (the earliest `limit` of them)."""
        ...

    def count_timers(self) -> int: ...

    def count_history(self, kind: str | None = None) -> int: ...

    # retention in small steps
    def prune_some(
        self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime, limit: int
    ) -> tuple[int, bool]:
        """One step of `StateStore.prune` in a short transaction of its own: about
        `limit` rows at most. Returns the rows removed and whether to call again
        (False once nothing is left to remove)."""
        ...


__all__ = [
    "STAT_FIELDS",
    "Action",
    "ActionResult",
    "AdapterError",
    "CRMAdapter",
    "CRMReads",
    "Clock",
    "DeadLetter",
    "IdentifiedStore",
    "InputPosition",
    "ServiceStore",
    "Enrollment",
    "Event",
    "HistoryColumns",
    "ShapedHistory",
    "HistoryEntry",
    "PermanentAdapterError",
    "ReadAware",
    "Record",
    "StateStore",
    "SystemClock",
    "Timer",
    "TransientAdapterError",
    "VirtualClock",
    "replay_mismatch",
    "same_action",
    "utc",
]
