"""Every example parses cleanly; the AST dump of each is pinned by a snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfdsl.syntax import dump, parse, parse_file

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.wf"))


def test_there_are_at_least_twelve_examples() -> None:
    assert len(EXAMPLES) >= 12


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_parses_without_diagnostics(path: Path, snapshot: object) -> None:
    # Parsed under its repository-relative name so the snapshot does not depend on
    # where the checkout lives.
    result = parse(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    assert result.diagnostics == ()
    assert result.module.workflows, f"{path.name} holds no workflow"
    assert dump(result.module) == snapshot


def test_examples_start_with_a_header_comment() -> None:
    for path in EXAMPLES:
        first = path.read_text(encoding="utf-8").lstrip().splitlines()[0]
        assert first.startswith("#"), f"{path.name} does not start with a comment"


def test_examples_have_no_placeholders() -> None:
    for path in EXAMPLES:
        result = parse_file(path)
        kinds = {type(node).__name__ for wf in result.module.workflows for node in wf.walk()}
        assert "Placeholder" not in kinds, path.name
