"""Memory state store: enrollments, timers, history, stats and facts in process memory.

The store `simulate` and the tests use; nothing survives the process.
With a `history_sink`, history entries are handed to it as they are written
and not kept (what `wfdsl simulate` does, so that its memory does not grow
with the trace).
`transaction()` only tracks nesting: nothing outlives the process, so there
is no crash to be atomic against.

>>> store = MemoryStore()
>>> with store.transaction():
...     store.add_stat("W", "enrolled", 1)
>>> store.stats("W")["enrolled"]
1
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import attrs

from wfdsl.runtime.history import HistoryLog, shape_detail
from wfdsl.runtime.protocols import STAT_FIELDS, DeadLetter, Enrollment, HistoryEntry, InputPosition, Timer
from wfdsl.stores.protocols import InboxEvent, event_id_of

#: A timer as the store keeps it, in its heap and by key at once:
#: (due, seq, key, kind, workflow, enrollment). Heap order is (due, seq), seq being unique.
_TimerRow = tuple[dt.datetime, int, str, str, str, "str | None"]


def _timer(row: _TimerRow) -> Timer:
    due, seq, key, kind, workflow, enrollment = row
    return Timer(key=key, due=due, seq=seq, kind=kind, workflow=workflow, enrollment=enrollment)


class _Block:
    """The `transaction()` block of a memory store: nothing to do (a plain class, not a
    generator, and one for the store: two are opened for every timer fired)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_BLOCK = _Block()


