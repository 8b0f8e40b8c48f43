"""Event index: workflow plans in; compiled workflows and the index that finds the few an event concerns out.

Each plan's index keys (event type, dotted property, list name, workflow name)
map to the workflows whose triggers, goals, unenrollment or suppression
criteria or `wait for` steps mention them. Event triggers that ask for one
text value (`form.submitted(form = "X")`) are found by that value instead, so
a thousand workflows on one event type cost one look-up.

>>> index = Index({})
>>> index.event_keys(Event(type="list.added", object="contact", id="c1",
...                        at=dt.datetime(2026, 1, 1), data={"list": "VIP"}))
('event:list.added', 'list:VIP')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from wfdsl.plan import criteria as pc
from wfdsl.plan.model import EventSpec, WorkflowPlan
from wfdsl.plan.steps import WaitFor
from wfdsl.runtime.context import Compiled, Context
from wfdsl.runtime.criteria import event_attribute
from wfdsl.runtime.facts import RECORD_ID_PROPERTY
from wfdsl.runtime.protocols import Event

_NOTHING: frozenset[str] = frozenset()
#: How many distinct look-ups an index keeps (see `Index.lookup`); past that it starts again.
_LOOKUPS_KEPT = 4096

#: Event types whose index key is finer than the type (the property, list or workflow).
_INDEXED_BY_DETAIL = frozenset({"property.changed"})


def compile_plan(ctx: Context, plan: WorkflowPlan) -> Compiled:
    """A plan with its criteria compiled (through `ctx`, which caches and observes them)."""
    trig = plan.trigger
    events = []
    for spec in trig.events:
        events.append((spec, ctx.event_fn(spec.criteria)))
    ix = plan.index
    parts = [ix.goal, ix.unenroll, ix.suppress]
    if plan.settings.unenroll_unmet and trig.kind == "filter":
        parts.append(ix.trigger)
    wait_events: set[str] = set()
    wait_props: set[str] = set()
    for step in plan.steps.values():
        if isinstance(step, WaitFor):
            wait_events.add(step.event.type)
            if step.event.property:
                wait_props.add(f"{step.event.object}.{step.event.property}")
    return Compiled(
        plan=plan,
        trigger=ctx.fn(trig.criteria) if trig.criteria is not None else None,
        refinement=ctx.fn(trig.refinement) if trig.refinement is not None else None,
        goal=ctx.fn(plan.goal) if plan.goal is not None else None,
        unenroll=ctx.fn(plan.unenroll) if plan.unenroll is not None else None,
        events=events,
        watch_events=frozenset(e for p in parts for e in p.events) | wait_events,
        watch_props=frozenset(x for p in parts for x in p.properties) | wait_props,
        watch_lists=frozenset(x for p in parts for x in p.lists),
        watch_workflows=frozenset(x for p in parts for x in p.workflows),
        pins=pins(trig.events) if trig.kind == "event" else None,
        # Judged on a made-up record, unobserved: no decision about a real one.
        when_new=trig.kind == "filter"
        and meets_when_new(ctx.fn(trig.criteria, observed=False) if trig.criteria else None),
    )


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


def meets_when_new(trigger: Callable[[Any], bool] | None) -> bool:
    """Whether filter criteria can hold for a new record whatever properties it was
    created with (negative criteria: `not in list`, `is unknown`, `has not`): such a
    trigger is checked on every `record.created` of its object type."""
    if trigger is None:
        return False
    try:
        return bool(trigger(_NewRecordFacts()))
    except Exception:  # noqa: BLE001 - when in doubt, check it on every new record
        return True


def pins(specs: Iterable[EventSpec]) -> frozenset[tuple[str, str, str]] | None:
    """(event type, attribute or `object.property`, case-folded text) per trigger event,
    when every event of the trigger asks for one text value (`form.submitted(form = "X")`,
    `contact.city changed to "Dublin"`); None otherwise. With many workflows on one event
    type, `may_fire` then turns the others away without judging their criteria."""
    found: set[tuple[str, str, str]] = set()
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
                found.add((spec.type, f"{spec.object}.{spec.property}", spec.to_value.casefold()))
                continue
            return None
        if (
            spec.property is None
            and spec.from_value is None
            and spec.to_value is None
            and isinstance(crit, pc.Compare)
            and crit.op == "eq"
            and crit.attribute is not None
            and isinstance(crit.value, str)
            and crit.value
        ):
            found.add((spec.type, crit.attribute, crit.value.casefold()))
            continue
        return None
    return frozenset(found) if found else None


_UNSURE = object()


def _value_text(value: object) -> object:
    """A property value's case-folded text: None when empty, `_UNSURE` for a truth value."""
    return None if value is None else _UNSURE if isinstance(value, bool) else str(value).casefold()


