"""The errors of the durable stores: a file or database that cannot be used as asked.

Shared by the SQLite and PostgreSQL stores and CRMs, and caught by the CLI,
which turns them into a one-line message and exit status 2.

>>> raise SchemaVersionError("state.db has store schema version 9")
Traceback (most recent call last):
...
wfdsl.stores.errors.SchemaVersionError: state.db has store schema version 9
"""

from __future__ import annotations


class StoreError(Exception):
    """A SQLite file that cannot be used as asked (wrong kind, newer schema, unreadable)."""


class SchemaVersionError(StoreError):
    """The file was written by a newer wfdsl: its schema version is unknown here."""


__all__ = ["SchemaVersionError", "StoreError"]
