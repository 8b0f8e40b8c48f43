"""The command works under a locale that is not UTF-8.

Under `LC_ALL=C` Python turns on its UTF-8 mode by itself; with
`PYTHONUTF8=0` as well its streams are ASCII and strict, as on a minimal
container or an old CI image. Every command that prints user text (workflow
names, property values, file paths, the `·` of `wfdsl rules`) must still
print it, as UTF-8, without a traceback, and read UTF-8 files whatever the
locale says.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW = """workflow "Café — Straße" {
  object contact
  enroll on form.submitted(form = "Straße")
  steps { send email "Hi — {{ contact.firstname }}" }
}
"""
BROKEN = 'workflow "Ærø" {\n  object contact\n  enroll on form.submited(form = "Ørsted")\n  steps { end }\n}\n'
RECORDS = {"contact": [{"id": "c1", "email": "åse@example.com", "firstname": "Åse", "lifecyclestage": "lead"}]}
EVENT = {"at": "2026-11-23T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1"}

LOCALES = {
    "C": {"LC_ALL": "C", "LANG": "C"},
    "C, UTF-8 mode off": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"},
}


def _env(overrides: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIOENCODING", "PYTHONUTF8"))}
    env.update(overrides)
    return env


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Non-ASCII file names, made from their UTF-8 bytes so that this works when the
    # test suite itself runs under an ASCII locale (the names are then surrogate-escaped).
    root = tmp_path_factory.mktemp("locale") / _name("områder")
    root.mkdir()
    (root / _name("café.wf")).write_text(WORKFLOW, encoding="utf-8")
    (root / "records.json").write_text(json.dumps(RECORDS, ensure_ascii=False), encoding="utf-8")
    event = {**EVENT, "data": {"form": "Straße"}}
    (root / "events.jsonl").write_text(json.dumps(event, ensure_ascii=False) + "\n", encoding="utf-8")
    (root / "broken").mkdir()
    (root / "broken" / _name("ærø.wf")).write_text(BROKEN, encoding="utf-8")
    return root


def _name(text: str) -> str:
    return os.fsdecode(text.encode("utf-8"))


def _wfdsl(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "wfdsl", *args], cwd=cwd, env=env, capture_output=True, timeout=120)
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")  # UTF-8 whatever the locale
    assert "Traceback" not in err, err
    return done.returncode, out, err


@pytest.mark.parametrize("locale", LOCALES)
def test_every_command_prints_non_ascii_text_under_a_c_locale(locale: str, project: Path) -> None:
    env = _env(LOCALES[locale])
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys.stdout.encoding)"], env=env, capture_output=True
    )
    expected_stdout = "ascii" if "PYTHONUTF8" in LOCALES[locale] else "utf-8"
    assert probe.stdout.decode().strip() == expected_stdout  # the locale really is what the test says
    run = lambda *args: _wfdsl(env, project, *(_name(a) for a in args))  # noqa: E731

    assert run("lint", "café.wf") == (0, "No problems found in 1 file.\n", "")
    code, out, _ = run("lint", "broken")
    assert code == 1 and "ærø.wf:3:13: error[unknown-event]" in out and 'form.submited(form = "Ørsted")' in out
    code, out, _ = run("lint", "--format", "json", "broken")
    assert code == 1 and json.loads(out)["diagnostics"][0]["file"].endswith("ærø.wf")
    for fmt in ("github", "sarif"):
        assert run("lint", "--format", fmt, "broken")[0] == 1

    code, out, _ = run("fmt", "--diff", "café.wf")
    assert code == 1 and '+    send email "Hi — {{ contact.firstname }}"' in out
    code, out, _ = run("rules", "WF001")
    assert code == 0 and out.startswith("syntax (WF001) · error")

    sim = ("café.wf", "--records", "records.json", "--events", "events.jsonl")
    code, out, err = run("simulate", *sim)
    assert code == 0, err
    assert 'Café — Straße  contact:c1  action send_email  [steps.0]  email="Hi — Åse"' in out
    code, out, _ = run("simulate", *sim, "--format", "json", "--stats")
    assert code == 0 and json.loads(out.splitlines()[-1]) == {
        "stats": {
            "Café — Straße": {
                "enrolled": 1,
                "active": 0,
                "completed": 1,
                "unenrolled": 0,
                "goal_met": 0,
                "emailed": 1,
                "converted": 0,
                "conversion_rate": 0.0,
            }
        }
    }
    code, out, _ = run("explain", *sim, "--record", "c1")
    assert code == 0 and 'email="Hi — Åse"' in out
    code, out, _ = run("explain", *sim, "--record", "c1", "--format", "json")
    assert code == 0 and "Café — Straße" in json.dumps(json.loads(out), ensure_ascii=False)

    code, out, _ = run("compile", "café.wf", "-o", "-")
    assert code == 0 and json.loads(out)["workflows"][0]["name"] == "Café — Straße"
    code, out, _ = run("graph", "café.wf")
    assert code == 0 and "Straße" in out
    code, out, _ = run("parse", "--dump", "café.wf")
    assert code == 0 and "Café" in out

    code, _, err = run("simulate", "café.wf", "--records", "nowhere-ø.json", "--events", "events.jsonl")
    assert code == 2 and "nowhere-ø.json" in err


def test_the_fast_test_files_pass_under_the_c_locale_with_utf8_mode_off(tmp_path: Path) -> None:
    """A slice of the suite itself (reading case files, snapshots, docs) in the harshest locale."""
    env = _env({"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONDONTWRITEBYTECODE": "1"})
    root = Path(__file__).resolve().parents[1]
    tests = [
        "tests/test_check_cases.py",
        "tests/test_docs_examples.py",
        "tests/test_rules.py",
        "tests/test_cli_docs.py",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *tests],
        cwd=root,
        env=env,
        capture_output=True,
        timeout=600,
    )
    out = done.stdout.decode("utf-8", "replace")
    assert done.returncode == 0, out[-4000:]
    assert shutil.which("sh")  # the probe above ran in a real shell environment
