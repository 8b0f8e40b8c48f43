"""Actions: an enrollment at an action step in; the CRM action performed once (idempotency key, retries) out.

The arguments an action gets are built per step class (`ARGUMENTS`), with
personalisation tokens (`{{contact.firstname}}`) rendered from the record.
Workflow actions (`enroll in workflow`, `unenroll from workflow`) act on the
engine itself; every other kind goes to the CRM adapter under a key that a
replay after a crash computes again, so the adapter performs it only once.

>>> import datetime as dt
>>> from wfdsl.runtime.protocols import Enrollment
>>> enr = Enrollment(id="e7", workflow="W", object="contact", record="c1", status="active",
...                  enrolled_at=dt.datetime(2026, 1, 1), seq=7)
>>> idempotency_key(enr, "steps.2")
'e7:steps.2:1'
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import attrs

from wfdsl.plan import steps as ps
from wfdsl.plan.model import Step, WorkflowPlan
from wfdsl.runtime import history as h
from wfdsl.runtime import timing
from wfdsl.runtime.context import ENDED, WAIT, Compiled, Context, Goto, is_plain, plan_value
from wfdsl.runtime.facts import RecordFacts
from wfdsl.runtime.history import Shape, shape_of
from wfdsl.runtime.lifecycle import Lifecycle
from wfdsl.runtime.protocols import (
    Action,
    ActionResult,
    AdapterError,
    Enrollment,
    Event,
    PermanentAdapterError,
    QuietPerformer,
    TransientAdapterError,
)

#: The result of an action whose events no one hears.
_NOTHING = ActionResult()

_TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def idempotency_key(enr: Enrollment, step_id: str, store_id: str = "") -> str:
    """`<store>/<enrollment>:<step>:<attempt>`, the attempt counted from 1 as in the
    history's `failed` entries; a step reached again through `go to`
    is a new action, so from the second pass on the step part is `<step>@<pass>`.
    The pass count is stored with the enrollment, so a replay after a crash
    computes the same key. The store's id (random, made with the store) keeps the
    keys of two stores on one CRM apart; a store without one (the memory store)
    gives the bare `<enrollment>:<step>:<attempt>`."""
    step = step_id if enr.passes == 0 else f"{step_id}@{enr.passes}"
    key = f"{enr.id}:{step}:{enr.attempt + 1}"
    return f"{store_id}/{key}" if store_id else key


#: The type of the events an action makes, for the actions a `QuietPerformer` may
#: perform without building them when no workflow hears that type.
_EVENT_OF = {
    "send_email": "email.sent",
    **dict.fromkeys(("set", "clear", "copy", "increment", "assign_owner", "rotate_owner"), "property.changed"),
}

#: The names an action's history entry carries besides `action`, per kind whose are fixed.
_FIXED_ARGUMENTS: dict[str, frozenset[str]] = {
    "set": frozenset({"object", "property", "value"}),
    "clear": frozenset({"object", "property"}),
    "increment": frozenset({"object", "property", "by"}),
    "copy": frozenset({"object", "property", "value", "source"}),
    "create_record": frozenset({"object_type", "properties", "created"}),
    "rotate_owner": frozenset({"owner"}),
    "enroll_in_workflow": frozenset({"workflow"}),
    "unenroll_from_workflow": frozenset({"workflow"}),
}


#: Steps that record no `action` entry: waits, control steps and placeholders.
_SILENT_STEPS: tuple[type[Step], ...] = (*ps.WAIT_STEPS, *ps.CONTROL_STEPS, ps.Placeholder)


def action_arguments(step: Step) -> frozenset[str] | None:
    """The names a step's `action` history entries carry besides `action` (what
    `wfdsl test` expectations may name in `args`); None for a step that records no
    action (waits, control steps, placeholders)."""
    if isinstance(step, _SILENT_STEPS):
        return None
    kind = step.kind
    fixed = _FIXED_ARGUMENTS.get(kind)
    if fixed is not None:
        return fixed
    names = set(step.args)
    if kind == "create_task":
        names.discard("due")
        names.add("due_at")
    if kind == "notify":
        names.add("recipient")
    return frozenset(names | {"created"})


def render(value: Any, facts: RecordFacts | None) -> Any:
    """`value` with its `{{object.property}}` tokens replaced by the record's values."""
    if isinstance(value, str):
        if facts is None or "{{" not in value:
            return value

        def one(match: re.Match[str]) -> str:
            found = facts.value(match.group(1), match.group(2))
            return "" if found is None else str(found)

        return _TOKEN.sub(one, value)
    if isinstance(value, list):
        return [render(v, facts) for v in value]
    if isinstance(value, Mapping) and not set(value) & {"date", "datetime", "time", "percent"}:
        return {k: render(v, facts) for k, v in value.items()}
    return value


