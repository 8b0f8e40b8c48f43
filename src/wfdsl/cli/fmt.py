"""`wfdsl fmt`: `.wf` files (or stdin) in, the files rewritten in the canonical layout out.

Exit status: 0 nothing to do or everything reformatted; 1 `--check`/`--diff`
found files that would change, or a file has syntax errors (reported, left
untouched); 2 usage or I/O error (missing path, unreadable or unwritable file).
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from pathlib import Path

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.cli.style import style
from wfdsl.syntax.parser import parse_file
from wfdsl.syntax.project import SourceError, discover
from wfdsl.tools.fmt import format_source
from wfdsl.tools.render import render_text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=path,
            tofile=path,
        )
    )


def _write(target: Path, text: str) -> None:
    """Replace a file atomically (a temporary file in the same directory, then rename)."""
    target = target.resolve()  # through a symlink: rewrite the file it points to
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        if target.exists():
            os.chmod(temp, target.stat().st_mode & 0o7777)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _report(diagnostics: tuple[object, ...], source: str) -> None:
    for diagnostic in diagnostics:
        click.echo(render_text(diagnostic, source, style=style), err=True)  # type: ignore[arg-type]


def _stdin(check: bool, diff: bool, name: str) -> int:
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        fail("stdin is not UTF-8 text")
    result = format_source(text, name)
    if not isinstance(result, str):
        _report(result, text)
        if not check and not diff:
            click.echo(text, nl=False)  # leave the text as it was, like the files
        return Exit.ERRORS
    if diff:
        click.echo(_diff(name, text, result), nl=False)
        return Exit.ERRORS if result != text else Exit.OK
    if check:
        if result != text:
            click.echo(f"Would reformat: {name}", err=True)
            return Exit.ERRORS
        return Exit.OK
    click.echo(result, nl=False)
    return Exit.OK


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if any file would be reformatted.")
@click.option("--diff", is_flag=True, help="Change nothing; print a unified diff of what would change.")
@click.option("--stdin-filename", metavar="PATH", help="The file name to report for text read from `-`.")
def fmt(paths: tuple[str, ...], check: bool, diff: bool, stdin_filename: str | None) -> None:
    """Rewrite PATHS (.wf files or directories) in the canonical layout; `-` filters stdin.

    Files with syntax errors are reported and left untouched. Exit status: 0
    ok; 1 files would change (--check, --diff) or have syntax errors; 2 usage
    or I/O error.
    """
    if "-" in paths:
        if len(paths) > 1:
            fail("`-` (stdin) cannot be combined with other paths")
        sys.exit(int(_stdin(check, diff, stdin_filename or "<stdin>")))
    if stdin_filename is not None:
        fail("--stdin-filename needs `-` as the path")
    try:
        files = discover(paths)
    except SourceError as error:
        fail(str(error))

    changed: list[str] = []
    unchanged = 0
    broken = 0
    io_errors = 0
    for path in files:
        shown = str(path)
        try:
            data = path.read_bytes()
        except OSError as error:
            click.echo(f"wfdsl: error: {shown}: cannot read: {error.strerror or error}", err=True)
            io_errors += 1
            continue
        try:
            text = data.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            _report(parse_file(path).diagnostics, "")
            broken += 1
            continue
        result = format_source(text, shown)
        if not isinstance(result, str):
            _report(result, text)
            broken += 1
            continue
        original = data.decode("utf-8")
        if result == original:
            unchanged += 1
            continue
        changed.append(shown)
        if diff:
            click.echo(_diff(shown, original, result), nl=False)
        elif check:
            click.echo(f"Would reformat: {shown}")
        else:
            try:
                _write(path, result)
            except OSError as error:
                click.echo(f"wfdsl: error: {shown}: cannot write: {error.strerror or error}", err=True)
                io_errors += 1
                changed.pop()
                continue

    verb = "would be reformatted" if check or diff else "reformatted"
    parts = []
    if changed:
        parts.append(f"{_plural(len(changed), 'file')} {verb}")
    if unchanged:
        state = "already formatted" if check or diff else "left unchanged"
        parts.append(f"{_plural(unchanged, 'file')} {state}")
    if broken:
        parts.append(f"{_plural(broken, 'file')} with syntax errors left untouched")
    if parts:
        click.echo(", ".join(parts), err=diff)
    if io_errors:
        sys.exit(int(Exit.USAGE))
    if broken or (changed and (check or diff)):
        sys.exit(int(Exit.ERRORS))
    sys.exit(int(Exit.OK))