class MemoryStore:
    """An in-memory StateStore (`memory`)."""

    def __init__(self, *, history_sink: Callable[[HistoryEntry], None] | None = None, store_id: str = "") -> None:
        # No id by default: a memory store lives and dies with its process (and, in
        # `simulate`, with its memory CRM), and its idempotency keys keep their bare
        # form `<enrollment>:<step>:<attempt>`, the same in every run.
        self._store_id = store_id
        self._sink = history_sink
        self._positions: dict[str, InputPosition] = {}
        self._dead: list[DeadLetter] = []
        self._counters: dict[str, int] = {}
        self._enrollments: dict[str, Enrollment] = {}
        # object type -> record id -> its enrollment's id, or a list of ids once it has
        # several (most records have one: no list, no tuple key per record).
        self._by_record: dict[str, dict[str, str | list[str]]] = {}
        # Each timer is one tuple, in the heap and here (see `_TimerRow`); a heap entry
        # whose tuple is no longer the one here was replaced or cancelled.
        self._timers: dict[str, _TimerRow] = {}
        self._heap: list[_TimerRow] = []
        self._history = HistoryLog()
        if history_sink is None:
            # Entries go straight to the log, which numbers them (`add_history`).
            self.add_history = self._history.add_next  # type: ignore[method-assign,assignment]
            self.add_shape = self._history.add_shape  # type: ignore[method-assign,assignment]
        self._stats: dict[str, dict[str, int]] = {}
        # (kind, workflow, object type) -> record id -> when
        self._facts: dict[tuple[str, str, str], dict[str, dt.datetime]] = {}
        self._workflows: dict[str, dict[str, Any]] = {}
        self._meta: dict[str, Any] = {}
        self._inbox: dict[int, InboxEvent] = {}
        self._inbox_ids: set[str] = set()
        self._inbox_next = 0

    # ------------------------------------------------------------ transactions

    def transaction(self) -> AbstractContextManager[None]:
        # Nothing here survives the process, so there is nothing to make atomic
        # against a crash.
        return _BLOCK

    def next_seq(self, name: str) -> int:
        if name == "history":  # counted by the log (see `add_history`)
            log = self._history
            log.last_seq += 1
            return log.last_seq
        value = self._counters.get(name, 0) + 1
        self._counters[name] = value
        return value

    # ------------------------------------------------------------ enrollments

    def put_enrollment(self, enrollment: Enrollment) -> None:
        eid = enrollment.id
        if eid not in self._enrollments:
            records = self._by_record.get(enrollment.object)
            if records is None:
                records = self._by_record[enrollment.object] = {}
            ids = records.get(enrollment.record)
            if ids is None:
                records[enrollment.record] = eid
            elif isinstance(ids, str):
                records[enrollment.record] = [ids, eid]
            else:
                ids.append(eid)
        self._enrollments[eid] = enrollment

    def enrollment(self, enrollment_id: str) -> Enrollment | None:
        return self._enrollments.get(enrollment_id)

    def enrollments_of(self, object_type: str, record_id: str) -> Sequence[Enrollment]:
        ids = self._by_record.get(object_type, {}).get(record_id)
        if ids is None:
            return []
        if isinstance(ids, str):
            return [self._enrollments[ids]]
        return [self._enrollments[i] for i in ids]

    def enrollments(self, workflow: str | None = None, status: str | None = None) -> Iterable[Enrollment]:
        return [
            e
            for e in self._enrollments.values()
            if (workflow is None or e.workflow == workflow) and (status is None or e.status == status)
        ]

    # ------------------------------------------------------------ timers

    def set_timer(self, timer: Timer) -> None:
        row: _TimerRow = (timer.due, timer.seq, timer.key, timer.kind, timer.workflow, timer.enrollment)
        self._timers[timer.key] = row
        heapq.heappush(self._heap, row)

    def cancel_timer(self, key: str) -> None:
        self._timers.pop(key, None)

    def timer(self, key: str) -> Timer | None:
        row = self._timers.get(key)
        return None if row is None else _timer(row)

    def _clean_top(self) -> None:
        # Heap entries of replaced or cancelled timers are dropped lazily.
        heap, timers = self._heap, self._timers
        while heap and timers.get(heap[0][2]) is not heap[0]:
            heapq.heappop(heap)

    def pop_due(self, now: dt.datetime) -> Timer | None:
        heap, timers = self._heap, self._timers
        while heap and timers.get(heap[0][2]) is not heap[0]:  # `_clean_top`, once per timer fired
            heapq.heappop(heap)
        if not heap or heap[0][0] > now:
            return None
        row = heapq.heappop(heap)
        del timers[row[2]]
        return _timer(row)

    def next_due(self) -> dt.datetime | None:
        self._clean_top()
        return self._heap[0][0] if self._heap else None

    def timers(self, limit: int | None = None) -> list[Timer]:
        ordered = sorted(self._timers.values(), key=lambda t: (t[0], t[1], t[2]))
        return [_timer(row) for row in (ordered if limit is None else ordered[:limit])]

    def count_timers(self) -> int:
        return len(self._timers)

    def count_enrollments(self, workflow: str | None = None, status: str | None = None) -> int:
        return sum(1 for _ in self.enrollments(workflow, status))

    def action_counts(self) -> dict[tuple[str, str], int]:
        """Actions by kind (`detail.action`) and outcome (`performed`, `failed`)."""
        out: dict[tuple[str, str], int] = {}
        for kind, detail in self._history.kinds_and_details():
            action = detail.get("action")
            if kind in ("action", "failed") and action is not None:
                key = (str(action), "performed" if kind == "action" else "failed")
                out[key] = out.get(key, 0) + 1
        return out

    def workflows(self) -> list[str]:
        """Every workflow the store knows of (state, stats or enrollments), sorted."""
        return sorted({*self._workflows, *self._stats, *(e.workflow for e in self._enrollments.values())})

    # ------------------------------------------------------------ history

    def append_history(self, entry: HistoryEntry) -> None:
        if self._sink is not None:
            self._sink(entry)
        else:
            self._history.append(entry)

    def add_shape(self, at: dt.datetime, shape: tuple[Any, ...], record_id: str, enrollment: str | None) -> None:
        """`add_history` of an entry given as its shape (`ShapedHistory`)."""
        self.add_history(at, shape[0], shape[1], record_id, shape[2], shape[3], shape_detail(shape), enrollment)

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
        """`append_history` of the entry with these fields and the next `history` number."""
        if self._sink is None:
            self._history.add_next(at, workflow, object_type, record_id, kind, step, detail, enrollment)
            return
        self._sink(
            HistoryEntry(
                seq=self.next_seq("history"),
                at=at,
                workflow=workflow,
                object=object_type,
                id=record_id,
                kind=kind,
                step=step,
                detail=dict(detail),
                enrollment=enrollment,
            )
        )

    def history(self, record: tuple[str, str] | None = None, workflow: str | None = None) -> Sequence[HistoryEntry]:
        return self._history.select(None if record is None else (record[0], record[1]), workflow)

    def count_history(self, kind: str | None = None) -> int:
        return self._history.count(kind)

    # ------------------------------------------------------------ stats and facts

    def add_stat(self, workflow: str, field: str, delta: int) -> None:
        counters = self._stats.get(workflow)
        if counters is None:
            counters = self._stats[workflow] = {}
        counters[field] = counters.get(field, 0) + delta

    def stats(self, workflow: str) -> Mapping[str, int]:
        counters = self._stats.get(workflow, {})
        return {name: counters.get(name, 0) for name in STAT_FIELDS}

    def reset_stats(self, workflow: str, fields: Sequence[str]) -> None:
        counters = self._stats.setdefault(workflow, {})
        for name in fields:
            counters[name] = 0

    def add_fact(self, kind: str, workflow: str, object_type: str, record_id: str, at: dt.datetime) -> None:
        key = (kind, workflow, object_type)
        records = self._facts.get(key)
        if records is None:
            records = self._facts[key] = {}
        records[record_id] = at

    def has_fact(self, kind: str, workflow: str, object_type: str, record_id: str) -> bool:
        return record_id in self._facts.get((kind, workflow, object_type), ())

    def workflow_state(self, workflow: str) -> Mapping[str, Any]:
        state = self._workflows.get(workflow)
        return {} if state is None else dict(state)

    def set_workflow_state(self, workflow: str, state: Mapping[str, Any]) -> None:
        self._workflows[workflow] = dict(state)

    # ------------------------------------------------------------ service (ServiceStore)

    def store_id(self) -> str:
        return self._store_id

    def lock(self) -> None:
        """Nothing to claim: no other process can reach this store."""

    def get_meta(self, name: str, default: Any = None) -> Any:
        return self._meta.get(name, default)

    def set_meta(self, name: str, value: Any) -> None:
        self._meta[name] = value

    def append_events(self, events: Sequence[Mapping[str, Any]]) -> list[int | None]:
        numbers: list[int | None] = []
        for body in events:
            event_id = event_id_of(body)
            if event_id is not None:
                if event_id in self._inbox_ids:
                    numbers.append(None)
                    continue
                self._inbox_ids.add(event_id)
            self._inbox_next += 1
            self._inbox[self._inbox_next] = InboxEvent(id=self._inbox_next, body=dict(body))
            numbers.append(self._inbox_next)
        return numbers

    def claim_events(self, limit: int) -> list[InboxEvent]:
        # Numbers only grow and finished events are removed: insertion order is inbox order.
        return list(itertools.islice(self._inbox.values(), limit))

    def finish_events(self, ids: Sequence[int], at: dt.datetime) -> None:
        for number in ids:
            self._inbox.pop(number, None)

    def pending_events(self) -> int:
        return len(self._inbox)

    def prune_events(self, before: dt.datetime) -> int:
        return 0  # applied events are not kept; their ids dedupe for the life of the process

    def input_position(self, source: str) -> InputPosition | None:
        return self._positions.get(source)

    def set_input_position(self, position: InputPosition) -> None:
        self._positions[position.source] = position

    def add_dead_letter(self, letter: DeadLetter) -> int:
        number = len(self._dead) + 1
        self._dead.append(attrs.evolve(letter, n=number))
        return number

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        return list(self._dead if limit is None else self._dead[len(self._dead) - min(limit, len(self._dead)) :])

    def count_dead_letters(self) -> int:
        return len(self._dead)

    def count_by_workflow(self, status: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self._enrollments.values():
            if e.status == status:
                counts[e.workflow] = counts.get(e.workflow, 0) + 1
        return counts

    def waiting(self, limit: int) -> list[tuple[Enrollment, dt.datetime | None]]:
        out: list[tuple[Enrollment, dt.datetime | None]] = []
        for e in self._enrollments.values():
            if len(out) >= limit:
                break
            if e.status == "active":
                timer = self._timers.get(e.id)
                out.append((e, None if timer is None else timer[0]))
        return out

    # ------------------------------------------------------------ retention

    def prune_some(
        self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime, limit: int
    ) -> tuple[int, bool]:
        # Nothing else runs against a memory store while it prunes: one step does it all.
        removed = self.prune(actions_before=actions_before, history_before=history_before, facts_before=facts_before)
        return removed, False

    def prune(self, *, actions_before: dt.datetime, history_before: dt.datetime, facts_before: dt.datetime) -> int:
        ended_old = {
            e.id
            for e in self._enrollments.values()
            if e.status != "active" and e.ended_at is not None and e.ended_at < history_before
        }
        removed = self._history.keep(
            lambda kind, at, enrollment: (
                not (kind == "action" and at < actions_before) and not (enrollment in ended_old and at < history_before)
            )
        )
        old_facts = 0
        for records in self._facts.values():
            old = [record_id for record_id, at in records.items() if at < facts_before]
            for record_id in old:
                del records[record_id]
            old_facts += len(old)
        return removed + old_facts
