"""PostgreSQL CRM adapter, its foundation: the schema, bulk statements, and the batch's locked records."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from wfdsl.adapters.outbox import OutboxDispatcher
from wfdsl.runtime.protocols import ActionResult, Record
from wfdsl.stores.codec import dumps, loads, micros
from wfdsl.stores.pgdb import Bulk, Database, open_database, release_database

Key = tuple[str, str]

#: Action kinds that leave the database: delivered by the dispatcher after commit.
CALL_OUT_KINDS = frozenset({"webhook"})

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE crm_meta (name text PRIMARY KEY, value text NOT NULL);
    CREATE SEQUENCE crm_created_seq;
    CREATE TABLE crm_records (
        n bigserial NOT NULL,
        object text NOT NULL, id text NOT NULL, props text NOT NULL,
        PRIMARY KEY (object, id)
    );
    CREATE INDEX crm_records_order ON crm_records (object, n);
    CREATE TABLE crm_lists (
        object text NOT NULL, id text NOT NULL, list text NOT NULL,
        PRIMARY KEY (object, id, list)
    );
    CREATE TABLE crm_associations (
        n bigserial NOT NULL,
        object text NOT NULL, id text NOT NULL, other_object text NOT NULL, other_id text NOT NULL,
        PRIMARY KEY (object, id, other_object, other_id)
    );
    CREATE TABLE crm_property_history (
        n bigserial PRIMARY KEY,
        object text NOT NULL, id text NOT NULL, prop text NOT NULL,
        at bigint NOT NULL, value text NOT NULL
    );
    CREATE INDEX crm_property_history_key ON crm_property_history (object, id, prop, n);
    CREATE TABLE crm_event_history (
        n bigserial PRIMARY KEY,
        object text NOT NULL, id text NOT NULL, type text NOT NULL,
        at bigint NOT NULL, data text NOT NULL
    );
    CREATE INDEX crm_event_history_key ON crm_event_history (object, id, type, n);
    CREATE TABLE crm_performed (
        n bigserial PRIMARY KEY,
        key text NOT NULL UNIQUE,
        kind text NOT NULL, object text NOT NULL, id text NOT NULL,
        at bigint NOT NULL, args text NOT NULL, result text NOT NULL,
        replays integer NOT NULL DEFAULT 0
    );
    CREATE TABLE crm_outbox (
        n bigserial PRIMARY KEY,
        key text UNIQUE,
        kind text NOT NULL, object text NOT NULL, id text NOT NULL,
        at bigint NOT NULL, args text NOT NULL,
        sent timestamptz, attempts integer NOT NULL DEFAULT 0, error text
    );
    CREATE INDEX crm_outbox_unsent ON crm_outbox (n) WHERE sent IS NULL
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

#: The constraints a replayed idempotency key trips (the outbox row may go first).
REPLAYED_KEY = frozenset({"crm_performed_key_key", "crm_outbox_key_key"})

# The batch writes (pgdb.Bulk): one statement per table and transaction.
_SAVE_PROPS = Bulk(
    "UPDATE crm_records r SET props = v.p FROM unnest(%b::text[], %b::text[], %b::text[]) AS v(o, i, p) "
    "WHERE r.object = v.o AND r.id = v.i",
    key=(0, 1),
)
_PROPERTY_HISTORY = Bulk(
    "INSERT INTO crm_property_history (object, id, prop, at, value) SELECT o, i, p, a, v FROM "
    "unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[]) WITH ORDINALITY AS t(o, i, p, a, v, n) "
    "ORDER BY n"
)
_EVENT_HISTORY = Bulk(
    "INSERT INTO crm_event_history (object, id, type, at, data) SELECT o, i, t, a, d FROM "
    "unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[]) WITH ORDINALITY AS x(o, i, t, a, d, n) "
    "ORDER BY n"
)
_PERFORMED = Bulk(
    "INSERT INTO crm_performed (key, kind, object, id, at, args, result) SELECT k, c, o, i, a, g, r FROM "
    "unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[]) "
    "WITH ORDINALITY AS t(k, c, o, i, a, g, r, n) ORDER BY n"
)
_OUTBOX = Bulk(
    "INSERT INTO crm_outbox (key, kind, object, id, at, args, sent) SELECT k, c, o, i, a, g, "
    "CASE WHEN s THEN now() END FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[], "
    "%b::text[], %b::boolean[]) WITH ORDINALITY AS t(k, c, o, i, a, g, s, n) ORDER BY n"
)


@attrs.define
class _Held:
    """A record this transaction holds (row-locked): its data as of the claim, with the
    transaction's own changes. `props` None: no such record."""

    props: dict[str, Any] | None
    lists: set[str] = attrs.field(factory=set)
    links: list[tuple[str, str]] = attrs.field(factory=list)


def _record(key: Key, held: _Held) -> Record:
    associations: dict[str, list[str]] = {}
    for other_type, other_id in held.links:
        associations.setdefault(other_type, []).append(other_id)
    return Record(
        object=key[0],
        id=key[1],
        properties=dict(held.props or {}),
        lists=frozenset(held.lists),
        associations={t: tuple(ids) for t, ids in associations.items()},
    )


