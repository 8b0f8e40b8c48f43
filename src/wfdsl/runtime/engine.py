"""Engine: compiled plans + events + due timers in; enrollments, CRM actions and history out.

The interpreter `Engine(plans, crm, store, clock)` takes all its
effects as arguments (protocols in `runtime.protocols`). Inputs are
`ingest(event)` and `run_due(now)`; everything an enrollment does is recorded
in the store's history with a kind and a reason (`runtime.history`).

Events are dispatched through an index built from each plan's index keys
(event type, dotted property, list name, workflow name): an event only looks
at the workflows whose triggers, goals, unenrollment or suppression criteria
or `wait for` steps mention it. Events that the engine's own actions produce
(property changes, list membership, enrollments) go through the same queue,
so workflows chain.

>>> import datetime as dt
>>> from wfdsl.adapters.memory import MemoryCRM
>>> from wfdsl.stores.memory import MemoryStore
>>> from wfdsl.runtime.protocols import VirtualClock
>>> engine = Engine((), MemoryCRM(), MemoryStore(),
...                 VirtualClock(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)))
>>> engine.workflows
()
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from wfdsl.limits import ACT_YEARS
from wfdsl.plan.model import CONTROL_KINDS, WAIT_KINDS, EventSpec, ProjectPlan, Step, WorkflowPlan, decode_value
from wfdsl.runtime import history as h
from wfdsl.runtime import timing
from wfdsl.runtime.criteria import compile_criteria, compile_event_criteria, event_attribute
from wfdsl.runtime.facts import CONVERTED_FACT, ENROLLED_FACT, GOAL_FACT, RECORD_ID_PROPERTY, RecordFacts
from wfdsl.runtime.migration import Move, step_moves
from wfdsl.runtime.protocols import (
    Action,
    AdapterError,
    Clock,
    CRMAdapter,
    Enrollment,
    Event,
    HistoryEntry,
    IdentifiedStore,
    PermanentAdapterError,
    ReadAware,
    Record,
    StateStore,
    Timer,
    TransientAdapterError,
    utc,
)
from wfdsl.runtime.reads import crm_reads
from wfdsl.runtime.values import is_date_form, parse_temporal

#: Re-entries of one workflow by one record through workflow actions allowed per hour.
LOOP_LIMIT = 10
#: Steps one enrollment may take without waiting before it is stopped (a `go to` loop).
MAX_STEPS_PER_RUN = 1000
#: Retention.
ACTION_RETENTION = dt.timedelta(days=90)
HISTORY_RETENTION = dt.timedelta(days=183)
FACT_RETENTION = dt.timedelta(days=730)
#: How far the queue of chained events may grow within one input before it is cut.
MAX_CHAIN = 100_000

_TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")

Predicate = Callable[[Any], bool]


_ENROLLMENT_FIELDS = tuple(field.name for field in attrs.fields(Enrollment))


def _evolve(enr: Enrollment, **changes: Any) -> Enrollment:
    """`attrs.evolve` for enrollments, which every step copies: the same new instance
    (built by the class's own `__init__`) for about half the time, without attrs'
    per-call look at the class's fields."""
    values = {name: getattr(enr, name) for name in _ENROLLMENT_FIELDS}
    values.update(changes)
    return Enrollment(**values)


#: How many years ahead a record's next anniversary is looked for.
_ANNIVERSARY_LOOKAHEAD = 8


class EngineError(Exception):
    """A call the engine cannot serve (an unknown workflow name)."""


@attrs.define
class _Compiled:
    """A workflow plan with its criteria compiled once."""

    plan: WorkflowPlan
    trigger: Predicate | None
    refinement: Predicate | None
    goal: Predicate | None
    unenroll: Predicate | None
    events: list[tuple[EventSpec, Callable[..., bool] | None]]
    watch_events: frozenset[str]
    watch_props: frozenset[str]
    watch_lists: frozenset[str]
    watch_workflows: frozenset[str]
    #: What an event must carry for this event trigger to fire (see `_pins`), or None.
    pins: frozenset[tuple[str, str, str]] | None = None


_PLAIN = frozenset({str, int, float, bool})


def _plan_value(value: Any) -> Any:
    """A plan literal as a CRM property value (dates as ISO text)."""
    if value is None or type(value) in _PLAIN:
        return value  # what decode_value returns unchanged (the common case, on every event)
    decoded = decode_value(value)
    if isinstance(decoded, (dt.date, dt.time)):
        return decoded.isoformat()
    if isinstance(decoded, list):
        return [_plan_value(v) for v in value]
    return decoded


def _same(actual: Any, expected: Any) -> bool:
    """Loose equality for `changed to` / `from`: numbers numerically, text case-insensitively."""
    expected = _plan_value(expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return str(actual).lower() == str(expected).lower()
    if isinstance(expected, (int, float)):
        try:
            return float(actual) == float(expected)
        except (TypeError, ValueError):
            return False
    if actual is None:
        return False
    return str(actual).casefold() == str(expected).casefold()


def action_arguments(step: Step) -> frozenset[str] | None:
    """The names a step's `action` history entries carry besides `action` (what
    `wfdsl test` expectations may name in `args`); None for a step that records no
    action (waits, control steps, placeholders)."""
    kind = step.kind
    if kind in WAIT_KINDS or kind in CONTROL_KINDS or kind == "placeholder":
        return None
    fixed = {
        "set": {"object", "property", "value"},
        "clear": {"object", "property"},
        "increment": {"object", "property", "by"},
        "copy": {"object", "property", "value", "source"},
        "create_record": {"object_type", "properties", "created"},
        "rotate_owner": {"owner"},
        "enroll_in_workflow": {"workflow"},
        "unenroll_from_workflow": {"workflow"},
    }.get(kind)
    if fixed is not None:
        return frozenset(fixed)
    names = set(step.args)
    if kind == "create_task":
        names.discard("due")
        names.add("due_at")
    if kind == "notify":
        names.add("recipient")
    return frozenset(names | {"created"})


class _NewRecordFacts:
    """The facts of a record that was just created with no properties: nothing known,
    in no list, no events, never enrolled (only its id, `hs_object_id`, is known)."""

    now = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    tz = dt.timezone.utc
    received: bool | None = None

    def value(self, object_type: str, prop: str) -> object | None:
        return "new" if prop == RECORD_ID_PROPERTY else None

    def history(self, object_type: str, prop: str) -> Sequence[object]:
        return []

    def in_list(self, name: str) -> bool:
        return False

    def events(self, event_type: str) -> Sequence[tuple[dt.datetime, Mapping[str, object]]]:
        return []

    def enrolled_in(self, workflow: str) -> bool:
        return False

    def reached_goal(self, workflow: str) -> bool:
        return False

    def last_updated(self, object_type: str, prop: str) -> dt.datetime | None:
        return None


def _meets_when_new(trigger: Callable[[Any], bool] | None) -> bool:
    """Whether filter criteria can hold for a new record whatever properties it was
    created with (negative criteria: `not in list`, `is unknown`, `has not`): such a
    trigger is checked on every `record.created` of its object type."""
    if trigger is None:
        return False
    try:
        return bool(trigger(_NewRecordFacts()))
    except Exception:  # noqa: BLE001 - when in doubt, check it on every new record
        return True


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


def _pins(specs: Iterable[EventSpec]) -> frozenset[tuple[str, str, str]] | None:
    """(event type, attribute or `object.property`, case-folded text) per trigger event,
    when every event of the trigger asks for one text value (`form.submitted(form = "X")`,
    `contact.city changed to "Dublin"`); None otherwise. With many workflows on one event
    type, `_may_fire` then turns the others away without judging their criteria."""
    pins: set[tuple[str, str, str]] = set()
    for spec in specs:
        if spec.negated:
            continue
        crit = spec.criteria
        if spec.type == "property.changed":
            if (
                crit is None
                and spec.from_value is None
                and isinstance(spec.to_value, str)
                and spec.object
                and spec.property
            ):
                pins.add((spec.type, f"{spec.object}.{spec.property}", spec.to_value.casefold()))
                continue
            return None
        if (
            spec.property is None
            and spec.from_value is None
            and spec.to_value is None
            and isinstance(crit, Mapping)
            and set(crit) == {"op", "attribute", "value"}
            and crit["op"] == "eq"
            and isinstance(crit["attribute"], str)
            and isinstance(crit["value"], str)
            and crit["value"]
        ):
            pins.add((spec.type, crit["attribute"], crit["value"].casefold()))
            continue
        return None
    return frozenset(pins) if pins else None


_UNSURE = object()


def _event_text(event: Event, attr: str, seen: dict[str, object]) -> object:
    """The case-folded text `event` carries for a pin's attribute (`object.property` for
    a property change): None when it has none, `_UNSURE` when it is not text."""
    text = seen.get(attr)
    if text is None and attr not in seen:
        if event.type == "property.changed":
            if f"{event.object}.{event.data.get('property')}" != attr:
                text = None
            else:
                value = event.data.get("value")
                text = None if value is None else _UNSURE if isinstance(value, bool) else str(value).casefold()
        else:
            value = event_attribute(event.data, attr)
            text = _UNSURE if not isinstance(value, str) else value.casefold() if value else None
        seen[attr] = text
    return text


def _may_fire(pins: frozenset[tuple[str, str, str]], event: Event, seen: dict[str, object]) -> bool:
    """False only when no trigger event can match `event` (`_matches` would say no to all):
    the text it asks for is not the event's. Values that are not text go the long way.
    `seen` keeps the event's case-folded values by attribute, for the next workflow."""
    for etype, attr, folded in pins:
        if etype != event.type:
            continue
        text = _event_text(event, attr, seen)
        if text is _UNSURE or (text is not None and text == folded):
            return True
    return False


class Engine:
    """The workflow interpreter."""

    #: Pinned event triggers (`form.submitted(form = "X")`) are normally skipped for
    #: events that cannot match them, unseen. An observer that explains every refusal
    #: (`wfdsl explain`) sets this to look at each trigger; the decisions are the same.
    observe_every_trigger = False

    def __init__(
        self,
        plans: ProjectPlan | Iterable[WorkflowPlan],
        crm: CRMAdapter,
        store: StateStore,
        clock: Clock,
        *,
        loop_limit: int = LOOP_LIMIT,
        allow_placeholders: bool = False,
    ) -> None:
        self.crm = crm
        # A workflow with placeholder actions cannot be turned on (`placeholder-action`
        # is an error when activating); a simulation may preview it, recording each
        # placeholder as `skipped`.
        self.allow_placeholders = allow_placeholders
        self.store = store
        self.store_id = store.store_id() if isinstance(store, IdentifiedStore) else ""
        self.clock = clock
        self.loop_limit = loop_limit
        self._now = utc(clock.now())
        # Batches of events: the events one change stands for are judged together.
        self._queue: deque[list[Event]] = deque()
        self._criteria_cache: dict[int, tuple[Any, Predicate]] = {}
        # (workflow, object, id) an event trigger fired for in the batch being dispatched
        self._triggered: set[tuple[str, str, str]] = set()
        self._event_cache: dict[str, Callable[..., bool]] = {}
        # One clock per engine time for event criteria (they are judged once per workflow).
        self._event_clock: _EventClock | None = None
        #: The timer `run_due` is firing (None between firings): whose fault a failure is.
        self.firing: Timer | None = None
        self._load(plans)

    # ------------------------------------------------------------ plans and index

    def _load(self, plans: ProjectPlan | Iterable[WorkflowPlan]) -> None:
        workflows = plans.workflows if isinstance(plans, ProjectPlan) else tuple(plans)
        self._plans: dict[str, _Compiled] = {}
        self._order = {plan.name: i for i, plan in enumerate(workflows)}
        # index: key -> workflow names, for triggers and for watchers of enrollments
        self._trigger_index: dict[str, set[str]] = {}
        self._watch_index: dict[str, set[str]] = {}
        # What `_dispatch` looks triggers up in: the trigger index without the pinned
        # event triggers, which are found by the text they ask for instead:
        # (event type, attribute) -> case-folded text -> workflow names.
        self._dispatch_index: dict[str, set[str]] = {}
        self._pin_index: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._pin_attrs: dict[str, set[str]] = {}
        # Filter triggers by object type: a new record is checked against each of them.
        self._filters_of: dict[str, set[str]] = {}
        for plan in workflows:
            compiled = self._compile(plan)
            self._plans[plan.name] = compiled
            if plan.trigger.kind == "filter" and _meets_when_new(compiled.trigger):
                # Others cannot hold until a property, list or event they name changes,
                # and those changes find them through the index.
                self._filters_of.setdefault(plan.object, set()).add(plan.name)
            t = plan.index.trigger
            for key in self._keys_of(t.events, t.properties, t.lists, t.workflows):
                self._trigger_index.setdefault(key, set()).add(plan.name)
                if compiled.pins is None:
                    self._dispatch_index.setdefault(key, set()).add(plan.name)
            for etype, attr, folded in compiled.pins or ():
                self._pin_attrs.setdefault(etype, set()).add(attr)
                self._pin_index.setdefault((etype, attr), {}).setdefault(folded, set()).add(plan.name)
            for key in self._keys_of(
                compiled.watch_events, compiled.watch_props, compiled.watch_lists, compiled.watch_workflows
            ):
                self._watch_index.setdefault(key, set()).add(plan.name)
        if isinstance(self.crm, ReadAware):  # a remote CRM reads only what the workflows use
            self.crm.prepare(crm_reads(workflows))

    @staticmethod
    def _keys_of(
        events: Iterable[str], props: Iterable[str], lists: Iterable[str], workflows: Iterable[str]
    ) -> list[str]:
        lists, workflows = list(lists), list(workflows)
        covered = set(_INDEXED_BY_DETAIL)
        if lists:
            covered |= {"list.added", "list.removed"}
        if workflows:
            covered |= {"workflow.enrolled", "workflow.unenrolled", "workflow.goal_met"}
        keys = [f"event:{e}" for e in events if e not in covered]
        keys += [f"prop:{p}" for p in props]
        keys += [f"list:{name}" for name in lists]
        keys += [f"workflow:{w}" for w in workflows]
        return keys

    def _compile(self, plan: WorkflowPlan) -> _Compiled:
        trig = plan.trigger
        events = []
        for spec in trig.events:
            events.append((spec, self._event_fn(spec.criteria)))
        ix = plan.index
        parts = [ix.goal, ix.unenroll, ix.suppress]
        if plan.settings.unenroll_unmet and trig.kind == "filter":
            parts.append(ix.trigger)
        wait_events: set[str] = set()
        wait_props: set[str] = set()
        for step in plan.steps.values():
            if step.kind == "wait_for":
                ev = step.args.get("event", {})
                wait_events.add(str(ev.get("type")))
                if ev.get("property"):
                    wait_props.add(f"{ev.get('object')}.{ev['property']}")
        return _Compiled(
            plan=plan,
            trigger=self._fn(trig.criteria) if trig.criteria is not None else None,
            refinement=self._fn(trig.refinement) if trig.refinement is not None else None,
            goal=self._fn(plan.goal) if plan.goal is not None else None,
            unenroll=self._fn(plan.unenroll) if plan.unenroll is not None else None,
            events=events,
            watch_events=frozenset(e for p in parts for e in p.events) | wait_events,
            watch_props=frozenset(x for p in parts for x in p.properties) | wait_props,
            watch_lists=frozenset(x for p in parts for x in p.lists),
            watch_workflows=frozenset(x for p in parts for x in p.workflows),
            pins=_pins(trig.events) if trig.kind == "event" else None,
        )

    def _event_fn(self, criteria: Any) -> Callable[..., bool] | None:
        """Compiled event criteria, once per distinct criteria (a `wait for` read back
        from a durable store is a fresh dict each time)."""
        if criteria is None:
            return None
        key = json.dumps(criteria, sort_keys=True, default=str)
        fn = self._event_cache.get(key)
        if fn is None:
            fn = compile_event_criteria(criteria)
            self._event_cache[key] = fn
        return fn

    def _fn(self, criteria: Any) -> Predicate:
        cached = self._criteria_cache.get(id(criteria))
        if cached is None or cached[0] is not criteria:
            cached = (criteria, compile_criteria(criteria))
            self._criteria_cache[id(criteria)] = cached
        return cached[1]

    @property
    def workflows(self) -> tuple[str, ...]:
        return tuple(self._plans)

    def plan(self, workflow: str) -> WorkflowPlan:
        if workflow not in self._plans:
            raise EngineError(f"unknown workflow {workflow!r}")
        return self._plans[workflow].plan

    # ------------------------------------------------------------ public API

    def activate(self, workflow: str, enroll_existing: bool | None = None) -> None:
        """Turn a workflow on: schedules start; with `enroll_existing` (default: the
        plan's setting) records that already meet a filter trigger enroll now."""
        compiled = self._plans.get(workflow)
        if compiled is None:
            raise EngineError(f"unknown workflow {workflow!r}")
        plan = compiled.plan
        placeholders = sorted(sid for sid, step in plan.steps.items() if step.kind == "placeholder")
        if placeholders and not self.allow_placeholders:
            raise EngineError(
                f"workflow {workflow!r} has placeholder actions ({', '.join(placeholders)}): "
                "fill them in before turning it on"
            )
        self._now = max(self._now, utc(self.clock.now()))
        existing = plan.settings.enroll_existing if enroll_existing is None else enroll_existing
        with self.store.transaction():
            state = dict(self.store.workflow_state(workflow))
            state.update(active=True, version=plan.source_hash, has_goal=plan.goal is not None)
            self.store.set_workflow_state(workflow, state)
            if plan.trigger.kind == "schedule" and plan.trigger.recurrence is not None:
                self._schedule_next(plan, self._now)
        if existing and plan.trigger.kind == "filter":
            for record_id in list(self.crm.query(plan.object, plan.trigger.criteria)):
                record = self.crm.get(plan.object, record_id)
                if record is None or compiled.trigger is None:
                    continue
                if compiled.trigger(self._facts(record, plan)):
                    with self.store.transaction():
                        self._try_enroll(compiled, record)
                        self._drain()

    def deactivate(self, workflow: str) -> None:
        """Turn a workflow off: no new enrollments; active ones are unenrolled (`deactivated`)."""
        compiled = self._plans.get(workflow)
        if compiled is None:
            raise EngineError(f"unknown workflow {workflow!r}")
        with self.store.transaction():
            state = dict(self.store.workflow_state(workflow))
            state["active"] = False
            self.store.set_workflow_state(workflow, state)
            self.store.cancel_timer(f"schedule:{workflow}")
            self.store.cancel_timer(f"annual:{workflow}")
            for enr in list(self.store.enrollments(workflow=workflow, status="active")):
                self._unenroll(enr, h.DEACTIVATED)
            self._drain()

    def is_active(self, workflow: str) -> bool:
        return bool(self.store.workflow_state(workflow).get("active"))

    def enroll(self, workflow: str, record: tuple[str, str] | str, *, at: dt.datetime | None = None) -> None:
        """Enroll a record by hand (the API, a `workflow.enroll` event)."""
        object_type, record_id = _record_key(record)
        self._advance(at)
        with self.store.transaction():
            self._queue.append(
                [
                    Event(
                        type="workflow.enroll",
                        object=object_type,
                        id=record_id,
                        at=self._now,
                        data={"workflow": workflow},
                    )
                ]
            )
            self._drain()

    def ingest(self, event: Event) -> None:
        """Take one event from outside (input events or catalog events)."""
        self._advance(event.at)
        # One transaction per input: the event and everything it sets off commit
        # together, so a crash never leaves half of a chain behind.
        try:
            with self.store.transaction():
                if event.type == "workflow.enroll":
                    self._queue.append([attrs.evolve(event, at=self._now)])
                else:
                    batch = list(self.crm.observe(attrs.evolve(event, at=self._now)))
                    if batch:
                        self._queue.append(batch)
                self._drain()
        except BaseException:
            self._forget()
            raise

    @property
    def now(self) -> dt.datetime:
        """The engine's time: the latest of the clock and the inputs taken so far."""
        return self._now

    def rewind(self, when: dt.datetime) -> None:
        """Set the engine's time back to `when`, for a host that rolled back every
        change made since then and does the work again (one bad input taken out)."""
        self._now = utc(when)

    def _forget(self) -> None:
        """After a failed input: nothing of it is left queued for the next one."""
        self._queue.clear()
        self._triggered.clear()

    def quarantine(self, enrollment_id: str, reason: str) -> None:
        """End an active enrollment whose next step cannot be computed (a value out of
        range, a date past the calendar): `failed` with the error in its history, then
        `unenrolled` with reason `quarantined`. What a host does with a timer it had to
        set aside (`wfdsl run` keeps it as a dead letter), so the enrollment does not
        wait for ever."""
        enr = self.store.enrollment(enrollment_id)
        if enr is None or enr.status != "active":
            return
        try:
            with self.store.transaction():
                self._record(
                    enr.workflow,
                    enr.object,
                    enr.record,
                    h.FAILED,
                    enr.step,
                    {"error": reason, "quarantined": True},
                    enr.id,
                )
                self._end(enr, "unenrolled", h.UNENROLLED, {"reason": h.QUARANTINED}, enr.step)
                self._drain()
        except BaseException:
            self._forget()
            raise

    def run_due(self, now: dt.datetime | None = None, *, batch: int = 1) -> int:
        """Fire every timer due at or before `now` (default: the clock), in due order.
        Returns the number fired.

        Each firing is one transaction of the store. With `batch` > 1, up to that
        many firings share one commit (group commit), which a durable store makes
        much cheaper; a crash then undoes the uncommitted firings of the batch,
        which run again on restart with the same idempotency keys."""
        limit = utc(now) if now is not None else utc(self.clock.now())
        self.firing = None
        fired = 0
        done = False
        while not done:
            try:
                with self.store.transaction():
                    for _ in range(max(1, batch)):
                        timer = self.store.pop_due(limit)
                        if timer is None:
                            done = True
                            break
                        self._now = max(self._now, timer.due)
                        self.firing = timer
                        self._fire(timer)
                        self._drain()
                        self.firing = None
                        fired += 1
            except BaseException:
                self._forget()
                raise
            self.firing = None
        self._now = max(self._now, limit)
        return fired

    def next_due(self) -> dt.datetime | None:
        return self.store.next_due()

    def discard_pending(self) -> None:
        """Forget the events queued by a unit whose transaction failed and was rolled
        back (a host that runs the unit again starts from the committed state)."""
        self._queue.clear()
        self._triggered.clear()

    def workflows_for(self, event: Event) -> tuple[str, ...]:
        """The workflows an event is looked at by (through the index; never all of them).

        >>> import datetime as dt
        >>> from wfdsl.runtime.protocols import VirtualClock
        >>> engine = Engine((), None, None, VirtualClock(dt.datetime(2026, 1, 1)))
        >>> engine.workflows_for(Event(type="page.visited", object="contact", id="c1",
        ...                            at=dt.datetime(2026, 1, 1)))
        ()
        """
        keys = self._event_keys(event)
        found = set(self._lookup(self._watch_index, keys))
        found |= set(self._lookup(self._trigger_index, keys))
        return tuple(sorted(found, key=self._order.__getitem__))

    def stats(self, workflow: str) -> dict[str, Any]:
        """The counters and `conversion_rate` = converted / emailed."""
        counters: dict[str, Any] = dict(self.store.stats(workflow))
        emailed = counters.get("emailed", 0)
        rate = counters.get("converted", 0) / emailed if emailed else 0.0
        counters["conversion_rate"] = min(1.0, rate)
        return counters

    def history(self, record: tuple[str, str] | str | None = None, workflow: str | None = None) -> list[HistoryEntry]:
        """History entries in order, for a record (`("contact", "c1")` or `"contact:c1"`)
        and/or a workflow."""
        key = None if record is None else _record_key(record)
        return list(self.store.history(record=key, workflow=workflow))

    def deploy(self, new_plans: ProjectPlan | Iterable[WorkflowPlan]) -> None:
        """Switch to new versions of the workflows."""
        old = {name: c.plan for name, c in self._plans.items()}
        self._load(new_plans)
        with self.store.transaction():
            for name, compiled in self._plans.items():
                plan = compiled.plan
                previous = old.get(name)
                state = dict(self.store.workflow_state(name))
                if previous is not None and previous.goal is not None and plan.goal is None:
                    self.store.reset_stats(name, ("goal_met", "converted"))
                state.update(version=plan.source_hash, has_goal=plan.goal is not None)
                self.store.set_workflow_state(name, state)
                if previous is None:
                    continue
                moves = step_moves(previous, plan)
                for enr in list(self.store.enrollments(workflow=name, status="active")):
                    self._migrate(enr, plan, moves)
                if state.get("active") and plan.trigger.kind == "schedule":
                    if self.store.timer(f"schedule:{name}") is None:
                        self._schedule_next(plan, self._now)

    def prune(self, now: dt.datetime | None = None) -> int:
        """Apply the retention rules; returns the number of rows removed."""
        when = utc(now) if now is not None else utc(self.clock.now())
        with self.store.transaction():
            return self.store.prune(
                actions_before=when - ACTION_RETENTION,
                history_before=when - HISTORY_RETENTION,
                facts_before=when - FACT_RETENTION,
            )

    # ------------------------------------------------------------ time

    def _advance(self, at: dt.datetime | None) -> None:
        when = utc(at) if at is not None else utc(self.clock.now())
        self._now = max(self._now, when)

    def _set_timer(self, key: str, due: dt.datetime, kind: str, workflow: str, enrollment: str | None = None) -> None:
        self.store.set_timer(
            Timer(
                key=key, due=due, seq=self.store.next_seq("timer"), kind=kind, workflow=workflow, enrollment=enrollment
            )
        )

    def _schedule_next(self, plan: WorkflowPlan, after: dt.datetime) -> None:
        rec = plan.trigger.recurrence
        if rec is None:
            return
        due = timing.next_recurrence(rec, after, plan.settings.timezone)
        if due is not None:
            self._set_timer(f"schedule:{plan.name}", due, "schedule", plan.name)

    # ------------------------------------------------------------ events

    def _drain(self) -> None:
        processed = 0
        while self._queue:
            batch = self._queue.popleft()
            processed += 1
            if processed > MAX_CHAIN:  # pragma: no cover - the loop guard stops chains first
                self._queue.clear()
                break
            with self.store.transaction():
                self._dispatch(batch)

    def _emit(self, event: Event) -> None:
        """An event the engine itself produces: kept in the CRM's event history, then dispatched."""
        batch = list(self.crm.observe(event))
        if batch:
            self._queue.append(batch)

    def _event_keys(self, event: Event) -> list[str]:
        keys = [f"event:{event.type}"]
        if event.type == "property.changed":
            keys.append(f"prop:{event.object}.{event.data.get('property')}")
        elif event.type in ("list.added", "list.removed"):
            keys.append(f"list:{event.data.get('list')}")
        elif event.type.startswith("workflow."):
            keys.append(f"workflow:{event.data.get('workflow')}")
        elif event.type == "record.created":
            keys.append("event:record.created")
        return keys

    def _lookup(self, index: Mapping[str, set[str]], keys: Sequence[str]) -> list[str]:
        found: set[str] = set()
        for key in keys:
            found |= index.get(key, set())
        # Plan order keeps runs deterministic.
        return sorted(found, key=self._order.__getitem__)

    def _triggers_for(self, event: Event, keys: Sequence[str], seen: dict[str, object]) -> list[str]:
        """`_lookup(self._trigger_index, keys)` less the pinned event triggers that cannot
        match `event` (`_may_fire`), without looking at them one by one."""
        if self.observe_every_trigger:
            return self._lookup(self._trigger_index, keys)
        names = self._lookup(self._dispatch_index, keys)
        attrs_ = self._pin_attrs.get(event.type)
        if not attrs_:
            return names
        if event.type == "property.changed":
            attrs_ = {f"{event.object}.{event.data.get('property')}"} & attrs_
        found: set[str] = set()
        for attr in attrs_:
            by_text = self._pin_index[(event.type, attr)]
            text = _event_text(event, attr, seen)
            if text is _UNSURE:
                for group in by_text.values():
                    found |= group
            elif isinstance(text, str):
                found |= by_text.get(text, set())
        if not found:
            return names
        return sorted(found.union(names), key=self._order.__getitem__)

    def _records_for(self, object_type: str, event: Event) -> list[Record]:
        """The records of `object_type` an event concerns: its own record, or the
        records associated with it."""
        record = self.crm.get(event.object, event.id)
        if record is None:
            return []
        if object_type == event.object:
            return [record]
        out = []
        for rid in record.associations.get(object_type, ()):
            other = self.crm.get(object_type, rid)
            if other is not None:
                out.append(other)
        return out

    def _dispatch(self, batch: list[Event]) -> None:
        filters: dict[tuple[str, str, str], tuple[Record, list[Event]]] = {}
        self._triggered.clear()
        for event in batch:
            if event.type == "workflow.enroll":
                self._manual(event)
                continue
            keys = self._event_keys(event)
            seen: dict[str, object] = {}  # for `_may_fire`
            # 1. enrollments that exist: goal, unenrollment, suppression, `wait for`.
            for name in self._lookup(self._watch_index, keys):
                compiled = self._plans[name]
                for record in self._records_for(compiled.plan.object, event):
                    self._watch(compiled, record, event)
            # 2. triggers (filter triggers judged once per record and batch, below).
            names = self._triggers_for(event, keys, seen)
            if event.type == "record.created" and event.object in self._filters_of:
                # A new record is checked against every filter trigger of its type:
                # it may meet negative criteria (`not in list`, `is unknown`) at once.
                names = sorted(self._filters_of[event.object].union(names), key=self._order.__getitem__)
            for name in names:
                compiled = self._plans[name]
                kind = compiled.plan.trigger.kind
                if kind == "filter":
                    for record in self._records_for(compiled.plan.object, event):
                        key = (name, record.object, record.id)
                        filters.setdefault(key, (record, []))[1].append(event)
                elif kind == "event" and event.object == compiled.plan.object:
                    if (
                        compiled.pins is not None
                        and not self.observe_every_trigger
                        and not _may_fire(compiled.pins, event, seen)
                    ):
                        continue  # none of its events can match: skip the criteria
                    if self.is_active(name):
                        self._event_trigger(compiled, event)
        for (name, _, _), (record, events) in filters.items():
            if self.is_active(name):
                fresh = self.crm.get(record.object, record.id)
                if fresh is not None:
                    self._filter_trigger(self._plans[name], fresh, events)

    def _manual(self, event: Event) -> None:
        name = str(event.data.get("workflow", ""))
        compiled = self._plans.get(name)
        if compiled is None:
            self._record(name, event.object, event.id, h.NOT_ENROLLED, None, {"reason": "unknown_workflow"})
            return
        record = self.crm.get(event.object, event.id)
        if record is None or record.object != compiled.plan.object:
            self._record(name, event.object, event.id, h.NOT_ENROLLED, None, {"reason": h.UNKNOWN_RECORD})
            return
        self._try_enroll(compiled, record, manual=True, cause=event.cause)

    # ------------------------------------------------------------ triggers

    def _facts(
        self,
        record: Record,
        plan: WorkflowPlan,
        *,
        received: bool | None = None,
    ) -> RecordFacts:
        return RecordFacts(
            self.crm, self.store, record, now=self._now, tz=timing.zone(plan.settings.timezone), received=received
        )

    def _filter_trigger(self, compiled: _Compiled, record: Record, events: Sequence[Event]) -> None:
        """Enroll when the record comes to meet the criteria with these changes, or
        re-enroll when a `reenroll on change of` property changed."""
        if compiled.trigger is None:
            return
        plan = compiled.plan
        facts = self._facts(record, plan)
        if not compiled.trigger(facts):
            return
        created = any(e.type == "record.created" and e.object == record.object and e.id == record.id for e in events)
        # A record that did not exist before met no criteria before.
        was_met = False if created else compiled.trigger(self._before(facts, events))
        prior = [e for e in self.store.enrollments_of(record.object, record.id) if e.workflow == plan.name]
        reenroll = False
        if prior and plan.reenroll.mode == "on_change":
            changed = {f"{e.object}.{e.data.get('property')}" for e in events if e.type == "property.changed"}
            reenroll = any(f"{p.object}.{p.property}" in changed for p in plan.reenroll.properties)
        if was_met and not reenroll:
            return  # it met the criteria already: nothing new
        cause = next((e.cause for e in events if e.cause), None)
        self._try_enroll(compiled, record, reenroll_ok=reenroll, cause=cause)

    def _before(self, facts: RecordFacts, events: Sequence[Event]) -> RecordFacts:
        """The record as it was before `events` (the changes they report undone)."""
        values: dict[tuple[str, str], Any] = {}
        lists: dict[str, bool] = {}
        hidden = [(e.type, e.at, e.data) for e in events if e.object == facts.record.object and e.id == facts.record.id]
        for event in events:
            if event.type == "property.changed":
                key = (event.object, str(event.data.get("property")))
                values.setdefault(key, event.data.get("previous"))
            elif event.type in ("list.added", "list.removed") and event.object == facts.record.object:
                lists.setdefault(str(event.data.get("list")), event.type == "list.removed")
        return facts.before(values, lists, hidden)

    def _event_trigger(self, compiled: _Compiled, event: Event) -> None:
        plan = compiled.plan
        if not any(self._matches(spec, fn, event) for spec, fn in compiled.events if not spec.negated):
            return
        # One change is one trigger occurrence: an update that matches two trigger
        # groups (city and country changed) enrolls once.
        key = (plan.name, event.object, event.id)
        if key in self._triggered:
            return
        self._triggered.add(key)
        record = self.crm.get(event.object, event.id)
        if record is None:
            self._record(plan.name, event.object, event.id, h.NOT_ENROLLED, None, {"reason": h.UNKNOWN_RECORD})
            return
        if compiled.refinement is not None and not compiled.refinement(self._facts(record, plan)):
            return
        self._try_enroll(compiled, record, reenroll_ok=plan.reenroll.mode == "every_time", cause=event.cause)

    def _matches(self, spec: EventSpec | Mapping[str, Any], fn: Callable[..., bool] | None, event: Event) -> bool:
        etype: object
        obj: object
        prop: object
        if isinstance(spec, EventSpec):  # a plan's trigger (a concrete class: a fast check)
            etype, obj, prop = spec.type, spec.object, spec.property
            from_v, to_v = spec.from_value, spec.to_value
        else:  # a `wait for` pattern (plan JSON form)
            etype, obj, prop = spec.get("type"), spec.get("object"), spec.get("property")
            from_v, to_v = spec.get("from"), spec.get("to")
        if etype != event.type:
            return False
        if etype == "property.changed":
            if obj != event.object or prop != event.data.get("property"):
                return False
            if from_v is not None and not _same(event.data.get("previous"), from_v):
                return False
            if to_v is not None and not _same(event.data.get("value"), to_v):
                return False
        # Relative dates in event criteria are measured from the engine's time.
        if fn is None:
            return True
        clock = self._event_clock
        if clock is None or clock.now is not self._now:
            clock = self._event_clock = _EventClock(self._now)
        return fn(event.data, clock)

    # ------------------------------------------------------------ enrollment

    def _try_enroll(
        self,
        compiled: _Compiled,
        record: Record,
        *,
        manual: bool = False,
        reenroll_ok: bool = False,
        cause: str | None = None,
        annual: bool = False,
        anchor_year: int | None = None,
    ) -> Enrollment | None:
        plan = compiled.plan
        name, obj, rid = plan.name, record.object, record.id

        def refuse(reason: str) -> None:
            self._record(name, obj, rid, h.NOT_ENROLLED, None, {"reason": reason})

        if not self.is_active(name):
            refuse(h.WORKFLOW_OFF)
            return None
        prior = [e for e in self.store.enrollments_of(obj, rid) if e.workflow == name]
        if any(e.status == "active" for e in prior):
            refuse(h.ALREADY_ENROLLED)
            return None
        if prior and not (reenroll_ok or manual or annual):
            refuse(h.REENROLL_OFF)
            return None
        if cause is not None:
            hour_ago = self._now - dt.timedelta(hours=1)
            recent = [e for e in prior if e.caused_by is not None and e.enrolled_at > hour_ago]
            if len(recent) >= self.loop_limit:
                refuse(h.LOOP_GUARD)
                return None
        facts = self._facts(record, plan)
        if any(facts.in_list(lst) for lst in plan.suppress_lists):
            refuse(h.SUPPRESSED)
            return None
        if compiled.unenroll is not None and compiled.unenroll(facts):
            refuse(h.UNENROLL_CRITERIA)
            return None
        if compiled.goal is not None and compiled.goal(facts):
            refuse(h.GOAL_ALREADY_MET)
            return None
        anchor = self._anchor(plan, record, anchor_year)
        seq = self.store.next_seq("enrollment")
        enr = Enrollment(
            id=f"e{seq}",
            workflow=name,
            object=obj,
            record=rid,
            status="active",
            enrolled_at=self._now,
            seq=seq,
            version=plan.source_hash,
            step=plan.entry,
            phase="at",
            anchor=None if anchor is None else anchor.isoformat(),
            caused_by=cause,
        )
        self.store.put_enrollment(enr)
        self.store.add_stat(name, "enrolled", 1)
        self.store.add_stat(name, "active", 1)
        self.store.add_fact(ENROLLED_FACT, name, obj, rid, self._now)
        detail: dict[str, Any] = {}
        if manual:
            detail["trigger"] = "manual"
        self._record(name, obj, rid, h.ENROLLED, None, detail, enr.id)
        self._emit(
            Event(type="workflow.enrolled", object=obj, id=rid, at=self._now, data={"workflow": name}, cause=cause)
        )
        self._run(enr)
        return enr

    def _anchor_value(self, plan: WorkflowPlan, record: Record) -> object | None:
        """The anchor as the record holds it (the property's value, or the fixed date)."""
        anchor = plan.anchor
        if anchor is None:
            return None
        if anchor.property is not None:
            return self._facts(record, plan).value(anchor.property.object, anchor.property.property)
        return anchor.date

    def _anchor(self, plan: WorkflowPlan, record: Record, year: int | None = None) -> dt.date | None:
        """The anchor day of a new enrollment; with `annually`, in `year` (default: this
        year in the workflow's zone). None when the value is no usable date."""
        anchor = plan.anchor
        if anchor is None:
            return None
        tz = plan.settings.timezone
        base = timing.to_date(self._anchor_value(plan, record), tz)
        if base is None:
            return None
        if year is None:
            year = self._now.astimezone(timing.zone(tz)).year
        try:
            return timing.anchor_day(base, anchor.annually, year)
        except ValueError:
            return None

    # ------------------------------------------------------------ enrollments that exist

    def _watch(self, compiled: _Compiled, record: Record, event: Event) -> None:
        plan = compiled.plan
        mine = [e for e in self.store.enrollments_of(record.object, record.id) if e.workflow == plan.name]
        if not mine:
            return
        latest = mine[-1]
        if latest.status == "active":
            if self._check(latest, compiled, record):
                spec = latest.waiting_for
                if spec is not None and self._matches(spec, self._event_fn(spec.get("criteria")), event):
                    self.store.cancel_timer(latest.id)
                    enr = _evolve(latest, waiting_for=None, received=True)
                    self.store.put_enrollment(enr)
                    self._run(enr)
        elif latest.status == "completed" and not latest.goal_met and compiled.goal is not None:
            if compiled.goal(self._facts(record, plan)):
                self._goal(latest, plan, after_completion=True)

    def _check(self, enr: Enrollment, compiled: _Compiled, record: Record | None = None) -> bool:
        """Goal, unenroll criteria, suppression and `unenroll if criteria unmet` on the
        record as it is now. Returns False when the enrollment ended."""
        plan = compiled.plan
        record = record or self.crm.get(enr.object, enr.record)
        if record is None:
            return True
        facts = self._facts(record, plan, received=enr.received)
        if compiled.goal is not None and compiled.goal(facts):
            enr = self._goal(enr, plan)
            self._unenroll(enr, h.GOAL_MET_REASON)
            return False
        if compiled.unenroll is not None and compiled.unenroll(facts):
            self._unenroll(enr, h.UNENROLL_CRITERIA)
            return False
        if any(facts.in_list(lst) for lst in plan.suppress_lists):
            self._unenroll(enr, h.SUPPRESSED)
            return False
        if plan.settings.unenroll_unmet and compiled.trigger is not None and not compiled.trigger(facts):
            self._unenroll(enr, h.CRITERIA_UNMET)
            return False
        return True

    def _goal(self, enr: Enrollment, plan: WorkflowPlan, *, after_completion: bool = False) -> Enrollment:
        detail: dict[str, Any] = {"after_completion": True} if after_completion else {}
        self._record(plan.name, enr.object, enr.record, h.GOAL_MET, None, detail, enr.id)
        self.store.add_stat(plan.name, "goal_met", 1)
        self.store.add_fact(GOAL_FACT, plan.name, enr.object, enr.record, self._now)
        converted = enr.emailed
        if converted:
            self._record(plan.name, enr.object, enr.record, h.CONVERTED, None, {}, enr.id)
            self.store.add_stat(plan.name, "converted", 1)
            self.store.add_fact(CONVERTED_FACT, plan.name, enr.object, enr.record, self._now)
        enr = _evolve(enr, goal_met=True, converted=converted)
        self.store.put_enrollment(enr)
        self._emit(
            Event(
                type="workflow.goal_met", object=enr.object, id=enr.record, at=self._now, data={"workflow": plan.name}
            )
        )
        return enr

    def _end(self, enr: Enrollment, status: str, kind: str, detail: Mapping[str, Any], step: str | None = None) -> None:
        current = self.store.enrollment(enr.id) or enr
        if current.status != "active":
            return
        self.store.cancel_timer(enr.id)
        ended = _evolve(enr, status=status, ended_at=self._now, waiting_for=None, step=None)
        self.store.put_enrollment(ended)
        self.store.add_stat(enr.workflow, "active", -1)
        self.store.add_stat(enr.workflow, status, 1)
        self._record(enr.workflow, enr.object, enr.record, kind, step, detail, enr.id)
        if status == "unenrolled":
            self._emit(
                Event(
                    type="workflow.unenrolled",
                    object=enr.object,
                    id=enr.record,
                    at=self._now,
                    data={"workflow": enr.workflow},
                )
            )
        self._schedule_anniversary(ended)

    def _anniversary_key(self, workflow: str, object_type: str, record_id: str) -> str:
        return f"annual:{workflow}:{object_type}:{record_id}"

    def _anniversary_year(self, plan: WorkflowPlan, enr: Enrollment) -> int:
        """The anchor year of the enrollment after `enr`: the year after its anchor's."""
        if enr.anchor is not None:
            return dt.date.fromisoformat(enr.anchor).year + 1
        return enr.enrolled_at.astimezone(timing.zone(plan.settings.timezone)).year + 1

    def _upcoming_anniversary(self, plan: WorkflowPlan, record: Any, year: int) -> int:
        """`year`, or a later one: the first with a date-centred step still ahead.

        After a year in which the record did not enroll, the timer fires for an
        anniversary later than the one its last enrollment points to.
        """
        zone = timing.zone(plan.settings.timezone)
        for _ in range(_ANNIVERSARY_LOOKAHEAD):
            anchor = self._anchor(plan, record, year)
            if anchor is None or year >= ACT_YEARS[1]:
                break
            times = [
                self._anchor_step_time(plan, step, anchor)
                for step in plan.steps.values()
                if step.kind == "delay_until_anchor"
            ]
            last = max(times) if times else timing.localize(anchor, dt.time(0, 0), zone)
            if last >= self._now:
                break  # a date-centred step of this anniversary is still ahead
            year += 1
        return year

    def _earliest_anchor_step(self, plan: WorkflowPlan, anchor: dt.date) -> dt.datetime | None:
        """The moment of the workflow's earliest date-centred step for this anchor day."""
        times = []
        for step in plan.steps.values():
            if step.kind == "delay_until_anchor":
                times.append(self._anchor_step_time(plan, step, anchor))
        return min(times) if times else None

    def _schedule_anniversary(self, enr: Enrollment, year: int | None = None) -> None:
        """`annually`: once an enrollment has ended, the record is due to enroll again in
        time for its next anniversary, at the workflow's earliest date-centred step
        relative to it (its anchor year is then the anniversary's year)."""
        compiled = self._plans.get(enr.workflow)
        if compiled is None:
            return
        plan = compiled.plan
        if plan.anchor is None or not plan.anchor.annually:
            return
        record = self.crm.get(enr.object, enr.record)
        if record is None:
            return
        # A year given by the caller is a look again after an anniversary that did
        # not enroll: it must fall after now, or the same timer would fire forever.
        later = year is not None
        if year is None:
            year = self._anniversary_year(plan, enr)
        zone = timing.zone(plan.settings.timezone)
        for _ in range(_ANNIVERSARY_LOOKAHEAD):
            anchor = self._anchor(plan, record, year)
            if anchor is not None:
                due = self._earliest_anchor_step(plan, anchor) or timing.localize(anchor, dt.time(0, 0), zone)
            else:
                # No usable date now: look again on 1 January of that year.
                due = timing.localize(dt.date(year, 1, 1), dt.time(0, 0), zone)
            if not later or due > self._now or year >= ACT_YEARS[1]:
                break
            year += 1
        else:
            return  # no anniversary ahead within reach: nothing to schedule
        self._set_timer(
            self._anniversary_key(plan.name, enr.object, enr.record),
            max(due, self._now),
            "annual",
            plan.name,
            enr.id,
        )

    def _unenroll(self, enr: Enrollment, reason: str) -> None:
        self._end(enr, "unenrolled", h.UNENROLLED, {"reason": reason})

    def _complete(self, enr: Enrollment) -> None:
        self._end(enr, "completed", h.COMPLETED, {})

    def _migrate(self, enr: Enrollment, new: WorkflowPlan, moves: Mapping[str, Move]) -> None:
        """Move a waiting enrollment onto a new version:
        to its step's new id, or past a removed step to the next one that still exists.
        A running timer keeps its due time; a moved enrollment's history says `migrated`."""
        updated = _evolve(enr, version=new.source_hash)
        move = moves.get(enr.step) if enr.step is not None else None
        if move is None or not move.moved:
            self.store.put_enrollment(updated)
            return
        self._record(
            new.name,
            enr.object,
            enr.record,
            h.MIGRATED,
            enr.step,
            {"from": move.step, "to": move.to, "reason": move.reason},
            enr.id,
        )
        if move.reason == h.STEP_MOVED:
            self.store.put_enrollment(_evolve(updated, step=move.to))
            return
        # The timer (if any) keeps running; when it fires the enrollment runs `move.to`.
        self.store.put_enrollment(_evolve(updated, step=move.to, phase="at", waiting_for=None))
        if move.to is None and self.store.timer(enr.id) is None:
            self._complete(updated)

    # ------------------------------------------------------------ timers

    def _fire(self, timer: Timer) -> None:
        compiled = self._plans.get(timer.workflow)
        if compiled is None:
            return
        if timer.kind == "schedule":
            self._schedule_fire(compiled)
            return
        if timer.kind == "annual":
            self._annual_fire(compiled, timer)
            return
        enr = self.store.enrollment(timer.enrollment or "")
        if enr is None or enr.status != "active":
            return
        if timer.kind == "timeout":
            enr = _evolve(enr, waiting_for=None, received=False)
            self.store.put_enrollment(enr)
        self._run(enr)

    def _schedule_fire(self, compiled: _Compiled) -> None:
        plan = compiled.plan
        self._schedule_next(plan, self._now)
        if not self.is_active(plan.name):
            return
        for record_id in list(self.crm.query(plan.object, plan.trigger.refinement)):
            record = self.crm.get(plan.object, record_id)
            if record is None:
                continue
            if compiled.refinement is not None and not compiled.refinement(self._facts(record, plan)):
                continue
            self._try_enroll(compiled, record, reenroll_ok=plan.reenroll.mode == "every_time")

    def _annual_fire(self, compiled: _Compiled, timer: Timer) -> None:
        """A record's next anniversary is due: it enrolls again if it still meets the
        criteria; if not, it is looked at again for the anniversary after."""
        plan = compiled.plan
        if not self.is_active(plan.name):
            return
        if timer.enrollment is None:
            # A workflow-wide new-year timer of an earlier version: give each record
            # whose enrollment has ended its own anniversary timer instead.
            for enr in list(self.store.enrollments(workflow=plan.name)):
                latest = [e for e in self.store.enrollments_of(enr.object, enr.record) if e.workflow == plan.name]
                key = self._anniversary_key(plan.name, enr.object, enr.record)
                if latest and latest[-1].id == enr.id and enr.status != "active" and self.store.timer(key) is None:
                    self._schedule_anniversary(enr)
            return
        ended = self.store.enrollment(timer.enrollment)
        if ended is None:
            return
        mine = [e for e in self.store.enrollments_of(ended.object, ended.record) if e.workflow == plan.name]
        if not mine or mine[-1].id != ended.id or ended.status == "active":
            return  # enrolled again since (by hand): its end schedules the next one
        record = self.crm.get(ended.object, ended.record)
        if record is None:
            return
        year = self._upcoming_anniversary(plan, record, self._anniversary_year(plan, ended))
        criteria = compiled.trigger or compiled.refinement
        if criteria is not None and not criteria(self._facts(record, plan)):
            self._schedule_anniversary(ended, year + 1)
            return
        if self._try_enroll(compiled, record, annual=True, anchor_year=year) is None:
            self._schedule_anniversary(ended, year + 1)

    # ------------------------------------------------------------ running steps

    def _run(self, enr: Enrollment) -> None:
        """Run an enrollment from where it stands until it waits or ends."""
        compiled = self._plans.get(enr.workflow)
        if compiled is None:
            return
        plan = compiled.plan
        step_id = enr.step
        if enr.phase == "after" and step_id is not None:
            step_id = plan.steps[step_id].next if step_id in plan.steps else None
            enr = _evolve(enr, step=step_id, phase="at", attempt=0)
        for _ in range(MAX_STEPS_PER_RUN):
            if step_id is None:
                self._complete(enr)
                return
            step = plan.steps.get(step_id)
            if step is None:
                self._complete(enr)
                return
            if enr.step != step_id:
                enr = _evolve(enr, step=step_id)
            result = self._step(enr, compiled, step)
            if result is _WAIT:
                return
            if isinstance(result, _Goto):
                enr = result.enr if result.enr.attempt == 0 else _evolve(result.enr, attempt=0)
                step_id = result.target
                continue
            return  # ended
        self._unenroll(enr, h.LOOP_GUARD)

    def _step(self, enr: Enrollment, compiled: _Compiled, step: Step) -> object:
        plan = compiled.plan
        kind = step.kind
        if kind == "label":
            return _Goto(enr, step.next)
        if kind == "go_to":
            return _Goto(_evolve(enr, passes=enr.passes + 1), step.target)
        if kind == "end":
            self._complete(enr)
            return _ENDED
        if kind in ("if", "branch_on", "split"):
            return self._branch(enr, compiled, step)
        if kind in ("delay", "delay_until_day", "delay_until_date", "delay_until_anchor", "wait_for"):
            return self._wait(enr, compiled, step)
        # an action: re-read and check the record first
        if not self._check(enr, compiled):
            return _ENDED
        settings = plan.settings
        if not timing.in_window(self._now, settings.windows, settings.pause_dates, settings.timezone):
            start = timing.next_window_start(self._now, settings.windows, settings.pause_dates, settings.timezone)
            until = start + timing.spread(enr.id)
            reason = (
                "paused" if timing.is_paused(self._now, settings.pause_dates, settings.timezone) else "execution_window"
            )
            return self._sleep(enr, step, until, {"reason": reason}, phase="at")
        return self._act(enr, compiled, step)

    # -- branches

    def _branch(self, enr: Enrollment, compiled: _Compiled, step: Step) -> object:
        plan = compiled.plan
        record = self.crm.get(enr.object, enr.record)
        detail: dict[str, Any]
        target: str | None
        if step.kind == "split":
            roll = (timing.stable_hash("split", enr.id, step.id) % 10000) / 100
            total = 0.0
            target = step.arms[-1].target if step.arms else step.next
            chosen = len(step.arms) - 1
            for i, arm in enumerate(step.arms):
                total += arm.percent
                if roll < total:
                    target, chosen = arm.target, i
                    break
            detail = {"arm": chosen, "percent": step.arms[chosen].percent if step.arms else 0}
        else:
            facts = None if record is None else self._facts(record, plan, received=enr.received)
            target = step.else_target
            detail = {"branch": "else"}
            options: list[tuple[Any, str | None, dict[str, Any]]]
            if step.kind == "if":
                options = [(b.criteria, b.target, {"branch": i}) for i, b in enumerate(step.branches)]
            else:
                options = [(c.criteria, c.target, {"value": _plan_value(c.value)}) for c in step.cases]
            for criteria, to, info in options:
                if facts is not None and self._fn(criteria)(facts):
                    target, detail = to, info
                    break
            if step.kind == "branch_on" and "value" not in detail:
                detail = {"value": "else"}
        detail["target"] = target
        self._record(plan.name, enr.object, enr.record, h.BRANCHED, step.id, detail, enr.id)
        return _Goto(enr, target)

    # -- waits

    def _sleep(
        self,
        enr: Enrollment,
        step: Step,
        until: dt.datetime,
        detail: Mapping[str, Any],
        *,
        phase: str,
        kind: str = "resume",
        waiting_for: Mapping[str, Any] | None = None,
    ) -> object:
        enr = _evolve(enr, step=step.id, phase=phase, waiting_for=waiting_for)
        self.store.put_enrollment(enr)
        self._set_timer(enr.id, until, kind, enr.workflow, enr.id)
        self._record(
            enr.workflow, enr.object, enr.record, h.DELAYED, step.id, {"until": until.isoformat(), **detail}, enr.id
        )
        return _WAIT

    def _wait(self, enr: Enrollment, compiled: _Compiled, step: Step) -> object:
        plan = compiled.plan
        args = step.args
        tz = plan.settings.timezone
        now = self._now
        if step.kind == "delay":
            until = timing.add_duration(now, timing.duration_parts(args["duration"]), tz)
            return self._sleep(enr, step, until, {}, phase="after")
        if step.kind == "wait_for":
            until = timing.add_duration(now, timing.duration_parts(args["timeout"]), tz)
            event = args.get("event", {})
            return self._sleep(
                enr, step, until, {"wait_for": event.get("type")}, phase="after", kind="timeout", waiting_for=event
            )
        if step.kind == "delay_until_day":
            at = timing.parse_time(args["at"]) if args.get("at") else dt.time(0, 0)
            weekday = args.get("weekday")
            until = timing.next_time_of_day(now, at, tz, None if weekday is None else [int(weekday)])
            if until <= now:
                return _Goto(enr, step.next)
            return self._sleep(enr, step, until, {}, phase="after")
        if step.kind == "delay_until_date":
            target = self._date_target(enr, plan, args)
            if target is None:
                self._record(plan.name, enr.object, enr.record, h.SKIPPED, step.id, {"reason": h.DATE_UNKNOWN}, enr.id)
                return _Goto(enr, step.next)
            if target <= now:
                self._record(
                    plan.name,
                    enr.object,
                    enr.record,
                    h.SKIPPED,
                    step.id,
                    {"reason": h.DATE_PASSED, "until": target.isoformat()},
                    enr.id,
                )
                return _Goto(enr, step.next)
            return self._sleep(enr, step, target, {}, phase="after")
        # delay_until_anchor
        if enr.anchor is None:
            return self._skip_rest(enr, compiled, step)
        anchor_at = self._anchor_target(enr, plan, step)
        if anchor_at is not None and anchor_at > now:
            return self._sleep(enr, step, anchor_at, {}, phase="after")
        if anchor_at == now:
            return _Goto(enr, step.next)  # due now, not passed
        return self._skip_passed(enr, compiled, step)

    def _date_target(self, enr: Enrollment, plan: WorkflowPlan, args: Mapping[str, Any]) -> dt.datetime | None:
        tz = plan.settings.timezone
        base = args.get("base", {})
        at = timing.parse_time(args["at"]) if args.get("at") else None
        offset = timing.duration_parts(args["offset"]) if args.get("offset") else None
        sign = int(args.get("sign", 1))
        if "datetime" in base:
            moment = dt.datetime.fromisoformat(str(base["datetime"]))
            day, at = moment.date(), at or moment.time()
        elif "date" in base:
            day = dt.date.fromisoformat(str(base["date"]))
        else:
            prop = base.get("property", {})
            record = self.crm.get(enr.object, enr.record)
            if record is None:
                return None
            value = self._facts(record, plan).value(str(prop.get("object")), str(prop.get("property")))
            parsed = timing.to_date(value, tz)
            if parsed is None:
                return None
            found = parse_temporal(value)
            if at is None and isinstance(found, dt.datetime) and not is_date_form(found):
                # a date-time property with no `at`: that very moment
                moment = utc(found if found.tzinfo is not None else found.replace(tzinfo=dt.timezone.utc))
                if offset:
                    return timing.add_duration(moment, offset, tz, sign=sign)
                return moment
            day = parsed
        return timing.date_target(day, at, offset, sign, tz)

    def _anchor_target(self, enr: Enrollment, plan: WorkflowPlan, step: Step) -> dt.datetime | None:
        if enr.anchor is None:
            return None
        return self._anchor_step_time(plan, step, dt.date.fromisoformat(enr.anchor))

    def _anchor_step_time(self, plan: WorkflowPlan, step: Step, anchor: dt.date) -> dt.datetime:
        args = step.args
        at = timing.parse_time(args["at"]) if args.get("at") else None
        offset = timing.duration_parts(args["offset"]) if args.get("offset") else None
        sign = -1 if args.get("side") == "before" else 1
        return timing.date_target(anchor, at, offset, sign, plan.settings.timezone)

    def _skip_passed(self, enr: Enrollment, compiled: _Compiled, step: Step) -> object:
        """A date-centred delay in the past: skip to the next one still ahead."""
        plan = compiled.plan
        cur: str | None = step.id
        seen: set[str] = set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            here = plan.steps[cur]
            if here.kind == "delay_until_anchor" and cur != step.id:
                until = self._anchor_target(enr, plan, here)
                if until is not None and until >= self._now:
                    return _Goto(enr, cur)
            if here.kind not in ("label", "go_to", "end"):
                self._record(plan.name, enr.object, enr.record, h.SKIPPED, cur, {"reason": h.ANCHOR_PASSED}, enr.id)
            if here.kind == "end":
                break
            cur = here.target if here.kind == "go_to" else here.next
        self._complete(enr)
        return _ENDED

    def _skip_rest(self, enr: Enrollment, compiled: _Compiled, step: Step) -> object:
        """No usable anchor date: none of the date-centred steps runs; each is recorded
        `skipped` (`anchor_unknown`, with the value found) and the enrollment completes."""
        plan = compiled.plan
        record = self.crm.get(enr.object, enr.record)
        value = None if record is None else self._anchor_value(plan, record)
        shown = value if value is None or type(value) in _PLAIN else str(value)
        detail: dict[str, Any] = {"reason": h.ANCHOR_UNKNOWN, "value": shown}
        cur: str | None = step.id
        seen: set[str] = set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            here = plan.steps[cur]
            if here.kind not in ("label", "go_to", "end"):
                self._record(plan.name, enr.object, enr.record, h.SKIPPED, cur, detail, enr.id)
            if here.kind == "end":
                break
            cur = here.target if here.kind == "go_to" else here.next
        self._complete(enr)
        return _ENDED

    # -- actions

    def _render(self, value: Any, facts: RecordFacts | None) -> Any:
        if isinstance(value, str):
            if facts is None or "{{" not in value:
                return value

            def one(match: re.Match[str]) -> str:
                found = facts.value(match.group(1), match.group(2))
                return "" if found is None else str(found)

            return _TOKEN.sub(one, value)
        if isinstance(value, list):
            return [self._render(v, facts) for v in value]
        if isinstance(value, Mapping) and not set(value) & {"date", "datetime", "time", "percent"}:
            return {k: self._render(v, facts) for k, v in value.items()}
        return value

    def _action_args(
        self, enr: Enrollment, plan: WorkflowPlan, step: Step, facts: RecordFacts | None
    ) -> dict[str, Any]:
        args = dict(step.args)
        kind = step.kind
        if kind == "set":
            return {
                "object": args["object"],
                "property": args["property"],
                "value": self._render(_plan_value(args["value"]), facts),
            }
        if kind == "clear":
            return {"object": args["object"], "property": args["property"]}
        if kind == "increment":
            return {"object": args["object"], "property": args["property"], "by": args.get("amount", 0)}
        if kind == "copy":
            src, dst = args["source"], args["target"]
            value = None if facts is None else facts.value(src["object"], src["property"])
            return {
                "object": dst["object"],
                "property": dst["property"],
                "value": value,
                "source": f"{src['object']}.{src['property']}",
            }
        if kind == "create_record":
            props = {f["name"]: self._render(_plan_value(f["value"]), facts) for f in args.get("fields", [])}
            return {"object_type": args.get("object"), "properties": props}
        if kind == "create_task":
            out = {k: self._render(v, facts) for k, v in args.items() if k != "due"}
            if args.get("due"):
                out["due_at"] = timing.add_duration(
                    self._now, timing.duration_parts(args["due"]), plan.settings.timezone
                ).isoformat()
            return {k: v for k, v in out.items() if v is not None}
        if kind == "rotate_owner":
            owners = [str(_plan_value(o)) for o in args.get("owners", [])]
            n = self.store.next_seq(f"rotate:{plan.name}:{step.id}") - 1
            return {"owner": owners[n % len(owners)] if owners else None}
        if kind == "notify" and args.get("recipient") is None:
            owner = None if facts is None else facts.value(enr.object, "hubspot_owner_id")
            args["recipient"] = "owner" if owner is None else owner
        return {k: self._render(v, facts) for k, v in args.items() if v is not None}

    def _act(self, enr: Enrollment, compiled: _Compiled, step: Step) -> object:
        plan = compiled.plan
        kind = step.kind
        name = plan.name
        if kind == "placeholder":
            self._record(
                name,
                enr.object,
                enr.record,
                h.SKIPPED,
                step.id,
                {"reason": h.PLACEHOLDER, "text": step.args.get("text")},
                enr.id,
            )
            return _Goto(enr, step.next)
        if kind == "enroll_in_workflow":
            target = str(step.args.get("workflow"))
            self._record(name, enr.object, enr.record, h.ACTION, step.id, {"action": kind, "workflow": target}, enr.id)
            self._queue.append(
                [
                    Event(
                        type="workflow.enroll",
                        object=enr.object,
                        id=enr.record,
                        at=self._now,
                        data={"workflow": target},
                        cause=enr.id,
                    )
                ]
            )
            return _Goto(enr, step.next)
        if kind == "unenroll_from_workflow":
            target = str(step.args.get("workflow"))
            self._record(name, enr.object, enr.record, h.ACTION, step.id, {"action": kind, "workflow": target}, enr.id)
            for other in self.store.enrollments_of(enr.object, enr.record):
                if other.workflow == target and other.status == "active" and other.id != enr.id:
                    self._unenroll(other, h.MANUAL)
            return _Goto(enr, step.next)
        record = self.crm.get(enr.object, enr.record)
        facts = None if record is None else self._facts(record, plan, received=enr.received)
        # In key order: the same whether the plan came from sources or from a plan file
        # (whose JSON has its keys sorted), for the adapter and for the history.
        args = dict(sorted(self._action_args(enr, plan, step, facts).items()))
        action = Action(
            kind=kind,
            object=enr.object,
            id=enr.record,
            at=self._now,
            args={**args, "_enrollment": enr.id, "_workflow": enr.workflow},
        )
        key = idempotency_key(enr, step.id, self.store_id)
        try:
            result = self.crm.perform(action, key)
        except TransientAdapterError as error:
            return self._failed(enr, compiled, step, str(error), transient=True, retry_after=error.retry_after)
        except (PermanentAdapterError, AdapterError) as error:
            return self._failed(enr, compiled, step, str(error), transient=False)
        detail = {"action": kind, **args}
        if result.data.get("id") is not None:
            detail["created"] = result.data["id"]
        self._record(name, enr.object, enr.record, h.ACTION, step.id, detail, enr.id)
        if kind == "send_email" and not enr.emailed:
            enr = _evolve(enr, emailed=True)
            self.store.add_stat(name, "emailed", 1)
        self.store.put_enrollment(enr)
        if result.events:
            self._queue.append([e if e.cause else attrs.evolve(e, cause=enr.id) for e in result.events])
        return _Goto(enr, step.next)

    def _failed(
        self,
        enr: Enrollment,
        compiled: _Compiled,
        step: Step,
        error: str,
        *,
        transient: bool,
        retry_after: float | None = None,
    ) -> object:
        plan = compiled.plan
        attempt = enr.attempt + 1
        detail: dict[str, Any] = {"action": step.kind, "error": error, "attempt": attempt}
        if transient and attempt < timing.MAX_ATTEMPTS:
            wait = timing.backoff(attempt, enr.id + step.id)
            if retry_after is not None:  # the remote side said when: no need to guess
                wait = dt.timedelta(seconds=max(1, math.ceil(retry_after)))
            until = self._now + wait
            detail["retry_at"] = until.isoformat()
            self._record(plan.name, enr.object, enr.record, h.FAILED, step.id, detail, enr.id)
            enr = _evolve(enr, attempt=attempt, step=step.id, phase="at")
            self.store.put_enrollment(enr)
            self._set_timer(enr.id, until, "resume", enr.workflow, enr.id)
            return _WAIT
        detail["on_failure"] = plan.settings.on_failure
        self._record(plan.name, enr.object, enr.record, h.FAILED, step.id, detail, enr.id)
        if plan.settings.on_failure == "stop":
            self._end(enr, "unenrolled", h.UNENROLLED, {"reason": h.ACTION_FAILED}, step.id)
            return _ENDED
        return _Goto(enr, step.next)

    # ------------------------------------------------------------ history

    def _record(
        self,
        workflow: str,
        object_type: str,
        record_id: str,
        kind: str,
        step: str | None,
        detail: Mapping[str, Any],
        enrollment: str | None = None,
    ) -> None:
        self.store.append_history(
            HistoryEntry(
                seq=self.store.next_seq("history"),
                at=self._now,
                workflow=workflow,
                object=object_type,
                id=record_id,
                kind=kind,
                step=step,
                detail=dict(detail),
                enrollment=enrollment,
            )
        )


@attrs.frozen
class _EventClock:
    """The `now`/`tz` that event criteria read for relative dates."""

    now: dt.datetime
    tz: dt.tzinfo = dt.timezone.utc


@attrs.frozen
class _Goto:
    enr: Enrollment
    target: str | None


_WAIT = object()
_ENDED = object()

#: Event types whose index key is finer than the type (the property, list or workflow).
_INDEXED_BY_DETAIL = frozenset({"property.changed"})


def _record_key(record: tuple[str, str] | str) -> tuple[str, str]:
    if isinstance(record, str):
        object_type, sep, record_id = record.partition(":")
        if not sep:
            raise EngineError(f"a record is `type:id`, found {record!r}")
        return object_type, record_id
    return record[0], record[1]
