"""HubSpot vocabulary without a network: object type names and ids, values in the form
the API takes, webhook deliveries to events.

Shared by the `hubspot://` CRM adapter (`wfdsl.adapters.hubspot`) and by
`wfdsl serve` (`POST /hubspot/webhooks`); it imports nothing optional.

HubSpot names object types in the plural (`contacts`) in API paths and by
an id (`0-1`) in the lists API and in generic webhooks; wfdsl names them in
the singular (`contact`). A custom object keeps its own name (`p_pets`,
`2-123456`) in both.

A webhook delivery is a JSON array of notifications (`subscriptionType`
`contact.propertyChange`, `contact.creation`, `object.propertyChange` with
`objectTypeId`, …). `webhook_events` turns each one into an input event of
the events file format (`record.created`, `record.updated`), or says why
it is ignored.

>>> webhook_events([{"subscriptionType": "contact.propertyChange", "objectId": 51, "eventId": 7,
...     "portalId": 9, "occurredAt": 1764000000000, "propertyName": "city", "propertyValue": "Oslo"}])[0]
[{'type': 'record.updated', 'object': 'contact', 'id': '51', 'at': '2025-11-24T16:00:00+00:00', \
'properties': {'city': 'Oslo'}, 'event_id': 'hubspot:9:contact.propertyChange:7:51'}]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

#: wfdsl object type -> (API path name, object type id).
OBJECT_TYPES: Mapping[str, tuple[str, str]] = {
    "contact": ("contacts", "0-1"),
    "company": ("companies", "0-2"),
    "deal": ("deals", "0-3"),
    "ticket": ("tickets", "0-5"),
    "quote": ("quotes", "0-14"),
    "feedback": ("feedback_submissions", "0-19"),
    "task": ("tasks", "0-27"),
    "note": ("notes", "0-46"),
    "meeting": ("meetings", "0-47"),
    "call": ("calls", "0-48"),
    "invoice": ("invoices", "0-53"),
    "subscription": ("subscriptions", "0-69"),
    "goal": ("goal_targets", "0-74"),
    "payment": ("commerce_payments", "0-101"),
    "lead": ("leads", "0-136"),
}
_BY_PATH = {path: name for name, (path, _) in OBJECT_TYPES.items()}
_BY_ID = {type_id: name for name, (_, type_id) in OBJECT_TYPES.items()}
#: The singular names webhooks use in `subscriptionType` (`contact.creation`).
_WEBHOOK_OBJECTS = {"contact", "company", "deal", "ticket", "line_item", "product", "conversation"}


def api_name(object_type: str) -> str:
    """The name of an object type in API paths.

    >>> api_name("contact"), api_name("p_pets")
    ('contacts', 'p_pets')
    """
    known = OBJECT_TYPES.get(object_type)
    return known[0] if known else object_type


def type_id(object_type: str) -> str:
    """The object type id (`0-1`) the lists API and generic webhooks use."""
    known = OBJECT_TYPES.get(object_type)
    return known[1] if known else object_type


def wfdsl_name(name: str) -> str:
    """The wfdsl object type of an API path name or an object type id.

    >>> wfdsl_name("companies"), wfdsl_name("0-3"), wfdsl_name("2-999")
    ('company', 'deal', '2-999')
    """
    return _BY_PATH.get(name) or _BY_ID.get(name) or name


def epoch_ms_to_iso(value: Any) -> str | None:
    """Epoch milliseconds (a number or a string of digits) as ISO 8601 UTC text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, (int, float)):
        return None
    try:
        moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat()


def to_hubspot(value: Any) -> str:
    """A wfdsl value in the form HubSpot's API takes: text (`"true"`, `"42"`, `""` to clear).
    (Values read go the other way through `wfdsl.runtime.values.hubspot_value`.)

    >>> to_hubspot(True), to_hubspot(42.0), to_hubspot(None), to_hubspot("2026-03-31")
    ('true', '42', '', '2026-03-31')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class WebhookError(ValueError):
    """A webhook delivery that is not what HubSpot sends; `where` is its JSON path."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


def _notification(item: Any, where: str) -> tuple[dict[str, Any] | None, str]:
    if not isinstance(item, Mapping):
        raise WebhookError(where, "expected an object (one notification)")
    kind = item.get("subscriptionType")
    if not isinstance(kind, str) or "." not in kind:
        raise WebhookError(f"{where}.subscriptionType", "expected a text such as contact.propertyChange")
    object_id = item.get("objectId")
    if isinstance(object_id, bool) or not isinstance(object_id, (int, str)) or str(object_id) == "":
        raise WebhookError(f"{where}.objectId", "expected the record id")
    at = epoch_ms_to_iso(item.get("occurredAt"))
    if at is None:
        raise WebhookError(f"{where}.occurredAt", "expected epoch milliseconds")
    prefix, _, verb = kind.partition(".")
    if prefix == "object":
        type_of = item.get("objectTypeId")
        if not isinstance(type_of, str) or not type_of:
            raise WebhookError(f"{where}.objectTypeId", "expected the object type id of a generic webhook")
        object_type = wfdsl_name(type_of)
    elif prefix in _WEBHOOK_OBJECTS:
        object_type = prefix
    else:
        return None, f"{kind} is not a record change"
    event_id = f"hubspot:{item.get('portalId', '')}:{kind}:{item.get('eventId', '')}:{object_id}"
    base = {"object": object_type, "id": str(object_id), "at": at}
    if verb == "creation":
        return {"type": "record.created", **base, "event_id": event_id}, ""
    if verb == "propertyChange":
        prop = item.get("propertyName")
        if not isinstance(prop, str) or not prop:
            raise WebhookError(f"{where}.propertyName", "expected the name of the changed property")
        value = item.get("propertyValue")
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise WebhookError(f"{where}.propertyValue", "expected a text value")
        return {"type": "record.updated", **base, "properties": {prop: value}, "event_id": event_id}, ""
    return None, f"{kind} has no wfdsl event"


def webhook_events(payload: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The events of a webhook delivery (a JSON array, or one notification), and
    the reasons of the notifications ignored (deletions, merges, associations…).
    WebhookError with the JSON path for a payload HubSpot would not send."""
    items: Sequence[Any] = payload if isinstance(payload, list) else [payload]
    events: list[dict[str, Any]] = []
    ignored: list[str] = []
    for number, item in enumerate(items):
        event, reason = _notification(item, f"$[{number}]")
        if event is None:
            ignored.append(reason)
        else:
            events.append(event)
    return events, ignored


__all__ = [
    "OBJECT_TYPES",
    "WebhookError",
    "api_name",
    "epoch_ms_to_iso",
    "to_hubspot",
    "type_id",
    "webhook_events",
    "wfdsl_name",
]