def _event_text(event: Event, attr: str, seen: dict[str, object]) -> object:
    """The case-folded text `event` carries for a pin's attribute (`object.property` for
    a property change): None when it has none, `_UNSURE` when it is not text."""
    text = seen.get(attr)
    if text is None and attr not in seen:
        if event.type == "property.changed":
            if f"{event.object}.{event.data.get('property')}" != attr:
                text = None
            else:
                text = _value_text(event.data.get("value"))
        else:
            value = event_attribute(event.data, attr)
            text = _UNSURE if not isinstance(value, str) else value.casefold() if value else None
        seen[attr] = text
    return text


def may_fire(found: frozenset[tuple[str, str, str]], event: Event, seen: dict[str, object]) -> bool:
    """False only when no trigger event can match `event` (`Context.matches` would say no
    to all): the text it asks for is not the event's. Values that are not text go the long
    way. `seen` keeps the event's case-folded values by attribute, for the next workflow."""
    for etype, attr, folded in found:
        if etype != event.type:
            continue
        text = _event_text(event, attr, seen)
        if text is _UNSURE or (text is not None and text == folded):
            return True
    return False


def keys_of(events: Iterable[str], props: Iterable[str], lists: Iterable[str], workflows: Iterable[str]) -> list[str]:
    """Index keys of what a part of a plan mentions."""
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


