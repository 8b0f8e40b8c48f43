"""The placeholder-action rule: placeholder steps in; the diagnostic (lint, `wfdsl run`) or the engine's refusal out.

A `placeholder "…"` step must be replaced by a real action before its
workflow is turned on. The rule is stated here once, for every place that
applies it: the checker (`placeholder-action`, a warning; an error with
`--strict`), `wfdsl run` (an error for each placeholder: nothing runs) and
the engine (`activate` refuses a workflow that has any). It lives in the base
layer so that the checker, which reads source nodes, and the plan's readers
both use it.

>>> from wfdsl.spans import Span
>>> span = Span(file="w.wf", line=3, col=5, end_line=3, end_col=28)
>>> placeholder_action("Send a survey", span).message
'found the placeholder "Send a survey"; it must be replaced by a real action before the workflow can be turned on'
>>> refusal("Survey", ["steps.2", "steps.0"])
"workflow 'Survey' has placeholder actions (steps.0, steps.2): fill them in before turning it on"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from wfdsl.diagnostics import Diagnostic, Severity
from wfdsl.spans import Span

#: The plan step kind of a placeholder.
KIND = "placeholder"

HINT = "replace it with an action (send email, create task, set …)"


class PlanStep(Protocol):
    """What the rule reads of a plan step."""

    @property
    def kind(self) -> str: ...

    @property
    def args(self) -> Mapping[str, Any]: ...


def unfilled(steps: Mapping[str, PlanStep]) -> list[str]:
    """The ids of a plan's placeholder steps, in plan order."""
    return [sid for sid, step in steps.items() if step.kind == KIND]


def placeholder_action(text: str, span: Span, *, workflow: str | None = None, strict: bool = False) -> Diagnostic:
    """The `placeholder-action` diagnostic of one placeholder: a warning (an error when
    `strict`) as the checker reports it, or, naming its `workflow`, the error `wfdsl run`
    reports before running nothing."""
    if workflow is None:
        message = (
            f'found the placeholder "{text}"; it must be replaced by a real action before the workflow can be turned on'
        )
    else:
        message = (
            f'found the placeholder "{text}" in workflow "{workflow}"; a workflow with placeholders cannot be turned on'
        )
        strict = True
    return Diagnostic.of("placeholder-action", message, span, hint=HINT, severity=Severity.ERROR if strict else None)


def refusal(workflow: str, step_ids: Iterable[str]) -> str | None:
    """Why `activate` refuses a workflow with these placeholder steps (None: it has none)."""
    found = sorted(step_ids)
    if not found:
        return None
    return f"workflow {workflow!r} has placeholder actions ({', '.join(found)}): fill them in before turning it on"
