"""What the SQL CRMs (SQLite and PostgreSQL) share about records: a records file
read (by `runtime.inputs`) and its digest, its error, and the JSON form of an
action's result kept in the idempotency log.

>>> seed_of({"contact": [{"id": "c1"}]}).records[0].id
'c1'
>>> result_from_json(result_to_json(ActionResult(data={"deal": "d1"})))
ActionResult(events=(), data={'deal': 'd1'})
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import attrs

from wfdsl.runtime.inputs import Seed, SimulationInputError, load_records_data
from wfdsl.runtime.protocols import ActionResult, Event
from wfdsl.stores.codec import dumps

#: A record's key: (object type, id).
Key = tuple[str, str]


class RecordsError(ValueError):
    """A records file that cannot be imported."""


def seed_of(data: Any) -> Seed:
    """A records file's decoded JSON read by `runtime.inputs` (the one reader of the
    format); RecordsError, with its message, when it is not one."""
    try:
        return load_records_data(data, "records")
    except SimulationInputError as error:
        raise RecordsError(error.message) from None


def seed_digest(seed: Seed) -> str:
    """What a CRM remembers of an imported records file: SHA-256 of its JSON (the same
    digest for the same file, whichever version of wfdsl imported it)."""
    if seed.data is not None:
        return hashlib.sha256(dumps(seed.data).encode("utf-8")).hexdigest()
    rows = [[r.object, r.id, dict(r.properties)] for r in seed.records]
    lists = {name: [list(m) for m in members] for name, members in seed.lists.items()}
    form = [rows, [[list(a), list(b)] for a, b in seed.associations], lists]
    return hashlib.sha256(dumps(form).encode("utf-8")).hexdigest()


_EVENT_FIELDS = frozenset(f.name for f in attrs.fields(Event))


def result_to_json(result: ActionResult) -> dict[str, Any]:
    """`result` as plain data for the idempotency log (the store codec encodes the datetimes)."""
    return {"events": [attrs.asdict(e, recurse=False) for e in result.events], "data": dict(result.data)}


def result_from_json(data: Mapping[str, Any]) -> ActionResult:
    """The `ActionResult` that `result_to_json` wrote (unknown event fields ignored)."""
    events = tuple(Event(**{k: v for k, v in e.items() if k in _EVENT_FIELDS}) for e in data.get("events", ()))
    return ActionResult(events=events, data=dict(data.get("data", {})))


__all__ = ["Key", "RecordsError", "result_from_json", "result_to_json", "seed_digest", "seed_of"]
