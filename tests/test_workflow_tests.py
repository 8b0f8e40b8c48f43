"""`wfdsl test`: workflow test files, their report, exit codes (0 pass, 1 failure, 2 malformed).

The console blocks of docs/explain.md and docs/testing.md are real output, held to it here;
after a deliberate change, `WFDSL_UPDATE_DOCS=1 pytest tests/test_workflow_tests.py -k
update_docs` rewrites them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from syrupy.assertion import SnapshotAssertion

from wfdsl.cli import cli
from wfdsl.host.testing import TestFileError, discover, run_paths

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

WORKFLOW = """\
workflow "Welcome" {
  object contact
  enroll when contact.lifecyclestage = "lead" and contact.email is known
  goal contact.lifecyclestage = "customer"
  suppress list "Competitors"
  steps {
    send email "Welcome #1"
    delay 2 days
    send email "Welcome #2"
  }
}
"""

SETUP = """\
workflows = ["welcome.wf"]
start = 2026-11-23T10:00:00Z
[records]
contact = [
  { id = "c1", email = "ann@example.com", lifecyclestage = "subscriber" },
  { id = "c9", email = "ida@rival.com", lifecyclestage = "subscriber" },
]
lists = { Competitors = ["contact:c9"] }

[[events]]
at = 2026-11-23T10:00:00Z
type = "record.updated"
object = "contact"
id = "c1"
properties = { lifecyclestage = "lead" }

[[events]]
at = 2026-11-23T10:00:00Z
type = "record.updated"
object = "contact"
id = "c9"
properties = { lifecyclestage = "lead" }
"""


def project(tmp_path: Path, tests: str, name: str = "welcome.wftest.toml") -> Path:
    (tmp_path / "welcome.wf").write_text(WORKFLOW, encoding="utf-8")
    path = tmp_path / name
    path.write_text(SETUP + tests, encoding="utf-8")
    return path


def run(*paths: Path | str) -> Any:
    return CliRunner().invoke(cli, ["test", *map(str, paths)])


PASSING = """
[[test]]
name = "a new lead gets two emails two days apart"
workflow = "Welcome"
record = "c1"
enrolled = true
no_actions = [{ kind = "send_email", args = { email = "Welcome #3" } }]
completed = true
goal_met = false

[[test.actions]]
kind = "send_email"
args = { email = "Welcome #1" }
at = 2026-11-23T10:00:00Z

[[test.actions]]
kind = "send_email"
args = { email = "Welcome #2" }
within = [2026-11-25T00:00:00Z, 2026-11-26T00:00:00Z]

[[test]]
name = "a competitor is suppressed"
workflow = "Welcome"
record = "contact:c9"
enrolled = false
reason = "suppressed"

[[test]]
name = "stats"
workflow = "Welcome"
stats = { enrolled = 1, emailed = 1, conversion_rate = 0.0 }
"""


def test_examples_pass() -> None:
    """Every example's test file passes (xfail cases are engine discrepancies, reported)."""
    result = run(EXAMPLES)
    assert result.exit_code == 0, result.output
    last = result.output.splitlines()[-1]
    assert last.endswith(" passed, 0 failed")
    assert int(last.split()[0]) >= 16


def test_every_example_has_a_test_file() -> None:
    examples = {p.stem for p in EXAMPLES.glob("*.wf")}
    tests = {p.name.removesuffix(".wftest.toml") for p in discover([EXAMPLES / "tests"])}
    assert examples <= tests, sorted(examples - tests)