class PostgresCRMBase:
    """The shared database, the records the transaction holds locked, metadata, and row storage."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.db: Database = open_database(url)
        try:
            self.db.migrate("crm", MIGRATIONS, "CRM")
        except BaseException:
            release_database(self.db)
            raise
        self._closed = False
        self._dispatcher: OutboxDispatcher | None = None
        self._local = threading.local()
        # Units to run with each idempotency key looked up first (after a replayed key).
        self._look_up = 0
        self.db.on_end.append(self._transaction_ended)
        self.db.on_claim.append(self._claimed)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for hooks, hook in ((self.db.on_end, self._transaction_ended), (self.db.on_claim, self._claimed)):
                if hook in hooks:
                    hooks.remove(hook)  # type: ignore[arg-type]
            release_database(self.db)

    # ------------------------------------------------------------ batches

    def _transaction_ended(self, error: BaseException | None = None) -> None:
        self._local.held = {}
        self._local.performed = {}
        if error is None:
            self._look_up = max(0, self._look_up - 1)
        elif isinstance(error, self.db.errors.UniqueViolation) and error.diag.constraint_name in REPLAYED_KEY:
            self._look_up = 1  # a key performed before: the unit runs again with each key looked up

    def _held(self) -> dict[Key, _Held]:
        if not self.db.in_transaction:
            return {}
        held: dict[Key, _Held] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    def _performed_here(self) -> dict[str, ActionResult]:
        performed: dict[str, ActionResult] | None = getattr(self._local, "performed", None)
        if performed is None:
            performed = self._local.performed = {}
        return performed

    def _claimed(self, records: Sequence[Key]) -> None:
        """A claim took the locks of `records`: read them (rows locked) in one query."""
        held = self._held()
        wanted = [key for key in records if key not in held]
        if not wanted:
            return
        rows = self.db.rows(
            "SELECT r.object, r.id, r.props, "
            "(SELECT array_agg(list) FROM crm_lists l WHERE l.object = r.object AND l.id = r.id), "
            "(SELECT array_agg(ARRAY[a.other_object, a.other_id] ORDER BY a.n) FROM crm_associations a "
            "WHERE a.object = r.object AND a.id = r.id) "
            "FROM crm_records r JOIN unnest(%b::text[], %b::text[]) AS k(o, i) ON r.object = k.o AND r.id = k.i "
            "FOR UPDATE OF r",
            ([o for o, _ in wanted], [i for _, i in wanted]),
        )
        for key in wanted:
            held[key] = _Held(props=None)
        for object_type, record_id, props, lists, links in rows:
            held[(object_type, record_id)] = _Held(
                props=dict(loads(props)),
                lists=set(lists or ()),
                links=[(str(t), str(i)) for t, i in links or ()],
            )

    @contextmanager
    def _atomic(self) -> Iterator[Any]:
        with self.db.transaction() as conn:
            yield conn

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.db.execute(sql, params)

    def _defer(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.db.defer(sql, params)

    # ------------------------------------------------------------ metadata

    def get_meta(self, name: str) -> Any:
        text = self.db.one("SELECT value FROM crm_meta WHERE name = %s", (name,))
        return None if text is None else loads(text)

    def set_meta(self, name: str, value: Any) -> None:
        self._exec(
            "INSERT INTO crm_meta (name, value) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, dumps(value)),
        )

    # ------------------------------------------------------------ setup

    def _ensure(self, key: Key) -> bool:
        held = self._held().get(key)
        if held is not None and held.props is not None:
            return False
        cursor = self._exec(
            "INSERT INTO crm_records (object, id, props) VALUES (%s, %s, '{}') ON CONFLICT DO NOTHING", key
        )
        if held is not None:
            if cursor.rowcount:  # made in this transaction: its row is this transaction's
                held.props = {}
            else:  # made meanwhile by another transaction: read it from the table from now on
                del self._held()[key]
        return bool(cursor.rowcount)

    def _props(self, key: Key, *, lock: bool = False) -> dict[str, Any] | None:
        held = self._held().get(key)
        if held is not None:
            return None if held.props is None else dict(held.props)
        # FOR UPDATE in a write: the latest committed value, and no other writer until commit.
        suffix = " FOR UPDATE" if lock and self.db.in_transaction else ""
        text = self.db.one(f"SELECT props FROM crm_records WHERE object = %s AND id = %s{suffix}", key)
        return None if text is None else dict(loads(text))

    def _save_props(self, key: Key, props: Mapping[str, Any]) -> None:
        held = self._held().get(key)
        if held is not None:
            held.props = dict(props)
        self.db.defer_row(_SAVE_PROPS, (key[0], key[1], dumps(dict(props))))

    def _history(self, key: Key, prop: str, at: dt.datetime, value: Any) -> None:
        self.db.defer_row(_PROPERTY_HISTORY, (key[0], key[1], prop, micros(at), dumps(value)))
