"""PostgreSQL CRM adapter: records, lists, associations, histories, outbox and idempotency
log in a PostgreSQL database (`--crm postgresql://…`), the counterpart of `SQLiteCRM`.

It behaves like the SQLite and memory CRMs (same events derived from updates, same
property and event history, same action semantics). Its tables are prefixed
`crm_`, so the CRM and the state store may live in one database — and they
should: a CRM opened on the same URL as the store writes inside the store's
transaction, so an action's row in `crm_performed` (unique idempotency key) and
in `crm_outbox` commit together with the state that produced them, or not at all.

Idempotency: a `perform` whose key is in `crm_performed` changes nothing,
counts a replay, and returns the stored result.

Batches: when a worker's claim takes the locks of some records
(`Database.on_claim`), their rows, lists and associations are read in one
query and row-locked (`FOR UPDATE`, so that an action of another record that
writes one of them waits for this commit), and the rest of the transaction
reads and changes that copy; the changes go as `Bulk` rows, one statement per
table at commit. In such a transaction a `perform` does not look its key up
first: the key's `UNIQUE` constraint is the check. Writing a key that is
already there fails the commit, the whole unit is rolled back, and the next
unit looks each key up as above (a key can only be there already when the
state that performed it was lost, so this is rare).

Outbox: every email, task, notification and webhook is a row of `crm_outbox`
with its idempotency key. Actions that call out of the database (webhooks) are
delivered after the commit by `OutboxDispatcher`, which claims unsent rows with
`FOR UPDATE SKIP LOCKED`, never inside the transaction that produced them.

`postgres_base` holds the schema, the bulk statements, the batch's locked
records and the row storage; this module the CRM itself (setup, reads,
changes, actions) and the outbox dispatcher.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from wfdsl.adapters.outbox import OutboxDispatcher, send_webhook
from wfdsl.adapters.postgres_base import (
    _EVENT_HISTORY,
    _OUTBOX,
    _PERFORMED,
    CALL_OUT_KINDS,
    MIGRATIONS,
    SCHEMA_VERSION,
    Key,
    PostgresCRMBase,
    _record,
)
from wfdsl.adapters.pushdown import POSTGRES, criteria_sql
from wfdsl.adapters.records import result_from_json, result_to_json, seed_digest, seed_of
from wfdsl.adapters.shared import OWNER_PROPERTY, email_sent, logged_args, public_args
from wfdsl.runtime.inputs import Seed
from wfdsl.runtime.protocols import Action, ActionResult, Event, PermanentAdapterError, Record, utc
from wfdsl.stores.codec import dumps, from_micros, loads, micros


class PostgresCRM(PostgresCRMBase):
    """A CRMAdapter whose data lives in PostgreSQL (`--crm postgresql://…`)."""

    def dispatch_outbox(self, batch: int = 32) -> int:
        """Deliver unsent webhooks (`send_webhook`), claimed with SKIP LOCKED; the number sent."""
        if self._dispatcher is None:
            self._dispatcher = OutboxDispatcher(self, send_webhook)
        return self._dispatcher.dispatch(batch)

    @classmethod
    def from_url(cls, url: str) -> PostgresCRM:
        """`postgresql://user@host:port/db` (or `postgres://…`)."""
        return cls(url)

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
        with self._atomic():
            held = self._held()
            for left, right in ((a, b), (b, a)):
                added = self._exec(
                    "INSERT INTO crm_associations (object, id, other_object, other_id) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    (*left, *right),
                ).rowcount
                if added and left in held:
                    held[left].links.append(right)

    def add_to_list(self, name: str, key: Key) -> None:
        self._exec("INSERT INTO crm_lists (object, id, list) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (*key, name))
        held = self._held().get(key)
        if held is not None:
            held.lists.add(name)

    def exists(self, object_type: str, record_id: str) -> bool:
        return self._props((object_type, record_id)) is not None

    def import_seed(self, seed: Seed, *, at: dt.datetime) -> int:
        """Load a records file once (same content: skipped); the number of records imported."""
        digest = seed_digest(seed)
        with self._atomic():
            # Workers starting together import once: the first holds the row lock.
            self._exec("INSERT INTO crm_meta (name, value) VALUES ('imported', '[]') ON CONFLICT DO NOTHING")
            text = self.db.one("SELECT value FROM crm_meta WHERE name = 'imported' FOR UPDATE")
            imported = loads(text) or []
            if digest in imported:
                return 0
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
        """`import_seed` of a records file's decoded JSON (RecordsError when it is not one)."""
        return self.import_seed(seed_of(data), at=at)

    # ------------------------------------------------------------ reads

    def get(self, object_type: str, record_id: str) -> Record | None:
        key = (object_type, record_id)
        held = self._held().get(key)
        if held is not None:
            return None if held.props is None else _record(key, held)
        row = self.db.rows(
            "SELECT r.props, "
            "(SELECT array_agg(list) FROM crm_lists l WHERE l.object = r.object AND l.id = r.id), "
            "(SELECT array_agg(ARRAY[a.other_object, a.other_id] ORDER BY a.n) FROM crm_associations a "
            "WHERE a.object = r.object AND a.id = r.id) "
            "FROM crm_records r WHERE r.object = %s AND r.id = %s",
            key,
        )
        if not row:
            return None
        props, lists, links = row[0]
        associations: dict[str, list[str]] = {}
        for other_type, other_id in links or ():
            associations.setdefault(other_type, []).append(other_id)
        return Record(
            object=object_type,
            id=record_id,
            properties=dict(loads(props)),
            lists=frozenset(lists or ()),
            associations={t: tuple(ids) for t, ids in associations.items()},
        )

    def property_history(self, object_type: str, record_id: str, prop: str) -> Sequence[tuple[dt.datetime, Any]]:
        rows = self.db.rows(
            "SELECT at, value FROM crm_property_history WHERE object = %s AND id = %s AND prop = %s ORDER BY n",
            (object_type, record_id, prop),
        )
        return [(from_micros(at), loads(value)) for at, value in rows]

    def event_history(
        self, object_type: str, record_id: str, event_type: str
    ) -> Sequence[tuple[dt.datetime, Mapping[str, Any]]]:
        rows = self.db.rows(
            "SELECT at, data FROM crm_event_history WHERE object = %s AND id = %s AND type = %s ORDER BY n",
            (object_type, record_id, event_type),
        )
        return [(from_micros(at), loads(data)) for at, data in rows]

    def query(self, object_type: str, criteria: Mapping[str, Any] | None = None) -> Iterator[str]:
        """Ids of the records of a type; what it can of `criteria` is pushed down into the
        SQL (adapters.pushdown): never fewer records than meet them, the caller re-checks."""
        where, params = criteria_sql(criteria, object_type, POSTGRES)
        ids = [
            i
            for (i,) in self.db.rows(
                f"SELECT id FROM crm_records WHERE object = %s AND ({where}) ORDER BY n", (object_type, *params)
            )
        ]
        yield from ids

    # ------------------------------------------------------------ changes

    def _remember(self, event: Event) -> Event:
        self.db.defer_row(
            _EVENT_HISTORY, (event.object, event.id, event.type, micros(event.at), dumps(dict(event.data)))
        )
        return event

    def _set(self, key: Key, changes: Mapping[str, Any], at: dt.datetime, cause: str | None) -> list[Event]:
        self._ensure(key)
        props = self._props(key, lock=True) or {}
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
        held = self._held().get(key)
        if held is not None and held.props is not None:
            if (name in held.lists) == add:
                return []
            if add:
                held.lists.add(name)
                self._defer("INSERT INTO crm_lists (object, id, list) VALUES (%s, %s, %s)", (*key, name))
            else:
                held.lists.discard(name)
                self._defer("DELETE FROM crm_lists WHERE object = %s AND id = %s AND list = %s", (*key, name))
            kind = "list.added" if add else "list.removed"
            return [self._remember(Event(type=kind, object=key[0], id=key[1], at=at, data={"list": name}, cause=cause))]
        if add:
            changed = self._exec(
                "INSERT INTO crm_lists (object, id, list) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (*key, name)
            ).rowcount
        else:
            changed = self._exec(
                "DELETE FROM crm_lists WHERE object = %s AND id = %s AND list = %s", (*key, name)
            ).rowcount
        if not changed:
            return []
        kind = "list.added" if add else "list.removed"
        return [self._remember(Event(type=kind, object=key[0], id=key[1], at=at, data={"list": name}, cause=cause))]

    def observe(self, event: Event) -> Sequence[Event]:
        with self._atomic():
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
        object_type = str(action.args.get("object", action.object))
        if object_type == action.object:
            return (action.object, action.id)
        held = self._held().get((action.object, action.id))
        if held is not None:
            first = next((i for t, i in held.links if t == object_type), None)
            if first is None:
                raise PermanentAdapterError(f"{action.object}:{action.id} has no associated {object_type} to update")
            return (object_type, first)
        other = self.db.one(
            "SELECT other_id FROM crm_associations WHERE object = %s AND id = %s AND other_object = %s "
            "ORDER BY n LIMIT 1",
            (action.object, action.id, object_type),
        )
        if other is None:
            raise PermanentAdapterError(f"{action.object}:{action.id} has no associated {object_type} to update")
        return (object_type, other)

    def perform(self, action: Action, idempotency_key: str) -> ActionResult:
        with self._atomic():
            here = self._performed_here()
            known_result = here.get(idempotency_key)
            if known_result is None and (self._look_up or not self.db.claiming):
                known = self.db.one("SELECT result FROM crm_performed WHERE key = %s", (idempotency_key,))
                known_result = None if known is None else result_from_json(loads(known))
            if known_result is not None:
                self._defer("UPDATE crm_performed SET replays = replays + 1 WHERE key = %s", (idempotency_key,))
                return known_result
            result = self._perform(action, idempotency_key)
            self.db.defer_row(
                _PERFORMED,
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
            here[idempotency_key] = result
            return result

    def performed(self) -> list[dict[str, Any]]:
        """The idempotency log: one row per action actually performed, oldest first."""
        rows = self.db.rows("SELECT key, kind, object, id, at, args, replays FROM crm_performed ORDER BY n")
        return [
            {"key": k, "kind": kind, "object": o, "id": i, "at": from_micros(at), "args": loads(a), "replays": r}
            for k, kind, o, i, at, a, r in rows
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
            where.append("object = %s AND id = %s")
            params += [record[0], record[1]]
        if kind is not None:
            where.append("kind = %s")
            params.append(kind)
        if since is not None:
            where.append("at >= %s")
            params.append(micros(since))
        sql = "SELECT key, kind, object, id, at, args, result FROM crm_performed"
        if where:
            sql += " WHERE " + " AND ".join(where)
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
            for key, kind_, obj, rid, at, args, result in self.db.rows(sql + " ORDER BY at, n", params)
        ]

    def outbox(self) -> list[dict[str, Any]]:
        """What left the CRM (emails, tasks, notifications, webhooks), oldest first."""
        rows = self.db.rows("SELECT kind, object, id, at, args, key, sent FROM crm_outbox ORDER BY n")
        return [
            {
                "kind": kind,
                "object": obj,
                "id": rid,
                "at": from_micros(at).isoformat(),
                "args": loads(args),
                "key": key,
                "sent": None if sent is None else utc(sent).isoformat(),
            }
            for kind, obj, rid, at, args, key, sent in rows
        ]

    def records(self, object_type: str | None = None) -> list[Record]:
        if object_type is None:
            keys = self.db.rows("SELECT object, id FROM crm_records ORDER BY n")
        else:
            keys = self.db.rows("SELECT object, id FROM crm_records WHERE object = %s ORDER BY n", (object_type,))
        return [r for r in (self.get(o, i) for o, i in keys) if r is not None]

    def _perform(self, action: Action, idempotency_key: str) -> ActionResult:
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
            self._ensure(target)
            current = (self._props(target, lock=True) or {}).get(prop)
            try:
                base = float(current) if current not in (None, "") else 0.0
            except (TypeError, ValueError) as error:
                raise PermanentAdapterError(f"{target[0]}.{prop} is {current!r}, not a number") from error
            total = base + float(args.get("by", 0))
            amount: Any = int(total) if total.is_integer() else total
            return ActionResult(events=tuple(self._set(target, {prop: amount}, at, cause)))
        if kind in ("assign_owner", "rotate_owner"):
            return ActionResult(events=tuple(self._set(own, {OWNER_PROPERTY: args.get("owner")}, at, cause)))
        if kind in ("add_to_list", "remove_from_list"):
            return ActionResult(
                events=tuple(self._list_change(own, str(args["list"]), kind == "add_to_list", at, cause))
            )
        if kind == "create_record":
            object_type = str(args.get("object_type", args.get("object", "record")))
            number = int(self.db.one("SELECT nextval('crm_created_seq')"))
            new_id = f"{object_type}-{number}"
            key = (object_type, new_id)
            self._ensure(key)
            events = [self._remember(Event(type="record.created", object=object_type, id=new_id, at=at, cause=cause))]
            props = args.get("properties", {})
            events += self._set(key, dict(props) if isinstance(props, Mapping) else {}, at, cause)
            self.associate(own, key)
            return ActionResult(events=tuple(events), data={"id": new_id})
        self.db.defer_row(
            _OUTBOX,
            (
                idempotency_key,
                kind,
                action.object,
                action.id,
                micros(at),
                dumps(public_args(args)),
                kind not in CALL_OUT_KINDS,
            ),
        )
        if kind == "send_email":
            return ActionResult(events=(self._remember(email_sent(action, at, args, cause)),))
        return ActionResult()


__all__ = ["CALL_OUT_KINDS", "MIGRATIONS", "SCHEMA_VERSION", "OutboxDispatcher", "PostgresCRM", "send_webhook"]
