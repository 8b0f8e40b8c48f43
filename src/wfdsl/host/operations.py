"""A running store or CRM in; what operators ask of it: one record's history, the CRM's
outbox, and the records a workflow's enrollment criteria select now.

The library side of `wfdsl history`, `wfdsl outbox` and `wfdsl preview`; each
returns data, the CLI renders it.

>>> parse_record_ref("contact:c1")
('contact', 'c1')
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from wfdsl.host.redact import Redactor
from wfdsl.plan.criteria import Criterion
from wfdsl.plan.model import WorkflowPlan
from wfdsl.runtime import timing
from wfdsl.runtime.criteria import compile_criteria
from wfdsl.runtime.facts import RecordFacts
from wfdsl.runtime.history import trace_line
from wfdsl.runtime.protocols import CRMAdapter, Enrollment, HistoryEntry, StateStore, utc
from wfdsl.stores.protocols import ActionLog, CountingStore


def parse_record_ref(text: str) -> tuple[str, str]:
    """`TYPE:ID` -> (type, id); ValueError with what is wrong."""
    object_type, sep, record_id = text.partition(":")
    if not sep or not object_type or not record_id:
        raise ValueError(f"expected TYPE:ID (e.g. contact:c1), found {text!r}")
    return object_type, record_id


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def _short(value: str | None) -> str:
    return "-" if value is None else value.replace("+00:00", "Z")


# ---------------------------------------------------------------- history


@attrs.frozen(kw_only=True)
class RecordHistory:
    """One record's enrollments (oldest first, with the due time of a waiting one) and
    history entries in order."""

    object: str
    id: str
    enrollments: tuple[tuple[Enrollment, dt.datetime | None], ...]
    entries: tuple[HistoryEntry, ...]


def record_history(store: StateStore, record: tuple[str, str], *, workflow: str | None = None) -> RecordHistory:
    """What a store knows of one record. LookupError when the workflow is unknown to the
    store, or the store has nothing about the record."""
    object_type, record_id = record
    if workflow is not None and isinstance(store, CountingStore):
        names = list(store.workflows())
        if workflow not in names:
            known = ", ".join(f'"{n}"' for n in names) or "none"
            raise LookupError(f'unknown workflow "{workflow}" (the store knows: {known})')
    enrollments = [
        e for e in store.enrollments_of(object_type, record_id) if workflow is None or e.workflow == workflow
    ]
    entries = list(store.history(record=(object_type, record_id), workflow=workflow))
    if not enrollments and not entries:
        where = f' in workflow "{workflow}"' if workflow else ""
        raise LookupError(f"{object_type}:{record_id}: no enrollments or history{where} in this store")
    timed = []
    for enr in sorted(enrollments, key=lambda e: (e.enrolled_at, e.seq)):
        timer = store.timer(enr.id) if enr.status == "active" else None
        timed.append((enr, None if timer is None else timer.due))
    return RecordHistory(object=object_type, id=record_id, enrollments=tuple(timed), entries=tuple(entries))


def render_record_history(found: RecordHistory, redactor: Redactor | None = None) -> str:
    """The text form: one line per enrollment, then the history as `simulate` prints it."""
    count = len(found.enrollments)
    lines = [f"{found.object}:{found.id}: {count} enrollment{'s' if count != 1 else ''}"]
    for enr, due in found.enrollments:
        parts = [f"  {enr.workflow}", enr.status, f"enrolled {_short(_iso(enr.enrolled_at))}"]
        if enr.status == "active":
            parts.append(f"at {enr.step}" if enr.step else "starting")
            if enr.waiting_for is not None:
                parts.append(f"waiting for {dict(enr.waiting_for).get('type')}")
            if due is not None:
                parts.append(f"until {_short(_iso(due))}")
        elif enr.ended_at is not None:
            parts.append(f"ended {_short(_iso(enr.ended_at))}")
        if enr.converted:
            parts.append("converted")
        lines.append("  ".join(parts))
    lines.append("")
    for entry in found.entries:
        lines.append(trace_line(redactor.entry(entry) if redactor else entry))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- outbox


@attrs.frozen(kw_only=True)
class OutboxQuery:
    """Filters of `wfdsl outbox`."""

    record: tuple[str, str] | None = None
    kind: str | None = None
    since: dt.datetime | None = None


def outbox_rows(crm: Any, query: OutboxQuery = OutboxQuery()) -> list[dict[str, Any]]:
    """What the embedded CRM performed, oldest first: one dict per action with `at`,
    `workflow`, `kind`, `object`, `id`, `key`, then the action's arguments as in the
    trace. TypeError for an adapter that keeps no log of what it performed."""
    if not isinstance(crm, ActionLog):
        raise TypeError(f"the {type(crm).__name__} adapter keeps no log of performed actions")
    rows: list[dict[str, Any]] = []
    for row in crm.performed_actions(record=query.record, kind=query.kind, since=query.since):
        args = {k: v for k, v in dict(row["args"]).items() if not str(k).startswith("_")}
        out = {
            "at": _iso(row["at"]),
            "workflow": dict(row["args"]).get("_workflow"),
            "kind": row["kind"],
            "object": row["object"],
            "id": row["id"],
            "key": row["key"],
        }
        for name, value in args.items():
            if name == "object":
                if value != row["object"]:  # `set company.x`: the associated record's type
                    out["target_object"] = value
            elif name not in out:
                out[name] = value
        if row.get("result") and isinstance(row["result"], Mapping) and row["result"].get("id") is not None:
            out["created"] = row["result"]["id"]
        rows.append(out)
    return rows


def render_outbox(rows: Sequence[Mapping[str, Any]]) -> str:
    """The text form: one line per action, like a trace line."""
    lines = []
    for row in rows:
        head = f"{_short(row['at'])}  {row.get('workflow') or '-'}  {row['object']}:{row['id']}  {row['kind']}"
        rest = {k: v for k, v in row.items() if k not in ("at", "workflow", "object", "id", "kind", "key")}
        detail = " ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in rest.items())
        lines.append("  ".join(x for x in (head, detail, f"key={row['key']}") if x))
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------- preview


class PreviewError(Exception):
    """A workflow whose enrollment cannot be previewed (it enrolls on events or by hand)."""


@attrs.frozen(kw_only=True)
class Preview:
    """The records that meet a workflow's enrollment criteria now."""

    workflow: str
    object: str
    criteria: Criterion | None
    total: int
    records: tuple[str, ...]  # the first `limit` ids
    scanned: int  # records the adapter returned (fewer than all when it pushed criteria down)

    def to_json(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            "object": self.object,
            "total": self.total,
            "records": [f"{self.object}:{r}" for r in self.records],
            "scanned": self.scanned,
        }


