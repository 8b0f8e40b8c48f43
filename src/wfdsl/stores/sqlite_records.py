"""SQLite state store, the engine's records: enrollments, timers, history, stats, facts and workflow state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from wfdsl.runtime.protocols import (
    STAT_FIELDS,
    Enrollment,
    HistoryEntry,
    Timer,
)
from wfdsl.stores.codec import TIMER_COLUMNS as _TIMER_COLUMNS
from wfdsl.stores.codec import (
    detail_text,
    dumps,
    from_micros,
    loads,
    micros,
)
from wfdsl.stores.codec import history_row as _entry
from wfdsl.stores.codec import timer_row as _timer
from wfdsl.stores.sqlite_base import (
    _ADD_STAT,
    _HISTORY_COLUMNS,
    _INSERT_HISTORY,
    _PUT_ENROLLMENT,
    SQLiteBase,
    _enrollment,
    _where,
    enrollment_data,
)

#: The next due timers, each with its enrollment's row (which the firing reads first).
_DUE_AHEAD = (
    "SELECT t.key, t.due, t.seq, t.kind, t.workflow, t.enrollment, e.data FROM timers t "
    "LEFT JOIN enrollments e ON e.id = t.enrollment WHERE t.due <= ? ORDER BY t.due, t.seq, t.key LIMIT ?"
)


class SQLiteRecords(SQLiteBase):
    """Enrollments, timers, history, stats, facts and workflow state (the `StateStore` side)."""

    # ------------------------------------------------------------ enrollments

    def put_enrollment(self, enrollment: Enrollment) -> None:
        eid = enrollment.id
        if self._depth:
            # Kept until the transaction commits or something reads the table (see
            # `_dirty`), and encoded only then: once, however often it is put.
            known = self._current.get(eid)
            self._current[eid] = (None if known is None else known[0], enrollment)
            self._dirty[eid] = enrollment
            return
        data = enrollment_data(enrollment)
        ended = None if enrollment.ended_at is None else micros(enrollment.ended_at)
        self._conn.execute(
            _PUT_ENROLLMENT,
            (eid, enrollment.workflow, enrollment.object, enrollment.record, enrollment.status, ended, data),
        )
        self._remember(eid, data, enrollment)

    def _remember(self, enrollment_id: str, data: str, value: Enrollment) -> None:
        if len(self._decoded) >= 200_000:
            self._decoded.clear()
        self._decoded[enrollment_id] = (data, value)

    def _decode(self, enrollment_id: str, data: str) -> Enrollment:
        cached = self._decoded.get(enrollment_id)
        if cached is not None and cached[0] == data:
            return cached[1]
        value = _enrollment(data)
        self._remember(enrollment_id, data, value)
        return value

    def enrollment(self, enrollment_id: str) -> Enrollment | None:
        if self._depth:
            known = self._current.get(enrollment_id)
            if known is not None:
                return known[1]
            data = self._ahead.pop(enrollment_id, None)  # read with its due timer
            if data is not None:
                value = self._decode(enrollment_id, data)
                self._current[enrollment_id] = (data, value)
                return value
        data = self._one("SELECT data FROM enrollments WHERE id = ?", (enrollment_id,))
        if data is None:
            return None
        value = self._decode(enrollment_id, data)
        if self._depth:
            self._current[enrollment_id] = (data, value)
        return value

    def enrollments_of(self, object_type: str, record_id: str) -> Sequence[Enrollment]:
        self._flush_enrollments()
        rows = self._conn.execute(
            "SELECT id, data FROM enrollments WHERE object = ? AND record = ? ORDER BY n",
            (object_type, record_id),
        )
        return [self._decode(eid, data) for eid, data in rows]

    def enrollments(self, workflow: str | None = None, status: str | None = None) -> Iterable[Enrollment]:
        self._flush_enrollments()
        where, params = _where(workflow=workflow, status=status)
        rows = self._conn.execute(f"SELECT id, data FROM enrollments{where} ORDER BY n", params)
        return [self._decode(eid, data) for eid, data in rows]

    def count_enrollments(self, workflow: str | None = None, status: str | None = None) -> int:
        self._flush_enrollments()
        where, params = _where(workflow=workflow, status=status)
        count: int = self._one(f"SELECT count(*) FROM enrollments{where}", params)
        return count

    # ------------------------------------------------------------ timers

    def set_timer(self, timer: Timer) -> None:
        key = timer.key
        self._no_timer.discard(key)
        self._popped.discard(key)  # the row written now takes the popped one's place
        due = micros(timer.due)
        if self._due and (due <= self._due_at or any(row[0] == key for row in self._due)):
            self._due.clear()  # it may come before the timers read ahead
        self._w().execute(
            f"INSERT OR REPLACE INTO timers ({_TIMER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (key, due, timer.seq, timer.kind, timer.workflow, timer.enrollment),
        )

    def cancel_timer(self, key: str) -> None:
        if self._depth:
            if key in self._no_timer:
                return  # popped or cancelled in this transaction and not set since
            self._no_timer.add(key)
            if self._due:
                self._due[:] = [row for row in self._due if row[0] != key]
        self._w().execute("DELETE FROM timers WHERE key = ?", (key,))

    def timer(self, key: str) -> Timer | None:
        self._flush_timers()
        row = self._conn.execute(f"SELECT {_TIMER_COLUMNS} FROM timers WHERE key = ?", (key,)).fetchone()
        return None if row is None else _timer(row)

    def pop_due(self, now: dt.datetime) -> Timer | None:
        at = micros(now)
        if self._depth and self._pops:
            # Later pops of a transaction (a group commit) read the next due timers
            # ahead, more each time (2, 4, … 256), and delete them at commit.
            if at != self._due_at:
                self._due.clear()
                self._due_at = at
            due = self._due
            if not due:
                self._flush_timers()
                due += self._conn.execute(_DUE_AHEAD, (at, min(256, self._pops))).fetchall()
                if not due:
                    return None
                due.reverse()
            row = due.pop()
            key = row[0]
            self._popped.add(key)
            self._no_timer.add(key)
            self._pops += 1
            enrollment_id = row[5]
            if row[6] is not None and enrollment_id not in self._current:
                # The enrollment's row as the file held it when read ahead: what the
                # transaction put since is in `_current`, which is looked at first.
                self._ahead[enrollment_id] = row[6]
            return _timer(row)
        with self._write() as conn:
            row = conn.execute(
                f"DELETE FROM timers WHERE key = (SELECT key FROM timers WHERE due <= ? "
                f"ORDER BY due, seq, key LIMIT 1) RETURNING {_TIMER_COLUMNS}",
                (at,),
            ).fetchone()
            if row is None:
                return None
            self._no_timer.add(row[0])
            self._pops += 1
        return _timer(row)

    def next_due(self) -> dt.datetime | None:
        self._flush_timers()
        due = self._one("SELECT min(due) FROM timers")
        return None if due is None else from_micros(due)

    def timers(self, limit: int | None = None) -> list[Timer]:
        """Timers by due time (the earliest `limit` of them)."""
        self._flush_timers()
        sql = f"SELECT {_TIMER_COLUMNS} FROM timers ORDER BY due, seq, key"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_timer(row) for row in self._conn.execute(sql)]

    def count_timers(self) -> int:
        self._flush_timers()
        count: int = self._one("SELECT count(*) FROM timers")
        return count

    # ------------------------------------------------------------ history

    def append_history(self, entry: HistoryEntry) -> None:
        row = (
            entry.seq,
            micros(entry.at),
            entry.workflow,
            entry.object,
            entry.id,
            entry.kind,
            entry.step,
            detail_text(entry.detail),
            entry.enrollment,
        )
        if self._depth:
            self._history_rows.append(row)  # inserted with the others at commit
        else:
            self._conn.execute(_INSERT_HISTORY, row)

    def add_history(
        self,
        at: dt.datetime,
        workflow: str,
        object_type: str,
        record_id: str,
        kind: str,
        step: str | None,
        detail: Mapping[str, Any],
        enrollment: str | None,
    ) -> None:
        """`append_history` of the entry with these fields and the next `history` number
        (the engine's `HistoryColumns`): the row without a `HistoryEntry` in between."""
        row = (
            self.next_seq("history"),
            micros(at),
            workflow,
            object_type,
            record_id,
            kind,
            step,
            detail_text(detail),
            enrollment,
        )
        if self._depth:
            self._history_rows.append(row)
        else:
            self._conn.execute(_INSERT_HISTORY, row)

    def history(self, record: tuple[str, str] | None = None, workflow: str | None = None) -> Sequence[HistoryEntry]:
        clauses: list[str] = []
        params: list[Any] = []
        if record is not None:
            clauses.append("object = ? AND id = ?")
            params += [record[0], record[1]]
        if workflow is not None:
            clauses.append("workflow = ?")
            params.append(workflow)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        self._flush_history()
        rows = self._conn.execute(f"SELECT {_HISTORY_COLUMNS} FROM history{where} ORDER BY n", params)
        return [_entry(row) for row in rows]

    def action_counts(self) -> dict[tuple[str, str], int]:
        """Actions by kind (`detail.action`) and outcome (`performed`, `failed`)."""
        self._flush_history()
        rows = self._conn.execute(
            "SELECT kind, json_extract(detail, '$.action'), count(*) FROM history "
            "WHERE kind IN ('action', 'failed') GROUP BY 1, 2"
        )
        return {
            (str(action), "performed" if kind == "action" else "failed"): int(count)
            for kind, action, count in rows
            if action is not None
        }

    def count_history(self, kind: str | None = None) -> int:
        where, params = _where(kind=kind)
        self._flush_history()
        count: int = self._one(f"SELECT count(*) FROM history{where}", params)
        return count

    # ------------------------------------------------------------ stats

    def add_stat(self, workflow: str, field: str, delta: int) -> None:
        if self._depth:
            # Added up in memory, written when the transaction commits.
            key = (workflow, field)
            self._stat_deltas[key] = self._stat_deltas.get(key, 0) + delta
            return
        self._conn.execute(_ADD_STAT, (workflow, field, delta))

    def stats(self, workflow: str) -> Mapping[str, int]:
        self._flush_stats()
        found = dict(self._conn.execute("SELECT field, value FROM stats WHERE workflow = ?", (workflow,)).fetchall())
        return {name: found.get(name, 0) for name in STAT_FIELDS}

    def reset_stats(self, workflow: str, fields: Sequence[str]) -> None:
        self._flush_stats()
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO stats (workflow, field, value) VALUES (?, ?, 0) "
                "ON CONFLICT (workflow, field) DO UPDATE SET value = 0",
                [(workflow, name) for name in fields],
            )

    # ------------------------------------------------------------ facts

    def add_fact(self, kind: str, workflow: str, object_type: str, record_id: str, at: dt.datetime) -> None:
        self._w().execute(
            "INSERT INTO facts (kind, workflow, object, record, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (kind, workflow, object, record) DO UPDATE SET at = excluded.at",
            (kind, workflow, object_type, record_id, micros(at)),
        )

    def has_fact(self, kind: str, workflow: str, object_type: str, record_id: str) -> bool:
        return (
            self._one(
                "SELECT 1 FROM facts WHERE kind = ? AND workflow = ? AND object = ? AND record = ?",
                (kind, workflow, object_type, record_id),
            )
            is not None
        )

    def count_facts(self) -> int:
        count: int = self._one("SELECT count(*) FROM facts")
        return count

    # ------------------------------------------------------------ workflow state

    def workflow_state(self, workflow: str) -> Mapping[str, Any]:
        state = self._one("SELECT state FROM workflows WHERE workflow = ?", (workflow,))
        return {} if state is None else dict(loads(state))

    def set_workflow_state(self, workflow: str, state: Mapping[str, Any]) -> None:
        self._w().execute(
            "INSERT OR REPLACE INTO workflows (workflow, state) VALUES (?, ?)",
            (workflow, dumps(dict(state))),
        )

    def workflows(self) -> list[str]:
        """Every workflow the store knows of (state, stats or enrollments), sorted."""
        self._flush_enrollments()
        self._flush_stats()
        # The enrollments' workflows by hopping along the (workflow, status) index, one
        # seek per name: as fast with a million enrollments as with ten.
        rows = self._conn.execute(
            "WITH RECURSIVE names(name) AS ("
            " SELECT min(workflow) FROM enrollments"
            " UNION ALL SELECT (SELECT min(workflow) FROM enrollments WHERE workflow > names.name)"
            " FROM names WHERE names.name IS NOT NULL) "
            "SELECT name FROM names WHERE name IS NOT NULL "
            "UNION SELECT workflow FROM workflows UNION SELECT workflow FROM stats ORDER BY 1"
        )
        return [name for (name,) in rows]
