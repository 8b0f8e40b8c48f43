"""`wfdsl ingest` and the store inbox: events enter a store, `wfdsl run` takes them in order."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from wfdsl.cli import cli
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.protocols import EventInbox
from wfdsl.stores.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "cases" / "run"
WF = str(CASES / "welcome.wf")
RECORDS = str(CASES / "records.json")
EVENTS = CASES / "events.jsonl"


def wfdsl(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wfdsl", *args], cwd=cwd, input=input, capture_output=True, text=True, timeout=120
    )


def history(path: Path) -> list[dict[str, Any]]:
    store = SQLiteStore(path)
    try:
        return [e.to_json() for e in store.history()]
    finally:
        store.close()


def test_every_built_in_store_is_an_inbox(tmp_path: Path) -> None:
    for store in (MemoryStore(), SQLiteStore(tmp_path / "s.db")):
        assert isinstance(store, EventInbox)
        numbers = store.append_events(
            [
                {"type": "record.created", "object": "contact", "id": "c1", "at": "2026-01-01T00:00:00Z"},
                {"type": "list.added", "object": "contact", "id": "c1", "event_id": "x", "data": {"list": "L"}},
                {"type": "list.added", "object": "contact", "id": "c1", "event_id": "x", "data": {"list": "L"}},
            ]
        )
        assert numbers[0] is not None and numbers[1] is not None and numbers[2] is None
        assert store.pending_events() == 2
        claimed = store.claim_events(10)
        assert [row.id for row in claimed] == numbers[:2]
        assert claimed[1].body["data"] == {"list": "L"}
        store.finish_events([claimed[0].id], dt.datetime.now(dt.timezone.utc))
        assert [row.id for row in store.claim_events(10)] == [numbers[1]]
        # a finished event still dedupes
        assert store.append_events([{"type": "x", "event_id": "x"}]) == [None]


def test_ingest_then_run_equals_run_with_the_events_file(tmp_path: Path) -> None:
    ingested = wfdsl("ingest", "--store", "sqlite:///a.db", str(EVENTS), cwd=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    lines = [line for line in EVENTS.read_text().splitlines() if line.strip()]
    assert ingested.stdout == f"ingested {len(lines)} events\n"
    common = ["--records", RECORDS, "--clock", "virtual", "--until-idle", "--status-every", "0"]
    ran = wfdsl("run", WF, "--store", "sqlite:///a.db", "--crm", "sqlite:///ca.db", *common, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    direct = wfdsl(
        "run",
        WF,
        "--store",
        "sqlite:///b.db",
        "--crm",
        "sqlite:///cb.db",
        "--events",
        str(EVENTS),
        *common,
        cwd=tmp_path,
    )
    assert direct.returncode == 0, direct.stderr
    assert history(tmp_path / "a.db") == history(tmp_path / "b.db") != []
    conn = sqlite3.connect(tmp_path / "a.db")
    assert conn.execute("SELECT count(*) FROM inbox WHERE done IS NULL").fetchone() == (0,)
    conn.close()


def test_event_ids_are_deduped_across_runs_of_ingest(tmp_path: Path) -> None:
    text = (
        '{"at": "2026-11-23T10:00:00Z", "type": "form.submitted", "object": "contact", "id": "c1", '
        '"data": {"form": "Demo request"}, "event_id": "evt-1"}\n'
    )
    first = wfdsl("ingest", "--store", "sqlite:///s.db", "-", cwd=tmp_path, input=text)
    assert (first.returncode, first.stdout) == (0, "ingested 1 event\n")
    again = wfdsl("ingest", "--store", "sqlite:///s.db", "--format", "json", "-", cwd=tmp_path, input=text * 2)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"format_version": "1", "ingested": 0, "duplicates": 2, "ids": [None, None]}


def test_bad_lines_are_each_reported_and_nothing_is_ingested(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"at": "2026-11-23T10:00:00Z", "type": "record.created", "object": "contact", "id": "c1"}\n'
        "{not json\n"
        "\n"
        '{"at": "yesterday", "type": "record.created", "object": "contact", "id": "c1"}\n',
        encoding="utf-8",
    )
    result = wfdsl("ingest", "--store", "sqlite:///s.db", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{path}:2: invalid JSON" in result.stderr
    assert f"{path}:4: `at` is not an ISO 8601 time: 'yesterday'" in result.stderr
    assert "2 bad lines" in result.stderr and "nothing ingested" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s.db").exists()


def test_an_event_without_at_happens_when_ingested(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["ingest", "--store", f"sqlite:///{tmp_path}/s.db", "-"],
        input='{"type": "record.created", "object": "contact", "id": "c9"}\n',
    )
    assert result.exit_code == 0, result.output
    store = SQLiteStore(tmp_path / "s.db")
    (row,) = store.claim_events(5)
    store.close()
    assert row.body["at"].startswith("20")


def test_ingest_refuses_a_memory_store_and_missing_files(tmp_path: Path) -> None:
    memory = wfdsl("ingest", "--store", "memory://", "-", cwd=tmp_path, input="")
    assert memory.returncode == 2 and "memory:// keeps nothing" in memory.stderr
    missing = wfdsl("ingest", "--store", "sqlite:///s.db", "nope.jsonl", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.jsonl: no such file" in missing.stderr


def test_a_running_worker_takes_events_ingested_while_it_runs(tmp_path: Path) -> None:
    """`wfdsl run` (real clock) picks up what another process ingests, without restarting."""
    import time

    run = subprocess.Popen(
        [sys.executable, "-m", "wfdsl", "run", WF, "--store", "sqlite:///s.db", "--crm", "sqlite:///c.db"]
        + ["--records", RECORDS, "--status-every", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        text = '{"type": "record.created", "object": "contact", "id": "c7", "properties": {"lifecyclestage": "lead"}}\n'
        assert wfdsl("ingest", "--store", "sqlite:///s.db", "-", cwd=tmp_path, input=text).returncode == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            store = SQLiteStore(tmp_path / "s.db")
            try:
                if store.pending_events() == 0 and store.history():
                    break
            finally:
                store.close()
            time.sleep(0.2)
        else:
            raise AssertionError("the running worker never took the event")
    finally:
        run.terminate()
        out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert any(e["kind"] == "enrolled" for e in history(tmp_path / "s.db"))


def test_the_documented_insert_feeds_a_worker(tmp_path: Path) -> None:
    import re

    doc = (ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    (insert,) = re.findall(r"```sql\n(.*?)```", doc, flags=re.DOTALL)
    SQLiteStore(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute(insert)
    conn.execute(insert)  # the same event_id again: ignored
    conn.commit()
    conn.close()
    common = ["--records", RECORDS, "--clock", "virtual", "--until-idle", "--status-every", "0"]
    ran = wfdsl("run", WF, "--store", "sqlite:///s.db", "--crm", "sqlite:///c.db", *common, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    kinds = [(e["kind"], e["id"]) for e in history(tmp_path / "s.db")]
    assert kinds[0] == ("enrolled", "c1")
    assert kinds.count(("enrolled", "c1")) == 1


def test_prune_removes_old_applied_inbox_rows(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    (number,) = store.append_events([{"type": "record.created", "object": "contact", "id": "c1", "event_id": "k"}])
    assert number is not None
    store.finish_events([number], dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    later = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    assert store.prune_events(later) == 1
    assert store.append_events([{"type": "record.created", "event_id": "k"}]) != [None]
    store.close()
