"""Plan criteria in; a SQL condition over the embedded CRM's `records` table out.

`SQLiteCRM.query(object, criteria)` and `PostgresCRM.query` push down what they
can (a `Dialect` each), so `wfdsl preview`,
`enroll existing records` and schedules read fewer records. The condition is
a *superset* filter: it never drops a record that meets the criteria (the
caller re-checks every record it gets), so a part it cannot translate
exactly becomes `1` (true). Translated: text equality and `is any of` on the
record's own properties (ASCII literals that cannot be read as a number, date
or boolean; compared case-insensitively, as the runtime does, and any value
with non-ASCII letters is let through), `is
known`, list membership, and `and` / `or` / `not` of those (`not` only over
an exact part).

>>> criteria_sql(pc.InList(list="VIP"), "contact")[1]
['VIP']
>>> criteria_sql(pc.EnrolledIn(workflow="W"), "contact")
('1', [])
"""

from __future__ import annotations

from typing import Any

import attrs

from wfdsl.plan import criteria as pc


@attrs.frozen(kw_only=True)
class Dialect:
    """How one database spells what the translation needs. The records table has the
    columns `object`, `id` and `props` (the properties as JSON text); the lists table
    `object`, `id` and `list`."""

    records: str
    lists: str
    mark: str  # the parameter placeholder
    value: str  # a property's value as text (SQL NULL when absent or null); {name}
    non_ascii: str  # a text expression has a character outside printable ASCII; {text}
    true: str = "1"


SQLITE = Dialect(
    records="records",
    lists="lists",
    mark="?",
    value="CAST(json_extract(props, '$.\"{name}\"') AS TEXT)",
    non_ascii="{text} GLOB '*[^ -~]*'",
)
POSTGRES = Dialect(
    records="crm_records",
    lists="crm_lists",
    mark="%s",
    value="(props::jsonb ->> '{name}')",
    non_ascii="{text} ~ '[^ -~]'",
    true="TRUE",
)


def _prop(node: pc.Criterion, object_type: str, dialect: Dialect) -> str | None:
    if not isinstance(node, pc.Leaf):
        return None
    name = node.property
    if node.object != object_type or not isinstance(name, str) or not name.isidentifier():
        return None
    if name in ("id", "hs_object_id"):
        return None  # the record's id, not a stored property
    return dialect.value.format(name=name)


def _ascii_text(value: Any) -> bool:
    """A literal only text can equal: ASCII, not a number, date or boolean in disguise
    (the runtime also reads numbers, booleans and dates written as text)."""
    if not isinstance(value, str) or not value.isascii() or not value.strip():
        return False
    head = value.strip()[0]
    return not (head.isdigit() or head in "+-.") and value.strip().lower() not in ("true", "false")


def _translate(node: pc.Criterion, object_type: str, d: Dialect) -> tuple[str, list[Any], bool]:
    """(SQL, parameters, exact): `exact` when the SQL holds exactly for the records that
    meet the node, else it holds at least for them."""
    everything: tuple[str, list[Any], bool] = (d.true, [], False)
    op = node.op
    if isinstance(node, (pc.AllOf, pc.AnyOf)):
        items = node.items
        parts = [_translate(item, object_type, d) for item in items]
        if not parts or (op == "or" and any(sql == d.true for sql, _, _ in parts)):
            return everything
        if op == "and":
            parts = [p for p in parts if p[0] != d.true]
            if not parts:
                return everything
        joiner = " AND " if op == "and" else " OR "
        sql = joiner.join(f"({p[0]})" for p in parts)
        params = [x for p in parts for x in p[1]]
        exact = all(p[2] for p in parts) and len(parts) == len(items)
        return sql, params, exact
    if isinstance(node, pc.Not):
        sql, params, exact = _translate(node.item, object_type, d)
        if not exact:
            return everything
        return f"NOT ({sql})", params, True
    if isinstance(node, pc.InList):
        return (
            f"EXISTS (SELECT 1 FROM {d.lists} l WHERE l.object = {d.records}.object "
            f"AND l.id = {d.records}.id AND l.list = {d.mark})",
            [node.list],
            True,
        )
    text = _prop(node, object_type, d)
    if text is None:
        return everything
    if op == "known":
        # `known` also needs a non-empty value: NOT NULL is a superset.
        return f"{text} IS NOT NULL", [], False
    loose = d.non_ascii.format(text=text)  # non-ASCII: let the runtime's case folding decide
    if isinstance(node, pc.Compare) and op == "eq" and _ascii_text(node.value):
        return f"lower({text}) = {d.mark} OR {loose}", [str(node.value).lower()], False
    if isinstance(node, pc.InValues) and op == "in":
        values = node.values
        if isinstance(values, list) and values and all(_ascii_text(v) for v in values):
            marks = ", ".join(d.mark for _ in values)
            return f"lower({text}) IN ({marks}) OR {loose}", [str(v).lower() for v in values], False
    return everything


def criteria_sql(criteria: pc.Criterion | None, object_type: str, dialect: Dialect = SQLITE) -> tuple[str, list[Any]]:
    """A WHERE condition (and its parameters) that every `object_type` record meeting
    `criteria` satisfies; `("1", [])` (`TRUE` in PostgreSQL) when nothing can be pushed
    down."""
    if criteria is None:
        return dialect.true, []
    sql, params, _ = _translate(criteria, object_type, dialect)
    return sql, params


__all__ = ["POSTGRES", "SQLITE", "Dialect", "criteria_sql"]
