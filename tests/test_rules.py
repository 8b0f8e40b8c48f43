"""`wfdsl rules` and docs/checks.md come from one table and one page per rule."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from wfdsl.cli import cli
from wfdsl.diagnostics import RULES
from wfdsl.rules import all_rules, checks_page

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "src" / "wfdsl" / "rules"


def test_checks_page_is_generated_from_the_rules_and_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_checks_docs.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (ROOT / "docs" / "checks.md").read_text(encoding="utf-8") == checks_page()


def test_a_stale_page_is_detected(tmp_path: Path) -> None:
    script = (ROOT / "scripts" / "gen_checks_docs.py").read_text(encoding="utf-8")
    doc = tmp_path / "docs" / "checks.md"
    doc.parent.mkdir()
    doc.write_text(checks_page().replace("The text does not parse.", "The text parses."), encoding="utf-8")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "gen.py").write_text(script, encoding="utf-8")
    stale = subprocess.run([sys.executable, str(tmp_path / "scripts" / "gen.py"), "--check"], capture_output=True)
    assert stale.returncode == 1 and b"is stale" in stale.stderr
    assert subprocess.run([sys.executable, str(tmp_path / "scripts" / "gen.py")]).returncode == 0
    assert doc.read_text(encoding="utf-8") == checks_page()


def test_every_rule_has_exactly_one_page_and_every_page_a_rule() -> None:
    pages = {p.stem for p in PAGES.glob("*.md")} - {"index"}
    assert pages == set(RULES)
    page = checks_page()
    for rule in RULES.values():
        assert f"## {rule.name}\n\n`{rule.code}` · {rule.severity.value} · {rule.summary}\n" in page
        assert not (PAGES / f"{rule.name}.md").read_text(encoding="utf-8").startswith(f"`{rule.code}`")
    assert "SPEC" not in page


def test_rules_text_lists_every_check_with_code_severity_and_summary() -> None:
    result = CliRunner().invoke(cli, ["rules"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(RULES)
    for line, rule in zip(lines, RULES.values(), strict=True):
        assert re.fullmatch(
            rf"{rule.code}  {rule.severity.value} +{re.escape(rule.name)} +{re.escape(rule.summary)}", line
        )


def test_rules_json_is_the_same_data() -> None:
    result = CliRunner().invoke(cli, ["rules", "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data == all_rules(doc=True)
    assert [r["code"] for r in data] == [r.code for r in RULES.values()]
    assert {r["severity"] for r in data} == {"error", "warning", "info"}
    assert all(r["url"].endswith(f"docs/checks.md#{r['name']}") and r["summary"] and r["doc"] for r in data)


def test_rules_name_or_code_prints_that_check_and_unknown_names_exit_2() -> None:
    by_name = CliRunner().invoke(cli, ["rules", "unknown-event"])
    by_code = CliRunner().invoke(cli, ["rules", "wf006"])
    assert by_name.exit_code == by_code.exit_code == 0
    assert by_name.stdout == by_code.stdout
    assert by_name.stdout.startswith("unknown-event (WF006) · error\n\nAn event name is not in the catalog.\n")
    assert "```wf expect=unknown-event" in by_name.stdout
    one = json.loads(CliRunner().invoke(cli, ["rules", "WF018", "--format", "json"]).stdout)
    assert one["name"] == "unknown-property" and one["code"] == "WF018"
    bad = CliRunner().invoke(cli, ["rules", "unknwn-event"])
    assert bad.exit_code == 2
    assert "unknown check `unknwn-event` (did you mean `unknown-event`?)" in bad.stderr


def test_docstring_examples() -> None:
    import doctest

    import wfdsl.rules

    result = doctest.testmod(wfdsl.rules)
    assert result.failed == 0 and result.attempted > 0
