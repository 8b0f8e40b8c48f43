"""`wfdsl graph`: `.wf` sources in, a Mermaid or Graphviz DOT diagram of the workflows out."""

from __future__ import annotations

import difflib
import sys

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.cli.style import style
from wfdsl.syntax.project import SourceError, load_project
from wfdsl.tools.graph import FORMATS, render_graphs
from wfdsl.tools.render import render_text


@click.command("graph")
@click.argument("path", type=click.Path())
@click.option("--workflow", "-w", "name", metavar="NAME", help="Draw only this workflow.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default="mermaid",
    show_default=True,
    help="Mermaid `flowchart TD` or Graphviz `digraph`.",
)
def graph(path: str, name: str | None, fmt: str) -> None:
    """Draw the workflows in PATH (a .wf file or a directory) as a flowchart on stdout.

    Each workflow is drawn with its trigger, every step, branch labels, `go to`
    jumps, its end and its exits (goal, unenrollment, suppression). With
    several workflows and no --workflow, one diagram holds a subgraph per
    workflow. Exit status: 0 ok; 1 syntax errors; 2 usage or I/O error, or an
    unknown --workflow.
    """
    try:
        project = load_project([path])
    except SourceError as error:
        fail(str(error))
    if project.diagnostics:
        sources = {f.module.path: f.source for f in project.files}
        for diagnostic in project.diagnostics:
            click.echo(render_text(diagnostic, sources.get(diagnostic.span.file, ""), style=style), err=True)
        sys.exit(int(Exit.ERRORS))
    workflows = project.workflows
    if not workflows:
        fail(f"{path}: no workflows to draw")
    if name is not None:
        chosen = [wf for wf in workflows if wf.name.value == name]
        if not chosen:
            names = [wf.name.value for wf in workflows]
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
            hint = (
                f"did you mean `{close[0]}`?" if close else "the workflows are: " + ", ".join(f"`{n}`" for n in names)
            )
            fail(f'no workflow named "{name}" in {path}; {hint}')
        workflows = tuple(chosen)
    click.echo(render_graphs(workflows, fmt))
