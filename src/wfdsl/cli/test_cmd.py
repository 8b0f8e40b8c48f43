"""`wfdsl test`: workflow test files in, a pytest-like report and an exit code out."""

from __future__ import annotations

import sys

import click

from wfdsl.cli.common import Exit, fail
from wfdsl.host.testing import TestFileError, TestReport, junit_text, run_paths
from wfdsl.runtime.protocols import AdapterError


def render(report: TestReport) -> str:
    """One line per case, the problems of failures below it, then the summary line."""
    lines = []
    for result in report.results:
        label = f"{result.file}::{result.name}"
        if result.status == "pass":
            lines.append(f"PASS   {label}")
        elif result.status == "xfail":
            lines.append(f"XFAIL  {label}  (expected failure: {result.xfail})")
        elif result.status == "xpass":
            lines.append(f"XPASS  {label}")
            lines.append(f"    marked xfail ({result.xfail}) but every expectation held: remove `xfail`")
        else:
            lines.append(f"FAIL   {label}")
            lines.extend(f"    {problem}" for problem in result.problems)
    lines.append("")
    if report.xfailed:
        lines.append(f"{report.xfailed} expected failure{'s' if report.xfailed != 1 else ''}")
    lines.append(f"{report.passed} passed, {report.failed} failed")
    return "\n".join(lines) + "\n"


@click.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-k", "keyword", metavar="TEXT", help="Only the test cases whose name contains TEXT (ignoring case).")
@click.option("--junit-xml", "junit_xml", metavar="FILE", help="Also write the results as JUnit XML to FILE (for CI).")
def test(paths: tuple[str, ...], keyword: str | None, junit_xml: str | None) -> None:
    """Run the workflow test files (*.wftest.toml) at or below PATHS, or the test file
    of each .wf file in PATHS."""
    try:
        report = run_paths(paths, keyword, warn=lambda message: click.echo(message, err=True))
    except TestFileError as error:
        fail(str(error))
        return
    except AdapterError as error:
        fail(f"adapter failure: {error}", Exit.RUNTIME)
        return
    if junit_xml is not None:
        try:
            with open(junit_xml, "w", encoding="utf-8") as handle:
                handle.write(junit_text(report))
        except OSError as error:
            fail(f"cannot write {junit_xml}: {error.strerror or error}")
    sys.stdout.write(render(report))
    sys.exit(int(Exit.ERRORS if report.failed else Exit.OK))
