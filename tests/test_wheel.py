"""The built wheel works on its own: installed in a fresh venv, it finds its grammar and parses.

Builds the wheel (`python -m build --wheel`), installs it with its
dependencies into a new virtual environment, and from a directory outside
the source tree parses an example with it — through the library and through
the `wfdsl` command. The grammar must come from the installed package
(`wfdsl/grammar/wfdsl.lark`), not from the checkout. Needs the network (or a
pip cache) for the build backend and the dependencies; takes a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "welcome-series.wf"

PROBE = """
import json, sys
import wfdsl, wfdsl.syntax.parser as syntax
result = syntax.parse_file(sys.argv[1])
print(json.dumps({
    "package": wfdsl.__file__,
    "grammar": str(syntax.grammar_path()),
    "ok": result.ok,
    "workflows": [w.name.value for w in result.module.workflows],
}))
"""


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _clean_env() -> dict[str, str]:
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def test_installed_wheel_parses_an_example_with_its_packaged_grammar(tmp_path: Path) -> None:
    env = _clean_env()
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)], ROOT, env)
    if built.returncode != 0 and "No module named build" in built.stderr:
        pytest.skip("the `build` package is not installed (pip install -e '.[test]')")
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("wfdsl_crm-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    installed = _run([str(python), "-m", "pip", "install", "-q", str(wheel)], tmp_path, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr

    # Outside the source tree: a copy of the example in an unrelated directory.
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(EXAMPLE, work / EXAMPLE.name)

    probe = _run([str(python), "-c", PROBE, EXAMPLE.name], work, env)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert found["ok"] is True
    assert found["workflows"] == ["Welcome series"]
    for key in ("package", "grammar"):
        path = Path(found[key]).resolve()
        assert path.is_relative_to(env_dir.resolve()), f"{key} loaded from {path}"
        assert not path.is_relative_to(ROOT), f"{key} loaded from the checkout: {path}"
    assert Path(found["grammar"]).parts[-2:] == ("grammar", "wfdsl.lark")

    cli = _run([str(bindir / "wfdsl"), "parse", EXAMPLE.name], work, env)
    assert cli.returncode == 0, cli.stdout + cli.stderr

    broken = work / "broken.wf"
    broken.write_text('workflow "W" { object contact steps { send email } }\n', encoding="utf-8")
    failed = _run([str(bindir / "wfdsl"), "parse", broken.name], work, env)
    assert failed.returncode == 1
    assert "error[syntax]" in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr
