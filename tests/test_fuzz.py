"""Fuzzing: generated and mutated programs through parse, check, fmt, compile and plans.

Every outcome is a result or diagnostics, never an exception; fmt and parse
round-trip on every program that parses. The default tier runs in CI (a few
hundred examples in all); the `slow` tier runs thousands (`pytest -m slow
tests/test_fuzz.py`).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_helpers import (
    check_formatting,
    deep_nesting,
    long_line,
    mutate_bytes,
    mutated,
    run_pipeline,
    run_text,
)
from strategies import programs
from wfdsl.cli import cli
from wfdsl.limits import MAX_NESTING
from wfdsl.syntax.parser import parse, parse_file

SHORT = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The long tier's sizes; WFDSL_FUZZ_EXAMPLES / WFDSL_FUZZ_CLI_EXAMPLES change them for a run.
LONG_EXAMPLES = int(os.environ.get("WFDSL_FUZZ_EXAMPLES", "3000"))
LONG_CLI_EXAMPLES = int(os.environ.get("WFDSL_FUZZ_CLI_EXAMPLES", "1000"))
LONG = settings(
    max_examples=LONG_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
CLI_SHORT = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
CLI_LONG = settings(
    max_examples=LONG_CLI_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


# ---------------------------------------------------------------- valid programs


def _valid(text: str) -> None:
    result = parse(text, "gen.wf")
    assert not result.diagnostics, result.diagnostics
    outcome = run_pipeline(result)
    assert outcome.parsed


@SHORT
@given(programs())
def test_generated_programs_round_trip(text: str) -> None:
    _valid(text)


@pytest.mark.slow
@LONG
@given(programs(max_workflows=3))
def test_many_generated_programs_round_trip(text: str) -> None:
    _valid(text)


# ---------------------------------------------------------------- mutated programs


@SHORT
@given(mutated(programs()))
def test_mutated_programs_never_raise(text: str) -> None:
    run_text(text)


@pytest.mark.slow
@LONG
@given(mutated(programs(max_workflows=3), max_rounds=6, allow_huge=True))
def test_many_mutated_programs_never_raise(text: str) -> None:
    run_text(text)


def _through_file(tmp: Path, data: bytes) -> None:
    path = tmp / "fuzz.wf"
    path.write_bytes(data)
    result = parse_file(path)
    outcome = run_pipeline(result)
    if not outcome.parsed:
        assert result.diagnostics[0].span.file == str(path)


@SHORT
@given(programs(), st.randoms(use_true_random=False))
def test_damaged_bytes_in_files_never_raise(
    tmp_path_factory: pytest.TempPathFactory, text: str, rnd: random.Random
) -> None:
    _through_file(tmp_path_factory.mktemp("fuzz"), mutate_bytes(text.encode("utf-8"), rnd))


@pytest.mark.slow
@LONG
@given(programs(max_workflows=3), st.randoms(use_true_random=False))
def test_many_damaged_bytes_in_files_never_raise(
    tmp_path_factory: pytest.TempPathFactory, text: str, rnd: random.Random
) -> None:
    _through_file(tmp_path_factory.mktemp("fuzz"), mutate_bytes(text.encode("utf-8"), rnd, rounds=rnd.randint(1, 5)))


# ---------------------------------------------------------------- the CLI


def _cli_never_prints_a_traceback(tmp: Path, data: bytes) -> None:
    source = tmp / "in.wf"
    source.write_bytes(data)
    runner = CliRunner()
    for args in (
        ["lint", str(source)],
        ["lint", "--format", "json", str(source)],
        ["fmt", "--check", str(source)],
        ["fmt", "--diff", str(source)],
        ["compile", str(source), "-o", str(tmp / "plan.json")],
    ):
        result = runner.invoke(cli, args)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exc_info)
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 1), (args, result.output)
    assert source.read_bytes() == data  # --check and --diff leave the file alone


@CLI_SHORT
@given(mutated(programs()), st.randoms(use_true_random=False))
def test_cli_never_prints_a_traceback(tmp_path: Path, text: str, rnd: random.Random) -> None:
    data = text.encode("utf-8", "surrogatepass")
    if rnd.random() < 0.3:
        data = mutate_bytes(data, rnd)
    _cli_never_prints_a_traceback(tmp_path, data)


@pytest.mark.slow
@CLI_LONG
@given(mutated(programs(max_workflows=3), max_rounds=6), st.randoms(use_true_random=False))
def test_cli_never_prints_a_traceback_long(tmp_path: Path, text: str, rnd: random.Random) -> None:
    data = text.encode("utf-8", "surrogatepass")
    if rnd.random() < 0.3:
        data = mutate_bytes(data, rnd)
    _cli_never_prints_a_traceback(tmp_path, data)


# ---------------------------------------------------------------- limits, pinned


VALID = 'workflow "W" {\n  object contact\n\n  steps {\n    send email "Hi"\n  }\n}\n'


def _nested_criteria(depth: int) -> str:
    crit = 'not (contact.city = "a" or ' * depth + "contact.email is known" + ")" * depth
    return f'workflow "W" {{ object contact enroll when {crit} steps {{ end }} }}'


def test_nesting_at_the_limit_compiles_and_formats() -> None:
    # `workflow {` is one level, so MAX_NESTING - 1 parentheses (and as many `not`s) fit.
    outcome = run_text(_nested_criteria(MAX_NESTING - 1))
    assert outcome.parsed and outcome.compiled


@pytest.mark.parametrize("depth", [MAX_NESTING, 1_000, 100_000])
def test_nesting_past_the_limit_is_one_diagnostic(depth: int) -> None:
    outcome = run_text(_nested_criteria(depth))
    assert outcome.diagnostics == ("nesting-too-deep",)
    assert not outcome.compiled


@pytest.mark.parametrize("count", [MAX_NESTING + 1, 10_000])
def test_a_chain_of_nots_past_the_limit_is_one_diagnostic(count: int) -> None:
    text = f'workflow "W" {{ object contact enroll when {"not " * count}contact.email is known steps {{ end }} }}'
    assert run_text(text).diagnostics == ("nesting-too-deep",)
    fine = text.replace("not " * count, "not " * MAX_NESTING)
    assert run_text(fine).compiled


def test_long_numbers_are_invalid_values_not_crashes() -> None:
    for text in (
        'workflow "W" { object contact steps { delay ' + "1" * 5000 + " weeks } }",
        'workflow "W" { object contact enroll when contact.hubspotscore > ' + "9" * 200 + " steps { end } }",
        'workflow "W" { object contact steps { split { ' + "5" * 300 + "% { end } } } }",
    ):
        outcome = run_text(text)
        assert outcome.diagnostics == ("invalid-value",)
        assert not outcome.compiled


def test_a_delay_longer_than_a_century_is_an_invalid_value() -> None:
    text = VALID.replace('send email "Hi"', "delay 99999999 weeks")
    assert run_text(text).diagnostics == ("invalid-value",)
    assert run_text(VALID.replace('send email "Hi"', "delay 5218 weeks")).compiled


def test_very_long_lines_and_huge_files_are_handled() -> None:
    long_string = VALID.replace('"Hi"', '"' + "x" * 1_000_000 + '"')
    assert run_text(long_string, engine=False).compiled
    many = "\n".join(VALID.replace('"W"', f'"W{i}"') for i in range(500))
    outcome = run_text(many, engine=False)
    assert outcome.compiled
    duplicated = "\n".join([VALID] * 50)
    assert set(run_text(duplicated).diagnostics) == {"duplicate-workflow"}


def test_pinned_mutations_seen_while_fuzzing() -> None:
    rnd = random.Random(8)
    for _ in range(30):
        run_text(deep_nesting(VALID, rnd))
        run_text(long_line(VALID, rnd), engine=False)


def test_nul_and_control_characters(tmp_path: Path) -> None:
    for text in (
        VALID.replace("object", "ob\x00ject"),
        VALID + "\x00",
        VALID.replace('"Hi"', '"H\x00i"'),
        "\ufeff" + VALID,
        VALID.replace("\n", "\r"),
    ):
        run_text(text)
        path = tmp_path / "x.wf"
        path.write_bytes(text.encode("utf-8"))
        run_pipeline(parse_file(path))


def test_a_file_cut_inside_a_multibyte_character(tmp_path: Path) -> None:
    data = VALID.replace("Hi", "Hé").encode("utf-8")
    cut = data[: data.index("é".encode()) + 1]
    path = tmp_path / "cut.wf"
    path.write_bytes(cut)
    result = parse_file(path)
    assert [d.name for d in result.diagnostics] == ["syntax"]
    assert "UTF-8" in result.diagnostics[0].message
    assert result.diagnostics[0].span.line == 5


def test_check_formatting_helper_catches_a_bad_formatter() -> None:
    # The round-trip assertion can fail: a text that does not parse is not "formatted".
    with pytest.raises(AssertionError):
        check_formatting(parse("workflow", "x.wf"), "workflow", "x.wf")


def test_the_limits_page_states_the_real_limits(root: Path) -> None:
    from wfdsl.host.simulate import MAX_YEAR, MIN_YEAR
    from wfdsl.limits import MAX_DIGITS, MAX_DURATION_MINUTES

    text = (root / "docs" / "limits.md").read_text(encoding="utf-8")
    assert f"| {MAX_NESTING} (`wfdsl.limits.MAX_NESTING`" in text
    assert f"| {MAX_DIGITS} (`wfdsl.limits.MAX_DIGITS`)" in text
    assert f"| {MAX_DURATION_MINUTES // (7 * 24 * 60)} weeks, about 100 years |" in text
    assert f"after the year {MAX_YEAR}" in " ".join(text.split())
    assert f"before the year {MIN_YEAR}" in " ".join(text.split())
