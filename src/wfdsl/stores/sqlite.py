"""SQLite state store: enrollments, timers, history, stats and facts in one SQLite file.

The embedded default of `wfdsl run` (`--store sqlite:///wfdsl-state.db`).
Stdlib `sqlite3` in WAL mode. Every `with store.transaction():` block is one
SQLite transaction (`BEGIN IMMEDIATE` … `COMMIT`, `ROLLBACK` on an
exception); a nested block is a SAVEPOINT, so an exception caught by the
caller undoes the nested block only. A write made outside any block commits
on its own.

Durability: `synchronous=FULL` by default — in WAL mode a commit returns only
after the WAL is fsynced, so a committed step survives a process crash *and*
a power loss. `?synchronous=normal` trades the power-loss guarantee (not the
process-crash one) for speed. The service loop commits in batches, which
amortises the fsync over many steps.

The schema is versioned with `PRAGMA user_version` and migrated forward on
open; a file written by a newer wfdsl is refused (`SchemaVersionError`), and
`PRAGMA application_id` keeps a CRM file from being opened as a store.

>>> store = SQLiteStore(":memory:")
>>> with store.transaction():
...     store.add_stat("W", "enrolled", 1)
>>> store.stats("W")["enrolled"]
1
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import os
import platform
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from wfdsl.runtime.protocols import (
    STAT_FIELDS,
    DeadLetter,
    Enrollment,
    HistoryEntry,
    InputPosition,
    Timer,
    utc,
)
from wfdsl.stores.codec import (
    PAYLOAD_LIMIT,
    PLAIN_TYPES,
    decode,
    dumps,
    encode,
    from_micros,
    loads,
    micros,
    safe_text,
)
from wfdsl.stores.errors import SchemaVersionError, StoreError
from wfdsl.stores.protocols import InboxEvent, event_id_of
from wfdsl.stores.sqlitedb import connect, migrate, sqlite_options

#: `PRAGMA application_id` of a wfdsl state store ("wfst").
STORE_APPLICATION_ID = 0x77667374

#: Migration i turns schema version i into i+1 (version 0 is an empty file).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE enrollments (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        workflow TEXT NOT NULL,
        object TEXT NOT NULL,
        record TEXT NOT NULL,
        status TEXT NOT NULL,
        ended INTEGER,
        data TEXT NOT NULL
    );
    CREATE INDEX enrollments_record ON enrollments (object, record);
    CREATE INDEX enrollments_workflow ON enrollments (workflow, status);
    CREATE TABLE timers (
        key TEXT PRIMARY KEY,
        due INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        workflow TEXT NOT NULL,
        enrollment TEXT
    );
    CREATE INDEX timers_due ON timers (due, seq, key);
    CREATE TABLE history (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        workflow TEXT NOT NULL,
        object TEXT NOT NULL,
        id TEXT NOT NULL,
        kind TEXT NOT NULL,
        step TEXT,
        detail TEXT NOT NULL,
        enrollment TEXT
    );
    CREATE INDEX history_record ON history (object, id);
    CREATE INDEX history_workflow ON history (workflow);
    CREATE INDEX history_enrollment ON history (enrollment);
    CREATE INDEX history_kind_at ON history (kind, at);
    CREATE TABLE stats (
        workflow TEXT NOT NULL, field TEXT NOT NULL, value INTEGER NOT NULL,
        PRIMARY KEY (workflow, field)
    );
    CREATE TABLE facts (
        kind TEXT NOT NULL, workflow TEXT NOT NULL, object TEXT NOT NULL,
        record TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (kind, workflow, object, record)
    );
    CREATE INDEX facts_at ON facts (at);
    CREATE TABLE workflows (workflow TEXT PRIMARY KEY, state TEXT NOT NULL);
    CREATE TABLE journal (token INTEGER PRIMARY KEY, payload TEXT NOT NULL)
    """,
    # 2: the inbox that events enter through (docs/operating.md, "The inbox").
    """
    CREATE TABLE inbox (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT UNIQUE,
        body TEXT NOT NULL,
        received TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        done TEXT
    );
    CREATE INDEX inbox_pending ON inbox (n) WHERE done IS NULL
    """,
    # 3: the store's own id (in every idempotency key), dead letters, input positions
    # with what identifies the file, and an index for the waiting enrollments page.
    # 2: the store's own id (in every idempotency key), dead letters, input positions
    # with what identifies the file, and an index for the waiting enrollments page.
    """
    INSERT OR IGNORE INTO meta (name, value) VALUES ('store_id', '"' || lower(hex(randomblob(8))) || '"');
    CREATE TABLE dead_letters (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        source TEXT,
        line INTEGER,
        payload TEXT NOT NULL,
        object TEXT,
        id TEXT,
        workflow TEXT,
        enrollment TEXT
    );
    CREATE TABLE positions (
        source TEXT PRIMARY KEY,
        line INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        device INTEGER,
        inode INTEGER,
        fingerprint TEXT
    );
    CREATE INDEX enrollments_status ON enrollments (status)
    """,
    # 4: enrollment rows may be positional (`ENROLLMENT_LAYOUT`); no table changes, the
    # version only keeps an older wfdsl, which reads the keyed form alone, from the file.
    "",
)

