"""1. Criteria over many records: wfdsl's compiled criteria vs hand-written Python and peers."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks.common import Row, Size, fmt, interleaved
from wfdsl.compile.compiler import compile_project
from wfdsl.runtime.criteria import compile_record_predicate
from wfdsl.syntax.project import project_from_text

COUNTRIES = ["IE", "NO", "SE", "DK", "FI"]
WORKFLOW = """workflow "Criteria" {
  object contact
  enroll when (contact.lifecyclestage = "lead" and contact.hubspotscore >= 50
               and contact.country in ["IE", "NO", "SE", "DK", "FI"])
           or (contact.city = "Dublin" and contact.email ends with "@example.com")
  steps { end }
}
"""
#: The same criteria for rule-engine (null-safe navigation, lower-cased text).
RULE_ENGINE_TEXT = (
    '(lifecyclestage&.as_lower == "lead" and hubspotscore != null and hubspotscore >= 50'
    ' and country&.as_lower in ["ie", "no", "se", "dk", "fi"])'
    ' or (city&.as_lower == "dublin" and email != null'
    ' and email.as_lower.ends_with("@example.com"))'
)


def records(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Contacts with ten properties: mixed case, unknown values, numbers as numbers."""
    rng = random.Random(seed)
    return [
        {
            "id": f"c{i}",
            "firstname": rng.choice(["Ann", "Bo", "Cy", None]),
            "lastname": rng.choice(["Lee", "Ng", "Olsen"]),
            "lifecyclestage": rng.choice(["lead", "Lead", "customer", "subscriber", None]),
            "hubspotscore": rng.choice([10, 49, 50, 75, 80.5, None]),
            "country": rng.choice(["IE", "no", "US", "DE", None, *COUNTRIES]),
            "city": rng.choice(["Dublin", "dublin", "Oslo", "Cork", None]),
            "email": rng.choice(["a@example.com", "b@EXAMPLE.com", "c@other.org", None, ""]),
            "phone": rng.choice(["+353", None]),
            "hs_lead_status": rng.choice(["NEW", "OPEN", None]),
        }
        for i in range(count)
    ]


_FOLDED = frozenset(c.casefold() for c in COUNTRIES)


def hand_written(r: Mapping[str, object]) -> bool:
    """What a careful programmer writes for the same meaning: null-safe, same case rules."""
    stage = r.get("lifecyclestage")
    if isinstance(stage, str) and stage.casefold() == "lead":
        score = r.get("hubspotscore")
        if isinstance(score, str):
            try:
                score = float(score)
            except ValueError:
                score = None
        if isinstance(score, (int, float)) and not isinstance(score, bool) and score >= 50:
            country = r.get("country")
            if isinstance(country, str) and country.casefold() in _FOLDED:
                return True
    city = r.get("city")
    if isinstance(city, str) and city.casefold() == "dublin":
        email = r.get("email")
        if isinstance(email, str) and email.casefold().endswith("@example.com"):
            return True
    return False


def wfdsl_predicate() -> Callable[[Mapping[str, object]], bool]:
    """The criteria compiled from wfdsl source, as `enroll existing records` uses them."""
    plan, diagnostics = compile_project(project_from_text(WORKFLOW, "criteria.wf"))
    assert plan is not None, diagnostics
    criteria = plan.workflows[0].trigger.criteria
    return compile_record_predicate(criteria, object_type="contact")


def rule_engine_predicate() -> Callable[[Mapping[str, object]], bool]:
    import rule_engine

    rule = rule_engine.Rule(RULE_ENGINE_TEXT)
    return rule.matches  # type: ignore[no-any-return]


