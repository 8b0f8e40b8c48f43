"""`wfdsl simulate`: workflows + records + events in, a trace (and stats) on stdout."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile

import click

from wfdsl.cli.common import Exit, fail, input_check, parse_time, plans_or_exit, schema_for
from wfdsl.host.redact import records_file_properties, redactor_for
from wfdsl.host.simulate import SimulationInputError, SimulationRuntimeError, simulate_files
from wfdsl.runtime.engine import EngineError
from wfdsl.runtime.history import trace_line
from wfdsl.runtime.protocols import AdapterError, HistoryEntry
from wfdsl.runtime.timing import TimingError
from wfdsl.terminal import printable

#: Trace text kept in memory before the spool moves to a temporary file.
SPOOL_BYTES = 8 * 1024 * 1024


@click.command("simulate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--records", required=True, metavar="FILE", help="Records file (JSON; docs/runtime.md).")
@click.option("--events", required=True, metavar="FILE", help="Events file (JSON Lines).")
@click.option("--start", metavar="T", help="Start of the virtual clock (default: first event).")
@click.option(
    "--until", metavar="T", help="End of the simulation (default: no timers left, or 400 days past the last event)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Trace format."
)
@click.option("--stats", is_flag=True, help="Print per-workflow stats after the trace.")
@click.option("--redact", is_flag=True, help="Replace personal data with stable hashes (docs/operating.md).")
def simulate(
    paths: tuple[str, ...],
    records: str,
    events: str,
    start: str | None,
    until: str | None,
    fmt: str,
    stats: bool,
    redact: bool,
) -> None:
    """Run PATHS (.wf sources or a compiled plan) on a virtual clock against sample data."""
    start_at = parse_time(start, "--start")
    until_at = parse_time(until, "--until")
    plans = plans_or_exit(paths, "simulated")
    redactor = redactor_for(schema_for(paths), records_file_properties(records)) if redact else None
    check = input_check(paths)
    # The trace is rendered as the simulation writes it and spooled (to disk past a
    # few megabytes), so memory does not grow with it; stdout gets it only once the
    # run succeeded, so bad input still prints nothing but the error.
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+", encoding="utf-8") as spool:

        def write(entry: HistoryEntry) -> None:
            if redactor is not None:
                entry = redactor.entry(entry)
            if fmt == "json":
                spool.write(json.dumps(entry.to_json(), ensure_ascii=False, default=str) + "\n")
            else:
                spool.write(printable(trace_line(entry)) + "\n")

        try:
            sim = simulate_files(
                plans, records, events, start=start_at, until=until_at, on_history=write, lean_crm=True, check=check
            )
        except SimulationInputError as error:
            fail(str(error))
        except AdapterError as error:
            fail(f"adapter failure: {error}", Exit.RUNTIME)
        except (EngineError, TimingError, SimulationRuntimeError) as error:
            fail(f"runtime failure: {error}", Exit.RUNTIME)
        spool.seek(0)
        shutil.copyfileobj(spool, sys.stdout)
    if stats:
        sys.stdout.write(json.dumps({"stats": sim.stats()}, ensure_ascii=False) + "\n")
    sys.exit(int(Exit.OK))
