"""PostgreSQL plumbing shared by the store and the CRM: a URL in; pooled connections,
transactions that the store and the CRM join, versioned migrations out.

psycopg 3 and psycopg_pool are an optional extra (`pip install 'wfdsl-crm[postgres]'`);
they are imported when a `postgresql://` URL is opened, never at import time of
a core module. A store and a CRM opened on the same URL share one `Database`:
inside `with store.transaction():` the CRM writes on the same connection, in
the same transaction, so the state and the effects it produced commit together.

A transaction belongs to the thread that opened it (a thread-local
connection); a statement outside any transaction borrows a pooled connection
in autocommit mode.

Writes whose result nobody reads are not sent one by one: `defer` queues a
statement, and `defer_row` adds a row to a `Bulk` statement (many rows in one
`INSERT … SELECT FROM unnest(…)`), so that a batch of work commits its
changes in a few statements, sent pipelined with the next read or the commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs

from wfdsl.stores.errors import SchemaVersionError, StoreError

#: What to install when psycopg is missing.
EXTRA_HINT = "PostgreSQL support needs: pip install 'wfdsl-crm[postgres]'"
SCHEMES = ("postgresql", "postgres")
#: Advisory lock (transaction level) taken while a schema is migrated.
MIGRATION_LOCK = 0x77660001


def load_psycopg() -> Any:
    """The psycopg module, or StoreError naming the extra to install."""
    try:
        import psycopg
        import psycopg_pool  # noqa: F401 - checked here so the error names the extra
    except ImportError as error:
        raise StoreError(f"{EXTRA_HINT} ({error.name} is not installed)") from None
    return psycopg


def is_postgres_url(url: str) -> bool:
    """True for `postgresql://…` and `postgres://…`.

    >>> is_postgres_url("postgres://u@h/db"), is_postgres_url("sqlite:///x.db")
    (True, False)
    """
    return url.split("://", 1)[0].lower() in SCHEMES


def safe_url(url: str) -> str:
    """The URL without its password, for messages.

    >>> safe_url("postgresql://ann:secret@db:5432/wf")
    'postgresql://ann@db:5432/wf'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@attrs.frozen(eq=False)  # known by identity: a module-level constant per statement
class Bulk:
    """A write that takes many rows in one statement: `sql` has one `%b` per column, each
    bound to the array of that column's values (`unnest(%b::text[], …)`, binary, so
    that no value needs quoting), in the order the rows were added.

    `key` (column positions) makes it an upsert: a later row with the same key
    replaces the earlier one (a statement cannot change one row twice), or, with
    `combine`, is merged into it (`combine(earlier, later)`). `encode` turns a row
    as added into the row as sent, once, when it is sent (so a row replaced
    before then is never encoded).

    >>> Bulk("INSERT INTO t (a) SELECT * FROM unnest(%b::text[])").key
    ()
    """

    sql: str
    key: tuple[int, ...] = ()
    combine: Callable[[tuple[Any, ...], tuple[Any, ...]], tuple[Any, ...]] | None = None
    encode: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None


