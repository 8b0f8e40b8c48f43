"""Plan criteria in; a SQL condition over the embedded CRM's `records` table out.

`SQLiteCRM.query(object, criteria)` pushes down what it can, so `wfdsl preview`,
`enroll existing records` and schedules read fewer records. The condition is
a *superset* filter: it never drops a record that meets the criteria (the
caller re-checks every record it gets), so a part it cannot translate
exactly becomes `1` (true). Translated: text equality and `is any of` on the
record's own properties (ASCII literals that cannot be read as a number, date
or boolean; compared case-insensitively, as the runtime does, and any value
with non-ASCII letters is let through), `is
known`, list membership, and `and` / `or` / `not` of those (`not` only over
an exact part).

>>> criteria_sql({"op": "in_list", "list": "VIP"}, "contact")[1]
['VIP']
>>> criteria_sql({"op": "enrolled_in", "workflow": "W"}, "contact")
('1', [])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ALL: tuple[str, list[Any], bool] = ("1", [], False)


def _prop(node: Mapping[str, Any], object_type: str) -> str | None:
    name = node.get("property")
    if node.get("object") != object_type or not isinstance(name, str) or not name.isidentifier():
        return None
    if name in ("id", "hs_object_id"):
        return None  # the record's id, not a stored property
    return f"json_extract(props, '$.\"{name}\"')"


def _ascii_text(value: Any) -> bool:
    """A literal only text can equal: ASCII, not a number, date or boolean in disguise
    (the runtime also reads numbers, booleans and dates written as text)."""
    if not isinstance(value, str) or not value.isascii() or not value.strip():
        return False
    head = value.strip()[0]
    return not (head.isdigit() or head in "+-.") and value.strip().lower() not in ("true", "false")


def _translate(node: Any, object_type: str) -> tuple[str, list[Any], bool]:
    """(SQL, parameters, exact): `exact` when the SQL holds exactly for the records that
    meet the node, else it holds at least for them."""
    if not isinstance(node, Mapping):
        return _ALL
    op = node.get("op")
    if op in ("and", "or"):
        parts = [_translate(item, object_type) for item in node.get("items", [])]
        if not parts:
            return _ALL
        if op == "or" and any(sql == "1" for sql, _, _ in parts):
            return _ALL
        parts = [p for p in parts if p[0] != "1"] if op == "and" else parts
        if not parts:
            return _ALL
        joiner = " AND " if op == "and" else " OR "
        sql = joiner.join(f"({p[0]})" for p in parts)
        params = [x for p in parts for x in p[1]]
        exact = all(p[2] for p in parts) and len(parts) == len(node.get("items", []))
        return sql, params, exact
    if op == "not":
        sql, params, exact = _translate(node.get("item"), object_type)
        if not exact:
            return _ALL
        return f"NOT ({sql})", params, True
    if op == "in_list" and isinstance(node.get("list"), str):
        return (
            "EXISTS (SELECT 1 FROM lists l WHERE l.object = records.object AND l.id = records.id AND l.list = ?)",
            [node["list"]],
            True,
        )
    column = _prop(node, object_type)
    if column is None:
        return _ALL
    if op == "known":
        # `known` also needs a non-empty value: NOT NULL is a superset.
        return f"{column} IS NOT NULL", [], False
    text = f"CAST({column} AS TEXT)"
    loose = f"{text} GLOB '*[^ -~]*'"  # non-ASCII: let the runtime's case folding decide
    if op == "eq" and _ascii_text(node.get("value")):
        return f"lower({text}) = ? OR {loose}", [str(node["value"]).lower()], False
    if op == "in":
        values = node.get("values")
        if isinstance(values, list) and values and all(_ascii_text(v) for v in values):
            marks = ", ".join("?" for _ in values)
            return f"lower({text}) IN ({marks}) OR {loose}", [str(v).lower() for v in values], False
    return _ALL


def criteria_sql(criteria: Mapping[str, Any] | None, object_type: str) -> tuple[str, list[Any]]:
    """A WHERE condition (and its parameters) that every `object_type` record meeting
    `criteria` satisfies; `("1", [])` when nothing can be pushed down."""
    if criteria is None:
        return "1", []
    sql, params, _ = _translate(criteria, object_type)
    return sql, params


__all__ = ["criteria_sql"]
