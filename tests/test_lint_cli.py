"""`wfdsl lint` and `wfdsl schema` through the CLI: every option, every format, every exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli
from wfdsl.diagnostics import RULES
from wfdsl.schema import lint_settings_from_config, schema_from_config
from wfdsl.tools.formats import DOCS_URL

ROOT = Path(__file__).resolve().parents[1]
CASES = "tests/cases/check"

CLEAN = 'workflow "Clean" {\n  object contact\n  steps { send email "Hi" }\n}\n'
WARNS = 'workflow "Warns" {\n  object contact\n  steps { placeholder "Later" }\n}\n'
ERRS = (
    'workflow "Errs" {\n'
    "  object contact\n"
    "  enroll on form.submited\n"
    "  steps {\n"
    "    delay 0 days\n"
    '    set contact.colour = "red"\n'
    "  }\n"
    "}\n"
)


@pytest.fixture(autouse=True)
def _in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def lint(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["lint", *args], input=stdin)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name, text in (("clean.wf", CLEAN), ("warns.wf", WARNS), ("errs.wf", ERRS)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


# ---------------------------------------------------------------- text output


@pytest.mark.parametrize("case", ["type-mismatch.wf", "syntax.wf", "unknown-event.wf", "workflow-cycle.wf"])
def test_text_output_snapshot(case: str, snapshot: object) -> None:
    code, out, _ = lint(f"{CASES}/{case}")
    assert code == 1 or case == "workflow-cycle.wf"
    assert out == snapshot


def test_text_header_format_caret_and_hint(files: Path) -> None:
    code, out, _ = lint(str(files / "errs.wf"))
    assert code == 1
    first = out.split("\n\n")[0].splitlines()
    assert re.fullmatch(rf"{re.escape(str(files / 'errs.wf'))}:3:13: error\[unknown-event\] .+", first[0])
    # the source line as it is, a caret under the span, then `hint:`
    assert first[1] == "  enroll on form.submited"
    assert first[2] == " " * 12 + "^" * len("form.submited")
    assert first[3] == "hint: did you mean `form.submitted`?"
    assert out.rstrip().endswith("Found 2 errors, 1 warning and 0 infos in 1 file.")


def test_clean_file_exits_zero_with_summary(files: Path) -> None:
    assert lint(str(files / "clean.wf")) == (0, "No problems found in 1 file.\n", "")


def test_directory_is_linted_recursively(files: Path) -> None:
    code, out, _ = lint(str(files))
    assert code == 1
    assert "in 3 files." in out


# ---------------------------------------------------------------- exit codes and options


def test_warnings_alone_exit_zero(files: Path) -> None:
    assert lint(str(files / "warns.wf"))[0] == 0


def test_exit_zero_ignores_errors(files: Path) -> None:
    code, out, _ = lint("--exit-zero", str(files / "errs.wf"))
    assert code == 0 and "error[unknown-event]" in out


def test_max_warnings(files: Path) -> None:
    assert lint("--max-warnings", "1", str(files / "warns.wf"))[0] == 0
    code, _, err = lint("--max-warnings", "0", str(files / "warns.wf"))
    assert code == 1
    assert "wfdsl: found 1 warning, more than --max-warnings 0" in err


def test_strict_makes_placeholders_errors(files: Path) -> None:
    code, out, _ = lint("--strict", str(files / "warns.wf"))
    assert code == 1 and "error[placeholder-action]" in out


def test_select_and_ignore_accept_names_codes_and_commas(files: Path) -> None:
    path = str(files / "errs.wf")
    _, out, _ = lint("--format", "json", "--select", "unknown-event,WF021", path)
    names = sorted(d["name"] for d in json.loads(out)["diagnostics"])
    assert names == ["invalid-value", "unknown-event"]
    _, out, _ = lint("--format", "json", "--ignore", "WF006", "--ignore", "invalid-value", path)
    assert [d["name"] for d in json.loads(out)["diagnostics"]] == ["unknown-property"]
    code, _, _ = lint("--select", "unknown-property", path)
    assert code == 0  # only a warning is left


def test_unknown_check_name_is_a_usage_error(files: Path) -> None:
    code, out, err = lint("--select", "unknown-evnt", str(files / "clean.wf"))
    assert code == 2 and out == ""
    assert err == (
        "wfdsl: error: unknown check `unknown-evnt` (did you mean `unknown-event`?); "
        "see docs/checks.md for the names and codes\n"
    )


def test_missing_path_is_exit_2(tmp_path: Path) -> None:
    code, out, err = lint(str(tmp_path / "nope.wf"))
    assert (code, out) == (2, "")
    assert err.startswith("wfdsl: error: ") and "no such file or directory" in err


def test_no_paths_is_a_usage_error() -> None:
    assert lint()[0] == 2


def test_bad_config_is_exit_2_naming_the_file(files: Path) -> None:
    (files / "wfdsl.toml").write_text('[schema.contact]\nrenewal = "dat"\n')
    code, out, err = lint(str(files / "clean.wf"))
    assert (code, out) == (2, "")
    assert str(files / "wfdsl.toml") in err
    assert "unknown type `dat`" in err and "did you mean `date`?" in err


def test_explicit_config_option(files: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("cfg") / "wfdsl.toml"
    other.write_text('[schema.contact]\ncolour = "string"\n')
    _, out, _ = lint("--format", "json", "--config", str(other), str(files / "errs.wf"))
    names = [d["name"] for d in json.loads(out)["diagnostics"]]
    assert "unknown-property" not in names
    assert lint("--config", str(files / "missing.toml"), str(files / "clean.wf"))[0] == 2


def test_project_schema_makes_unknown_properties_errors(files: Path) -> None:
    (files / "wfdsl.toml").write_text('[schema.contact]\nrenewal = "date"\n')
    _, out, _ = lint("--format", "json", str(files / "errs.wf"))
    by_name = {d["name"]: d["severity"] for d in json.loads(out)["diagnostics"]}
    assert by_name["unknown-property"] == "error"


def test_statistics(files: Path) -> None:
    _, out, _ = lint("--statistics", str(files))
    assert "    1  WF006  unknown-event  (error)" in out.splitlines()
    assert "    1  WF023  placeholder-action  (warning)" in out.splitlines()


def test_stdin_with_and_without_a_file_name() -> None:
    code, out, _ = lint("-", stdin=ERRS)
    assert code == 1 and out.startswith("<stdin>:3:13: error[unknown-event]")
    code, out, _ = lint("-", "--stdin-filename", "flows/a.wf", stdin=ERRS)
    assert out.startswith("flows/a.wf:3:13: error[unknown-event]")
    assert lint("-", stdin=CLEAN)[0] == 0


def test_stdin_misuse_is_a_usage_error(files: Path) -> None:
    assert lint("-", str(files / "clean.wf"), stdin=CLEAN)[0] == 2
    assert lint("--stdin-filename", "a.wf", str(files / "clean.wf"))[0] == 2


def test_color_only_when_asked_or_on_a_tty(files: Path) -> None:
    _, plain, _ = lint(str(files / "errs.wf"))
    assert "\x1b[" not in plain
    _, coloured, _ = lint("--color", "always", str(files / "errs.wf"))
    assert "\x1b[31merror[unknown-event]\x1b[0m" in coloured
    _, never, _ = lint("--color", "never", str(files / "errs.wf"))
    assert "\x1b[" not in never


# ---------------------------------------------------------------- machine formats


def test_json_document_shape(files: Path) -> None:
    code, out, err = lint("--format", "json", str(files))
    assert code == 1
    document = json.loads(out)  # stdout holds only the document
    assert document["format_version"] == "1"
    keys = {
        "code",
        "name",
        "severity",
        "message",
        "hint",
        "file",
        "line",
        "col",
        "end_line",
        "end_col",
    }
    for item in document["diagnostics"]:
        assert set(item) == keys
        assert RULES[item["name"]].code == item["code"]
        assert item["severity"] in ("error", "warning", "info")
    assert document["summary"] == {
        "files": 3,
        "errors": 2,
        "warnings": 2,
        "infos": 0,
        "by_name": {
            "invalid-value": 1,
            "placeholder-action": 1,
            "unknown-event": 1,
            "unknown-property": 1,
        },
    }
    first = document["diagnostics"][0]
    assert (first["file"], first["line"], first["col"], first["end_line"], first["end_col"]) == (
        str(files / "errs.wf"),
        3,
        13,
        3,
        26,
    )


def test_json_for_a_clean_project(files: Path) -> None:
    code, out, _ = lint("--format", "json", str(files / "clean.wf"))
    assert code == 0
    assert json.loads(out)["diagnostics"] == []


def test_github_annotations(files: Path) -> None:
    code, out, err = lint("--format", "github", str(files / "errs.wf"), str(files / "warns.wf"))
    assert code == 1
    lines = out.splitlines()
    path = str(files / "errs.wf").replace(":", "%3A").replace(",", "%2C")
    assert lines[0] == (
        f"::error file={path},line=3,col=13,endLine=3,endColumn=26,title=WF006 unknown-event::"
        "found the event `form.submited`, which is not in the event catalog; expected an event "
        "such as `form.submitted`, `email.clicked` or `list.added`%0Ahint: did you mean "
        "`form.submitted`?"
    )
    assert [line.split(" ")[0] for line in lines] == [
        "::error",
        "::error",
        "::warning",
        "::warning",
    ]
    assert "Found 2 errors" in err


def test_sarif_log_shape(files: Path) -> None:
    code, out, _ = lint("--format", "sarif", str(files))
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    assert "sarif" in log["$schema"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "wfdsl"
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [rule.code for rule in RULES.values()]
    for rule in rules:
        assert rule["helpUri"] == f"{DOCS_URL}#{rule['name']}"
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    assert len(run["results"]) == 4
    fingerprints = set()
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        assert result["message"]["text"]
        (location,) = result["locations"]
        region = location["physicalLocation"]["region"]
        assert {"startLine", "startColumn", "endLine", "endColumn"} <= set(region)
        assert location["physicalLocation"]["artifactLocation"]["uri"].endswith(".wf")
        fingerprints.add(result["partialFingerprints"]["wfdsl/v1"])
    assert len(fingerprints) == 4


def test_sarif_fingerprints_survive_moved_lines(files: Path) -> None:
    path = files / "errs.wf"
    _, before, _ = lint("--format", "sarif", str(path))
    path.write_text("\n\n" + ERRS, encoding="utf-8")
    _, after, _ = lint("--format", "sarif", str(path))

    def prints(text: str) -> list[str]:
        return [r["partialFingerprints"]["wfdsl/v1"] for r in json.loads(text)["runs"][0]["results"]]

    assert prints(before) == prints(after)


# ---------------------------------------------------------------- examples and the schema command


def test_examples_lint_clean() -> None:
    code, out, _ = lint("examples/")
    assert code == 0, out


def test_schema_command_prints_a_config_that_round_trips(tmp_path: Path) -> None:
    (tmp_path / "wfdsl.toml").write_text(
        '[schema.contact]\nrenewal_date = "date"\n[schema.custom.pet]\n'
        'species = { type = "enumeration", options = ["cat", "dog"] }\n'
    )
    result = CliRunner().invoke(cli, ["schema", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"# effective schema: {tmp_path / 'wfdsl.toml'}\n[schema]\nbuiltin = false\n")
    import tomllib

    again = schema_from_config(tomllib.loads(result.stdout), "printed.toml")
    assert again.property("contact", "renewal_date").type == "date"  # type: ignore[union-attr]
    assert again.property("pet", "species").options == ("cat", "dog")  # type: ignore[union-attr]
    assert again.custom_types == frozenset({"pet"})
    result = CliRunner().invoke(cli, ["schema", "--format", "json", str(tmp_path)])
    data = json.loads(result.stdout)
    assert data["objects"]["pet"]["custom"] is True
    assert data["objects"]["contact"]["properties"]["date_of_birth"] == {"type": "string"}


def test_schema_command_reports_bad_config(tmp_path: Path) -> None:
    (tmp_path / "wfdsl.toml").write_text("[schema\n")
    result = CliRunner().invoke(cli, ["schema", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"wfdsl: error: bad configuration: {tmp_path / 'wfdsl.toml'}: not valid TOML")


# ---------------------------------------------------------------- docs


def _blocks(doc: str, lang: str) -> list[str]:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)


def test_lint_docs_console_sessions_are_real() -> None:
    import shlex
    import subprocess
    import sys

    sessions = _blocks("lint.md", "console")
    assert sessions
    for block in sessions:
        command, *expected = block.splitlines()
        assert command.startswith("$ wfdsl ")
        args = shlex.split(command[2:])
        stdin = None
        if "<" in args:
            stdin = (ROOT / args[args.index("<") + 1]).read_bytes()
            args = args[: args.index("<")]
        done = subprocess.run([sys.executable, "-m", "wfdsl", *args[1:]], cwd=ROOT, input=stdin, capture_output=True)
        assert done.stdout.decode().splitlines() == expected


def test_lint_docs_ci_commands_run() -> None:
    commands = [
        line.split("run: ", 1)[1].split(" >")[0]
        for block in _blocks("lint.md", "yaml")
        for line in block.splitlines()
        if "run: wfdsl " in line
    ]
    assert len(commands) == 2
    for command in commands:
        result = CliRunner().invoke(cli, command.split()[1:])
        assert result.exit_code == 0, result.stdout
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert "- id: wfdsl-lint" in hooks and "entry: wfdsl lint" in hooks and "files: \\.wf$" in hooks
    assert any("- id: wfdsl-lint" in block for block in _blocks("lint.md", "yaml"))


def test_lint_docs_json_sample_matches_real_output() -> None:
    (sample,) = _blocks("lint.md", "json")
    documented = json.loads(sample)
    text = 'workflow "W" {\n  object contact\n  enroll on form.submited\n  steps { send email "Hi" }\n}\n'
    _, out, _ = lint("--format", "json", "-", "--stdin-filename", "flows/welcome.wf", stdin=text)
    assert json.loads(out) == documented


def test_lint_docs_python_example_runs() -> None:
    (code,) = _blocks("lint.md", "python")
    exec(compile(code, "docs/lint.md", "exec"), {})


def test_configuration_docs_examples_load(tmp_path: Path) -> None:
    import tomllib

    blocks = _blocks("configuration.md", "toml")
    assert len(blocks) == 3
    wfdsl_toml, pyproject, lint_table = (tomllib.loads(b) for b in blocks)
    settings = lint_settings_from_config(lint_table, "wfdsl.toml")
    assert settings.ignore == ("email-open-criteria", "workflow-cycle") and settings.strict
    schema = schema_from_config(wfdsl_toml, "wfdsl.toml")
    assert schema.property("contact", "favourite_colour").options == ("red", "green", "blue")  # type: ignore[union-attr]
    assert schema.property("deal", "dealstage").options == ("new", "won", "lost")  # type: ignore[union-attr]
    assert schema.custom_types == frozenset({"pet"})
    (tmp_path / "pyproject.toml").write_text(blocks[1])
    from wfdsl.schema import load_schema

    assert load_schema(tmp_path).property("pet", "name") is not None
    assert pyproject["tool"]["wfdsl"]["schema"]["contact"] == {"renewal_date": "date"}
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nrenewal_date = "dat"\n')
    result = CliRunner().invoke(cli, ["lint", "examples/welcome-series.wf", "--config", str(tmp_path / "wfdsl.toml")])
    documented = (
        "`schema.contact.renewal_date`: unknown type `dat`; expected one of `string`, `number`, "
        "`bool`, `date`, `datetime`, `enumeration` (did you mean `date`?)"
    )
    assert documented in result.stderr


def test_select_takes_several_names_after_one_flag(files: Path) -> None:
    path = str(files / "errs.wf")
    _, out, _ = lint("--format", "json", "--select", "unknown-event", "WF021", path)
    names = sorted(d["name"] for d in json.loads(out)["diagnostics"])
    assert names == ["invalid-value", "unknown-event"]
    _, out, _ = lint("--ignore", "unknown-event", "invalid-value", "--format", "json", path)
    assert [d["name"] for d in json.loads(out)["diagnostics"]] == ["unknown-property"]


def test_one_schema_per_run_and_a_warning_about_others(files: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("other")
    (other / "wfdsl.toml").write_text('[schema.contact]\ncolour = "string"\n')
    (other / "o.wf").write_text(CLEAN.replace("Clean", "Other"))
    code, _, err = lint(str(files / "clean.wf"), str(other))
    assert code == 0
    assert err == (
        f"wfdsl: warning: {other} has its own config {other / 'wfdsl.toml'}; all paths are "
        "checked with the built-in schema (lint them separately to use both)\n"
    )


def _names(out: str) -> list[str]:
    return sorted(d["name"] for d in json.loads(out)["diagnostics"])


def test_lint_table_of_the_config_file(files: Path) -> None:
    (files / "wfdsl.toml").write_text('[lint]\nignore = ["WF006"]\nstrict = true\n')
    code, out, _ = lint("--format", "json", str(files))
    assert code == 1
    assert _names(out) == ["invalid-value", "placeholder-action", "unknown-property"]
    severities = {d["name"]: d["severity"] for d in json.loads(out)["diagnostics"]}
    assert severities["placeholder-action"] == "error"
    (files / "wfdsl.toml").write_text('[lint]\nselect = ["unknown-event", "invalid-value"]\n')
    _, out, _ = lint("--format", "json", "--ignore", "invalid-value", str(files))
    assert _names(out) == ["unknown-event"]  # --ignore adds to the config
    _, out, _ = lint("--format", "json", "--select", "unknown-property", str(files))
    assert _names(out) == ["unknown-property"]  # --select replaces the config's


def test_bad_lint_table_is_exit_2(files: Path) -> None:
    (files / "wfdsl.toml").write_text('[lint]\nignore = ["unknown-evnt"]\n')
    code, _, err = lint(str(files / "clean.wf"))
    assert code == 2
    assert err == (
        f"wfdsl: error: bad configuration: {files / 'wfdsl.toml'}: `lint.ignore`: unknown check "
        "`unknown-evnt` (did you mean `unknown-event`?)\n"
    )
