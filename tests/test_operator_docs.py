"""docs/operating.md, from "Deploying a change" on: its sessions (plan, run, history, outbox,
preview) give the output shown, on the demo project with a record waiting."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operating.md"
DEMO = ROOT / "tests" / "cases" / "run"
ORDER = ("deploy", "history", "outbox", "preview")


def sessions() -> dict[str, list[tuple[str, str]]]:
    text = DOC.read_text(encoding="utf-8")
    out: dict[str, list[tuple[str, str]]] = {}
    for name, block in re.findall(r"<!-- session: ([a-z]+) -->\n```text\n(.*?)```", text, flags=re.DOTALL):
        pairs: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:], []))
            else:
                pairs[-1][1].append(line)
        out[name] = [(cmd, "".join(x + "\n" for x in lines)) for cmd, lines in pairs]
    return out


def new_version() -> str:
    text = DOC.read_text(encoding="utf-8")
    part = text.split("## Deploying a change: plan, then run", 1)[1]
    found = re.search(r"```wf\n(.*?)```", part, flags=re.DOTALL)
    assert found is not None
    return found.group(1)


def wfdsl(args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "wfdsl", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    return done.stdout


def test_operator_sessions_are_real(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "demo")
    first = wfdsl(
        [
            "run",
            "demo/welcome.wf",
            "--records",
            "demo/records.json",
            "--events",
            "demo/events.jsonl",
            "--clock",
            "virtual",
            "--until-idle",
            "--until",
            "2026-11-25T12:00:00Z",
        ],
        tmp_path,
    )
    assert "waiting 1" in first
    (tmp_path / "demo" / "welcome.wf").write_text(new_version(), encoding="utf-8")
    found = sessions()
    assert sorted(found) == sorted(ORDER)
    for name in ORDER:
        for command, expected in found[name]:
            args = shlex.split(command)
            assert args[0] == "wfdsl"
            # the store's id in idempotency keys is random: the doc shows one
            actual = re.sub(r"\b[0-9a-f]{16}/(e\d+:)", r"3f9c2a7b1d4e8f60/\1", wfdsl(args[1:], tmp_path))
            assert actual == expected, command


def test_the_sensitive_example_is_a_valid_schema(tmp_path: Path) -> None:
    from wfdsl.schema import load_schema

    text = DOC.read_text(encoding="utf-8").split("## Redaction", 1)[1]
    found = re.search(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert found is not None
    (tmp_path / "wfdsl.toml").write_text(found.group(1), encoding="utf-8")
    assert load_schema(tmp_path).properties("contact")["shoe_size"].sensitive
