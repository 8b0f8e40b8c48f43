"""The input formats: a records file (JSON) -> `Seed`, an events file (JSON Lines) -> `Event`s.

One parser for every host and backend: `simulate`, `explain`, `test`, `run`,
`ingest`, `serve` and the CRMs that import a records file (`RecordLoader`)
read their input through these functions, so a file is refused with the
same message (`FILE:LINE: message`, with the JSON path where there is one)
wherever it is given. docs/runtime.md describes both formats.

>>> seed = load_records_data({"contact": [{"id": "c1", "email": "ann@example.com"}]}, "records.json")
>>> [(r.object, r.id, dict(r.properties)) for r in seed.records]
[('contact', 'c1', {'email': 'ann@example.com'})]
>>> event_line(b'{"at": "2026-01-01T00:00:00Z", "type": "record.created", "object": "contact", "id": "c1"}',
...            "events.jsonl", 1)["id"]
'c1'
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from wfdsl.runtime.protocols import Event


class SimulationInputError(Exception):
    """A records or events file that cannot be used; `str()` is `FILE:LINE: message`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


@attrs.frozen(kw_only=True)
class SeedRecord:
    object: str
    id: str
    properties: Mapping[str, Any]


@attrs.frozen(kw_only=True)
class Seed:
    """The contents of a records file."""

    records: tuple[SeedRecord, ...] = ()
    associations: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = ()
    lists: Mapping[str, tuple[tuple[str, str], ...]] = attrs.field(factory=dict)
    #: The decoded JSON the seed was read from (a CRM that imports a file once keeps
    #: a digest of it); None for a seed built in code.
    data: Any = attrs.field(default=None, eq=False, repr=False)


# ---------------------------------------------------------------- records file


#: When the values of a records file were set, as far as `updated within last N days`
#: is concerned: before any window. Every host seeds a CRM with this time (`simulate`,
#: `explain`, `test`, `run --records`), so a record's values are never "recently updated"
#: until an event changes them.
SEEDED_AT = dt.datetime.min.replace(tzinfo=dt.timezone.utc)


#: Event times outside these years are refused (delays, time zones and the horizon
#: must stay within the calendar).
MIN_YEAR = 1900
MAX_YEAR = 9000


