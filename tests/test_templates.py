"""Templates and `wfdsl new`: each template parses, is formatted, lints with only
`placeholder-action` warnings, and lints clean once its placeholders are filled."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl.check import check_project
from wfdsl.cli import cli
from wfdsl.schema import Schema, schema_from_config
from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import parse
from wfdsl.syntax.project import project_from_text
from wfdsl.templates import TEMPLATES, Template, find_template, template_text
from wfdsl.tools.fmt import format_source, quote
from wfdsl.tools.render import render_text

ROOT = Path(__file__).resolve().parents[1]
NAMES = [t.name for t in TEMPLATES]
REQUIRED = {
    "welcome-series",
    "lead-nurture",
    "renewal-reminder",
    "birthday",
    "deal-won-handoff",
    "form-follow-up",
}


def _schema(template: Template) -> Schema:
    """The built-in schema plus the custom properties the template says it needs."""
    table: dict[str, dict[str, str]] = {}
    for object_type, prop, kind in template.needs:
        table.setdefault(object_type, {})[prop] = kind
    return schema_from_config({"schema": table}, "wfdsl.toml")


def _lint(text: str, template: Template) -> list[tuple[str, str]]:
    project = project_from_text(text, f"{template.name}.wf")
    return [(d.name, d.severity.value) for d in check_project(project, _schema(template))]


def _fill(text: str) -> str:
    """Each `placeholder "X"` replaced by a real action: an email for contacts, else a task."""
    workflow = parse(text).module.workflows[0]
    action = "send email" if workflow.object_type == "contact" else "create task"
    lines = text.split("\n")
    placeholders = [s for s in workflow.walk() if isinstance(s, n.Placeholder)]
    for step in placeholders:
        span = step.span
        line = lines[span.line - 1]
        lines[span.line - 1] = line[: span.col - 1] + f"{action} {quote(step.text.value)}" + line[span.end_col - 1 :]
    return "\n".join(lines)


def test_the_required_templates_exist_and_every_file_is_listed() -> None:
    assert REQUIRED <= set(NAMES)
    files = {p.name.removesuffix(".wf") for p in resources.files("wfdsl.templates").iterdir() if p.name.endswith(".wf")}
    assert files == set(NAMES)
    assert all(t.description and len(t.description) <= 80 for t in TEMPLATES)


@pytest.mark.parametrize("name", NAMES)
def test_template_parses_and_is_formatted(name: str) -> None:
    text = template_text(name)
    result = parse(text, f"{name}.wf")
    assert result.ok, result.diagnostics
    assert len(result.module.workflows) == 1
    assert format_source(text) == text


@pytest.mark.parametrize("name", NAMES)
def test_template_lints_with_only_placeholder_warnings(name: str) -> None:
    template = find_template(name)
    assert template is not None
    found = _lint(template_text(name), template)
    assert found, "a template has placeholders to fill"
    assert set(found) == {("placeholder-action", "warning")}


@pytest.mark.parametrize("name", NAMES)
def test_template_lints_clean_once_filled(name: str) -> None:
    template = find_template(name)
    assert template is not None
    filled = _fill(template_text(name))
    assert "placeholder" not in filled.replace("# ", "").split("workflow", 1)[1]
    assert _lint(filled, template) == []


def test_all_templates_together_make_a_clean_project() -> None:
    text = "\n".join(_fill(template_text(name)) for name in NAMES)
    schema = schema_from_config({"schema": {"contact": {"birthdate": "date"}}}, "wfdsl.toml")
    assert check_project(project_from_text(text, "all.wf"), schema) == []


def test_birthday_without_its_date_property_says_so() -> None:
    project = project_from_text(_fill(template_text("birthday")), "birthday.wf")
    found = [(d.name, d.severity.value, d.span.line) for d in check_project(project)]
    assert found == [("unknown-property", "warning", 12)]  # the `anchor contact.birthdate` line


def test_unknown_template_name() -> None:
    assert find_template("nope") is None
    with pytest.raises(KeyError):
        template_text("nope")


# ---------------------------------------------------------------- CLI


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_list(snapshot: object) -> None:
    code, out, _ = _run("new", "--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == NAMES
    assert out == snapshot


def test_cli_writes_a_template_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "welcome.wf"
    code, out, err = _run("new", "--template", "welcome-series", str(target))
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8") == template_text("welcome-series")
    assert "replace its 3 placeholder actions" in err
    target.write_text("mine\n")
    code, _, err = _run("new", "--template", "birthday", str(target))
    assert code == 2
    expected = f"{target}: already exists; not overwriting it (choose another file name)"
    assert err == f"wfdsl: error: {expected}\n"
    assert target.read_text() == "mine\n"


def test_cli_stdout_rename_and_notes(tmp_path: Path) -> None:
    code, out, _ = _run("new", "-t", "lead-nurture", "-")
    assert (code, out) == (0, template_text("lead-nurture"))
    code, out, _ = _run("new", "-t", "lead-nurture", "--name", 'Spring "nurture"', "-")
    assert code == 0
    assert parse(out).module.workflows[0].name.value == 'Spring "nurture"'
    code, _, err = _run("new", "-t", "birthday", str(tmp_path / "b.wf"))
    assert code == 0
    assert 'declare it in wfdsl.toml: [schema.contact] birthdate = "date"' in err


def test_cli_usage_errors(tmp_path: Path) -> None:
    code, _, err = _run("new", "--template", "welcome", str(tmp_path / "x.wf"))
    assert code == 2
    assert "unknown template `welcome`; did you mean `welcome-series`?" in err
    assert not (tmp_path / "x.wf").exists()
    assert _run("new", str(tmp_path / "x.wf"))[0] == 2
    assert _run("new", "--template", "birthday")[0] == 2
    assert _run("new", "-t", "birthday", str(tmp_path / "no" / "such" / "dir.wf"))[0] == 2


@pytest.mark.slow
def test_templates_are_in_the_wheel(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("wfdsl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in NAMES:
        assert f"wfdsl/templates/{name}.wf" in names


# ---------------------------------------------------------------- docs/templates.md

DOC = (ROOT / "docs" / "templates.md").read_text(encoding="utf-8")


def _after(marker: str) -> str:
    start = DOC.index(marker) + len(marker)
    return DOC[start : DOC.index("```\n", start)]


def test_the_docs_show_real_output() -> None:
    assert _after("`wfdsl new --list` prints:\n\n```\n") == _run("new", "--list")[1]
    text = _after("```wf\n")
    assert text == template_text("form-follow-up")
    project = project_from_text(text, "follow-up.wf")
    first = check_project(project)[0]
    assert _after("reports its two placeholders:\n\n```\n") == render_text(first, text) + "\n"
