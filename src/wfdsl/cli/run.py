"""`wfdsl run`: workflows + store URL + CRM URL + an event stream in; the service loop."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import IO

import click

from wfdsl.cli.common import Exit, fail, input_check, parse_time, plans_or_exit, schema_for
from wfdsl.cli.defaults import DEFAULT_CRM as DEFAULT_CRM  # also importable from here
from wfdsl.cli.defaults import DEFAULT_STORE as DEFAULT_STORE
from wfdsl.cli.style import style
from wfdsl.host.redact import record_properties, redactor_for
from wfdsl.host.registry import ConfigError, open_adapter, open_store
from wfdsl.host.service import CLOCKS, EventsReadError, Options, Service
from wfdsl.placeholders import placeholder_action, unfilled
from wfdsl.plan.model import ProjectPlan
from wfdsl.plan.steps import Placeholder
from wfdsl.runtime.inputs import Seed, SimulationInputError, load_records
from wfdsl.runtime.protocols import AdapterError
from wfdsl.stores.errors import StoreError
from wfdsl.stores.protocols import Closable
from wfdsl.tools.render import render_text


def load_or_exit(paths: tuple[str, ...]) -> ProjectPlan:
    """Plans to run: diagnostics exit 1, placeholders exit 1, unusable input exit 2."""
    plans = plans_or_exit(paths, "run")
    _refuse_placeholders(plans)
    return plans


def _refuse_placeholders(plans: ProjectPlan) -> None:
    """`placeholder-action` is an error when turning workflows on: report each, exit 1."""
    found = [(plan.name, plan.steps[sid]) for plan in plans.workflows for sid in unfilled(plan.steps)]
    if not found:
        return
    for name, step in found:
        text = step.text if isinstance(step, Placeholder) else ""
        diagnostic = placeholder_action(text, step.span, workflow=name)
        source = ""
        try:
            source = Path(step.span.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            pass
        click.echo(render_text(diagnostic, source, style=style), err=True)
    count = len(found)
    click.echo(f"wfdsl: {count} placeholder{'s' if count != 1 else ''} to fill in; nothing run", err=True)
    sys.exit(int(Exit.ERRORS))


def _records(path: str | None) -> Seed | None:
    if path is None:
        return None
    try:
        return load_records(path)  # read once, with FILE:LINE errors
    except SimulationInputError as error:
        fail(str(error))
    return None  # pragma: no cover


def _stream(events: str | None) -> tuple[IO[bytes] | None, str]:
    if events is None:
        return None, "-"
    if events == "-":
        return sys.stdin.buffer, "-"
    path = Path(events)
    try:
        return open(path, "rb"), str(path.resolve())  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        fail(f"{events}: no such file")
    except OSError as error:
        fail(f"{events}: cannot read: {error.strerror}")
    raise AssertionError("unreachable")  # pragma: no cover


@click.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--store",
    "store_url",
    default=DEFAULT_STORE,
    show_default=True,
    metavar="URL",
    help="State store: sqlite:///FILE, sqlite:////ABS/FILE, postgresql://USER@HOST/DB (many workers) or memory://.",
)
@click.option(
    "--crm",
    "crm_url",
    default=DEFAULT_CRM,
    show_default=True,
    metavar="URL",
    help="CRM adapter: sqlite:///FILE, postgresql://USER@HOST/DB (give the store's URL), memory:// or a plug-in's URL.",
)
@click.option(
    "--events",
    metavar="FILE|-",
    help="JSON Lines events to ingest (as for `wfdsl simulate`); `-` for stdin. "
    "A file is followed as it grows and resumed after the last committed line.",
)
@click.option("--records", metavar="FILE", help="Records file (as for `wfdsl simulate`) loaded into the CRM once.")
@click.option(
    "--clock",
    type=click.Choice(CLOCKS),
    default="real",
    show_default=True,
    help="`virtual`: the clock follows the events' `at` (testing and replay).",
)
@click.option(
    "--until-idle",
    "--once",
    "until_idle",
    is_flag=True,
    help="Exit at the end of the input once nothing is due (virtual clock: once no timer is left before --until).",
)
@click.option(
    "--until",
    metavar="T",
    help="Virtual clock with --until-idle: run timers up to T (default: 400 days past the last event).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    metavar="N",
    help="Events or timers per commit.",
)
@click.option(
    "--status-every",
    type=click.FloatRange(0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between status lines on stderr (0: none).",
)
@click.option("--redact", is_flag=True, help="Replace personal data in status and warning lines with stable hashes.")
def run(
    paths: tuple[str, ...],
    store_url: str,
    crm_url: str,
    events: str | None,
    records: str | None,
    clock: str,
    until_idle: bool,
    until: str | None,
    batch: int,
    status_every: float,
    redact: bool,
) -> None:
    """Run PATHS (.wf sources or a compiled plan) as a service: ingest events, fire timers.

    SIGTERM or SIGINT finish the batch in progress, commit it and exit 0.
    """
    until_at = parse_time(until, "--until")
    if until_at is not None and clock != "virtual":
        fail("--until needs --clock virtual")
    plans = load_or_exit(paths)
    data = _records(records)
    try:
        store = open_store(store_url)
        crm = open_adapter(crm_url)
    except ConfigError as error:
        fail(str(error))
    stream, source = _stream(events)
    options = Options(clock=clock, until_idle=until_idle, until=until_at, batch=batch, status_every=status_every)
    personal = record_properties(data.data if data is not None else None)
    redactor = redactor_for(schema_for(paths), personal) if redact else None

    def log(text: str) -> None:
        click.echo(redactor.text(text) if redactor is not None else text, err=True)

    # Input data is checked against the schema as in `wfdsl simulate` (warnings only).
    check = input_check(paths, warn=log)
    if data is not None and records is not None:
        check.records(data, records)
    service = Service(plans, crm, store, options=options, records=data, log=log, check=check)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        service.stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        counts = service.run(stream, source, path=events)
    except (SimulationInputError, StoreError, EventsReadError) as error:
        fail(str(error))
    except (AdapterError, ValueError) as error:
        fail(f"runtime failure: {error}", Exit.RUNTIME)
    except Exception as error:  # the batch was rolled back; it is read again on restart
        fail(f"runtime failure ({type(error).__name__}): {error}; the batch in progress was rolled back", Exit.RUNTIME)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()
        for thing in (store, crm):
            if isinstance(thing, Closable):
                thing.close()
    if status_every:
        log(f"wfdsl run: {counts.line()}")
    sys.exit(int(Exit.OK))
