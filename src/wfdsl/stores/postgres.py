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
- A worker that dies loses its connection; the server rolls its transaction
  back and releases its locks at once: the work is claimable again with no
  lease to wait out.
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
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from wfdsl.runtime.protocols import STAT_FIELDS, DeadLetter, Enrollment, HistoryEntry, InputPosition, Timer, utc
from wfdsl.stores.codec import PAYLOAD_LIMIT, dumps, from_micros, loads, micros, safe_text
from wfdsl.stores.pgdb import Database, open_database, release_database
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

    def _transaction_ended(self) -> None:
        self._local.claimed = []
        self._local.claimed_once = False
        self._local.notify = False

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
                    first = int(self.db.one(f"SELECT nextval('{sequence}')"))
                    block = self._blocks[name] = list(range(first + SEQUENCE_BLOCK - 1, first - 1, -1))
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
        ended = None if enrollment.ended_at is None else micros(enrollment.ended_at)
        self.db.defer(
            "INSERT INTO enrollments (id, workflow, object, record, status, ended, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
            "workflow = excluded.workflow, object = excluded.object, record = excluded.record, "
            "status = excluded.status, ended = excluded.ended, data = excluded.data",
            (
                enrollment.id,
                enrollment.workflow,
                enrollment.object,
                enrollment.record,
                enrollment.status,
                ended,
                dumps(attrs.asdict(enrollment, recurse=False)),
            ),
        )

    def enrollment(self, enrollment_id: str) -> Enrollment | None:
        data = self.db.one("SELECT data FROM enrollments WHERE id = %s", (enrollment_id,))
        return None if data is None else _enrollment(data)

    def enrollments_of(self, object_type: str, record_id: str) -> Sequence[Enrollment]:
        # The record's lock first (a statement of its own: the read after it must see
        # what the worker that held the lock committed).
        self.db.lock_record(object_type, record_id)
        rows = self.db.rows(
            "SELECT data FROM enrollments WHERE object = %s AND record = %s ORDER BY n", (object_type, record_id)
        )
        return [_enrollment(data) for (data,) in rows]

    def enrollments(self, workflow: str | None = None, status: str | None = None) -> Iterable[Enrollment]:
        where, params = _where(workflow=workflow, status=status)
        return [
            _enrollment(data) for (data,) in self.db.rows(f"SELECT data FROM enrollments{where} ORDER BY n", params)
        ]

    def count_enrollments(self, workflow: str | None = None, status: str | None = None) -> int:
        where, params = _where(workflow=workflow, status=status)
        return int(self.db.one(f"SELECT count(*) FROM enrollments{where}", params))

    # ------------------------------------------------------------ timers

    def set_timer(self, timer: Timer) -> None:
        # The timer carries its enrollment's record, so that a claim can lock the record.
        self.db.defer(
            f"INSERT INTO timers ({_TIMER_COLUMNS}, object, record) "
            "SELECT %s, %s, %s, %s, %s, %s, e.object, e.record FROM (SELECT 1) AS one "
            "LEFT JOIN enrollments e ON e.id = %s "
            "ON CONFLICT (key) DO UPDATE SET due = excluded.due, seq = excluded.seq, kind = excluded.kind, "
            "workflow = excluded.workflow, enrollment = excluded.enrollment, object = excluded.object, "
            "record = excluded.record",
            (
                timer.key,
                micros(timer.due),
                timer.seq,
                timer.kind,
                timer.workflow,
                timer.enrollment,
                timer.enrollment,
            ),
        )
        if self.db.in_transaction and utc(timer.due) <= dt.datetime.now(dt.timezone.utc):
            self._notify()

    def cancel_timer(self, key: str) -> None:
        self.db.defer("DELETE FROM timers WHERE key = %s", (key,))

    def timer(self, key: str) -> Timer | None:
        rows = self.db.rows(f"SELECT {_TIMER_COLUMNS} FROM timers WHERE key = %s", (key,))
        return _timer(rows[0]) if rows else None

    def _claimed(self) -> list[Timer]:
        claimed: list[Timer] | None = getattr(self._local, "claimed", None)
        if claimed is None:
            claimed = self._local.claimed = []
        return claimed

    def claim_timers(self, now: dt.datetime, limit: int) -> list[Timer]:
        """Lock up to `limit` due timers for this transaction: those of records no other
        worker holds, plus workflow timers when this worker holds housekeeping."""
        rows = self.db.rows(
            f"SELECT {_TIMER_COLUMNS}, object, record FROM timers WHERE key IN "
            "(SELECT key FROM timers WHERE due <= %s ORDER BY due, seq, key LIMIT %s) AND due <= %s "
            "AND CASE WHEN enrollment IS NULL THEN pg_try_advisory_xact_lock(%s) "
            "ELSE pg_try_advisory_xact_lock(hashtextextended(coalesce(object, '') || ':' || coalesce(record, ''), 0)) "
            "END ORDER BY due, seq, key LIMIT %s FOR UPDATE SKIP LOCKED",
            (micros(now), int(limit) * 4, micros(now), HOUSEKEEPING_LOCK, int(limit)),
        )
        held = self.db.held
        for row in rows:
            if row[5] is not None:
                held.add(f"{row[6] or ''}:{row[7] or ''}")
        return [_timer(row) for row in rows]

    def pop_due(self, now: dt.datetime) -> Timer | None:
        if not self.db.in_transaction:
            with self.transaction():
                return self.pop_due(now)
        claimed = self._claimed()
        limit = micros(now)
        while True:
            if not claimed:
                # One claim per transaction: a unit of work fires one batch and commits.
                if getattr(self._local, "claimed_once", False):
                    return None
                self._local.claimed_once = True
                claimed.extend(self.claim_timers(now, self.claim_batch))
                if not claimed:
                    return None
            timer = claimed.pop(0)
            if micros(timer.due) > limit:
                continue
            # Gone or replaced by work done since the claim (same transaction): skip it.
            removed = self.db.execute("DELETE FROM timers WHERE key = %s AND seq = %s", (timer.key, timer.seq))
            if removed.rowcount:
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
        self.db.defer(
            f"INSERT INTO history ({_HISTORY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
        self.db.defer("INSERT INTO stats (workflow, field, value) VALUES (%s, %s, %s)", (workflow, field, delta))

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
        self.db.defer(
            "INSERT INTO facts (kind, workflow, object, record, at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (kind, workflow, object, record) DO UPDATE SET at = excluded.at",
            (kind, workflow, object_type, record_id, micros(at)),
        )

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
        self.db.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
        if self.db.in_transaction:
            self._local.notify = True

    def append_events(self, events: Sequence[Mapping[str, Any]]) -> list[int | None]:
        for number, body in enumerate(events, start=1):
            if "\\u0000" in json.dumps(dict(body)):
                # jsonb cannot hold the NUL character: refused before anything is written
                raise ValueError(f"event {number}: a NUL character (\\u0000) cannot be stored in PostgreSQL")
        numbers: list[int | None] = []
        with self._write() as conn:
            for first in range(0, len(events), 5000):
                chunk = events[first : first + 5000]
                keys = [event_id_of(body) for body in chunk]
                # One statement per chunk; rows keep their order (ORDER BY the ordinality).
                rows = conn.execute(
                    "INSERT INTO inbox (event_id, body) SELECT k, b::jsonb FROM "
                    "unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(k, b, i) ORDER BY i "
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
        rows = self.db.rows(
            "SELECT n, body, object, record FROM inbox WHERE n IN "
            "(SELECT n FROM inbox WHERE done IS NULL ORDER BY n LIMIT %s) AND done IS NULL "
            "AND pg_try_advisory_xact_lock(hashtextextended(coalesce(object, '') || ':' || coalesce(record, ''), 0)) "
            "ORDER BY n LIMIT %s FOR UPDATE SKIP LOCKED",
            (int(limit) * 4, int(limit)),
        )
        held = self.db.held
        out = []
        for number, body, object_type, record_id in rows:
            held.add(f"{object_type or ''}:{record_id or ''}")
            out.append(InboxEvent(id=int(number), body=body))
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
