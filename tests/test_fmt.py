"""`wfdsl fmt`: idempotent, meaning-preserving, comment-preserving; CLI behaviour and exit codes."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from conftest import CASES, EXAMPLES
from strategies import mutated_programs, programs
from wfdsl.cli import cli
from wfdsl.syntax import nodes as n
from wfdsl.syntax.parser import parse
from wfdsl.tools.fmt import comment_texts, criteria_text, format_source, same_ast

ALL_FILES = sorted([*EXAMPLES.glob("*.wf"), *CASES.rglob("*.wf")])
PARSING = [p for p in ALL_FILES if parse(p.read_text(encoding="utf-8"), str(p)).ok]
MESSY = sorted((CASES / "fmt").glob("*.wf"))


def _id(path: Path) -> str:
    return str(path.relative_to(CASES.parent.parent))


def _in_canonical_order(module: n.Module) -> bool:
    rank = {cls: i for i, (cls, _kw) in enumerate(n.CLAUSE_ORDER)}
    return all(
        [rank[type(c)] for c in wf.clauses] == sorted(rank[type(c)] for c in wf.clauses) for wf in module.workflows
    )


def assert_formats_well(text: str, path: str = "t.wf") -> str:
    """fmt(text) parses to the same AST, keeps every comment, and is a fixed point."""
    before = parse(text, path)
    assert before.ok
    out = format_source(text, path)
    assert isinstance(out, str), out
    after = parse(out, path)
    assert after.ok, (out, after.diagnostics)
    assert same_ast(before.module.workflows, after.module.workflows), out
    old, new = comment_texts(before.module), comment_texts(after.module)
    assert collections.Counter(old) == collections.Counter(new)
    if _in_canonical_order(before.module):
        assert old == new  # nothing moved, so the comments keep their order exactly
    assert format_source(out, path) == out
    return out


def test_the_corpus_is_there() -> None:
    assert len(PARSING) > 100
    assert len(MESSY) >= 4


@pytest.mark.parametrize("path", PARSING, ids=_id)
def test_every_parsing_file_formats_well(path: Path) -> None:
    assert_formats_well(path.read_text(encoding="utf-8"), str(path))


@pytest.mark.parametrize("path", MESSY, ids=lambda p: p.name)
def test_messy_inputs(path: Path, snapshot: object) -> None:
    assert assert_formats_well(path.read_text(encoding="utf-8"), path.name) == snapshot


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_generated_programs_format_well(text: str) -> None:
    assert_formats_well(text)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_workflows=3))
def test_many_generated_programs_format_well(text: str) -> None:
    assert_formats_well(text)


# ---------------------------------------------------------------- layout rules


def _fmt(text: str) -> str:
    out = format_source(text)
    assert isinstance(out, str)
    return out


def _criteria(text: str) -> str:
    source = f'workflow "W" {{ object contact enroll when {text} steps {{ end }} }}'
    trigger = parse(source).module.workflows[0].trigger
    assert isinstance(trigger, n.FilterTrigger)
    return criteria_text(trigger.criteria)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("(contact.a = 1)", "contact.a = 1"),
        (
            "(contact.a = 1 and contact.b = 2) or contact.c = 3",
            "contact.a = 1 and contact.b = 2 or contact.c = 3",
        ),
        (
            "(contact.a = 1 or contact.b = 2) and contact.c = 3",
            "(contact.a = 1 or contact.b = 2) and contact.c = 3",
        ),
        ("not (contact.a = 1 and contact.b = 2)", "not (contact.a = 1 and contact.b = 2)"),
        ("not (contact.a = 1)", "not contact.a = 1"),
        ('not not (in list "L")', 'not not in list "L"'),
        (
            "contact.a = 1 or (contact.b = 2 or contact.c = 3)",
            "contact.a = 1 or (contact.b = 2 or contact.c = 3)",
        ),
        ("(not contact.a = 1) and contact.b = 2", "not contact.a = 1 and contact.b = 2"),
    ],
)
def test_minimal_parentheses(written: str, canonical: str) -> None:
    assert _criteria(written) == canonical
    assert _criteria(canonical) == canonical


def test_durations_get_the_right_number() -> None:
    out = _fmt('workflow "W" { object contact steps { delay 1 days 2 hour 1 weeks 10 minute } }')
    assert "delay 1 day 2 hours 1 week 10 minutes" in out


def test_strings_are_escaped_canonically() -> None:
    out = _fmt('workflow "W\ttab" { object contact steps { send email "a \\"b\\" \\\\ c" } }')
    assert 'workflow "W\\ttab" {' in out
    assert 'send email "a \\"b\\" \\\\ c"' in out


def test_clauses_in_spec_order_and_comments_move_with_them() -> None:
    text = (
        'workflow "W" {\n'
        "  steps { end }  # the steps\n"
        "  # the goal\n"
        '  goal contact.lifecyclestage = "customer"\n'
        "  object contact\n"
        "}\n"
    )
    assert _fmt(text) == (
        'workflow "W" {\n'
        "  object contact\n"
        "\n"
        "  # the goal\n"
        '  goal contact.lifecyclestage = "customer"\n'
        "\n"
        "  steps {\n"
        "    end\n"
        "  }  # the steps\n"
        "}\n"
    )


def test_long_criteria_break_before_or_then_and() -> None:
    text = (
        'workflow "W" { object contact steps { end } goal contact.lifecyclestage = "customer" '
        'or contact.hubspotscore > 90 and contact.country in ["NO", "SE"] '
        'and contact.city = "Oslo" }'
    )
    assert "\n".join(_fmt(text).splitlines()[3:7]) == (
        '  goal contact.lifecyclestage = "customer"\n'
        "    or contact.hubspotscore > 90\n"
        '      and contact.country in ["NO", "SE"]\n'
        '      and contact.city = "Oslo"'
    )


def test_a_blank_line_between_workflows_and_kept_blank_lines_between_steps() -> None:
    text = (
        'workflow "A" { object contact steps {\n  send email "1"\n\n\n\n  send email "2"\n} }'
        'workflow "B" { object contact steps { end } }'
    )
    assert _fmt(text) == (
        'workflow "A" {\n  object contact\n\n  steps {\n    send email "1"\n\n'
        '    send email "2"\n  }\n}\n\n'
        'workflow "B" {\n  object contact\n\n  steps {\n    end\n  }\n}\n'
    )


def test_syntax_errors_are_returned_not_formatted() -> None:
    result = format_source('workflow "W" { object contact steps { sned email "x" } }', "bad.wf")
    assert not isinstance(result, str)
    assert [d.name for d in result] == ["syntax"]
    assert result[0].span.file == "bad.wf"


def test_empty_and_comment_only_files() -> None:
    assert format_source("") == ""
    assert format_source("\n\n  \n") == ""
    assert format_source("# a\n\n\n# b") == "# a\n\n# b\n"


def test_crlf_and_trailing_blanks_in_comments() -> None:
    text = 'workflow "W" {\r\n  object contact   # note   \r\n  steps { end }\r\n}\r\n'
    out = assert_formats_well(text)
    assert "  object contact  # note\r\n" in out
    assert out.replace("\r\n", "\n") == format_source(text.replace("\r\n", "\n"))
    assert "\n" not in out.replace("\r\n", "")  # CRLF throughout, no bare LF


def test_line_endings_follow_the_first_line() -> None:
    lf = format_source(UGLY)
    assert isinstance(lf, str) and "\r" not in lf
    mixed = format_source(UGLY.replace("{ object", "{\r\n object", 1).replace("} }\n", "}\n}\n"))
    assert mixed == lf.replace("\n", "\r\n")
    assert format_source('workflow "W" {\n object contact steps { end } }\r\n') == format_source(
        'workflow "W" {\n object contact steps { end } }\n'
    )


# ---------------------------------------------------------------- CLI

UGLY = 'workflow "W" { object contact steps { delay 2 day } }\n'
PRETTY = _fmt(UGLY)


def _run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_rewrites_files_in_place(tmp_path: Path) -> None:
    ugly, pretty = tmp_path / "ugly.wf", tmp_path / "pretty.wf"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    code, out, _ = _run("fmt", str(tmp_path))
    assert code == 0
    assert ugly.read_text() == PRETTY
    assert pretty.read_text() == PRETTY
    assert out == "1 file reformatted, 1 file left unchanged\n"


def test_cli_check_lists_files_and_exits_1(tmp_path: Path) -> None:
    ugly, pretty = tmp_path / "ugly.wf", tmp_path / "pretty.wf"
    ugly.write_text(UGLY)
    pretty.write_text(PRETTY)
    code, out, _ = _run("fmt", "--check", str(ugly), str(pretty))
    assert code == 1
    assert out == f"Would reformat: {ugly}\n1 file would be reformatted, 1 file already formatted\n"
    assert ugly.read_text() == UGLY
    assert _run("fmt", "--check", str(pretty))[0] == 0


def test_cli_diff(tmp_path: Path) -> None:
    ugly = tmp_path / "ugly.wf"
    ugly.write_text(UGLY)
    code, out, err = _run("fmt", "--diff", str(ugly))
    assert code == 1
    assert out.startswith(f"--- {ugly}\n+++ {ugly}\n@@ ")
    assert '-workflow "W" { object contact steps { delay 2 day } }\n' in out
    assert "+    delay 2 days\n" in out
    assert err == "1 file would be reformatted\n"
    assert ugly.read_text() == UGLY


def test_cli_stdin_to_stdout() -> None:
    assert _run("fmt", "-", input=UGLY)[:2] == (0, PRETTY)
    assert _run("fmt", "--check", "-", input=UGLY)[:2] == (1, "")
    assert _run("fmt", "--check", "-", input=PRETTY)[:2] == (0, "")
    code, out, _ = _run("fmt", "--diff", "-", "--stdin-filename", "x.wf", input=UGLY)
    assert code == 1 and out.startswith("--- x.wf\n+++ x.wf\n")


def test_cli_syntax_errors_are_reported_and_the_file_left_alone(tmp_path: Path) -> None:
    bad, ugly = tmp_path / "bad.wf", tmp_path / "ugly.wf"
    bad.write_text('workflow "W" { object contact steps { sned email "x" } }\n')
    ugly.write_text(UGLY)
    code, out, err = _run("fmt", str(tmp_path))
    assert code == 1
    assert f"{bad}:1:39: error[syntax] found" in err
    assert bad.read_text() == 'workflow "W" { object contact steps { sned email "x" } }\n'
    assert ugly.read_text() == PRETTY  # the good file is still formatted
    assert out == "1 file reformatted, 1 file with syntax errors left untouched\n"
    code, out, err = _run("fmt", "-", input="workflow {")
    assert code == 1 and "error[syntax]" in err and out == "workflow {"


def test_cli_usage_and_io_errors_exit_2(tmp_path: Path) -> None:
    code, _, err = _run("fmt", str(tmp_path / "missing.wf"))
    assert code == 2 and "missing.wf: no such file or directory" in err
    assert _run("fmt", "-", str(tmp_path))[0] == 2
    assert _run("fmt")[0] == 2
    assert _run("fmt", "--stdin-filename", "x.wf", str(tmp_path))[0] == 2


def test_cli_non_utf8_file_is_a_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "latin1.wf"
    bad.write_bytes('workflow "Caf\xe9" { object contact steps { end } }'.encode("latin-1"))
    code, _, err = _run("fmt", str(bad))
    assert code == 1 and "not UTF-8" in err


# ---------------------------------------------------------------- docs/fmt.md

DOC = (CASES.parent.parent / "docs" / "fmt.md").read_text(encoding="utf-8")


def _fence(info: str) -> str:
    start = DOC.index(f"```{info}\n") + len(f"```{info}\n")
    return DOC[start : DOC.index("```\n", start)]


def test_the_docs_example_is_real_output() -> None:
    before, after = _fence("wf before"), _fence("wf after")
    assert format_source(before) == after
    assert format_source(after) == after


def test_the_docs_library_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code = _fence("python")
    exec(compile(code, "docs/fmt.md", "exec"), {})
    printed = capsys.readouterr().out
    shown = DOC[DOC.index("prints\n\n```\n") + len("prints\n\n```\n") :]
    assert printed == shown[: shown.index("```\n")]


def test_cli_rewrites_through_symlinks(tmp_path: Path) -> None:
    real = tmp_path / "real.wf"
    real.write_text(UGLY)
    link = tmp_path / "link.wf"
    link.symlink_to(real)
    assert _run("fmt", str(link))[0] == 0
    assert link.is_symlink()
    assert real.read_text() == PRETTY


def test_same_ast_sees_real_differences() -> None:
    def workflows(text: str) -> tuple[n.Workflow, ...]:
        return parse(text).module.workflows

    base = workflows('workflow "W" { object contact steps { delay 2 days } }')
    assert same_ast(base, workflows('workflow "W" {steps{delay 2 day} object contact}'))
    assert not same_ast(base, workflows('workflow "W" { object contact steps { delay 3 days } }'))
    assert not same_ast(base, workflows('workflow "V" { object contact steps { delay 2 days } }'))
    shell = 'workflow "W" {{ object contact goal {} steps {{ }} }}'
    nested = workflows(shell.format("contact.a = 1 or (contact.b = 2 or contact.c = 3)"))
    flat = workflows(shell.format("contact.a = 1 or contact.b = 2 or contact.c = 3"))
    assert not same_ast(nested, flat)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_programs())
def test_broken_programs_are_refused_or_formatted_never_crash(text: str) -> None:
    result = format_source(text)
    if isinstance(result, str):
        assert_formats_well(text)
    else:
        assert result and all(d.severity.value == "error" for d in result)


def test_cli_keeps_crlf_files_crlf_and_check_accepts_them(tmp_path: Path) -> None:
    crlf = PRETTY.replace("\n", "\r\n")
    formatted = tmp_path / "formatted.wf"
    formatted.write_bytes(crlf.encode())
    ugly = tmp_path / "ugly.wf"
    ugly.write_bytes(UGLY.replace("\n", "\r\n").encode())
    assert _run("fmt", "--check", str(formatted)) == (0, "1 file already formatted\n", "")
    assert _run("fmt", "--diff", str(formatted))[0] == 0
    code, out, _ = _run("fmt", "--check", str(tmp_path))
    assert code == 1 and f"Would reformat: {ugly}" in out and str(formatted) not in out
    assert _run("fmt", str(tmp_path))[0] == 0
    assert ugly.read_bytes() == formatted.read_bytes() == crlf.encode()
    assert _run("fmt", "--check", str(tmp_path))[0] == 0
    piped = CliRunner().invoke(cli, ["fmt", "-"], input=UGLY.replace("\n", "\r\n").encode())
    assert (piped.exit_code, piped.stdout_bytes) == (0, crlf.encode())  # .stdout would turn \r\n into \n
