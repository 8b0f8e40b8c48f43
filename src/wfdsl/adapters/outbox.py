"""The outbox dispatcher: a PostgreSQL CRM's call-out rows (webhooks) delivered after commit.

Actions that call out of the process are never performed inside the claim
transaction: the CRM writes an outbox row with the state that produced it, and
`OutboxDispatcher` sends the committed rows later, claiming them with
`FOR UPDATE SKIP LOCKED` so that many workers never send one row twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from wfdsl.stores.codec import from_micros, loads
from wfdsl.stores.pgdb import Database


class HasDatabase(Protocol):
    """What the dispatcher needs of a CRM: the database its outbox is in."""

    @property
    def db(self) -> Database: ...


def send_webhook(row: Mapping[str, Any]) -> None:
    """Deliver a `webhook` outbox row: the HTTP request its arguments name (method, url,
    body), with the idempotency key in `Idempotency-Key`. Raises on a failure or a status
    of 400 and up (the row is tried again on a later pass)."""
    import urllib.request

    args = row["args"]
    body = args.get("body")
    request = urllib.request.Request(
        str(args["url"]),
        data=None if body is None else str(body).encode("utf-8"),
        method=str(args.get("method", "post")).upper(),
        headers={"Content-Type": "application/json", "Idempotency-Key": str(row["key"]), "User-Agent": "wfdsl"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the workflow's own URL
        response.read()


class OutboxDispatcher:
    """Delivers the call-out rows of a PostgreSQL CRM's outbox (webhooks) after commit.

    `send(row)` delivers one row (a dict with `kind`, `object`, `id`, `args`,
    `key`) and raises on failure. Each `dispatch` claims up to `batch` unsent rows
    with `FOR UPDATE SKIP LOCKED` (so many workers never send a row twice), sends
    them, and marks them sent — or counts the attempt and keeps the error, to be
    tried again on a later pass (at most `max_attempts` times).
    The idempotency key goes with every delivery, so a receiver can drop the
    repeat of a send whose acknowledgement was lost with a killed worker.
    """

    def __init__(self, crm: HasDatabase, send: Callable[[Mapping[str, Any]], None], *, max_attempts: int = 10) -> None:
        self.crm = crm
        self.send = send
        self.max_attempts = max_attempts

    def dispatch(self, batch: int = 32) -> int:
        """Send what is due; the number of rows sent."""
        sent = 0
        with self.crm.db.transaction() as conn:
            rows = conn.execute(
                "SELECT n, key, kind, object, id, at, args, attempts FROM crm_outbox WHERE sent IS NULL "
                "AND attempts < %s ORDER BY n LIMIT %s FOR UPDATE SKIP LOCKED",
                (self.max_attempts, int(batch)),
            ).fetchall()
            for number, key, kind, obj, rid, at, args, _attempts in rows:
                row = {"key": key, "kind": kind, "object": obj, "id": rid, "at": from_micros(at), "args": loads(args)}
                try:
                    self.send(row)
                except Exception as error:  # kept for the next pass, with the error
                    conn.execute(
                        "UPDATE crm_outbox SET attempts = attempts + 1, error = %s WHERE n = %s",
                        (f"{type(error).__name__}: {error}", number),
                    )
                    continue
                conn.execute("UPDATE crm_outbox SET sent = now(), error = NULL WHERE n = %s", (number,))
                sent += 1
        return sent
