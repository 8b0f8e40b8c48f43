"""The README opens with two commands: a light install that simulates the examples, then the tests.

The first command must work from a fresh clone and install only what simulating
needs (`pip install -e .`, not the test extra); the second is the project's
test command.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _first_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```sh\n(.*?)```", text, re.S)
    assert match is not None, "README.md opens with no ```sh block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_the_readme_opens_with_a_light_install_and_the_test_command() -> None:
    commands = _first_commands()
    assert len(commands) == 2
    first, second = (part.strip() for part in commands[0].split("&&")), commands[1]
    venv, install, simulate = first
    assert venv == "python3 -m venv .venv"
    # the core install only: no extra (the test extra pulls mypy, ruff, pytest, psycopg...)
    assert shlex.split(install) == [".venv/bin/pip", "install", "-q", "-e", "."]
    assert simulate.startswith(".venv/bin/wfdsl simulate examples/ ")
    assert second == "bash scripts/test"


def test_the_readme_simulation_runs_and_prints_stats() -> None:
    simulate = _first_commands()[0].split("&&")[2].strip()
    args = shlex.split(simulate)[1:]
    done = subprocess.run(
        [sys.executable, "-m", "wfdsl", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Welcome series" in last["stats"]
    assert last["stats"]["Welcome series"]["enrolled"] >= 1