SCHEMA_VERSION = len(MIGRATIONS)

_ENROLLMENT_FIELDS = frozenset(f.name for f in attrs.fields(Enrollment))

#: The order of an enrollment's fields in its positional row (`data` is a JSON list of
#: their values). Append-only: a row written before a field was added is shorter, and
#: the missing fields take their defaults; reordering would misread every stored row.
ENROLLMENT_LAYOUT: tuple[str, ...] = (
    "id",
    "workflow",
    "object",
    "record",
    "status",
    "enrolled_at",
    "seq",
    "version",
    "step",
    "phase",
    "attempt",
    "ended_at",
    "emailed",
    "goal_met",
    "converted",
    "received",
    "waiting_for",
    "anchor",
    "caused_by",
    "passes",
)
_layout_values = operator.attrgetter(*ENROLLMENT_LAYOUT)
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def enrollment_data(enrollment: Enrollment) -> str:
    """The positional JSON row of an enrollment: values in `ENROLLMENT_LAYOUT` order,
    without the field names a keyed object would repeat in every row (about half the
    text, and a list is quicker to build and to read back)."""
    return _encode_json([v if type(v) in PLAIN_TYPES else encode(v) for v in _layout_values(enrollment)])


def _enrollment(data: str) -> Enrollment:
    values = json.loads(data)
    if type(values) is list:
        return Enrollment(
            **{
                name: v if type(v) in PLAIN_TYPES else decode(v)
                for name, v in zip(ENROLLMENT_LAYOUT, values, strict=False)
            }
        )
    # The keyed form of schema versions 1-3: field name -> value.
    values = decode(values)
    return Enrollment(**{k: v for k, v in values.items() if k in _ENROLLMENT_FIELDS})


def _timer(row: Sequence[Any]) -> Timer:
    key, due, seq, kind, workflow, enrollment = row
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


def _optional_text(value: Any) -> str | None:
    return None if value is None else safe_text(value, 1000)


_TIMER_COLUMNS = "key, due, seq, kind, workflow, enrollment"
_DEAD_COLUMNS = "n, at, kind, reason, source, line, payload, object, id, workflow, enrollment"


def _dead(row: Sequence[Any]) -> DeadLetter:
    n, at, kind, reason, source, line, payload, object_type, record_id, workflow, enrollment = row
    return DeadLetter(
        n=n,
        at=from_micros(at),
        kind=kind,
        reason=reason,
        source=source,
        line=line,
        payload=payload,
        object=object_type,
        id=record_id,
        workflow=workflow,
        enrollment=enrollment,
    )


_HISTORY_COLUMNS = "seq, at, workflow, object, id, kind, step, detail, enrollment"
_INSERT_HISTORY = f"INSERT INTO history ({_HISTORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_ADD_STAT = (
    "INSERT INTO stats (workflow, field, value) VALUES (?, ?, ?) "
    "ON CONFLICT (workflow, field) DO UPDATE SET value = value + excluded.value"
)


