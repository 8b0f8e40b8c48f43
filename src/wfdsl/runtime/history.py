"""History vocabulary: the entry kinds and reasons, and trace rendering.

Every history entry has one of `KINDS`; `not_enrolled`, `unenrolled` and
`skipped` entries carry `detail.reason`, one of `REASONS`.

>>> sorted(KINDS)[:3]
['action', 'branched', 'completed']
"""

from __future__ import annotations

import json
from collections.abc import Iterable

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
