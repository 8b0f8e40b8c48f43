"""SQLite CRM adapter, its foundation: the schema, transactions and units with their redo journal, and row storage."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wfdsl.adapters.records import Key
from wfdsl.stores.codec import dumps, loads, micros
from wfdsl.stores.sqlitedb import connect, migrate

#: `PRAGMA application_id` of a wfdsl CRM file ("wfcr").
CRM_APPLICATION_ID = 0x77666372


MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE records (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        object TEXT NOT NULL, id TEXT NOT NULL, props TEXT NOT NULL,
        UNIQUE (object, id)
    );
    CREATE TABLE lists (
        object TEXT NOT NULL, id TEXT NOT NULL, list TEXT NOT NULL,
        PRIMARY KEY (object, id, list)
    );
    CREATE TABLE associations (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        object TEXT NOT NULL, id TEXT NOT NULL, other_object TEXT NOT NULL,
        other_id TEXT NOT NULL,
        UNIQUE (object, id, other_object, other_id)
    );
    CREATE TABLE property_history (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        object TEXT NOT NULL, id TEXT NOT NULL, prop TEXT NOT NULL,
        at INTEGER NOT NULL, value TEXT NOT NULL
    );
    CREATE INDEX property_history_key ON property_history (object, id, prop);
    CREATE TABLE event_history (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        object TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
        at INTEGER NOT NULL, data TEXT NOT NULL
    );
    CREATE INDEX event_history_key ON event_history (object, id, type);
    CREATE TABLE performed (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL, object TEXT NOT NULL, id TEXT NOT NULL,
        at INTEGER NOT NULL, args TEXT NOT NULL, result TEXT NOT NULL,
        replays INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE outbox (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL, object TEXT NOT NULL, id TEXT NOT NULL,
        at INTEGER NOT NULL, args TEXT NOT NULL
    )
    """,
)


class SQLiteCRMBase:
    """The connection, atomic blocks and units, metadata, and the rows behind a record."""

    def __init__(self, path: str | Path, *, synchronous: str = "full") -> None:
        self.path = str(path)
        self._conn = connect(self.path, CRM_APPLICATION_ID, "CRM", synchronous)
        try:
            migrate(self._conn, MIGRATIONS, CRM_APPLICATION_ID, self.path, "CRM")
        except BaseException:
            self._conn.close()
            raise
        self._depth = 0
        self._journal: list[list[Any]] | None = None

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------ transactions and units

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Every write goes through here, so an open unit can journal it."""
        if self._journal is not None:
            self._journal.append([sql, list(params)])
        return self._conn.execute(sql, params)

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        depth = self._depth
        mark = len(self._journal) if self._journal is not None else 0
        self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT a{depth}")
        self._depth = depth + 1
        try:
            yield
        except BaseException:
            self._depth = depth
            if depth == 0:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO a{depth}")
                self._conn.execute(f"RELEASE a{depth}")
                if self._journal is not None:
                    del self._journal[mark:]
            raise
        self._depth = depth
        self._conn.execute("COMMIT" if depth == 0 else f"RELEASE a{depth}")

    def begin_unit(self) -> None:
        """Open a unit: writes until `end_unit` are one transaction, journaled for redo."""
        if self._depth:
            raise RuntimeError("a unit is already open")
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        self._journal = []

    def unit_journal(self) -> list[list[Any]]:
        """The writes of the open unit so far: `[sql, params]` pairs, in order."""
        return list(self._journal or [])

    def end_unit(self, token: int) -> None:
        """Commit the open unit, recording `token` as the last applied unit."""
        self._journal = None
        self._conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('unit', ?)", (str(token),))
        self._depth = 0
        self._conn.execute("COMMIT")

    def abort_unit(self) -> None:
        """Roll the open unit back."""
        if self._depth:
            self._conn.execute("ROLLBACK")
        self._depth = 0
        self._journal = None

    def applied_unit(self) -> int:
        """The token of the last committed unit (0 if none)."""
        row = self._conn.execute("SELECT value FROM meta WHERE name = 'unit'").fetchone()
        return 0 if row is None else int(row[0])

    def replay_unit(self, token: int, journal: Sequence[Sequence[Any]]) -> None:
        """Re-apply the writes of a unit whose commit was lost (recovery after a crash)."""
        self.begin_unit()
        try:
            for sql, params in journal:
                self._conn.execute(sql, params)
        except BaseException:
            self.abort_unit()
            raise
        self.end_unit(token)

    # ------------------------------------------------------------ metadata

    def get_meta(self, name: str) -> Any:
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else loads(row[0])

    def set_meta(self, name: str, value: Any) -> None:
        with self._atomic():
            self._exec("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, dumps(value)))

    # ------------------------------------------------------------ setup

    def _ensure(self, key: Key) -> bool:
        """Create an empty record if there is none; True if it was created."""
        return self._exec("INSERT OR IGNORE INTO records (object, id, props) VALUES (?, ?, '{}')", key).rowcount > 0

    def _props(self, key: Key) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT props FROM records WHERE object = ? AND id = ?", key).fetchone()
        return None if row is None else dict(loads(row[0]))

    def _save_props(self, key: Key, props: Mapping[str, Any]) -> None:
        self._exec("UPDATE records SET props = ? WHERE object = ? AND id = ?", (dumps(dict(props)), key[0], key[1]))

    def _history(self, key: Key, prop: str, at: dt.datetime, value: Any) -> None:
        self._exec(
            "INSERT INTO property_history (object, id, prop, at, value) VALUES (?, ?, ?, ?, ?)",
            (key[0], key[1], prop, micros(at), dumps(value)),
        )
