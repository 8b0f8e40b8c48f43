"""Property values in every form a CRM's API gives them, read as dates, numbers and booleans.

HubSpot's API sends date and date-time properties as ISO 8601 text
(`2026-03-31`, `2026-03-31T00:00:00.000Z`) or as epoch milliseconds, either a
JSON number or a string of digits (`"1774915200000"`; a date property is
midnight UTC of its day). Numbers and booleans often arrive as strings
(`"42"`, `"true"`). The readers below accept all of these, and nothing that
only looks like them: a number is ASCII decimal text, so full-width or
Arabic-Indic digits and `1_000` are text, not numbers.

`hubspot_value(value, type)` normalises one value for a property type of the
schema (`date`, `datetime`, `number`, `bool`, anything else is left alone) to
the plain JSON form the rest of wfdsl keeps: ISO text for dates and
date-times, a Python number, a bool. Adapters call it on what they read.

>>> hubspot_value("1774915200000", "date"), hubspot_value("2026-03-31T00:00:00.000Z", "date")
('2026-03-31', '2026-03-31')
>>> hubspot_value("42", "number"), hubspot_value("true", "bool"), hubspot_value("４２", "number")
(42, True, '４２')
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

UTC = dt.timezone.utc

__all__ = [
    "as_bool",
    "as_date",
    "as_datetime",
    "as_number",
    "hubspot_value",
    "is_date_form",
    "parse_temporal",
]

#: ASCII decimal numbers only: `str.isdigit` and `float()` also take full-width
#: and Arabic-Indic digits, `1_000`, `nan` and `inf`.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z", re.ASCII)
_EPOCH_MS = re.compile(r"-?[0-9]{1,16}\Z", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", re.ASCII)
_DATETIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ](?P<hm>[0-9]{2}:[0-9]{2})(?P<sec>:[0-9]{2})?"
    r"(?:[.,](?P<frac>[0-9]+))?(?P<zone>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?\Z",
    re.ASCII,
)
#: Epoch milliseconds a calendar can show (years 1 to 9999).
_MS_RANGE = (-62135596800000, 253402300799999)
_MS_PER_DAY = 86_400_000


def _from_epoch_ms(ms: int | float) -> dt.datetime | None:
    if not math.isfinite(ms) or not _MS_RANGE[0] <= ms <= _MS_RANGE[1]:
        return None
    whole = int(ms)
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=whole)


def parse_temporal(value: object) -> dt.date | dt.datetime | None:
    """A date or date-time value as Python data, or None when it is none of the forms.

    ISO dates give a `date`; ISO date-times give a `datetime` (aware when the
    text has a zone or `Z`, naive otherwise); epoch milliseconds (a number or
    a string of ASCII digits) give an aware UTC `datetime`.

    >>> parse_temporal("2026-03-31T00:00:00.000Z") == parse_temporal(1774915200000)
    True
    >>> parse_temporal("2026-02-30"), parse_temporal("next spring"), parse_temporal(True)
    (None, None, None)
    """
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return _from_epoch_ms(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _EPOCH_MS.match(text):
        return _from_epoch_ms(int(text))
    try:
        if _DATE.match(text):
            return dt.date.fromisoformat(text)
        found = _DATETIME.match(text)
        if found is None:
            return None
        frac = (found["frac"] or "")[:6].ljust(6, "0")
        zone = found["zone"] or ""
        if zone in ("Z", "z"):
            zone = "+00:00"
        elif len(zone) == 5:  # +0100
            zone = f"{zone[:3]}:{zone[3:]}"
        elif len(zone) == 3:  # +01
            zone += ":00"
        return dt.datetime.fromisoformat(f"{found['date']}T{found['hm']}{found['sec'] or ':00'}.{frac}{zone}")
    except ValueError:
        return None


def is_date_form(value: object) -> bool:
    """Whether a value is a date rather than a moment: ISO date text, or midnight UTC
    (how HubSpot sends a date property as epoch milliseconds or ISO date-time).

    >>> is_date_form("2026-03-31"), is_date_form(1774915200000), is_date_form("2026-03-31T09:00Z")
    (True, True, False)
    """
    parsed = parse_temporal(value)
    if isinstance(parsed, dt.datetime):
        return parsed.tzinfo is not None and parsed.utcoffset() == dt.timedelta(0) and parsed.time() == dt.time(0, 0)
    return isinstance(parsed, dt.date)


def as_date(value: object, tz: dt.tzinfo = UTC) -> dt.date | None:
    """A value as a calendar day: the day of a date; of a date-time, its day in `tz`,
    except that midnight UTC (how a date property travels as epoch milliseconds or
    `...T00:00:00.000Z`) is the day it names. None when it is not a date.

    >>> import zoneinfo
    >>> ny = zoneinfo.ZoneInfo("America/New_York")
    >>> as_date("1774915200000", ny), as_date("2026-03-31T03:00:00Z", ny)
    (datetime.date(2026, 3, 31), datetime.date(2026, 3, 30))
    """
    parsed = parse_temporal(value)
    if isinstance(parsed, dt.datetime):
        if parsed.tzinfo is None or is_date_form(parsed):
            return parsed.date()
        return parsed.astimezone(tz).date()
    return parsed


def as_datetime(value: object, tz: dt.tzinfo = UTC) -> dt.datetime | None:
    """A value as an aware instant: a date is its midnight in `tz`, a naive date-time
    is in UTC. None when it is not a date or date-time."""
    parsed = parse_temporal(value)
    if isinstance(parsed, dt.datetime):
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(parsed, dt.date):
        return dt.datetime(parsed.year, parsed.month, parsed.day, tzinfo=tz)
    return None


def as_number(value: object) -> int | float | None:
    """A value as a number: an int or a finite float, or ASCII decimal text.

    >>> as_number("42"), as_number(" -3.5 "), as_number("1_000"), as_number("٤٢"), as_number(True)
    (42, -3.5, None, None, None)
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.match(text):
            return None
        if text.lstrip("+-").isdigit():
            return int(text)
        out = float(text)
        return out if math.isfinite(out) else None
    try:
        number = float(value)  # type: ignore[arg-type]  # Decimal and friends
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


def as_bool(value: object) -> bool | None:
    """A value as a boolean: a bool, `"true"`/`"false"` (any case; also yes/no, 1/0).

    >>> as_bool("TRUE"), as_bool("false"), as_bool(1), as_bool("maybe")
    (True, False, True, None)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        return None
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def hubspot_value(value: Any, type: str) -> Any:
    """One property value as the API sent it, normalised for a schema property type.

    `date` -> `"YYYY-MM-DD"`; `datetime` -> ISO 8601 with offset
    (`"2026-03-31T00:00:00+00:00"`; a bare date is midnight UTC); `number` -> int
    or float; `bool` -> True/False. A value that is not of its type, an empty
    one, and every value of other types (`string`, `enumeration`) come back
    unchanged, so no data is lost.

    >>> hubspot_value(1774915200000, "datetime")
    '2026-03-31T00:00:00+00:00'
    >>> hubspot_value("not a date", "date"), hubspot_value("", "number"), hubspot_value("7", "string")
    ('not a date', '', '7')
    """
    if value is None or value == "":
        return value
    if type == "date":
        day = as_date(value)
        return value if day is None else day.isoformat()
    if type == "datetime":
        moment = as_datetime(value)
        return value if moment is None else moment.isoformat()
    if type == "number":
        number = as_number(value)
        return value if number is None else number
    if type == "bool":
        flag = as_bool(value)
        return value if flag is None else flag
    return value
