"""`wfdsl export`: `.wf` sources in, one HubSpot flow JSON file per workflow out."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wfdsl.check import check_project, has_errors
from wfdsl.cli.common import Exit, fail, schema_for
from wfdsl.cli.style import style
from wfdsl.schema import BUILTIN
from wfdsl.syntax.project import SourceError, load_project
from wfdsl.tools.hubspot.export import flow_json
from wfdsl.tools.hubspot.files import export_files
from wfdsl.tools.hubspot.lockfile import LOCK_NAME, LockError, LockFile, find_lock
from wfdsl.tools.render import render_text


@click.command("export")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--output",
    "output",
    default=".",
    show_default=True,
    metavar="DIR",
    help="Directory for the flow JSON files (one per workflow, named after it).",
)
@click.option(
    "--lock",
    "lock_path",
    metavar="FILE",
    help=f"The id <-> name file [default: the closest {LOCK_NAME} at or above the first PATH].",
)
def export(paths: tuple[str, ...], output: str, lock_path: str | None) -> None:
    """Export the workflows in PATHS as HubSpot flow JSON (Automation API v4), created disabled.

    Names of lists, emails, owners and forms become portal ids through the
    lock file; a name it does not know becomes a placeholder id, with a warning.
    Sources with lint errors export nothing.

    Exit status: 0 all exported, 1 errors (lint, or constructs flow JSON cannot
    hold), 2 usage, I/O or configuration error.
    """
    try:
        project = load_project(paths)
    except SourceError as error:
        fail(str(error))
    schema = schema_for(paths) or BUILTIN
    diagnostics = check_project(project, schema)
    if has_errors(diagnostics):
        for diagnostic in diagnostics:
            click.echo(render_text(diagnostic, project.source(diagnostic.span.file), style=style), err=True)
        click.echo("wfdsl: the sources have errors; nothing exported", err=True)
        sys.exit(int(Exit.ERRORS))
    found = Path(lock_path) if lock_path else find_lock(paths[0])
    try:
        lock = LockFile.load(found) if found is not None else LockFile()
    except LockError as error:
        fail(str(error))
    if lock_path and found is not None and not found.exists():
        fail(f"{lock_path}: no such lock file")
    directory = Path(output)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"cannot create {output}: {error.strerror or error}")
    failed = 0
    for result, name in export_files(project, lock=lock, schema=schema):
        for problem in result.problems:
            click.echo(problem.render(name), err=True)
        if result.flow is None:
            failed += 1
            continue
        target = directory / name
        try:
            target.write_text(flow_json(result.flow), encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {target}: {error.strerror or error}")
        click.echo(f"{result.name} -> {target}")
    if failed:
        click.echo(f"wfdsl: {failed} workflow{'s' if failed != 1 else ''} not exported", err=True)
        sys.exit(int(Exit.ERRORS))
    sys.exit(int(Exit.OK))
