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
from typing import Any

from wfdsl.runtime.protocols import HistoryEntry

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


#: How many distinct details a log shares (see `HistoryLog`); past that, new ones are
#: kept each on its own.
SHARED_DETAILS = 4096


def _pack(detail: Mapping[str, Any]) -> tuple[Any, ...] | None:
    # Keys and values side by side in one tuple: a third of a dict's size, and None
    # (no object at all) for the many entries without detail.
    if not detail:
        return None
    packed: list[Any] = []
    for key, value in detail.items():
        packed += (key, value)
    return tuple(packed)


def _unpack(packed: tuple[Any, ...] | None) -> dict[str, Any]:
    return {} if packed is None else dict(zip(packed[::2], packed[1::2], strict=True))


class HistoryLog:
    """History entries kept compactly: one column per field, sequence numbers in a
    machine array, detail as a flat tuple, and equal details kept once (the first
    `SHARED_DETAILS` distinct ones: `{"trigger": "manual"}` or the same email's
    action detail of every enrollment is one tuple). About a third of the memory of a
    list of `HistoryEntry` objects with their detail dicts (what a memory store holds
    for every waiting enrollment), and no objects for the cyclic GC to walk; entries
    are built again only when read.

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
        self._workflow: list[str] = []
        self._object: list[str] = []
        self._id: list[str] = []
        self._kind: list[str] = []
        self._step: list[str | None] = []
        self._detail: list[tuple[Any, ...] | None] = []
        self._enrollment: list[str | None] = []
        self._shared: dict[tuple[Any, ...], tuple[Any, ...]] = {}
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
        self._seq.append(seq)
        self._at.append(at)
        self._workflow.append(workflow)
        self._object.append(object_type)
        self._id.append(record_id)
        self._kind.append(kind)
        self._step.append(step)
        self._enrollment.append(enrollment)
        self._detail.append(self._share(_pack(detail)) if detail else None)

    def _share(self, packed: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if packed is None:
            return None
        try:
            shared = self._shared.get(packed)
        except TypeError:  # a value that cannot be hashed (a list): kept on its own
            return packed
        if shared is not None:
            return shared
        if len(self._shared) < SHARED_DETAILS:
            self._shared[packed] = packed
        return packed

    def __len__(self) -> int:
        return len(self._seq)

    def entry(self, i: int) -> HistoryEntry:
        return HistoryEntry(
            seq=self._seq[i],
            at=self._at[i],
            workflow=self._workflow[i],
            object=self._object[i],
            id=self._id[i],
            kind=self._kind[i],
            step=self._step[i],
            detail=_unpack(self._detail[i]),
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
        for i in range(len(self._seq)):
            if record is not None and (self._id[i] != record[1] or self._object[i] != record[0]):
                continue
            if workflow is not None and self._workflow[i] != workflow:
                continue
            if kind is not None and self._kind[i] != kind:
                continue
            out.append(self.entry(i))
        return out

    def count(self, kind: str | None = None) -> int:
        return len(self._kind) if kind is None else self._kind.count(kind)

    def kinds_and_details(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(kind, detail) of every entry, without building the entries."""
        for kind, packed in zip(self._kind, self._detail, strict=True):
            yield kind, _unpack(packed)

    def keep(self, wanted: Callable[[str, Any, str | None], bool]) -> int:
        """Keep the entries for which `wanted(kind, at, enrollment)` holds; returns the
        number removed."""
        kept = [
            i
            for i, (kind, at, enrollment) in enumerate(zip(self._kind, self._at, self._enrollment, strict=True))
            if wanted(kind, at, enrollment)
        ]
        removed = len(self._seq) - len(kept)
        if removed:
            self._seq = array("q", (self._seq[i] for i in kept))
            for name in ("_at", "_workflow", "_object", "_id", "_kind", "_step", "_detail", "_enrollment"):
                column = getattr(self, name)
                setattr(self, name, [column[i] for i in kept])
        return removed
