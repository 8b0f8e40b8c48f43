"""Shared CLI plumbing: exit codes, rendering of diagnostics, path discovery errors."""

from __future__ import annotations

import enum
import sys

import click


class Exit(enum.IntEnum):
    """Exit codes of every command (SPEC §7)."""

    OK = 0
    ERRORS = 1  # diagnostics with errors, unformatted files, failing tests
    USAGE = 2  # usage, I/O or configuration error
    RUNTIME = 3  # runtime or adapter failure


def fail(message: str, code: Exit = Exit.USAGE) -> None:
    """Print `wfdsl: error: …` to stderr and exit with `code`."""
    click.echo(f"wfdsl: error: {message}", err=True)
    sys.exit(int(code))
