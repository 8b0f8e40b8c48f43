"""`wfdsl ingest`: JSON Lines events in; rows in a store's inbox out, committed before exit."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.cli.defaults import DEFAULT_STORE
from wfdsl.host.ingest import NoInboxError, ingest_events, read_events_text
from wfdsl.host.registry import ConfigError, open_store
from wfdsl.stores.protocols import Closable

#: Errors listed before the rest are only counted.
SHOWN_ERRORS = 20


@click.command("ingest")
@click.argument("events", metavar="FILE|-", type=click.Path(allow_dash=True))
@click.option(
    "--store",
    "store_url",
    default=DEFAULT_STORE,
    show_default=True,
    metavar="URL",
    help="The state store whose inbox takes the events (sqlite:///FILE or postgresql://…).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def ingest(events: str, store_url: str, fmt: str) -> None:
    """Add the events of FILE (JSON Lines, as for `wfdsl simulate`; `-` for stdin) to a
    store's inbox, where `wfdsl run` workers take them in order.

    Every line is checked first: if any is bad, each is reported as FILE:LINE and
    nothing is added (exit 2). An event without `at` happens when it is ingested. An
    event whose `event_id` the inbox already holds is dropped as a duplicate. The
    events are committed before the command exits 0.
    """
    received = dt.datetime.now(dt.timezone.utc)
    if events == "-":
        source = "-"
        lines = sys.stdin.buffer.read().splitlines(keepends=True)
    else:
        source = events
        try:
            lines = Path(events).read_bytes().splitlines(keepends=True)
        except FileNotFoundError:
            fail(f"{events}: no such file")
        except IsADirectoryError:
            fail(f"{events}: is a directory")
        except OSError as error:
            fail(f"{events}: cannot read: {error.strerror}")
    batch = read_events_text(lines, source, received=received)
    if batch.errors:
        for problem in batch.errors[:SHOWN_ERRORS]:
            click.echo(f"wfdsl: error: {problem}", err=True)
        more = len(batch.errors) - SHOWN_ERRORS
        if more > 0:
            click.echo(f"wfdsl: … and {more} more bad line{'s' if more != 1 else ''}", err=True)
        count = len(batch.errors)
        fail(f"{count} bad line{'s' if count != 1 else ''} in {source}; nothing ingested")
    if store_url.split("://", 1)[0].lower() == "memory":
        fail("memory:// keeps nothing after the command ends: ingest into a sqlite:// or postgresql:// store")
    try:
        store = open_store(store_url)
    except ConfigError as error:
        fail(str(error))
    try:
        result = ingest_events(store, batch.events)
    except (NoInboxError, ValueError) as error:
        fail(f"{store_url}: {error}; nothing ingested")
    finally:
        if isinstance(store, Closable):
            store.close()
    if fmt == "json":
        click.echo(json.dumps(result.to_json()))
    else:
        dropped = f" ({result.duplicates} duplicate{'s' if result.duplicates != 1 else ''} dropped)"
        click.echo(
            f"ingested {result.ingested} event{'s' if result.ingested != 1 else ''}"
            + (dropped if result.duplicates else "")
        )
    sys.exit(int(Exit.OK))
