"""`wfdsl parse`: parse files and print syntax errors or the AST dump."""

from __future__ import annotations

import sys

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.cli.style import style
from wfdsl.syntax.parser import dump, parse_file
from wfdsl.syntax.project import SourceError, discover
from wfdsl.tools.render import render_text


@click.command("parse")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--dump", "show", is_flag=True, help="Print the AST of every file.")
def parse(paths: tuple[str, ...], show: bool) -> None:
    """Parse PATHS (files or directories of .wf files); report syntax errors."""
    try:
        files = discover(paths)
    except SourceError as error:
        fail(str(error))
    errors = 0
    for path in files:
        try:
            result = parse_file(path)
        except OSError as error:
            fail(f"cannot read {path}: {error.strerror}")
        for diagnostic in result.diagnostics:
            click.echo(render_text(diagnostic, result.source, style=style), err=not show)
            errors += 1
        if show:
            click.echo(dump(result.module))
    sys.exit(int(Exit.ERRORS if errors else Exit.OK))