def preview_criteria(plan: WorkflowPlan) -> Criterion | None:
    """The criteria a record must meet to enroll now: a filter trigger's criteria, or a
    schedule's `only if` (None: every record). PreviewError for event and manual triggers."""
    trigger = plan.trigger
    if trigger.kind == "filter":
        return trigger.criteria
    if trigger.kind == "schedule":
        return trigger.refinement
    how = "on events" if trigger.kind == "event" else "by hand"
    raise PreviewError(
        f'workflow "{plan.name}" enrolls {how}: only workflows with `enroll when` criteria '
        "or a schedule have records to preview"
    )


def preview(plan: WorkflowPlan, crm: CRMAdapter, store: StateStore, *, now: dt.datetime, limit: int = 20) -> Preview:
    """Which records of the CRM meet the workflow's enrollment criteria at `now`. The
    criteria go to the adapter's `query` (an adapter may push them down); every record it
    returns is checked as the engine checks it."""
    criteria = preview_criteria(plan)
    check = compile_criteria(criteria) if criteria is not None else None
    tz = timing.zone(plan.settings.timezone)
    matched: list[str] = []
    total = scanned = 0
    for record_id in _ids(crm, plan.object, criteria):
        scanned += 1
        record = crm.get(plan.object, record_id)
        if record is None:
            continue
        if check is not None and not check(RecordFacts(crm, store, record, now=utc(now), tz=tz)):
            continue
        total += 1
        if len(matched) < limit:
            matched.append(record_id)
    return Preview(
        workflow=plan.name,
        object=plan.object,
        criteria=criteria,
        total=total,
        records=tuple(matched),
        scanned=scanned,
    )


def _ids(crm: CRMAdapter, object_type: str, criteria: Criterion | None) -> Iterator[str]:
    yield from crm.query(object_type, criteria)


def render_preview(result: Preview) -> str:
    shown = len(result.records)
    noun = "record meets" if result.total == 1 else "records meet"
    lines = [f'{result.total} {noun} the enrollment criteria of "{result.workflow}" now']
    lines += [f"  {result.object}:{r}" for r in result.records]
    if result.total > shown:
        lines.append(f"  … and {result.total - shown} more")
    return "\n".join(lines) + "\n"


__all__ = [
    "OutboxQuery",
    "Preview",
    "PreviewError",
    "RecordHistory",
    "outbox_rows",
    "parse_record_ref",
    "preview",
    "preview_criteria",
    "record_history",
    "render_outbox",
    "render_preview",
    "render_record_history",
]
