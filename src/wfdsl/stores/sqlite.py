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

The class is cut by concern: `sqlite_base` holds the schema, row codecs and
transactions, `sqlite_records` the engine's records (enrollments, timers,
history, stats, facts), and this module the service side (metadata, inbox,
input positions, dead letters, status, retention).

>>> store = SQLiteStore(":memory:")
>>> with store.transaction():
...     store.add_stat("W", "enrolled", 1)
>>> store.stats("W")["enrolled"]
1
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from wfdsl.runtime.protocols import (
    DeadLetter,
    Enrollment,
    InputPosition,
    utc,
)
from wfdsl.stores.codec import (
    PAYLOAD_LIMIT,
    dumps,
    from_micros,
    loads,
    micros,
    safe_text,
)
from wfdsl.stores.errors import SchemaVersionError, StoreError
from wfdsl.stores.protocols import InboxEvent, event_id_of
from wfdsl.stores.sqlite_base import (
    _DEAD_COLUMNS,
    ENROLLMENT_LAYOUT,
    MIGRATIONS,
    SCHEMA_VERSION,
    _dead,
    _optional_text,
    enrollment_data,
)
from wfdsl.stores.sqlite_records import (
    SQLiteRecords,
)
from wfdsl.stores.sqlitedb import sqlite_options


class SQLiteStore(SQLiteRecords):
    """A StateStore in a SQLite file (`sqlite`)."""

    #: A failed transaction is rolled back (`stores.protocols.RollbackStore`).
    rolls_back: Literal[True] = True

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """`sqlite:///state.db`, `sqlite:////abs/state.db`, `…?synchronous=normal`."""
        path, options = sqlite_options(url)
        return cls(path, synchronous=options.get("synchronous", "full"))

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
        self._flush_enrollments()
        self._flush_timers()
        rows = self._conn.execute(
            "SELECT e.id, e.data, t.due FROM enrollments e INDEXED BY enrollments_status "
            "LEFT JOIN timers t ON t.key = e.id WHERE e.status = 'active' ORDER BY e.n LIMIT ?",
            (int(limit),),
        )
        return [(self._decode(eid, data), None if due is None else from_micros(due)) for eid, data, due in rows]

    # ------------------------------------------------------------ retention

    def prune(self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime) -> int:
        self._flush_history()
        self._flush_enrollments()
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
        self._flush_enrollments()
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


__all__ = [
    "ENROLLMENT_LAYOUT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLiteStore",
    "SchemaVersionError",
    "StoreError",
    "enrollment_data",
    "sqlite_options",
]
