"""PostgreSQL state store, its foundation: schema, bulk statements, row codecs, and transactions."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs

from wfdsl.runtime.protocols import Enrollment
from wfdsl.stores.codec import TIMER_COLUMNS as _TIMER_COLUMNS
from wfdsl.stores.codec import dumps, loads, micros
from wfdsl.stores.errors import StoreError
from wfdsl.stores.pgdb import Bulk, Database, open_database, release_database

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


class PostgresBase:
    """The shared database, the open transaction and what it knows about the records it holds locked."""

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

    def _notify(self) -> None:
        # Delivered when the transaction commits; one per transaction is enough.
        if getattr(self._local, "notify", False):
            return
        self.db.defer("SELECT pg_notify(%s, '')", (CHANNEL,))
        if self.db.in_transaction:
            self._local.notify = True
