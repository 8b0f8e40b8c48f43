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
    "ingest": "ingest",
    "status": "status",
    "plan_cmd": "plan",
    "history": "history",
    "outbox": "outbox",
    "preview": "preview",
    "prune": "prune",
    "explain": "explain",
    "test_cmd": "test",
    "lsp": "lsp",
    "import_cmd": "import",
    "export_cmd": "export",
    "rules": "rules",
}


class _LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or help lists it), so
    `wfdsl lint` does not pay for the engine, the stores and the formatter at start."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS.values(), *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            for module, name in COMMANDS.items():
                if name == cmd_name:
                    command = getattr(importlib.import_module(f"wfdsl.cli.{module}"), name)
                    self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wfdsl")
def cli() -> None:
    """wfdsl: CRM automation workflows as text — lint, compile, simulate, run."""


def main() -> None:
    """Entry point of the `wfdsl` command."""
    cli(prog_name="wfdsl")
