"""Engine context: the effects, the clock time, the compiled workflows and the queue that every phase shares.

The engine's phases (`dispatch`, `enroll`, `lifecycle`, `steps`, `actions`,
`timers`) are separate objects that hold one `Context` and nothing else of
each other's state. It carries what they all use: the CRM adapter, the store,
the clock and the engine's time, the compiled workflows, the queue of chained
events, the observer, and the small operations every phase needs (write a
history entry, build a record's facts, emit an event, set a timer).

>>> import datetime as dt
>>> from wfdsl.runtime.protocols import VirtualClock
>>> ctx = Context(None, None, VirtualClock(dt.datetime(2026, 1, 1)))  # type: ignore[arg-type]
>>> ctx.now.isoformat()
'2026-01-01T00:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from wfdsl.plan.criteria import Criterion
from wfdsl.plan.model import EventSpec, WorkflowPlan, decode_value
from wfdsl.runtime import history as h
from wfdsl.runtime import timing
from wfdsl.runtime.criteria import compile_criteria, compile_event_criteria
from wfdsl.runtime.facts import RecordFacts
from wfdsl.runtime.history import Shape, shape_detail, shape_of
from wfdsl.runtime.observe import Observer, Scope
from wfdsl.runtime.protocols import (
    Clock,
    CRMAdapter,
    Enrollment,
    Event,
    HistoryColumns,
    HistoryEntry,
    IdentifiedStore,
    Record,
    ShapedHistory,
    StateStore,
    Timer,
    utc,
)

#: Re-entries of one workflow by one record through workflow actions allowed per hour.
LOOP_LIMIT = 10

Predicate = Callable[[Any], bool]
T = TypeVar("T")

_ENROLLMENT_FIELDS = frozenset(field.name for field in attrs.fields(Enrollment))


def _copier() -> Callable[[Enrollment], Enrollment]:
    """A function copying an enrollment field by field, written out for `Enrollment`'s
    fields (the class has no validators or converters): the copy `evolve` makes,
    without building the keywords for `Enrollment(**fields)` and taking them apart
    again."""
    names = [field.name for field in attrs.fields(Enrollment)]
    lines = ["def copy(enr):", "    new = make(Enrollment)"]
    lines += [f"    new.{name} = enr.{name}" for name in names]
    lines.append("    return new")
    namespace: dict[str, Any] = {"make": object.__new__, "Enrollment": Enrollment}
    exec("\n".join(lines), namespace)  # the text is made above from the class's own field names
    copy: Callable[[Enrollment], Enrollment] = namespace["copy"]
    return copy


_copy = _copier()


#: The fields `new_enrollment` is given, in its order; the others take their defaults.
_NEW_FIELDS = ("id", "workflow", "object", "record", "enrolled_at", "seq", "version", "step", "anchor", "caused_by")


def _maker() -> Callable[..., Enrollment]:
    lines = [f"def new_enrollment({', '.join(_NEW_FIELDS)}):", "    new = make(Enrollment)"]
    namespace: dict[str, Any] = {"make": object.__new__, "Enrollment": Enrollment}
    for field in attrs.fields(Enrollment):
        if field.name in _NEW_FIELDS:
            lines.append(f"    new.{field.name} = {field.name}")
        elif field.name == "status":
            lines.append('    new.status = "active"')
        else:
            assert field.default is not attrs.NOTHING and not isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
            namespace[f"default_{field.name}"] = field.default
            lines.append(f"    new.{field.name} = default_{field.name}")
    lines.append("    return new")
    exec("\n".join(lines), namespace)  # the text is made above from the class's own field names
    make: Callable[..., Enrollment] = namespace["new_enrollment"]
    return make


#: `new_enrollment(id, workflow, object, record, enrolled_at, seq, version, step, anchor,
#: caused_by)`: an active enrollment in phase `at`, its other fields at their defaults,
#: as `Enrollment(...)` with these keywords makes it (given by position: one is made for
#: every record enrolled, and matching a dozen keywords costs twice the making).
new_enrollment = _maker()


def _change(enr: Enrollment, changes: Mapping[str, Any]) -> None:
    for name, value in changes.items():
        if name not in _ENROLLMENT_FIELDS:
            raise TypeError(f"Enrollment has no field {name!r}")
        setattr(enr, name, value)


def evolve(enr: Enrollment, **changes: Any) -> Enrollment:
    """`attrs.evolve` for enrollments: a new instance with every field of `enr` but
    those in `changes`, which must be field names."""
    new = _copy(enr)
    _change(new, changes)
    return new


@attrs.define
class Compiled:
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
    #: What an event must carry for this event trigger to fire (see `index.pins`), or None.
    pins: frozenset[tuple[str, str, str]] | None = None
    #: A filter trigger that a record may meet as soon as it is created (see `index.meets_when_new`).
    when_new: bool = False
    #: Nothing for the checks before an action to judge (no goal, unenrollment or
    #: suppression, no `unenroll if criteria unmet`): the record is not read for them.
    unchecked: bool = attrs.field(init=False)
    #: The shapes of the entries recorded the same way for every enrollment
    #: (`history.shape_of`): `enrolled` by a trigger and by hand, `completed`.
    enrolled_shape: Shape = attrs.field(init=False)
    enrolled_by_hand_shape: Shape = attrs.field(init=False)
    completed_shape: Shape = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        plan = self.plan
        self.unchecked = (
            self.goal is None
            and self.unenroll is None
            and not plan.suppress_lists
            and not (plan.settings.unenroll_unmet and self.trigger is not None)
        )
        name, obj = plan.name, plan.object
        self.enrolled_shape = shape_of(name, obj, h.ENROLLED, None, {})
        self.enrolled_by_hand_shape = shape_of(name, obj, h.ENROLLED, None, {"trigger": "manual"})
        self.completed_shape = shape_of(name, obj, h.COMPLETED, None, {})


class Goto:
    """What a step handler returns to go on: the enrollment as it now stands, and the next step."""

    __slots__ = ("enr", "target")

    def __init__(self, enr: Enrollment, target: str | None) -> None:
        self.enr = enr
        self.target = target


#: What a step handler returns when the enrollment waits (a timer is set) ...
WAIT = object()
#: ... or when it ended.
ENDED = object()

_PLAIN = frozenset({str, int, float, bool})


def plan_value(value: Any) -> Any:
    """A plan literal as a CRM property value (dates as ISO text)."""
    if value is None or type(value) in _PLAIN:
        return value  # what decode_value returns unchanged (the common case, on every event)
    decoded = decode_value(value)
    if isinstance(decoded, (dt.date, dt.time)):
        return decoded.isoformat()
    if isinstance(decoded, list):
        return [plan_value(v) for v in value]
    return decoded


def is_plain(value: object) -> bool:
    """Whether a value is text, a number or a truth value (shown as it is in history)."""
    return type(value) in _PLAIN


def _same(actual: Any, expected: Any) -> bool:
    """Loose equality for `changed to` / `from`: numbers numerically, text case-insensitively."""
    expected = plan_value(expected)
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


@attrs.frozen
class _EventClock:
    """The `now`/`tz` that event criteria read for relative dates."""

    now: dt.datetime
    tz: dt.tzinfo = dt.timezone.utc


class Context:
    """What the engine's phases share (one per engine)."""

    def __init__(
        self,
        crm: CRMAdapter,
        store: StateStore,
        clock: Clock,
        *,
        loop_limit: int = LOOP_LIMIT,
        allow_placeholders: bool = False,
        observer: Observer | None = None,
    ) -> None:
        self.crm = crm
        self.store = store
        self.store_id = store.store_id() if isinstance(store, IdentifiedStore) else ""
        # Entries an observer is shown are built as `HistoryEntry`s; otherwise a store
        # that can take them as fields is given those.
        self._add_history: Callable[..., None] | None = (
            store.add_history if observer is None and isinstance(store, HistoryColumns) else None
        )
        self._add_shape: Callable[[dt.datetime, Shape, str, str | None], None] | None = (
            store.add_shape if observer is None and isinstance(store, ShapedHistory) else None
        )
        self.clock = clock
        self.loop_limit = loop_limit
        # A workflow with placeholder actions cannot be turned on (`placeholder-action`
        # is an error when activating); a simulation may preview it, recording each
        # placeholder as `skipped`.
        self.allow_placeholders = allow_placeholders
        #: None observes nothing: each phase then skips every hook with one test.
        self.observer = observer
        #: Pinned event triggers (`form.submitted(form = "X")`) are normally skipped for
        #: events that cannot match them, unseen; an observer that explains every refusal
        #: asks to see each one (the decisions are the same).
        self.every_trigger = observer is not None and observer.every_trigger
        self.now = utc(clock.now())
        #: The compiled workflows by name, in plan order (replaced by a deploy).
        self.plans: dict[str, Compiled] = {}
        self.order: dict[str, int] = {}
        # Batches of events: the events one change stands for are judged together.
        self.queue: deque[list[Event]] = deque()
        #: Whether some workflow looks at events of a type (the dispatcher's index; set
        #: by the engine with each set of plans).
        self.hears: Callable[[str], bool] = lambda event_type: True
        # (workflow, object, id) an event trigger fired for in the batch being dispatched
        self.triggered: set[tuple[str, str, str]] = set()
        self._criteria_cache: dict[int, tuple[Any, Predicate]] = {}
        self._event_cache: dict[str, Callable[..., bool]] = {}
        # One clock per engine time for event criteria (they are judged once per workflow).
        self._event_clock: _EventClock | None = None
        # The enrollment `Steps.run` is running (its id), and the copy of it that the run
        # made and nobody else holds yet: see `change`.
        self.running: str | None = None
        self._own: Enrollment | None = None
        # A new enrollment its first run has not handed to the store yet: it has no timer
        # and is not counted `active` until it is handed over (see `put`), so a run that
        # ends it at once counts it neither up nor down.
        self._fresh: Enrollment | None = None

    # ------------------------------------------------------------ criteria

    def fn(self, criteria: Criterion, *, observed: bool = True) -> Predicate:
        """Compiled criteria, once per criteria object; observed, each call is reported."""
        cached = self._criteria_cache.get(id(criteria))
        if cached is None or cached[0] is not criteria:
            cached = (criteria, compile_criteria(criteria))
            self._criteria_cache[id(criteria)] = cached
        observer = self.observer
        if observer is None or not observed:
            return cached[1]
        inner = cached[1]

        def reported(facts: Any) -> bool:
            result = bool(inner(facts))
            observer.criteria_evaluated(criteria, facts, result)
            return result

        return reported

    def event_fn(self, criteria: Criterion | None) -> Callable[..., bool] | None:
        """Compiled event criteria, once per distinct criteria (a `wait for` read back
        from a durable store is a fresh object each time)."""
        if criteria is None:
            return None
        key = repr(criteria)
        fn = self._event_cache.get(key)
        if fn is None:
            fn = compile_event_criteria(criteria)
            self._event_cache[key] = fn
        return fn

    def matches(self, spec: EventSpec, fn: Callable[..., bool] | None, event: Event) -> bool:
        """Whether `event` is one `spec` describes (a trigger event, or a `wait for` pattern)."""
        result = self._matches(spec, fn, event)
        if self.observer is not None:
            self.observer.event_matched(spec, event, result)
        return result

    def _matches(self, spec: EventSpec, fn: Callable[..., bool] | None, event: Event) -> bool:
        etype, obj, prop = spec.type, spec.object, spec.property
        from_v, to_v = spec.from_value, spec.to_value
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
        if clock is None or clock.now is not self.now:
            clock = self._event_clock = _EventClock(self.now)
        return fn(event.data, clock)

    # ------------------------------------------------------------ the enrollment being run

    def run_starts(
        self, enr: Enrollment, *, new: bool = False
    ) -> tuple[str | None, Enrollment | None, Enrollment | None]:
        """`Steps.run` begins running `enr`; returns what `run_ends` restores. Watched by
        an observer (which may keep the enrollments it is shown), nothing is owned. A
        `new` enrollment (not yet handed to the store) is owned from the start."""
        before = (self.running, self._own, self._fresh)
        unobserved = self.observer is None
        self.running = enr.id if unobserved else None
        self._own = self._fresh = enr if new and unobserved else None
        return before

    def run_ends(self, before: tuple[str | None, Enrollment | None, Enrollment | None]) -> None:
        self.running, self._own, self._fresh = before

    def change(self, enr: Enrollment, **changes: Any) -> Enrollment:
        """`enr` with `changes`, as `evolve` makes it. The enrollment being run is copied
        once, and that copy is changed in place until it is handed to the store (`put`):
        a step of a timer firing then makes no copy of its own. Any other enrollment,
        or one the store holds, is copied: nothing given out is ever changed."""
        if enr is self._own:
            _change(enr, changes)
            return enr
        copy = evolve(enr, **changes)
        if enr.id == self.running:
            self._own = copy
        return copy

    def owns(self, enr: Enrollment) -> bool:
        """Whether `enr` is the run's own copy (see `change`): the enrollment as it now
        stands, whatever the store was given before (a new one: nothing yet)."""
        return enr is self._own

    def fresh(self, enr: Enrollment) -> bool:
        """Whether `enr` is a new enrollment that its first run has not handed to the
        store yet: no timer of its own, not counted `active` yet."""
        return enr is self._fresh

    def put(self, enr: Enrollment) -> None:
        """Hand an enrollment to the store (from then on `change` copies it again). A
        fresh enrollment (see `fresh`) still active is counted `active` here."""
        if enr is self._own:
            self._own = None
            if enr is self._fresh:
                self._fresh = None
                if enr.status == "active":
                    self.store.add_stat(enr.workflow, "active", 1)
        self.store.put_enrollment(enr)

    # ------------------------------------------------------------ what every phase does

    def within(self, scope: Scope, work: Callable[..., T], *args: Any, **kw: Any) -> T:
        """`work(*args, **kw)` inside an observed scope (only called with an observer)."""
        observer = self.observer
        assert observer is not None
        observer.enter(scope)
        try:
            return work(*args, **kw)
        finally:
            observer.leave(scope)

    def suppressed(self, plan: WorkflowPlan, facts: RecordFacts) -> bool:
        """Whether the record is in one of the workflow's suppression lists."""
        observer = self.observer
        for name in plan.suppress_lists:
            member = facts.in_list(name)
            if observer is not None:
                observer.suppression_checked(plan, (facts.record.object, facts.record.id), name, member)
            if member:
                return True
        return False

    def facts(self, record: Record, plan: WorkflowPlan, *, received: bool | None = None) -> RecordFacts:
        """The facts criteria read about `record`, at the engine's time in the workflow's zone."""
        return RecordFacts(
            self.crm, self.store, record, now=self.now, tz=timing.zone(plan.settings.timezone), received=received
        )

    def is_active(self, workflow: str) -> bool:
        return bool(self.store.workflow_state(workflow).get("active"))

    def emit(self, event: Event) -> None:
        """An event the engine itself produces: kept in the CRM's event history, then dispatched."""
        self.chain(self.crm.observe(event))

    def chain(self, batch: Sequence[Event]) -> None:
        """Queue a batch of events for dispatch. Unobserved, a batch that no workflow
        looks at is dropped here, as the dispatcher would drop it (the `email.sent` of
        every email sent, most often): nothing is queued, nothing drained."""
        if not batch:
            return
        if self.observer is None:
            hears = self.hears
            if not any(hears(event.type) for event in batch):
                return
        self.queue.append(list(batch))

    def set_timer(self, key: str, due: dt.datetime, kind: str, workflow: str, enrollment: str | None = None) -> None:
        self.store.set_timer(
            Timer(
                key=key, due=due, seq=self.store.next_seq("timer"), kind=kind, workflow=workflow, enrollment=enrollment
            )
        )

    def record_shape(self, shape: Shape, object_type: str, record_id: str, enrollment: str | None = None) -> None:
        """`record` of an entry given as its shape (`history.shape_of`), made once for a
        decision recorded the same way for every enrollment. A record of another object
        type than the shape's is recorded with its own."""
        add = self._add_shape
        if add is not None and object_type == shape[1]:
            add(self.now, shape, record_id, enrollment)
            return
        self.record(shape[0], object_type, record_id, shape[2], shape[3], shape_detail(shape), enrollment)

    def record(
        self,
        workflow: str,
        object_type: str,
        record_id: str,
        kind: str,
        step: str | None,
        detail: Mapping[str, Any],
        enrollment: str | None = None,
    ) -> None:
        """Append a history entry (each decision about a record is one)."""
        add = self._add_history
        if add is not None:
            add(self.now, workflow, object_type, record_id, kind, step, detail, enrollment)
            return
        entry = HistoryEntry(
            seq=self.store.next_seq("history"),
            at=self.now,
            workflow=workflow,
            object=object_type,
            id=record_id,
            kind=kind,
            step=step,
            detail=dict(detail),
            enrollment=enrollment,
        )
        self.store.append_history(entry)
        if self.observer is not None:
            self.observer.recorded(entry)
