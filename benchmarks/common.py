"""Shared pieces of the benchmarks: sizes, interleaved timing with medians, result rows."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence

import attrs


@attrs.frozen(kw_only=True)
class Size:
    """How big each measurement's inputs are; `FULL` is what the targets refer to."""

    name: str
    reps: int
    records: int  # 1. criteria
    lines_small: int  # 2. parse + check, linearity
    lines: int
    cold_runs: int  # 3. cold start (process runs per variant)
    workflows: int  # 4. ingest: many active workflows
    workflows_few: int
    events: int
    enrollments: int  # 5. timers, 6. memory
    sqlite_enrollments: int
    instances: int  # 7. BPMN peer
    compile_workflows: int  # 8. compile scaling (and five times as many)


FULL = Size(
    name="full",
    reps=5,
    records=200_000,
    lines_small=5_000,
    lines=50_000,
    cold_runs=10,
    workflows=1_000,
    workflows_few=10,
    events=20_000,
    enrollments=100_000,
    sqlite_enrollments=20_000,
    instances=2_000,
    compile_workflows=1_000,
)
TINY = Size(
    name="tiny",
    reps=1,
    records=500,
    lines_small=300,
    lines=600,
    cold_runs=1,
    workflows=20,
    workflows_few=2,
    events=100,
    enrollments=200,
    sqlite_enrollments=100,
    instances=10,
    compile_workflows=4,
)


@attrs.frozen(kw_only=True)
class Row:
    """One line of the results table."""

    measurement: str
    contender: str
    value: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None


def fmt(value: float) -> str:
    """A throughput or time with thousands separators and sensible precision."""
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def interleaved(
    variants: Sequence[tuple[str, Callable[[], object]]], reps: int, setup: Callable[[], None] | None = None
) -> dict[str, float]:
    """Median wall time of each variant over `reps` rounds, the variants taking turns.

    Taking turns within each round means a burst of load on the shared machine
    slows every variant alike instead of whichever happened to be running.
    The order rotates each round. The garbage collector runs between variants.
    """
    times: dict[str, list[float]] = {name: [] for name, _ in variants}
    order = list(variants)
    for round_no in range(reps):
        shift = round_no % len(order)
        for name, fn in order[shift:] + order[:shift]:
            if setup is not None:
                setup()
            gc.collect()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def target_row(measurement: str, contender: str, value: str, ratio: str, target: str, met: bool | None) -> Row:
    return Row(measurement=measurement, contender=contender, value=value, ratio=ratio, target=target, met=met)


def table(rows: Sequence[Row]) -> str:
    """The rows as a GitHub markdown table."""
    head = "| # | contender | result | ratio | target | met |\n|---|---|---:|---:|---|:-:|\n"
    lines = []
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.measurement} | {row.contender} | {row.value} | {row.ratio} | {row.target} | {met} |")
    return head + "\n".join(lines) + "\n"