def test_all_pass(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    path = project(tmp_path, PASSING)
    result = run(path)
    assert result.exit_code == 0, result.output
    assert result.output.replace(str(tmp_path), "TMP") == snapshot


def test_failures_show_expected_and_actual(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    path = project(
        tmp_path,
        """
[[test]]
name = "wrong expectations"
workflow = "Welcome"
record = "c1"
enrolled = 2
actions = [{ kind = "send_email", args = { email = "Welcome #3" } }]
no_actions = [{ kind = "send_email", args = { email = "Welcome #1" } }]
goal_met = true
unenrolled = "goal_met"

[[test]]
name = "wrong reason and stats"
workflow = "Welcome"
record = "c9"
reason = "goal_already_met"
stats = { enrolled = 3, unknown_counter = 1 }

[[test]]
name = "this one passes"
workflow = "Welcome"
record = "c1"
enrolled = true
""",
    )
    result = run(path)
    assert result.exit_code == 1
    out = result.output.replace(str(tmp_path), "TMP")
    assert out.splitlines()[-1] == "1 passed, 2 failed"
    assert "FAIL   TMP/welcome.wftest.toml::wrong expectations" in out
    assert "enrolled: expected 2, got 1" in out
    assert 'actions: expected send_email email="Welcome #3" (in this order), not found' in out
    assert "reason: expected not_enrolled (goal_already_met), got: suppressed" in out
    assert out == snapshot


def test_time_window_and_exact_time_can_fail(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        """
[[test]]
name = "too early"
workflow = "Welcome"
record = "c1"
actions = [{ kind = "send_email", args = { email = "Welcome #2" }, at = 2026-11-24T10:00:00Z }]

[[test]]
name = "outside the window"
workflow = "Welcome"
record = "c1"
actions = [{ kind = "send_email", within = [2026-11-26T00:00:00Z, 2026-11-27T00:00:00Z] }]
""",
    )
    result = run(path)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "0 passed, 2 failed"


def test_order_of_actions_matters(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        """
[[test]]
name = "reversed"
workflow = "Welcome"
record = "c1"
actions = [
  { kind = "send_email", args = { email = "Welcome #2" } },
  { kind = "send_email", args = { email = "Welcome #1" } },
]
""",
    )
    assert run(path).exit_code == 1


def test_derived_reasons(tmp_path: Path) -> None:
    """Refusals the trace does not record (criteria unmet) are found through explain."""
    path = project(
        tmp_path,
        """
[[test]]
name = "criteria unmet"
workflow = "Welcome"
record = "c2"
records = { contact = [{ id = "c2", lifecyclestage = "subscriber" }] }
enrolled = false
reason = "criteria_unmet"

[[test.events]]
at = 2026-11-23T10:00:00Z
type = "record.updated"
object = "contact"
id = "c2"
properties = { lifecyclestage = "lead" }
""",
    )
    result = run(path)
    assert result.exit_code == 0, result.output


def test_xfail_and_xpass(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        """
[[test]]
name = "known engine gap"
workflow = "Welcome"
record = "c1"
enrolled = 5
xfail = "a reason"
""",
    )
    result = run(path)
    assert result.exit_code == 0, result.output
    assert "XFAIL  " in result.output and "(expected failure: a reason)" in result.output
    assert result.output.splitlines()[-2:] == ["1 expected failure", "0 passed, 0 failed"]
    path.write_text(path.read_text(encoding="utf-8").replace("enrolled = 5", "enrolled = 1"), encoding="utf-8")
    result = run(path)
    assert result.exit_code == 1
    assert "XPASS  " in result.output and "remove `xfail`" in result.output
    assert result.output.splitlines()[-1] == "0 passed, 1 failed"


def test_files_found_below_a_directory(tmp_path: Path) -> None:
    project(tmp_path, PASSING)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "welcome.wf").write_text(WORKFLOW, encoding="utf-8")
    (tmp_path / "sub" / "more.wftest.toml").write_text(SETUP + PASSING, encoding="utf-8")
    (tmp_path / "notes.toml").write_text("x = 1\n", encoding="utf-8")
    assert [p.name for p in discover([tmp_path])] == ["more.wftest.toml", "welcome.wftest.toml"]
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "6 passed, 0 failed"


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nenroled = true\n',
            "welcome.wftest.toml:27: [[test]] #1: unknown key `enroled`; did you mean `enrolled`?",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcom"\n',
            "welcome.wftest.toml:26: [[test]] #1 (x): unknown workflow 'Welcom'; did you mean 'Welcome'?",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nenrolled = true\n',
            "welcome.wftest.toml:27: [[test]] #1 (x): `enrolled` needs a `record`",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nrecord = "c7"\nenrolled = true\n',
            "[[test]] #1 (x): unknown record 'c7'",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nrecord = "c1"\n'
            'actions = [{ kind = "send_email", at = "soon" }]\n',
            "welcome.wftest.toml:28: `at` is not an ISO 8601 time: 'soon'",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nrecord = "c1"\ngoal_met = "yes"\n',
            "welcome.wftest.toml:28: [[test]] #1 (x): `goal_met` must be true or false",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\n\n[[test]]\nname = "x"\nworkflow = "Welcome"\n',
            "duplicate test name 'x'",
        ),
        ('\n[[test]]\nworkflow = "Welcome"\n', "every test needs a `name`"),
        ('\n[[test]]\nname = "x\nworkflow = "Welcome"\n', "welcome.wftest.toml:25: invalid TOML:"),
        ("", "welcome.wftest.toml: no test cases: add a [[test]] table with a `name`"),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nrecord = "c1"\nenrolled = true\n'
            'records = { contact = [{ name = "no id" }] }\n',
            "welcome.wftest.toml:29: records (inline):1: each `contact` record must be an object with",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nrecord = "c1"\nno_actions = ["send_mail"]\n',
            "welcome.wftest.toml:28: [[test]] #1 (x) no_actions: no step of 'Welcome' can produce the action "
            "`send_mail`; did you mean `send_email`? (its actions: `send_email`)",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nrecord = "c1"\nactions = [{ kind = "create_task" }]\n',
            "no step of 'Welcome' can produce the action `create_task` (its actions: `send_email`)",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nrecord = "c1"\n'
            'actions = [{ kind = "send_email", args = { emial = "Welcome #1" } }]\n',
            "welcome.wftest.toml:28: [[test]] #1 (x) actions: no `send_email` step of 'Welcome' has the argument "
            "`emial`; did you mean `email`? (its arguments: `created`, `email`)",
        ),
        (
            '\n[[test]]\nname = "x"\nworkflow = "Welcome"\nrecord = "co1"\nenrolled = true\n'
            'records = { company = [{ id = "co1" }] }\n',
            "welcome.wftest.toml:27: [[test]] #1 (x): 'Welcome' enrolls contact records, and company:co1 is a company",
        ),
    ],
)
def test_malformed_files_exit_2(tmp_path: Path, tests: str, message: str) -> None:
    path = project(tmp_path, tests)
    result = run(path)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("wfdsl: error: ")
    assert message in result.output
    assert "Traceback" not in result.output


