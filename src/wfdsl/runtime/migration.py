"""Two versions of a workflow plan -> where each step's waiting enrollments continue.

A step is the same step in two versions when it has the same identity key
(`Step.key`, computed by the compiler from the step's content and position;
`label` pins one by hand). An enrollment that waits at a step continues at
the step with the same key in the new version, whatever its id there; if no
step has that key any more, it continues at the next step of the old version
whose key still exists (None: nothing is left, the enrollment completes).
`Engine.deploy` and `wfdsl plan` both use `step_moves`, so a deployment
does exactly what the plan said.

>>> from wfdsl.plan.model import WorkflowPlan, Trigger, Settings
>>> from wfdsl.plan.steps import End
>>> from wfdsl.spans import Span
>>> span = Span(file="w.wf", line=1, col=1, end_line=1, end_col=2)
>>> def plan(*steps: tuple[str, str]) -> WorkflowPlan:
...     ids = [i for i, _ in steps]
...     return WorkflowPlan(name="W", object="contact", source_hash="", span=span,
...         trigger=Trigger(kind="manual"), settings=Settings(), entry=ids[0],
...         steps={i: End(id=i, key=k, span=span,
...                        next=ids[n + 1] if n + 1 < len(ids) else None)
...                for n, (i, k) in enumerate(steps)})
>>> old = plan(("steps.0", "a"), ("steps.1", "b"), ("steps.2", "c"))
>>> new = plan(("steps.0", "t"), ("steps.1", "a"), ("steps.2", "c"))
>>> [(m.step, m.to, m.reason) for m in step_moves(old, new).values()]
[('steps.0', 'steps.1', 'step_moved'), ('steps.1', 'steps.2', 'step_removed'), ('steps.2', 'steps.2', None)]
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from wfdsl.plan.model import WorkflowPlan
from wfdsl.runtime.history import STEP_MOVED, STEP_REMOVED


@attrs.frozen(kw_only=True)
class Move:
    """Where an enrollment waiting at old step `step` continues in the new version.

    `to` is the new step id (None: no step is left, the enrollment completes);
    `reason` is None when the step kept its id, else `step_moved` or
    `step_removed`.
    """

    step: str
    to: str | None
    reason: str | None

    @property
    def moved(self) -> bool:
        return self.reason is not None


def _keys(plan: WorkflowPlan, by_id: bool) -> dict[str, str]:
    """step id -> identity key (the id itself for plans written before keys existed)."""
    return {sid: sid if by_id or not step.key else step.key for sid, step in plan.steps.items()}


def step_moves(old: WorkflowPlan, new: WorkflowPlan) -> dict[str, Move]:
    """For every step of `old`, where an enrollment waiting there continues in `new`."""
    by_id = any(not s.key for s in old.steps.values()) or any(not s.key for s in new.steps.values())
    new_by_key = {key: sid for sid, key in _keys(new, by_id).items()}
    old_keys = _keys(old, by_id)
    out: dict[str, Move] = {}
    for sid in old.steps:
        same = new_by_key.get(old_keys[sid])
        if same is not None:
            out[sid] = Move(step=sid, to=same, reason=None if same == sid else STEP_MOVED)
            continue
        out[sid] = Move(step=sid, to=_next_kept(old, sid, old_keys, new_by_key), reason=STEP_REMOVED)
    return out


def _next_kept(old: WorkflowPlan, sid: str, keys: Mapping[str, str], new_by_key: Mapping[str, str]) -> str | None:
    seen = {sid}
    cur = old.steps[sid].next
    while cur is not None and cur not in seen and cur in old.steps:
        seen.add(cur)
        found = new_by_key.get(keys[cur])
        if found is not None:
            return found
        cur = old.steps[cur].next
    return None


__all__ = ["STEP_MOVED", "STEP_REMOVED", "Move", "step_moves"]
