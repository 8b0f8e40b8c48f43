"""PostgreSQL state store: enrollments, timers, history, stats, facts and the inbox in one
database that any number of `wfdsl run` workers share (`--store postgresql://…`).

How the work is shared (docs/operating.md, "Many workers on PostgreSQL"):

- Every unit of work is one transaction. Due timers and inbox events are
  claimed with `SELECT … FOR UPDATE SKIP LOCKED` in batches, together with a
  transaction-level advisory lock on their record (`pg_try_advisory_xact_lock`):
  a record whose lock another worker holds is skipped, so one enrollment is
  advanced by one worker at a time, and an inbox event is claimed only when no
  earlier event of its record is pending, so a record's events apply in order.
  Any other record the work touches (an associated company, a chained event)
  is locked before its enrollments are read (`pg_advisory_xact_lock`).
- A batch costs a few statements, not a few per firing. After a claim, the
  enrollments of the claimed records are read in one query (and a CRM on the
  same database reads their records in one more, `Database.on_claim`); while
  the transaction holds their locks nobody else can change them, so the
  batch's reads are answered from that copy, and its writes (enrollments,
  timers, history, stats, facts) are `Bulk` rows: one statement per table at
  commit.
- A worker that dies loses its connection; the server rolls its transaction
  back and releases its locks at once: the work is claimable again with no
  lease to wait out.
- A deploy (a worker starting with changed sources migrates the waiting
  enrollments) holds the deploy lock exclusively; every claim takes it shared,
  so a migration never interleaves with a firing. A worker whose plans are
  no longer the deployed ones stops (`PlansChangedError`) instead of advancing
  migrated enrollments by the old steps.
- Timers of a workflow itself (schedule occurrences, annual re-enrollment)
  and retention run under one advisory lock, in one worker at a time.
- Counters that every unit would touch are not rows that serialise the
  workers: ids come from sequences, stats are appended as deltas and summed
  (compacted by housekeeping).

Schema: versioned in `wfdsl_schema` (component `store`), migrated forward on
open under an advisory lock; a newer schema is refused (`SchemaVersionError`).

The class is cut by concern: `postgres_base` holds the schema, the bulk
statements and transactions with the batch's record cache,
`postgres_records` the engine's records (enrollments, timers and their
claims, history, stats, facts, metadata), and this module the inbox, the
worker coordination and the service side.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from wfdsl.runtime.protocols import DeadLetter, Enrollment, InputPosition, utc
from wfdsl.stores.codec import PAYLOAD_LIMIT, dumps, from_micros, micros, safe_text
from wfdsl.stores.postgres_base import (
    CHANNEL,
    DEPLOY_LOCK,
    HOUSEKEEPING_LOCK,
    MIGRATIONS,
    SCHEMA_VERSION,
    PlansChangedError,
    _enrollment,
    nul_path,
)
from wfdsl.stores.postgres_records import (
    PostgresRecords,
)
from wfdsl.stores.protocols import InboxEvent, event_id_of


class PostgresStore(PostgresRecords):
    """A StateStore in a PostgreSQL database, shared by many workers."""

    #: A failed transaction is rolled back (`stores.protocols.RollbackStore`).
    rolls_back: Literal[True] = True

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """`postgresql://user@host:port/db` (or `postgres://…`), libpq options as a query."""
        return cls(url)

    # ------------------------------------------------------------ inbox

    def refusal(self, body: Mapping[str, Any]) -> str | None:
        """Why PostgreSQL cannot keep this event (None: it can): its text and jsonb
        cannot hold the NUL character."""
        path = nul_path(body)
        return None if path is None else f"{path}: a NUL character (\\u0000) cannot be stored in PostgreSQL"

    def keep_latest(self, name: str, when: dt.datetime) -> None:
        self.db.defer(
            "INSERT INTO meta (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = "
            "CASE WHEN (meta.value::jsonb #>> '{}')::timestamptz >= (excluded.value::jsonb #>> '{}')::timestamptz "
            "THEN meta.value ELSE excluded.value END",
            (name, dumps(utc(when).isoformat())),
        )

    def append_events(self, events: Sequence[Mapping[str, Any]]) -> list[int | None]:
        for number, body in enumerate(events, start=1):
            reason = self.refusal(body)
            if reason is not None:  # refused before anything is written
                raise ValueError(f"event {number}: {reason}")
        numbers: list[int | None] = []
        with self._write() as conn:
            for first in range(0, len(events), 5000):
                chunk = events[first : first + 5000]
                keys = [event_id_of(body) for body in chunk]
                # One statement per chunk; rows keep their order (ORDER BY the ordinality).
                rows = conn.execute(
                    "INSERT INTO inbox (event_id, body) SELECT k, b::jsonb FROM "
                    "unnest(%b::text[], %b::text[]) WITH ORDINALITY AS t(k, b, i) ORDER BY i "
                    "ON CONFLICT (event_id) DO NOTHING RETURNING n, event_id",
                    (keys, [json.dumps(dict(body), ensure_ascii=False) for body in chunk]),
                ).fetchall()
                by_key = {key: int(n) for n, key in rows if key is not None}
                unkeyed = iter(sorted(int(n) for n, key in rows if key is None))
                for key in keys:
                    numbers.append(next(unkeyed) if key is None else by_key.pop(key, None))
            if any(n is not None for n in numbers):
                self._notify()
        return numbers

    def claim_events(self, limit: int) -> list[InboxEvent]:
        # In inbox order, each with its record's lock: a record another worker holds is
        # skipped whole (its earlier events are in that worker's hands), so the events
        # of one record apply in order. Candidates are the oldest few pending rows, so
        # that no plan can take the locks of every pending record.
        rows = self._claim(
            "SELECT n, body, object, record FROM inbox WHERE n IN "
            "(SELECT n FROM inbox WHERE done IS NULL ORDER BY n LIMIT %s) AND done IS NULL "
            "AND pg_try_advisory_xact_lock(hashtextextended(coalesce(object, '') || ':' || coalesce(record, ''), 0)) "
            "ORDER BY n LIMIT %s FOR UPDATE SKIP LOCKED",
            (int(limit) * 4, int(limit)),
        )
        held = self.db.held
        out = []
        records = []
        for number, body, object_type, record_id in rows:
            held.add(f"{object_type or ''}:{record_id or ''}")
            if object_type is not None and record_id is not None:
                records.append((object_type, record_id))
            out.append(InboxEvent(id=int(number), body=body))
        self._claimed_records(records)
        return out

    def finish_events(self, ids: Sequence[int], at: dt.datetime) -> None:
        if ids:
            self.db.defer("UPDATE inbox SET done = %s WHERE n = ANY(%s)", (utc(at), list(ids)))

    def pending_events(self) -> int:
        return int(self.db.one("SELECT count(*) FROM inbox WHERE done IS NULL"))

    def prune_events(self, before: dt.datetime) -> int:
        return int(self.db.execute("DELETE FROM inbox WHERE done IS NOT NULL AND done < %s", (utc(before),)).rowcount)

    # ------------------------------------------------------------ workers

    def wait_for_work(self, timeout: float) -> bool:
        """Sleep until a worker or a producer signals new work (LISTEN/NOTIFY) or `timeout`
        seconds pass (the poll that covers a lost notification); True if signalled."""
        if self._listener is None:
            self._listener = self.db.listener()
            self._listener.execute(f"LISTEN {CHANNEL}")
        signalled = False
        for _ in self._listener.notifies(timeout=max(0.0, timeout), stop_after=1):
            signalled = True
        return signalled

    def hold(self, name: str) -> bool:
        """Take a session lock named `name` for the life of this store (one reader per
        events file); False when another worker holds it."""
        if self._listener is None:
            self._listener = self.db.listener()
            self._listener.execute(f"LISTEN {CHANNEL}")
        row = self._listener.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (f"hold:{name}",)
        ).fetchone()
        return bool(row[0])

    def exclusive(self) -> None:
        """Wait for the deploy lock (held until this transaction ends): one worker at a time
        deploys plans and activates workflows."""
        self.db.one("SELECT pg_advisory_xact_lock(%s)", (DEPLOY_LOCK,))

    def housekeeping(self, now: dt.datetime, prune: bool) -> dict[str, int] | None:
        """Under the housekeeping lock (skipped when another worker has it): stats compacted
        and, with `prune`, the retention rules applied. What was done, or None."""
        from wfdsl.runtime.engine import ACTION_RETENTION, FACT_RETENTION, HISTORY_RETENTION

        with self.transaction():
            if not self.db.one("SELECT pg_try_advisory_xact_lock(%s)", (HOUSEKEEPING_LOCK,)):
                return None
            done = {"stats_compacted": self.compact_stats()}
            if prune:
                now = utc(now)
                done["removed"] = self.prune(
                    actions_before=now - ACTION_RETENTION,
                    history_before=now - HISTORY_RETENTION,
                    facts_before=now - FACT_RETENTION,
                )
                done["inbox_removed"] = self.prune_events(now - ACTION_RETENTION)
        return done

    def retryable(self, error: BaseException) -> bool:
        return self.db.retryable(error)

    # ------------------------------------------------------------ the service side (ServiceStore)

    def store_id(self) -> str:
        """The database's own random id, made with its schema (in every idempotency key)."""
        value = self.get_meta("store_id")
        return str(value) if value else ""

    def lock(self) -> None:
        """Nothing to claim: any number of workers share a PostgreSQL store."""

    def input_position(self, source: str) -> InputPosition | None:
        rows = self.db.rows(
            'SELECT source, line, "offset", device, inode, fingerprint FROM positions WHERE source = %s',
            (safe_text(source),),
        )
        if not rows:
            return None
        source_, line, offset, device, inode, fingerprint = rows[0]
        return InputPosition(
            source=source_,
            line=int(line),
            offset=int(offset),
            device=None if device is None else int(device),
            inode=None if inode is None else int(inode),
            fingerprint=fingerprint,
        )

    def set_input_position(self, position: InputPosition) -> None:
        self.db.defer(
            'INSERT INTO positions (source, line, "offset", device, inode, fingerprint) '
            "VALUES (%s, %s, %s, %s, %s, %s) "
            'ON CONFLICT (source) DO UPDATE SET line = excluded.line, "offset" = excluded."offset", '
            "device = excluded.device, inode = excluded.inode, fingerprint = excluded.fingerprint",
            (
                safe_text(position.source),
                position.line,
                position.offset,
                position.device,
                position.inode,
                position.fingerprint,
            ),
        )

    def add_dead_letter(self, letter: DeadLetter) -> int:
        def text(value: Any) -> str | None:
            return None if value is None else safe_text(value, 1000).replace("\x00", "\\0")

        return int(
            self.db.one(
                "INSERT INTO dead_letters (at, kind, reason, source, line, payload, object, id, workflow, enrollment) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING n",
                (
                    micros(letter.at),
                    safe_text(letter.kind, 100).replace("\x00", "\\0"),
                    safe_text(letter.reason, PAYLOAD_LIMIT).replace("\x00", "\\0"),
                    text(letter.source),
                    letter.line,
                    safe_text(letter.payload, PAYLOAD_LIMIT).replace("\x00", "\\0"),
                    text(letter.object),
                    text(letter.id),
                    text(letter.workflow),
                    text(letter.enrollment),
                ),
            )
        )

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        sql = "SELECT n, at, kind, reason, source, line, payload, object, id, workflow, enrollment FROM dead_letters"
        sql += " ORDER BY n DESC" + ("" if limit is None else f" LIMIT {int(limit)}")
        out = []
        for n, at, kind, reason, source, line, payload, obj, rid, workflow, enrollment in reversed(self.db.rows(sql)):
            out.append(
                DeadLetter(
                    n=int(n),
                    at=from_micros(at),
                    kind=kind,
                    reason=reason,
                    source=source,
                    line=None if line is None else int(line),
                    payload=payload,
                    object=obj,
                    id=rid,
                    workflow=workflow,
                    enrollment=enrollment,
                )
            )
        return out

    def count_dead_letters(self) -> int:
        return int(self.db.one("SELECT count(*) FROM dead_letters"))

    def count_by_workflow(self, status: str) -> dict[str, int]:
        rows = self.db.rows("SELECT workflow, count(*) FROM enrollments WHERE status = %s GROUP BY workflow", (status,))
        return {name: int(count) for name, count in rows}

    def waiting(self, limit: int) -> list[tuple[Enrollment, dt.datetime | None]]:
        rows = self.db.rows(
            "SELECT e.data, t.due FROM enrollments e LEFT JOIN timers t ON t.key = e.id "
            "WHERE e.status = 'active' ORDER BY e.n LIMIT %s",
            (int(limit),),
        )
        return [(_enrollment(data), None if due is None else from_micros(due)) for data, due in rows]

    def prune_some(
        self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime, limit: int
    ) -> tuple[int, bool]:
        """One short step of `prune` (about `limit` rows of each kind), in a transaction of its own."""
        limit = max(1, int(limit))
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM history WHERE n IN (SELECT n FROM history WHERE kind = 'action' AND at < %s LIMIT %s)",
                (micros(actions_before), limit),
            ).rowcount
            removed += conn.execute(
                "DELETE FROM history WHERE n IN (SELECT h.n FROM history h JOIN enrollments e ON e.id = h.enrollment "
                "WHERE e.status != 'active' AND e.ended IS NOT NULL AND e.ended < %s AND h.at < %s LIMIT %s)",
                (micros(history_before), micros(history_before), limit),
            ).rowcount
            removed += conn.execute(
                "DELETE FROM facts WHERE ctid IN (SELECT ctid FROM facts WHERE at < %s LIMIT %s)",
                (micros(facts_before), limit),
            ).rowcount
        return int(removed), removed > 0

    # ------------------------------------------------------------ retention

    def prune(self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime) -> int:
        with self._write() as conn:
            removed = conn.execute(
                "DELETE FROM history WHERE kind = 'action' AND at < %s", (micros(actions_before),)
            ).rowcount
            removed += conn.execute(
                "DELETE FROM history WHERE at < %s AND enrollment IN ("
                "SELECT id FROM enrollments WHERE status != 'active' AND ended IS NOT NULL AND ended < %s)",
                (micros(history_before), micros(history_before)),
            ).rowcount
            removed += conn.execute("DELETE FROM facts WHERE at < %s", (micros(facts_before),)).rowcount
        return int(removed)


__all__ = ["CHANNEL", "MIGRATIONS", "SCHEMA_VERSION", "PlansChangedError", "PostgresStore"]
