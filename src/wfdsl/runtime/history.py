"""History vocabulary: the entry kinds and reasons, and trace rendering.

Every history entry has one of `KINDS`; `not_enrolled`, `unenrolled` and
`skipped` entries carry `detail.reason`, one of `REASONS`.

>>> sorted(KINDS)[:3]
['action', 'branched', 'completed']
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any

from wfdsl.runtime.protocols import HistoryEntry

_flat = chain.from_iterable

ENROLLED = "enrolled"
NOT_ENROLLED = "not_enrolled"
ACTION = "action"
DELAYED = "delayed"
BRANCHED = "branched"
SKIPPED = "skipped"
GOAL_MET = "goal_met"
CONVERTED = "converted"
UNENROLLED = "unenrolled"
COMPLETED = "completed"
FAILED = "failed"
# A new version of the workflow moved a waiting enrollment (detail: from, to, reason).
MIGRATED = "migrated"

KINDS: frozenset[str] = frozenset(
    {
        ENROLLED,
        NOT_ENROLLED,
        ACTION,
        DELAYED,
        BRANCHED,
        SKIPPED,
        GOAL_MET,
        CONVERTED,
        UNENROLLED,
        COMPLETED,
        FAILED,
        MIGRATED,
    }
)

# Reasons
ALREADY_ENROLLED = "already_enrolled"
REENROLL_OFF = "reenroll_off"
SUPPRESSED = "suppressed"
UNENROLL_CRITERIA = "unenroll_criteria"
GOAL_ALREADY_MET = "goal_already_met"
GOAL_MET_REASON = "goal_met"
CRITERIA_UNMET = "criteria_unmet"
ANCHOR_PASSED = "anchor_passed"
ANCHOR_UNKNOWN = "anchor_unknown"  # the anchor value is empty or not a date
LOOP_GUARD = "loop_guard"
MANUAL = "manual"
# Reasons this runtime adds (docs/runtime.md explains each).
PLACEHOLDER = "placeholder"  # a placeholder step is skipped
STEP_REMOVED = "step_removed"  # a new version dropped the step an enrollment waited at
STEP_MOVED = "step_moved"  # a new version has the step an enrollment waits at under another id
DATE_PASSED = "date_passed"  # `delay until <date>` whose date has passed: no wait
DATE_UNKNOWN = "date_unknown"  # `delay until <property>` with no value: no wait
ACTION_FAILED = "action_failed"  # `on failure stop` after the last attempt
DEACTIVATED = "deactivated"  # the workflow was turned off
UNKNOWN_RECORD = "unknown_record"  # the record does not exist in the CRM
WORKFLOW_OFF = "workflow_off"  # a trigger fired for a workflow that is not active
QUARANTINED = "quarantined"  # a step could not be computed from the record's values (a dead letter)

REASONS: frozenset[str] = frozenset(
    {
        ALREADY_ENROLLED,
        REENROLL_OFF,
        SUPPRESSED,
        UNENROLL_CRITERIA,
        GOAL_ALREADY_MET,
        GOAL_MET_REASON,
        CRITERIA_UNMET,
        ANCHOR_PASSED,
        ANCHOR_UNKNOWN,
        LOOP_GUARD,
        MANUAL,
        PLACEHOLDER,
        STEP_REMOVED,
        STEP_MOVED,
        DATE_PASSED,
        DATE_UNKNOWN,
        ACTION_FAILED,
        DEACTIVATED,
        UNKNOWN_RECORD,
        WORKFLOW_OFF,
        QUARANTINED,
    }
)


def _short(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


def trace_line(entry: HistoryEntry) -> str:
    """One readable line: time, workflow, record, kind, step, then the detail.

    `2026-11-23 10:00Z  Welcome  contact:c1  action send_email  [steps.0]  email="Hi"`
    """
    at = entry.at.strftime("%Y-%m-%d %H:%M")
    if entry.at.second:
        at = entry.at.strftime("%Y-%m-%d %H:%M:%S")
    detail = dict(entry.detail)
    head = entry.kind
    if entry.kind == ACTION and "action" in detail:
        head = f"{entry.kind} {detail.pop('action')}"
    elif "reason" in detail:
        head = f"{entry.kind} ({detail.pop('reason')})"
    parts = [f"{at}Z", entry.workflow, f"{entry.object}:{entry.id}", head]
    if entry.step is not None:
        parts.append(f"[{entry.step}]")
    rest = " ".join(f"{k}={_short(v)}" for k, v in detail.items())
    if rest:
        parts.append(rest)
    return "  ".join(parts)


def trace_text(entries: Iterable[HistoryEntry]) -> str:
    return "".join(trace_line(e) + "\n" for e in entries)


#: How many distinct entry shapes a log shares (see `HistoryLog`); past that, new ones
#: are kept each on its own.
SHARED_SHAPES = 16384


def _unpack(packed: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(packed[4::2], packed[5::2], strict=True))


#: An entry's shape: workflow, object type, kind, step, then the detail's keys and
#: values in one flat tuple (see `HistoryLog`).
Shape = tuple[Any, ...]


def shape_of(workflow: str, object_type: str, kind: str, step: str | None, detail: Mapping[str, Any]) -> Shape:
    """The shape of entries with these fields: what `Context.record_shape` takes from a
    decision recorded the same way for every enrollment (made once, where it is decided).

    >>> shape_of("W", "contact", "branched", "steps.0", {"branch": 0})
    ('W', 'contact', 'branched', 'steps.0', 'branch', 0)
    >>> shape_detail(_)
    {'branch': 0}
    """
    return (workflow, object_type, kind, step, *_flat(detail.items()))


def shape_detail(shape: Shape) -> dict[str, Any]:
    """The detail of entries of this shape."""
    return _unpack(shape)


class HistoryLog:
    """History entries kept compactly: sequence numbers in a machine array, then one
    column each for the time, the record id and the enrollment id, and one for the
    entry's shape: its workflow, object type, kind and step followed by its detail's
    keys and values, in one flat tuple. Equal shapes are kept once (the first
    `SHARED_SHAPES` distinct ones: every `enrolled` entry with `{"trigger": "manual"}`
    in a workflow, or every enrollment's action entry for the same email, is one
    tuple). About a quarter of the memory of a list of `HistoryEntry` objects with
    their detail dicts (what a memory store holds for every waiting enrollment), and
    no objects for the cyclic GC to walk; entries are built again only when read.

    >>> import datetime as dt
    >>> log = HistoryLog()
    >>> at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    >>> log.append(HistoryEntry(seq=1, at=at, workflow="W", object="contact", id="c1",
    ...                         kind="delayed", step="steps.0", detail={"until": "x"}))
    >>> [(e.kind, dict(e.detail)) for e in log]
    [('delayed', {'until': 'x'})]
    """

    def __init__(self, entries: Iterable[HistoryEntry] = ()) -> None:
        self._seq = array("q")
        self._at: list[Any] = []
        self._id: list[str] = []
        self._enrollment: list[str | None] = []
        self._shape: list[tuple[Any, ...]] = []
        self._shared: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        #: The highest sequence number appended (what `add_next` counts on from).
        self.last_seq = 0
        for entry in entries:
            self.append(entry)

    def append(self, entry: HistoryEntry) -> None:
        self.add(
            entry.seq,
            entry.at,
            entry.workflow,
            entry.object,
            entry.id,
            entry.kind,
            entry.step,
            entry.detail,
            entry.enrollment,
        )

    def add(
        self,
        seq: int,
        at: Any,
        workflow: str,
        object_type: str,
        record_id: str,
        kind: str,
        step: str | None,
        detail: Mapping[str, Any],
        enrollment: str | None,
    ) -> None:
        """Append the entry with these fields (`append` without a `HistoryEntry`)."""
        last = self.last_seq
        self.last_seq = seq - 1
        self.add_next(at, workflow, object_type, record_id, kind, step, detail, enrollment)
        if last > seq:
            self.last_seq = last

    def add_next(
        self,
        at: Any,
        workflow: str,
        object_type: str,
        record_id: str,
        kind: str,
        step: str | None,
        detail: Mapping[str, Any],
        enrollment: str | None,
    ) -> int:
        """Append the entry with these fields under the next sequence number (one past
        `last_seq`); returns the number."""
        if detail:
            shape = (workflow, object_type, kind, step, *_flat(detail.items()))
        else:
            shape = (workflow, object_type, kind, step)
        shared = self._shared
        try:
            shape = shared.get(shape) or (shared.setdefault(shape, shape) if len(shared) < SHARED_SHAPES else shape)
        except TypeError:  # a value that cannot be hashed (a list): kept on its own
            pass
        return self.add_shape(at, shape, record_id, enrollment)

    def add_shape(self, at: Any, shape: Shape, record_id: str, enrollment: str | None) -> int:
        """`add_next` of an entry whose shape was made once (`shape_of`), kept as it is:
        every entry given the same shape shares it."""
        self.last_seq = seq = self.last_seq + 1
        self._seq.append(seq)
        self._at.append(at)
        self._id.append(record_id)
        self._enrollment.append(enrollment)
        self._shape.append(shape)
        return seq

    def __len__(self) -> int:
        return len(self._seq)

    def entry(self, i: int) -> HistoryEntry:
        shape = self._shape[i]
        return HistoryEntry(
            seq=self._seq[i],
            at=self._at[i],
            workflow=shape[0],
            object=shape[1],
            id=self._id[i],
            kind=shape[2],
            step=shape[3],
            detail=_unpack(shape),
            enrollment=self._enrollment[i],
        )

    def __iter__(self) -> Iterator[HistoryEntry]:
        return (self.entry(i) for i in range(len(self._seq)))

    def select(
        self,
        record: tuple[str, str] | None = None,
        workflow: str | None = None,
        kind: str | None = None,
    ) -> list[HistoryEntry]:
        """The entries of a record `(object, id)`, a workflow and/or a kind, in order;
        only those are built."""
        out = []
        for i, shape in enumerate(self._shape):
            if record is not None and (self._id[i] != record[1] or shape[1] != record[0]):
                continue
            if workflow is not None and shape[0] != workflow:
                continue
            if kind is not None and shape[2] != kind:
                continue
            out.append(self.entry(i))
        return out

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return len(self._shape)
        return sum(1 for shape in self._shape if shape[2] == kind)

    def kinds_and_details(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(kind, detail) of every entry, without building the entries."""
        for shape in self._shape:
            yield shape[2], _unpack(shape)

    def keep(self, wanted: Callable[[str, Any, str | None], bool]) -> int:
        """Keep the entries for which `wanted(kind, at, enrollment)` holds; returns the
        number removed."""
        kept = [
            i
            for i, (shape, at, enrollment) in enumerate(zip(self._shape, self._at, self._enrollment, strict=True))
            if wanted(shape[2], at, enrollment)
        ]
        removed = len(self._seq) - len(kept)
        if removed:
            self._seq = array("q", (self._seq[i] for i in kept))
            for name in ("_at", "_id", "_enrollment", "_shape"):
                column = getattr(self, name)
                setattr(self, name, [column[i] for i in kept])
        return removed
