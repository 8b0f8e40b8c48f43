"""`wfdsl new`: a template name in, a starter `.wf` file (or stdout) out; `--list` lists them."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.syntax.parser import parse
from wfdsl.templates import TEMPLATES, find_template, template_text
from wfdsl.tools.printers import quote


def _rename(text: str, name: str) -> str:
    """The template with its workflow renamed (the name's string literal replaced in place)."""
    workflow = parse(text).module.workflows[0]
    span = workflow.name.span
    lines = text.split("\n")
    line = lines[span.line - 1]
    lines[span.line - 1] = line[: span.col - 1] + quote(name) + line[span.end_col - 1 :]
    return "\n".join(lines)


@click.command("new")
@click.argument("file", required=False, metavar="FILE")
@click.option("--template", "-t", "name", metavar="NAME", help="The template to start from.")
@click.option("--list", "show_list", is_flag=True, help="List the templates and exit.")
@click.option("--name", "workflow_name", metavar="TEXT", help="Name the workflow (default: the template's).")
def new(file: str | None, name: str | None, show_list: bool, workflow_name: str | None) -> None:
    """Write a starter workflow from a template to FILE (`-` for stdout).

    The file must not exist yet. Templates contain `placeholder` actions to
    replace before the workflow can be turned on (`wfdsl lint` lists them).
    Exit status: 0 ok; 2 unknown template, existing file or I/O error.
    """
    if show_list:
        width = max(len(t.name) for t in TEMPLATES)
        for each in TEMPLATES:
            click.echo(f"{each.name:<{width}}  {each.description}")
        return
    if name is None:
        fail("give a template with --template NAME (see `wfdsl new --list`)")
    if file is None:
        fail("give the file to write (or `-` for stdout)")
    assert name is not None and file is not None
    template = find_template(name)
    if template is None:
        close = difflib.get_close_matches(name, [t.name for t in TEMPLATES], n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        fail(f"unknown template `{name}`; {hint}see `wfdsl new --list`")
    assert template is not None
    text = template_text(name)
    if workflow_name is not None:
        text = _rename(text, workflow_name)
    if file == "-":
        click.echo(text, nl=False)
        sys.exit(int(Exit.OK))
    target = Path(file)
    if target.exists():
        fail(f"{file}: already exists; not overwriting it (choose another file name)")
    try:
        with target.open("x", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except FileExistsError:
        fail(f"{file}: already exists; not overwriting it (choose another file name)")
    except OSError as error:
        fail(f"{file}: cannot write: {error.strerror or error}")
    placeholders = sum(1 for line in text.splitlines() if line.strip().startswith("placeholder "))
    click.echo(
        f"wrote {file} from the template {template.name}: replace its {placeholders} "
        "placeholder actions, then run `wfdsl lint`",
        err=True,
    )
    for object_type, prop, kind in template.needs:
        click.echo(
            f"note: it uses the custom property {object_type}.{prop}; declare it in wfdsl.toml:"
            f' [schema.{object_type}] {prop} = "{kind}"',
            err=True,
        )
