"""Facts: what compiled criteria read about one record, served from the CRM adapter and the store.

`RecordFacts` implements the `Facts` protocol of `runtime.criteria` for the
record being evaluated. Other object types resolve through the record's
primary association (the first associated record of that type). Overrides
let the engine evaluate criteria as they stood *before* a change (a filter
trigger fires when a record comes to meet its criteria).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from types import MappingProxyType
from typing import Any

from wfdsl.runtime.protocols import CRMAdapter, Record, StateStore

#: Fact kinds kept in the store.
ENROLLED_FACT = "enrolled"
GOAL_FACT = "goal"
#: Enrollments counted as converted: `reached goal of workflow` reads these.
CONVERTED_FACT = "converted"
#: The read-only property every record of every object type has: its id.
RECORD_ID_PROPERTY = "hs_object_id"


_FACTS_OF = {"workflow.enrolled": (ENROLLED_FACT,), "workflow.goal_met": (GOAL_FACT, CONVERTED_FACT)}


class RecordFacts:
    """The facts about one record at one moment."""

    #: True for the facts of the record as it was before a change (`before`).
    is_before = False
    # What `before` overrides; the facts of a record as it is (the common case: built
    # for every enrollment and branch) read these shared empty ones, never written to.
    _overrides: Mapping[tuple[str, str], Any] = MappingProxyType({})
    _lists: Mapping[str, bool] = MappingProxyType({})
    _hidden: Sequence[tuple[str, dt.datetime, Mapping[str, Any]]] = ()
    _unfacts: AbstractSet[tuple[str, str]] = frozenset()
    # Associated records read so far, by object type (made on the first).
    _related: dict[str, Record | None] | None = None

    def __init__(
        self,
        crm: CRMAdapter,
        store: StateStore,
        record: Record,
        *,
        now: dt.datetime,
        tz: dt.tzinfo,
        received: bool | None = None,
    ) -> None:
        self.crm = crm
        self.store = store
        self.record = record
        self.now = now
        self.tz = tz
        self.received = received

    def before(
        self,
        overrides: Mapping[tuple[str, str], Any],
        list_overrides: Mapping[str, bool],
        hidden_events: Sequence[tuple[str, dt.datetime, Mapping[str, Any]]] = (),
    ) -> RecordFacts:
        """The same record as it was before a change: some values as they were, some
        list memberships flipped back, some events not yet happened."""
        facts = RecordFacts(self.crm, self.store, self.record, now=self.now, tz=self.tz, received=self.received)
        facts.is_before = True
        facts._overrides = dict(overrides)
        facts._lists = dict(list_overrides)
        facts._hidden = hidden = list(hidden_events)
        # The facts these events wrote did not exist before them.
        facts._unfacts = {
            (fact, str(data.get("workflow"))) for kind, _, data in hidden for fact in _FACTS_OF.get(kind, ())
        }
        return facts

    def _target(self, object_type: str) -> Record | None:
        if object_type == self.record.object:
            return self.record
        related = self._related
        if related is None:
            related = self._related = {}
        if object_type not in related:
            ids = self.record.associations.get(object_type, ())
            related[object_type] = self.crm.get(object_type, ids[0]) if ids else None
        return related[object_type]

    def value(self, object_type: str, prop: str) -> object | None:
        if self.is_before:
            key = (object_type, prop)
            if key in self._overrides:
                before: object | None = self._overrides[key]
                return before
        target = self.record if object_type == self.record.object else self._target(object_type)
        if target is None:
            return None
        found: object | None = target.properties.get(prop)
        if found is None and prop == RECORD_ID_PROPERTY:
            return target.id
        return found

    def history(self, object_type: str, prop: str) -> Sequence[object]:
        target = self._target(object_type)
        if target is None:
            return []
        return [value for _, value in self.crm.property_history(target.object, target.id, prop)]

    def last_updated(self, object_type: str, prop: str) -> dt.datetime | None:
        """When the property last changed, from its history (None when never set). A value
        as it was before a change (`before`) was set no later than that change."""
        target = self._target(object_type)
        if target is None:
            return None
        found = self.crm.property_history(target.object, target.id, prop)
        if (object_type, prop) in self._overrides:
            # Seen as before the change: the change being judged did not happen yet.
            found = found[:-1]
        return found[-1][0] if found else None

    def in_list(self, name: str) -> bool:
        if name in self._lists:
            return self._lists[name]
        return name in self.record.lists

    def events(self, event_type: str) -> Sequence[tuple[dt.datetime, Mapping[str, object]]]:
        found = list(self.crm.event_history(self.record.object, self.record.id, event_type))
        for kind, at, data in self._hidden:
            if kind == event_type and (at, data) in found:
                found.remove((at, data))
        return found

    def enrolled_in(self, workflow: str) -> bool:
        if (ENROLLED_FACT, workflow) in self._unfacts:
            return False
        return self.store.has_fact(ENROLLED_FACT, workflow, self.record.object, self.record.id)

    def reached_goal(self, workflow: str) -> bool:
        """Counted as converted in the workflow: sent a marketing email by it and met its
        goal (HubSpot's "reached the goal" enrolls exactly the contacts in the conversion rate)."""
        if (CONVERTED_FACT, workflow) in self._unfacts:
            return False
        return self.store.has_fact(CONVERTED_FACT, workflow, self.record.object, self.record.id)
