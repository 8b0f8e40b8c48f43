"""SQLite plumbing shared by the SQLite store, the SQLite CRM and the HubSpot
adapter's journal: a `sqlite://` URL in; a checked WAL connection and a
versioned, forward-migrated schema out.

A file carries its kind in `PRAGMA application_id` (so a CRM file is never
opened as a store) and its schema version in `PRAGMA user_version`; a file
written by a newer wfdsl is refused with `SchemaVersionError`.

>>> conn = connect(":memory:", 0x77660000, "test")
>>> migrate(conn, ("CREATE TABLE t (x)",), 0x77660000, ":memory:", "test")
>>> conn.execute("PRAGMA user_version").fetchone()[0]
1
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qs

from wfdsl.stores.errors import SchemaVersionError, StoreError

SYNCHRONOUS = ("off", "normal", "full", "extra")


def sqlite_options(url: str) -> tuple[str, dict[str, str]]:
    """The file path and options of a `sqlite://` URL.

    >>> sqlite_options("sqlite:///state.db?synchronous=normal")
    ('state.db', {'synchronous': 'normal'})
    >>> sqlite_options("sqlite:////var/lib/wf.db")[0]
    '/var/lib/wf.db'
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise StoreError(f"not a sqlite URL: {url!r}")
    location, _, query = rest.partition("?")
    if not location.startswith("/") or location == "/":
        raise StoreError(f"{url!r} names no file: use sqlite:///relative.db or sqlite:////absolute/path.db")
    path = location[1:]
    options = {key: values[-1] for key, values in parse_qs(query).items()}
    unknown = sorted(set(options) - {"synchronous"})
    if unknown:
        raise StoreError(f"unknown option {unknown[0]!r} in {url!r} (known: synchronous)")
    if options.get("synchronous", "full").lower() not in SYNCHRONOUS:
        raise StoreError(f"synchronous={options['synchronous']} in {url!r}: use one of " + ", ".join(SYNCHRONOUS))
    return path, options


def _set_wal(conn: sqlite3.Connection, timeout: float = 10.0) -> None:
    """WAL mode, waiting for other processes that open the same new file.

    Changing the journal mode needs the file to itself, and SQLite may answer
    "database is locked" at once instead of calling the busy handler while
    another connection is opening the file: try again for up to `timeout`.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def connect(path: str, application_id: int, what: str, synchronous: str = "full") -> sqlite3.Connection:
    """An autocommit connection in WAL mode, checked to be a wfdsl file of the right kind."""
    if path != ":memory:":
        parent = Path(path).parent
        if not parent.is_dir():
            raise StoreError(f"{path}: directory {str(parent)!r} does not exist")
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 10000")
        # Both in one read transaction: another process may be creating the schema.
        conn.execute("BEGIN")
        try:
            found = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")  # a read: nothing to keep
        if found != application_id and (found != 0 or tables):
            conn.close()
            raise StoreError(f"{path} is not a wfdsl {what} file")
        _set_wal(conn)
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{path}: {error}") from error
    return conn


def migrate(conn: sqlite3.Connection, migrations: Sequence[str], application_id: int, path: str, what: str) -> None:
    """Bring the schema to `len(migrations)`: migration `i` turns version i into i+1."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        raise SchemaVersionError(
            f"{path} has {what} schema version {version}, newer than this wfdsl "
            f"understands ({len(migrations)}): upgrade wfdsl to open it"
        )
    for number in range(version, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process opening the same new file may have migrated it while this
            # one waited for the write lock: look again under the lock.
            if conn.execute("PRAGMA user_version").fetchone()[0] > number:
                conn.execute("COMMIT")
                continue
            for statement in _statements(migrations[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {application_id}")
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            conn.execute("ROLLBACK")
            raise StoreError(
                f"{path}: cannot migrate the {what} schema from version {number} to {number + 1}: {error}"
            ) from error
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


__all__ = ["SYNCHRONOUS", "connect", "migrate", "sqlite_options"]
