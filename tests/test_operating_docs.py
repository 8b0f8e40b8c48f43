"""docs/operating.md: its console sessions give the output shown, its example adapter works."""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wfdsl.compile.compiler import load_plans
from wfdsl.host.service import Options, Service
from wfdsl.runtime.protocols import Action, PermanentAdapterError
from wfdsl.stores.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operating.md"
DEMO = ROOT / "tests" / "cases" / "run"


def blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def sessions() -> list[list[tuple[str, str]]]:
    """Each console block as (command, expected output) pairs."""
    out = []
    for block in blocks("console"):
        pairs: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                pairs.append((line[2:], []))
            else:
                pairs[-1][1].append(line)
        out.append([(cmd, "".join(x + "\n" for x in lines)) for cmd, lines in pairs])
    return out


def test_console_sessions_are_real(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "demo")
    found = sessions()
    # The doc shows the status after the first run but explains the second run first.
    order = [
        "wfdsl run demo/welcome.wf",
        "wfdsl run demo/welcome.wf until",
        "wfdsl status",
        "wfdsl run demo/welcome.wf --events demo/events.jsonl",
        "wfdsl prune",
    ]
    by_command = {session[0][0]: session for session in found}
    ran = 0
    for key in order:
        matches = [s for cmd, s in by_command.items() if _key(cmd) == key]
        assert matches, key
        for command, expected in matches[0]:
            args = shlex.split(command)
            assert args[0] == "wfdsl"
            done = subprocess.run(
                [sys.executable, "-m", "wfdsl", *args[1:]],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                encoding="utf-8",
                timeout=120,
            )
            assert done.stdout == expected, command
            ran += 1
    assert ran == sum(len(s) for s in found)  # every session was checked


def _key(command: str) -> str:
    if command.startswith("wfdsl run demo/welcome.wf --records"):
        return "wfdsl run demo/welcome.wf until"
    if command.startswith("wfdsl run demo/welcome.wf --events"):
        return "wfdsl run demo/welcome.wf --events demo/events.jsonl"
    if command.startswith("wfdsl run demo/welcome.wf --"):
        return "wfdsl run demo/welcome.wf"
    return command.split(" --")[0]


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "operating_example"}
    for code in blocks("python"):
        exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - the doc's own code
    return namespace


def test_example_adapter_runs_workflows(example: dict[str, Any], tmp_path: Path) -> None:
    crm = example["crm"]
    assert type(crm).__name__ == "OutboxCRM"
    plans = load_plans([DEMO / "welcome.wf"])
    records = json.loads((DEMO / "records.json").read_text(encoding="utf-8"))
    service = Service(
        plans,
        crm,
        SQLiteStore(tmp_path / "state.db"),
        options=Options(clock="virtual", until_idle=True),
        records=records,
    )
    with (DEMO / "events.jsonl").open("rb") as events:
        counts = service.run(events, "events.jsonl")
    assert counts.enrolled == 3
    lines = [json.loads(x) for x in (tmp_path / "actions.jsonl").read_text().splitlines()]
    assert [(x["kind"], x["record"]) for x in lines] == [
        ("send_email", "contact:c1"),
        ("send_email", "contact:c2"),
        ("send_email", "contact:c3"),
        ("send_email", "contact:c1"),
        ("set", "contact:c1"),
        ("send_email", "contact:c3"),
        ("set", "contact:c3"),
    ]
    assert lines[0]["args"] == {"email": "Welcome #1"}


def test_example_adapter_keeps_keys_across_restarts(example: dict[str, Any], tmp_path: Path) -> None:
    cls = example["OutboxCRM"]
    at = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    email = Action(kind="send_email", object="contact", id="c1", args={"email": "Hi"}, at=at)
    first = cls.from_url("outbox://out.jsonl")
    first.add_record("contact", "c1", {}, at=at)
    first.perform(email, "e1:steps.0:0")
    again = cls.from_url("outbox://out.jsonl")  # a new process
    again.add_record("contact", "c1", {}, at=at)
    again.perform(email, "e1:steps.0:0")
    again.perform(email, "e2:steps.0:0")
    keys = [json.loads(x)["key"] for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert keys == ["e1:steps.0:0", "e2:steps.0:0"]
    hook = Action(kind="webhook", object="contact", id="c1", args={"method": "post", "url": "http://x"}, at=at)
    with pytest.raises(PermanentAdapterError, match="webhooks must use https"):
        again.perform(hook, "e3:steps.0:0")