class Call(NamedTuple):
    """What an argument builder sees: the enrollment, its plan, the step, the record's facts."""

    ctx: Context
    enr: Enrollment
    plan: WorkflowPlan
    step: Step
    facts: RecordFacts | None


def _set(c: Call) -> dict[str, Any]:
    step = c.step
    assert isinstance(step, ps.SetProperty)
    return {"object": step.object, "property": step.property, "value": render(plan_value(step.value), c.facts)}


def _clear(c: Call) -> dict[str, Any]:
    step = c.step
    assert isinstance(step, ps.ClearProperty)
    return {"object": step.object, "property": step.property}


def _increment(c: Call) -> dict[str, Any]:
    step = c.step
    assert isinstance(step, ps.Increment)
    return {"object": step.object, "property": step.property, "by": step.amount}


def _copy(c: Call) -> dict[str, Any]:
    step = c.step
    assert isinstance(step, ps.CopyProperty)
    src, dst = step.source, step.destination
    value = None if c.facts is None else c.facts.value(src.object, src.property)
    return {"object": dst.object, "property": dst.property, "value": value, "source": src.dotted}


def _create_record(c: Call) -> dict[str, Any]:
    step = c.step
    assert isinstance(step, ps.CreateRecord)
    props = {f.name: render(plan_value(f.value), c.facts) for f in step.fields}
    return {"object_type": step.object, "properties": props}


def _create_task(c: Call) -> dict[str, Any]:
    step = c.step
    assert isinstance(step, ps.CreateTask)
    out = {k: render(v, c.facts) for k, v in step.args.items() if k != "due"}
    if step.due:
        out["due_at"] = timing.add_duration(
            c.ctx.now, timing.duration_parts(step.due), c.plan.settings.timezone
        ).isoformat()
    return {k: v for k, v in out.items() if v is not None}


def _rotate_owner(c: Call) -> dict[str, Any]:
    step = c.step
    assert isinstance(step, ps.RotateOwner)
    owners = [str(plan_value(o)) for o in step.owners]
    n = c.ctx.store.next_seq(f"rotate:{c.plan.name}:{step.id}") - 1
    return {"owner": owners[n % len(owners)] if owners else None}


def _notify(c: Call) -> dict[str, Any]:
    step = c.step
    assert isinstance(step, ps.Notify)
    args = dict(step.args)
    if step.recipient is None:
        owner = None if c.facts is None else c.facts.value(c.enr.object, "hubspot_owner_id")
        args["recipient"] = "owner" if owner is None else owner
    return {k: render(v, c.facts) for k, v in args.items() if v is not None}


def _rendered(c: Call) -> dict[str, Any]:
    """The step's own arguments (plan JSON form), rendered (send email, webhooks …)."""
    return {k: render(v, c.facts) for k, v in c.step.args.items() if v is not None}


#: Step class -> the arguments its action is performed with (the others: `_rendered`).
ARGUMENTS: dict[type[Step], Callable[[Call], dict[str, Any]]] = {
    ps.SetProperty: _set,
    ps.ClearProperty: _clear,
    ps.Increment: _increment,
    ps.CopyProperty: _copy,
    ps.CreateRecord: _create_record,
    ps.CreateTask: _create_task,
    ps.RotateOwner: _rotate_owner,
    ps.Notify: _notify,
}


