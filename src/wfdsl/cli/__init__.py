"""CLI layer: the `wfdsl` click group. The only package that imports click.

Each command lives in a module of its own and is registered in `COMMANDS`;
a command is a thin shell over a library function that returns data.
"""

from __future__ import annotations

import codecs
import gc
import importlib
import io
import sys

import click

from wfdsl import __version__
from wfdsl.cli.common import Finished
from wfdsl.cli.style import color_option

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
    "serve": "serve",
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
@color_option(default="auto")
def cli() -> None:
    """wfdsl: CRM automation workflows as text — lint, compile, simulate, run."""


def _unencodable(error: UnicodeError) -> tuple[str | bytes, int]:
    """Encoding errors: a file name's undecodable bytes (surrogate escapes) go out as
    they came in; any other character the encoding lacks is written as `\\uXXXX`."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chunk = error.object[error.start : error.end]
    if all(0xDC80 <= ord(char) <= 0xDCFF for char in chunk):
        return bytes(ord(char) - 0xDC00 for char in chunk), error.end
    return codecs.backslashreplace_errors(error)


def _portable_streams() -> None:
    """Let stdout and stderr carry any text, whatever the locale says.

    Under the C locale with UTF-8 mode off (`PYTHONUTF8=0 LC_ALL=C`) Python's
    streams are ASCII, so a workflow named "Café" would crash `simulate` or
    `explain`. An ASCII locale names no encoding at all, so wfdsl writes UTF-8
    there, as Python's own UTF-8 mode and click do; under another locale
    (latin-1, cp1252) it keeps the locale's encoding. Either way nothing fails
    to print: see `_unencodable`.
    """
    codecs.register_error("wfdsl-portable", _unencodable)
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):
            continue
        encoding = codecs.lookup(stream.encoding or "ascii").name
        if encoding == "ascii":
            stream.reconfigure(encoding="utf-8", errors="wfdsl-portable")
        elif encoding != "utf-8":
            stream.reconfigure(errors="wfdsl-portable")


def main() -> None:
    """Entry point of the `wfdsl` command."""
    _portable_streams()
    try:
        cli(prog_name="wfdsl")
    except Finished:
        # At exit Python collects garbage over every object still alive (the parser's
        # tables, the syntax trees, every module): about a tenth of a `wfdsl lint` of one
        # file. A command that finished cleanly made no cycles that need finalizing, so
        # its objects are left to the process's end.
        gc.freeze()
        raise
