"""3. Cold start: whole `wfdsl` processes vs `python -c "import lark"`, taking turns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.common import Row, Size, interleaved

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "welcome-series.wf"


def commands() -> list[tuple[str, list[str]]]:
    python = sys.executable
    wfdsl = shutil.which("wfdsl", path=str(Path(python).parent)) or "wfdsl"
    return [
        ('python -c "import lark"', [python, "-c", "import lark"]),
        ("wfdsl --version", [wfdsl, "--version"]),
        ("wfdsl lint examples/welcome-series.wf", [wfdsl, "lint", str(EXAMPLE)]),
    ]


def environment() -> dict[str, str]:
    """The caller's environment, but with bytecode caching on: an installed package has
    its `.pyc` files (pip compiles them), a checkout run with PYTHONDONTWRITEBYTECODE
    would compile every module from source on every start."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _runner(argv: list[str], runs: int):  # type: ignore[no-untyped-def]
    env = environment()

    def go() -> None:
        for _ in range(runs):
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=env)

    return go


def run(size: Size) -> list[Row]:
    cmds = commands()
    for _, argv in cmds:  # warm the file cache and the parser cache once
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=environment())
    t = interleaved([(name, _runner(argv, size.cold_runs)) for name, argv in cmds], size.reps)
    base = t[cmds[0][0]]
    m = "3. cold start (whole process)"
    rows = []
    for name, _ in cmds:
        ms = t[name] / size.cold_runs * 1000
        ratio = t[name] / base
        lint = name.startswith("wfdsl lint")
        rows.append(
            Row(
                measurement=m,
                contender=f"`{name}`",
                value=f"{ms:.0f} ms",
                ratio=f"{ratio:.2f}x",
                target="<= 2.0x" if lint else "",
                met=(ratio <= 2.0) if lint else None,
            )
        )
    return rows
