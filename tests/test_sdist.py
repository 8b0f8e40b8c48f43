"""The source distribution stands alone: built, unpacked elsewhere, it runs its own tests.

Builds the sdist (`python -m build --sdist`), checks what it declares and
carries (the distribution name, the MIT licence, the benchmarks its tests
import), then runs a part of the test suite from the unpacked tree with the
package imported from that tree, not from the checkout. What a packager
(Debian, conda-forge) does with a release.
"""

from __future__ import annotations

import email.parser
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from wfdsl import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[1]

#: Fast test files that reach the grammar, the examples, the docs, the case
#: files and snapshots, and the benchmarks: what a packager runs on a release.
SDIST_TESTS = [
    "tests/test_examples_parse.py",
    "tests/test_check_cases.py",
    "tests/test_fmt.py",
    "tests/test_docs_examples.py",
    "tests/test_benchmarks_tiny.py",
    "tests/test_distribution.py",
]


def _env(**extra: str) -> dict[str, str]:
    drop = {"PYTHONPATH", "PYTHONHOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(ROOT)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (archive,) = dist.glob("*.tar.gz")
    assert archive.name == f"{DISTRIBUTION.replace('-', '_')}-{_version()}.tar.gz"
    target = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    (top,) = target.iterdir()
    return top


def _version() -> str:
    from wfdsl import __version__

    return __version__


def test_sdist_declares_the_distribution_name_and_carries_the_licence(unpacked: Path) -> None:
    info = email.parser.Parser().parsestr((unpacked / "PKG-INFO").read_text(encoding="utf-8"))
    assert info["Name"] == DISTRIBUTION == "wfdsl-crm"
    assert info["License-Expression"] == "MIT"
    assert info.get_all("License-File") == ["LICENSE"]
    licence = (unpacked / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in licence
    for needed in ("benchmarks/run.py", "BENCHMARKS.md", "grammar/wfdsl.lark", ".pre-commit-hooks.yaml", "docs"):
        assert (unpacked / needed).exists(), needed
    assert not list(unpacked.rglob("__pycache__"))


def test_sdist_runs_its_own_tests(unpacked: Path) -> None:
    env = _env(PYTHONPATH=str(unpacked / "src"), PYTHONDONTWRITEBYTECODE="1")
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import wfdsl, wfdsl.syntax.parser as s; print(wfdsl.__file__); print(s.grammar_path())",
        ],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    package, grammar = (Path(line).resolve() for line in probe.stdout.splitlines())
    assert package.is_relative_to(unpacked.resolve()), package
    assert grammar == (unpacked / "grammar" / "wfdsl.lark").resolve(), grammar

    tests = [t for t in SDIST_TESTS if (unpacked / t).exists()]
    assert len(tests) >= len(SDIST_TESTS) - 1
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *tests],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout and " failed" not in ran.stdout
