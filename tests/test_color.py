"""`--color auto|always|never` and NO_COLOR, through click's own colour handling."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wfdsl.cli import cli

ROOT = Path(__file__).resolve().parents[1]
BROKEN = 'workflow "W" {\n  object contact\n  enroll on form.submited\n  steps { send email "Hi" }\n}\n'
RED = "\x1b[31merror[unknown-event]\x1b[0m"
BOLD = "\x1b[1m"


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.wf"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def _invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, env=env)
    return result.exit_code, result.stdout, result.stderr


def test_always_and_never_on_the_group_or_the_command(broken: Path) -> None:
    assert RED in _invoke(["lint", "--color", "always", str(broken)])[1]
    coloured = _invoke(["--color", "always", "lint", str(broken)])[1]
    assert RED in coloured and f"{BOLD}{broken}:3:13:\x1b[0m" in coloured
    assert "\x1b[" not in _invoke(["--color", "always", "lint", "--color", "never", str(broken)])[1]
    assert "\x1b[" not in _invoke(["lint", "--color", "never", str(broken)])[1]
    assert "\x1b[" not in _invoke(["lint", str(broken)])[1]  # auto, and not a terminal


def test_no_color_turns_auto_off_but_not_always(broken: Path) -> None:
    assert "\x1b[" not in _invoke(["lint", str(broken)], env={"NO_COLOR": "1"})[1]
    assert RED in _invoke(["lint", "--color", "always", str(broken)], env={"NO_COLOR": "1"})[1]
    assert RED in _invoke(["--color", "always", "lint", str(broken)], env={"NO_COLOR": "1"})[1]


def test_machine_formats_are_never_coloured(broken: Path) -> None:
    for fmt in ("json", "github", "sarif"):
        assert "\x1b[" not in _invoke(["--color", "always", "lint", "--format", fmt, str(broken)])[1]


def test_other_commands_colour_their_diagnostics_on_stderr(broken: Path, tmp_path: Path) -> None:
    code, _, err = _invoke(["--color", "always", "compile", str(broken), "-o", str(tmp_path / "p.json")])
    assert code == 1 and RED in err
    code, _, err = _invoke(["compile", str(broken), "-o", str(tmp_path / "p.json")])
    assert code == 1 and "\x1b[" not in err and "error[unknown-event]" in err


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run `wfdsl ARGS` with stdout on a pseudo-terminal; what it printed."""
    main, child = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "wfdsl", *args], stdout=child, stderr=subprocess.PIPE, env=env, timeout=60
        )
        os.close(child)
        child = -1
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
        if child >= 0:
            os.close(child)
    assert done.returncode == 1, done.stderr
    return b"".join(chunks).decode("utf-8")


def test_auto_colours_a_terminal_unless_no_color_is_set(broken: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert RED in _on_a_terminal(["lint", str(broken)], env)
    assert "\x1b[" not in _on_a_terminal(["lint", str(broken)], {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in _on_a_terminal(["lint", "--color", "never", str(broken)], env)
    assert (
        "\x1b["
        not in subprocess.run(
            [sys.executable, "-m", "wfdsl", "lint", str(broken)], capture_output=True, env=env, timeout=60
        ).stdout.decode()
    )


def test_no_hand_written_escape_codes_in_the_package() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "src" / "wfdsl").rglob("*.py")
        if "\\x1b[" in p.read_text(encoding="utf-8") or "\\033[" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
