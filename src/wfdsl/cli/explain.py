"""`wfdsl explain`: workflows, records, events and a record id in; its decisions explained out."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.compile import CompileFailed, load_plans
from wfdsl.diagnostics import Severity
from wfdsl.explain import ExplainError, explain_record, render_text
from wfdsl.plan import PlanError
from wfdsl.project import SourceError
from wfdsl.render import render_text as render_diagnostic
from wfdsl.runtime.protocols import AdapterError
from wfdsl.simulate import SimulationInputError, load_records, read_events


def schema_for(paths: tuple[str, ...] | list[str]) -> object | None:
    """The project schema for the first path (None for a compiled plan)."""
    if len(paths) == 1 and str(paths[0]).endswith(".json"):
        return None
    from wfdsl.schema import ConfigError, load_schema

    try:
        return load_schema(paths[0])
    except ConfigError as error:
        fail(str(error))
    return None


def parse_time(value: str | None, option: str) -> dt.datetime | None:
    """An ISO 8601 option value as aware UTC (naive times are UTC)."""
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


@click.command("explain")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--records", required=True, metavar="FILE", help="Records file (JSON, SPEC §8).")
@click.option("--events", required=True, metavar="FILE", help="Events file (JSON Lines).")
@click.option("--record", "record", required=True, metavar="ID",
              help="The record to explain: `c1` or `contact:c1`.")
@click.option("--workflow", metavar="NAME", help="Only this workflow.")
@click.option("--start", metavar="T", help="Start of the virtual clock (default: first event).")
@click.option("--until", metavar="T", help="End of the simulation (as for simulate).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def explain(paths: tuple[str, ...], records: str, events: str, record: str,
            workflow: str | None, start: str | None, until: str | None, fmt: str) -> None:
    """Why RECORD did or did not enroll, branch, convert: every decision with its criteria."""
    start_at = parse_time(start, "--start")
    until_at = parse_time(until, "--until")
    try:
        schema = schema_for(paths)
        plans = load_plans(list(paths), schema)
    except CompileFailed as failed:
        for diagnostic in failed.diagnostics:
            click.echo(render_diagnostic(diagnostic,
                                         failed.sources.get(diagnostic.span.file, "")), err=True)
        errors = sum(1 for d in failed.diagnostics if d.severity is Severity.ERROR)
        click.echo(f"wfdsl: {errors} error{'s' if errors != 1 else ''}; nothing explained",
                   err=True)
        sys.exit(int(Exit.ERRORS))
    except (SourceError, PlanError) as error:
        fail(str(error))
    try:
        seed = load_records(records)
        stream = list(read_events(events))
        report = explain_record(plans, seed, stream, record, workflow=workflow,
                                start=start_at, until=until_at)
    except (SimulationInputError, ExplainError) as error:
        fail(str(error))
    except AdapterError as error:
        fail(f"adapter failure: {error}", Exit.RUNTIME)
    if fmt == "json":
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report))
    sys.exit(int(Exit.OK))
