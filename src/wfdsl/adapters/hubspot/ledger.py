"""The adapter's local journal (the ledger): a small SQLite file beside the state store.

It logs each idempotency key before its call and its result after it,
committed at once (outside the store's transaction), so a unit that is rolled
back and run again never repeats an action whose key is in the ledger. It
also keeps the event history the criteria read (`has form.submitted …`) and
the changes the adapter made itself, so that the webhooks HubSpot sends back
for them are not taken for new changes.

>>> import datetime as dt
>>> ledger = Ledger(":memory:")
>>> at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
>>> ledger.own_write("contact", "1", "city", "Oslo", at)
>>> ledger.take_own_write("contact", "1", "city", "Oslo"), ledger.take_own_write("contact", "1", "city", "Oslo")
(True, False)
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from wfdsl.runtime.protocols import Action, ActionResult, Event, utc
from wfdsl.stores.codec import dumps, loads
from wfdsl.stores.sqlitedb import connect, migrate

#: `PRAGMA application_id` of a HubSpot ledger file ("wfhs").
LEDGER_APPLICATION_ID = 0x77666873

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE ledger (
        key TEXT PRIMARY KEY, state TEXT NOT NULL, kind TEXT NOT NULL,
        object TEXT NOT NULL, id TEXT NOT NULL, at TEXT NOT NULL, result TEXT
    );
    CREATE TABLE events (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        object TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
        at TEXT NOT NULL, data TEXT NOT NULL
    );
    CREATE INDEX events_key ON events (object, id, type);
    CREATE TABLE own_writes (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        object TEXT NOT NULL, id TEXT NOT NULL, prop TEXT NOT NULL, value TEXT NOT NULL, at TEXT NOT NULL
    );
    CREATE INDEX own_writes_key ON own_writes (object, id, prop);
    """,
)


class Ledger:
    """Idempotency keys, event history and own writes, committed at once in a SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn = connect(path, LEDGER_APPLICATION_ID, "HubSpot ledger")
        try:
            migrate(self._conn, MIGRATIONS, LEDGER_APPLICATION_ID, path, "HubSpot ledger")
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        self._conn.close()

    def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def entry(self, key: str) -> tuple[str, Any] | None:
        rows = self._run("SELECT state, result FROM ledger WHERE key = ?", (key,))
        if not rows:
            return None
        state, result = rows[0]
        return state, None if result is None else loads(result)

    def start(self, key: str, action: Action) -> None:
        self._run(
            "INSERT OR REPLACE INTO ledger (key, state, kind, object, id, at, result) "
            "VALUES (?, 'started', ?, ?, ?, ?, NULL)",
            (key, action.kind, action.object, action.id, utc(action.at).isoformat()),
        )

    def progress(self, key: str, data: Mapping[str, Any]) -> None:
        """What a multi-call action did so far (a created record's id)."""
        self._run("UPDATE ledger SET result = ? WHERE key = ?", (dumps(dict(data)), key))

    def finish(self, key: str, result: Mapping[str, Any]) -> None:
        self._run("UPDATE ledger SET state = 'done', result = ? WHERE key = ?", (dumps(dict(result)), key))

    def mark(self, key: str, state: str) -> None:
        self._run("UPDATE ledger SET state = ? WHERE key = ?", (state, key))

    def performed(self) -> list[dict[str, Any]]:
        rows = self._run("SELECT key, kind, object, id, at FROM ledger WHERE state = 'done' ORDER BY at, key")
        return [{"key": k, "kind": kind, "object": o, "id": i, "at": at} for k, kind, o, i, at in rows]

    def add_event(self, event: Event) -> None:
        self._run(
            "INSERT INTO events (object, id, type, at, data) VALUES (?, ?, ?, ?, ?)",
            (event.object, event.id, event.type, utc(event.at).isoformat(), dumps(dict(event.data))),
        )

    def events(self, object_type: str, record_id: str, event_type: str) -> list[tuple[dt.datetime, Any]]:
        rows = self._run(
            "SELECT at, data FROM events WHERE object = ? AND id = ? AND type = ? ORDER BY n",
            (object_type, record_id, event_type),
        )
        return [(dt.datetime.fromisoformat(at), loads(data)) for at, data in rows]

    def own_write(self, object_type: str, record_id: str, prop: str, value: str, at: dt.datetime) -> None:
        self._run(
            "INSERT INTO own_writes (object, id, prop, value, at) VALUES (?, ?, ?, ?, ?)",
            (object_type, record_id, prop, value, utc(at).isoformat()),
        )

    def take_own_write(self, object_type: str, record_id: str, prop: str, value: str) -> bool:
        """True (and forgotten) when the adapter itself wrote this value: HubSpot's echo."""
        with self._lock:
            row = self._conn.execute(
                "SELECT n FROM own_writes WHERE object = ? AND id = ? AND prop = ? AND value = ? ORDER BY n LIMIT 1",
                (object_type, record_id, prop, value),
            ).fetchone()
            if row is None:
                return False
            self._conn.execute("DELETE FROM own_writes WHERE n = ?", (row[0],))
            return True


def result_to_json(result: ActionResult) -> dict[str, Any]:
    """`result` as the ledger keeps it."""
    return {"events": [attrs.asdict(e, recurse=False) for e in result.events], "data": dict(result.data)}


_EVENT_FIELDS = frozenset(f.name for f in attrs.fields(Event))


def result_from_json(data: Mapping[str, Any]) -> ActionResult:
    """The `ActionResult` the ledger kept (event times as datetimes or ISO text)."""
    events = []
    for item in data.get("events", ()):
        fields = {k: v for k, v in item.items() if k in _EVENT_FIELDS}
        if isinstance(fields.get("at"), str):
            fields["at"] = dt.datetime.fromisoformat(fields["at"])
        events.append(Event(**fields))
    return ActionResult(events=tuple(events), data=dict(data.get("data", {})))


__all__ = ["LEDGER_APPLICATION_ID", "MIGRATIONS", "Ledger", "result_from_json", "result_to_json"]
