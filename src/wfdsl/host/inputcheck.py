"""Input data checked as `.wf` files are: records and events against the schema and the catalog.

A records-file or event property the schema does not know, an event attribute
the catalog does not list for that event, an object type that is not in the
schema and an event type that is not in the catalog each get one warning (per
object type and name) with a did-you-mean; nothing stops the run. Warnings
name the file, then the record or event:

>>> from wfdsl.schema import BUILTIN
>>> from wfdsl.runtime.inputs import load_records_data
>>> check = InputCheck(BUILTIN)
>>> seed = load_records_data({"contact": [{"id": "c1", "lifecylestage": "lead"},
...                                       {"id": "c2", "lifecylestage": "lead"}]}, "records.json")
>>> check.records(seed, "records.json")
>>> check.warnings
['records.json: contact c1: unknown property `lifecylestage`; did you mean `lifecyclestage`?']
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator

from wfdsl.catalog import EVENTS, INPUT_EVENTS
from wfdsl.runtime.criteria import URL_PARTS
from wfdsl.runtime.inputs import Seed
from wfdsl.runtime.protocols import Event
from wfdsl.schema import Schema

__all__ = ["InputCheck"]

#: Properties every record has whatever the schema says.
_ALWAYS = frozenset({"hs_object_id"})


def _maybe(word: str, options: Iterable[str]) -> str:
    """`; did you mean `x`?` for the closest option, or nothing."""
    choices = sorted(options)
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.7)
    if not found:
        lowered = {c.casefold(): c for c in choices}
        found = [lowered[word.casefold()]] if word.casefold() in lowered else []
    return f"; did you mean `{found[0]}`?" if found else ""


class InputCheck:
    """Collects warnings about input data; `warn` (if given) gets each as it is found."""

    def __init__(self, schema: Schema, warn: Callable[[str], None] | None = None) -> None:
        self.schema = schema
        self.warn = warn
        self.warnings: list[str] = []
        self._seen: set[tuple[str, str, str]] = set()

    def _add(self, key: tuple[str, str, str], message: str) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        self.warnings.append(message)
        if self.warn is not None:
            self.warn(message)

    def _object(self, file: str, object_type: str) -> bool:
        if self.schema.has_object(object_type):
            return True
        self._add(
            ("object", object_type, ""),
            f"{file}: unknown object type `{object_type}`{_maybe(object_type, self.schema.object_types)}",
        )
        return False

    def _properties(self, file: str, object_type: str, record_id: str, names: Iterable[str]) -> None:
        if not self._object(file, object_type):
            return
        known = self.schema.properties(object_type)
        for name in names:
            if name in known or name in _ALWAYS:
                continue
            self._add(
                ("property", object_type, name),
                f"{file}: {object_type} {record_id}: unknown property `{name}`{_maybe(name, known)}",
            )

    def records(self, seed: Seed, file: str) -> None:
        """Check the records of a records file."""
        for record in seed.records:
            self._properties(file, record.object, record.id, record.properties)

    def event(self, event: Event, file: str) -> None:
        """Check one input event: its type, object type, properties and attributes."""
        if event.type not in EVENTS and event.type not in INPUT_EVENTS:
            self._add(
                ("event", event.type, ""),
                f"{file}: {event.object} {event.id}: unknown event type `{event.type}`"
                f"{_maybe(event.type, [*EVENTS, *INPUT_EVENTS])}",
            )
            return
        if event.properties:
            self._properties(file, event.object, event.id, event.properties)
        else:
            self._object(file, event.object)
        spec = EVENTS.get(event.type)
        if spec is None or not event.data:
            return
        allowed = set(spec.attributes) | ({"url", *URL_PARTS} if "url" in spec.attributes else set())
        for name in event.data:
            if name in allowed:
                continue
            self._add(
                ("attribute", event.type, name),
                f"{file}: {event.object} {event.id}: unknown attribute `{name}` of `{event.type}`"
                f"{_maybe(name, spec.attributes)}",
            )

    def events(self, events: Iterable[Event], file: str) -> Iterator[Event]:
        """The same events, each checked as it passes (streams stay streams)."""
        for event in events:
            self.event(event, file)
            yield event
