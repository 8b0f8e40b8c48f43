"""SQLite state store, its foundation: the schema, the row codecs, and transactions with their write-behind buffers."""

from __future__ import annotations

import datetime as dt
import json
import operator
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from wfdsl.runtime.protocols import (
    DeadLetter,
    Enrollment,
)
from wfdsl.stores.codec import (
    PLAIN_TYPES,
    datetime_tag,
    encode,
    from_micros,
    loads_row,
    micros,
    safe_text,
)
from wfdsl.stores.sqlitedb import connect, migrate

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
    return _encode_json(
        [
            v if type(v) in PLAIN_TYPES else datetime_tag(v) if type(v) is dt.datetime else encode(v)
            for v in _layout_values(enrollment)
        ]
    )


def _enrollment(data: str) -> Enrollment:
    values = loads_row(data)
    if type(values) is list:
        return Enrollment(**dict(zip(ENROLLMENT_LAYOUT, values, strict=False)))
    # The keyed form of schema versions 1-3: field name -> value.
    return Enrollment(**{k: v for k, v in values.items() if k in _ENROLLMENT_FIELDS})


def _optional_text(value: Any) -> str | None:
    return None if value is None else safe_text(value, 1000)


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
#: Rows per statement where a batch writes many: history rows by a multi-row INSERT
#: (a statement has its own start, end and update of the AUTOINCREMENT counter, per
#: statement, not per row), popped timers by a DELETE of a list of keys.
_CHUNK = 64
_INSERT_HISTORY_CHUNK = f"INSERT INTO history ({_HISTORY_COLUMNS}) VALUES " + ", ".join(
    ["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * _CHUNK
)
_DELETE_TIMERS_CHUNK = "DELETE FROM timers WHERE key IN (" + ", ".join(["?"] * _CHUNK) + ")"
_PUT_ENROLLMENT = (
    "INSERT INTO enrollments (id, workflow, object, record, status, ended, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "workflow = excluded.workflow, object = excluded.object, record = excluded.record, "
    "status = excluded.status, ended = excluded.ended, data = excluded.data"
)
_UPDATE_ENROLLMENT = "UPDATE enrollments SET status = ?, ended = ?, data = ? WHERE id = ?"


def _same_record(a: Enrollment, b: Enrollment) -> bool:
    return a.workflow == b.workflow and a.object == b.object and a.record == b.record


_ADD_STAT = (
    "INSERT INTO stats (workflow, field, value) VALUES (?, ?, ?) "
    "ON CONFLICT (workflow, field) DO UPDATE SET value = value + excluded.value"
)


class SQLiteBase:
    """The connection, the open transaction and the work it keeps in memory until commit."""

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
        # The text is the row as the file holds it (None: not known, an enrollment put
        # in the transaction and not written yet).
        self._current: dict[str, tuple[str | None, Enrollment]] = {}
        # Enrollment rows read ahead with their due timers (`pop_due`), by id, for ids
        # not in `_current` then; forgotten with it.
        self._ahead: dict[str, str] = {}
        self._no_timer: set[str] = set()
        # Enrollment rows written in the open transaction, by id, not yet in the file:
        # a unit puts an enrollment after its action and again at its end, and only the
        # last row matters. Written in one statement before the first read of the
        # enrollments table, before a nested block's SAVEPOINT, and at commit.
        self._dirty: dict[str, Enrollment] = {}
        # Timers popped in the open transaction whose rows are deleted at commit (or
        # before the table is read, or a nested block's SAVEPOINT), the due timers read
        # ahead (last due first), the time they were read for, and the pops so far.
        self._popped: set[str] = set()
        self._due: list[tuple[Any, ...]] = []
        self._due_at = 0
        self._pops = 0
        # Work kept in memory until the outermost block commits (in the same
        # transaction, so just as atomic): counter values, stat deltas to add, and
        # history rows to insert (all in one statement; read back only after it).
        self._seq: dict[str, int] = {}
        self._seq_dirty: set[str] = set()
        self._stat_deltas: dict[tuple[str, str], int] = {}
        self._history_rows: list[tuple[Any, ...]] = []
        # Per open nested block: (counters, dirty names, stat deltas) as they were at
        # its start, restored if it rolls back.
        self._saved: list[tuple[dict[str, int], set[str], dict[tuple[str, str], int]]] = []
        # Nested blocks whose SAVEPOINT is not issued yet: it is issued just before the
        # block's first write, so a block that writes nothing costs no statement.
        self._lazy = 0
        # (history cut-off, last enrollment row looked at) of a prune in progress
        self._prune_walk: tuple[int, int] | None = None

    def close(self) -> None:
        self._conn.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

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
            self._flush_enrollments()
            self._flush_timers()
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
                self._dirty.clear()  # the same
                self._popped.clear()  # the same
                self._due.clear()  # may hold timers the block popped
                self._current.clear()
                self._ahead.clear()
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
        self._ahead.clear()
        self._dirty.clear()
        self._popped.clear()
        self._due.clear()
        self._pops = 0
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
        self._flush_enrollments()
        self._flush_timers()

    def _flush_timers(self) -> None:
        if self._popped:
            keys = list(self._popped)
            self._popped.clear()
            conn = self._w()
            whole = len(keys) - len(keys) % _CHUNK
            for start in range(0, whole, _CHUNK):
                conn.execute(_DELETE_TIMERS_CHUNK, keys[start : start + _CHUNK])
            if whole < len(keys):
                conn.executemany("DELETE FROM timers WHERE key = ?", [(key,) for key in keys[whole:]])

    def _flush_enrollments(self) -> None:
        if not self._dirty:
            return
        dirty = self._dirty
        self._dirty = {}
        current = self._current
        decoded = self._decoded
        if len(decoded) + len(dirty) > 200_000:
            decoded.clear()
        rows = []
        updates = []
        for eid, enrollment in dirty.items():
            data = enrollment_data(enrollment)
            known = current.get(eid)
            held = decoded.get(eid)
            decoded[eid] = current[eid] = (data, enrollment)
            ended = enrollment.ended_at
            if known is not None and known[0] is not None:
                if known[0] == data:
                    continue  # the row already holds exactly this
                if held is not None and held[0] == known[0] and _same_record(held[1], enrollment):
                    # Only what changes is set: the other columns' indexes stay as they are.
                    updates.append((enrollment.status, None if ended is None else micros(ended), data, eid))
                    continue
            rows.append(
                (
                    eid,
                    enrollment.workflow,
                    enrollment.object,
                    enrollment.record,
                    enrollment.status,
                    None if ended is None else micros(ended),
                    data,
                )
            )
        if rows:
            self._w().executemany(_PUT_ENROLLMENT, rows)
        if updates:
            self._w().executemany(_UPDATE_ENROLLMENT, updates)

    def _flush_history(self) -> None:
        if self._history_rows:
            rows = self._history_rows
            self._history_rows = []
            conn = self._w()
            # In order, so the rows are numbered (`n`) as they were appended.
            whole = len(rows) - len(rows) % _CHUNK
            for start in range(0, whole, _CHUNK):
                conn.execute(_INSERT_HISTORY_CHUNK, [v for row in rows[start : start + _CHUNK] for v in row])
            if whole < len(rows):
                conn.executemany(_INSERT_HISTORY, rows[whole:])

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
        if self._depth and name in self._seq_dirty:
            # Counted already in this transaction: nothing to read, nothing to write yet.
            number = self._seq[name] + 1
            self._seq[name] = number
            return number
        with self._write():
            value = self._seq.get(name)
            if value is None:
                value = self._one("SELECT value FROM counters WHERE name = ?", (name,)) or 0
            value += 1
            self._seq[name] = value
            self._seq_dirty.add(name)
        return value


def _where(**filters: str | None) -> tuple[str, list[Any]]:
    used = [(name, value) for name, value in filters.items() if value is not None]
    if not used:
        return "", []
    return " WHERE " + " AND ".join(f"{name} = ?" for name, _ in used), [v for _, v in used]
