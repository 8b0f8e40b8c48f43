"""`wfdsl outbox`: an embedded CRM URL in; the actions it performed out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from wfdsl.cli.common import Exit, fail, parse_time
from wfdsl.cli.defaults import DEFAULT_CRM
from wfdsl.host.operations import OutboxQuery, outbox_rows, parse_record_ref, render_outbox
from wfdsl.host.redact import redactor_for
from wfdsl.host.registry import ConfigError, open_adapter
from wfdsl.stores.errors import StoreError
from wfdsl.stores.protocols import Closable
from wfdsl.stores.sqlitedb import sqlite_options


def open_existing_crm(url: str) -> Any:
    """The CRM adapter a URL names; exits 2 when it is a SQLite file that does not exist
    (reading a CRM must not create an empty one)."""
    if url.startswith("sqlite:"):
        try:
            path = sqlite_options(url)[0]
        except StoreError as error:
            fail(f"cannot open CRM {url!r}: {error}")
        if path != ":memory:" and not Path(path).exists():
            fail(f"{path}: no such CRM file (run `wfdsl run` first, or check --crm)")
    try:
        return open_adapter(url)
    except (ConfigError, StoreError) as error:
        fail(str(error))


@click.command("outbox")
@click.option(
    "--crm",
    "crm_url",
    default=DEFAULT_CRM,
    show_default=True,
    metavar="URL",
    help="The embedded CRM to read (sqlite:///FILE).",
)
@click.option("--record", "record", metavar="TYPE:ID", help="Only actions on this record, e.g. contact:c1.")
@click.option("--kind", metavar="KIND", help="Only this action kind, e.g. send_email.")
@click.option("--since", metavar="T", help="Only actions at or after T (ISO 8601).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: JSON Lines, one object per performed action.",
)
@click.option("--redact", is_flag=True, help="Replace personal data with stable hashes (docs/operating.md).")
def outbox(crm_url: str, record: str | None, kind: str | None, since: str | None, fmt: str, redact: bool) -> None:
    """Show what the embedded CRM performed: emails, tasks, notifications, webhooks,
    record changes, each with its idempotency key."""
    since_at = parse_time(since, "--since")
    key = None
    if record is not None:
        try:
            key = parse_record_ref(record)
        except ValueError as error:
            fail(f"--record: {error}")
    crm = open_existing_crm(crm_url)
    try:
        rows = outbox_rows(crm, OutboxQuery(record=key, kind=kind, since=since_at))
    except TypeError as error:
        fail(f"{crm_url}: {error}")
    finally:
        if isinstance(crm, Closable):
            crm.close()
    if redact:
        redactor = redactor_for(None)
        rows = [redactor.json(row) for row in rows]
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False, default=str))
    else:
        click.echo(render_outbox(rows), nl=False)
    sys.exit(int(Exit.OK))
