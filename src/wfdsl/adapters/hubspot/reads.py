"""What the workflows read from a HubSpot portal: records (CRM v3 batch read, v4
associations, lists memberships), property histories, searches, and the change
events HubSpot reports, turned into wfdsl's records and events.

Only what the workflows use is read (`prepare` with the plans' `CRMReads`),
and a record read is kept a short while (`cache_seconds`), so the criteria
of one event cost one batch read, not one call per property.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from wfdsl.adapters.hubspot.client import Client
from wfdsl.adapters.hubspot.ledger import Ledger
from wfdsl.adapters.hubspot.search import search_filters
from wfdsl.adapters.hubspot_api import api_name, to_hubspot, type_id
from wfdsl.adapters.shared import OWNER_PROPERTY
from wfdsl.plan.criteria import Criterion
from wfdsl.runtime.protocols import CRMReads, Event, Record, utc
from wfdsl.runtime.values import as_datetime, hubspot_value

#: Properties read when the workflows did not say which they need (besides the owner and id).
DEFAULT_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "contact": ("email", "firstname", "lastname", "lifecyclestage", "createdate", "lastmodifieddate"),
    "company": ("name", "domain", "createdate"),
    "deal": ("dealname", "amount", "dealstage", "pipeline", "closedate"),
    "ticket": ("subject", "content", "hs_pipeline", "hs_pipeline_stage"),
}
#: Associations read when the workflows did not say which they need.
DEFAULT_ASSOCIATIONS = ("contact", "company", "deal", "ticket")
SEARCH_PAGE = 100
BATCH = 100

#: A name cache: ("list-name", id) -> name, ("list", "type:name") -> id, ("owner", e-mail) -> id, ("email", name) -> id.
Names = dict[tuple[str, str], str]


def _moment(value: Any) -> dt.datetime:
    """A history timestamp (ISO text or epoch milliseconds) as aware UTC."""
    return as_datetime(value) or dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


class Reader:
    """Records, histories and searches of one portal, with a short-lived record cache."""

    def __init__(self, api: Client, ledger: Ledger, names: Names, *, cache_seconds: float) -> None:
        self.api = api
        self.ledger = ledger
        self.names = names
        self.cache_seconds = cache_seconds
        self._reads: CRMReads | None = None
        self._cache: dict[tuple[str, str], tuple[float, Record]] = {}
        self._cache_lock = threading.Lock()
        self._property_types: dict[str, dict[str, str]] = {}

    def prepare(self, reads: CRMReads) -> None:
        """Read only what the workflows use: these properties, histories, associations, lists."""
        self._reads = reads
        with self._cache_lock:
            self._cache.clear()

    def _properties(self, object_type: str) -> list[str]:
        if self._reads is None:
            wanted = set(DEFAULT_PROPERTIES.get(object_type, ()))
        else:
            wanted = set(self._reads.properties.get(object_type, ()))
        wanted.add(OWNER_PROPERTY)
        wanted.add("hs_object_id")
        if object_type == "contact":
            wanted.add("email")
        return sorted(wanted)

    def _types(self, object_type: str) -> Mapping[str, str]:
        """The portal's property types (`number`, `date`, `datetime`, `bool`, …) of an
        object type, read once (properties API)."""
        found = self._property_types.get(object_type)
        if found is None:
            answer = self.api.call("GET", f"/crm/v3/properties/{api_name(object_type)}", missing_ok=True)
            found = {
                str(item["name"]): str(item.get("type", "string"))
                for item in (answer or {}).get("results", [])
                if isinstance(item, Mapping) and "name" in item
            }
            self._property_types[object_type] = found
        return found

    def value(self, object_type: str, prop: str, value: Any) -> Any:
        """A value as HubSpot sent it, in wfdsl's form for its property type."""
        return hubspot_value(value, self._types(object_type).get(prop, "string"))

    def _history_properties(self, object_type: str) -> list[str]:
        if self._reads is None:
            return []
        return sorted(p for o, p in self._reads.history if o == object_type)

    def _association_types(self, object_type: str) -> list[str]:
        if self._reads is None:
            return [t for t in DEFAULT_ASSOCIATIONS if t != object_type]
        return sorted(t for t in self._reads.associations.get(object_type, ()) if t != object_type)

    def _wants_lists(self) -> bool:
        return self._reads is None or self._reads.lists

    def _cached(self, key: tuple[str, str]) -> Record | None:
        with self._cache_lock:
            found = self._cache.get(key)
            if found is None:
                return None
            stamp, record = found
            if time.monotonic() - stamp > self.cache_seconds:
                del self._cache[key]
                return None
            return record

    def _remember(self, record: Record) -> None:
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[(record.object, record.id)] = (time.monotonic(), record)

    def forget(self, object_type: str, record_id: str) -> None:
        """Drop a record from the read cache (it changed)."""
        with self._cache_lock:
            self._cache.pop((object_type, record_id), None)

    def get(self, object_type: str, record_id: str) -> Record | None:
        key = (object_type, record_id)
        cached = self._cached(key)
        if cached is not None:
            return cached
        records = self.load(object_type, [record_id])
        return records.get(record_id)

    def load(self, object_type: str, ids: Sequence[str], extra: Sequence[str] = ()) -> dict[str, Record]:
        """Batch read `ids` (with the `extra` properties too) with their associations
        and lists into the cache."""
        if not ids:
            return {}
        body: dict[str, Any] = {"inputs": [{"id": i} for i in ids]}
        props = sorted({*self._properties(object_type), *extra})
        if props:
            body["properties"] = props
        history = self._history_properties(object_type)
        if history:
            body["propertiesWithHistory"] = history
        answer = self.api.call("POST", f"/crm/v3/objects/{api_name(object_type)}/batch/read", body=body)
        found: dict[str, dict[str, Any]] = {}
        for item in answer.get("results", []) if isinstance(answer, Mapping) else []:
            if isinstance(item, Mapping) and item.get("id") is not None and not item.get("archived"):
                raw = item.get("properties") or {}
                found[str(item["id"])] = {prop: self.value(object_type, prop, v) for prop, v in raw.items()}
        associations: dict[str, dict[str, list[str]]] = {i: {} for i in found}
        for other in self._association_types(object_type):
            for rid, linked in self.associations(object_type, other, list(found)).items():
                associations[rid][other] = linked
        out = {}
        for rid, properties in found.items():
            properties.setdefault("hs_object_id", rid)
            lists = self._lists_of(object_type, rid) if self._wants_lists() else frozenset()
            record = Record(
                object=object_type,
                id=rid,
                properties=properties,
                lists=lists,
                associations={t: tuple(ids_) for t, ids_ in associations[rid].items()},
            )
            self._remember(record)
            out[rid] = record
        return out

    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """v4 batch read: the associated ids of each record, the primary one first."""
        out: dict[str, list[str]] = {}
        if not ids:
            return out
        answer = self.api.call(
            "POST",
            f"/crm/v4/associations/{api_name(from_type)}/{api_name(to_type)}/batch/read",
            body={"inputs": [{"id": i} for i in ids]},
        )
        for item in answer.get("results", []) if isinstance(answer, Mapping) else []:
            source = str((item.get("from") or {}).get("id", ""))
            linked: list[tuple[int, str]] = []
            for target in item.get("to") or []:
                labels = [str(t.get("label") or "") for t in target.get("associationTypes") or []]
                primary = any(label.lower() == "primary" for label in labels)
                linked.append((0 if primary else 1, str(target.get("toObjectId"))))
            out[source] = [rid for _, rid in sorted(linked, key=lambda pair: pair[0])]
        return out

    def _lists_of(self, object_type: str, record_id: str) -> frozenset[str]:
        names: set[str] = set()
        after: str | None = None
        while True:
            params = {"after": after} if after else None
            answer = self.api.call(
                "GET",
                f"/crm/v3/lists/records/{type_id(object_type)}/{quote(record_id, safe='')}/memberships",
                params=params,
                missing_ok=True,
            )
            if not answer:
                break
            for item in answer.get("results", []):
                list_id = str(item.get("listId"))
                names.add(self._list_name(list_id))
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return frozenset(names)

    def _list_name(self, list_id: str) -> str:
        key = ("list-name", list_id)
        if key not in self.names:
            answer = self.api.call("GET", f"/crm/v3/lists/{quote(list_id, safe='')}", missing_ok=True)
            name = ((answer or {}).get("list") or {}).get("name")
            self.names[key] = str(name) if name else list_id
        return self.names[key]

    def property_history(self, object_type: str, record_id: str, prop: str) -> Sequence[tuple[dt.datetime, Any]]:
        answer = self.api.call(
            "GET",
            f"/crm/v3/objects/{api_name(object_type)}/{quote(record_id, safe='')}",
            params={"propertiesWithHistory": prop},
            missing_ok=True,
        )
        if not answer:
            return []
        entries = (answer.get("propertiesWithHistory") or {}).get(prop) or []
        history = [
            (_moment(e.get("timestamp")), self.value(object_type, prop, e.get("value")))
            for e in entries
            if isinstance(e, Mapping)
        ]
        history.sort(key=lambda pair: pair[0])  # HubSpot lists the newest first
        return history

    def event_history(
        self, object_type: str, record_id: str, event_type: str
    ) -> Sequence[tuple[dt.datetime, Mapping[str, Any]]]:
        return self.ledger.events(object_type, record_id, event_type)

    def query(self, object_type: str, criteria: Criterion | None = None) -> Iterator[str]:
        """Search with the criteria pushed down, sorted by id and paged by id (so past
        the search API's 10,000-result window); each page batch-read into the cache."""
        groups = search_filters(criteria, object_type) or [[]]
        last: str | None = None
        while True:
            filter_groups = []
            for group in groups:
                extra = [{"propertyName": "hs_object_id", "operator": "GT", "value": last}] if last else []
                if group or extra:
                    filter_groups.append({"filters": [*group, *extra]})
            body: dict[str, Any] = {
                "limit": SEARCH_PAGE,
                "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                "properties": ["hs_object_id"],
            }
            if filter_groups:
                body["filterGroups"] = filter_groups
            answer = self.api.call("POST", f"/crm/v3/objects/{api_name(object_type)}/search", body=body, search=True)
            ids = [str(item["id"]) for item in answer.get("results", []) if isinstance(item, Mapping) and "id" in item]
            if not ids:
                return
            for start in range(0, len(ids), BATCH):
                self.load(object_type, ids[start : start + BATCH])
            yield from ids
            if len(ids) < SEARCH_PAGE:
                return
            last = ids[-1]

    def observe(self, event: Event) -> Sequence[Event]:
        """Changes HubSpot reported (webhooks, `record.updated` lines) become
        `property.changed` with the previous value from the property's history;
        echoes of the adapter's own writes are dropped; other events are kept
        in the event history."""
        if event.type in ("record.updated", "record.created", "list.added", "list.removed"):
            self.forget(event.object, event.id)  # the record changed: read it afresh
        if event.type == "record.updated":
            out = []
            for prop, raw in (event.properties or {}).items():
                value = self.value(event.object, prop, raw)
                if self.ledger.take_own_write(event.object, event.id, prop, to_hubspot(value)):
                    continue
                out.append(
                    Event(
                        type="property.changed",
                        object=event.object,
                        id=event.id,
                        at=event.at,
                        data={"property": prop, "value": value, "previous": self._previous(event, prop, value)},
                        cause=event.cause,
                    )
                )
            return out
        if event.type == "record.created":
            if self.ledger.take_own_write(event.object, event.id, "", "created"):
                return []
            created = Event(
                type="record.created",
                object=event.object,
                id=event.id,
                at=event.at,
                data=dict(event.data),
                cause=event.cause,
            )
            self.ledger.add_event(created)
            return [created]
        self.ledger.add_event(event)
        return [event]

    def _previous(self, event: Event, prop: str, value: Any) -> Any:
        """The value before the one the event reports, from HubSpot's history."""
        history = self.property_history(event.object, event.id, prop)
        shown = to_hubspot(value)
        for index in range(len(history) - 1, -1, -1):
            if to_hubspot(history[index][1]) == shown and history[index][0] <= utc(event.at) + dt.timedelta(seconds=1):
                return history[index - 1][1] if index > 0 else None
        return history[-2][1] if len(history) > 1 else None


__all__ = ["DEFAULT_ASSOCIATIONS", "DEFAULT_PROPERTIES", "Names", "Reader"]
