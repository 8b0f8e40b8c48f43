"""Deployed plans + new plans + a state store in; what deploying the new plans would change.

What `wfdsl plan` shows before a deploy, like `terraform plan`: workflows
added, removed (turned off), turned on again and changed, with a semantic
diff of each changed workflow (trigger, goal, unenrollment, suppression,
settings, steps added, removed and changed), and for every waiting
enrollment whose step moves, changes or disappears, where it continues.
The step mapping is `runtime.migration.step_moves`, the one `Engine.deploy`
applies, so `wfdsl run` of the same sources does exactly what the plan said.

>>> from wfdsl.stores.memory import MemoryStore
>>> from wfdsl.plan.model import ProjectPlan
>>> deployment_plan(None, ProjectPlan(workflows=()), MemoryStore()).changed
False
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import attrs

from wfdsl.host.operations import preview
from wfdsl.plan import steps as ps
from wfdsl.plan.codec import args_data, criteria_data, plans_from_json, workflow_to_data
from wfdsl.plan.model import ProjectPlan, Step, WorkflowPlan
from wfdsl.runtime.migration import step_moves
from wfdsl.runtime.protocols import CRMAdapter, StateStore
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.protocols import CountingStore, MetaStore

#: How many record ids a group of moved enrollments lists.
SAMPLES = 3

#: The parts of a workflow the diff compares, in the order it reports them.
PARTS: tuple[str, ...] = (
    "object",
    "description",
    "trigger",
    "reenroll",
    "goal",
    "unenroll",
    "suppress_lists",
    "anchor",
    "settings",
)

#: `StepChange.change` values.
STEP_CHANGES = ("added", "removed", "changed")


@attrs.frozen(kw_only=True)
class PartChange:
    """A workflow part that differs: `change` is `added`, `removed` or `changed`;
    `before`/`after` are its plan JSON (null when absent)."""

    part: str
    change: str
    before: Any
    after: Any
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"part": self.part, "change": self.change, "before": self.before, "after": self.after}
        if self.note:
            out["note"] = self.note
        return out


@attrs.frozen(kw_only=True)
class StepChange:
    """A step added, removed or changed (same identity, other content)."""

    change: str
    kind: str
    summary: str
    before: str | None  # step id in the deployed version
    after: str | None  # step id in the new version

    def to_json(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "kind": self.kind,
            "summary": self.summary,
            "before": self.before,
            "after": self.after,
        }


@attrs.frozen(kw_only=True)
class WaitingMove:
    """Waiting enrollments at one deployed step whose step moves, changes or disappears."""

    step: str  # where they wait now (deployed id)
    to: str | None  # where they continue (new id; None: they complete)
    reason: str  # step_moved | step_removed | step_changed
    count: int
    records: tuple[str, ...]  # a few `object:id`

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.step,
            "to": self.to,
            "reason": self.reason,
            "count": self.count,
            "records": list(self.records),
        }


@attrs.frozen(kw_only=True)
class WorkflowChange:
    """One workflow's change: `action` is `add`, `remove` (turned off), `turn_on`, `change` or
    `none`."""

    name: str
    action: str
    active: bool  # on in the store now
    waiting: int  # waiting enrollments in the store now
    parts: tuple[PartChange, ...] = ()
    steps: tuple[StepChange, ...] = ()
    renumbered: int = 0  # steps that keep their identity under another id
    moves: tuple[WaitingMove, ...] = ()
    stats_reset: Mapping[str, Any] | None = None  # goal removed: the counters that go to zero
    # turned on with `enroll existing records` and a CRM to look at: who meets the criteria now
    existing: tuple[int, tuple[str, ...]] | None = None

    @property
    def changed(self) -> bool:
        return self.action != "none"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "active": self.active,
            "waiting": self.waiting,
            "changes": [p.to_json() for p in self.parts],
            "steps": [s.to_json() for s in self.steps],
            "renumbered": self.renumbered,
            "enrollments": [m.to_json() for m in self.moves],
            "stats_reset": None if self.stats_reset is None else dict(self.stats_reset),
            "enroll_existing": None
            if self.existing is None
            else {"count": self.existing[0], "records": list(self.existing[1])},
        }


@attrs.frozen(kw_only=True)
class Deployment:
    """What deploying new plans would change in a store."""

    workflows: tuple[WorkflowChange, ...]
    deployed: bool  # the store has deployed plans (else: a first deploy)

    @property
    def changed(self) -> bool:
        return any(w.changed for w in self.workflows)

    def counts(self) -> dict[str, int]:
        out = {"add": 0, "change": 0, "remove": 0, "turn_on": 0}
        for w in self.workflows:
            if w.action in out:
                out[w.action] += 1
        out["moved"] = sum(m.count for w in self.workflows for m in w.moves if m.reason != "step_changed")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": "1",
            "changed": self.changed,
            "summary": self.counts(),
            "workflows": [w.to_json() for w in self.workflows if w.changed],
        }


# ---------------------------------------------------------------- steps


def step_content(step: Step) -> Any:
    """What a step does, without where it goes: kind, arguments, and a branch's criteria,
    cases and percentages (JSON data). Two steps with equal content are the same edit."""
    data = {"kind": step.kind, "args": _plain(args_data(step))}
    if isinstance(step, ps.If):
        data["branches"] = [criteria_data(b.criteria) for b in step.branches]
    elif isinstance(step, ps.BranchOn):
        data["cases"] = [_plain(c.value) for c in step.cases]
    elif isinstance(step, ps.Split):
        data["arms"] = [a.percent for a in step.arms]
    return data


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _duration(duration: ps.Duration) -> str:
    return " ".join(f"{n} {u}{'' if n == 1 or u.endswith('s') else 's'}" for n, u in duration.parts)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def step_summary(step: Step) -> str:  # noqa: C901 - one case per kind
    """A short line for a step: `send email "A"`, `delay 3 days`, `if (2 branches)`.

    >>> from wfdsl.spans import Span
    >>> span = Span(file="w.wf", line=1, col=1, end_line=1, end_col=2)
    >>> step_summary(ps.SendEmail(id="steps.0", span=span, next=None, email="Welcome"))
    'send email "Welcome"'
    """
    words = step.kind.replace("_", " ")
    if isinstance(step, ps.SendEmail):
        return f"{words} {_quoted(step.email)}"
    if isinstance(step, ps.CreateTask):
        return f"{words} {_quoted(step.title)}"
    if isinstance(step, (ps.AddToList, ps.RemoveFromList)):
        return f"{words} {_quoted(step.list)}"
    if isinstance(step, (ps.EnrollInWorkflow, ps.UnenrollFromWorkflow)):
        return f"{words} {_quoted(step.workflow)}"
    if isinstance(step, ps.AssignOwner):
        return f"{words} {_quoted(step.owner)}"
    if isinstance(step, ps.Placeholder):
        return f"{words} {_quoted(step.text)}"
    if isinstance(step, ps.Label):
        return f"{words} {_quoted(step.name)}"
    if isinstance(step, ps.GoTo):
        return f"{words} {_quoted(step.label)}"
    if isinstance(step, ps.Delay):
        return f"delay {_duration(step.duration)}"
    if isinstance(step, ps.WaitFor):
        return f"wait for {step.event.type} up to {_duration(step.timeout)}"
    if isinstance(step, ps.SetProperty):
        return f"set {step.object}.{step.property} = {json.dumps(step.value, ensure_ascii=False, default=str)}"
    if isinstance(step, (ps.ClearProperty, ps.Increment)):
        return f"{step.kind} {step.object}.{step.property}"
    if isinstance(step, ps.Notify):
        return f"notify {_quoted(step.recipient or 'owner')}"
    if isinstance(step, ps.Webhook):
        return f"webhook {step.method} {_quoted(step.url)}"
    if isinstance(step, ps.If):
        return f"if ({len(step.branches)} condition{'s' if len(step.branches) != 1 else ''})"
    if isinstance(step, ps.BranchOn):
        return f"branch on {step.object}.{step.property}"
    if isinstance(step, ps.Split):
        return "split " + "/".join(f"{a.percent:g}%" for a in step.arms)
    return words


def _step_changes(old: WorkflowPlan, new: WorkflowPlan) -> tuple[list[StepChange], int, set[str]]:
    """Steps added, removed and changed; how many kept identity under another id; and the
    deployed ids of the changed steps."""
    moves = step_moves(old, new)
    kept = {m.step: m.to for m in moves.values() if m.reason != "step_removed" and m.to is not None}
    out: list[StepChange] = []
    changed_ids: set[str] = set()
    renumbered = 0
    for sid, step in old.steps.items():
        if sid not in kept:
            out.append(StepChange(change="removed", kind=step.kind, summary=step_summary(step), before=sid, after=None))
            continue
        other = new.steps[kept[sid]]
        if kept[sid] != sid:
            renumbered += 1
        if step_content(step) != step_content(other):
            changed_ids.add(sid)
            summary = f"{step_summary(step)} → {step_summary(other)}"
            if step_summary(step) == step_summary(other):
                summary = f"{step_summary(other)} (arguments changed)"
            out.append(StepChange(change="changed", kind=other.kind, summary=summary, before=sid, after=kept[sid]))
    targets = set(kept.values())
    for sid, step in new.steps.items():
        if sid not in targets:
            out.append(StepChange(change="added", kind=step.kind, summary=step_summary(step), before=None, after=sid))
    order = {sid: i for i, sid in enumerate(new.steps)}
    old_order = {sid: i for i, sid in enumerate(old.steps)}

    def position(change: StepChange) -> tuple[float, int]:
        if change.after is not None:
            return (order[change.after], 1)
        return (old_order[change.before or ""] - 0.5 if change.before else 0, 0)

    out.sort(key=position)
    return out, renumbered, changed_ids


def _waiting_moves(
    old: WorkflowPlan, new: WorkflowPlan, store: StateStore, changed_ids: set[str], samples: int
) -> list[WaitingMove]:
    moves = step_moves(old, new)
    groups: dict[tuple[str, str | None, str], list[str]] = {}
    for enr in store.enrollments(workflow=old.name, status="active"):
        if enr.step is None:
            continue
        move = moves.get(enr.step)
        if move is None:
            continue
        if move.moved:
            key = (enr.step, move.to, str(move.reason))
        elif enr.step in changed_ids:
            key = (enr.step, move.to, "step_changed")
        else:
            continue
        groups.setdefault(key, []).append(f"{enr.object}:{enr.record}")
    order = {sid: i for i, sid in enumerate(old.steps)}
    return [
        WaitingMove(step=step, to=to, reason=reason, count=len(ids), records=tuple(ids[:samples]))
        for (step, to, reason), ids in sorted(groups.items(), key=lambda item: order.get(item[0][0], 0))
    ]


# ---------------------------------------------------------------- workflows


def _parts(old: WorkflowPlan, new: WorkflowPlan) -> list[PartChange]:
    before, after = workflow_to_data(old), workflow_to_data(new)
    out = []
    for part in PARTS:
        a, b = before.get(part), after.get(part)
        if a == b:
            continue
        if a in (None, [], "") and b not in (None, [], ""):
            change = "added"
        elif b in (None, [], "") and a not in (None, [], ""):
            change = "removed"
        else:
            change = "changed"
        note = None
        if part == "goal" and change == "removed":
            note = "goal stats reset: goal_met, converted and conversion_rate go to 0"
        out.append(PartChange(part=part, change=change, before=a, after=b, note=note))
    return out


def _waiting(store: StateStore, name: str) -> int:
    if isinstance(store, CountingStore):
        return store.count_enrollments(workflow=name, status="active")
    return sum(1 for _ in store.enrollments(workflow=name, status="active"))


def deployed_plans(store: StateStore) -> ProjectPlan | None:
    """The plans `wfdsl run` last deployed on a store (None: none yet). PlanError when the
    stored plans cannot be read."""
    text = store.get_meta("plans") if isinstance(store, MetaStore) else None
    if not text:
        return None
    return plans_from_json(text)


def deployment_plan(
    deployed: ProjectPlan | None,
    new: ProjectPlan,
    store: StateStore | None,
    *,
    samples: int = SAMPLES,
    crm: CRMAdapter | None = None,
    now: dt.datetime | None = None,
) -> Deployment:
    """What running `new` on a store whose last deployed plans are `deployed` would change.

    `deployed` None (or `store` None): a first deploy, every workflow is added. With a
    `crm`, a workflow turned on with `enroll existing records` says how many records meet
    its criteria at `now` (default: the current time).
    """
    old = {w.name: w for w in deployed.workflows} if deployed is not None else {}
    out: list[WorkflowChange] = []
    for plan in new.workflows:
        state = store.workflow_state(plan.name) if store is not None else {}
        active = bool(state.get("active"))
        waiting = _waiting(store, plan.name) if store is not None else 0
        previous = old.get(plan.name)
        if previous is None:
            out.append(WorkflowChange(name=plan.name, action="add", active=active, waiting=waiting))
            continue
        parts = _parts(previous, plan)
        steps, renumbered, changed_ids = _step_changes(previous, plan)
        moves = _waiting_moves(previous, plan, store, changed_ids, samples) if store is not None else []
        reset = None
        if previous.goal is not None and plan.goal is None and store is not None:
            stats = store.stats(plan.name)
            reset = {"goal_met": stats.get("goal_met", 0), "converted": stats.get("converted", 0)}
        if parts or steps or moves or renumbered:
            action = "change"
        elif not active:
            action = "turn_on"
        else:
            action = "none"
        out.append(
            WorkflowChange(
                name=plan.name,
                action=action,
                active=active,
                waiting=waiting,
                parts=tuple(parts),
                steps=tuple(steps),
                renumbered=renumbered,
                moves=tuple(moves),
                stats_reset=reset,
            )
        )
    kept = {w.name for w in new.workflows}
    for name in sorted(old):
        if name in kept:
            continue
        state = store.workflow_state(name) if store is not None else {}
        if not state.get("active"):
            continue
        waiting = _waiting(store, name) if store is not None else 0
        out.append(WorkflowChange(name=name, action="remove", active=True, waiting=waiting))
    if crm is not None:
        when = now or dt.datetime.now(dt.timezone.utc)
        plans = {p.name: p for p in new.workflows}
        out = [_with_existing(w, plans.get(w.name), crm, store, when, samples) for w in out]
    return Deployment(workflows=tuple(out), deployed=deployed is not None)


def _with_existing(
    change: WorkflowChange,
    plan: WorkflowPlan | None,
    crm: CRMAdapter,
    store: StateStore | None,
    now: dt.datetime,
    samples: int,
) -> WorkflowChange:
    turned_on = change.action in ("add", "turn_on") or (change.action == "change" and not change.active)
    if plan is None or not turned_on or not plan.settings.enroll_existing or plan.trigger.kind != "filter":
        return change
    found = preview(plan, crm, store if store is not None else MemoryStore(), now=now, limit=samples)
    return attrs.evolve(change, existing=(found.total, tuple(f"{plan.object}:{r}" for r in found.records)))


# ---------------------------------------------------------------- text


def _compact(value: Any, width: int = 100) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def render_deployment(deployment: Deployment) -> str:
    """The text form of a deployment plan (what `wfdsl plan` prints)."""
    lines: list[str] = []
    if not deployment.changed:
        return "No changes. The store runs these workflows as they are.\n"
    for w in deployment.workflows:
        if w.action == "none":
            continue
        if w.action == "add":
            lines.append(f'+ workflow "{w.name}" will be added and turned on')
        elif w.action == "turn_on":
            lines.append(f'+ workflow "{w.name}" will be turned on again')
        elif w.action == "remove":
            lines.append(f'- workflow "{w.name}" is not in the sources: it will be turned off')
            if w.waiting:
                lines.append(f"    {_plural(w.waiting, 'waiting enrollment')} will be unenrolled (deactivated)")
        else:
            lines.append(f'~ workflow "{w.name}" will be changed')
            if not w.active:
                lines.append("    (it is off: it will be turned on)")
        for p in w.parts:
            sign = {"added": "+", "removed": "-"}.get(p.change, "~")
            lines.append(f"    {sign} {p.part} {p.change}")
            if p.before is not None and p.change != "added":
                lines.append(f"        before: {_compact(p.before)}")
            if p.after is not None and p.change != "removed":
                lines.append(f"        after:  {_compact(p.after)}")
            if p.note:
                lines.append(f"        {p.note}")
        if w.existing is not None:
            count, some = w.existing
            shown = ", ".join(some) + (", …" if count > len(some) else "")
            lines.append(
                f"    enroll existing records: {_plural(count, 'record')} meet{'s' if count == 1 else ''} "
                f"its criteria now" + (f" ({shown})" if some else "")
            )
        if w.stats_reset is not None:
            lines.append(
                f"        now goal_met {w.stats_reset['goal_met']}, converted {w.stats_reset['converted']}: "
                "they reset to 0"
            )
        for s in w.steps:
            sign = {"added": "+", "removed": "-"}.get(s.change, "~")
            where = s.after if s.change == "added" else s.before
            if s.change == "changed" and s.after != s.before:
                where = f"{s.before} → {s.after}"
            lines.append(f"    {sign} step {where}  {s.summary}  ({s.change})")
        if w.renumbered:
            keeps = "step keeps its" if w.renumbered == 1 else "steps keep their"
            lines.append(f"    {w.renumbered} {keeps} identity under a new id")
        for m in w.moves:
            ids = ", ".join(m.records) + (", …" if m.count > len(m.records) else "")
            who = f"{_plural(m.count, 'waiting enrollment')} at {m.step} ({ids})"
            one = m.count == 1
            if m.reason == "step_removed":
                to = f"continue{'s' if one else ''} at {m.to}" if m.to else f"complete{'s' if one else ''}"
                whose = "its" if one else "their"
                lines.append(f"    {who}: the step is removed; {'it' if one else 'they'} {to} when {whose} wait ends")
            elif m.reason == "step_changed":
                stay = "it stays" if one else "they stay"
                lines.append(f"    {who}: the step is changed; {stay} at it (its new version)")
            else:
                move = "it moves" if one else "they move"
                lines.append(f"    {who}: {move} with the step to {m.to}")
    c = deployment.counts()
    lines.append("")
    lines.append(
        f"Plan: {c['add']} to add, {c['change']} to change, {c['remove']} to turn off"
        + (f", {c['turn_on']} to turn on" if c["turn_on"] else "")
        + f"; {_plural(c['moved'], 'waiting enrollment')} to move."
    )
    return "\n".join(lines) + "\n"


__all__ = [
    "Deployment",
    "PartChange",
    "StepChange",
    "WaitingMove",
    "WorkflowChange",
    "deployed_plans",
    "deployment_plan",
    "render_deployment",
    "step_content",
    "step_summary",
]
