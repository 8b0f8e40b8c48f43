"""The runtime and embedding docs run: their examples are checked against the engine.

docs/runtime.md: after each `<!-- case: NAME -->` marker come a ```wf block (the
workflows of tests/cases/engine/NAME.case) and a ```text block (its text trace; a
line `…` stands for lines left out). Run `python tests/test_engine_docs.py` to
refill the blocks after changing a case.

docs/embedding.md: every ```python block runs, in order, in one namespace.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine_helpers import at, engine, plans
from test_engine_cases import CASES, _sections, run_case
from wfdsl.runtime.history import trace_line
from wfdsl.runtime.protocols import Event

ROOT = Path(__file__).resolve().parents[1]

RUNTIME = ROOT / "docs" / "runtime.md"
EMBEDDING = ROOT / "docs" / "embedding.md"
MARKER = re.compile(r"<!-- (case|scenario): ([a-z0-9_]+) -->\n+```wf\n(.*?)```\n+```text\n(.*?)```", re.S)
T0 = "2026-03-02T09:00:00Z"


def _deploy() -> tuple[str, list[str]]:
    """a new version drops the delay an enrollment waits in."""
    v1 = (
        'workflow "Drip" {\n  object contact\n  enroll on form.submitted\n  steps {\n'
        '    send email "One"\n    delay 2 days\n    label "tail"\n'
        '    send email "Two"\n  }\n}\n'
    )
    eng, crm = engine(v1, T0)
    crm.add_record("contact", "c1", {}, at=at(T0))
    eng.activate("Drip")
    eng.ingest(Event(type="form.submitted", object="contact", id="c1", at=at(T0)))
    eng.deploy(plans(v1.replace("    delay 2 days\n", "")))
    eng.run_due(at("2026-04-01T00:00:00Z"))
    return v1, [trace_line(e) for e in eng.history()]


def _retries() -> tuple[str, list[str]]:
    """two transient failures, then success; the adapter saw one action."""
    text = (
        'workflow "Hook" {\n  object contact\n  enroll on form.submitted\n'
        "  settings { on failure stop }\n  steps {\n"
        '    webhook post "https://hooks.example.com/lead"\n    send email "Thanks"\n'
        "  }\n}\n"
    )
    eng, crm = engine(text, T0)
    crm.add_record("contact", "c1", {}, at=at(T0))
    crm.fail_next("webhook", times=2, message="503 Service Unavailable")
    eng.activate("Hook")
    eng.ingest(Event(type="form.submitted", object="contact", id="c1", at=at(T0)))
    eng.run_due(at("2026-03-03T00:00:00Z"))
    assert [key for key, _ in crm.performed] == ["e1:steps.0:3", "e1:steps.1:1"]
    return text, [trace_line(e) for e in eng.history()]


def _deploy_insert() -> tuple[str, list[str]]:
    """A step inserted at the top while c1 waits in the delay: c1 moves with the delay."""
    v1 = (
        'workflow "Drip" {\n  object contact\n  enroll on form.submitted\n  steps {\n'
        '    send email "A"\n    delay 3 days\n    send email "B"\n  }\n}\n'
    )
    eng, crm = engine(v1, T0)
    crm.add_record("contact", "c1", {}, at=at(T0))
    eng.activate("Drip")
    eng.ingest(Event(type="form.submitted", object="contact", id="c1", at=at(T0)))
    eng.deploy(plans(v1.replace("  steps {\n", '  steps {\n    create task "T"\n')))
    eng.run_due(at("2026-04-01T00:00:00Z"))
    return v1, [trace_line(e) for e in eng.history()]


SCENARIOS = {"deploy": _deploy, "deploy_insert": _deploy_insert, "retries": _retries}


def _workflows(name: str) -> str:
    if name in SCENARIOS:
        return SCENARIOS[name]()[0]
    text = _sections((CASES / f"{name}.case").read_text(encoding="utf-8"))["workflows"]
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return "\n".join(lines).strip() + "\n"


def _trace(name: str) -> list[str]:
    if name in SCENARIOS:
        return SCENARIOS[name]()[1]
    sim, _ = run_case(CASES / f"{name}.case")
    return [trace_line(e) for e in sim.entries()]


def _matches(doc: list[str], actual: list[str]) -> bool:
    if "…" not in doc:
        return doc == actual
    pos = 0
    for line in doc:
        if line == "…":
            continue
        while pos < len(actual) and actual[pos] != line:
            pos += 1
        if pos == len(actual):
            return False
        pos += 1
    return True


def _blocks() -> list[tuple[str, str, str]]:
    return [(name, wf, trace) for _, name, wf, trace in MARKER.findall(RUNTIME.read_text(encoding="utf-8"))]


def test_runtime_doc_has_examples() -> None:
    assert len(_blocks()) >= 15


@pytest.mark.parametrize("name", [b[0] for b in _blocks()])
def test_runtime_doc_example(name: str) -> None:
    for found, workflows, trace in _blocks():
        if found != name:
            continue
        assert workflows == _workflows(name)
        assert _matches(trace.splitlines(), _trace(name)), f"trace of {name} differs"


def test_embedding_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", EMBEDDING.read_text(encoding="utf-8"), re.S)
    assert blocks
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block, str(EMBEDDING), "exec"), namespace)  # noqa: S102


def _refill() -> None:
    text = RUNTIME.read_text(encoding="utf-8")

    def fill(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        old = match.group(4).splitlines()
        trace = _trace(name)
        if "…" in old and _matches(old, trace):
            lines = old
        elif len(trace) > 14:
            lines = trace[:10] + ["…"] + trace[-3:]
        else:
            lines = trace
        return (
            f"<!-- {kind}: {name} -->\n```wf\n{_workflows(name)}```\n\n```text\n"
            + "".join(line + "\n" for line in lines)
            + "```"
        )

    RUNTIME.write_text(MARKER.sub(fill, text), encoding="utf-8")


if __name__ == "__main__":
    _refill()
