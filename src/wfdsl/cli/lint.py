"""`wfdsl lint`: files (or stdin) in, diagnostics as text, JSON, GitHub annotations or SARIF out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from wfdsl.check import check_project, has_errors, resolve_names, select
from wfdsl.cli.common import Exit, Finished, fail
from wfdsl.cli.style import color_option, style
from wfdsl.diagnostics import Diagnostic, Severity
from wfdsl.schema import (
    ConfigError,
    LintSettings,
    Schema,
    find_config,
    load_config,
    load_lint_settings,
    load_schema_file,
    search_dirs,
)
from wfdsl.syntax.project import Project, SourceError, load_project, project_from_text
from wfdsl.tools.formats import render, statistics, summary_line

FORMATS = ("text", "json", "github", "sarif")


class _LintCommand(click.Command):
    """Lets `--select`/`--ignore` take several names: `--select unknown-event WF018 PATH`.

    Words after one of these options that are check names or codes (and not
    existing paths) are read as more values of that option.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        option: str | None = None
        index = 0
        while index < len(args):
            arg = args[index]
            index += 1
            if arg == "--":
                out.extend(args[index - 1 :])
                break
            if arg in ("--select", "--ignore"):
                option = arg
                out.append(arg)
                if index < len(args):
                    out.append(args[index])
                    index += 1
                continue
            if arg.startswith(("--select=", "--ignore=")):
                option = arg.split("=", 1)[0]
                out.append(arg)
                continue
            if option is not None and _names_only(arg) and not Path(arg).exists():
                out.extend([option, arg])
                continue
            option = None
            out.append(arg)
        return super().parse_args(ctx, out)


def _names_only(arg: str) -> bool:
    try:
        return bool(arg) and not arg.startswith("-") and bool(resolve_names([arg]))
    except ValueError:
        return False


@click.command("lint", cls=_LintCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Output format; json and sarif print only the document on stdout.",
)
@click.option("--strict", is_flag=True, help="Treat placeholder actions as errors.")
@click.option(
    "--select",
    "selected",
    multiple=True,
    metavar="NAME",
    help="Report only these checks.",
)
@click.option(
    "--ignore",
    "ignored",
    multiple=True,
    metavar="NAME",
    help="Do not report these checks.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when errors are found.")
@click.option(
    "--max-warnings",
    type=click.IntRange(min=0),
    metavar="N",
    help="Exit 1 when more than N warnings are found.",
)
@click.option(
    "--statistics",
    "show_statistics",
    is_flag=True,
    help="Print how often each check fired (text and github formats: after the output).",
)
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="The file name to report for text read from `-`; also where the config search starts.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(),
    metavar="FILE",
    help="Use this wfdsl.toml or pyproject.toml instead of searching for one.",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Say on stderr which config file is used (or that none is, and where it was looked for).",
)
@color_option(default=None)
def lint(
    paths: tuple[str, ...],
    fmt: str,
    strict: bool,
    selected: tuple[str, ...],
    ignored: tuple[str, ...],
    exit_zero: bool,
    max_warnings: int | None,
    show_statistics: bool,
    stdin_filename: str | None,
    config: str | None,
    verbose: bool,
) -> None:
    """Check PATHS (.wf files or directories; `-` reads stdin) for problems.

    HubSpot flow JSON files (`.json`) are imported in memory and checked
    like `.wf` files; their diagnostics point at JSON paths.

    Every check is listed with an example in docs/checks.md. Options that take
    NAME accept check names or codes, several after one flag, repeated, or
    comma-separated.

    Exit status: 0 no errors, 1 errors (or too many warnings), 2 usage, I/O or
    configuration error.
    """
    try:
        only = resolve_names(selected)
        skip = resolve_names(ignored)
    except ValueError as error:
        fail(str(error))
    flow_paths = tuple(p for p in paths if p.endswith(".json") and Path(p).is_file())
    sources_paths = tuple(p for p in paths if p not in flow_paths)
    schema, settings = _config(paths, stdin_filename, config)
    project = _load(sources_paths, stdin_filename) if sources_paths else Project(files=())
    flows = None
    if flow_paths:  # HubSpot flow JSON: imported in memory (the bridge loads only then)
        from wfdsl.tools.hubspot.files import flow_sources

        flows = flow_sources(flow_paths, schema=schema)
    if flows is not None:
        project = Project(files=(*project.files, *flows.parsed))
    if verbose:
        _say_config(paths, stdin_filename, config)
    # Command-line `--select` replaces the config's; `--ignore` adds to it.
    only = only or settings.select
    skip = (*settings.ignore, *skip)
    found = check_project(project, schema, strict=strict or settings.strict)
    if flows is not None:
        found = _flow_diagnostics(found, flows)
    diagnostics = select(found, only=only, ignore=skip)
    sources = {result.module.path: result.source for result in project.files}
    files = len(project.files)
    if flows is not None:
        sources.update(flows.texts)
        files += len(flows.imports) - len(flows.parsed)

    output = render(fmt, diagnostics, sources, files=files, style=style if fmt == "text" else None)
    if fmt == "text":
        parts = [output] if output else []
        if show_statistics and diagnostics:
            parts.append(statistics(diagnostics))
        parts.append(summary_line(diagnostics, files))
        click.echo("\n\n".join(parts))
    else:
        if output:
            click.echo(output)
        if fmt == "github":
            if show_statistics and diagnostics:
                click.echo(statistics(diagnostics), err=True)
            click.echo(summary_line(diagnostics, files), err=True)

    warnings = sum(1 for d in diagnostics if d.severity is Severity.WARNING)
    failed = has_errors(diagnostics)
    if max_warnings is not None and warnings > max_warnings:
        noun = "warning" if warnings == 1 else "warnings"
        click.echo(f"wfdsl: found {warnings} {noun}, more than --max-warnings {max_warnings}", err=True)
        failed = True
    raise Finished(int(Exit.ERRORS if failed and not exit_zero else Exit.OK))


