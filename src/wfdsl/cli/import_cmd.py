"""`wfdsl import`: HubSpot flow JSON files in, formatted `.wf` files and `hubspot.lock.toml` out."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.schema import ConfigError, load_schema
from wfdsl.tools.hubspot.files import import_files
from wfdsl.tools.hubspot.locate import locate
from wfdsl.tools.hubspot.lockfile import LOCK_NAME, LockError, LockFile


@click.command("import")
@click.argument("flows", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    "output",
    default=".",
    show_default=True,
    metavar="DIR",
    help="Directory for the .wf files (one per flow, named after the workflow).",
)
@click.option("--lock", "lock_path", metavar="FILE", help=f"The id <-> name file [default: DIR/{LOCK_NAME}].")
def import_command(flows: tuple[str, ...], output: str, lock_path: str | None) -> None:
    """Import HubSpot workflows (Automation API v4 flow JSON files) as .wf files.

    Each flow becomes a formatted workflow that lints clean; portal ids (lists,
    emails, owners, forms…) are named through the lock file, which import
    updates. What wfdsl cannot express is an error naming the JSON path; the
    other flows are still imported.

    Exit status: 0 all imported, 1 some flows have errors, 2 usage or I/O error.
    """
    directory = Path(output)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"cannot create {output}: {error.strerror or error}")
    lock_file = Path(lock_path) if lock_path else directory / LOCK_NAME
    try:
        lock = LockFile.load(lock_file) if lock_file.exists() else LockFile(path=lock_file)
        schema = load_schema(directory)
    except (LockError, ConfigError) as error:
        fail(str(error))
    imported = import_files(flows, lock=lock, schema=schema)
    failed = 0
    for item in imported:
        text = _read(item.source)
        for problem in item.result.problems:
            click.echo(problem.render(item.source, locate(text, problem.path) if text else None), err=True)
        if not item.result.ok or item.result.text is None or item.target is None:
            failed += 1
            continue
        target = directory / item.target
        try:
            target.write_text(item.result.text, encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {target}: {error.strerror or error}")
        click.echo(f"{item.source} -> {target}")
    if lock.changed or not lock_file.exists():
        try:
            lock.write(lock_file)
        except OSError as error:
            fail(f"cannot write {lock_file}: {error.strerror or error}")
    if failed:
        click.echo(f"wfdsl: {failed} of {len(imported)} flow{'s' if len(imported) != 1 else ''} not imported", err=True)
        sys.exit(int(Exit.ERRORS))
    sys.exit(int(Exit.OK))


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ""


# The command is registered by name, and `import` is a Python keyword.
globals()["import"] = import_command
