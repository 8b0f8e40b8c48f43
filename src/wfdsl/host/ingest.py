"""Ingest: JSON Lines events in; rows in a store's inbox out (what `wfdsl ingest` does).

Events enter a running system through its store's inbox: a `wfdsl run`
worker consumes the inbox in order. `read_events_text` checks every line
first (the events-file format, `FILE:LINE` in each error) and gives an event
without `at` the time it was received; `ingest_events` then adds all of them
in one transaction, dropping events whose `event_id` the inbox already holds.

>>> from wfdsl.stores.memory import MemoryStore
>>> lines = [b'{"at": "2026-11-23T10:00:00Z", "type": "record.created", "object": "contact",'
...          b' "id": "c1", "event_id": "a"}', b'', b'{"type": "list.added", "object": "contact",'
...          b' "id": "c1", "data": {"list": "VIP"}, "event_id": "a"}']
>>> batch = read_events_text(lines, "events.jsonl", received=dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc))
>>> [error.line for error in batch.errors], len(batch.events)
([], 2)
>>> result = ingest_events(MemoryStore(), batch.events)
>>> result.ingested, result.duplicates
(1, 1)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from wfdsl.runtime.inputs import SimulationInputError, loads_json, parse_event
from wfdsl.runtime.protocols import StateStore, utc
from wfdsl.stores.protocols import EventInbox


@attrs.frozen(kw_only=True)
class EventBatch:
    """Checked events (JSON objects in the events format) and the lines that were not."""

    events: tuple[Mapping[str, Any], ...]
    errors: tuple[SimulationInputError, ...]


@attrs.frozen(kw_only=True)
class IngestResult:
    """What `ingest_events` did: events added, duplicates dropped, their inbox numbers."""

    ingested: int
    duplicates: int
    ids: tuple[int | None, ...]

    def to_json(self) -> dict[str, Any]:
        return {"format_version": "1", "ingested": self.ingested, "duplicates": self.duplicates, "ids": list(self.ids)}


class NoInboxError(Exception):
    """The store has no inbox to ingest into."""


def read_events_text(lines: Iterable[bytes], source: str, *, received: dt.datetime) -> EventBatch:
    """Every line checked: the events, and an error (`FILE:LINE: message`) per bad line.
    Blank lines are skipped; a missing `at` is `received`; a UTF-8 BOM may lead."""
    events: list[Mapping[str, Any]] = []
    errors: list[SimulationInputError] = []
    stamp = utc(received).isoformat()
    for number, raw in enumerate(lines, start=1):
        try:
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise SimulationInputError(source, number, f"not UTF-8: {error}") from None
            if not text.strip():
                continue
            data = loads_json(text, source, number)
            if isinstance(data, dict) and "at" not in data:
                data["at"] = stamp
            parse_event(data, source, number)
            if "event_id" in data and (data["event_id"] is None or isinstance(data["event_id"], (dict, list, bool))):
                raise SimulationInputError(source, number, "`event_id` must be a string or a number")
            events.append(data)
        except SimulationInputError as error:
            errors.append(error)
    return EventBatch(events=tuple(events), errors=tuple(errors))


def ingest_events(store: StateStore, events: Sequence[Mapping[str, Any]]) -> IngestResult:
    """Add checked events to the store's inbox in one transaction (committed on return).
    NoInboxError when the store has none."""
    if not isinstance(store, EventInbox):
        raise NoInboxError(f"the {type(store).__name__} store has no inbox to ingest into")
    with store.transaction():
        ids = store.append_events(events)
    duplicates = sum(1 for n in ids if n is None)
    return IngestResult(ingested=len(ids) - duplicates, duplicates=duplicates, ids=tuple(ids))


__all__ = ["EventBatch", "IngestResult", "NoInboxError", "ingest_events", "read_events_text"]
