"""PostgreSQL state store, the engine's records: enrollments, timers and claims, history, stats, facts."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wfdsl.runtime.protocols import STAT_FIELDS, Enrollment, HistoryEntry, Timer, utc
from wfdsl.stores.codec import TIMER_COLUMNS as _TIMER_COLUMNS
from wfdsl.stores.codec import dumps, from_micros, loads, micros
from wfdsl.stores.codec import history_row as _entry
from wfdsl.stores.codec import timer_row as _timer
from wfdsl.stores.postgres_base import (
    _ADD_FACTS,
    _ADD_STATS,
    _APPEND_HISTORY,
    _CLAIM_TIMERS,
    _DELETE_TIMERS,
    _HISTORY_COLUMNS,
    _PUT_ENROLLMENTS,
    _SET_TIMERS,
    DEPLOY_LOCK,
    HOUSEKEEPING_LOCK,
    NOTIFY_AHEAD,
    PlansChangedError,
    PostgresBase,
    _enrollment,
    _where,
)


class PostgresRecords(PostgresBase):
    """Enrollments, timers and their claims, history, stats, facts, workflow state and metadata."""

    # ------------------------------------------------------------ enrollments

    def put_enrollment(self, enrollment: Enrollment) -> None:
        self.db.defer_row(_PUT_ENROLLMENTS, (enrollment.id, enrollment))
        self._remember(enrollment, enrollment.id, (enrollment.object, enrollment.record))

    def enrollment(self, enrollment_id: str) -> Enrollment | None:
        if self.db.in_transaction:
            known = self._known(self._tx(), enrollment_id)
            if known is not None:
                return known
        data = self.db.one("SELECT data FROM enrollments WHERE id = %s", (enrollment_id,))
        if data is None:
            return None
        found = _enrollment(data)
        self._remember(found, found.id, (found.object, found.record))
        return found

    def enrollments_of(self, object_type: str, record_id: str) -> Sequence[Enrollment]:
        record = (object_type, record_id)
        if self.db.in_transaction:
            tx = self._tx()
            ids = tx.loaded.get(record)
            if ids is not None:
                return [e for e in (self._known(tx, i) for i in ids) if e is not None]
        # The record's lock first (a statement of its own: the read after it must see
        # what the worker that held the lock committed).
        self.db.lock_record(object_type, record_id)
        rows = self.db.rows(
            "SELECT data FROM enrollments WHERE object = %s AND record = %s ORDER BY n", (object_type, record_id)
        )
        found = [_enrollment(data) for (data,) in rows]
        if self.db.in_transaction:
            tx = self._tx()
            tx.loaded[record] = []
            for enrollment in found:
                self._remember(enrollment, enrollment.id, record)
        return found

    def _load_records(self, records: Sequence[tuple[str, str]]) -> None:
        """Read the enrollments of `records` (whose locks this transaction holds) in one query."""
        tx = self._tx()
        wanted = [r for r in records if r not in tx.loaded]
        if not wanted:
            return
        rows = self.db.rows(
            "SELECT e.id, e.object, e.record, e.data FROM enrollments e JOIN unnest(%b::text[], %b::text[]) "
            "AS k(o, r) ON e.object = k.o AND e.record = k.r ORDER BY e.n",
            ([o for o, _ in wanted], [r for _, r in wanted]),
        )
        for record in wanted:
            tx.loaded[record] = []
        for eid, object_type, record_id, data in rows:
            self._remember(data, eid, (object_type, record_id))

    def enrollments(self, workflow: str | None = None, status: str | None = None) -> Iterable[Enrollment]:
        where, params = _where(workflow=workflow, status=status)
        return [
            _enrollment(data) for (data,) in self.db.rows(f"SELECT data FROM enrollments{where} ORDER BY n", params)
        ]

    def count_enrollments(self, workflow: str | None = None, status: str | None = None) -> int:
        where, params = _where(workflow=workflow, status=status)
        return int(self.db.one(f"SELECT count(*) FROM enrollments{where}", params))

    # ------------------------------------------------------------ timers

    def _timer_changed(self, key: str, timer: Timer | None) -> None:
        """This transaction set or removed timer `key`: a claimed copy of it is stale."""
        if not self.db.in_transaction:
            return
        tx = self._tx()
        tx.timers[key] = timer
        if tx.claimed:
            tx.claimed[:] = [t for t in tx.claimed if t.key != key]

    def set_timer(self, timer: Timer) -> None:
        # The timer carries its enrollment's record, so that a claim can lock the record.
        place = None if timer.enrollment is None else self._places.get(timer.enrollment)
        row = (timer.key, micros(timer.due), timer.seq, timer.kind, timer.workflow, timer.enrollment)
        if timer.enrollment is None or place is not None:
            self.db.defer_row(_SET_TIMERS, (*row, *(place or (None, None))), replaces=_DELETE_TIMERS)
        else:  # an enrollment this process has not seen: its record from the table
            self.db.defer(
                f"INSERT INTO timers ({_TIMER_COLUMNS}, object, record) "
                "SELECT %s, %s, %s, %s, %s, %s, e.object, e.record FROM (SELECT 1) AS one "
                "LEFT JOIN enrollments e ON e.id = %s "
                "ON CONFLICT (key) DO UPDATE SET due = excluded.due, seq = excluded.seq, kind = excluded.kind, "
                "workflow = excluded.workflow, enrollment = excluded.enrollment, object = excluded.object, "
                "record = excluded.record",
                (*row, timer.enrollment),
            )
        self._timer_changed(timer.key, timer)
        if self.db.in_transaction and utc(timer.due) <= dt.datetime.now(dt.timezone.utc) + NOTIFY_AHEAD:
            self._notify()

    def cancel_timer(self, key: str) -> None:
        self.db.defer_row(_DELETE_TIMERS, (key,), replaces=_SET_TIMERS)
        self._timer_changed(key, None)

    def timer(self, key: str) -> Timer | None:
        if self.db.in_transaction:
            timers = self._tx().timers
            if key in timers:
                return timers[key]  # type: ignore[no-any-return]
        rows = self.db.rows(f"SELECT {_TIMER_COLUMNS} FROM timers WHERE key = %s", (key,))
        return _timer(rows[0]) if rows else None

    def claim_timers(self, now: dt.datetime, limit: int) -> list[Timer]:
        """Lock up to `limit` due timers for this transaction: those of records no other
        worker holds, plus workflow timers when this worker holds housekeeping. The
        enrollments of their records are read with them (one more query)."""
        rows = self._claim(_CLAIM_TIMERS, (micros(now), int(limit), HOUSEKEEPING_LOCK))
        held = self.db.held
        records = []
        timers = []
        known = self._tx().timers
        for row in rows:
            timer = _timer(row)
            timers.append(timer)
            known[timer.key] = timer
            if row[5] is not None:
                held.add(f"{row[6] or ''}:{row[7] or ''}")
                if row[6] is not None and row[7] is not None:
                    records.append((row[6], row[7]))
        self._claimed_records(records)
        return timers

    def expect_plans(self, text: str) -> None:
        """This worker runs the plans `text` (as `set_meta("plans", text)` stored them): a
        claim after another worker deployed others raises PlansChangedError."""
        self._plans_digest = hashlib.md5(dumps(text).encode("utf-8")).hexdigest()  # noqa: S324 - not security

    def _claim(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """A claim statement after the deploy lock (shared: a deploy in progress is waited
        for) and the deployed plans' digest, in one round trip; its rows."""
        _, deployed, rows = self.db.pipelined(
            [
                ("SELECT pg_advisory_xact_lock_shared(%s)", (DEPLOY_LOCK,)),
                ("SELECT md5(value) FROM meta WHERE name = 'plans'", ()),
                (sql, params),
            ]
        )
        if self._plans_digest is not None and deployed and deployed[0][0] != self._plans_digest:
            raise PlansChangedError(
                f"{self.label}: another worker deployed other workflows since this one started; "
                "stop it and start it with the sources now deployed (`wfdsl plan` compares them)"
            )
        return rows

    def _claimed_records(self, records: Sequence[tuple[str, str]]) -> None:
        """This transaction holds `records`: their enrollments here, their CRM records in
        a CRM on this database."""
        if records:
            self._load_records(records)
        self.db.claimed(records)

    def pop_due(self, now: dt.datetime) -> Timer | None:
        if not self.db.in_transaction:
            with self.transaction():
                return self.pop_due(now)
        tx = self._tx()
        claimed = tx.claimed
        limit = micros(now)
        while True:
            if not claimed:
                # One claim per transaction: a unit of work fires one batch and commits.
                if tx.claimed_once:
                    return None
                tx.claimed_once = True
                claimed.extend(self.claim_timers(now, self.claim_batch))
                if not claimed:
                    return None
            timer: Timer = claimed.pop(0)
            if micros(timer.due) > limit:
                continue
            # A timer this transaction removed or replaced since the claim is no longer
            # in `claimed` (`_timer_changed`); the row is locked, so nobody else did.
            self.db.defer_row(_DELETE_TIMERS, (timer.key,), replaces=_SET_TIMERS)
            tx.timers[timer.key] = None
            return timer

    def next_due(self) -> dt.datetime | None:
        due = self.db.one("SELECT min(due) FROM timers")
        return None if due is None else from_micros(due)

    def timers(self, limit: int | None = None) -> list[Timer]:
        sql = f"SELECT {_TIMER_COLUMNS} FROM timers ORDER BY due, seq, key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_timer(row) for row in self.db.rows(sql)]

    def count_timers(self) -> int:
        return int(self.db.one("SELECT count(*) FROM timers"))

    # ------------------------------------------------------------ history

    def append_history(self, entry: HistoryEntry) -> None:
        self.db.defer_row(
            _APPEND_HISTORY,
            (
                entry.seq,
                micros(entry.at),
                entry.workflow,
                entry.object,
                entry.id,
                entry.kind,
                entry.step,
                dumps(entry.detail),
                entry.enrollment,
            ),
        )

    def history(self, record: tuple[str, str] | None = None, workflow: str | None = None) -> Sequence[HistoryEntry]:
        clauses: list[str] = []
        params: list[Any] = []
        if record is not None:
            clauses.append("object = %s AND id = %s")
            params += [record[0], record[1]]
        if workflow is not None:
            clauses.append("workflow = %s")
            params.append(workflow)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        return [
            _entry(row) for row in self.db.rows(f"SELECT {_HISTORY_COLUMNS} FROM history{where} ORDER BY n", params)
        ]

    def action_counts(self) -> dict[tuple[str, str], int]:
        """Actions by kind (`detail.action`) and outcome (`performed`, `failed`)."""
        rows = self.db.rows(
            "SELECT kind, (detail::jsonb)->>'action', count(*) FROM history "
            "WHERE kind IN ('action', 'failed') GROUP BY 1, 2"
        )
        return {
            (str(action), "performed" if kind == "action" else "failed"): int(count)
            for kind, action, count in rows
            if action is not None
        }

    def count_history(self, kind: str | None = None) -> int:
        where, params = _where(kind=kind)
        return int(self.db.one(f"SELECT count(*) FROM history{where}", params))

    # ------------------------------------------------------------ stats (deltas, summed)

    def add_stat(self, workflow: str, field: str, delta: int) -> None:
        self.db.defer_row(_ADD_STATS, (workflow, field, int(delta)))

    def stats(self, workflow: str) -> Mapping[str, int]:
        found = {
            field: int(value)
            for field, value in self.db.rows(
                "SELECT field, sum(value) FROM stats WHERE workflow = %s GROUP BY field", (workflow,)
            )
        }
        return {name: found.get(name, 0) for name in STAT_FIELDS}

    def reset_stats(self, workflow: str, fields: Sequence[str]) -> None:
        self.db.execute("DELETE FROM stats WHERE workflow = %s AND field = ANY(%s)", (workflow, list(fields)))

    def compact_stats(self) -> int:
        """Sum the stat deltas into one row per counter; the rows removed."""
        with self._write() as conn:
            before = int(conn.execute("SELECT count(*) FROM stats").fetchone()[0])
            conn.execute(
                "WITH gone AS (DELETE FROM stats RETURNING workflow, field, value) "
                "INSERT INTO stats (workflow, field, value) SELECT workflow, field, sum(value) FROM gone "
                "GROUP BY workflow, field"
            )
            after = int(conn.execute("SELECT count(*) FROM stats").fetchone()[0])
        return before - after

    # ------------------------------------------------------------ facts

    def add_fact(self, kind: str, workflow: str, object_type: str, record_id: str, at: dt.datetime) -> None:
        self.db.defer_row(_ADD_FACTS, (kind, workflow, object_type, record_id, micros(at)))

    def has_fact(self, kind: str, workflow: str, object_type: str, record_id: str) -> bool:
        return (
            self.db.one(
                "SELECT 1 FROM facts WHERE kind = %s AND workflow = %s AND object = %s AND record = %s",
                (kind, workflow, object_type, record_id),
            )
            is not None
        )

    def count_facts(self) -> int:
        return int(self.db.one("SELECT count(*) FROM facts"))

    # ------------------------------------------------------------ workflow state

    def workflow_state(self, workflow: str) -> Mapping[str, Any]:
        state = self.db.one("SELECT state FROM workflows WHERE workflow = %s", (workflow,))
        return {} if state is None else dict(loads(state))

    def set_workflow_state(self, workflow: str, state: Mapping[str, Any]) -> None:
        self.db.defer(
            "INSERT INTO workflows (workflow, state) VALUES (%s, %s) "
            "ON CONFLICT (workflow) DO UPDATE SET state = excluded.state",
            (workflow, dumps(dict(state))),
        )

    def workflows(self) -> list[str]:
        rows = self.db.rows(
            "SELECT workflow FROM workflows UNION SELECT workflow FROM stats "
            "UNION SELECT workflow FROM enrollments ORDER BY 1"
        )
        return [name for (name,) in rows]

    # ------------------------------------------------------------ service metadata

    def get_meta(self, name: str, default: Any = None) -> Any:
        text = self.db.one("SELECT value FROM meta WHERE name = %s", (name,))
        return default if text is None else loads(text)

    def set_meta(self, name: str, value: Any) -> None:
        self.db.defer(
            "INSERT INTO meta (name, value) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, dumps(value)),
        )
