"""SQLite CRM adapter: records, lists, histories, outbox and idempotency log in a file.

The embedded default CRM of `wfdsl run` (`--crm sqlite:///wfdsl-crm.db`). It
behaves exactly like `adapters.memory.MemoryCRM` (same events derived from
updates, same property and event history, same action semantics) but keeps
everything in a SQLite file (WAL), so it outlives the process.

Idempotency: every performed action is written to the `performed` table
with its key and result, in the same transaction as its effects. A second
`perform` with a known key and the same action (kind, record, arguments)
changes nothing, counts a replay, and returns the stored result — the log is
the proof that no action was performed twice. A known key with another
action is refused (PermanentAdapterError), never taken for done.

Units: the service loop can group everything the CRM does for a batch of
steps into one unit (`begin_unit` … `end_unit(token)`). While a unit is open
the adapter keeps a redo journal of its writes; the service stores that
journal in the state store's transaction, commits the store, then ends the
unit. If the process dies between the two commits, `replay_unit` re-applies
the journal on restart, so the CRM and the state always agree
(docs/operating.md, "What happens on a crash").

`sqlite_base` holds the schema, transactions and units, and the row
storage; this module the CRM itself (setup, reads, changes, actions).

>>> import datetime as dt
>>> crm = SQLiteCRM(":memory:")
>>> at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
>>> crm.add_record("contact", "c1", {"email": "ann@example.com"}, at=at)
>>> crm.get("contact", "c1").properties["email"]
'ann@example.com'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from wfdsl.adapters import incremented
from wfdsl.adapters.pushdown import criteria_sql
from wfdsl.adapters.records import Key, RecordsError, result_from_json, result_to_json, seed_digest, seed_of
from wfdsl.adapters.shared import OWNER_PROPERTY, email_sent, logged_args, public_args
from wfdsl.adapters.sqlite_base import (
    CRM_APPLICATION_ID,
    MIGRATIONS,
    SQLiteCRMBase,
)
from wfdsl.plan.criteria import Criterion
from wfdsl.runtime.inputs import Seed
from wfdsl.runtime.protocols import (
    Action,
    ActionResult,
    Event,
    PermanentAdapterError,
    Record,
    replay_mismatch,
    same_action,
)
from wfdsl.stores.codec import dumps, from_micros, loads, micros
from wfdsl.stores.errors import StoreError
from wfdsl.stores.sqlitedb import sqlite_options


class SQLiteCRM(SQLiteCRMBase):
    """A CRMAdapter whose data lives in a SQLite file (`sqlite`)."""

    @classmethod
    def from_url(cls, url: str) -> SQLiteCRM:
        """`sqlite:///crm.db`, `sqlite:////abs/crm.db`, `…?synchronous=normal`."""
        path, options = sqlite_options(url)
        return cls(path, synchronous=options.get("synchronous", "full"))

    def add_record(self, object_type: str, record_id: str, properties: Mapping[str, Any], *, at: dt.datetime) -> None:
        """Create (or overwrite) a record without producing events: data that already exists."""
        key = (object_type, record_id)
        with self._atomic():
            self._ensure(key)
            props = {p: v for p, v in properties.items() if p != "id"}
            self._save_props(key, props)
            for prop, value in props.items():
                self._history(key, prop, at, value)

    def associate(self, a: Key, b: Key) -> None:
        """Associate two records both ways; the first association of a type is the primary."""
        with self._atomic():
            for left, right in ((a, b), (b, a)):
                self._exec(
                    "INSERT OR IGNORE INTO associations (object, id, other_object, other_id) VALUES (?, ?, ?, ?)",
                    (*left, *right),
                )

    def set_lists(self, key: Key, names: set[str]) -> None:
        with self._atomic():
            self._exec("DELETE FROM lists WHERE object = ? AND id = ?", key)
            for name in sorted(names):
                self._exec("INSERT INTO lists (object, id, list) VALUES (?, ?, ?)", (*key, name))

    def add_to_list(self, name: str, key: Key) -> None:
        with self._atomic():
            self._exec("INSERT OR IGNORE INTO lists (object, id, list) VALUES (?, ?, ?)", (*key, name))

    def exists(self, object_type: str, record_id: str) -> bool:
        return self._props((object_type, record_id)) is not None

    def import_seed(self, seed: Seed, *, at: dt.datetime) -> int:
        """Load a records file (read by `runtime.inputs`) once: a file already imported
        (same content) is skipped, so what the workflows changed since is kept.

        Returns the number of records imported (0 when skipped)."""
        digest = seed_digest(seed)
        imported = self.get_meta("imported") or []
        if digest in imported:
            return 0
        with self._atomic():
            for record in seed.records:
                self.add_record(record.object, record.id, record.properties, at=at)
            for left, right in seed.associations:
                self.associate(left, right)
            for name, members in seed.lists.items():
                for member in members:
                    self.add_to_list(name, member)
            self.set_meta("imported", [*imported, digest])
        return len(seed.records)

    def import_records(self, data: Any, *, at: dt.datetime) -> int:
        """`import_seed` of a records file's decoded JSON; RecordsError for data that is
        not a records file (the message of `runtime.inputs`)."""
        return self.import_seed(seed_of(data), at=at)

    # ------------------------------------------------------------ reads

    def get(self, object_type: str, record_id: str) -> Record | None:
        key = (object_type, record_id)
        props = self._props(key)
        if props is None:
            return None
        lists = frozenset(
            name for (name,) in self._conn.execute("SELECT list FROM lists WHERE object = ? AND id = ?", key)
        )
        associations: dict[str, list[str]] = {}
        for other_type, other_id in self._conn.execute(
            "SELECT other_object, other_id FROM associations WHERE object = ? AND id = ? ORDER BY n",
            key,
        ):
            associations.setdefault(other_type, []).append(other_id)
        return Record(
            object=object_type,
            id=record_id,
            properties=props,
            lists=lists,
            associations={t: tuple(ids) for t, ids in associations.items()},
        )

    def property_history(self, object_type: str, record_id: str, prop: str) -> Sequence[tuple[dt.datetime, Any]]:
        rows = self._conn.execute(
            "SELECT at, value FROM property_history WHERE object = ? AND id = ? AND prop = ? ORDER BY n",
            (object_type, record_id, prop),
        )
        return [(from_micros(at), loads(value)) for at, value in rows]

    def event_history(
        self, object_type: str, record_id: str, event_type: str
    ) -> Sequence[tuple[dt.datetime, Mapping[str, Any]]]:
        rows = self._conn.execute(
            "SELECT at, data FROM event_history WHERE object = ? AND id = ? AND type = ? ORDER BY n",
            (object_type, record_id, event_type),
        )
        return [(from_micros(at), loads(data)) for at, data in rows]

    def query(self, object_type: str, criteria: Criterion | None = None) -> Iterator[str]:
        """Ids of the records of a type; what it can of `criteria` is pushed down into the
        SQL (adapters.pushdown): never fewer records than meet them, the caller re-checks."""
        where, params = criteria_sql(criteria, object_type)
        ids = [
            i
            for (i,) in self._conn.execute(
                f"SELECT id FROM records WHERE object = ? AND ({where}) ORDER BY n", (object_type, *params)
            )
        ]
        yield from ids

    # ------------------------------------------------------------ changes

    def _remember(self, event: Event) -> Event:
        self._exec(
            "INSERT INTO event_history (object, id, type, at, data) VALUES (?, ?, ?, ?, ?)",
            (event.object, event.id, event.type, micros(event.at), dumps(dict(event.data))),
        )
        return event

    def _set(self, key: Key, changes: Mapping[str, Any], at: dt.datetime, cause: str | None) -> list[Event]:
        self._ensure(key)
        props = self._props(key) or {}
        events = []
        for prop, value in changes.items():
            if prop == "id":
                continue
            previous = props.get(prop)
            if previous == value and (prop in props or value is None):
                continue
            if value is None:
                props.pop(prop, None)
            else:
                props[prop] = value
            self._history(key, prop, at, value)
            events.append(
                self._remember(
                    Event(
                        type="property.changed",
                        object=key[0],
                        id=key[1],
                        at=at,
                        data={"property": prop, "value": value, "previous": previous},
                        cause=cause,
                    )
                )
            )
        if events:
            self._save_props(key, props)
        return events

    def _list_change(self, key: Key, name: str, add: bool, at: dt.datetime, cause: str | None) -> list[Event]:
        member = (
            self._conn.execute("SELECT 1 FROM lists WHERE object = ? AND id = ? AND list = ?", (*key, name)).fetchone()
            is not None
        )
        if member == add:
            return []
        if add:
            self._exec("INSERT INTO lists (object, id, list) VALUES (?, ?, ?)", (*key, name))
        else:
            self._exec("DELETE FROM lists WHERE object = ? AND id = ? AND list = ?", (*key, name))
        kind = "list.added" if add else "list.removed"
        return [self._remember(Event(type=kind, object=key[0], id=key[1], at=at, data={"list": name}, cause=cause))]

    def observe(self, event: Event) -> Sequence[Event]:
        with self._atomic():
            return self._observe(event)

    def _observe(self, event: Event) -> Sequence[Event]:
        key = (event.object, event.id)
        if event.type == "record.created":
            created: list[Event] = []
            if self._ensure(key):
                created = [
                    self._remember(
                        Event(
                            type="record.created",
                            object=event.object,
                            id=event.id,
                            at=event.at,
                            data=dict(event.data),
                            cause=event.cause,
                        )
                    )
                ]
            return created + self._set(key, dict(event.properties or {}), event.at, event.cause)
        if event.type == "record.updated":
            return self._set(key, dict(event.properties or {}), event.at, event.cause)
        if event.type in ("list.added", "list.removed"):
            name = str(event.data.get("list", ""))
            return self._list_change(key, name, event.type == "list.added", event.at, event.cause)
        return [self._remember(event)]

    def _target(self, action: Action) -> Key:
        """The record an update acts on: the enrolled one, or its primary associated record."""
        object_type = str(action.args.get("object", action.object))
        if object_type == action.object:
            return (action.object, action.id)
        row = self._conn.execute(
            "SELECT other_id FROM associations WHERE object = ? AND id = ? AND other_object = ? ORDER BY n LIMIT 1",
            (action.object, action.id, object_type),
        ).fetchone()
        if row is None:
            raise PermanentAdapterError(f"{action.object}:{action.id} has no associated {object_type} to update")
        return (object_type, row[0])

    def perform(self, action: Action, idempotency_key: str) -> ActionResult:
        with self._atomic():
            row = self._conn.execute(
                "SELECT result, kind, object, id, at, args FROM performed WHERE key = ?", (idempotency_key,)
            ).fetchone()
            if row is not None:
                result, kind, object_type, record_id, at, args = row
                first = Action(kind=kind, object=object_type, id=record_id, args=loads(args), at=from_micros(at))
                if not same_action(first, action.kind, action.object, action.id, action.args):
                    raise replay_mismatch(idempotency_key, first, action)
                self._exec("UPDATE performed SET replays = replays + 1 WHERE key = ?", (idempotency_key,))
                return result_from_json(loads(result))
            result = self._perform(action)
            self._exec(
                "INSERT INTO performed (key, kind, object, id, at, args, result) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    idempotency_key,
                    action.kind,
                    action.object,
                    action.id,
                    micros(action.at),
                    dumps(logged_args(action)),
                    dumps(result_to_json(result)),
                ),
            )
            return result

    def performed(self) -> list[dict[str, Any]]:
        """The idempotency log: one row per action actually performed, oldest first."""
        rows = self._conn.execute("SELECT key, kind, object, id, at, args, replays FROM performed ORDER BY n")
        return [
            {
                "key": key,
                "kind": kind,
                "object": obj,
                "id": rid,
                "at": from_micros(at),
                "args": loads(args),
                "replays": replays,
            }
            for key, kind, obj, rid, at, args, replays in rows
        ]

    def performed_actions(
        self,
        *,
        record: Key | None = None,
        kind: str | None = None,
        since: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The idempotency log filtered in SQL (`wfdsl outbox`): actions performed on one
        record, of one kind, at or after a time; oldest first, with their results."""
        where: list[str] = []
        params: list[Any] = []
        if record is not None:
            where.append("object = ? AND id = ?")
            params += [record[0], record[1]]
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if since is not None:
            where.append("at >= ?")
            params.append(micros(since))
        sql = "SELECT key, kind, object, id, at, args, result FROM performed"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._conn.execute(sql + " ORDER BY at, n", params)
        return [
            {
                "key": key,
                "kind": kind_,
                "object": obj,
                "id": rid,
                "at": from_micros(at),
                "args": loads(args),
                "result": loads(result).get("data", {}),
            }
            for key, kind_, obj, rid, at, args, result in rows
        ]

    def outbox(self) -> list[dict[str, Any]]:
        """What left the CRM (emails, tasks, notifications, webhooks), oldest first."""
        rows = self._conn.execute("SELECT kind, object, id, at, args FROM outbox ORDER BY n")
        return [
            {"kind": kind, "object": obj, "id": rid, "at": from_micros(at).isoformat(), "args": loads(args)}
            for kind, obj, rid, at, args in rows
        ]

    def records(self, object_type: str | None = None) -> list[Record]:
        """Every record (of a type), in creation order."""
        sql = "SELECT object, id FROM records"
        params: tuple[str, ...] = ()
        if object_type is not None:
            sql += " WHERE object = ?"
            params = (object_type,)
        keys = self._conn.execute(sql + " ORDER BY n", params).fetchall()
        return [r for r in (self.get(o, i) for o, i in keys) if r is not None]

    def _next(self, name: str) -> int:
        value: int = self._exec(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()[0]
        return value

    def _perform(self, action: Action) -> ActionResult:
        args = action.args
        at = action.at
        own: Key = (action.object, action.id)
        cause = action.enrollment or None
        kind = action.kind
        if kind in ("set", "clear", "copy"):
            target = self._target(action)
            value = None if kind == "clear" else args.get("value")
            return ActionResult(events=tuple(self._set(target, {str(args["property"]): value}, at, cause)))
        if kind == "increment":
            target = self._target(action)
            prop = str(args["property"])
            current = (self._props(target) or {}).get(prop)
            number = incremented(current, args.get("by", 0), f"{target[0]}.{prop}")
            return ActionResult(events=tuple(self._set(target, {prop: number}, at, cause)))
        if kind in ("assign_owner", "rotate_owner"):
            return ActionResult(events=tuple(self._set(own, {OWNER_PROPERTY: args.get("owner")}, at, cause)))
        if kind in ("add_to_list", "remove_from_list"):
            return ActionResult(
                events=tuple(self._list_change(own, str(args["list"]), kind == "add_to_list", at, cause))
            )
        if kind == "create_record":
            object_type = str(args.get("object_type", args.get("object", "record")))
            new_id = f"{object_type}-{self._next('created')}"
            key = (object_type, new_id)
            self._ensure(key)
            events = [self._remember(Event(type="record.created", object=object_type, id=new_id, at=at, cause=cause))]
            props = args.get("properties", {})
            events += self._set(key, dict(props) if isinstance(props, Mapping) else {}, at, cause)
            self.associate(own, key)
            return ActionResult(events=tuple(events), data={"id": new_id})
        self._exec(
            "INSERT INTO outbox (kind, object, id, at, args) VALUES (?, ?, ?, ?, ?)",
            (
                kind,
                action.object,
                action.id,
                micros(at),
                dumps(public_args(args)),
            ),
        )
        if kind == "send_email":
            return ActionResult(events=(self._remember(email_sent(action, at, args, cause)),))
        return ActionResult()


__all__ = ["CRM_APPLICATION_ID", "MIGRATIONS", "OWNER_PROPERTY", "RecordsError", "SQLiteCRM", "StoreError"]
