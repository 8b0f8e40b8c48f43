"""Chaos: several `wfdsl run` workers share one PostgreSQL database while some are killed
with SIGKILL at random and restarted. Every expected action is in the CRM's outbox
exactly once, and the final state equals what a single worker produces.

The short variant runs in the default tier; `pytest -m slow` runs the long one."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import pg_server
from wfdsl.adapters.postgres import PostgresCRM
from wfdsl.stores.postgres import PostgresStore

WORKFLOWS = """workflow "Nurture" {
  object contact
  enroll when contact.lifecyclestage = "lead"

  steps {
    send email "N1"
    delay 1 day
    send email "N2"
    delay 2 days
    set contact.hs_lead_status = "OPEN"
  }
}

workflow "VIP" {
  object contact
  enroll when in list "VIP"

  steps {
    delay 3 hours
    send email "VIP welcome"
    create task "Call {{contact.email}}"
  }
}
"""
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
UNTIL = "2026-06-01T00:00:00Z"


def events(contacts: int) -> str:
    """Per contact: created as a lead, joins the VIP list a few hours later (every third),
    and a form submission: 2-3 events each, in time order."""
    lines = []
    for n in range(contacts):
        at = START + dt.timedelta(minutes=n)
        lines.append(
            {
                "at": at.isoformat(),
                "type": "record.created",
                "object": "contact",
                "id": f"c{n}",
                "properties": {"email": f"c{n}@example.com", "lifecyclestage": "lead"},
                "event_id": f"created-{n}",
            }
        )
    for n in range(contacts):
        at = START + dt.timedelta(hours=30, minutes=n)
        if n % 3 == 0:
            lines.append(
                {
                    "at": at.isoformat(),
                    "type": "list.added",
                    "object": "contact",
                    "id": f"c{n}",
                    "data": {"list": "VIP"},
                }
            )
        lines.append(
            {
                "at": (at + dt.timedelta(seconds=30)).isoformat(),
                "type": "form.submitted",
                "object": "contact",
                "id": f"c{n}",
                "data": {"form": "Newsletter"},
            }
        )
    return "".join(json.dumps(line) + "\n" for line in lines)


def _worker(workflows: Path, url: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "wfdsl", "run", str(workflows), "--store", url, "--crm", url]
        + ["--clock", "virtual", "--until-idle", "--until", UNTIL, "--batch", "50", "--status-every", "0"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _idle(url: str) -> bool:
    store = PostgresStore(url)
    try:
        return store.pending_events() == 0 and store.count_timers() == 0
    finally:
        store.close()


def run_workers(url: str, tmp: Path, contacts: int, workers: int, kills: int, seed: int) -> dict[str, Any]:
    """Ingest, then run `workers` processes, SIGKILLing one at random `kills` times and
    starting a new one in its place, until the store is idle; the final state."""
    workflows = tmp / "flows.wf"
    workflows.write_text(WORKFLOWS, encoding="utf-8")
    ingested = subprocess.run(
        [sys.executable, "-m", "wfdsl", "ingest", "--store", url, "-"],
        input=events(contacts),
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=300,
    )
    assert ingested.returncode == 0, ingested.stderr
    rng = random.Random(seed)
    running = [_worker(workflows, url, tmp) for _ in range(workers)]
    killed = 0
    deadline = time.monotonic() + 3600  # a loaded 2-core machine fires a few dozen timers a second
    while True:
        assert time.monotonic() < deadline, "the workers did not finish"
        if killed < kills:
            time.sleep(rng.uniform(0.3, 1.5))
            victim = rng.choice([p for p in running if p.poll() is None] or running)
            if victim.poll() is None:
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                killed += 1
            running.remove(victim)
            running.append(_worker(workflows, url, tmp))
            continue
        for process in running:
            _, err = process.communicate(timeout=600)
            assert process.returncode == 0, err.decode()
        if _idle(url):
            break
        running = [_worker(workflows, url, tmp)]  # what the killed ones left, finished by one more
    return final_state(url)


def _public(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k != "_enrollment"}


def final_state(url: str) -> dict[str, Any]:
    store, crm = PostgresStore(url), PostgresCRM(url)
    try:
        outbox = crm.outbox()
        enrollments = sorted((e.workflow, e.record, e.status, e.step or "") for e in store.enrollments())
        performed = crm.performed()
        return {
            "outbox": outbox,
            "outbox_keys": Counter((row["kind"], row["id"], json.dumps(row["args"], sort_keys=True)) for row in outbox),
            "enrollments": enrollments,
            "stats": {name: dict(store.stats(name)) for name in ("Nurture", "VIP")},
            # Enrollment ids come from sequences in blocks per worker, so they differ
            # between runs with different workers: compare the actions without them.
            "performed": Counter(
                (row["kind"], row["id"], json.dumps(_public(row["args"]), sort_keys=True)) for row in performed
            ),
            "properties": sorted((r.id, r.properties.get("hs_lead_status")) for r in crm.records("contact")),
            "history": Counter((e.workflow, e.id, e.kind, e.step) for e in store.history() if e.kind != "failed"),
            "pending": store.pending_events(),
            "timers": store.count_timers(),
        }
    finally:
        crm.close()
        store.close()


def check(contacts: int, workers: int, kills: int, tmp_path: Path) -> None:
    single_dir, chaos_dir = tmp_path / "single", tmp_path / "chaos"
    single_dir.mkdir()
    chaos_dir.mkdir()
    for single_url in pg_server.database():
        single = run_workers(single_url, single_dir, contacts, workers=1, kills=0, seed=0)
        for chaos_url in pg_server.database():
            chaos = run_workers(chaos_url, chaos_dir, contacts, workers=workers, kills=kills, seed=contacts)
    vip = len(range(0, contacts, 3))
    expected = Counter(
        {("send_email", f"c{n}", json.dumps({"email": "N1"})): 1 for n in range(contacts)}
        | {("send_email", f"c{n}", json.dumps({"email": "N2"})): 1 for n in range(contacts)}
        | {("send_email", f"c{n}", json.dumps({"email": "VIP welcome"})): 1 for n in range(0, contacts, 3)}
    )
    for state in (single, chaos):
        emails = Counter({k: v for k, v in state["outbox_keys"].items() if k[0] == "send_email"})
        assert emails == expected  # every expected email, each exactly once
        assert sum(1 for k in state["outbox_keys"] if k[0] == "create_task") == vip
        assert all(count == 1 for count in state["outbox_keys"].values())
        assert all(count == 1 for count in state["performed"].values())
        assert (state["pending"], state["timers"]) == (0, 0)
    for part in ("outbox_keys", "enrollments", "stats", "performed", "properties", "history"):
        assert chaos[part] == single[part], part
    assert single["stats"]["Nurture"]["completed"] == contacts


def test_workers_killed_at_random_lose_and_repeat_nothing(tmp_path: Path) -> None:
    check(contacts=90, workers=3, kills=3, tmp_path=tmp_path)


@pytest.mark.slow
def test_many_workers_killed_often_over_thousands_of_events(tmp_path: Path) -> None:
    check(contacts=1200, workers=4, kills=12, tmp_path=tmp_path)  # about 2,800 events and 2,800 timers
