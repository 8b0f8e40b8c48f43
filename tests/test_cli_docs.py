"""docs/cli.md lists every command with its current help, and every exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from wfdsl.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_command_is_in_the_summary_table() -> None:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = text.split("## Exit codes", 1)[0]
    names = cli.list_commands(click.Context(cli))
    missing = [name for name in names if f"| `{name}" not in table]
    assert missing == []
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in text
