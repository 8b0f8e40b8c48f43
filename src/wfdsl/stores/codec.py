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


# The last datetime `micros` was given and its result: rows written together mostly
# share one moment (the firing's time), often the very same object.
_last_micros: tuple[Any, int] = (None, 0)


def micros(value: dt.datetime) -> int:
    """Microseconds since the epoch (sortable, exact)."""
    global _last_micros
    last = _last_micros
    if last[0] is value:
        return last[1]
    delta = utc(value) - EPOCH
    number = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    _last_micros = (value, number)
    return number


_last_from_micros: tuple[int | None, dt.datetime] = (None, EPOCH)


def from_micros(value: int) -> dt.datetime:
    global _last_from_micros
    last = _last_from_micros
    if last[0] == value:
        return last[1]  # timers read in a batch are often due at one moment
    moment = EPOCH + dt.timedelta(microseconds=value)
    _last_from_micros = (value, moment)
    return moment


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


def _untag(value: dict[str, Any]) -> Any:
    # `_dec` for one JSON object, its members already decoded (a `json` object hook):
    # the C scanner calls it for objects only, so lists and plain values cost nothing.
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag in _TAGS:
            if tag == "$dt":
                return datetime_of(inner)
            if tag == "$date":
                return dt.date.fromisoformat(inner)
            if tag == "$time":
                return dt.time.fromisoformat(inner)
            if tag == "$tuple":
                return tuple(inner)
            if tag == "$set":
                return frozenset(inner)
            return {k: v for k, v in inner}
    return value


def loads(text: str | None) -> Any:
    return None if text is None else _dec(json.loads(text))


_decoder = json.JSONDecoder(object_hook=_untag)


def loads_row(text: str) -> Any:
    """`loads` for a row a store wrote itself (an enrollment): the tags are undone by
    the JSON scanner's object hook, which sees the objects only, instead of by a walk
    over every value. (`loads` keeps failing on values nested deeper than the
    recursion limit, which is how an input event that deep is set aside.)

    >>> loads_row('["e1", {"$dt": "2026-01-01T00:00:00+00:00"}, {"$tuple": [1]}]')
    ['e1', datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), (1,)]
    """
    # `raw_decode`: `decode` without the two regular-expression matches for whitespace
    # around the value, which a store never writes.
    try:
        value, end = _decoder.raw_decode(text)
    except ValueError:
        end = -1
    if end == len(text):
        return value
    return _decoder.decode(text)  # whitespace around it, or not JSON: its error


# Datetimes by their ISO text and the other way, for the `$dt` tag: a batch of rows
# holds the same few moments again and again (when they were enrolled, the firing's
# time). A datetime is immutable, so one object may stand for all equal texts; the
# way back is keyed by the object itself (held here, so its id is not reused).
_datetimes: dict[str, dt.datetime] = {}
_dt_tags: dict[int, tuple[dt.datetime, dict[str, str]]] = {}


def datetime_of(text: str) -> dt.datetime:
    """`datetime.fromisoformat(text)`, the same object for the same text while it is cached."""
    value = _datetimes.get(text)
    if value is None:
        if len(_datetimes) >= 1024:
            _datetimes.clear()
        value = _datetimes[text] = dt.datetime.fromisoformat(text)
    return value


def datetime_tag(value: dt.datetime) -> dict[str, str]:
    """`{"$dt": value.isoformat()}` (what `encode` makes of a datetime), cached by identity.
    The dict is shared: do not change it."""
    found = _dt_tags.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    if len(_dt_tags) >= 1024:
        _dt_tags.clear()
    tag = {"$dt": value.isoformat()}
    _dt_tags[id(value)] = (value, tag)
    return tag


#: Value types whose equal values always have the same JSON text (not float: 0.0 and
#: -0.0 are equal; not a datetime: equal instants in two zones print differently).
_SAME_TEXT = frozenset({str, int, bool, type(None)})
# The text of each history detail seen recently, by its items and the types of its
# keys and values (1, 1.0 and True are equal keys, so the types are part of it).
_detail_texts: dict[tuple[tuple[Any, ...], tuple[type, ...], tuple[type, ...]], str] = {}


def detail_text(detail: Mapping[str, Any]) -> str:
    """`dumps(detail)` for a history entry's detail. Most details come in a few
    shapes with the same values (`{"action": "send_email", "email": "Day two"}`,
    `{}`), so the text of one whose values are all str, int, bool or None is kept
    and reused: looking it up costs less than encoding it again.

    >>> detail_text({"action": "send_email", "n": 1}) == dumps({"action": "send_email", "n": 1})
    True
    """
    try:
        key = (tuple(detail.items()), tuple(map(type, detail)), tuple(map(type, detail.values())))
        text = _detail_texts.get(key)
    except TypeError:  # a value that cannot be a key (a list, a dict)
        return dumps(detail)
    if text is None:
        text = dumps(detail)
        if not (_SAME_TEXT.issuperset(key[2]) and all(t is str for t in key[1])):
            return text
        if len(_detail_texts) >= 4096:
            _detail_texts.clear()
        _detail_texts[key] = text
    return text


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
    "datetime_of",
    "datetime_tag",
    "decode",
    "detail_text",
    "dumps",
    "encode",
    "from_micros",
    "loads",
    "loads_row",
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
