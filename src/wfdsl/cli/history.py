"""`wfdsl history`: a store URL and a record in; that record's enrollments and history out."""

from __future__ import annotations

import json
import sys

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.cli.defaults import DEFAULT_STORE
from wfdsl.cli.status import open_existing_store
from wfdsl.host.operations import RecordHistory, parse_record_ref, record_history, render_record_history
from wfdsl.host.redact import Redactor, redactor_for
from wfdsl.stores.errors import StoreError
from wfdsl.stores.protocols import Closable


@click.command("history")
@click.option(
    "--store",
    "store_url",
    default=DEFAULT_STORE,
    show_default=True,
    metavar="URL",
    help="The state store to read.",
)
@click.option("--record", "record", required=True, metavar="TYPE:ID", help="The record, e.g. contact:c1.")
@click.option("--workflow", metavar="NAME", help="Only this workflow.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: JSON Lines in the trace format of `wfdsl simulate --format json`.",
)
@click.option("--redact", is_flag=True, help="Replace personal data with stable hashes (docs/operating.md).")
def history(store_url: str, record: str, workflow: str | None, fmt: str, redact: bool) -> None:
    """Show one record's enrollments and history from a running store."""
    try:
        key = parse_record_ref(record)
    except ValueError as error:
        fail(f"--record: {error}")
    store = open_existing_store(store_url)
    try:
        found: RecordHistory = record_history(store, key, workflow=workflow)
    except StoreError as error:
        fail(str(error))
    except LookupError as error:
        fail(str(error.args[0]))
    finally:
        if isinstance(store, Closable):
            store.close()
    redactor: Redactor | None = redactor_for(None) if redact else None
    if fmt == "json":
        for entry in found.entries:
            data = entry.to_json()
            click.echo(json.dumps(redactor.json(data) if redactor else data, ensure_ascii=False))
    else:
        click.echo(render_record_history(found, redactor), nl=False)
    sys.exit(int(Exit.OK))
