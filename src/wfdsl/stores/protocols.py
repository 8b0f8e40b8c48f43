"""Host seams: what `wfdsl run` (and `ingest`, `status`, `prune`) ask of a durable store.

`runtime.protocols.StateStore` is what the engine needs. A host that runs the
engine as a service needs more: an inbox that events enter through, metadata
kept next to the state (input positions, the clock, the deployed plans),
counts for status lines, and, for stores shared by many workers, a way to
claim work. Each capability is a Protocol of its own; the host checks a store
against them once, with `isinstance`, when it starts (never `getattr`).

The built-in stores implement them alike: `MemoryStore`, `SQLiteStore` and
`PostgresStore` are each an `EventInbox`, a `MetaStore` and a `CountingStore`;
`SQLiteStore` and `PostgresStore` (not the memory store) are a `RollbackStore`.

>>> from wfdsl.stores.memory import MemoryStore
>>> store = MemoryStore()
>>> isinstance(store, EventInbox), isinstance(store, RollbackStore)
(True, False)
>>> store.append_events([{"type": "record.created", "object": "contact", "id": "c1",
...                       "at": "2026-01-01T00:00:00Z", "event_id": "e-1"},
...                      {"type": "record.created", "object": "contact", "id": "c1",
...                       "at": "2026-01-01T00:00:00Z", "event_id": "e-1"}])
[1, None]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from wfdsl.runtime.inputs import Seed, event_id_of
from wfdsl.runtime.protocols import Timer


@attrs.frozen(kw_only=True)
class InboxEvent:
    """One row of a store's inbox: its number (insertion order) and the event, a JSON
    object in the events-file format (`at`, `type`, `object`, `id`, `data`, `properties`,
    optional `event_id`)."""

    id: int
    body: Mapping[str, Any]


@runtime_checkable
class EventInbox(Protocol):
    """A table that events enter through (`wfdsl ingest`, `wfdsl serve`, the file of
    `run --events`, or any program that inserts rows); `wfdsl run` consumes it in order."""

    def append_events(self, events: Sequence[Mapping[str, Any]]) -> list[int | None]:
        """Add events (JSON objects in the events format, already checked) to the inbox,
        in order, inside the caller's transaction if one is open (else committed before
        returning). Returns each event's inbox number, or None for an event whose
        `event_id` the inbox already holds (a duplicate, dropped)."""
        ...

    def claim_events(self, limit: int) -> list[InboxEvent]:
        """Up to `limit` pending events, oldest first, for the caller's open transaction.
        A store shared by many workers locks what it returns until that transaction
        ends, and returns an event only when no earlier event of the same record is
        pending, so the events of one record are applied in order."""
        ...

    def finish_events(self, ids: Sequence[int], at: dt.datetime) -> None:
        """Mark claimed events done (in the caller's transaction): they are never
        returned again; their `event_id`s keep deduping until pruned."""
        ...

    def pending_events(self) -> int:
        """How many events wait in the inbox."""
        ...

    def prune_events(self, before: dt.datetime) -> int:
        """Remove the events applied before `before` (their `event_id`s no longer
        dedupe); the number removed."""
        ...


@runtime_checkable
class MetaStore(Protocol):
    """Values a host keeps next to the state, in the same transactions (input
    positions, the service clock, the deployed plans)."""

    def get_meta(self, name: str, default: Any = None) -> Any: ...

    def set_meta(self, name: str, value: Any) -> None: ...


@runtime_checkable
class CountingStore(Protocol):
    """Counts and listings for `wfdsl status` and status lines, without reading every row."""

    def count_enrollments(self, workflow: str | None = None, status: str | None = None) -> int: ...

    def count_history(self, kind: str | None = None) -> int: ...

    def count_timers(self) -> int: ...

    def timers(self, limit: int | None = None) -> list[Timer]:
        """Timers by due time (the earliest `limit` of them)."""
        ...

    def workflows(self) -> list[str]:
        """Every workflow the store knows of, sorted."""
        ...


@runtime_checkable
class WorkerStore(Protocol):
    """A store that many `wfdsl run` processes share (PostgreSQL). Its claims lock
    what they return for the caller's transaction; the host adds these."""

    def wait_for_work(self, timeout: float) -> bool:
        """Sleep until another process signals new work (LISTEN/NOTIFY) or `timeout`
        seconds pass; True if signalled."""
        ...

    def hold(self, name: str) -> bool:
        """Take the lock `name` for the life of the store (one reader per events file);
        False when another process holds it."""
        ...

    def exclusive(self) -> None:
        """Wait for the deploy lock, held until the open transaction ends (one process at a
        time deploys plans and activates workflows)."""
        ...

    def housekeeping(self, now: dt.datetime, prune: bool) -> dict[str, int] | None:
        """Maintenance in one process at a time (stats compaction; with `prune`, the
        retention rules at `now`); what was done, or None when another process has it."""
        ...

    def retryable(self, error: BaseException) -> bool:
        """True when `error` is a conflict with another process (deadlock, serialization
        failure): the transaction was rolled back and running the unit again is the cure."""
        ...

    def expect_plans(self, text: str) -> None:
        """This process runs the plans `text` (as stored under `plans`): its claims fail
        (a StoreError) once another process has deployed others."""
        ...

    def keep_latest(self, name: str, when: dt.datetime) -> None:
        """Set the time `name` in the store's metadata (`get_meta`) to `when`, unless it
        holds a later one already (a virtual clock every worker advances)."""
        ...


@runtime_checkable
class LimitedInbox(Protocol):
    """An inbox that cannot hold every event (PostgreSQL text holds no NUL character)."""

    def refusal(self, body: Mapping[str, Any]) -> str | None:
        """Why `body` cannot be kept, with the JSON path of what is at fault (None: it can)."""
        ...


@runtime_checkable
class ActionCounts(Protocol):
    """Actions counted by kind and outcome (`performed` or `failed`) from the history,
    for `wfdsl serve`'s metrics, without reading every row."""

    def action_counts(self) -> dict[tuple[str, str], int]: ...


@runtime_checkable
class RollbackStore(Protocol):
    """A store whose `transaction()` undoes everything a block wrote when the block
    raises (a database transaction). The host then does a unit again without the input
    that failed through its own fault; with a store that is not one (the memory store
    keeps what a failed block wrote), it sets such inputs aside as it goes."""

    #: Declares the capability (checked with `isinstance`); always True.
    rolls_back: Literal[True]


@runtime_checkable
class ExclusiveStore(Protocol):
    """A store one service process must own (a SQLite file): `lock()` claims it for
    this process or raises StoreError naming the owner."""

    def lock(self) -> None: ...


@runtime_checkable
class JournalStore(Protocol):
    """A store that keeps a CRM's redo journal in its own transaction (see `UnitCRM`)."""

    def put_journal(self, token: int, payload: Any) -> None: ...

    def journals_after(self, token: int) -> list[tuple[int, Any]]: ...

    def drop_journals(self, upto: int) -> None: ...


@runtime_checkable
class UnitCRM(Protocol):
    """A CRM adapter that groups its writes into units committed after the store
    (SQLiteCRM): a unit's redo journal is stored with the state, and replayed when the
    process died between the two commits."""

    def begin_unit(self) -> None: ...

    def unit_journal(self) -> list[list[Any]]: ...

    def end_unit(self, token: int) -> None: ...

    def abort_unit(self) -> None: ...

    def applied_unit(self) -> int: ...

    def replay_unit(self, token: int, journal: Sequence[Sequence[Any]]) -> None: ...


@runtime_checkable
class CallOutCRM(Protocol):
    """A CRM whose actions that leave it (webhooks) wait in an outbox until sent after
    the commit (PostgresCRM); the host calls `dispatch_outbox` between units."""

    def dispatch_outbox(self, batch: int = 32) -> int:
        """Send what waits (claimed so that no two processes send one row); the number sent."""
        ...


@runtime_checkable
class RecordLoader(Protocol):
    """A CRM that imports a records file itself (once: it remembers the file's digest,
    so what the workflows changed since is kept when the service starts again)."""

    def import_seed(self, seed: Seed, *, at: dt.datetime) -> int:
        """Add the records, associations and list memberships of `seed` (read by
        `runtime.inputs`) unless this file was imported before; the number of records added."""
        ...


@runtime_checkable
class SeedableCRM(Protocol):
    """A CRM that records can be added to directly (the memory CRM)."""

    def add_record(
        self, object_type: str, record_id: str, properties: Mapping[str, Any], *, at: dt.datetime
    ) -> None: ...

    def associate(self, a: tuple[str, str], b: tuple[str, str]) -> None: ...

    def add_to_list(self, name: str, key: tuple[str, str]) -> None: ...


@runtime_checkable
class ActionLog(Protocol):
    """A CRM that keeps a log of the actions it performed, by idempotency key
    (`wfdsl outbox`). Each row: `key`, `kind`, `object`, `id`, `at` (aware
    datetime), `args` (as the engine gave them) and `result` (the action's data)."""

    def performed_actions(
        self,
        *,
        record: tuple[str, str] | None = None,
        kind: str | None = None,
        since: dt.datetime | None = None,
    ) -> list[dict[str, Any]]: ...


@runtime_checkable
class Closable(Protocol):
    def close(self) -> None: ...


__all__ = [
    "ActionLog",
    "CallOutCRM",
    "Closable",
    "CountingStore",
    "EventInbox",
    "ExclusiveStore",
    "InboxEvent",
    "JournalStore",
    "LimitedInbox",
    "MetaStore",
    "RecordLoader",
    "SeedableCRM",
    "UnitCRM",
    "WorkerStore",
    "event_id_of",
]
