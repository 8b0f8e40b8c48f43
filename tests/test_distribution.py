"""The project is installed by a name of its own, and every instruction says so.

`wfdsl` on PyPI is an unrelated project, so the distribution is `wfdsl-crm`
(import package and command stay `wfdsl`). Every `pip install` and every
extra mentioned in the docs, the code's error messages and the tests must use
that name and an extra that exists.
"""

from __future__ import annotations

import doctest
import importlib.metadata
import re
import sys
from pathlib import Path

import wfdsl

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: `wfdsl[extra]` or `pip install wfdsl` where the distribution is meant.
WRONG_NAME = re.compile(r"(?<![\w.-])wfdsl\[|pip install (?:-\S+ )*['\"]?wfdsl(?![\w-])")
EXTRA = re.compile(r"wfdsl-crm\[([a-z][a-z0-9,-]*)\]")


def _texts() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "BENCHMARKS.md", ROOT / ".pre-commit-hooks.yaml", ROOT / "pyproject.toml"]
    for folder, pattern in (("docs", "*.md"), ("src", "*.py"), ("tests", "*.py"), ("scripts", "*"), ("editors", "*")):
        files += [p for p in (ROOT / folder).rglob(pattern) if p.is_file() and "node_modules" not in p.parts]
    return [p for p in files if p.exists() and p.suffix not in {".png", ".svg", ".vsix"}]


def test_the_distribution_name_is_ours_and_the_package_is_wfdsl() -> None:
    assert PYPROJECT["project"]["name"] == wfdsl.DISTRIBUTION == "wfdsl-crm"
    assert PYPROJECT["project"]["scripts"]["wfdsl"] == "wfdsl.cli:main"
    assert importlib.metadata.version(wfdsl.DISTRIBUTION) == wfdsl.__version__
    assert doctest.testmod(wfdsl).failed == 0


def test_every_install_instruction_names_the_distribution() -> None:
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    wrong: list[str] = []
    unknown: list[str] = []
    seen = 0
    for path in _texts():
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            if WRONG_NAME.search(line):
                wrong.append(where)
            for match in EXTRA.finditer(line):
                seen += 1
                unknown += [f"{where} (no extra `{e}`)" for e in match.group(1).split(",") if e not in extras]
    assert wrong == [], "install wfdsl-crm, not wfdsl:\n" + "\n".join(wrong)
    assert unknown == []
    assert seen >= 1


def test_the_licence_file_is_the_one_the_metadata_declares() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def _hooks() -> dict[str, dict[str, str]]:
    """.pre-commit-hooks.yaml as pre-commit reads it (flat `key: value` entries per hook)."""
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    hooks: dict[str, dict[str, str]] = {}
    for block in re.split(r"^- ", text, flags=re.M)[1:]:
        fields = dict(re.findall(r"^\s*(\w+): (.*)$", block, re.M))
        hooks[fields["id"]] = fields
    return hooks


def test_pre_commit_hooks_run_the_way_pre_commit_calls_them(tmp_path: Path) -> None:
    import json
    import shlex
    import subprocess

    hooks = _hooks()
    assert set(hooks) == {"wfdsl-lint", "wfdsl-fmt"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["files"] == r"\.wf$"
    ugly = 'workflow "W" { object contact steps { send email "Hi" } }\n'
    (tmp_path / "a.wf").write_text(ugly, encoding="utf-8")

    def run(hook: dict[str, str], files: list[str]) -> int:
        args = json.loads(hook.get("args", "[]"))
        passed = [] if hook.get("pass_filenames") == "false" else files
        entry = shlex.split(hook["entry"])
        assert entry[0] == "wfdsl"
        command = [sys.executable, "-m", "wfdsl", *entry[1:], *args, *passed]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=120).returncode

    assert run(hooks["wfdsl-fmt"], ["a.wf"]) == 0  # rewritten: pre-commit sees the change and fails the commit
    assert (tmp_path / "a.wf").read_text(encoding="utf-8") != ugly
    assert run(hooks["wfdsl-fmt"], ["a.wf"]) == 0 and run(hooks["wfdsl-lint"], ["a.wf"]) == 0
    check = {**hooks["wfdsl-fmt"], "args": '["--check"]'}
    (tmp_path / "a.wf").write_text(ugly, encoding="utf-8")
    assert run(check, ["a.wf"]) == 1