class SQLiteStore:
    """A StateStore in a SQLite file (`sqlite`)."""

    #: The schema's migrations; a new schema version appends one (never edits one).
    migrations: tuple[str, ...] = MIGRATIONS

    def __init__(self, path: str | Path, *, synchronous: str = "full") -> None:
        self.path = str(path)
        self._conn = connect(self.path, STORE_APPLICATION_ID, "state store", synchronous)
        try:
            migrate(self._conn, self.migrations, STORE_APPLICATION_ID, self.path, "state store")
        except BaseException:
            self._conn.close()
            raise
        self._depth = 0
        self._lock: Any = None  # a filelock.FileLock while `lock()` holds the store
        # Decoded enrollments by id, with the JSON they came from: a record's enrollments
        # are read on every event, decoding is the cost, and equal text means equal value.
        # A write fills it too, so the read after a write never decodes.
        self._decoded: dict[str, tuple[str, Enrollment]] = {}
        # What this connection knows to be in the file within the open transaction
        # (which holds the write lock, so no other connection can change it): rows it
        # read or wrote, and timer keys it deleted. Forgotten at every BEGIN and on any
        # rollback, so it never outlives the state it describes.
        self._current: dict[str, tuple[str, Enrollment]] = {}
        self._no_timer: set[str] = set()
        # Work kept in memory until the outermost block commits (in the same
        # transaction, so just as atomic): counter values, stat deltas to add, and
        # history rows to insert (all in one statement; read back only after it).
        self._seq: dict[str, int] = {}
        self._seq_dirty: set[str] = set()
        self._stat_deltas: dict[tuple[str, str], int] = {}
        # Per open nested block: (counters, dirty names, stat deltas) as they were at
        # its start, restored if it rolls back.
        self._history_rows: list[tuple[Any, ...]] = []
        self._saved: list[tuple[dict[str, int], set[str], dict[tuple[str, str], int]]] = []
        # Nested blocks whose SAVEPOINT is not issued yet: it is issued just before the
        # block's first write, so a block that writes nothing costs no statement.
        self._lazy = 0
        # (history cut-off, last enrollment row looked at) of a prune in progress
        self._prune_walk: tuple[int, int] | None = None

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """`sqlite:///state.db`, `sqlite:////abs/state.db`, `…?synchronous=normal`."""
        path, options = sqlite_options(url)
        return cls(path, synchronous=options.get("synchronous", "full"))

    def close(self) -> None:
        self._conn.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def store_id(self) -> str:
        """The store's own random id, made when the file was created (see `ServiceStore`)."""
        value = self.get_meta("store_id")
        return str(value) if value else ""

    def lock(self) -> None:
        """Claim the store for one service process: a lock on `REAL.lock`, where REAL is
        the store file with every symlink resolved, so two paths to one file take the
        same lock. `filelock` makes it portable (flock where there is fcntl, the
        Windows locking API elsewhere) and the lock is released when the process ends,
        however it ends. StoreError if another process has it."""
        if self.path == ":memory:" or self._lock is not None:
            return
        from filelock import FileLock, Timeout

        real = os.path.realpath(self.path)
        lock = FileLock(real + ".lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            owner = self.get_meta("owner") or "another process"
            raise StoreError(
                f"{self.path} is in use by another `wfdsl run` ({owner}); stop it first or use another --store"
            ) from None
        except OSError as error:
            raise StoreError(f"{real}.lock: cannot lock the store: {error.strerror or error}") from None
        self._lock = lock
        self.set_meta("owner", f"pid {os.getpid()} on {platform.node() or 'this host'}")

    # ------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self._conn
        depth = self._depth
        if depth == 0:
            conn.execute("BEGIN IMMEDIATE")
            self._forget()
        else:
            # Rows kept so far belong to the blocks around this one: written now, before
            # its SAVEPOINT, so that rolling it back takes back only its own.
            self._flush_history()
            self._lazy += 1
            self._saved.append((dict(self._seq), set(self._seq_dirty), dict(self._stat_deltas)))
        self._depth = depth + 1
        try:
            yield
            if depth == 0:
                self._flush()
        except BaseException:
            self._depth = depth
            if depth == 0:
                self._forget()
                conn.execute("ROLLBACK")
            else:
                self._seq, self._seq_dirty, self._stat_deltas = self._saved.pop()
                self._history_rows.clear()  # this block's own (see above)
                self._current.clear()
                self._no_timer.clear()
                if self._lazy:
                    self._lazy -= 1  # never issued: nothing was written in the block
                else:
                    conn.execute(f"ROLLBACK TO s{depth}")
                    conn.execute(f"RELEASE s{depth}")
            raise
        self._depth = depth
        if depth == 0:
            conn.execute("COMMIT")
        else:
            self._saved.pop()
            if self._lazy:
                self._lazy -= 1
            else:
                conn.execute(f"RELEASE s{depth}")

    def _forget(self) -> None:
        self._current.clear()
        self._no_timer.clear()
        self._seq.clear()
        self._seq_dirty.clear()
        self._stat_deltas.clear()
        self._history_rows.clear()
        self._saved.clear()
        self._lazy = 0

    def _w(self) -> sqlite3.Connection:
        """The connection, for a write: issues the SAVEPOINTs of the open blocks first."""
        if self._lazy:
            first = self._depth - self._lazy
            for depth in range(first, self._depth):
                self._conn.execute(f"SAVEPOINT s{depth}")
            self._lazy = 0
        return self._conn

    def _flush(self) -> None:
        """Write what was kept in memory (counters, stat deltas) into the open transaction."""
        if self._seq_dirty:
            self._w().executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [(name, self._seq[name]) for name in sorted(self._seq_dirty)],
            )
            self._seq_dirty.clear()
        self._flush_stats()
        self._flush_history()

    def _flush_history(self) -> None:
        if self._history_rows:
            rows = self._history_rows
            self._history_rows = []
            self._w().executemany(_INSERT_HISTORY, rows)

    def _flush_stats(self) -> None:
        deltas = [(w, f, d) for (w, f), d in self._stat_deltas.items() if d]
        self._stat_deltas.clear()
        if deltas:
            self._w().executemany(_ADD_STAT, deltas)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # One atomic unit for a multi-statement method; no savepoint when already inside one.
        if self._depth:
            yield self._w()
        else:
            with self.transaction():
                yield self._conn

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def next_seq(self, name: str) -> int:
        # Read once per transaction (under its write lock), counted in memory, written
        # back when the transaction commits: one statement per name, not per number.
        with self._write():
            value = self._seq.get(name)
            if value is None:
                value = self._one("SELECT value FROM counters WHERE name = ?", (name,)) or 0
            value += 1
            self._seq[name] = value
            self._seq_dirty.add(name)
        return value

    # ------------------------------------------------------------ enrollments

    def put_enrollment(self, enrollment: Enrollment) -> None:
        eid = enrollment.id
        data = enrollment_data(enrollment)
        known = self._current.get(eid) if self._depth else None
        if known is not None and known[0] == data:
            return  # the row already holds exactly this
        ended = None if enrollment.ended_at is None else micros(enrollment.ended_at)
        self._w().execute(
            "INSERT INTO enrollments (id, workflow, object, record, status, ended, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
            "workflow = excluded.workflow, object = excluded.object, record = excluded.record, "
            "status = excluded.status, ended = excluded.ended, data = excluded.data",
            (eid, enrollment.workflow, enrollment.object, enrollment.record, enrollment.status, ended, data),
        )
        self._remember(eid, data, enrollment)
        if self._depth:
            self._current[eid] = (data, enrollment)

    def _remember(self, enrollment_id: str, data: str, value: Enrollment) -> None:
        if len(self._decoded) >= 200_000:
            self._decoded.clear()
        self._decoded[enrollment_id] = (data, value)

    def _decode(self, enrollment_id: str, data: str) -> Enrollment:
        cached = self._decoded.get(enrollment_id)
        if cached is not None and cached[0] == data:
            return cached[1]
        value = _enrollment(data)
        self._remember(enrollment_id, data, value)
        return value

    def enrollment(self, enrollment_id: str) -> Enrollment | None:
        if self._depth:
            known = self._current.get(enrollment_id)
            if known is not None:
                return known[1]
        data = self._one("SELECT data FROM enrollments WHERE id = ?", (enrollment_id,))
        if data is None:
            return None
        value = self._decode(enrollment_id, data)
        if self._depth:
            self._current[enrollment_id] = (data, value)
        return value

    def enrollments_of(self, object_type: str, record_id: str) -> Sequence[Enrollment]:
        rows = self._conn.execute(
            "SELECT id, data FROM enrollments WHERE object = ? AND record = ? ORDER BY n",
            (object_type, record_id),
        )
        return [self._decode(eid, data) for eid, data in rows]

    def enrollments(self, workflow: str | None = None, status: str | None = None) -> Iterable[Enrollment]:
        where, params = _where(workflow=workflow, status=status)
        rows = self._conn.execute(f"SELECT id, data FROM enrollments{where} ORDER BY n", params)
        return [self._decode(eid, data) for eid, data in rows]

    def count_enrollments(self, workflow: str | None = None, status: str | None = None) -> int:
        where, params = _where(workflow=workflow, status=status)
        count: int = self._one(f"SELECT count(*) FROM enrollments{where}", params)
        return count

    # ------------------------------------------------------------ timers

    def set_timer(self, timer: Timer) -> None:
        self._no_timer.discard(timer.key)
        self._w().execute(
            f"INSERT OR REPLACE INTO timers ({_TIMER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (timer.key, micros(timer.due), timer.seq, timer.kind, timer.workflow, timer.enrollment),
        )

    def cancel_timer(self, key: str) -> None:
        if self._depth:
            if key in self._no_timer:
                return  # popped or cancelled in this transaction and not set since
            self._no_timer.add(key)
        self._w().execute("DELETE FROM timers WHERE key = ?", (key,))

    def timer(self, key: str) -> Timer | None:
        row = self._conn.execute(f"SELECT {_TIMER_COLUMNS} FROM timers WHERE key = ?", (key,)).fetchone()
        return None if row is None else _timer(row)

    def pop_due(self, now: dt.datetime) -> Timer | None:
        with self._write() as conn:
            row = conn.execute(
                f"DELETE FROM timers WHERE key = (SELECT key FROM timers WHERE due <= ? "
                f"ORDER BY due, seq, key LIMIT 1) RETURNING {_TIMER_COLUMNS}",
                (micros(now),),
            ).fetchone()
            if row is None:
                return None
            self._no_timer.add(row[0])
        return _timer(row)

    def next_due(self) -> dt.datetime | None:
        due = self._one("SELECT min(due) FROM timers")
        return None if due is None else from_micros(due)

    def timers(self, limit: int | None = None) -> list[Timer]:
        """Timers by due time (the earliest `limit` of them)."""
        sql = f"SELECT {_TIMER_COLUMNS} FROM timers ORDER BY due, seq, key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_timer(row) for row in self._conn.execute(sql)]

    def count_timers(self) -> int:
        count: int = self._one("SELECT count(*) FROM timers")
        return count

    # ------------------------------------------------------------ history

    def append_history(self, entry: HistoryEntry) -> None:
        row = (
            entry.seq,
            micros(entry.at),
            entry.workflow,
            entry.object,
            entry.id,
            entry.kind,
            entry.step,
            dumps(entry.detail),
            entry.enrollment,
        )
        if self._depth:
            self._history_rows.append(row)  # inserted with the others at commit
        else:
            self._conn.execute(_INSERT_HISTORY, row)

    def history(self, record: tuple[str, str] | None = None, workflow: str | None = None) -> Sequence[HistoryEntry]:
        clauses: list[str] = []
        params: list[Any] = []
        if record is not None:
            clauses.append("object = ? AND id = ?")
            params += [record[0], record[1]]
        if workflow is not None:
            clauses.append("workflow = ?")
            params.append(workflow)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        self._flush_history()
        rows = self._conn.execute(f"SELECT {_HISTORY_COLUMNS} FROM history{where} ORDER BY n", params)
        return [_entry(row) for row in rows]

    def action_counts(self) -> dict[tuple[str, str], int]:
        """Actions by kind (`detail.action`) and outcome (`performed`, `failed`)."""
        self._flush_history()
        rows = self._conn.execute(
            "SELECT kind, json_extract(detail, '$.action'), count(*) FROM history "
            "WHERE kind IN ('action', 'failed') GROUP BY 1, 2"
        )
        return {
            (str(action), "performed" if kind == "action" else "failed"): int(count)
            for kind, action, count in rows
            if action is not None
        }

    def count_history(self, kind: str | None = None) -> int:
        where, params = _where(kind=kind)
        self._flush_history()
        count: int = self._one(f"SELECT count(*) FROM history{where}", params)
        return count

    # ------------------------------------------------------------ stats

    def add_stat(self, workflow: str, field: str, delta: int) -> None:
        if self._depth:
            # Added up in memory, written when the transaction commits.
            key = (workflow, field)
            self._stat_deltas[key] = self._stat_deltas.get(key, 0) + delta
            return
        self._conn.execute(_ADD_STAT, (workflow, field, delta))

    def stats(self, workflow: str) -> Mapping[str, int]:
        self._flush_stats()
        found = dict(self._conn.execute("SELECT field, value FROM stats WHERE workflow = ?", (workflow,)).fetchall())
        return {name: found.get(name, 0) for name in STAT_FIELDS}

    def reset_stats(self, workflow: str, fields: Sequence[str]) -> None:
        self._flush_stats()
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO stats (workflow, field, value) VALUES (?, ?, 0) "
                "ON CONFLICT (workflow, field) DO UPDATE SET value = 0",
                [(workflow, name) for name in fields],
            )

    # ------------------------------------------------------------ facts

    def add_fact(self, kind: str, workflow: str, object_type: str, record_id: str, at: dt.datetime) -> None:
        self._w().execute(
            "INSERT INTO facts (kind, workflow, object, record, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, workflow, object, record) DO UPDATE SET at = excluded.at",
            (kind, workflow, object_type, record_id, micros(at)),
        )

    def has_fact(self, kind: str, workflow: str, object_type: str, record_id: str) -> bool:
        return (
            self._one(
                "SELECT 1 FROM facts WHERE kind = ? AND workflow = ? AND object = ? AND record = ?",
                (kind, workflow, object_type, record_id),
            )
            is not None
        )

    def count_facts(self) -> int:
        count: int = self._one("SELECT count(*) FROM facts")
        return count

    # ------------------------------------------------------------ workflow state

    def workflow_state(self, workflow: str) -> Mapping[str, Any]:
        state = self._one("SELECT state FROM workflows WHERE workflow = ?", (workflow,))
        return {} if state is None else dict(loads(state))

    def set_workflow_state(self, workflow: str, state: Mapping[str, Any]) -> None:
        self._w().execute(
            "INSERT OR REPLACE INTO workflows (workflow, state) VALUES (?, ?)",
            (workflow, dumps(dict(state))),
        )

    def workflows(self) -> list[str]:
        """Every workflow the store knows of (state, stats or enrollments), sorted."""
        self._flush_stats()
        # The enrollments' workflows by hopping along the (workflow, status) index, one
        # seek per name: as fast with a million enrollments as with ten.
        rows = self._conn.execute(
            "WITH RECURSIVE names(name) AS ("
            " SELECT min(workflow) FROM enrollments"
            " UNION ALL SELECT (SELECT min(workflow) FROM enrollments WHERE workflow > names.name)"
            " FROM names WHERE names.name IS NOT NULL) "
            "SELECT name FROM names WHERE name IS NOT NULL "
            "UNION SELECT workflow FROM workflows UNION SELECT workflow FROM stats ORDER BY 1"
        )
        return [name for (name,) in rows]

    # ------------------------------------------------------------ service metadata

    def get_meta(self, name: str, default: Any = None) -> Any:
        """A value the service keeps next to the state (input position, clock, …)."""
        text = self._one("SELECT value FROM meta WHERE name = ?", (name,))
        return default if text is None else loads(text)

    def set_meta(self, name: str, value: Any) -> None:
        self._w().execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, dumps(value)))

    def put_journal(self, token: int, payload: Any) -> None:
        """Keep a CRM redo journal in the same transaction as the state it goes with."""
        self._w().execute("INSERT OR REPLACE INTO journal (token, payload) VALUES (?, ?)", (token, dumps(payload)))

    def journals_after(self, token: int) -> list[tuple[int, Any]]:
        rows = self._conn.execute("SELECT token, payload FROM journal WHERE token > ? ORDER BY token", (token,))
        return [(t, loads(p)) for t, p in rows]

    def drop_journals(self, upto: int) -> None:
        self._w().execute("DELETE FROM journal WHERE token <= ?", (upto,))

    # ------------------------------------------------------------ inbox

    def append_events(self, events: Sequence[Mapping[str, Any]]) -> list[int | None]:
        numbers: list[int | None] = []
        with self._write() as conn:
            for body in events:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO inbox (event_id, body) VALUES (?, ?)",
                    (event_id_of(body), json.dumps(dict(body), ensure_ascii=False, separators=(",", ":"))),
                )
                numbers.append(cursor.lastrowid if cursor.rowcount > 0 else None)
        return numbers

    def claim_events(self, limit: int) -> list[InboxEvent]:
        # One process owns a SQLite store (`lock`): the oldest pending rows are its to take.
        rows = self._conn.execute(
            "SELECT n, body FROM inbox WHERE done IS NULL ORDER BY n LIMIT ?", (int(limit),)
        ).fetchall()
        out = []
        for number, body in rows:
            try:
                data = json.loads(body)
            except ValueError:
                data = body  # a row some program wrote badly: reported by the consumer
            out.append(InboxEvent(id=number, body=data))
        return out

    def finish_events(self, ids: Sequence[int], at: dt.datetime) -> None:
        stamp = utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._write() as conn:
            conn.executemany("UPDATE inbox SET done = ? WHERE n = ?", [(stamp, n) for n in ids])

    def pending_events(self) -> int:
        count: int = self._one("SELECT count(*) FROM inbox WHERE done IS NULL")
        return count

    def prune_events(self, before: dt.datetime) -> int:
        # In steps of a short transaction each (inside a caller's transaction: one step
        # after another in it), so a service on the store never waits long for the lock.
        stamp = utc(before).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        removed = 0
        while True:
            with self._write() as conn:
                step: int = conn.execute(
                    "DELETE FROM inbox WHERE n IN (SELECT n FROM inbox WHERE done IS NOT NULL AND done < ? LIMIT 2000)",
                    (stamp,),
                ).rowcount
            removed += step
            if step < 2000:
                return removed

    # ------------------------------------------------------------ input positions

    def input_position(self, source: str) -> InputPosition | None:
        row = self._conn.execute(
            "SELECT source, line, offset, device, inode, fingerprint FROM positions WHERE source = ?",
            (safe_text(source),),
        ).fetchone()
        if row is None:
            return None
        source_, line, offset, device, inode, fingerprint = row
        return InputPosition(
            source=source_, line=line, offset=offset, device=device, inode=inode, fingerprint=fingerprint
        )

    def set_input_position(self, position: InputPosition) -> None:
        self._w().execute(
            "INSERT OR REPLACE INTO positions (source, line, offset, device, inode, fingerprint) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                safe_text(position.source),
                position.line,
                position.offset,
                position.device,
                position.inode,
                position.fingerprint,
            ),
        )

    # ------------------------------------------------------------ dead letters

    def add_dead_letter(self, letter: DeadLetter) -> int:
        number: int = (
            self._w()
            .execute(
                "INSERT INTO dead_letters (at, kind, reason, source, line, payload, object, id, workflow, enrollment) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING n",
                (
                    micros(letter.at),
                    safe_text(letter.kind, 100),
                    safe_text(letter.reason, PAYLOAD_LIMIT),
                    _optional_text(letter.source),
                    letter.line,
                    safe_text(letter.payload, PAYLOAD_LIMIT),
                    _optional_text(letter.object),
                    _optional_text(letter.id),
                    _optional_text(letter.workflow),
                    _optional_text(letter.enrollment),
                ),
            )
            .fetchone()[0]
        )
        return number

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        sql = f"SELECT {_DEAD_COLUMNS} FROM dead_letters ORDER BY n DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_dead(row) for row in reversed(self._conn.execute(sql).fetchall())]

    def count_dead_letters(self) -> int:
        count: int = self._one("SELECT count(*) FROM dead_letters")
        return count

    # ------------------------------------------------------------ status

    def count_by_workflow(self, status: str) -> dict[str, int]:
        # One index range count per workflow (never a sort of every enrollment).
        counts = {}
        for name in self.workflows():
            count = self._one(
                "SELECT count(*) FROM enrollments INDEXED BY enrollments_workflow WHERE workflow = ? AND status = ?",
                (name, status),
            )
            if count:
                counts[name] = int(count)
        return counts

    def waiting(self, limit: int) -> list[tuple[Enrollment, dt.datetime | None]]:
        rows = self._conn.execute(
            "SELECT e.id, e.data, t.due FROM enrollments e INDEXED BY enrollments_status "
            "LEFT JOIN timers t ON t.key = e.id WHERE e.status = 'active' ORDER BY e.n LIMIT ?",
            (int(limit),),
        )
        return [(self._decode(eid, data), None if due is None else from_micros(due)) for eid, data, due in rows]

    # ------------------------------------------------------------ retention

    def prune(self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime) -> int:
        self._flush_history()
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM history WHERE kind = 'action' AND at < ?", (micros(actions_before),)
            ).rowcount
            removed += conn.execute(
                "DELETE FROM history WHERE at < ? AND enrollment IN ("
                "SELECT id FROM enrollments WHERE status != 'active' AND ended IS NOT NULL "
                "AND ended < ?)",
                (micros(history_before), micros(history_before)),
            ).rowcount
            removed += conn.execute("DELETE FROM facts WHERE at < ?", (micros(facts_before),)).rowcount
        return int(removed)

    def prune_some(
        self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime, limit: int
    ) -> tuple[int, bool]:
        """One short step of `prune`: at most about `limit` rows, in a transaction of its own.

        Old action entries and facts are found through their `(kind, at)` and
        `at` indexes. The history of ended enrollments is found by walking the
        enrollments in order, outside the write transaction (a WAL reader never
        blocks the service), from where the previous step stopped; a step that
        removes nothing starts the walk again next time.
        """
        self._flush_history()
        limit = max(1, int(limit))
        cut_history = micros(history_before)
        if self._prune_walk is None or self._prune_walk[0] != cut_history:
            self._prune_walk = (cut_history, 0)
        after = self._prune_walk[1]
        ended: list[str] = []
        last = after
        for n, eid in self._conn.execute(
            "SELECT n, id FROM enrollments WHERE n > ? AND status != 'active' AND ended IS NOT NULL "
            "AND ended < ? ORDER BY n LIMIT ?",
            (after, cut_history, limit),
        ):
            ended.append(eid)
            last = n
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM history WHERE n IN (SELECT n FROM history WHERE kind = 'action' AND at < ? LIMIT ?)",
                (micros(actions_before), limit),
            ).rowcount
            removed += conn.execute(
                "DELETE FROM facts WHERE rowid IN (SELECT rowid FROM facts WHERE at < ? LIMIT ?)",
                (micros(facts_before), limit),
            ).rowcount
            for eid in ended:
                removed += conn.execute(
                    "DELETE FROM history WHERE enrollment = ? AND at < ?", (eid, cut_history)
                ).rowcount
        self._prune_walk = (cut_history, last) if ended else None
        return int(removed), bool(ended) or removed > 0


def _where(**filters: str | None) -> tuple[str, list[Any]]:
    used = [(name, value) for name, value in filters.items() if value is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{name} = ?" for name, _ in used), [v for _, v in used]


__all__ = [
    "ENROLLMENT_LAYOUT",
    "SCHEMA_VERSION",
    "SQLiteStore",
    "SchemaVersionError",
    "StoreError",
    "enrollment_data",
    "sqlite_options",
]