class Database:
    """One PostgreSQL database: a connection pool and the open transaction of each thread."""

    def __init__(self, url: str, *, max_size: int = 4) -> None:
        psycopg = load_psycopg()
        from psycopg_pool import ConnectionPool

        if not is_postgres_url(url):
            raise StoreError(f"not a PostgreSQL URL: {url!r}")
        self.url = url
        self.label = safe_url(url)
        self.errors = psycopg.errors
        self._psycopg = psycopg
        conninfo = "postgresql://" + url.split("://", 1)[1]
        self.conninfo = conninfo
        try:  # one plain connection first: its error says what is wrong (the pool's only times out)
            psycopg.connect(conninfo, connect_timeout=10).close()
        except psycopg.Error as error:
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            raise StoreError(f"cannot connect to {self.label}: {reason}") from None
        self.pool = ConnectionPool(
            conninfo, min_size=1, max_size=max_size, kwargs={"autocommit": True}, open=False, name="wfdsl"
        )
        try:
            self.pool.open(wait=True, timeout=15)
        except Exception as error:
            self.pool.close()
            raise StoreError(f"cannot connect to {self.label}: {error}") from None
        self._local = threading.local()
        self.users = 0
        #: Called when a thread's outermost transaction ends: with None when it committed,
        #: with the error when it was rolled back.
        self.on_end: list[Callable[[BaseException | None], None]] = []
        #: Called with the records whose locks a claim took (`claimed`): a CRM on this
        #: database reads them for the batch in one query.
        self.on_claim: list[Callable[[Sequence[tuple[str, str]]], None]] = []

    def close(self) -> None:
        self.pool.close()

    # ------------------------------------------------------------ transactions

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    @property
    def claiming(self) -> bool:
        """Whether this thread's transaction claimed work (`claimed`): a unit of a worker."""
        return bool(getattr(self._local, "claiming", False))

    def claimed(self, records: Iterable[tuple[str, str]]) -> None:
        """A claim in this transaction took the locks of `records`: tell `on_claim`."""
        self._local.claiming = True
        keys = sorted(set(records))
        if keys:
            for hook in self.on_claim:
                hook(keys)

    @property
    def held(self) -> set[str]:
        """Record locks this thread's transaction holds (cleared when it ends)."""
        held: set[str] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = set()
        return held

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """The thread's transaction: opened here (committed on a clean exit, rolled back on
        an exception). A block inside an open transaction joins it, without a savepoint:
        an error in the database aborts the whole transaction anyway, and the unit of work
        it belongs to is run again from the start."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        failed: BaseException | None = None
        with self.pool.connection() as conn:
            self._local.conn = conn
            self._local.deferred = []
            self._local.bulk = {}
            try:
                with conn.transaction():
                    yield conn
                    self.flush()
            except BaseException as error:
                failed = error
                raise
            finally:
                self._local.conn = None
                self._local.deferred = []
                self._local.bulk = {}
                self._local.claiming = False
                self.held.clear()
                for hook in self.on_end:
                    hook(failed)

    def defer(self, sql: str, params: Sequence[Any] = ()) -> None:
        """A write whose result nobody reads: inside a transaction it is sent with the
        next statement that needs an answer (or at commit), many in one round trip."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self.pool.connection() as borrowed:
                borrowed.execute(sql, params)
            return
        self._queue_bulk()  # rows added before this statement go before it
        self._local.deferred.append((sql, params))

    def defer_row(self, bulk: Bulk, row: tuple[Any, ...], *, replaces: Bulk | None = None) -> None:
        """Add a row to a bulk write of this transaction (sent as one statement with the
        other rows of `bulk`); a pending row of `replaces` with the same key is dropped
        (a delete superseded by an upsert of the row, or the other way round).
        Outside a transaction the row is written at once."""
        if getattr(self._local, "conn", None) is None:
            self.defer(bulk.sql, [[value] for value in (row if bulk.encode is None else bulk.encode(row))])
            return
        pending: dict[Any, Any] = self._local.bulk
        if bulk.key:
            key = tuple(row[i] for i in bulk.key)
            if replaces is not None:
                other = pending.get(replaces)
                if other is not None:
                    other.pop(key, None)
            rows = pending.setdefault(bulk, {})
            earlier = rows.get(key)
            rows[key] = row if earlier is None or bulk.combine is None else bulk.combine(earlier, row)
        else:
            pending.setdefault(bulk, []).append(row)

    def _queue_bulk(self) -> None:
        """The pending bulk rows as statements at the end of the deferred queue."""
        pending: dict[Bulk, Any] = getattr(self._local, "bulk", None) or {}
        if not pending:
            return
        self._local.bulk = {}
        for bulk, rows in pending.items():
            values = list(rows.values()) if isinstance(rows, dict) else rows
            if bulk.encode is not None:
                values = [bulk.encode(row) for row in values]
            if values:
                self._local.deferred.append((bulk.sql, [list(column) for column in zip(*values, strict=True)]))

    def flush(self) -> None:
        """Send the deferred writes, in order, pipelined."""
        self._queue_bulk()
        deferred = getattr(self._local, "deferred", None)
        if not deferred:
            return
        self._local.deferred = []
        conn = self._local.conn
        if len(deferred) == 1:
            conn.execute(*deferred[0])
            return
        with conn.pipeline():
            for sql, params in deferred:
                conn.execute(sql, params)

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """The thread's transaction connection, or a pooled autocommit one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.pool.connection() as borrowed:
            yield borrowed

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (after the deferred writes); the cursor (fetch its rows
        before the next call)."""
        self.flush()
        with self.connection() as conn:
            return conn.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = (), *, flush: bool = True) -> list[Any]:
        if flush:
            self.flush()
        with self.connection() as conn:
            return list(conn.execute(sql, params).fetchall())

    def pipelined(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
        """Run `statements` in order in one round trip (each with its own snapshot, as
        separate statements have); the rows of each."""
        self.flush()
        with self.connection() as conn:
            with conn.pipeline():
                cursors = [conn.execute(sql, params) for sql, params in statements]
            return [list(cursor.fetchall()) if cursor.description else [] for cursor in cursors]

    def one(self, sql: str, params: Sequence[Any] = (), *, flush: bool = True) -> Any:
        """The first column of the first row (None: no row). `flush=False` for a read that
        does not depend on this transaction's pending writes (a sequence)."""
        if flush:
            self.flush()
        with self.connection() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def lock_record(self, object_type: str, record_id: str) -> None:
        """Wait for the record's advisory lock (held until this transaction ends): the
        enrollments of one record are read and changed by one worker at a time."""
        key = f"{object_type}:{record_id}"
        held = self.held
        if key in held or not self.in_transaction:
            return
        self.one("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
        held.add(key)

    def retryable(self, error: BaseException) -> bool:
        """A conflict with another worker (deadlock, serialization failure): the
        transaction was rolled back and running it again is the cure."""
        errors = self.errors
        return isinstance(
            error,
            (errors.DeadlockDetected, errors.SerializationFailure, errors.LockNotAvailable, errors.UniqueViolation),
        )

    def listener(self) -> Any:
        """A dedicated autocommit connection (LISTEN, session locks)."""
        return self._psycopg.connect(self.conninfo, autocommit=True)

    # ------------------------------------------------------------ schema

    def migrate(self, component: str, migrations: Sequence[str], what: str) -> int:
        """Bring `component`'s schema to `len(migrations)` (one transaction per step, under an
        advisory lock so that workers starting together migrate once); the version."""
        with self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS wfdsl_schema (component text PRIMARY KEY, version integer NOT NULL)"
            )
            row = conn.execute("SELECT version FROM wfdsl_schema WHERE component = %s", (component,)).fetchone()
            version = 0 if row is None else int(row[0])
            if version > len(migrations):
                raise SchemaVersionError(
                    f"{self.label} has {what} schema version {version}, newer than this wfdsl "
                    f"understands ({len(migrations)}): upgrade wfdsl to open it"
                )
            for number in range(version, len(migrations)):
                try:
                    with conn.transaction():
                        conn.execute(migrations[number])
                        conn.execute(
                            "INSERT INTO wfdsl_schema (component, version) VALUES (%s, %s) "
                            "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                            (component, number + 1),
                        )
                except self._psycopg.Error as error:
                    raise StoreError(
                        f"{self.label}: cannot migrate the {what} schema from version {number} to {number + 1}: {error}"
                    ) from None
            return len(migrations)


_OPEN: dict[str, Database] = {}
_OPEN_LOCK = threading.Lock()


def open_database(url: str) -> Database:
    """The `Database` for a URL, shared by everything this process opens on that URL."""
    with _OPEN_LOCK:
        database = _OPEN.get(url)
        if database is None:
            database = _OPEN[url] = Database(url)
        database.users += 1
        return database


def release_database(database: Database) -> None:
    """One user fewer; the pool closes with the last."""
    with _OPEN_LOCK:
        database.users -= 1
        if database.users <= 0:
            _OPEN.pop(database.url, None)
            database.close()


__all__ = [
    "EXTRA_HINT",
    "Bulk",
    "Database",
    "is_postgres_url",
    "load_psycopg",
    "open_database",
    "release_database",
    "safe_url",
]
