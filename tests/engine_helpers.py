"""Helpers for engine tests: compile workflow text, run a scenario, render the trace."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.compile.compiler import compile_project
from wfdsl.host.simulate import Simulation, load_records_data, parse_event
from wfdsl.plan.model import ProjectPlan
from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import Event, VirtualClock
from wfdsl.stores.memory import MemoryStore
from wfdsl.syntax.project import project_from_text

UTC = dt.timezone.utc


def plans(text: str) -> ProjectPlan:
    plan, diagnostics = compile_project(project_from_text(text, "test.wf"))
    errors = [d for d in diagnostics if d.severity.name == "ERROR"]
    assert plan is not None, [f"{d.span.line}:{d.span.col} {d.message}" for d in errors]
    return plan


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def event(line: Mapping[str, Any]) -> Event:
    return parse_event(dict(line), "events.jsonl", 1)


def simulate(
    text: str,
    records: Mapping[str, Any],
    events: Iterable[Mapping[str, Any]],
    *,
    start: str | None = None,
    until: str | None = None,
) -> Simulation:
    sim = Simulation(
        plans(text),
        load_records_data(dict(records), "records.json"),
        start=None if start is None else at(start),
        until=None if until is None else at(until),
    )
    sim.run(event(e) for e in events)
    return sim


def trace(sim: Simulation) -> str:
    """The trace as JSON Lines (what `--format json` prints)."""
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in sim.trace())


def kinds(sim: Simulation) -> list[tuple[str, str, str | None]]:
    """(kind, reason or action, step) per entry: a compact view for assertions."""
    out = []
    for e in sim.trace():
        d = e["detail"]
        out.append((e["kind"], d.get("reason") or d.get("action") or "", e["step"]))
    return out


def engine(text: str, start: str = "2026-01-05T08:00:00Z") -> tuple[Engine, MemoryCRM]:
    crm = MemoryCRM()
    eng = Engine(plans(text), crm, MemoryStore(), VirtualClock(at(start)))
    return eng, crm
