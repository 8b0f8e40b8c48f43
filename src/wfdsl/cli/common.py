"""Shared CLI plumbing: exit codes, option values, loading plans with diagnostics."""

from __future__ import annotations

import datetime as dt
import enum
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

import click

from wfdsl.cli.style import style

if TYPE_CHECKING:
    from wfdsl.host.inputcheck import InputCheck
    from wfdsl.plan.model import ProjectPlan
    from wfdsl.schema import Schema


class Exit(enum.IntEnum):
    """Exit codes of every command (docs/cli.md)."""

    OK = 0
    ERRORS = 1  # diagnostics with errors, unformatted files, failing tests
    USAGE = 2  # usage, I/O or configuration error
    RUNTIME = 3  # runtime or adapter failure


class Finished(SystemExit):
    """`sys.exit` of a command that has written everything and holds nothing that needs
    finalizing (no open files, stores or connections): `main` then lets the process end
    without the garbage collector's passes over every object left (`wfdsl.cli.main`)."""


def fail(message: str, code: Exit = Exit.USAGE) -> NoReturn:
    """Print `wfdsl: error: …` to stderr and exit with `code`."""
    click.echo(f"wfdsl: error: {message}", err=True)
    sys.exit(int(code))


def parse_time(value: str | None, option: str) -> dt.datetime | None:
    """An ISO 8601 option value as aware UTC (naive times are UTC); exits 2 when malformed."""
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: {value!r} is not an ISO 8601 time (e.g. 2026-11-23T10:00:00Z)")
    if when.year > 9000:  # delays and horizons must stay within the calendar
        fail(f"{option}: {value!r} is after the year 9000")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def is_plan_file(paths: Sequence[str]) -> bool:
    return len(paths) == 1 and str(paths[0]).endswith(".json")


def schema_for(paths: Sequence[str]) -> Schema | None:
    """The project schema found from the first path (None for a compiled plan); exits 2
    on a bad configuration file."""
    if not paths or is_plan_file(paths):
        return None
    from wfdsl.schema import ConfigError, load_schema

    try:
        return load_schema(paths[0])
    except ConfigError as error:
        fail(str(error))


def input_check(paths: Sequence[str], warn: Callable[[str], None] | None = None) -> InputCheck:
    """A checker of records and events files against the project's schema (the built-in
    one for a compiled plan with no config near it) that prints each warning on stderr
    (or hands it to `warn`)."""
    from wfdsl.host.inputcheck import InputCheck
    from wfdsl.schema import BUILTIN, ConfigError, load_schema

    schema = schema_for(paths)
    if schema is None:
        try:
            schema = load_schema(paths[0]) if paths else load_schema()
        except ConfigError:
            schema = BUILTIN
    return InputCheck(schema, warn=warn or (lambda message: click.echo(message, err=True)))


def plans_or_exit(paths: Sequence[str], doing: str) -> ProjectPlan:
    """Plans from `.wf` sources or one compiled plan. Sources with errors: their
    diagnostics and exit 1 (`nothing <doing>`); unusable paths or plans: exit 2."""
    # The compiler and the plan model load here, not at import: `wfdsl lint`
    # and `wfdsl fmt` need neither, and every millisecond of start-up counts.
    from wfdsl.compile.compiler import CompileFailed, load_plans
    from wfdsl.diagnostics import Severity
    from wfdsl.plan.model import PlanError
    from wfdsl.syntax.project import SourceError
    from wfdsl.tools.render import render_text

    schema = schema_for(paths)
    try:
        return load_plans(list(paths), schema)
    except CompileFailed as failed:
        for diagnostic in failed.diagnostics:
            click.echo(render_text(diagnostic, failed.sources.get(diagnostic.span.file, ""), style=style), err=True)
        errors = sum(1 for d in failed.diagnostics if d.severity is Severity.ERROR)
        click.echo(f"wfdsl: {errors} error{'s' if errors != 1 else ''}; nothing {doing}", err=True)
        sys.exit(int(Exit.ERRORS))
    except (SourceError, PlanError) as error:
        fail(str(error))
