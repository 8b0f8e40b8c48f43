"""`wfdsl plan`: sources + a running store in; what deploying the sources would change."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from wfdsl.cli.common import Exit, fail, plans_or_exit
from wfdsl.cli.defaults import DEFAULT_STORE
from wfdsl.cli.outbox import open_existing_crm
from wfdsl.host.registry import ConfigError, open_store
from wfdsl.plan.model import PlanError
from wfdsl.runtime.protocols import AdapterError, StateStore
from wfdsl.stores.errors import StoreError
from wfdsl.stores.protocols import Closable
from wfdsl.stores.sqlitedb import sqlite_options
from wfdsl.tools.deploy import deployed_plans, deployment_plan, render_deployment


def _store_or_none(url: str) -> StateStore | None:
    """The store a URL names, or None when it is a SQLite file that does not exist yet
    (a first deploy: planning must not create it)."""
    if url.startswith("sqlite:"):
        try:
            path = sqlite_options(url)[0]
        except StoreError as error:
            fail(f"cannot open store {url!r}: {error}")
        if path != ":memory:" and not Path(path).exists():
            return None
    try:
        return open_store(url)
    except (ConfigError, StoreError) as error:
        fail(str(error))


@click.command("plan")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--store",
    "store_url",
    default=DEFAULT_STORE,
    show_default=True,
    metavar="URL",
    help="The running state store to compare with.",
)
@click.option(
    "--crm",
    "crm_url",
    metavar="URL",
    help="A CRM to count the records that workflows turned on with `enroll existing records` would enroll.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 1 when there are changes (0: none, 2: error).")
def plan(paths: tuple[str, ...], store_url: str, crm_url: str | None, fmt: str, detailed_exitcode: bool) -> None:
    """Show what `wfdsl run PATHS --store URL` would change in a running store.

    Workflows added, turned off and changed (trigger, goal, suppression,
    settings, steps), and where waiting enrollments whose step moves, changes
    or disappears will continue. Nothing is changed.
    """
    try:
        plans = plans_or_exit(paths, "planned")
    except SystemExit as exit_:
        # Sources with errors are an error here (exit 2): exit 1 means "changes".
        sys.exit(int(Exit.USAGE) if exit_.code not in (0, None) else 0)
    store = _store_or_none(store_url)
    crm = open_existing_crm(crm_url) if crm_url else None
    try:
        deployed = deployed_plans(store) if store is not None else None
        result = deployment_plan(deployed, plans, store, crm=crm)
    except PlanError as error:
        fail(f"{store_url}: the deployed plans cannot be read: {error}")
    except StoreError as error:
        fail(str(error))
    except AdapterError as error:
        fail(f"adapter failure: {error}", Exit.RUNTIME)
    finally:
        for thing in (store, crm):
            if isinstance(thing, Closable):
                thing.close()
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(render_deployment(result), nl=False)
    sys.exit(int(Exit.ERRORS) if detailed_exitcode and result.changed else int(Exit.OK))
