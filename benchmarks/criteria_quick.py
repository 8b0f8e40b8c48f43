"""Compiled criteria vs hand-written Python over 200,000 records, side by side.

Run: `python benchmarks/criteria_quick.py [N]`. Prints one table row per
contender with its best of 7 interleaved rounds and the ratio to the hand-written function.
The tree interpreter (what `explain` uses) runs on a tenth of the records and
is scaled up. The criteria are
`(lifecyclestage = "lead" and score >= 50 and country in [...]) or
 (city = "Dublin" and email ends with "@example.com")`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Mapping

from wfdsl.plan.codec import criteria_from_data
from wfdsl.runtime.criteria import compile_record_predicate, evaluate_criteria

COUNTRIES = ["IE", "NO", "SE", "DK", "FI"]
CRITERIA_DATA = {
    "op": "or",
    "items": [
        {
            "op": "and",
            "items": [
                {"op": "eq", "object": "contact", "property": "lifecyclestage", "value": "lead"},
                {"op": "ge", "object": "contact", "property": "score", "value": 50},
                {"op": "in", "object": "contact", "property": "country", "values": COUNTRIES},
            ],
        },
        {
            "op": "and",
            "items": [
                {"op": "eq", "object": "contact", "property": "city", "value": "Dublin"},
                {"op": "ends_with", "object": "contact", "property": "email", "value": "@example.com"},
            ],
        },
    ],
}

CRITERIA = criteria_from_data(CRITERIA_DATA)


def records(count: int, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        record: dict[str, object] = {
            "id": f"c{i}",
            "firstname": rng.choice(["Ann", "Bo", "Cy", None]),
            "lastname": rng.choice(["Lee", "Ng", "Olsen"]),
            "lifecyclestage": rng.choice(["lead", "Lead", "customer", "subscriber", None]),
            "score": rng.choice([10, 49, 50, 75, "80", "n/a", None]),
            "country": rng.choice(["IE", "no", "US", "DE", None, *COUNTRIES]),
            "city": rng.choice(["Dublin", "dublin", "Oslo", "Cork", None]),
            "email": rng.choice(["a@example.com", "b@EXAMPLE.com", "c@other.org", None, ""]),
            "phone": rng.choice(["+353", None]),
            "hs_lead_status": rng.choice(["NEW", "OPEN", None]),
        }
        out.append(record)
    return out


_FOLDED_COUNTRIES = frozenset(c.casefold() for c in COUNTRIES)


def hand_written(r: Mapping[str, object]) -> bool:
    """What a careful programmer writes for the same meaning (null-safe, same case rules)."""
    stage = r.get("lifecyclestage")
    if isinstance(stage, str) and stage.casefold() == "lead":
        score = r.get("score")
        if isinstance(score, str):
            try:
                score = float(score)
            except ValueError:
                score = None
        if isinstance(score, (int, float)) and not isinstance(score, bool) and score >= 50:
            country = r.get("country")
            if isinstance(country, str) and country.casefold() in _FOLDED_COUNTRIES:
                return True
    city = r.get("city")
    if isinstance(city, str) and city.casefold() == "dublin":
        email = r.get("email")
        if isinstance(email, str) and email.casefold().endswith("@example.com"):
            return True
    return False


def best_of(
    fn: Callable[[Mapping[str, object]], bool], data: list[dict[str, object]], runs: int = 5
) -> tuple[float, int]:
    best = float("inf")
    hits = 0
    for _ in range(runs):
        start = time.perf_counter()
        hits = sum(1 for r in data if fn(r))
        best = min(best, time.perf_counter() - start)
    return best, hits


def main(count: int = 200_000, rounds: int = 7) -> list[tuple[str, float, int, float]]:
    data = records(count)
    compiled = compile_record_predicate(CRITERIA, object_type="contact")
    # Interleave the two contenders and keep each one's best round, so that a
    # busy machine slows both alike instead of whichever happened to run then.
    best = {"hand-written": float("inf"), "compiled criteria": float("inf")}
    hits = {}
    for _ in range(rounds):
        for name, fn in (("hand-written", hand_written), ("compiled criteria", compiled)):
            took, hits[name] = best_of(fn, data, runs=1)
            best[name] = min(best[name], took)
    if hits["compiled criteria"] != hits["hand-written"]:
        raise SystemExit(f"disagreement: {hits}")
    base = best["hand-written"]
    rows = [(name, best[name], hits[name], best[name] / base) for name in best]
    now = time.time  # unused by these criteria; the interpreter needs facts

    class RecordFacts:
        received = None
        tz = None

        def __init__(self, record: Mapping[str, object]) -> None:
            self.record = record
            self.now = now

        def value(self, object_type: str, prop: str) -> object | None:
            return self.record.get(prop)

    def interpreted(r: Mapping[str, object]) -> bool:
        return evaluate_criteria(CRITERIA, RecordFacts(r))  # type: ignore[arg-type]

    sample = data[: max(1, count // 10)]
    took, hits = best_of(interpreted, sample, runs=1)
    scale = len(data) / len(sample)
    rows.append(("tree interpreter", took * scale, -1, took * scale / base))
    print(f"{'contender':<20} {'seconds':>8} {'matches':>8} {'ratio':>6}   ({count} records)")
    for name, seconds, matched, ratio in rows:
        shown = "-" if matched < 0 else str(matched)
        print(f"{name:<20} {seconds:8.3f} {shown:>8} {ratio:6.2f}")
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
