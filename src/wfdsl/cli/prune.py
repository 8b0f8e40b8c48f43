"""`wfdsl prune`: a state store URL in; action logs, history and facts past retention removed."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from wfdsl.cli.common import Exit, parse_time
from wfdsl.cli.defaults import DEFAULT_STORE
from wfdsl.cli.status import open_existing_store, store_errors
from wfdsl.host.operate import prune_store


@click.command("prune")
@click.option(
    "--store", "store_url", default=DEFAULT_STORE, show_default=True, metavar="URL", help="The state store to prune."
)
@click.option("--now", metavar="T", help="Prune as of T (ISO 8601; default: now).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def prune(store_url: str, now: str | None, fmt: str) -> None:
    """Apply the retention rules (docs/operating.md): action entries older than 90 days, the
    history of enrollments that ended more than 183 days ago, and `enrolled in` /
    `reached goal of` facts older than 730 days."""
    when = parse_time(now, "--now") or dt.datetime.now(dt.timezone.utc)
    store = open_existing_store(store_url)
    with store_errors(store_url):
        result = prune_store(store, when)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(
            f"removed {result['removed']} rows (actions before "
            f"{result['actions_before']}, history of enrollments ended before "
            f"{result['history_before']}, facts before {result['facts_before']})"
        )
    sys.exit(int(Exit.OK))
