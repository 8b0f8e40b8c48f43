"""`wfdsl simulate` streams its trace and keeps only the CRM histories criteria read.

Both are memory measures (tests/test_load.py measures them); here they are held
to change nothing: a lean, streaming run gives the same trace and stats as a run
that keeps everything, on the examples with random event streams, and the CLI's
output does not depend on where the spooled trace lives.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES
from wfdsl.cli import cli
from wfdsl.cli import simulate as simulate_command
from wfdsl.cli.common import schema_for
from wfdsl.compile.compiler import load_plans
from wfdsl.host.simulate import simulate_files
from wfdsl.plan.model import ProjectPlan, history_reads
from wfdsl.runtime.protocols import HistoryEntry

EMAILS = [
    "Black Friday: 30% off add-ons",
    "Nurture #2: ROI calculator",
    "Still interested?",
    "Your renewal is coming up",
    "Welcome to Nordlys",
]
PAGES = [
    "https://www.example.com/webinars/year-end-planning/live",
    "https://www.example.com/pricing",
    "https://www.example.com/demo?utm_source=ads",
]
STAGES = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "customer"]
FORMS = ["Contact us", "Demo request", "Webinar registration", "Newsletter"]


def example_plans() -> ProjectPlan:
    return load_plans([str(EXAMPLES)], schema_for([str(EXAMPLES)]))


def random_events(path: Path, seed: int, count: int = 300) -> None:
    """Events of every kind the examples' criteria look at, on the example records."""
    rnd = random.Random(seed)
    contacts = [f"c{i}" for i in range(1, 13)]
    when = dt.datetime(2026, 11, 23, 8, tzinfo=dt.timezone.utc)
    lines = []
    for _ in range(count):
        when += dt.timedelta(minutes=rnd.randint(1, 600))
        roll = rnd.random()
        line: dict[str, object]
        if roll < 0.25:
            line = {"type": "email.clicked", "data": {"email": rnd.choice(EMAILS)}}
        elif roll < 0.35:
            line = {"type": "meeting.booked", "data": {}}
        elif roll < 0.5:
            line = {"type": "page.visited", "data": {"url": rnd.choice(PAGES)}}
        elif roll < 0.6:
            line = {"type": "form.submitted", "data": {"form": rnd.choice(FORMS), "url": rnd.choice(PAGES)}}
        elif roll < 0.85:
            line = {
                "type": "record.updated",
                "properties": {"lifecyclestage": rnd.choice(STAGES), "hubspotscore": rnd.randrange(100)},
            }
        else:
            line = {
                "type": rnd.choice(["list.added", "list.removed"]),
                "data": {"list": rnd.choice(["Newsletter", "Competitors"])},
            }
        line.update(at=when.isoformat().replace("+00:00", "Z"), object="contact", id=rnd.choice(contacts))
        lines.append(json.dumps(line))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_history_reads_finds_what_the_examples_criteria_read() -> None:
    events, properties = history_reads(example_plans())
    assert events == {"email.clicked", "meeting.booked", "page.visited", "form.submitted"}
    assert ("contact", "lifecyclestage") in properties
    # what no criterion reads is not kept
    assert "email.sent" not in events and "property.changed" not in events
    assert ("contact", "hubspotscore") not in properties


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_lean_streaming_run_equals_a_run_that_keeps_everything(tmp_path: Path, seed: int) -> None:
    plans = example_plans()
    events = tmp_path / "events.jsonl"
    random_events(events, seed)
    records = EXAMPLES / "records.json"
    full = simulate_files(plans, records, events)
    streamed: list[HistoryEntry] = []
    lean = simulate_files(plans, records, events, on_history=streamed.append, lean_crm=True)
    expected = full.trace()
    assert len(expected) > 50  # the stream makes the examples do things
    assert [e.to_json() for e in streamed] == expected
    assert lean.stats() == full.stats()
    assert lean.trace() == []  # nothing kept: it went to the sink
    assert len(lean.crm._events) < len(full.crm._events)


def test_the_cli_output_is_the_same_when_the_trace_spills_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = tmp_path / "events.jsonl"
    random_events(events, 5)
    args = [
        str(EXAMPLES),
        "--records",
        str(EXAMPLES / "records.json"),
        "--events",
        str(events),
        "--format",
        "json",
        "--stats",
    ]
    runner = CliRunner()
    in_memory = runner.invoke(cli, ["simulate", *args])
    monkeypatch.setattr(simulate_command, "SPOOL_BYTES", 64)
    on_disk = runner.invoke(cli, ["simulate", *args])
    assert in_memory.exit_code == on_disk.exit_code == 0
    assert in_memory.stdout == on_disk.stdout
    lines = on_disk.stdout.splitlines()
    full = simulate_files(example_plans(), EXAMPLES / "records.json", events)
    assert [json.loads(line) for line in lines[:-1]] == json.loads(json.dumps(full.trace()))
    assert json.loads(lines[-1]) == {"stats": full.stats()}


def test_bad_input_late_in_the_file_prints_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = tmp_path / "events.jsonl"
    random_events(events, 6)
    with events.open("a", encoding="utf-8") as out:
        out.write('{"at": "2027-12-01T00:00:00Z", "type": "record.updated", "object": "contact", "id": "c1"}\n')
    monkeypatch.setattr(simulate_command, "SPOOL_BYTES", 64)
    result = CliRunner().invoke(
        cli, ["simulate", str(EXAMPLES), "--records", str(EXAMPLES / "records.json"), "--events", str(events)]
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "events.jsonl:301: record.updated needs `properties`" in result.stderr
