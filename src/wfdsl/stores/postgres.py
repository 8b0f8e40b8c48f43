"""PostgreSQL state store: enrollments, timers, history, stats, facts and the inbox in one
database that any number of `wfdsl run` workers share (`--store postgresql://…`).

How the work is shared (docs/operating.md, "Many workers on PostgreSQL"):

- Every unit of work is one transaction. Due timers and inbox events are
  claimed with `SELECT … FOR UPDATE SKIP LOCKED` in batches, together with a
  transaction-level advisory lock on their record (`pg_try_advisory_xact_lock`):
  a record whose lock another worker holds is skipped, so one enrollment is
  advanced by one worker at a time, and an inbox event is claimed only when no
  earlier event of its record is pending, so a record's events apply in order.
  Any other record the work touches (an associated company, a chained event)
  is locked before its enrollments are read (`pg_advisory_xact_lock`).
- A batch costs a few statements, not a few per firing. After a claim, the
  enrollments of the claimed records are read in one query (and a CRM on the
  same database reads their records in one more, `Database.on_claim`); while
  the transaction holds their locks nobody else can change them, so the
  batch's reads are answered from that copy, and its writes (enrollments,
  timers, history, stats, facts) are `Bulk` rows: one statement per table at
  commit.
- A worker that dies loses its connection; the server rolls its transaction
  back and releases its locks at once: the work is claimable again with no
  lease to wait out.
- A deploy (a worker starting with changed sources migrates the waiting
  enrollments) holds the deploy lock exclusively; every claim takes it shared,
  so a migration never interleaves with a firing. A worker whose plans are
  no longer the deployed ones stops (`PlansChangedError`) instead of advancing
  migrated enrollments by the old steps.
- Timers of a workflow itself (schedule occurrences, annual re-enrollment)
  and retention run under one advisory lock, in one worker at a time.
- Counters that every unit would touch are not rows that serialise the
  workers: ids come from sequences, stats are appended as deltas and summed
  (compacted by housekeeping).

Schema: versioned in `wfdsl_schema` (component `store`), migrated forward on
open under an advisory lock; a newer schema is refused (`SchemaVersionError`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from wfdsl.runtime.protocols import STAT_FIELDS, DeadLetter, Enrollment, HistoryEntry, InputPosition, Timer, utc
from wfdsl.stores.codec import PAYLOAD_LIMIT, dumps, from_micros, loads, micros, safe_text
from wfdsl.stores.errors import StoreError
from wfdsl.stores.pgdb import Bulk, Database, open_database, release_database
from wfdsl.stores.protocols import InboxEvent, event_id_of

#: Advisory lock of housekeeping: workflow timers, retention, stats compaction.
HOUSEKEEPING_LOCK = 0x77660002
#: Advisory lock taken while a worker deploys plans (first start, changed sources).
DEPLOY_LOCK = 0x77660003
#: The channel workers LISTEN on; a notification means "look for work".
CHANNEL = "wfdsl_work"
#: Counters kept in sequences (never rolled back: a gap after a crash is harmless). A worker
#: takes a block of SEQUENCE_BLOCK numbers at a time.
SEQUENCES = {"enrollment": "wfdsl_enrollment_seq", "history": "wfdsl_history_seq", "timer": "wfdsl_timer_seq"}
SEQUENCE_BLOCK = 64
#: Blocks taken in one round trip, by counter: history entries are many (and their
#: numbers only order one record's entries), ids are kept dense.
SEQUENCE_BLOCKS = {"history": 16, "timer": 4, "enrollment": 1}
#: A timer set to fall due within this many seconds wakes the idle workers (NOTIFY):
#: they sleep at most this long between looks (`wait_for_work`'s poll), so a timer due
#: later is found by a look anyway.
NOTIFY_AHEAD = dt.timedelta(seconds=0.5)
#: How many enrollment ids the store remembers the record of (an id's record never changes).
PLACES = 100_000

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
    CREATE TABLE meta (name text PRIMARY KEY, value text NOT NULL);
    CREATE SEQUENCE wfdsl_enrollment_seq INCREMENT BY 64;
    CREATE SEQUENCE wfdsl_history_seq INCREMENT BY 64;
    CREATE SEQUENCE wfdsl_timer_seq INCREMENT BY 64;
    CREATE TABLE enrollments (
        n bigserial NOT NULL,
        id text PRIMARY KEY,
        workflow text NOT NULL,
        object text NOT NULL,
        record text NOT NULL,
        status text NOT NULL,
        ended bigint,
        data text NOT NULL
    );
    CREATE INDEX enrollments_record ON enrollments (object, record, n);
    CREATE INDEX enrollments_workflow ON enrollments (workflow, status, n);
    CREATE INDEX enrollments_order ON enrollments (n);
    CREATE TABLE timers (
        key text PRIMARY KEY,
        due bigint NOT NULL,
        seq bigint NOT NULL,
        kind text NOT NULL,
        workflow text NOT NULL,
        enrollment text,
        object text,
        record text
    );
    CREATE INDEX timers_due ON timers (due, seq, key);
    CREATE TABLE history (
        n bigserial PRIMARY KEY,
        seq bigint NOT NULL,
        at bigint NOT NULL,
        workflow text NOT NULL,
        object text NOT NULL,
        id text NOT NULL,
        kind text NOT NULL,
        step text,
        detail text NOT NULL,
        enrollment text
    );
    CREATE INDEX history_record ON history (object, id);
    CREATE INDEX history_workflow ON history (workflow);
    CREATE INDEX history_enrollment ON history (enrollment);
    CREATE INDEX history_kind_at ON history (kind, at);
    CREATE TABLE stats (workflow text NOT NULL, field text NOT NULL, value bigint NOT NULL);
    CREATE INDEX stats_key ON stats (workflow, field);
    CREATE TABLE facts (
        kind text NOT NULL, workflow text NOT NULL, object text NOT NULL,
        record text NOT NULL, at bigint NOT NULL,
        PRIMARY KEY (kind, workflow, object, record)
    );
    CREATE INDEX facts_at ON facts (at);
    CREATE TABLE workflows (workflow text PRIMARY KEY, state text NOT NULL);
    CREATE TABLE inbox (
        n bigserial PRIMARY KEY,
        event_id text UNIQUE,
        body jsonb NOT NULL,
        object text GENERATED ALWAYS AS (body ->> 'object') STORED,
        record text GENERATED ALWAYS AS (body ->> 'id') STORED,
        received timestamptz NOT NULL DEFAULT now(),
        done timestamptz
    );
    CREATE INDEX inbox_pending ON inbox (n) WHERE done IS NULL;
    CREATE INDEX inbox_pending_record ON inbox (object, record, n) WHERE done IS NULL;
    CREATE INDEX inbox_done ON inbox (done) WHERE done IS NOT NULL;
    INSERT INTO meta (name, value)
    VALUES ('store_id', '"' || substr(md5(random()::text || clock_timestamp()::text), 1, 16) || '"');
    CREATE TABLE dead_letters (
        n bigserial PRIMARY KEY,
        at bigint NOT NULL,
        kind text NOT NULL,
        reason text NOT NULL,
        source text,
        line bigint,
        payload text NOT NULL,
        object text,
        id text,
        workflow text,
        enrollment text
    );
    CREATE TABLE positions (
        source text PRIMARY KEY,
        line bigint NOT NULL,
        "offset" bigint NOT NULL,
        device numeric,
        inode numeric,
        fingerprint text
    );
    CREATE INDEX enrollments_status ON enrollments (status, n)
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

_ENROLLMENT_FIELDS = frozenset(f.name for f in attrs.fields(Enrollment))
_TIMER_COLUMNS = "key, due, seq, kind, workflow, enrollment"
_HISTORY_COLUMNS = "seq, at, workflow, object, id, kind, step, detail, enrollment"


# The batch writes (pgdb.Bulk): one statement per table and transaction.
_PUT_ENROLLMENTS = Bulk(
    "INSERT INTO enrollments (id, workflow, object, record, status, ended, data) "
    "SELECT i, w, o, r, s, e, d FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], "
    "%b::bigint[], %b::text[]) WITH ORDINALITY AS t(i, w, o, r, s, e, d, n) ORDER BY n "
    "ON CONFLICT (id) DO UPDATE SET workflow = excluded.workflow, object = excluded.object, "
    "record = excluded.record, status = excluded.status, ended = excluded.ended, data = excluded.data",
    key=(0,),
    encode=lambda row: _enrollment_row(row[1]),
)
_SET_TIMERS = Bulk(
    f"INSERT INTO timers ({_TIMER_COLUMNS}, object, record) SELECT * FROM unnest(%b::text[], %b::bigint[], "
    "%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[]) "
    "ON CONFLICT (key) DO UPDATE SET due = excluded.due, seq = excluded.seq, kind = excluded.kind, "
    "workflow = excluded.workflow, enrollment = excluded.enrollment, object = excluded.object, "
    "record = excluded.record",
    key=(0,),
)
_DELETE_TIMERS = Bulk("DELETE FROM timers WHERE key = ANY(%b::text[])", key=(0,))
_APPEND_HISTORY = Bulk(
    f"INSERT INTO history ({_HISTORY_COLUMNS}) SELECT s, a, w, o, i, k, p, d, e FROM unnest(%b::bigint[], "
    "%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[]) "
    "WITH ORDINALITY AS t(s, a, w, o, i, k, p, d, e, n) ORDER BY n"
)
# Stat deltas of one transaction are summed per counter before they are written.
_ADD_STATS = Bulk(
    "INSERT INTO stats (workflow, field, value) SELECT * FROM unnest(%b::text[], %b::text[], %b::bigint[])",
    key=(0, 1),
    combine=lambda a, b: (a[0], a[1], a[2] + b[2]),
)
_ADD_FACTS = Bulk(
    "INSERT INTO facts (kind, workflow, object, record, at) "
    "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[]) "
    "ON CONFLICT (kind, workflow, object, record) DO UPDATE SET at = excluded.at",
    key=(0, 1, 2, 3),
)
# Up to `limit` due timers, row-locked in due order (SKIP LOCKED: never one another worker
# holds; the locks are taken as the LIMIT pulls rows, so never more than `limit`), then
# kept only when their record's lock is free too (workflow timers: the housekeeping
# lock). A timer skipped for its record stays row-locked until this transaction ends;
# the worker that holds the record fires it after.
_CLAIM_TIMERS = (
    f"WITH c AS MATERIALIZED (SELECT {_TIMER_COLUMNS}, object, record FROM timers WHERE due <= %s "
    "ORDER BY due, seq, key LIMIT %s FOR UPDATE SKIP LOCKED) "
    f"SELECT {_TIMER_COLUMNS}, object, record FROM c WHERE CASE WHEN enrollment IS NULL "
    "THEN pg_try_advisory_xact_lock(%s) "
    "ELSE pg_try_advisory_xact_lock(hashtextextended(coalesce(object, '') || ':' || coalesce(record, ''), 0)) "
    "END ORDER BY due, seq, key"
)


class PlansChangedError(StoreError):
    """Another worker deployed other workflows since this one started."""


def _enrollment_row(enrollment: Enrollment) -> tuple[Any, ...]:
    ended = None if enrollment.ended_at is None else micros(enrollment.ended_at)
    return (
        enrollment.id,
        enrollment.workflow,
        enrollment.object,
        enrollment.record,
        enrollment.status,
        ended,
        dumps(attrs.asdict(enrollment, recurse=False)),
    )


def _enrollment(data: str) -> Enrollment:
    values = loads(data)
    return Enrollment(**{k: v for k, v in values.items() if k in _ENROLLMENT_FIELDS})


def _timer(row: Sequence[Any]) -> Timer:
    key, due, seq, kind, workflow, enrollment = row[:6]
    return Timer(key=key, due=from_micros(due), seq=seq, kind=kind, workflow=workflow, enrollment=enrollment)


def _entry(row: Sequence[Any]) -> HistoryEntry:
    seq, at, workflow, object_type, record_id, kind, step, detail, enrollment = row
    return HistoryEntry(
        seq=seq,
        at=from_micros(at),
        workflow=workflow,
        object=object_type,
        id=record_id,
        kind=kind,
        step=step,
        detail=loads(detail),
        enrollment=enrollment,
    )


def nul_path(value: Any, path: str = "") -> str | None:
    """Where a NUL character is in a JSON value (`data.items[1]`; `$` for the value
    itself), or None.

    >>> nul_path({"data": {"form": "a" + chr(0) + "b"}}), nul_path(["ok"])
    ('data.form', None)
    """
    if isinstance(value, str):
        return (path or "$") if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return inner
            found = nul_path(item, inner)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _where(**filters: str | None) -> tuple[str, list[Any]]:
    used = [(name, value) for name, value in filters.items() if value is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{name} = %s" for name, _ in used), [v for _, v in used]


class PostgresStore:
    """A StateStore in a PostgreSQL database, shared by many workers."""

    migrations: tuple[str, ...] = MIGRATIONS

    def __init__(self, url: str, *, claim_batch: int = 64) -> None:
        self.url = url
        self.db: Database = open_database(url)
        try:
            self.db.migrate("store", self.migrations, "state store")
        except BaseException:
            release_database(self.db)
            raise
        self.claim_batch = claim_batch
        self._local = threading.local()
        self.db.on_end.append(self._transaction_ended)
        self._listener: Any = None
        self._closed = False
        self._blocks: dict[str, list[int]] = {}
        self._seq_lock = threading.Lock()
        # enrollment id -> (object, record): what a timer row carries (never changes)
        self._places: dict[str, tuple[str, str]] = {}
        # md5 of the stored plans this worker runs (`expect_plans`), checked at each claim
        self._plans_digest: str | None = None

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """`postgresql://user@host:port/db` (or `postgres://…`), libpq options as a query."""
        return cls(url)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._transaction_ended in self.db.on_end:
            self.db.on_end.remove(self._transaction_ended)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        release_database(self.db)

    @property
    def label(self) -> str:
        return self.db.label

    # ------------------------------------------------------------ transactions

    def _transaction_ended(self, error: BaseException | None = None) -> None:
        local = self._local
        local.claimed = []
        local.claimed_once = False
        local.notify = False
        local.enrollments = {}
        local.loaded = {}
        local.timers = {}

    def _tx(self) -> Any:
        """This thread's transaction state (what it claimed, and what it knows while it
        holds the locks), set up on first use."""
        local = self._local
        if not hasattr(local, "enrollments"):
            self._transaction_ended()
        return local

    def _remember(self, enrollment: Enrollment | str, eid: str, record: tuple[str, str]) -> None:
        """Keep an enrollment (or its stored JSON, decoded when asked for) for the rest of
        the transaction, when this transaction holds its record (then nobody else
        changes it until the commit)."""
        if len(self._places) >= PLACES:
            self._places.clear()
        self._places[eid] = record
        if not self.db.in_transaction:
            return
        tx = self._tx()
        ids = tx.loaded.get(record)
        if ids is not None:
            if eid not in ids:
                ids.append(eid)
        elif f"{record[0]}:{record[1]}" not in self.db.held:
            return
        tx.enrollments[eid] = enrollment

    def _known(self, tx: Any, eid: str) -> Enrollment | None:
        """An enrollment this transaction keeps (decoded on first use, so that a bad row
        fails the firing of its own timer, not the claim of the batch)."""
        found = tx.enrollments.get(eid)
        if isinstance(found, str):
            found = tx.enrollments[eid] = _enrollment(found)
        return found  # type: ignore[no-any-return]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.transaction():
            yield

    @property
    def in_transaction(self) -> bool:
        return self.db.in_transaction

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self.db.transaction() as conn:
            yield conn

    def next_seq(self, name: str) -> int:
        sequence = SEQUENCES.get(name)
        if sequence is not None:
            with self._seq_lock:
                block = self._blocks.get(name)
                if not block:
                    firsts = [
                        int(first)
                        for (first,) in self.db.rows(
                            f"SELECT nextval('{sequence}') FROM generate_series(1, %s)",
                            (SEQUENCE_BLOCKS.get(name, 1),),
                            flush=False,
                        )
                    ]
                    numbers = [n for first in sorted(firsts) for n in range(first, first + SEQUENCE_BLOCK)]
                    block = self._blocks[name] = numbers[::-1]
                return block.pop()
        return int(
            self.db.one(
                "INSERT INTO counters (name, value) VALUES (%s, 1) "
                "ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
                (name,),
            )
        )

    # ------------------------------------------------------------ enrollments

    def put_enrollment(self, enrollment: Enrollment) -> None:
        self.db.defer_row(_PUT_ENROLLMENTS, (enrollment.id, enrollment))
        self._remember(enrollment, enrollment.id, (enrollment.object, enrollment.record))

    def enrollment(self, enrollment_id: str) -> Enrollment | None:
        if self.db.in_transaction:
            known = self._known(self._tx(), enrollment_id)
            if known is not None:
                return known
        data = self.db.one("SELECT data FROM enrollments WHERE id = %s", (enrollment_id,))
        if data is None:
            return None
        found = _enrollment(data)
        self._remember(found, found.id, (found.object, found.record))
        return found

    def enrollments_of(self, object_type: str, record_id: str) -> Sequence[Enrollment]:
        record = (object_type, record_id)
        if self.db.in_transaction:
            tx = self._tx()
            ids = tx.loaded.get(record)
            if ids is not None:
                return [e for e in (self._known(tx, i) for i in ids) if e is not None]
        # The record's lock first (a statement of its own: the read after it must see
        # what the worker that held the lock committed).
        self.db.lock_record(object_type, record_id)
        rows = self.db.rows(
            "SELECT data FROM enrollments WHERE object = %s AND record = %s ORDER BY n", (object_type, record_id)
        )
        found = [_enrollment(data) for (data,) in rows]
        if self.db.in_transaction:
            tx = self._tx()
            tx.loaded[record] = []
            for enrollment in found:
                self._remember(enrollment, enrollment.id, record)
        return found

    def _load_records(self, records: Sequence[tuple[str, str]]) -> None:
        """Read the enrollments of `records` (whose locks this transaction holds) in one query."""
        tx = self._tx()
        wanted = [r for r in records if r not in tx.loaded]
        if not wanted:
            return
        rows = self.db.rows(
            "SELECT e.id, e.object, e.record, e.data FROM enrollments e JOIN unnest(%b::text[], %b::text[]) "
            "AS k(o, r) ON e.object = k.o AND e.record = k.r ORDER BY e.n",
            ([o for o, _ in wanted], [r for _, r in wanted]),
        )
        for record in wanted:
            tx.loaded[record] = []
        for eid, object_type, record_id, data in rows:
            self._remember(data, eid, (object_type, record_id))

    def enrollments(self, workflow: str | None = None, status: str | None = None) -> Iterable[Enrollment]:
        where, params = _where(workflow=workflow, status=status)
        return [
            _enrollment(data) for (data,) in self.db.rows(f"SELECT data FROM enrollments{where} ORDER BY n", params)
        ]

    def count_enrollments(self, workflow: str | None = None, status: str | None = None) -> int:
        where, params = _where(workflow=workflow, status=status)
        return int(self.db.one(f"SELECT count(*) FROM enrollments{where}", params))

    # ------------------------------------------------------------ timers

    def _timer_changed(self, key: str, timer: Timer | None) -> None:
        """This transaction set or removed timer `key`: a claimed copy of it is stale."""
        if not self.db.in_transaction:
            return
        tx = self._tx()
        tx.timers[key] = timer
        if tx.claimed:
            tx.claimed[:] = [t for t in tx.claimed if t.key != key]

    def set_timer(self, timer: Timer) -> None:
        # The timer carries its enrollment's record, so that a claim can lock the record.
        place = None if timer.enrollment is None else self._places.get(timer.enrollment)
        row = (timer.key, micros(timer.due), timer.seq, timer.kind, timer.workflow, timer.enrollment)
        if timer.enrollment is None or place is not None:
            self.db.defer_row(_SET_TIMERS, (*row, *(place or (None, None))), replaces=_DELETE_TIMERS)
        else:  # an enrollment this process has not seen: its record from the table
            self.db.defer(
                f"INSERT INTO timers ({_TIMER_COLUMNS}, object, record) "
                "SELECT %s, %s, %s, %s, %s, %s, e.object, e.record FROM (SELECT 1) AS one "
                "LEFT JOIN enrollments e ON e.id = %s "
                "ON CONFLICT (key) DO UPDATE SET due = excluded.due, seq = excluded.seq, kind = excluded.kind, "
                "workflow = excluded.workflow, enrollment = excluded.enrollment, object = excluded.object, "
                "record = excluded.record",
                (*row, timer.enrollment),
            )
        self._timer_changed(timer.key, timer)
        if self.db.in_transaction and utc(timer.due) <= dt.datetime.now(dt.timezone.utc) + NOTIFY_AHEAD:
            self._notify()

    def cancel_timer(self, key: str) -> None:
        self.db.defer_row(_DELETE_TIMERS, (key,), replaces=_SET_TIMERS)
        self._timer_changed(key, None)

    def timer(self, key: str) -> Timer | None:
        if self.db.in_transaction:
            timers = self._tx().timers
            if key in timers:
                return timers[key]  # type: ignore[no-any-return]
        rows = self.db.rows(f"SELECT {_TIMER_COLUMNS} FROM timers WHERE key = %s", (key,))
        return _timer(rows[0]) if rows else None

    def claim_timers(self, now: dt.datetime, limit: int) -> list[Timer]:
        """Lock up to `limit` due timers for this transaction: those of records no other
        worker holds, plus workflow timers when this worker holds housekeeping. The
        enrollments of their records are read with them (one more query)."""
        rows = self._claim(_CLAIM_TIMERS, (micros(now), int(limit), HOUSEKEEPING_LOCK))
        held = self.db.held
        records = []
        timers = []
        known = self._tx().timers
        for row in rows:
            timer = _timer(row)
            timers.append(timer)
            known[timer.key] = timer
            if row[5] is not None:
                held.add(f"{row[6] or ''}:{row[7] or ''}")
                if row[6] is not None and row[7] is not None:
                    records.append((row[6], row[7]))
        self._claimed_records(records)
        return timers

    def expect_plans(self, text: str) -> None:
        """This worker runs the plans `text` (as `set_meta("plans", text)` stored them): a
        claim after another worker deployed others raises PlansChangedError."""
        self._plans_digest = hashlib.md5(dumps(text).encode("utf-8")).hexdigest()  # noqa: S324 - not security

    def _claim(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """A claim statement after the deploy lock (shared: a deploy in progress is waited
        for) and the deployed plans' digest, in one round trip; its rows."""
        _, deployed, rows = self.db.pipelined(
            [
                ("SELECT pg_advisory_xact_lock_shared(%s)", (DEPLOY_LOCK,)),
                ("SELECT md5(value) FROM meta WHERE name = 'plans'", ()),
                (sql, params),
            ]
        )
        if self._plans_digest is not None and deployed and deployed[0][0] != self._plans_digest:
            raise PlansChangedError(
                f"{self.label}: another worker deployed other workflows since this one started; "
                "stop it and start it with the sources now deployed (`wfdsl plan` compares them)"
            )
        return rows

    def _claimed_records(self, records: Sequence[tuple[str, str]]) -> None:
        """This transaction holds `records`: their enrollments here, their CRM records in
        a CRM on this database."""
        if records:
            self._load_records(records)
        self.db.claimed(records)

    def pop_due(self, now: dt.datetime) -> Timer | None:
        if not self.db.in_transaction:
            with self.transaction():
                return self.pop_due(now)
        tx = self._tx()
        claimed = tx.claimed
        limit = micros(now)
        while True:
            if not claimed:
                # One claim per transaction: a unit of work fires one batch and commits.
                if tx.claimed_once:
                    return None
                tx.claimed_once = True
                claimed.extend(self.claim_timers(now, self.claim_batch))
                if not claimed:
                    return None
            timer: Timer = claimed.pop(0)
            if micros(timer.due) > limit:
                continue
            # A timer this transaction removed or replaced since the claim is no longer
            # in `claimed` (`_timer_changed`); the row is locked, so nobody else did.
            self.db.defer_row(_DELETE_TIMERS, (timer.key,), replaces=_SET_TIMERS)
            tx.timers[timer.key] = None
            return timer

    def next_due(self) -> dt.datetime | None:
        due = self.db.one("SELECT min(due) FROM timers")
        return None if due is None else from_micros(due)

    def timers(self, limit: int | None = None) -> list[Timer]:
        sql = f"SELECT {_TIMER_COLUMNS} FROM timers ORDER BY due, seq, key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_timer(row) for row in self.db.rows(sql)]

    def count_timers(self) -> int:
        return int(self.db.one("SELECT count(*) FROM timers"))

    # ------------------------------------------------------------ history

    def append_history(self, entry: HistoryEntry) -> None:
        self.db.defer_row(
            _APPEND_HISTORY,
            (
                entry.seq,
                micros(entry.at),
                entry.workflow,
                entry.object,
                entry.id,
                entry.kind,
                entry.step,
                dumps(entry.detail),
                entry.enrollment,
            ),
        )

    def history(self, record: tuple[str, str] | None = None, workflow: str | None = None) -> Sequence[HistoryEntry]:
        clauses: list[str] = []
        params: list[Any] = []
        if record is not None:
            clauses.append("object = %s AND id = %s")
            params += [record[0], record[1]]
        if workflow is not None:
            clauses.append("workflow = %s")
            params.append(workflow)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        return [
            _entry(row) for row in self.db.rows(f"SELECT {_HISTORY_COLUMNS} FROM history{where} ORDER BY n", params)
        ]

    def action_counts(self) -> dict[tuple[str, str], int]:
        """Actions by kind (`detail.action`) and outcome (`performed`, `failed`)."""
        rows = self.db.rows(
            "SELECT kind, (detail::jsonb)->>'action', count(*) FROM history "
            "WHERE kind IN ('action', 'failed') GROUP BY 1, 2"
        )
        return {
            (str(action), "performed" if kind == "action" else "failed"): int(count)
            for kind, action, count in rows
            if action is not None
        }

    def count_history(self, kind: str | None = None) -> int:
        where, params = _where(kind=kind)
        return int(self.db.one(f"SELECT count(*) FROM history{where}", params))

    # ------------------------------------------------------------ stats (deltas, summed)

    def add_stat(self, workflow: str, field: str, delta: int) -> None:
        self.db.defer_row(_ADD_STATS, (workflow, field, int(delta)))

    def stats(self, workflow: str) -> Mapping[str, int]:
        found = {
            field: int(value)
            for field, value in self.db.rows(
                "SELECT field, sum(value) FROM stats WHERE workflow = %s GROUP BY field", (workflow,)
            )
        }
        return {name: found.get(name, 0) for name in STAT_FIELDS}

    def reset_stats(self, workflow: str, fields: Sequence[str]) -> None:
        self.db.execute("DELETE FROM stats WHERE workflow = %s AND field = ANY(%s)", (workflow, list(fields)))

    def compact_stats(self) -> int:
        """Sum the stat deltas into one row per counter; the rows removed."""
        with self._write() as conn:
            before = int(conn.execute("SELECT count(*) FROM stats").fetchone()[0])
            conn.execute(
                "WITH gone AS (DELETE FROM stats RETURNING workflow, field, value) "
                "INSERT INTO stats (workflow, field, value) SELECT workflow, field, sum(value) FROM gone "
                "GROUP BY workflow, field"
            )
            after = int(conn.execute("SELECT count(*) FROM stats").fetchone()[0])
        return before - after

    # ------------------------------------------------------------ facts

    def add_fact(self, kind: str, workflow: str, object_type: str, record_id: str, at: dt.datetime) -> None:
        self.db.defer_row(_ADD_FACTS, (kind, workflow, object_type, record_id, micros(at)))

    def has_fact(self, kind: str, workflow: str, object_type: str, record_id: str) -> bool:
        return (
            self.db.one(
                "SELECT 1 FROM facts WHERE kind = %s AND workflow = %s AND object = %s AND record = %s",
                (kind, workflow, object_type, record_id),
            )
            is not None
        )

    def count_facts(self) -> int:
        return int(self.db.one("SELECT count(*) FROM facts"))

    # ------------------------------------------------------------ workflow state

    def workflow_state(self, workflow: str) -> Mapping[str, Any]:
        state = self.db.one("SELECT state FROM workflows WHERE workflow = %s", (workflow,))
        return {} if state is None else dict(loads(state))

    def set_workflow_state(self, workflow: str, state: Mapping[str, Any]) -> None:
        self.db.defer(
            "INSERT INTO workflows (workflow, state) VALUES (%s, %s) "
            "ON CONFLICT (workflow) DO UPDATE SET state = excluded.state",
            (workflow, dumps(dict(state))),
        )

    def workflows(self) -> list[str]:
        rows = self.db.rows(
            "SELECT workflow FROM workflows UNION SELECT workflow FROM stats "
            "UNION SELECT workflow FROM enrollments ORDER BY 1"
        )
        return [name for (name,) in rows]

    # ------------------------------------------------------------ service metadata

    def get_meta(self, name: str, default: Any = None) -> Any:
        text = self.db.one("SELECT value FROM meta WHERE name = %s", (name,))
        return default if text is None else loads(text)

    def set_meta(self, name: str, value: Any) -> None:
        self.db.defer(
            "INSERT INTO meta (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, dumps(value)),
        )

    # ------------------------------------------------------------ inbox

    def _notify(self) -> None:
        # Delivered when the transaction commits; one per transaction is enough.
        if getattr(self._local, "notify", False):
            return
        self.db.defer("SELECT pg_notify(%s, '')", (CHANNEL,))
        if self.db.in_transaction:
            self._local.notify = True

    def refusal(self, body: Mapping[str, Any]) -> str | None:
        """Why PostgreSQL cannot keep this event (None: it can): its text and jsonb
        cannot hold the NUL character."""
        path = nul_path(body)
        return None if path is None else f"{path}: a NUL character (\\u0000) cannot be stored in PostgreSQL"

    def keep_latest(self, name: str, when: dt.datetime) -> None:
        self.db.defer(
            "INSERT INTO meta (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = "
            "CASE WHEN (meta.value::jsonb #>> '{}')::timestamptz >= (excluded.value::jsonb #>> '{}')::timestamptz "
            "THEN meta.value ELSE excluded.value END",
            (name, dumps(utc(when).isoformat())),
        )

    def append_events(self, events: Sequence[Mapping[str, Any]]) -> list[int | None]:
        for number, body in enumerate(events, start=1):
            reason = self.refusal(body)
            if reason is not None:  # refused before anything is written
                raise ValueError(f"event {number}: {reason}")
        numbers: list[int | None] = []
        with self._write() as conn:
            for first in range(0, len(events), 5000):
                chunk = events[first : first + 5000]
                keys = [event_id_of(body) for body in chunk]
                # One statement per chunk; rows keep their order (ORDER BY the ordinality).
                rows = conn.execute(
                    "INSERT INTO inbox (event_id, body) SELECT k, b::jsonb FROM "
                    "unnest(%b::text[], %b::text[]) WITH ORDINALITY AS t(k, b, i) ORDER BY i "
                    "ON CONFLICT (event_id) DO NOTHING RETURNING n, event_id",
                    (keys, [json.dumps(dict(body), ensure_ascii=False) for body in chunk]),
                ).fetchall()
                by_key = {key: int(n) for n, key in rows if key is not None}
                unkeyed = iter(sorted(int(n) for n, key in rows if key is None))
                for key in keys:
                    numbers.append(next(unkeyed) if key is None else by_key.pop(key, None))
            if any(n is not None for n in numbers):
                self._notify()
        return numbers

    def claim_events(self, limit: int) -> list[InboxEvent]:
        # In inbox order, each with its record's lock: a record another worker holds is
        # skipped whole (its earlier events are in that worker's hands), so the events
        # of one record apply in order. Candidates are the oldest few pending rows, so
        # that no plan can take the locks of every pending record.
        rows = self._claim(
            "SELECT n, body, object, record FROM inbox WHERE n IN "
            "(SELECT n FROM inbox WHERE done IS NULL ORDER BY n LIMIT %s) AND done IS NULL "
            "AND pg_try_advisory_xact_lock(hashtextextended(coalesce(object, '') || ':' || coalesce(record, ''), 0)) "
            "ORDER BY n LIMIT %s FOR UPDATE SKIP LOCKED",
            (int(limit) * 4, int(limit)),
        )
        held = self.db.held
        out = []
        records = []
        for number, body, object_type, record_id in rows:
            held.add(f"{object_type or ''}:{record_id or ''}")
            if object_type is not None and record_id is not None:
                records.append((object_type, record_id))
            out.append(InboxEvent(id=int(number), body=body))
        self._claimed_records(records)
        return out

    def finish_events(self, ids: Sequence[int], at: dt.datetime) -> None:
        if ids:
            self.db.defer("UPDATE inbox SET done = %s WHERE n = ANY(%s)", (utc(at), list(ids)))

    def pending_events(self) -> int:
        return int(self.db.one("SELECT count(*) FROM inbox WHERE done IS NULL"))

    def prune_events(self, before: dt.datetime) -> int:
        return int(self.db.execute("DELETE FROM inbox WHERE done IS NOT NULL AND done < %s", (utc(before),)).rowcount)

    # ------------------------------------------------------------ workers

    def wait_for_work(self, timeout: float) -> bool:
        """Sleep until a worker or a producer signals new work (LISTEN/NOTIFY) or `timeout`
        seconds pass (the poll that covers a lost notification); True if signalled."""
        if self._listener is None:
            self._listener = self.db.listener()
            self._listener.execute(f"LISTEN {CHANNEL}")
        signalled = False
        for _ in self._listener.notifies(timeout=max(0.0, timeout), stop_after=1):
            signalled = True
        return signalled

    def hold(self, name: str) -> bool:
        """Take a session lock named `name` for the life of this store (one reader per
        events file); False when another worker holds it."""
        if self._listener is None:
            self._listener = self.db.listener()
            self._listener.execute(f"LISTEN {CHANNEL}")
        row = self._listener.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (f"hold:{name}",)
        ).fetchone()
        return bool(row[0])

    def exclusive(self) -> None:
        """Wait for the deploy lock (held until this transaction ends): one worker at a time
        deploys plans and activates workflows."""
        self.db.one("SELECT pg_advisory_xact_lock(%s)", (DEPLOY_LOCK,))

    def housekeeping(self, now: dt.datetime, prune: bool) -> dict[str, int] | None:
        """Under the housekeeping lock (skipped when another worker has it): stats compacted
        and, with `prune`, the retention rules applied. What was done, or None."""
        from wfdsl.runtime.engine import ACTION_RETENTION, FACT_RETENTION, HISTORY_RETENTION

        with self.transaction():
            if not self.db.one("SELECT pg_try_advisory_xact_lock(%s)", (HOUSEKEEPING_LOCK,)):
                return None
            done = {"stats_compacted": self.compact_stats()}
            if prune:
                now = utc(now)
                done["removed"] = self.prune(
                    actions_before=now - ACTION_RETENTION,
                    history_before=now - HISTORY_RETENTION,
                    facts_before=now - FACT_RETENTION,
                )
                done["inbox_removed"] = self.prune_events(now - ACTION_RETENTION)
        return done

    def retryable(self, error: BaseException) -> bool:
        return self.db.retryable(error)

    # ------------------------------------------------------------ the service side (ServiceStore)

    def store_id(self) -> str:
        """The database's own random id, made with its schema (in every idempotency key)."""
        value = self.get_meta("store_id")
        return str(value) if value else ""

    def lock(self) -> None:
        """Nothing to claim: any number of workers share a PostgreSQL store."""

    def input_position(self, source: str) -> InputPosition | None:
        rows = self.db.rows(
            'SELECT source, line, "offset", device, inode, fingerprint FROM positions WHERE source = %s',
            (safe_text(source),),
        )
        if not rows:
            return None
        source_, line, offset, device, inode, fingerprint = rows[0]
        return InputPosition(
            source=source_,
            line=int(line),
            offset=int(offset),
            device=None if device is None else int(device),
            inode=None if inode is None else int(inode),
            fingerprint=fingerprint,
        )

    def set_input_position(self, position: InputPosition) -> None:
        self.db.defer(
            'INSERT INTO positions (source, line, "offset", device, inode, fingerprint) '
            "VALUES (%s, %s, %s, %s, %s, %s) "
            'ON CONFLICT (source) DO UPDATE SET line = excluded.line, "offset" = excluded."offset", '
            "device = excluded.device, inode = excluded.inode, fingerprint = excluded.fingerprint",
            (
                safe_text(position.source),
                position.line,
                position.offset,
                position.device,
                position.inode,
                position.fingerprint,
            ),
        )

    def add_dead_letter(self, letter: DeadLetter) -> int:
        def text(value: Any) -> str | None:
            return None if value is None else safe_text(value, 1000).replace("\x00", "\\0")

        return int(
            self.db.one(
                "INSERT INTO dead_letters (at, kind, reason, source, line, payload, object, id, workflow, enrollment) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING n",
                (
                    micros(letter.at),
                    safe_text(letter.kind, 100).replace("\x00", "\\0"),
                    safe_text(letter.reason, PAYLOAD_LIMIT).replace("\x00", "\\0"),
                    text(letter.source),
                    letter.line,
                    safe_text(letter.payload, PAYLOAD_LIMIT).replace("\x00", "\\0"),
                    text(letter.object),
                    text(letter.id),
                    text(letter.workflow),
                    text(letter.enrollment),
                ),
            )
        )

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        sql = "SELECT n, at, kind, reason, source, line, payload, object, id, workflow, enrollment FROM dead_letters"
        sql += " ORDER BY n DESC" + ("" if limit is None else f" LIMIT {int(limit)}")
        out = []
        for n, at, kind, reason, source, line, payload, obj, rid, workflow, enrollment in reversed(self.db.rows(sql)):
            out.append(
                DeadLetter(
                    n=int(n),
                    at=from_micros(at),
                    kind=kind,
                    reason=reason,
                    source=source,
                    line=None if line is None else int(line),
                    payload=payload,
                    object=obj,
                    id=rid,
                    workflow=workflow,
                    enrollment=enrollment,
                )
            )
        return out

    def count_dead_letters(self) -> int:
        return int(self.db.one("SELECT count(*) FROM dead_letters"))

    def count_by_workflow(self, status: str) -> dict[str, int]:
        rows = self.db.rows("SELECT workflow, count(*) FROM enrollments WHERE status = %s GROUP BY workflow", (status,))
        return {name: int(count) for name, count in rows}

    def waiting(self, limit: int) -> list[tuple[Enrollment, dt.datetime | None]]:
        rows = self.db.rows(
            "SELECT e.data, t.due FROM enrollments e LEFT JOIN timers t ON t.key = e.id "
            "WHERE e.status = 'active' ORDER BY e.n LIMIT %s",
            (int(limit),),
        )
        return [(_enrollment(data), None if due is None else from_micros(due)) for data, due in rows]

    def prune_some(
        self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime, limit: int
    ) -> tuple[int, bool]:
        """One short step of `prune` (about `limit` rows of each kind), in a transaction of its own."""
        limit = max(1, int(limit))
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM history WHERE n IN (SELECT n FROM history WHERE kind = 'action' AND at < %s LIMIT %s)",
                (micros(actions_before), limit),
            ).rowcount
            removed += conn.execute(
                "DELETE FROM history WHERE n IN (SELECT h.n FROM history h JOIN enrollments e ON e.id = h.enrollment "
                "WHERE e.status != 'active' AND e.ended IS NOT NULL AND e.ended < %s AND h.at < %s LIMIT %s)",
                (micros(history_before), micros(history_before), limit),
            ).rowcount
            removed += conn.execute(
                "DELETE FROM facts WHERE ctid IN (SELECT ctid FROM facts WHERE at < %s LIMIT %s)",
                (micros(facts_before), limit),
            ).rowcount
        return int(removed), removed > 0

    # ------------------------------------------------------------ retention

    def prune(self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime) -> int:
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM history WHERE kind = 'action' AND at < %s", (micros(actions_before),)
            ).rowcount
            removed += conn.execute(
                "DELETE FROM history WHERE at < %s AND enrollment IN ("
                "SELECT id FROM enrollments WHERE status != 'active' AND ended IS NOT NULL AND ended < %s)",
                (micros(history_before), micros(history_before)),
            ).rowcount
            removed += conn.execute("DELETE FROM facts WHERE at < %s", (micros(facts_before),)).rowcount
        return int(removed)


__all__ = ["CHANNEL", "MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]
