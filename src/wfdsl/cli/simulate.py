"""`wfdsl simulate`: workflows + records + events in, a trace (and stats) on stdout."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.compile import CompileFailed, load_plans
from wfdsl.diagnostics import Severity
from wfdsl.plan import PlanError
from wfdsl.project import SourceError
from wfdsl.render import render_text
from wfdsl.runtime.engine import EngineError
from wfdsl.runtime.history import trace_line
from wfdsl.runtime.protocols import AdapterError
from wfdsl.runtime.timing import TimingError
from wfdsl.simulate import SimulationInputError, simulate_files


def _schema(paths: tuple[str, ...]) -> object | None:
    try:
        from wfdsl.schema import ConfigError, load_schema
    except ImportError:  # pragma: no cover - the schema layer ships with wfdsl
        return None
    try:
        return load_schema(paths[0])
    except ConfigError as error:
        fail(str(error))
    return None


def _time(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO 8601 time (e.g. 2026-11-23T10:00:00Z)")
        raise  # pragma: no cover - fail exits
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


@click.command("simulate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--records", required=True, metavar="FILE", help="Records file (JSON, SPEC §8).")
@click.option("--events", required=True, metavar="FILE", help="Events file (JSON Lines).")
@click.option("--start", metavar="T", help="Start of the virtual clock (default: first event).")
@click.option("--until", metavar="T",
              help="End of the simulation (default: no timers left, or 400 days past the "
                   "last event).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Trace format.")
@click.option("--stats", is_flag=True, help="Print per-workflow stats after the trace.")
def simulate(paths: tuple[str, ...], records: str, events: str, start: str | None,
             until: str | None, fmt: str, stats: bool) -> None:
    """Run PATHS (.wf sources or a compiled plan) on a virtual clock against sample data."""
    start_at = _time(start, "--start")
    until_at = _time(until, "--until")
    try:
        schema = _schema(paths) if not (len(paths) == 1 and paths[0].endswith(".json")) else None
        plans = load_plans(list(paths), schema)
    except CompileFailed as failed:
        for diagnostic in failed.diagnostics:
            click.echo(render_text(diagnostic, failed.sources.get(diagnostic.span.file, "")),
                       err=True)
        errors = sum(1 for d in failed.diagnostics if d.severity is Severity.ERROR)
        click.echo(f"wfdsl: {errors} error{'s' if errors != 1 else ''}; nothing simulated",
                   err=True)
        sys.exit(int(Exit.ERRORS))
    except (SourceError, PlanError) as error:
        fail(str(error))
    try:
        sim = simulate_files(plans, records, events, start=start_at, until=until_at)
    except SimulationInputError as error:
        fail(str(error))
    except AdapterError as error:
        fail(f"adapter failure: {error}", Exit.RUNTIME)
    except (EngineError, TimingError) as error:
        fail(f"runtime failure: {error}", Exit.RUNTIME)
    out = sys.stdout
    for entry in sim.entries():
        if fmt == "json":
            out.write(json.dumps(entry.to_json(), ensure_ascii=False, default=str) + "\n")
        else:
            out.write(trace_line(entry) + "\n")
    if stats:
        out.write(json.dumps({"stats": sim.stats()}, ensure_ascii=False) + "\n")
    sys.exit(int(Exit.OK))
