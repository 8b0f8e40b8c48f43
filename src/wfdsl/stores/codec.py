"""The value codec of the durable stores: Python values in, JSON text and epoch
microseconds out (and back), plus the text a database column can keep.

JSON gets tags for what it lacks (`{"$dt": …}`, `$date`, `$time`, `$tuple`,
`$set`, `$map`), so a value read back equals the one written. Shared by the
SQLite and PostgreSQL stores and CRMs and the HubSpot adapter's journal.

>>> import datetime as dt
>>> loads(dumps({"at": dt.date(2026, 1, 1), "ids": ("a", "b")}))
{'at': datetime.date(2026, 1, 1), 'ids': ('a', 'b')}
>>> from_micros(micros(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))).year
2026
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from wfdsl.runtime.protocols import HistoryEntry, Timer, utc

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

#: Dead letters keep at most this much of their input.
PAYLOAD_LIMIT = 4096


def micros(value: dt.datetime) -> int:
    """Microseconds since the epoch (sortable, exact)."""
    delta = utc(value) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=value)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _enc(value: Any) -> Any:
    # JSON with tags for what JSON lacks, so values read back equal to what was written.
    # Plain values are passed through without a call: this runs for every row written.
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict or isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if type(key) is not str or key[:1] == "$":
                return {"$map": [[_enc(k), _enc(v)] for k, v in value.items()]}
            out[key] = item if type(item) in _PLAIN else _enc(item)
        return out
    if kind is list:
        return [v if type(v) in _PLAIN else _enc(v) for v in value]
    if isinstance(value, dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [_enc(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted((_enc(v) for v in value), key=repr)}
    if isinstance(value, (bool, int, float, str)):  # subclasses (enums, …)
        return value
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if attrs.has(type(value)):
        return _enc(attrs.asdict(value, recurse=False))
    return str(value)


_TAGS = frozenset({"$dt", "$date", "$time", "$tuple", "$set", "$map"})


def _dec(value: Any) -> Any:
    kind = type(value)
    if kind is list:
        return [v if type(v) in _PLAIN else _dec(v) for v in value]
    if kind is not dict:
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag in _TAGS:
            if tag == "$dt":
                return dt.datetime.fromisoformat(inner)
            if tag == "$date":
                return dt.date.fromisoformat(inner)
            if tag == "$time":
                return dt.time.fromisoformat(inner)
            if tag == "$tuple":
                return tuple(_dec(v) for v in inner)
            if tag == "$set":
                return frozenset(_dec(v) for v in inner)
            return {_dec(k): _dec(v) for k, v in inner}
    return {k: v if type(v) in _PLAIN else _dec(v) for k, v in value.items()}


# One encoder for every call: `json.dumps` with options builds a new one each time.
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def dumps(value: Any) -> str:
    """JSON text that `loads` turns back into an equal value (datetimes, tuples included)."""
    return _encode_json(_enc(value))


def loads(text: str | None) -> Any:
    return None if text is None else _dec(json.loads(text))


#: Types whose values are their own JSON form (`encode`/`decode` return them as they are).
PLAIN_TYPES = _PLAIN
#: One value to its JSON form and back (the tags `dumps`/`loads` use), for a codec
#: that lays out rows of values itself; check `type(v) in PLAIN_TYPES` first to skip
#: the call for plain values.
encode = _enc
decode = _dec


def safe_text(value: Any, limit: int | None = None) -> str:
    """`value` as text SQLite can store: lone surrogates and other unencodable code
    points escaped (`\\ud800`), cut at `limit` characters."""
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


__all__ = [
    "EPOCH",
    "PAYLOAD_LIMIT",
    "PLAIN_TYPES",
    "UTC",
    "decode",
    "dumps",
    "encode",
    "from_micros",
    "loads",
    "micros",
    "safe_text",
]


#: The columns of a timer row, in the order `timer_row` reads them.
TIMER_COLUMNS = "key, due, seq, kind, workflow, enrollment"


def timer_row(row: Sequence[Any]) -> Timer:
    """A timer from its row (`TIMER_COLUMNS` first; further columns are ignored)."""
    key, due, seq, kind, workflow, enrollment = row[:6]
    return Timer(key=key, due=from_micros(due), seq=seq, kind=kind, workflow=workflow, enrollment=enrollment)


def history_row(row: Sequence[Any]) -> HistoryEntry:
    """A history entry from its row: seq, at, workflow, object, id, kind, step, detail, enrollment."""
    seq, at, workflow, object_type, record_id, kind, step, detail, enrollment = row
    return HistoryEntry(
        seq=seq,
        at=from_micros(at),
        workflow=workflow,
        object=object_type,
        id=record_id,
        kind=kind,
        step=step,
        detail=loads(detail),
        enrollment=enrollment,
    )
