"""Shell completion as docs/cli.md documents it: each command there prints a working script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _documented() -> list[str]:
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("## Shell completion", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line for block in blocks for line in block.splitlines() if "_WFDSL_COMPLETE=" in line]


def _env() -> dict[str, str]:
    assert (BIN / "wfdsl").exists(), "the wfdsl command is installed beside this Python"
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _script(shell: str) -> str:
    done = subprocess.run(
        ["wfdsl"], env={**_env(), "_WFDSL_COMPLETE": f"{shell}_source"}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_docs_name_bash_zsh_and_fish_and_each_command_prints_a_script() -> None:
    lines = _documented()
    shells = sorted({m for line in lines for m in re.findall(r"_WFDSL_COMPLETE=(\w+)_source", line)})
    assert shells == ["bash", "fish", "zsh"]
    markers = {"bash": "complete -o nosort -F _wfdsl_completion wfdsl", "zsh": "#compdef wfdsl", "fish": "complete"}
    for shell in shells:
        script = _script(shell)
        assert markers[shell] in script, script[:300]
        assert "_WFDSL_COMPLETE" in script


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_bash_script_loads_and_completes_commands_and_choices() -> None:
    check = (
        'eval "$(_WFDSL_COMPLETE=bash_source wfdsl)" && complete -p wfdsl && '
        "COMP_WORDS=(wfdsl li); COMP_CWORD=1; COMPREPLY=(); _wfdsl_completion wfdsl && echo ${COMPREPLY[@]} && "
        "COMP_WORDS=(wfdsl lint --format ''); COMP_CWORD=3; COMPREPLY=(); "
        "_wfdsl_completion wfdsl && echo ${COMPREPLY[@]}"
    )
    done = subprocess.run(["bash", "-c", check], env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    registered, commands, formats = done.stdout.splitlines()[-3:]
    assert "_wfdsl_completion" in registered
    assert commands.split() == ["lint"]
    assert formats.split() == ["text", "json", "github", "sarif"]