#: The builders whose arguments are the step's own when its values are plain and hold
#: no token: the same for every enrollment, built once per step.
_FIXED_WHEN_PLAIN = frozenset({_rendered, _set, _clear, _increment})


class Actions:
    """Performs action steps: workflow actions on the engine, the others through the CRM."""

    def __init__(self, ctx: Context, lifecycle: Lifecycle) -> None:
        self.ctx = ctx
        self.lifecycle = lifecycle
        # Steps whose arguments are the same on every run (`_rendered` kinds whose
        # values are plain and hold no token), by step: built once, copied per action.
        self._fixed: dict[int, tuple[Step, dict[str, Any], Mapping[str, Any], Shape]] = {}
        # A CRM that can perform an action without building the events no one hears.
        self._quiet: QuietPerformer | None = ctx.crm if isinstance(ctx.crm, QuietPerformer) else None

    def act(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        """Perform the action of `step`; returns a `Goto`, `WAIT` (a retry) or `ENDED`."""
        if isinstance(step, ps.Placeholder):
            return self._placeholder(enr, compiled, step)
        if isinstance(step, ps.EnrollInWorkflow):
            return self._enroll_in(enr, compiled, step)
        if isinstance(step, ps.UnenrollFromWorkflow):
            return self._unenroll_from(enr, compiled, step)
        return self._perform(enr, compiled, step)

    def _placeholder(self, enr: Enrollment, compiled: Compiled, step: ps.Placeholder) -> object:
        self.ctx.record(
            compiled.plan.name,
            enr.object,
            enr.record,
            h.SKIPPED,
            step.id,
            {"reason": h.PLACEHOLDER, "text": step.text},
            enr.id,
        )
        return Goto(enr, step.next)

    def _enroll_in(self, enr: Enrollment, compiled: Compiled, step: ps.EnrollInWorkflow) -> object:
        ctx = self.ctx
        target = step.workflow
        detail = {"action": step.kind, "workflow": target}
        ctx.record(compiled.plan.name, enr.object, enr.record, h.ACTION, step.id, detail, enr.id)
        ctx.queue.append(
            [
                Event(
                    type="workflow.enroll",
                    object=enr.object,
                    id=enr.record,
                    at=ctx.now,
                    data={"workflow": target},
                    cause=enr.id,
                )
            ]
        )
        return Goto(enr, step.next)

    def _unenroll_from(self, enr: Enrollment, compiled: Compiled, step: ps.UnenrollFromWorkflow) -> object:
        ctx = self.ctx
        target = step.workflow
        detail = {"action": step.kind, "workflow": target}
        ctx.record(compiled.plan.name, enr.object, enr.record, h.ACTION, step.id, detail, enr.id)
        for other in ctx.store.enrollments_of(enr.object, enr.record):
            if other.workflow == target and other.status == "active" and other.id != enr.id:
                self.lifecycle.unenroll(other, h.MANUAL)
        return Goto(enr, step.next)

    def arguments(self, enr: Enrollment, plan: WorkflowPlan, step: Step, facts: RecordFacts | None) -> dict[str, Any]:
        """The arguments the action of `step` is performed with, in key order (the same
        whether the plan came from sources or from a plan file, whose keys are sorted)."""
        fixed = self._fixed.get(id(step))
        if fixed is not None and fixed[0] is step:
            return dict(fixed[1])
        build = ARGUMENTS.get(type(step), _rendered)
        args = dict(sorted(build(Call(self.ctx, enr, plan, step, facts)).items()))
        if build in _FIXED_WHEN_PLAIN and all(
            v is None or (is_plain(v) and not (type(v) is str and "{{" in v)) for v in step.args.values()
        ):
            # The step's own values hold no token: the same arguments, and the same
            # history detail, for every enrollment.
            detail = {"action": step.kind, **args}
            shape = shape_of(plan.name, plan.object, h.ACTION, step.id, detail)
            self._fixed[id(step)] = (step, dict(args), detail, shape)
        return args

    def _perform(self, enr: Enrollment, compiled: Compiled, step: Step) -> object:
        ctx = self.ctx
        plan = compiled.plan
        kind = step.kind
        name = plan.name
        fixed = self._fixed.get(id(step))
        detail: Mapping[str, Any] | None = None
        shape: Shape | None = None
        if fixed is not None and fixed[0] is step:
            args = dict(fixed[1])  # nothing in them comes from the record: not read for them
            detail, shape = fixed[2], fixed[3]
        else:
            record = ctx.crm.get(enr.object, enr.record)
            facts = None if record is None else ctx.facts(record, plan, received=enr.received)
            args = self.arguments(enr, plan, step, facts)
        action = Action(
            kind=kind, object=enr.object, id=enr.record, at=ctx.now, args=args, enrollment=enr.id, workflow=enr.workflow
        )
        key = idempotency_key(enr, step.id, ctx.store_id)
        quiet = self._quiet
        try:
            makes = _EVENT_OF.get(kind)
            if quiet is not None and makes is not None and ctx.observer is None and not ctx.hears(makes):
                quiet.perform_unheard(action, key)  # its events would be dropped unheard
                result = _NOTHING
            else:
                result = ctx.crm.perform(action, key)
        except TransientAdapterError as error:
            return self._failed(enr, compiled, step, str(error), transient=True, retry_after=error.retry_after)
        except (PermanentAdapterError, AdapterError) as error:
            return self._failed(enr, compiled, step, str(error), transient=False)
        created = result.data.get("id")
        if shape is not None and created is None:
            ctx.record_shape(shape, enr.object, enr.record, enr.id)
        else:
            if detail is None or created is not None:
                detail = {"action": kind, **args}
                if created is not None:
                    detail["created"] = created
            ctx.record(name, enr.object, enr.record, h.ACTION, step.id, detail, enr.id)
        if kind == "send_email" and not enr.emailed:
            enr = ctx.change(enr, emailed=True)
            ctx.store.add_stat(name, "emailed", 1)
        if step.next is not None or enr.id != ctx.running:
            ctx.put(enr)
        # else the run completes the enrollment at once and `Lifecycle.end` puts it: a
        # put now would be replaced before anything could read it.
        if result.events:
            ctx.chain([e if e.cause else attrs.evolve(e, cause=enr.id) for e in result.events])
        return Goto(enr, step.next)

    def _failed(
        self,
        enr: Enrollment,
        compiled: Compiled,
        step: Step,
        error: str,
        *,
        transient: bool,
        retry_after: float | None = None,
    ) -> object:
        """A failed action: retried with backoff while transient and attempts are left,
        then `on failure` (stop: unenrolled; continue: the next step)."""
        ctx = self.ctx
        plan = compiled.plan
        attempt = enr.attempt + 1
        detail: dict[str, Any] = {"action": step.kind, "error": error, "attempt": attempt}
        if transient and attempt < timing.MAX_ATTEMPTS:
            wait = timing.backoff(attempt, enr.id + step.id)
            if retry_after is not None:  # the remote side said when: no need to guess
                wait = dt.timedelta(seconds=max(1, math.ceil(retry_after)))
            until = ctx.now + wait
            detail["retry_at"] = until.isoformat()
            ctx.record(plan.name, enr.object, enr.record, h.FAILED, step.id, detail, enr.id)
            enr = ctx.change(enr, attempt=attempt, step=step.id, phase="at")
            ctx.put(enr)
            ctx.set_timer(enr.id, until, "resume", enr.workflow, enr.id)
            return WAIT
        detail["on_failure"] = plan.settings.on_failure
        ctx.record(plan.name, enr.object, enr.record, h.FAILED, step.id, detail, enr.id)
        if plan.settings.on_failure == "stop":
            self.lifecycle.end(enr, "unenrolled", h.UNENROLLED, {"reason": h.ACTION_FAILED}, step.id)
            return ENDED
        return Goto(enr, step.next)