def test_input_data_is_checked(tmp_path: Path) -> None:
    """Records and events of a test file are checked against the schema like simulate's."""
    path = project(
        tmp_path,
        PASSING
        + '\n[[test]]\nname = "typo"\nworkflow = "Welcome"\nrecord = "c1"\nenrolled = false\n'
        + 'records = { contact = [{ id = "c1", lifecylestage = "lead" }] }\n',
    )
    result = CliRunner().invoke(cli, ["test", str(path)])
    assert result.exit_code == 0, result.output
    assert "contact c1: unknown property `lifecylestage`; did you mean `lifecyclestage`?" in result.output


def test_junit_xml(tmp_path: Path) -> None:
    """`--junit-xml FILE`: the same results as JUnit XML for CI, next to the usual report."""
    import xml.etree.ElementTree as ET

    path = project(
        tmp_path,
        PASSING
        + '\n[[test]]\nname = "wrong"\nworkflow = "Welcome"\nrecord = "c1"\nenrolled = false\n'
        + '\n[[test]]\nname = "known bug"\nworkflow = "Welcome"\nrecord = "c1"\nenrolled = false\nxfail = "later"\n',
    )
    out = tmp_path / "out" / "junit.xml"
    out.parent.mkdir()
    result = CliRunner().invoke(cli, ["test", str(path), "--junit-xml", str(out)])
    assert result.exit_code == 1, result.output
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == str(path)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert int(suite.get("tests", "0")) == len(cases) >= 3
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    failure = cases["wrong"].find("failure")
    assert failure is not None and "enrolled" in (failure.text or "")
    assert cases["known bug"].find("skipped") is not None
    assert all(c.find("failure") is None for n, c in cases.items() if n not in ("wrong",))
    bad = CliRunner().invoke(cli, ["test", str(path), "--junit-xml", str(tmp_path / "no" / "dir" / "j.xml")])
    assert bad.exit_code == 2 and "cannot write" in bad.output


def test_malformed_setup_exits_2(tmp_path: Path) -> None:
    (tmp_path / "welcome.wf").write_text(WORKFLOW, encoding="utf-8")
    path = tmp_path / "t.wftest.toml"
    path.write_text('workflows = ["missing.wf"]\n[[test]]\nname = "x"\nworkflow = "W"\n', encoding="utf-8")
    result = run(path)
    assert result.exit_code == 2
    assert "t.wftest.toml:1: workflow file" in result.output and "does not exist" in result.output
    path.write_text(
        'workflows = ["welcome.wf"]\nrecords = "none.json"\n[[test]]\nname = "x"\nworkflow = "Welcome"\n',
        encoding="utf-8",
    )
    result = run(path)
    assert result.exit_code == 2
    assert "none.json:1: no such file" in result.output
    (tmp_path / "bad.wf").write_text('workflow "B" { object contact steps { frobnicate } }\n', encoding="utf-8")
    path.write_text('workflows = ["bad.wf"]\n[[test]]\nname = "x"\nworkflow = "B"\n', encoding="utf-8")
    result = run(path)
    assert result.exit_code == 2
    assert "t.wftest.toml:1: the workflows do not compile" in result.output


