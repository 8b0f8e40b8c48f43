"""The benchmarks at their tiny size: the code keeps working (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rule_engine")
pytest.importorskip("business_rules")
pytest.importorskip("SpiffWorkflow")

from benchmarks import criteria, parsing  # noqa: E402
from benchmarks.common import TINY, table  # noqa: E402
from benchmarks.run import MEASUREMENTS, main, write  # noqa: E402


def test_every_measurement_runs_at_tiny_size_and_fills_the_table(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# Benchmarks\n\nIntro.\n\n<!-- results: begin -->\nOLD-TABLE\n"
                   "<!-- results: end -->\n\nNotes stay.\n")
    assert main(["--tiny", "--write", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\nIntro.") and text.endswith("Notes stay.\n")
    assert "OLD-TABLE" not in text
    for number in MEASUREMENTS:
        assert f"| {number}. " in text
    for peer in ("rule-engine", "business-rules", "SpiffWorkflow", "Lark lexer"):
        assert peer in text


def test_the_peers_and_the_hand_written_function_agree_with_wfdsl() -> None:
    data = criteria.records(2000)
    ours = criteria.wfdsl_predicate()
    expected = [criteria.hand_written(r) for r in data]
    assert 0 < sum(expected) < len(data)
    assert [ours(r) for r in data] == expected
    assert [criteria.rule_engine_predicate()(r) for r in data] == expected
    assert [criteria.business_rules_predicate()(r) for r in data] == expected


def test_the_generated_project_is_clean_and_about_the_size_asked() -> None:
    files = parsing.generate(3000)
    assert 3000 <= parsing.line_count(files) < 3200
    assert parsing.parse_and_check(files) == 0


def test_write_creates_the_file_and_the_table_marks_missed_targets(tmp_path: Path) -> None:
    from benchmarks.common import Row

    rows = [Row(measurement="9. x", contender="a", value="1", target="t", met=False)]
    write(tmp_path / "B.md", table(rows))
    assert "| 9. x | a | 1 |  | t | **no** |" in (tmp_path / "B.md").read_text()
    assert TINY.reps == 1
