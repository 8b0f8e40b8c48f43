"""`wfdsl explain`: workflows, records, events and a record id in; its decisions explained out."""

from __future__ import annotations

import json
import sys

import click

from wfdsl.cli.common import Exit, fail, input_check, parse_time, plans_or_exit, schema_for
from wfdsl.host.explain import ExplainError, explain_record, render_text
from wfdsl.host.redact import records_file_properties, redactor_for
from wfdsl.runtime.inputs import SimulationInputError, load_records, read_events
from wfdsl.runtime.protocols import AdapterError
from wfdsl.terminal import printable_lines


@click.command("explain")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--records", required=True, metavar="FILE", help="Records file (JSON; docs/runtime.md).")
@click.option("--events", required=True, metavar="FILE", help="Events file (JSON Lines).")
@click.option("--record", "record", required=True, metavar="ID", help="The record to explain: `c1` or `contact:c1`.")
@click.option("--workflow", metavar="NAME", help="Only this workflow.")
@click.option("--start", metavar="T", help="Start of the virtual clock (default: first event).")
@click.option("--until", metavar="T", help="End of the simulation (as for simulate).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@click.option("--redact", is_flag=True, help="Replace personal data with stable hashes (docs/operating.md).")
def explain(
    paths: tuple[str, ...],
    records: str,
    events: str,
    record: str,
    workflow: str | None,
    start: str | None,
    until: str | None,
    fmt: str,
    redact: bool,
) -> None:
    """Why RECORD did or did not enroll, branch, convert: every decision with its criteria."""
    start_at = parse_time(start, "--start")
    until_at = parse_time(until, "--until")
    plans = plans_or_exit(paths, "explained")
    check = input_check(paths)
    try:
        seed = load_records(records)
        check.records(seed, records)
        stream = list(check.events(read_events(events), events))
        report = explain_record(plans, seed, stream, record, workflow=workflow, start=start_at, until=until_at)
    except (SimulationInputError, ExplainError) as error:
        fail(str(error))
    except AdapterError as error:
        fail(f"adapter failure: {error}", Exit.RUNTIME)
    redactor = redactor_for(schema_for(paths), records_file_properties(records)) if redact else None
    if fmt == "json":
        data = report.to_json()
        sys.stdout.write(json.dumps(redactor.json(data) if redactor else data, ensure_ascii=False, indent=2) + "\n")
    else:
        text = printable_lines(render_text(report))
        sys.stdout.write(redactor.text(text) if redactor else text)
    sys.exit(int(Exit.OK))