def test_no_test_files_and_missing_paths_exit_2(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.exit_code == 2
    assert "no test files (*.wftest.toml) found" in result.output
    result = run(tmp_path / "nope")
    assert result.exit_code == 2
    assert "no such file or directory" in result.output


def test_library_api(tmp_path: Path) -> None:
    report = run_paths([project(tmp_path, PASSING)])
    assert (report.passed, report.failed, report.xfailed) == (3, 0, 0)
    with pytest.raises(TestFileError):
        run_paths([tmp_path / "missing"])


# ---------------------------------------------------------------- the docs pages

FILE_BLOCK = re.compile(r"```toml file=(?P<path>\S+)\n(?P<body>.*?)```", re.S)
TOML_BLOCK = re.compile(r"```toml\n(?P<body>.*?)```", re.S)
CONSOLE = re.compile(r"```console(?: exit=(?P<code>\d))?\n\$ (?P<cmd>[^\n]*)\n(?P<out>.*?)```", re.S)
PAGES = ("explain.md", "testing.md")


def _console_blocks() -> list[tuple[str, int, str, str]]:
    found = []
    for page in PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        for match in CONSOLE.finditer(text):
            found.append((page, int(match.group("code") or 0), match.group("cmd"), match.group("out")))
    return found


@pytest.fixture
def docs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the examples with the docs' test files written into it, as the cwd."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    for page in PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        for match in FILE_BLOCK.finditer(text):
            (tmp_path / match.group("path")).write_text(match.group("body"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("page", "code", "cmd", "out"), _console_blocks(), ids=[f"{p}:{c[:60]}" for p, _, c, _ in _console_blocks()]
)
def test_docs_console_blocks_are_real_output(docs_dir: Path, page: str, code: int, cmd: str, out: str) -> None:
    args = shlex.split(cmd)
    assert args[0] == "wfdsl"
    result = CliRunner().invoke(cli, args[1:])
    assert result.exit_code == code, result.output
    assert result.output == out


def test_docs_toml_fragments_run(docs_dir: Path) -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    head = 'workflows = ["../welcome-series.wf"]\nrecords = "../records.json"\nevents = "../events.jsonl"\n'
    fragments = TOML_BLOCK.findall(text)
    assert fragments
    for i, fragment in enumerate(fragments):
        path = docs_dir / "examples" / "tests" / f"fragment-{i}.wftest.toml"
        path.write_text(head + fragment, encoding="utf-8")
        report = run_paths([path])
        assert report.failed == 0 and report.passed >= 1


def test_a_workflow_file_runs_its_test_file(tmp_path: Path) -> None:
    assert discover([EXAMPLES / "welcome-series.wf"]) == [EXAMPLES / "tests" / "welcome-series.wftest.toml"]
    result = run(EXAMPLES / "webinar.wf")
    assert result.exit_code == 0, result.output
    assert "webinar.wftest.toml::" in result.output
    lonely = tmp_path / "lonely.wf"
    lonely.write_text(WORKFLOW, encoding="utf-8")
    result = run(lonely)
    assert result.exit_code == 2
    assert "no test file for this workflow file" in result.output


@pytest.mark.skipif(
    not os.environ.get("WFDSL_UPDATE_DOCS"), reason="set WFDSL_UPDATE_DOCS=1 to rewrite the docs' console output"
)
def test_update_docs_console_output(docs_dir: Path) -> None:
    """`WFDSL_UPDATE_DOCS=1 pytest tests/test_workflow_tests.py -k update_docs` pastes the
    real output (and exit status) of every console block of these pages into them."""
    for page in PAGES:
        path = ROOT / "docs" / page

        def fill(match: re.Match[str]) -> str:
            result = CliRunner().invoke(cli, shlex.split(match.group("cmd"))[1:])
            code = f" exit={result.exit_code}" if result.exit_code else ""
            return f"```console{code}\n$ {match.group('cmd')}\n{result.output}```"

        text = path.read_text(encoding="utf-8")
        path.write_text(CONSOLE.sub(fill, text), encoding="utf-8")


def test_an_unexpected_non_enrollment_is_explained(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        """
[[test]]
name = "expects the competitor"
workflow = "Welcome"
record = "c9"
enrolled = true
""",
    )
    result = run(path)
    assert result.exit_code == 1
    assert "    why (wfdsl explain): never enrolled: suppressed\n" in result.output
    assert '        suppression lists: ✓ in list "Competitors"\n' in result.output
    assert "        → not_enrolled (suppressed)" in result.output


def test_keyword_selects_cases(tmp_path: Path) -> None:
    path = project(tmp_path, PASSING)
    result = CliRunner().invoke(cli, ["test", "-k", "COMPETITOR", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.count("PASS ") == 1
    assert result.output.splitlines()[-1] == "1 passed, 0 failed"
