"""Compiled criteria: every operator, the null semantics, case rules,
numbers held as text, dates and relative dates on a fixed clock, event criteria,
URL parts, event and property history — and agreement with a reference interpreter."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfdsl.plan.codec import criteria_from_data, event_pattern
from wfdsl.plan.criteria import Criterion
from wfdsl.runtime.criteria import (
    compile_criteria,
    compile_event_criteria,
    compile_event_matcher,
    compile_record_predicate,
    evaluate_criteria,
    explain_criteria,
    url_parts,
    values_equal,
)

UTC = dt.timezone.utc


def T(data: Mapping[str, Any] | None) -> Criterion | None:  # noqa: N802 - table shorthand
    """Criteria from their plan JSON form (the tables below are written as plan JSON)."""
    return None if data is None else criteria_from_data(data)


OSLO = ZoneInfo("Europe/Oslo")
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # 14:00 in Oslo (CEST)


@attrs.define
class FakeFacts:
    """Facts of one contact with an associated company."""

    props: dict[str, object] = attrs.field(factory=dict)  # "contact.email" -> value
    hist: dict[str, list[object]] = attrs.field(factory=dict)
    lists: set[str] = attrs.field(factory=set)
    evs: dict[str, list[tuple[dt.datetime, Mapping[str, object]]]] = attrs.field(factory=dict)
    enrolled: set[str] = attrs.field(factory=set)
    goals: set[str] = attrs.field(factory=set)
    received: bool | None = None
    now: dt.datetime = NOW
    tz: dt.tzinfo = OSLO

    def value(self, object_type: str, prop: str) -> object | None:
        return self.props.get(f"{object_type}.{prop}")

    def history(self, object_type: str, prop: str) -> Sequence[object]:
        return self.hist.get(f"{object_type}.{prop}", [])

    def in_list(self, name: str) -> bool:
        return name in self.lists

    def events(self, event_type: str) -> Sequence[tuple[dt.datetime, Mapping[str, object]]]:
        return self.evs.get(event_type, [])

    def enrolled_in(self, workflow: str) -> bool:
        return workflow in self.enrolled

    def reached_goal(self, workflow: str) -> bool:
        return workflow in self.goals


def P(op: str, prop: str = "x", **more: Any) -> dict[str, Any]:  # noqa: N802 - table shorthand
    return {"op": op, "object": "contact", "property": prop, **more}


DAY = 86400
# (criteria, value of contact.x, expected)
PROPERTY_TABLE: list[tuple[dict[str, Any], object, bool]] = [
    # = and != : case-insensitive text; unknown matches only the negative form
    (P("eq", value="lead"), "lead", True),
    (P("eq", value="lead"), "LEAD", True),
    (P("eq", value="lead"), "leads", False),
    (P("eq", value="lead"), None, False),
    (P("eq", value="lead"), "", False),
    (P("ne", value="lead"), None, True),
    (P("ne", value="lead"), "", True),
    (P("ne", value="lead"), "Lead", False),
    (P("ne", value="lead"), "customer", True),
    # numbers, also when the record holds text
    (P("eq", value=50), "50", True),
    (P("eq", value=50), 50.0, True),
    (P("eq", value="50"), 50, True),
    (P("ge", value=50), "50", True),
    (P("ge", value=50), " 75 ", True),
    (P("ge", value=50), 49.9, False),
    (P("gt", value=50), "n/a", False),
    (P("lt", value=50), None, False),
    (P("le", value=50), 50, True),
    (P("lt", value=50), True, False),
    (P("ne", value=50), "n/a", True),
    (P("ne", value=50), None, True),
    # booleans
    (P("eq", value=True), True, True),
    (P("eq", value=True), "true", True),
    (P("eq", value=True), "FALSE", False),
    (P("eq", value=False), False, True),
    (P("eq", value=False), None, False),
    (P("ne", value=True), None, True),
    # known / unknown
    (P("known"), "x", True),
    (P("known"), 0, True),
    (P("known"), False, True),
    (P("known"), "", False),
    (P("known"), None, False),
    (P("unknown"), None, True),
    (P("unknown"), "", True),
    (P("unknown"), "x", False),
    # in / not in
    (P("in", values=["NO", "SE"]), "no", True),
    (P("in", values=["NO", "SE"]), "DK", False),
    (P("in", values=["NO", "SE"]), None, False),
    (P("not_in", values=["NO", "SE"]), None, True),
    (P("not_in", values=["NO", "SE"]), "se", False),
    (P("not_in", values=["NO", "SE"]), "DK", True),
    (P("in", values=[1, 2]), "2", True),
    (P("in", values=[1, "two"]), "TWO", True),
    # between
    (P("between", low=10, high=20), "15", True),
    (P("between", low=10, high=20), 20, True),
    (P("between", low=10, high=20), 21, False),
    (P("between", low=10, high=20), None, False),
    (P("between", low={"date": "2026-01-01"}, high={"date": "2026-01-31"}), "2026-01-31", True),
    # text matches: case-insensitive; unknown matches only `not contains`
    (P("contains", value="ACME"), "The acme corp", True),
    (P("contains", value="acme"), None, False),
    (P("contains", value="acme"), "", False),
    (P("not_contains", value="acme"), None, True),
    (P("not_contains", value="acme"), "", True),
    (P("not_contains", value="acme"), "ACME", False),
    (P("starts_with", value="Dr."), "dr. Who", True),
    (P("starts_with", value="Dr."), "Mr. Who", False),
    (P("ends_with", value="@Example.com"), "ann@example.COM", True),
    (P("ends_with", value="@example.com"), None, False),
    (P("contains", value="5"), 150, True),
    # dates: calendar days in the workflow time zone (Oslo)
    (P("eq", value={"date": "2026-03-01"}), "2026-03-01", True),
    (P("eq", value={"date": "2026-03-01"}), dt.date(2026, 3, 1), True),
    (P("eq", value={"date": "2026-03-01"}), "2026-02-28T23:30:00Z", True),  # 00:30 in Oslo
    (P("eq", value={"date": "2026-03-01"}), dt.datetime(2026, 3, 1, 23, 30, tzinfo=UTC), False),
    (P("before", value={"date": "2026-01-01"}), "2025-12-31", True),
    (P("before", value={"date": "2026-01-01"}), "2025-12-31T23:30:00Z", False),
    (P("before", value={"date": "2026-01-01"}), None, False),
    (P("after", value={"date": "2026-01-01"}), "2026-01-02", True),
    (P("after", value={"date": "2026-01-01"}), "2026-01-01", False),
    (P("after", value={"date": "2026-01-01"}), "not a date", False),
    (P("after", value={"datetime": "2026-06-15T09:00"}), "2026-06-15T07:30:00Z", True),
    (P("before", value={"datetime": "2026-06-15T09:00"}), "2026-06-15T06:30:00Z", True),
    (P("ge", value={"time": "09:00"}), "09:30", True),
    # relative dates with now = 2026-06-15 (Oslo)
    (P("within_last", duration={"parts": [[30, "day"]], "seconds": 30 * DAY}), "2026-05-16", True),
    (P("within_last", duration={"parts": [[30, "day"]], "seconds": 30 * DAY}), "2026-05-15", False),
    (P("within_last", duration={"parts": [[30, "day"]], "seconds": 30 * DAY}), "2026-06-16", False),
    (P("within_last", duration={"parts": [[30, "day"]], "seconds": 30 * DAY}), None, False),
    (P("within_next", duration={"parts": [[7, "day"]], "seconds": 7 * DAY}), "2026-06-22", True),
    (P("within_next", duration={"parts": [[7, "day"]], "seconds": 7 * DAY}), "2026-06-23", False),
    (P("more_than_ago", duration={"parts": [[30, "day"]], "seconds": 30 * DAY}), "2026-05-15", True),
    (P("more_than_ago", duration={"parts": [[30, "day"]], "seconds": 30 * DAY}), "2026-05-16", False),
    (P("more_than_ago", duration={"parts": [[30, "day"]], "seconds": 30 * DAY}), None, False),
    (P("within_last", duration={"parts": [[1, "hour"]], "seconds": 3600}), "2026-06-15T11:30:00Z", True),
    (P("within_last", duration={"parts": [[1, "hour"]], "seconds": 3600}), "2026-06-15T10:30:00+00:00", False),
    (
        P("within_last", duration={"parts": [[1, "hour"]], "seconds": 3600}),
        dt.datetime(2026, 6, 15, 13, 30, tzinfo=OSLO),
        True,
    ),
]


def _ids(row: tuple[dict[str, Any], object, bool]) -> str:
    data, value, expected = row
    shown = {k: v for k, v in data.items() if k not in ("object", "property")}
    return f"{shown}-{value!r}-{expected}"


@pytest.mark.parametrize("row", PROPERTY_TABLE, ids=[_ids(r) for r in PROPERTY_TABLE])
def test_property_operators(row: tuple[dict[str, Any], object, bool]) -> None:
    data, value, expected = row
    facts = FakeFacts(props={} if value is None else {"contact.x": value})
    assert compile_criteria(T(data))(facts) is expected
    assert evaluate_criteria(T(data), facts) is expected
    record = compile_record_predicate(T(data), object_type="contact", now=lambda: NOW, tz=OSLO)
    assert record({"x": value}) is expected
    as_event = {k: v for k, v in data.items() if k not in ("object", "property")}
    as_event["attribute"] = "x"
    assert compile_event_criteria(T(as_event))({"x": value}, facts) is expected


def test_has_ever_been_and_never_been_use_the_history() -> None:
    facts = FakeFacts(
        props={"contact.stage": "customer"},
        hist={"contact.stage": ["lead", "MQL", "customer"]},
    )
    assert compile_criteria(T(P("ever", "stage", value="mql")))(facts) is True
    assert compile_criteria(T(P("ever", "stage", value="opportunity")))(facts) is False
    assert compile_criteria(T(P("never", "stage", value="opportunity")))(facts) is True
    assert compile_criteria(T(P("never", "stage", value="Lead")))(facts) is False
    empty = FakeFacts()
    assert compile_criteria(T(P("never", "stage", value="lead")))(empty) is True
    assert compile_criteria(T(P("ever", "stage", value="lead")))(empty) is False


def test_associated_records_are_read_through_facts() -> None:
    facts = FakeFacts(props={"company.industry": "Software"})
    data = {"op": "eq", "object": "company", "property": "industry", "value": "software"}
    assert compile_criteria(T(data))(facts) is True
    with pytest.raises(ValueError, match="associated record"):
        compile_record_predicate(T(data), object_type="contact")


def test_lists_workflows_and_received() -> None:
    facts = FakeFacts(lists={"VIP"}, enrolled={"Welcome"}, goals={"Nurture"}, received=True)
    assert compile_criteria(T({"op": "in_list", "list": "VIP"}))(facts) is True
    assert compile_criteria(T({"op": "not", "item": {"op": "in_list", "list": "VIP"}}))(facts) is False
    assert compile_criteria(T({"op": "enrolled_in", "workflow": "Welcome"}))(facts) is True
    assert compile_criteria(T({"op": "enrolled_in", "workflow": "Other"}))(facts) is False
    assert compile_criteria(T({"op": "reached_goal", "workflow": "Nurture"}))(facts) is True
    assert compile_criteria(T({"op": "received"}))(facts) is True
    assert compile_criteria(T({"op": "received"}))(FakeFacts(received=None)) is False
    assert compile_criteria(T({"op": "received"}))(FakeFacts(received=False)) is False
    with pytest.raises(ValueError, match="facts"):
        compile_record_predicate(T({"op": "in_list", "list": "VIP"}))


def _has(event: dict[str, Any], negated: bool = False, days: int | None = None) -> dict[str, Any]:
    within = None if days is None else {"parts": [[days, "day"]], "seconds": days * DAY}
    return {"op": "has_event", "event": event, "negated": negated, "within": within}


DEMO = {
    "type": "form.submitted",
    "negated": False,
    "criteria": {"op": "eq", "attribute": "form", "value": "demo REQUEST"},
}


def test_has_event_with_criteria_and_within() -> None:
    facts = FakeFacts(
        evs={
            "form.submitted": [
                (
                    dt.datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
                    {"form": "Demo request", "url": "https://www.example.com/demo?utm=x"},
                ),
            ]
        }
    )
    assert compile_criteria(T(_has(DEMO)))(facts) is True
    assert compile_criteria(T(_has(DEMO, days=30)))(facts) is True
    assert compile_criteria(T(_has(DEMO, days=7)))(facts) is False
    assert compile_criteria(T(_has(DEMO, negated=True)))(facts) is False
    assert compile_criteria(T(_has(DEMO, negated=True, days=7)))(facts) is True
    other = dict(DEMO, criteria={"op": "eq", "attribute": "form", "value": "Contact us"})
    assert compile_criteria(T(_has(other)))(facts) is False
    by_path = dict(DEMO, criteria={"op": "eq", "attribute": "url.path", "value": "/demo"})
    assert compile_criteria(T(_has(by_path)))(facts) is True
    assert compile_criteria(T(_has({"type": "page.visited", "criteria": None})))(facts) is False
    assert compile_criteria(T(_has({"type": "page.visited", "criteria": None}, True)))(facts) is True


def test_has_property_changed_event() -> None:
    change = {"type": "property.changed", "object": "contact", "property": "city", "to": "Dublin", "criteria": None}
    facts = FakeFacts(
        evs={
            "property.changed": [
                (NOW, {"property": "city", "previous": "Oslo", "value": "dublin"}),
            ]
        }
    )
    assert compile_criteria(T(_has(change)))(facts) is True
    assert compile_criteria(T(_has(dict(change, to="Cork"))))(facts) is False
    assert compile_criteria(T(_has(dict(change, property="country"))))(facts) is False


def test_event_matcher_for_property_changes() -> None:
    match = compile_event_matcher(
        event_pattern(
            {
                "type": "property.changed",
                "object": "deal",
                "property": "dealstage",
                "from": "appointment",
                "to": "closedwon",
            }
        )
    )
    assert match({"property": "dealstage", "previous": "appointment", "value": "closedwon"})
    assert match({"property": "deal.dealstage", "previous": "Appointment", "value": "CLOSEDWON"})
    assert not match({"property": "dealstage", "previous": "qualified", "value": "closedwon"})
    assert not match({"property": "amount", "previous": "appointment", "value": "closedwon"})
    anything = compile_event_matcher(
        event_pattern({"type": "property.changed", "object": "contact", "property": "city"})
    )
    assert anything({"property": "city", "previous": None, "value": "Oslo"})


def test_url_parts() -> None:
    assert url_parts("https://www.example.com/search?q=1") == {
        "url": "https://www.example.com/search?q=1",
        "url.base": "www.example.com/search",
        "url.domain": "example.com",
        "url.path": "/search",
    }
    assert url_parts("example.org")["url.domain"] == "example.org"
    assert url_parts("http://Shop.Example.com:8080")["url.path"] == "/"
    assert url_parts("http://Shop.Example.com:8080")["url.domain"] == "shop.example.com"


def test_event_criteria_use_url_parts() -> None:
    attrs_ = {"form": "Contact us", "url": "https://www.example.com/search?q=1"}
    check = compile_event_criteria(
        T(
            {
                "op": "and",
                "items": [
                    {"op": "eq", "attribute": "url.base", "value": "www.example.com/search"},
                    {"op": "eq", "attribute": "url.domain", "value": "example.com"},
                    {"op": "starts_with", "attribute": "url.path", "value": "/sea"},
                    {"op": "eq", "attribute": "form", "value": "contact US"},
                ],
            }
        )
    )
    assert check(attrs_) is True
    assert compile_event_criteria(T({"op": "eq", "attribute": "url.path", "value": "/x"}))(attrs_) is False
    assert compile_event_criteria(T(None))({}) is True
    assert compile_event_criteria(T({"op": "unknown", "attribute": "url.path"}))({}) is True


def test_explain_tree(snapshot: Any) -> None:
    data = {
        "op": "or",
        "items": [
            {
                "op": "and",
                "items": [
                    P("eq", "lifecyclestage", value="lead"),
                    P("ge", "score", value=50),
                ],
            },
            {"op": "in_list", "list": "VIP"},
            _has(DEMO, days=30),
        ],
    }
    facts = FakeFacts(props={"contact.lifecyclestage": "Lead", "contact.score": "40"})
    tree = explain_criteria(T(data), facts)
    assert tree.result is False
    assert [c.result for c in tree.children] == [False, False, False]
    assert tree.children[0].children[1].value == "40"
    assert tree.render() == snapshot


def test_values_equal() -> None:
    assert values_equal("Dublin", "dublin")
    assert not values_equal(None, None)
    assert values_equal("2026-03-01T10:00:00Z", dt.date(2026, 3, 1), OSLO)


def test_deep_trees_fall_back_and_agree() -> None:
    data: dict[str, Any] = P("eq", value="a")
    for _ in range(300):
        data = {"op": "not", "item": data}
    facts = FakeFacts(props={"contact.x": "A"})
    assert compile_criteria(T(data))(facts) is True  # 300 negations of a true leaf
    assert compile_record_predicate(T(data))({"x": "b"}) is False


# ---------------------------------------------------------------- reference interpreter


def _ref_unknown(v: object) -> bool:
    return v is None or v == ""


def _ref_text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v).casefold()


def _ref_num(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        out = float(str(v).strip())
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def _ref_bool(v: object) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return bool(v) if v in (0, 1) else None
    if isinstance(v, str):
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(v.strip().casefold())
    return None


def _ref_cmp(op: str, v: object, lit: object) -> bool:
    if _ref_unknown(v):
        return False
    if isinstance(lit, bool):
        return op == "eq" and _ref_bool(v) is lit
    left: Any
    right: Any
    if isinstance(lit, (int, float)):
        left, right = _ref_num(v), lit
        if left is None:
            return False
    else:
        left, right = _ref_text(v), str(lit).casefold()
    return {"eq": left == right, "lt": left < right, "le": left <= right, "gt": left > right, "ge": left >= right}[op]


def reference(data: Mapping[str, Any], record: Mapping[str, object]) -> bool:
    """The design read literally, one case per operator."""
    op = data["op"]
    if op == "and":
        return all(reference(i, record) for i in data["items"])
    if op == "or":
        return any(reference(i, record) for i in data["items"])
    if op == "not":
        return not reference(data["item"], record)
    v = record.get(data["property"])
    if op in ("eq", "lt", "le", "gt", "ge"):
        return _ref_cmp(op, v, data["value"])
    if op == "ne":
        return _ref_unknown(v) or not _ref_cmp("eq", v, data["value"])
    if op == "known":
        return not _ref_unknown(v)
    if op == "unknown":
        return _ref_unknown(v)
    if op == "in":
        return any(_ref_cmp("eq", v, x) for x in data["values"])
    if op == "not_in":
        return _ref_unknown(v) or not any(_ref_cmp("eq", v, x) for x in data["values"])
    if op == "between":
        return _ref_cmp("ge", v, data["low"]) and _ref_cmp("le", v, data["high"])
    needle = str(data["value"]).casefold()
    if op == "not_contains":
        return _ref_unknown(v) or needle not in _ref_text(v)
    if _ref_unknown(v):
        return False
    if op == "contains":
        return needle in _ref_text(v)
    if op == "starts_with":
        return _ref_text(v).startswith(needle)
    return _ref_text(v).endswith(needle)


VALUES = st.sampled_from(
    [
        None,
        "",
        "lead",
        "LEAD",
        "Lead ",
        "customer",
        "50",
        " 50",
        50,
        49.5,
        50.0,
        0,
        1,
        "n/a",
        True,
        False,
        "true",
        "False",
        "yes",
        "ann@example.com",
        "DUBLIN",
    ]
)
LITERALS = st.sampled_from(["lead", "50", "", "dublin", "e", 50, 49.5, 0, 1, True, False])
NEEDLES = st.sampled_from(["lea", "LEAD", "", "50", "@example.com", "e", "true"])
PROPS = st.sampled_from(["a", "b", "c"])


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    def node(op: str, prop: str, **more: Any) -> dict[str, Any]:
        return {"op": op, "object": "contact", "property": prop, **more}

    return st.one_of(
        st.builds(
            lambda op, p, v: node(op, p, value=v),
            st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
            PROPS,
            LITERALS,
        ),
        st.builds(lambda op, p: node(op, p), st.sampled_from(["known", "unknown"]), PROPS),
        st.builds(
            lambda op, p, vs: node(op, p, values=vs),
            st.sampled_from(["in", "not_in"]),
            PROPS,
            st.lists(LITERALS, max_size=3),
        ),
        st.builds(
            lambda p, lo, hi: node("between", p, low=lo, high=hi),
            PROPS,
            st.sampled_from([0, 10, 49.5]),
            st.sampled_from([50, 100]),
        ),
        st.builds(
            lambda op, p, v: node(op, p, value=v),
            st.sampled_from(["contains", "not_contains", "starts_with", "ends_with"]),
            PROPS,
            NEEDLES,
        ),
    )


CRITERIA = st.recursive(
    _leaf(),
    lambda children: st.one_of(
        st.builds(lambda items: {"op": "and", "items": items}, st.lists(children, max_size=3)),
        st.builds(lambda items: {"op": "or", "items": items}, st.lists(children, max_size=3)),
        st.builds(lambda item: {"op": "not", "item": item}, children),
    ),
    max_leaves=8,
)
RECORDS = st.fixed_dictionaries({}, optional={"a": VALUES, "b": VALUES, "c": VALUES})


@settings(max_examples=300, deadline=None)
@given(data=CRITERIA, record=RECORDS)
def test_compiled_criteria_agree_with_the_reference(data: dict[str, Any], record: dict[str, object]) -> None:
    expected = reference(data, record)
    facts = FakeFacts(props={f"contact.{k}": v for k, v in record.items()})
    assert compile_criteria(T(data))(facts) is expected
    assert compile_record_predicate(T(data))(record) is expected
    assert explain_criteria(T(data), facts).result is expected


# ---------------------------------------------------------------- from source text

SOURCE_TABLE: list[tuple[str, dict[str, object], bool]] = [
    (
        'contact.lifecyclestage = "lead" and contact.email ends with "@example.com"',
        {"contact.lifecyclestage": "LEAD", "contact.email": "ann@Example.com"},
        True,
    ),
    ('contact.city != "Oslo"', {}, True),
    ('not (contact.city = "Oslo")', {}, True),
    ('contact.country not in ["NO", "SE"]', {"contact.country": "se"}, False),
    ('contact.hubspotscore between 10 and 20 or company.industry = "Software"', {"company.industry": "software"}, True),
    ("contact.createdate within last 2 weeks", {"contact.createdate": "2026-06-01"}, True),
    ("contact.createdate more than 2 weeks ago", {"contact.createdate": "2026-05-31"}, True),
    ("contact.renewal_date after 2026-06-15T13:00", {"contact.renewal_date": "2026-06-15T11:30:00Z"}, True),
    ("contact.email_opt_out = true", {"contact.email_opt_out": "TRUE"}, True),
    ("contact.email_opt_out = true", {}, False),
]


@pytest.mark.parametrize(("text", "props", "expected"), SOURCE_TABLE)
def test_criteria_from_source(text: str, props: dict[str, object], expected: bool) -> None:
    from wfdsl.compile.compiler import criteria_plan
    from wfdsl.syntax.parser import parse

    source = f'workflow "W" {{ object contact enroll when {text} steps {{ end }} }}'
    result = parse(source, "w.wf")
    assert result.ok, result.diagnostics
    trigger = result.module.workflows[0].trigger
    data = criteria_plan(trigger.criteria)  # type: ignore[union-attr]
    assert compile_criteria(data)(FakeFacts(props=props)) is expected
