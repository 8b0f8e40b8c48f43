"""`wfdsl preview`: workflows and a CRM URL in; the records that would enroll now out."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from wfdsl.cli.common import Exit, fail, parse_time, plans_or_exit
from wfdsl.cli.defaults import DEFAULT_CRM
from wfdsl.cli.outbox import open_existing_crm
from wfdsl.cli.status import open_existing_store
from wfdsl.host.operations import PreviewError, render_preview
from wfdsl.host.operations import preview as preview_records
from wfdsl.runtime.protocols import AdapterError
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.protocols import Closable


@click.command("preview")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--crm",
    "crm_url",
    default=DEFAULT_CRM,
    show_default=True,
    metavar="URL",
    help="The CRM whose records to look at.",
)
@click.option("--workflow", metavar="NAME", help="The workflow (needed when PATHS hold several).")
@click.option("--limit", type=click.IntRange(0), default=20, show_default=True, metavar="N", help="Records to list.")
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="A state store, for criteria about workflows (`enrolled in workflow`); default: none.",
)
@click.option("--at", "at", metavar="T", help="Evaluate at T instead of now (relative dates).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def preview_cmd(
    paths: tuple[str, ...],
    crm_url: str,
    workflow: str | None,
    limit: int,
    store_url: str | None,
    at: str | None,
    fmt: str,
) -> None:
    """Show the records that meet a workflow's enrollment criteria now, with the count."""
    when = parse_time(at, "--at") or dt.datetime.now(dt.timezone.utc)
    plans = plans_or_exit(paths, "previewed")
    names = [w.name for w in plans.workflows]
    if workflow is None:
        if len(names) != 1:
            fail(f"--workflow: PATHS hold {len(names)} workflows; name one ({', '.join(names) or 'none'})")
        workflow = names[0]
    if workflow not in names:
        fail(f'unknown workflow "{workflow}" (known: {", ".join(names) or "none"})')
    store = open_existing_store(store_url) if store_url else MemoryStore()
    crm = open_existing_crm(crm_url)
    try:
        result = preview_records(plans.workflow(workflow), crm, store, now=when, limit=limit)
    except PreviewError as error:
        fail(str(error))
    except AdapterError as error:
        fail(f"adapter failure: {error}", Exit.RUNTIME)
    finally:
        for thing in (crm, store):
            if isinstance(thing, Closable):
                thing.close()
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_preview(result), nl=False)
    sys.exit(int(Exit.OK))


preview_cmd.name = "preview"
preview = preview_cmd  # the name the command registry looks up