def business_rules_predicate() -> Callable[[Mapping[str, object]], bool]:
    from business_rules.actions import BaseActions, rule_action
    from business_rules.engine import run_all
    from business_rules.variables import (
        BaseVariables,
        numeric_rule_variable,
        string_rule_variable,
    )

    class Contact(BaseVariables):  # type: ignore[misc]
        def __init__(self, record: Mapping[str, object]) -> None:
            self.r = record

        @string_rule_variable()
        def lifecyclestage(self) -> object:
            return self.r.get("lifecyclestage")

        @numeric_rule_variable()
        def hubspotscore(self) -> object:
            value = self.r.get("hubspotscore")
            return -1 if value is None else value

        @string_rule_variable()
        def country(self) -> object:
            return self.r.get("country")

        @string_rule_variable()
        def city(self) -> object:
            return self.r.get("city")

        @string_rule_variable()
        def email(self) -> object:
            return (self.r.get("email") or "").lower()

    hit: list[bool] = []

    class Actions(BaseActions):  # type: ignore[misc]
        @rule_action()
        def matched(self) -> None:
            hit.append(True)

    rules = [
        {
            "conditions": {
                "any": [
                    {
                        "all": [
                            {"name": "lifecyclestage", "operator": "equal_to_case_insensitive", "value": "lead"},
                            {"name": "hubspotscore", "operator": "greater_than_or_equal_to", "value": 50},
                            {
                                "any": [
                                    {"name": "country", "operator": "equal_to_case_insensitive", "value": c}
                                    for c in COUNTRIES
                                ]
                            },
                        ]
                    },
                    {
                        "all": [
                            {"name": "city", "operator": "equal_to_case_insensitive", "value": "Dublin"},
                            {"name": "email", "operator": "ends_with", "value": "@example.com"},
                        ]
                    },
                ]
            },
            "actions": [{"name": "matched", "params": {}}],
        }
    ]
    actions = Actions()

    def predicate(record: Mapping[str, object]) -> bool:
        return bool(run_all(rules, Contact(record), actions, stop_on_first_trigger=True))

    return predicate


def run(size: Size) -> list[Row]:
    data = records(size.records)
    # The peers are two orders of magnitude slower: they run on a slice and are scaled.
    peer_data = data[: max(1, size.records // 20)]
    scale = len(data) / len(peer_data)
    contenders = {
        "hand-written": (hand_written, data),
        "wfdsl compiled": (wfdsl_predicate(), data),
        "rule-engine": (rule_engine_predicate(), peer_data),
        "business-rules": (business_rules_predicate(), peer_data),
    }
    sample = data[:2000]
    expected = [hand_written(r) for r in sample]
    for name, (fn, _) in contenders.items():
        got = [bool(fn(r)) for r in sample]
        if got != expected:
            bad = sum(a != b for a, b in zip(got, expected, strict=True))
            raise AssertionError(f"{name} disagrees with the hand-written function on {bad}")

    def loop(fn: Callable[[Mapping[str, object]], bool], rows: list[dict[str, Any]]) -> Callable[[], object]:
        return lambda: sum(1 for r in rows if fn(r))

    times = interleaved([(name, loop(fn, rows)) for name, (fn, rows) in contenders.items()], size.reps)
    for name, (_, rows) in contenders.items():
        if rows is peer_data:
            times[name] *= scale
    base = times["hand-written"]
    ours = times["wfdsl compiled"]
    peer = min(times["rule-engine"], times["business-rules"])
    m = f"1. criteria, {size.records:,} records"
    out = []
    for name, took in times.items():
        rate = fmt(size.records / took) + " rec/s"
        if name == "hand-written":
            out.append(Row(measurement=m, contender=name, value=rate, ratio="1.00x time"))
        elif name == "wfdsl compiled":
            out.append(
                Row(
                    measurement=m,
                    contender=name,
                    value=rate,
                    ratio=f"{ours / base:.2f}x time",
                    target="<= 1.25x hand-written",
                    met=ours / base <= 1.25,
                )
            )
        else:
            out.append(
                Row(
                    measurement=m, contender=name + " (peer)", value=rate, ratio=f"{took / ours:.0f}x slower than wfdsl"
                )
            )
    out.append(
        Row(
            measurement=m,
            contender="wfdsl vs faster peer",
            value="",
            ratio=f"{peer / ours:.0f}x faster",
            target=">= 30x",
            met=peer / ours >= 30,
        )
    )
    return out
