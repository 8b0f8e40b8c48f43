"""The language server's analysis without the protocol: projects, caching, hover texts, edits."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wfdsl.syntax import nodes as n
from wfdsl.tools.lsp import analysis
from wfdsl.tools.lsp.analysis import Pos, Workspace, line_edits, offset_at
from wfdsl.tools.lsp.docs import DOCS

A = 'workflow "A" {\n  object contact\n  steps {\n    enroll in workflow "B"\n  }\n}\n'
B = 'workflow "B" {\n  object contact\n  steps {\n    end\n  }\n}\n'


def test_a_change_reparses_only_the_file_that_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(20):
        (tmp_path / f"w{index}.wf").write_text(B.replace('"B"', f'"W{index}"'), encoding="utf-8")
    (tmp_path / "b.wf").write_text(B, encoding="utf-8")
    parsed: list[str] = []
    real = analysis.parse

    def counting(text: str, path: str = "<string>") -> typing.Any:
        parsed.append(path)
        return real(text, path)

    monkeypatch.setattr(analysis, "parse", counting)
    ws = Workspace(roots=[tmp_path])
    a = str(tmp_path / "a.wf")
    ws.open(a, A)
    first = ws.lint(a)
    assert len(parsed) == 22 and first.root == str(tmp_path)
    assert all(not found for found in first.files.values())
    parsed.clear()
    ws.open(a, A.replace('"B"', '"C"'))
    second = ws.lint(a)
    assert parsed == ["a.wf"]  # the other 21 files come from the cache
    assert [d.name for d in second.files[a]] == ["unknown-workflow"]


def test_the_project_is_the_config_directory_or_the_workspace_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "wfdsl.toml").write_text('[schema.contact]\nplan = "string"\n', encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.wf").write_text("broken {", encoding="utf-8")
    (tmp_path / "top.wf").write_text(A, encoding="utf-8")
    (tmp_path / "sub" / "inner.wf").write_text(B, encoding="utf-8")
    ws = Workspace(roots=[tmp_path])
    assert ws.project_root(str(tmp_path / "sub" / "inner.wf")) == str(tmp_path / "sub")
    assert ws.project_root(str(tmp_path / "top.wf")) == str(tmp_path)
    root, members = ws.members(str(tmp_path / "top.wf"))
    assert members == [str(tmp_path / "sub" / "inner.wf"), str(tmp_path / "top.wf")]  # not .hidden
    assert Workspace(roots=()).project_root(str(tmp_path / "top.wf")) is None
    assert ws.schema(str(tmp_path / "sub" / "inner.wf")).property("contact", "plan") is not None


def test_a_bad_config_is_a_problem_and_the_builtin_schema_is_used(tmp_path: Path) -> None:
    (tmp_path / "wfdsl.toml").write_text("[schema\n", encoding="utf-8")
    (tmp_path / "a.wf").write_text(B, encoding="utf-8")
    result = Workspace(roots=[tmp_path]).lint(str(tmp_path / "a.wf"))
    assert result.problem is not None and result.problem.startswith("bad configuration: ")
    assert "wfdsl.toml" in result.problem


def test_every_step_clause_and_trigger_has_a_hover_text() -> None:
    unions = (n.Step, n.Clause, n.Trigger, n.Setting)
    classes = {cls for union in unions for cls in typing.get_args(union)}
    explained_elsewhere = {n.StepsClause, n.EnrollClause}  # a trigger's own text is shown instead
    missing = sorted(c.__name__ for c in classes - set(DOCS) - explained_elsewhere)
    assert missing == []


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(st.sampled_from(["a\n", "b\n", "c", "\n", "é\n", "x\r\n"]), max_size=12),
    st.lists(st.sampled_from(["a\n", "b\n", "c", "\n", "é\n", "x\r\n"]), max_size=12),
)
def test_line_edits_turn_the_old_text_into_the_new(old: list[str], new: list[str]) -> None:
    before, after = "".join(old), "".join(new)
    text = before
    for edit in reversed(line_edits(before, after)):
        text = text[: offset_at(text, edit.range.start)] + edit.text + text[offset_at(text, edit.range.end) :]
    assert text == after


def test_positions_out_of_the_text_are_clamped() -> None:
    ws = Workspace(roots=())
    ws.open("/nowhere/a.wf", A)
    for pos in (Pos(-1, -1), Pos(10_000, 0), Pos(0, 10_000), Pos(3, 10_000)):
        ws.hover("/nowhere/a.wf", pos)
        ws.complete("/nowhere/a.wf", pos)
        ws.definition("/nowhere/a.wf", pos)
    assert offset_at(A, Pos(10_000, 10_000)) == len(A)


def test_formatting_keeps_crlf_line_endings() -> None:
    ws = Workspace(roots=())
    text = 'workflow "W" {\r\n  object contact # the type\r\n  steps {\r\n    delay 1 days\r\n  }\r\n}\r\n'
    ws.open("/nowhere/crlf.wf", text)
    edits = ws.format("/nowhere/crlf.wf")
    assert edits is not None
    for edit in reversed(edits):
        text = text[: offset_at(text, edit.range.start)] + edit.text + text[offset_at(text, edit.range.end) :]
    assert text == 'workflow "W" {\r\n  object contact  # the type\r\n\r\n  steps {\r\n    delay 1 day\r\n  }\r\n}\r\n'
    assert len(edits) == 2  # the blank line and the unit, not every line


def test_keywords_in_context() -> None:
    ws = Workspace(roots=())
    text = 'workflow "W" {\n  object contact\n  steps {\n    se\n  }\n}\n'
    ws.open("/nowhere/k.wf", text)
    labels = {c.label for c in ws.complete("/nowhere/k.wf", Pos(3, 6))}
    assert {"send", "set", "delay", "if", "end"} <= labels
    assert "object" not in labels and "enroll" in labels  # a step may enroll in a workflow
    text = 'workflow "W" {\n  object contact\n  \n}\n'
    ws.open("/nowhere/k.wf", text)
    labels = {c.label for c in ws.complete("/nowhere/k.wf", Pos(2, 2))}
    assert {"enroll", "goal", "steps", "settings", "suppress"} <= labels
    assert "send" not in labels


def test_the_editor_benchmark_runs_at_tiny_size() -> None:
    from benchmarks import editor
    from benchmarks.common import TINY
    from benchmarks.run import MEASUREMENTS

    rows = editor.run(TINY)
    assert MEASUREMENTS[9] is editor.run
    assert [r.ratio for r in rows][0] == "1.00x" and len(rows) == 4
    assert all(r.measurement.startswith("9. language server") for r in rows)
