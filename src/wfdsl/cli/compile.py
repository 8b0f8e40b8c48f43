"""`wfdsl compile`: `.wf` sources in, a plan JSON file (or stdout) out."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from wfdsl.cli.common import Exit, fail, schema_for
from wfdsl.cli.style import style
from wfdsl.compile.compiler import compile_project
from wfdsl.diagnostics import Severity
from wfdsl.plan.model import plan_to_json
from wfdsl.syntax.project import SourceError, load_project
from wfdsl.tools.render import render_text


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write(path: str, text: str) -> None:
    """Write atomically (a temporary file, then rename) with the mode any other file
    would get: an existing file's own mode, else 0666 less the umask (a temporary
    file alone would be 0600 whatever the umask)."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        try:
            mode = target.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@click.command("compile")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="Where to write the plan JSON (`-` for stdout).",
)
def compile(paths: tuple[str, ...], output: str) -> None:  # noqa: A001 - the command's name
    """Compile PATHS (files or directories of .wf files) into a plan JSON file."""
    try:
        project = load_project(paths)
        schema = schema_for(paths)
    except SourceError as error:
        fail(str(error))
    plans, diagnostics = compile_project(project, schema)
    for diagnostic in diagnostics:
        click.echo(render_text(diagnostic, project.source(diagnostic.span.file), style=style), err=True)
    if plans is None:
        errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
        click.echo(f"wfdsl: {errors} error{'s' if errors != 1 else ''}; no plan written", err=True)
        sys.exit(int(Exit.ERRORS))
    text = plan_to_json(plans)
    if output == "-":
        click.echo(text, nl=False)
    else:
        try:
            _write(output, text)
        except OSError as error:
            fail(f"cannot write {output}: {error.strerror or error}")
    sys.exit(int(Exit.OK))