class Index:
    """Index keys -> workflow names, built once per set of plans."""

    def __init__(self, plans: Mapping[str, Compiled]) -> None:
        self.order = {name: i for i, name in enumerate(plans)}
        self._lookups: dict[tuple[int, tuple[str, ...]], tuple[str, ...]] = {}
        # index: key -> workflow names, for triggers and for watchers of enrollments
        self.trigger_index: dict[str, set[str]] = {}
        self.watch_index: dict[str, set[str]] = {}
        # What dispatch looks triggers up in: the trigger index without the pinned
        # event triggers, which are found by the text they ask for instead:
        # (event type, attribute) -> case-folded text -> workflow names.
        self.dispatch_index: dict[str, set[str]] = {}
        self.pin_index: dict[tuple[str, str], dict[str, set[str]]] = {}
        self.pin_attrs: dict[str, set[str]] = {}
        # Filter triggers by object type: a new record is checked against each of them.
        self.filters_of: dict[str, set[str]] = {}
        for name, compiled in plans.items():
            plan = compiled.plan
            if compiled.when_new:
                # Others cannot hold until a property, list or event they name changes,
                # and those changes find them through the index.
                self.filters_of.setdefault(plan.object, set()).add(name)
            t = plan.index.trigger
            for key in keys_of(t.events, t.properties, t.lists, t.workflows):
                self.trigger_index.setdefault(key, set()).add(name)
                if compiled.pins is None:
                    self.dispatch_index.setdefault(key, set()).add(name)
            for etype, attr, folded in compiled.pins or ():
                self.pin_attrs.setdefault(etype, set()).add(attr)
                self.pin_index.setdefault((etype, attr), {}).setdefault(folded, set()).add(name)
            for key in keys_of(
                compiled.watch_events, compiled.watch_props, compiled.watch_lists, compiled.watch_workflows
            ):
                self.watch_index.setdefault(key, set()).add(name)
        # The event types some workflow may look at (see `hears`).
        heard = {"workflow.enroll", *self.pin_attrs}
        if self.filters_of:
            heard.add("record.created")
        self._workflow_events = False
        for key in (*self.trigger_index, *self.watch_index):
            kind, _, rest = key.partition(":")
            if kind == "event":
                heard.add(rest)
            elif kind == "prop":
                heard.add("property.changed")
            elif kind == "list":
                heard |= {"list.added", "list.removed"}
            else:  # workflow:<name>, the key of every `workflow.…` event
                self._workflow_events = True
        self._heard = frozenset(heard)
        # Event types, and changed properties, that only pinned event triggers look at:
        # an event whose text none of them asks for concerns no workflow (`concerns`).
        looked_at = {*self.watch_index, *self.dispatch_index}
        self._pinned_only = {
            etype: tuple(names)
            for etype, names in self.pin_attrs.items()
            if etype != "property.changed"
            and f"event:{etype}" not in looked_at
            and not etype.startswith(("workflow.", "list.", "record."))
        }
        self._pinned_props = frozenset(
            prop
            for prop in self.pin_attrs.get("property.changed", ())
            if "event:property.changed" not in looked_at and f"prop:{prop}" not in looked_at
        )

    def hears(self, event_type: str) -> bool:
        """Whether any workflow may look at an event of this type: one that none does
        (an `email.sent` that no trigger, goal or `wait for` names) need not be
        dispatched at all. Errs on the side of yes, never of no."""
        return event_type in self._heard or (self._workflow_events and event_type.startswith("workflow."))

    def concerns(self, event: Event) -> bool:
        """Whether any workflow may look at `event`: one that `hears` its type, and where
        only pinned event triggers look at that type (or changed property), one that asks
        for the text the event carries. A thousand workflows on one event type, each
        waiting for its own form, are not dispatched the events none of them asks for.
        Errs on the side of yes, never of no."""
        etype = event.type
        if not self.hears(etype):
            return False
        if etype == "property.changed":
            if not self._pinned_props:
                return True
            prop = f"{event.object}.{event.data.get('property')}"
            return prop not in self._pinned_props or self._asks(etype, prop, _value_text(event.data.get("value")))
        names = self._pinned_only.get(etype)
        if names is None:
            return True
        for attr in names:
            value = event_attribute(event.data, attr)
            text = _UNSURE if not isinstance(value, str) else value.casefold() if value else None
            if self._asks(etype, attr, text):
                return True
        return False

    def _asks(self, etype: str, attr: str, text: object) -> bool:
        """Whether a pinned trigger on `etype`'s `attr` may match this case-folded text."""
        return text is _UNSURE or (text is not None and text in self.pin_index[(etype, attr)])

    @staticmethod
    def event_keys(event: Event) -> tuple[str, ...]:
        """The index keys an event is looked up by."""
        etype = event.type
        if etype == "property.changed":
            return (f"event:{etype}", f"prop:{event.object}.{event.data.get('property')}")
        if etype in ("list.added", "list.removed"):
            return (f"event:{etype}", f"list:{event.data.get('list')}")
        if etype.startswith("workflow."):
            return (f"event:{etype}", f"workflow:{event.data.get('workflow')}")
        return (f"event:{etype}",)

    def lookup(self, index: Mapping[str, set[str]], keys: tuple[str, ...]) -> tuple[str, ...]:
        """The workflows `index` holds under any of `keys`, in plan order (which keeps runs
        deterministic). Kept for the next event with the same keys: most events are of a
        few dozen kinds, and a thousand workflows make the union and the sort dear."""
        known = self._lookups.get((id(index), keys))
        if known is not None:
            return known
        found: set[str] = set()
        for key in keys:
            found |= index.get(key, _NOTHING)
        names = tuple(sorted(found, key=self.order.__getitem__))
        if len(self._lookups) >= _LOOKUPS_KEPT:
            self._lookups.clear()
        self._lookups[(id(index), keys)] = names
        return names

    def triggers_for(
        self, event: Event, keys: tuple[str, ...], seen: dict[str, object], every: bool = False
    ) -> Sequence[str]:
        """`lookup(trigger_index, keys)` less the pinned event triggers that cannot match
        `event` (`may_fire`), without looking at them one by one (all of them with `every`)."""
        if every:
            return self.lookup(self.trigger_index, keys)
        names = self.lookup(self.dispatch_index, keys)
        etype = event.type
        attrs_ = self.pin_attrs.get(etype)
        if not attrs_:
            return names
        texts: Iterable[tuple[str, object]]
        if etype == "property.changed":
            attr = keys[1][5:]  # `prop:<object>.<property>`: the one attribute it has
            if attr not in attrs_:
                return names
            text = seen[attr] = _value_text(event.data.get("value"))
            texts = ((attr, text),)
        else:
            texts = [(attr, _event_text(event, attr, seen)) for attr in attrs_]
        found: set[str] | None = None
        for attr, text in texts:
            by_text = self.pin_index[(etype, attr)]
            if text is _UNSURE:
                for every_text in by_text.values():
                    found = set(every_text) if found is None else found | every_text
            elif isinstance(text, str):
                asked = by_text.get(text)
                if asked:
                    found = set(asked) if found is None else found | asked
        if not found:
            return names  # no pinned trigger asks for this text: the common case
        return tuple(sorted(found.union(names), key=self.order.__getitem__))

    def workflows_for(self, event: Event) -> tuple[str, ...]:
        """Every workflow that looks at `event` (watchers and triggers), in plan order."""
        keys = self.event_keys(event)
        found = set(self.lookup(self.watch_index, keys))
        found |= set(self.lookup(self.trigger_index, keys))
        return tuple(sorted(found, key=self.order.__getitem__))