#: A `\\uD800`-`\\uDFFF` escape: JSON may spell a lone surrogate, which is not text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any, path: str) -> str | None:
    """The JSON path of the first string (or key) holding a lone surrogate, or None."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return where
        elif isinstance(item, dict):
            for key, inner in item.items():
                if any("\ud800" <= ch <= "\udfff" for ch in key):
                    return where
                stack.append((inner, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]") for i, inner in enumerate(item))
    return None


def loads_json(text: str, file: str, line: int) -> Any:
    """Decoded JSON, or `SimulationInputError` naming the file and line (also for
    nesting too deep to decode, integers too long to convert, and strings holding a
    lone surrogate such as `\\ud800`, which JSON can spell but which is not text)."""
    try:
        data = json.loads(text)
        if _SURROGATE_ESCAPE.search(text):
            where = _lone_surrogate(data, "$")
            if where is not None:
                raise SimulationInputError(
                    file, line, f"invalid text at {where}: a lone surrogate escape (\\ud800-\\udfff) is not a character"
                )
        return data
    except json.JSONDecodeError as error:
        last = text.rstrip("\r\n").count("\n") + 1  # an error at the very end: the last line
        raise SimulationInputError(file, line + min(error.lineno, last) - 1, f"invalid JSON: {error.msg}") from None
    except RecursionError:
        raise SimulationInputError(file, line, "invalid JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer with more than 4300 digits
        raise SimulationInputError(file, line, f"invalid JSON: {error}") from None


def _line_of(text: str, needle: str) -> int:
    """The 1-based line where `needle` first occurs in `text` (1 if nowhere)."""
    index = text.find(needle) if needle else -1
    return 1 if index < 0 else text.count("\n", 0, index) + 1


def _line_after(text: str, anchor: str, needle: str) -> int:
    """The line of the first `needle` after the first `anchor` (the anchor's line if none)."""
    start = max(text.find(anchor), 0)
    index = text.find(needle, start)
    return text.count("\n", 0, index if index >= 0 else start) + 1


def _record_ref(value: Any, file: str, line: int, what: str) -> tuple[str, str]:
    if not isinstance(value, str) or ":" not in value:
        raise SimulationInputError(file, line, f'{what} must be `type:id` (e.g. "contact:c1"), found {value!r}')
    object_type, _, record_id = value.partition(":")
    return object_type, record_id


def load_records_data(data: Any, file: str, text: str = "") -> Seed:
    """A `Seed` from decoded records-file JSON. `text` (the file's text) locates errors."""
    if not isinstance(data, dict):
        raise SimulationInputError(file, 1, "expected a JSON object with a list of records per object type")
    records: list[SeedRecord] = []
    associations = []
    lists: dict[str, tuple[tuple[str, str], ...]] = {}
    seen: set[tuple[str, str]] = set()
    for key, value in data.items():
        line = _line_of(text, f'"{key}"')
        if key == "associations":
            if not isinstance(value, list):
                raise SimulationInputError(
                    file, line, '`associations` must be a list of {"from": "type:id", "to": "type:id"}'
                )
            for item in value:
                if not isinstance(item, dict):
                    raise SimulationInputError(file, line, 'an association must be an object with "from" and "to"')
                here = _line_after(text, '"associations"', json.dumps(item.get("from")))
                associations.append(
                    (
                        _record_ref(item.get("from"), file, here, "`from`"),
                        _record_ref(item.get("to"), file, here, "`to`"),
                    )
                )
            continue
        if key == "lists":
            if not isinstance(value, dict):
                raise SimulationInputError(file, line, '`lists` must map list names to ["type:id", …]')
            for name, members in value.items():
                here = _line_of(text, json.dumps(name))
                if not isinstance(members, list):
                    raise SimulationInputError(file, here, f'list {name!r} must be a list of "type:id"')
                lists[str(name)] = tuple(_record_ref(m, file, here, "a list member") for m in members)
            continue
        if not isinstance(value, list):
            raise SimulationInputError(file, line, f"`{key}` must be a list of records")
        for item in value:
            if not isinstance(item, dict) or "id" not in item:
                raise SimulationInputError(file, line, f'each `{key}` record must be an object with an "id"')
            record_id = item["id"]
            if not isinstance(record_id, (str, int)) or isinstance(record_id, bool):
                raise SimulationInputError(file, line, f"`{key}` record id must be a string")
            ref = (str(key), str(record_id))
            if ref in seen:
                needle = json.dumps(record_id)
                here = _line_of(text[text.find(needle) + 1 :], needle) + _line_of(text, needle) - 1
                raise SimulationInputError(file, here, f"duplicate record {key}:{record_id}")
            seen.add(ref)
            props = {k: v for k, v in item.items() if k != "id"}
            records.append(SeedRecord(object=str(key), id=str(record_id), properties=props))
    for left, right in associations:
        for ref in (left, right):
            if ref not in seen:
                needle = json.dumps(f"{ref[0]}:{ref[1]}")
                raise SimulationInputError(
                    file,
                    _line_of(text, needle),
                    f"association with {ref[0]}:{ref[1]}, which is not a record of this file",
                )
    return Seed(records=tuple(records), associations=tuple(associations), lists=lists, data=data)


def load_records(path: str | Path) -> Seed:
    """Read a records file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a leading BOM is allowed
    except FileNotFoundError:
        raise SimulationInputError(file, 1, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SimulationInputError(file, 1, f"cannot read: {error}") from None
    return load_records_data(loads_json(text, file, 1), file, text)


# ---------------------------------------------------------------- events file


def _timestamp(value: Any, file: str, line: int) -> dt.datetime:
    if not isinstance(value, str):
        raise SimulationInputError(file, line, '`at` must be an ISO 8601 time with a zone, e.g. "2026-11-23T10:00:00Z"')
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SimulationInputError(file, line, f"`at` is not an ISO 8601 time: {value!r}") from None
    if when.tzinfo is None:
        raise SimulationInputError(file, line, f"`at` {value!r} has no zone; add `Z` or an offset such as `+01:00`")
    if when.year > MAX_YEAR:
        raise SimulationInputError(file, line, f"`at` {value!r} is after the year {MAX_YEAR}")
    if when.year < MIN_YEAR:
        raise SimulationInputError(file, line, f"`at` {value!r} is before the year {MIN_YEAR}")
    return when.astimezone(dt.timezone.utc)


def parse_event(data: Any, file: str, line: int) -> Event:
    """One events-file line (decoded JSON) as an `Event`."""
    if not isinstance(data, dict):
        raise SimulationInputError(file, line, "each line must be a JSON object")
    for field in ("at", "type", "object", "id"):
        if field not in data:
            raise SimulationInputError(file, line, f"missing field `{field}`")
    at = _timestamp(data["at"], file, line)
    kind = data["type"]
    if not isinstance(kind, str) or not kind:
        raise SimulationInputError(
            file,
            line,
            "`type` must be an event type: record.created, record.updated, list.added, "
            "list.removed, workflow.enroll or a catalog event such as form.submitted",
        )
    # A type outside the catalog is delivered as is (and `InputCheck` warns about it).
    object_type = data["object"]
    if not isinstance(object_type, str) or not object_type:
        raise SimulationInputError(file, line, '`object` must be an object type, e.g. "contact"')
    record_id = data["id"]
    if not isinstance(record_id, (str, int)) or isinstance(record_id, bool):
        raise SimulationInputError(file, line, "`id` must be a string")
    attributes = data.get("data", {})
    if not isinstance(attributes, dict):
        raise SimulationInputError(file, line, "`data` must be a JSON object")
    properties = data.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise SimulationInputError(file, line, "`properties` must be a JSON object")
    if kind == "record.updated" and not properties:
        raise SimulationInputError(file, line, "record.updated needs `properties`")
    if kind in ("list.added", "list.removed") and not isinstance(attributes.get("list"), str):
        raise SimulationInputError(file, line, f"{kind} needs `data.list` (a list name)")
    if kind == "workflow.enroll" and not isinstance(attributes.get("workflow"), str):
        raise SimulationInputError(file, line, "workflow.enroll needs `data.workflow` (a workflow name)")
    return Event(type=kind, object=object_type, id=str(record_id), at=at, data=attributes, properties=properties)


_BLANK = object()


def _decoded(raw: bytes, file: str, line: int) -> Any:
    """A line's JSON, decoded (`_BLANK` for a blank line); a BOM may lead the first line."""
    try:
        text = raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as error:
        raise SimulationInputError(file, line, f"not UTF-8: {error}") from None
    if not text.strip():
        return _BLANK
    return loads_json(text, file, line)


def event_id_of(body: Mapping[str, Any]) -> str | None:
    """The dedupe key of an event: its `event_id` as text, or None.

    >>> event_id_of({"event_id": 17}), event_id_of({})
    ('17', None)
    """
    value = body.get("event_id")
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def read_events(path: str | Path, where: dict[str, int] | None = None) -> Iterator[Event]:
    """Events from a JSON Lines file, one line at a time, checked to be in time order.
    `where["line"]` is set to the line of each event as it is handed out. An event whose
    `event_id` an earlier line of the file had is dropped, as a durable store's inbox
    drops it."""
    file = str(path)
    previous: dt.datetime | None = None
    seen: set[str] = set()
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise SimulationInputError(file, 1, "no such file") from None
    except OSError as error:
        raise SimulationInputError(file, 1, f"cannot read: {error}") from None
    with handle:
        line_no = 0
        while True:
            raw = handle.readline()
            if not raw:
                return
            line_no += 1
            data = _decoded(raw, file, line_no)  # line by line, so that the error names the right line
            if data is _BLANK:
                continue
            event = parse_event(data, file, line_no)
            if previous is not None and event.at < previous:
                raise SimulationInputError(
                    file,
                    line_no,
                    f"events must be in time order: {data['at']} is before the previous event ({previous.isoformat()})",
                )
            previous = event.at
            event_id = event_id_of(data)
            if event_id is not None:
                if event_id in seen:
                    continue  # a repeat: delivered once
                seen.add(event_id)
            if where is not None:
                where["line"] = line_no
            yield event


def event_line(raw: bytes, file: str, line: int, *, default_at: str | None = None) -> dict[str, Any] | None:
    """One line of an events file (bytes, as read) checked: the JSON object, or None for a
    blank line. A UTF-8 byte order mark may lead the first line; `default_at` (ISO 8601)
    is the time of an event without `at` (a service on the real clock: now).
    `SimulationInputError` names FILE:LINE."""
    data = _decoded(raw, file, line)
    if data is _BLANK:
        return None
    if default_at is not None and isinstance(data, dict) and "at" not in data:
        data["at"] = default_at
    parse_event(data, file, line)
    assert isinstance(data, dict)
    return data


#: The name the other hosts know it by.
InputError = SimulationInputError

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "InputError",
    "Seed",
    "SeedRecord",
    "SEEDED_AT",
    "SimulationInputError",
    "event_id_of",
    "event_line",
    "load_records",
    "load_records_data",
    "loads_json",
    "parse_event",
    "read_events",
]
