"""CLI layer: the `wfdsl` click group. The only package that imports click.

Each command lives in a module of its own and is registered in `COMMANDS`;
a command is a thin shell over a library function that returns data.
"""

from __future__ import annotations

import importlib

import click

from wfdsl import __version__

#: module name -> command name, registered in this order.
COMMANDS: dict[str, str] = {
    "parse": "parse",
    "compile": "compile",
    "lint": "lint",
    "schema_cmd": "schema",
    "fmt": "fmt",
    "graph": "graph",
    "new": "new",
    "simulate": "simulate",
    "run": "run",
    "status": "status",
    "prune": "prune",
    "explain": "explain",
    "test_cmd": "test",
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wfdsl")
def cli() -> None:
    """wfdsl: CRM automation workflows as text — lint, compile, simulate, run."""


for _module, _name in COMMANDS.items():
    cli.add_command(getattr(importlib.import_module(f"wfdsl.cli.{_module}"), _name))


def main() -> None:
    """Entry point of the `wfdsl` command."""
    cli(prog_name="wfdsl")
