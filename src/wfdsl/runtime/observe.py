"""Observer: the hooks through which explain, tests, traces or metrics watch the engine decide.

An engine built with `Engine(..., observer=obs)` calls `obs` at each decision;
the decisions themselves are the same with or without one. Without an
observer (the default) the engine skips every hook with one test, so watching
costs nothing when nobody watches. Subclass `NullObserver` and override what
you need, or implement the whole `Observer` protocol.

The engine's work nests in *scopes* (`enter`/`leave`, always paired, even when
an exception unwinds them): an input batch or a timer firing is the outermost
(the cause of what follows); inside it, a trigger being judged, an enrollment
being tried, the checks before an action, a branch. Within a scope the engine
reports the criteria it evaluated (`criteria_evaluated`), the suppression
lists it looked a record up in, the events it held against a pattern, and
every decision it wrote to the history (`recorded`: enrolled, not_enrolled,
branched, action, skipped, delayed, goal_met, converted, failed, completed,
unenrolled, migrated — the entries of the trace).

>>> class Count(NullObserver):
...     def __init__(self) -> None:
...         self.kinds: list[str] = []
...     def recorded(self, entry: HistoryEntry) -> None:
...         self.kinds.append(entry.kind)
>>> Count().every_trigger
False
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import attrs

from wfdsl.plan.criteria import Criterion
from wfdsl.plan.model import EventSpec, WorkflowPlan
from wfdsl.runtime.protocols import Enrollment, Event, HistoryEntry, Timer

ScopeKind = Literal[
    "activation",  # activate(workflow): existing records may enroll
    "batch",  # a batch of events (one change) being dispatched
    "timer",  # a timer firing (resume, timeout, schedule, annual)
    "filter_trigger",  # a filter trigger judged for one record
    "event_trigger",  # an event trigger judged for one event
    "schedule",  # a schedule occurrence enrolling the records it finds
    "annual",  # an anniversary: a record enrolling again
    "enroll",  # an enrollment being tried (the refusals are recorded `not_enrolled`)
    "watch",  # an event looked at for an enrollment that exists (goal, `wait for`)
    "check",  # goal, unenroll, suppression checks before an action, or on a change
    "branch",  # an `if`, `branch on` or `split` choosing its way
]


@attrs.frozen(kw_only=True)
class Scope:
    """One piece of the engine's work, while it lasts.

    `plan` is the workflow's plan (None for a batch or a timer), `record` the
    `(type, id)` concerned when there is one, `step` the step id (`check`,
    `branch`). `events` is the batch being dispatched, `timer` the timer
    firing. `on_change` marks a `check` made because an event arrived (not
    before an action); `existing` an activation that enrolls existing records.
    """

    kind: ScopeKind
    plan: WorkflowPlan | None = None
    record: tuple[str, str] | None = None
    step: str | None = None
    events: tuple[Event, ...] = ()
    timer: Timer | None = None
    on_change: bool = False
    existing: bool = False

    @property
    def workflow(self) -> str | None:
        return None if self.plan is None else self.plan.name


class Observer(Protocol):
    """What the engine tells an observer (see the module's docstring)."""

    #: True to have the engine judge every event trigger an event could concern, even
    #: the ones it can tell at a glance will not fire (so that each refusal is seen).
    every_trigger: bool

    def input(self, event: Event) -> None:
        """An event from outside, before the engine takes it."""

    def enter(self, scope: Scope) -> None:
        """A scope of work begins."""

    def leave(self, scope: Scope) -> None:
        """The scope entered last ends."""

    def criteria_evaluated(self, criteria: Criterion, facts: Any, result: bool) -> None:
        """Criteria of a plan (trigger, `only if`, goal, `unenroll when`, a branch) were
        judged on `facts` (a `RecordFacts`; `facts.is_before` when judged on the record
        as it was before a change)."""

    def suppression_checked(self, plan: WorkflowPlan, record: tuple[str, str], name: str, member: bool) -> None:
        """The record was looked up in a suppression list of `plan`."""

    def event_matched(self, pattern: EventSpec, event: Event, result: bool) -> None:
        """An event was held against a trigger event or a `wait for` pattern."""

    def recorded(self, entry: HistoryEntry) -> None:
        """A decision was written to the history."""

    def goal(self, enrollment: Enrollment, converted: bool) -> None:
        """An enrollment met its workflow's goal (after its `goal_met` entry); `converted`
        when the workflow had sent it a marketing email."""


class NullObserver:
    """Watches nothing: a base to override only the hooks you need."""

    every_trigger = False

    def input(self, event: Event) -> None:
        return None

    def enter(self, scope: Scope) -> None:
        return None

    def leave(self, scope: Scope) -> None:
        return None

    def criteria_evaluated(self, criteria: Criterion, facts: Any, result: bool) -> None:
        return None

    def suppression_checked(self, plan: WorkflowPlan, record: tuple[str, str], name: str, member: bool) -> None:
        return None

    def event_matched(self, pattern: EventSpec, event: Event, result: bool) -> None:
        return None

    def recorded(self, entry: HistoryEntry) -> None:
        return None

    def goal(self, enrollment: Enrollment, converted: bool) -> None:
        return None
