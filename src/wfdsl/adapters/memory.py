"""Memory CRM adapter: records, associations, lists and histories in dicts; actions in an outbox.

The adapter `simulate` and the tests use. It derives `property.changed`
events from updates, keeps every property's history and every record's
event history (for `has ever been` and `has …` filters), honours idempotency
keys (`performed` is its log: one entry per action actually performed), and
can be told to fail (`fail_next`) for fault-injection tests. Given
`kept_events` / `kept_properties`, it keeps only those histories (the ones
the workflows' criteria read: `wfdsl.plan.model.history_reads`), so that a long
simulation's memory does not grow with every event.

>>> import datetime as dt
>>> crm = MemoryCRM()
>>> at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
>>> crm.add_record("contact", "c1", {"email": "ann@example.com"}, at=at)
>>> crm.get("contact", "c1").properties["email"]
'ann@example.com'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import attrs

from wfdsl.adapters import incremented
from wfdsl.adapters.shared import email_sent, public_args
from wfdsl.plan.criteria import Criterion
from wfdsl.runtime.protocols import (
    Action,
    ActionResult,
    Event,
    PermanentAdapterError,
    Record,
    TransientAdapterError,
    replay_mismatch,
    same_action,
)

Key = tuple[str, str]
#: One event in a record's history: (type, at, data).
_Kept = tuple[str, dt.datetime, Mapping[str, Any]]
#: One value in a property's history: (at, value).
_Value = tuple[dt.datetime, Any]

#: How many distinct event data mappings are shared; past that, new ones are kept
#: each on its own.
_SHARED_DATA_LIMIT = 10_000
#: How many records' `get` results are kept for reading again (the engine reads the
#: record an enrollment is on several times in one unit of work).
_READ_CACHE_LIMIT = 64

_NO_LISTS: frozenset[str] = frozenset()

#: The property `assign owner` / `rotate owner` set.
OWNER_PROPERTY = "hubspot_owner_id"

#: One change made to a record: (property, value, previous).
_Change = tuple[str, Any, Any]
_NO_CHANGES: tuple[_Change, ...] = ()

#: The actions `perform_unheard` performs without building their events; the others
#: go through `perform`.
_CHANGE_KINDS = frozenset({"set", "clear", "copy", "increment", "assign_owner", "rotate_owner"})
_QUIET_KINDS = _CHANGE_KINDS | {"send_email"}


def _changed(key: Key, change: _Change, at: dt.datetime, cause: str | None) -> Event:
    prop, value, previous = change
    return Event(
        type="property.changed",
        object=key[0],
        id=key[1],
        at=at,
        data={"property": prop, "value": value, "previous": previous},
        cause=cause,
    )


@attrs.define
class _Fault:
    kind: str | None
    error: str
    times: int
    message: str


class MemoryCRM:
    """An in-memory CRM (`memory`)."""

    def __init__(
        self, *, kept_events: Collection[str] | None = None, kept_properties: Collection[tuple[str, str]] | None = None
    ) -> None:
        # None keeps every history; a collection keeps only the event types / the
        # (object type, property) pairs named.
        self._kept_events = None if kept_events is None else frozenset(kept_events)
        self._kept_properties = None if kept_properties is None else frozenset(kept_properties)
        self._records: dict[Key, dict[str, Any]] = {}
        self._by_type: dict[str, list[str]] = {}
        self._lists: dict[Key, set[str]] = {}
        self._assoc: dict[Key, dict[str, list[str]]] = {}
        # A property's history and a record's event history, oldest first: the one entry
        # itself while there is one (most of them: no list, which the cyclic collector
        # would visit again for as long as the record lives), a list once there are more.
        self._prop_history: dict[tuple[str, str, str], _Value | list[_Value]] = {}
        self._events: dict[Key, _Kept | list[_Kept]] = {}
        # Equal event data is kept once: `{"workflow": "Welcome"}` of every enrollment
        # in a workflow is one dict, not one per record.
        self._shared_data: dict[tuple[tuple[str, Any], ...], Mapping[str, Any]] = {}
        # The data mapping of the last event kept of each type, and its shared copy.
        self._last_data: dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
        self._read_cache: dict[Key, Record] = {}
        self._results: dict[str, ActionResult] = {}
        self._actions: dict[str, Action] = {}
        # Actions performed with no one to hear their events (`perform_unheard`), by key:
        # the action, and for a property action the record and the changes it made.
        self._unheard: dict[str, tuple[Action, Key | None, Sequence[_Change]]] = {}
        # A subclass that changes `perform` sees every action there.
        self._perform_overridden = type(self).perform is not MemoryCRM.perform
        self._faults: list[_Fault] = []
        self._created = 0
        self._last_at = dt.datetime.min
        self._last_iso = self._last_at.isoformat()
        #: Idempotency log: (key, action) for every action actually performed.
        self.performed: list[tuple[str, Action]] = []
        #: What left the CRM: emails, tasks, notifications, webhooks (kind, record, args).
        self.outbox: list[dict[str, Any]] = []

    # ------------------------------------------------------------ setup

    def add_record(self, object_type: str, record_id: str, properties: Mapping[str, Any], *, at: dt.datetime) -> None:
        """Create (or overwrite) a record without producing events: data that already exists."""
        key = (object_type, record_id)
        if key not in self._records:
            self._by_type.setdefault(object_type, []).append(record_id)
        self._read_cache.pop(key, None)
        self._records[key] = {}
        for prop, value in properties.items():
            if prop == "id":
                continue
            self._records[key][prop] = value
            self._note_property(object_type, record_id, prop, at, value)

    def associate(self, a: Key, b: Key) -> None:
        """Associate two records both ways; the first association of a type is the primary."""
        for left, right in ((a, b), (b, a)):
            self._read_cache.pop(left, None)
            ids = self._assoc.setdefault(left, {}).setdefault(right[0], [])
            if right[1] not in ids:
                ids.append(right[1])

    def set_lists(self, key: Key, names: set[str]) -> None:
        self._read_cache.pop(key, None)
        self._lists[key] = set(names)

    def add_to_list(self, name: str, key: Key) -> None:
        self._read_cache.pop(key, None)
        self._lists.setdefault(key, set()).add(name)

    def fail_next(
        self, kind: str | None = None, *, error: str = "transient", times: int = 1, message: str = "injected failure"
    ) -> None:
        """Make the next `times` actions (of `kind`, or any) raise a transient or
        permanent adapter error."""
        self._faults.append(_Fault(kind=kind, error=error, times=times, message=message))

    def exists(self, object_type: str, record_id: str) -> bool:
        return (object_type, record_id) in self._records

    # ------------------------------------------------------------ reads

    def get(self, object_type: str, record_id: str) -> Record | None:
        key = (object_type, record_id)
        cached = self._read_cache.get(key)
        if cached is not None:
            return cached  # a frozen snapshot; any change to the record drops it
        props = self._records.get(key)
        if props is None:
            return None
        lists = self._lists.get(key)
        assoc = self._assoc.get(key)
        record = Record(
            object=object_type,
            id=record_id,
            properties=dict(props),
            lists=frozenset(lists) if lists else _NO_LISTS,
            associations={t: tuple(ids) for t, ids in assoc.items()} if assoc else {},
        )
        if len(self._read_cache) >= _READ_CACHE_LIMIT:
            self._read_cache.clear()
        self._read_cache[key] = record
        return record

    def property_history(self, object_type: str, record_id: str, prop: str) -> Sequence[tuple[dt.datetime, Any]]:
        kept = self._prop_history.get((object_type, record_id, prop))
        if kept is None:
            return []
        return [kept] if isinstance(kept, tuple) else list(kept)

    def event_history(
        self, object_type: str, record_id: str, event_type: str
    ) -> Sequence[tuple[dt.datetime, Mapping[str, Any]]]:
        kept = self._events.get((object_type, record_id))
        if kept is None:
            return []
        if isinstance(kept, tuple):
            return [(kept[1], kept[2])] if kept[0] == event_type else []
        return [(at, data) for kind, at, data in kept if kind == event_type]

    def query(self, object_type: str, criteria: Criterion | None = None) -> Iterator[str]:
        yield from list(self._by_type.get(object_type, ()))

    # ------------------------------------------------------------ changes

    def _remember(self, event: Event) -> Event:
        self.keep_event(event.type, event.object, event.id, event.at, event.data)
        return event

    def keep_event(
        self, event_type: str, object_type: str, record_id: str, at: dt.datetime, data: Mapping[str, Any]
    ) -> None:
        """Keep an event in the record's event history (`EventKeeper`). The same data
        mapping as the last event of its type had, unchanged (every enrollment in one
        workflow), is shared without being looked up again."""
        wanted = self._kept_events
        if wanted is not None and event_type not in wanted:
            return
        last = self._last_data.get(event_type)
        if last is not None and data is last[0] and data == last[1]:
            entry = (event_type, at, last[1])
        else:
            shared = self._data(data)
            self._last_data[event_type] = (data, shared)
            entry = (event_type, at, shared)
        key = (object_type, record_id)
        events = self._events
        kept = events.get(key)
        if kept is None:
            events[key] = entry
        elif isinstance(kept, tuple):
            events[key] = [kept, entry]
        else:
            kept.append(entry)

    def _data(self, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """A copy of an event's data, shared with every equal one kept before."""
        try:
            key = tuple(data.items())
            shared = self._shared_data.get(key)
        except TypeError:  # a value that cannot be hashed (a list): kept on its own
            return dict(data)
        if shared is None:
            shared = dict(data)
            if len(self._shared_data) < _SHARED_DATA_LIMIT:
                self._shared_data[key] = shared
        return shared

    def _note_property(self, object_type: str, record_id: str, prop: str, at: dt.datetime, value: Any) -> None:
        if self._kept_properties is None or (object_type, prop) in self._kept_properties:
            key = (object_type, record_id, prop)
            kept = self._prop_history.get(key)
            if kept is None:
                self._prop_history[key] = (at, value)
            elif isinstance(kept, tuple):
                self._prop_history[key] = [kept, (at, value)]
            else:
                kept.append((at, value))

    def _set(self, key: Key, changes: Mapping[str, Any], at: dt.datetime, cause: str | None) -> list[Event]:
        return [_changed(key, change, at, cause) for change in self._apply(key, changes, at)]

    def _apply(self, key: Key, changes: Mapping[str, Any], at: dt.datetime) -> list[_Change]:
        """Make the changes to the record (created if new), keeping each property's new
        value in its history and each change's `property.changed` in the record's event
        history; returns the changes made (property, value, previous)."""
        if key not in self._records:
            self._records[key] = {}
            self._by_type.setdefault(key[0], []).append(key[1])
        props = self._records[key]
        self._read_cache.pop(key, None)
        made = []
        for prop, value in changes.items():
            if prop == "id":
                continue
            previous = props.get(prop)
            if previous == value and (prop in props or value is None):
                continue
            if value is None:
                props.pop(prop, None)
            else:
                props[prop] = value
            self._note_property(key[0], key[1], prop, at, value)
            self.keep_event(
                "property.changed", key[0], key[1], at, {"property": prop, "value": value, "previous": previous}
            )
            made.append((prop, value, previous))
        return made

    def _list_change(self, key: Key, name: str, add: bool, at: dt.datetime, cause: str | None) -> list[Event]:
        members = self._lists.setdefault(key, set())
        if (name in members) == add:
            return []
        self._read_cache.pop(key, None)
        if add:
            members.add(name)
        else:
            members.discard(name)
        kind = "list.added" if add else "list.removed"
        return [self._remember(Event(type=kind, object=key[0], id=key[1], at=at, data={"list": name}, cause=cause))]

    def observe(self, event: Event) -> Sequence[Event]:
        key = (event.object, event.id)
        if event.type == "record.created":
            existed = key in self._records
            created = (
                []
                if existed
                else [
                    self._remember(
                        Event(
                            type="record.created",
                            object=event.object,
                            id=event.id,
                            at=event.at,
                            data=dict(event.data),
                            cause=event.cause,
                        )
                    )
                ]
            )
            if not existed:
                self._read_cache.pop(key, None)
                self._records[key] = {}
                self._by_type.setdefault(event.object, []).append(event.id)
            return created + self._set(key, dict(event.properties or {}), event.at, event.cause)
        if event.type == "record.updated":
            return self._set(key, dict(event.properties or {}), event.at, event.cause)
        if event.type in ("list.added", "list.removed"):
            name = str(event.data.get("list", ""))
            return self._list_change(key, name, event.type == "list.added", event.at, event.cause)
        return [self._remember(event)]

    def _target(self, action: Action) -> Key:
        """The record an update acts on: the enrolled one, or its primary associated record."""
        object_type = str(action.args.get("object", action.object))
        if object_type == action.object:
            return (action.object, action.id)
        ids = self._assoc.get((action.object, action.id), {}).get(object_type, [])
        if not ids:
            raise PermanentAdapterError(f"{action.object}:{action.id} has no associated {object_type} to update")
        return (object_type, ids[0])

    def perform(self, action: Action, idempotency_key: str) -> ActionResult:
        if idempotency_key in self._results:
            first = self._actions[idempotency_key]
            if not same_action(first, action.kind, action.object, action.id, action.args):
                raise replay_mismatch(idempotency_key, first, action)
            return self._results[idempotency_key]
        unheard = self._unheard.pop(idempotency_key, None)
        if unheard is not None:  # performed unheard: its events, kept then, are built now
            first, target, made = unheard
            cause = first.enrollment or None
            events = (
                tuple(_changed(target, change, first.at, cause) for change in made)
                if target is not None
                else (self._email_sent(first),)
            )
            self._results[idempotency_key] = ActionResult(events=events)
            self._actions[idempotency_key] = first
            return self.perform(action, idempotency_key)
        self._fail(action)
        result = self._perform(action)
        self._results[idempotency_key] = result
        self._actions[idempotency_key] = action
        self.performed.append((idempotency_key, action))
        return result

    def _fail(self, action: Action) -> None:
        """Raise the next failure `fail_next` asked for, if any applies to `action`."""
        for fault in self._faults:
            if fault.times > 0 and fault.kind in (None, action.kind):
                fault.times -= 1
                if fault.error == "permanent":
                    raise PermanentAdapterError(fault.message)
                raise TransientAdapterError(fault.message)

    def _iso(self, at: dt.datetime) -> str:
        # Actions come in runs at one time (the timers of one moment): written once.
        if at != self._last_at or at.tzinfo is not self._last_at.tzinfo:
            self._last_at, self._last_iso = at, at.isoformat()
        return self._last_iso

    def _changes_of(self, action: Action) -> tuple[Key, dict[str, Any]]:
        """The record a property action changes, and the change (`_CHANGE_KINDS`)."""
        args = action.args
        kind = action.kind
        if kind in ("assign_owner", "rotate_owner"):
            return (action.object, action.id), {OWNER_PROPERTY: args.get("owner")}
        target = self._target(action)
        prop = str(args["property"])
        if kind == "increment":
            current = self._records.get(target, {}).get(prop)
            return target, {prop: incremented(current, args.get("by", 0), f"{target[0]}.{prop}")}
        return target, {prop: None if kind == "clear" else args.get("value")}

    def _perform(self, action: Action) -> ActionResult:
        args = action.args
        at = action.at
        own: Key = (action.object, action.id)
        cause = action.enrollment or None
        kind = action.kind
        if kind in _CHANGE_KINDS:
            target, changes = self._changes_of(action)
            return ActionResult(events=tuple(self._set(target, changes, at, cause)))
        if kind in ("add_to_list", "remove_from_list"):
            return ActionResult(
                events=tuple(self._list_change(own, str(args["list"]), kind == "add_to_list", at, cause))
            )
        if kind == "create_record":
            object_type = str(args.get("object_type", args.get("object", "record")))
            self._created += 1
            new_id = f"{object_type}-{self._created}"
            key = (object_type, new_id)
            self._read_cache.pop(key, None)
            events = [self._remember(Event(type="record.created", object=object_type, id=new_id, at=at, cause=cause))]
            self._records[key] = {}
            self._by_type.setdefault(object_type, []).append(new_id)
            props = args.get("properties", {})
            events += self._set(key, dict(props) if isinstance(props, Mapping) else {}, at, cause)
            self.associate(own, key)
            return ActionResult(events=tuple(events), data={"id": new_id})
        if kind == "send_email":
            return ActionResult(events=(self._remember(self._send_email(action)),))
        self._to_outbox(action)
        return ActionResult()

    def _to_outbox(self, action: Action) -> None:
        self.outbox.append(
            {
                "kind": action.kind,
                "object": action.object,
                "id": action.id,
                "at": self._iso(action.at),
                "args": public_args(action.args),
            }
        )

    def _send_email(self, action: Action) -> Event:
        """A `send_email` put in the outbox; its `email.sent` event (not yet kept)."""
        self._to_outbox(action)
        return self._email_sent(action)

    @staticmethod
    def _email_sent(action: Action) -> Event:
        return email_sent(action, action.at, action.args, action.enrollment or None)

    def perform_unheard(self, action: Action, idempotency_key: str) -> None:
        """Perform `action` as `perform` would, for an engine that nothing looks on:
        the events it makes are kept in the record's event history, but none is built
        for no one to hear (`QuietPerformer`). A replay through `perform` gets them."""
        kind = action.kind
        if (
            kind not in _QUIET_KINDS
            or self._perform_overridden
            or idempotency_key in self._results
            or idempotency_key in self._unheard
        ):
            self.perform(action, idempotency_key)
            return
        if self._faults:
            self._fail(action)
        if kind == "send_email":
            self._to_outbox(action)
            self.keep_event("email.sent", action.object, action.id, action.at, {"email": action.args.get("email")})
            self._unheard[idempotency_key] = (action, None, _NO_CHANGES)
        else:
            target, changes = self._changes_of(action)
            self._unheard[idempotency_key] = (action, target, self._apply(target, changes, action.at))
        self.performed.append((idempotency_key, action))
