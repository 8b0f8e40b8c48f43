"""What the SQL CRMs (SQLite and PostgreSQL) share about records: the `type:id`
reference of a records file, its error, and the JSON form of an action's
result kept in the idempotency log.

>>> record_ref("contact:c1")
('contact', 'c1')
>>> result_from_json(result_to_json(ActionResult(data={"deal": "d1"})))
ActionResult(events=(), data={'deal': 'd1'})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from wfdsl.runtime.protocols import ActionResult, Event

#: A record's key: (object type, id).
Key = tuple[str, str]


class RecordsError(ValueError):
    """A records file that cannot be imported."""


def record_ref(text: Any) -> Key:
    """The (type, id) of a `"type:id"` reference; ValueError when `text` is not one."""
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(text)
    object_type, _, record_id = text.partition(":")
    if not object_type or not record_id:
        raise ValueError(text)
    return (object_type, record_id)


_EVENT_FIELDS = frozenset(f.name for f in attrs.fields(Event))


def result_to_json(result: ActionResult) -> dict[str, Any]:
    """`result` as plain data for the idempotency log (the store codec encodes the datetimes)."""
    return {"events": [attrs.asdict(e, recurse=False) for e in result.events], "data": dict(result.data)}


def result_from_json(data: Mapping[str, Any]) -> ActionResult:
    """The `ActionResult` that `result_to_json` wrote (unknown event fields ignored)."""
    events = tuple(Event(**{k: v for k, v in e.items() if k in _EVENT_FIELDS}) for e in data.get("events", ()))
    return ActionResult(events=events, data=dict(data.get("data", {})))


__all__ = ["Key", "RecordsError", "record_ref", "result_from_json", "result_to_json"]
