"""Traces, histories and outbox rows in; the same with personal data replaced by stable hashes.

What `--redact` does, so a trace can be pasted into an issue. Replaced:

- email addresses and phone numbers anywhere in a text;
- the values of personal properties (`PERSONAL`: email, names, phone
  numbers, addresses, birth dates) and of every property the schema marks
  `sensitive`, wherever the value is keyed by the property (record
  properties, `set contact.firstname = …`, event properties);
- those values where they appear inside other texts (a rendered
  `Hi {{ contact.firstname }}`), when the records are known (simulate and
  explain read them from the records file).

A replacement is `<kind:10 hex digits>` (kind `email`, `phone`, `name`,
`sensitive`): the same value gives the same hash, so one record can be
followed through a trace. Record ids, workflow names, step ids, times, list
names and email names (`send email "Welcome"`) are kept. Set
`WFDSL_REDACT_SALT` to salt the hashes (else a guessed address can be
confirmed by hashing it).

>>> r = Redactor(salt="")
>>> r.text("write to ann@example.com or +1 555 010 9999")
'write to <email:8d12c95c41> or <phone:5267a0ce4c>'
>>> r.json({"properties": {"firstname": "Ann", "lifecyclestage": "lead"}})
{'properties': {'firstname': '<name:4da8fcc77d>', 'lifecyclestage': 'lead'}}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from wfdsl.runtime.protocols import HistoryEntry
from wfdsl.schema import Schema

#: Properties (of any object type) that hold personal data, and the kind of hash each gets.
PERSONAL: Mapping[str, str] = {
    "email": "email",
    "work_email": "email",
    "hs_additional_emails": "email",
    "firstname": "name",
    "lastname": "name",
    "full_name": "name",
    "salutation": "name",
    "phone": "phone",
    "mobilephone": "phone",
    "fax": "phone",
    "address": "sensitive",
    "zip": "sensitive",
    "date_of_birth": "sensitive",
    "birthdate": "sensitive",
    "ip_address": "sensitive",
}

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A phone number: an international `+` form, or groups of 2-4 digits joined by
# spaces, dots or dashes (an area code may be in parentheses); 7 to 15 digits in
# all. Plain numbers (amounts, ids) have no separators and stay; dates are left alone.
PHONE = re.compile(
    r"(?<![\w+.-])(?:\+\d{7,15}|(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4})(?![\w:.-])"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")


def _looks_like_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return 7 <= digits <= 15 and not _DATE.match(text)


@attrs.define
class Redactor:
    """Replaces personal data with stable hashes (see the module docs).

    `sensitive`: more property names to hide (the schema's `sensitive`
    properties); `values`: personal values known from the records, hidden
    wherever they appear.
    """

    sensitive: frozenset[str] = frozenset()
    values: Mapping[str, str] = attrs.field(factory=dict)  # value -> kind
    salt: str = attrs.field(factory=lambda: os.environ.get("WFDSL_REDACT_SALT", ""))
    _pattern: re.Pattern[str] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        words = sorted((v for v in self.values if len(v) >= 2), key=len, reverse=True)
        if words:
            self._pattern = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b")

    def token(self, kind: str, value: Any) -> str:
        """`<kind:hash>`; addresses are hashed in lower case and phone numbers by their
        digits, so one value gives one hash however it is written."""
        if kind == "email":
            value = str(value).lower()
        elif kind == "phone":
            value = re.sub(r"\D", "", str(value))
        digest = hashlib.sha256(f"{self.salt}\x00{value}".encode()).hexdigest()
        return f"<{kind}:{digest[:10]}>"

    def kind_of(self, prop: str) -> str | None:
        """The hash kind for a property name, or None when it is not personal."""
        if prop in self.sensitive:
            return PERSONAL.get(prop, "sensitive")
        return PERSONAL.get(prop)

    def text(self, value: str) -> str:
        """A text with known personal values, email addresses and phone numbers replaced."""
        if self._pattern is not None:
            value = self._pattern.sub(lambda m: self.token(self.values[m.group(0)], m.group(0)), value)
        value = EMAIL.sub(lambda m: self.token("email", m.group(0).lower()), value)
        return PHONE.sub(
            lambda m: (
                self.token("phone", re.sub(r"\D", "", m.group(0))) if _looks_like_phone(m.group(0)) else m.group(0)
            ),
            value,
        )

    def json(self, data: Any) -> Any:
        """JSON data with personal data replaced: values keyed by a personal property, a
        `{"property": P, "value": V}` pair for a personal P, and every text."""
        if isinstance(data, Mapping):
            prop = data.get("property")
            kind = self.kind_of(prop) if isinstance(prop, str) else None
            out: dict[str, Any] = {}
            for key, value in data.items():
                key_kind = self.kind_of(key) if isinstance(key, str) else None
                if key == "value" and kind is not None and value is not None:
                    out[key] = self.token(kind, value)
                elif key_kind == "email":
                    # `email` is also the marketing email's name in `send email "Welcome"`:
                    # addresses are found by their shape instead.
                    out[key] = self.json(value)
                elif key_kind is not None and value is not None and not isinstance(value, (Mapping, list)):
                    out[key] = self.token(key_kind, value)
                else:
                    out[key] = self.json(value)
            return out
        if isinstance(data, list):
            return [self.json(item) for item in data]
        if isinstance(data, str):
            return self.text(data)
        return data

    def entry(self, entry: HistoryEntry) -> HistoryEntry:
        """A history entry with its detail redacted."""
        return attrs.evolve(entry, detail=self.json(dict(entry.detail)))


def sensitive_properties(schema: Schema | None) -> frozenset[str]:
    """The names of the properties a schema marks `sensitive` (any object type)."""
    if schema is None:
        return frozenset()
    return frozenset(
        name
        for object_type in schema.object_types
        for name, prop in schema.properties(object_type).items()
        if prop.sensitive
    )


def record_properties(data: Any) -> list[Mapping[str, Any]]:
    """The property dicts of a records file (decoded JSON: `{"contact": [{…}], …}`);
    anything else in it is passed over."""
    out: list[Mapping[str, Any]] = []
    if not isinstance(data, Mapping):
        return out
    for key, items in data.items():
        if key in ("associations", "lists") or not isinstance(items, list):
            continue
        out.extend(item for item in items if isinstance(item, Mapping))
    return out


def records_file_properties(path: str | None) -> list[Mapping[str, Any]]:
    """`record_properties` of a records file on disk ([] when it cannot be read: the
    command reading it reports that)."""
    if path is None:
        return []
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return record_properties(json.load(handle))
    except (OSError, ValueError):
        return []


def redactor_for(schema: Schema | None, records: Iterable[Mapping[str, Any]] = ()) -> Redactor:
    """A redactor for a project: its schema's sensitive properties, and the personal values
    of the given records' properties (dicts of property -> value)."""
    sensitive = sensitive_properties(schema)
    probe = Redactor(sensitive=sensitive, salt="")
    values: dict[str, str] = {}
    for props in records:
        for prop, value in props.items():
            kind = probe.kind_of(prop)
            if kind is not None and isinstance(value, str) and value.strip():
                values[value] = kind
    return Redactor(sensitive=sensitive, values=values)


__all__ = [
    "PERSONAL",
    "Redactor",
    "record_properties",
    "records_file_properties",
    "redactor_for",
    "sensitive_properties",
]
