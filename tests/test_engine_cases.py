"""Engine scenarios: one case file per rule and step kind of §2.7 -> trace snapshot.

A case file (`tests/cases/engine/*.case`) is workflow text, then sections:

    --- records          the records file (JSON)
    --- events           the events file (JSON Lines)
    --- options          optional JSON: {"start": "...", "until": "..."}
    --- expect           optional lines `kind reason-or-action step` that must occur, in order

The snapshot is the JSON trace plus the stats, exactly what
`wfdsl simulate --format json --stats` prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from engine_helpers import event, plans
from wfdsl.host.simulate import Simulation, load_records_data

CASES = Path(__file__).parent / "cases" / "engine"


def _sections(text: str) -> dict[str, str]:
    parts = {"workflows": ""}
    current = "workflows"
    for line in text.splitlines(keepends=True):
        if line.startswith("--- "):
            current = line[4:].strip()
            parts[current] = ""
        else:
            parts[current] += line
    return parts


def run_case(path: Path) -> tuple[Simulation, str]:
    sections = _sections(path.read_text(encoding="utf-8"))
    options = json.loads(sections.get("options") or "{}")
    from engine_helpers import at

    sim = Simulation(
        plans(sections["workflows"]),
        load_records_data(json.loads(sections.get("records") or "{}"), "records.json"),
        start=at(options["start"]) if "start" in options else None,
        until=at(options["until"]) if "until" in options else None,
    )
    events = [json.loads(line) for line in (sections.get("events") or "").splitlines() if line.strip()]
    sim.run(event(e) for e in events)
    out = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in sim.trace())
    out += json.dumps({"stats": sim.stats()}, ensure_ascii=False) + "\n"
    return sim, sections.get("expect", "")


def _expected(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("path", sorted(CASES.glob("*.case")), ids=lambda p: p.stem)
def test_case(path: Path, snapshot: SnapshotAssertion) -> None:
    sim, expect = run_case(path)
    trace = sim.trace()
    rendered = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in trace)
    rendered += json.dumps({"stats": sim.stats()}, ensure_ascii=False) + "\n"
    # the expectations written in the case file hold, in order
    seen = [
        [e["kind"], e["detail"].get("reason") or e["detail"].get("action") or "-", e["step"] or "-", e["id"]]
        for e in trace
    ]
    pos = 0
    for want in _expected(expect):
        while pos < len(seen) and seen[pos][: len(want)] != want:
            pos += 1
        assert pos < len(seen), f"expected {' '.join(want)} in order; trace:\n{rendered}"
        pos += 1
    assert rendered == snapshot