def _flow_diagnostics(found: list[Diagnostic], flows: Any) -> list[Diagnostic]:
    """Diagnostics of imported flows pointed at their JSON, and the flows that did not import."""
    out = [flows.remap(d) for d in found] + flows.problems()
    return sorted(out, key=Diagnostic.sort_key)


def _load(paths: tuple[str, ...], stdin_filename: str | None) -> Project:
    if "-" in paths:
        if len(paths) > 1:
            fail("`-` (stdin) cannot be combined with other paths")
        data = sys.stdin.buffer.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            fail("stdin is not UTF-8 text")
        return project_from_text(text.removeprefix("\ufeff"), stdin_filename or "<stdin>")
    if stdin_filename is not None:
        fail("--stdin-filename needs `-` among the paths")
    try:
        return load_project(paths)
    except SourceError as error:
        fail(str(error))
    raise AssertionError("unreachable")


def _warn_other_configs(start: Path, others: tuple[str, ...]) -> None:
    """One schema applies to the whole project: say so when other paths have their own."""
    used = find_config(start)
    for other in others:
        found = find_config(other)
        if found is not None and (used is None or found[0] != used[0]):
            where = str(used[0]) if used else "the built-in schema"
            click.echo(
                f"wfdsl: warning: {other} has its own config {found[0]}; "
                f"all paths are checked with {where} (lint them separately to use both)",
                err=True,
            )


def _start(paths: tuple[str, ...], stdin_filename: str | None) -> Path:
    """Where the config search starts: the first path, or for stdin `--stdin-filename`'s
    directory (else the working directory)."""
    if paths == ("-",):
        return Path(stdin_filename).parent if stdin_filename else Path.cwd()
    return Path(paths[0])


def _say_config(paths: tuple[str, ...], stdin_filename: str | None, config: str | None) -> None:
    """`lint -v`: the config file used, on stderr."""
    if config is not None:
        click.echo(f"wfdsl: config: {config} (--config)", err=True)
        return
    start = _start(paths, stdin_filename)
    found = find_config(start)
    if found is not None:
        click.echo(f"wfdsl: config: {found[0]}", err=True)
        return
    dirs = search_dirs(start)
    click.echo(
        f"wfdsl: config: none found from {dirs[0]} up to {dirs[-1]}; the built-in schema and default settings",
        err=True,
    )


def _config(paths: tuple[str, ...], stdin_filename: str | None, config: str | None) -> tuple[Schema, LintSettings]:
    try:
        if config is not None:
            if not Path(config).is_file():
                fail(f"{config}: no such config file")
            return load_schema_file(config), load_lint_settings(config=config)
        start = _start(paths, stdin_filename)
        if paths != ("-",):
            _warn_other_configs(start, paths[1:])
        return load_config(start)
    except ConfigError as error:
        fail(f"bad configuration: {error}")
    raise AssertionError("unreachable")
