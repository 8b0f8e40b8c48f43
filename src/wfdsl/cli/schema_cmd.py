"""`wfdsl schema`: print the effective CRM schema (built in, or the project's) as TOML or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wfdsl.cli.common import fail
from wfdsl.schema import ConfigError, Schema, load_schema, load_schema_file


@click.command("schema")
@click.argument("path", required=False, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("toml", "json")),
    default="toml",
    show_default=True,
    help="toml prints a complete config file (`builtin = false`); json prints plain data.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(),
    metavar="FILE",
    help="Read this wfdsl.toml or pyproject.toml instead of searching for one.",
)
def schema(path: str | None, fmt: str, config: str | None) -> None:
    """Print the schema that `wfdsl lint PATH` would use.

    PATH defaults to the working directory.
    """
    try:
        if config is not None:
            if not Path(config).is_file():
                fail(f"{config}: no such config file")
            found: Schema = load_schema_file(config)
        else:
            found = load_schema(path or Path.cwd())
    except ConfigError as error:
        fail(f"bad configuration: {error}")
        return
    source = found.source or "built-in schema"
    if fmt == "json":
        click.echo(json.dumps(found.to_json(), indent=2))
    else:
        click.echo(f"# effective schema: {source}\n" + found.to_toml(), nl=False)
