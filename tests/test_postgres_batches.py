"""The PostgreSQL batch path against a real server: a claim reads its records once and
writes in bulk at commit, and keeps every guarantee of one firing at a time — a
failing or poisoned enrollment does not hold up the rest of its batch, concurrent
claims take disjoint timers, a record held by a batch is changed by nobody else
until it commits, and an action performed before is not performed again."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import attrs
import pytest

from engine_helpers import plans
from wfdsl.adapters.postgres import PostgresCRM
from wfdsl.compile.compiler import load_plans
from wfdsl.host.service import Options, Service
from wfdsl.runtime.engine import Engine, idempotency_key
from wfdsl.runtime.protocols import Action, Enrollment, Event, Timer, VirtualClock
from wfdsl.stores.postgres import PlansChangedError, PostgresStore

UTC = dt.timezone.utc
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _seed(
    url: str, source: str, records: Mapping[str, Mapping[str, object]], links: tuple[tuple[str, str], ...] = ()
) -> None:
    """Records (`type:id` -> properties), associations, and every contact enrolled by hand
    in the one workflow of `source` at START (its steps start with a one-day delay)."""
    store, crm = PostgresStore(url), PostgresCRM(url)
    try:
        engine = Engine(plans(source), crm, store, VirtualClock(START))
        with store.transaction():
            (name,) = engine.workflows
            engine.activate(name)
            for ref, properties in records.items():
                object_type, _, record_id = ref.partition(":")
                crm.add_record(object_type, record_id, properties, at=START)
            for left, right in links:
                crm.associate(tuple(left.split(":")), tuple(right.split(":")))  # type: ignore[arg-type]
            for ref in records:
                if ref.startswith("contact:"):
                    engine.enroll(name, ("contact", ref.partition(":")[2]), at=START)
    finally:
        crm.close()
        store.close()


def _work(url: str, source: str, *, batch: int = 200) -> Service:
    """One worker on the real clock until nothing is due (the seeded timers are long due)."""
    store, crm = PostgresStore(url), PostgresCRM(url)
    service = Service(plans(source), crm, store, options=Options(until_idle=True, batch=batch, status_every=0))
    try:
        service.run(None)
    finally:
        crm.close()
        store.close()
    return service


COMPANY = """workflow "Tier" {
  object contact
  enroll manually
  steps {
    delay 1 day
    set company.tier = "gold"
    send email "Done"
  }
}
"""


def test_a_failing_action_in_a_batch_does_not_hold_up_the_others(pg_url: str) -> None:
    """c3 has no company: its `set company.tier` fails for good (recorded, the workflow
    goes on), in the same batch as the others, which all complete."""
    contacts = {f"contact:c{n}": {"email": f"c{n}@example.com"} for n in range(8)}
    companies = {f"company:co{n}": {"name": f"Co {n}"} for n in range(8) if n != 3}
    links = tuple((f"contact:c{n}", f"company:co{n}") for n in range(8) if n != 3)
    _seed(pg_url, COMPANY, {**contacts, **companies}, links)
    service = _work(pg_url, COMPANY)
    assert service.counts.fired == 8
    store, crm = PostgresStore(pg_url), PostgresCRM(pg_url)
    try:
        kinds = {n: [e.kind for e in store.history(record=("contact", f"c{n}"))] for n in range(8)}
        assert kinds[3] == ["enrolled", "delayed", "failed", "action", "completed"]
        assert all(kinds[n] == ["enrolled", "delayed", "action", "action", "completed"] for n in range(8) if n != 3)
        tiers = {r.id: r.properties.get("tier") for r in crm.records("company")}
        assert tiers == {f"co{n}": "gold" for n in range(8) if n != 3}
        assert sorted(row["id"] for row in crm.outbox()) == [f"c{n}" for n in range(8)]
        assert store.count_timers() == 0 and store.count_enrollments(status="active") == 0
    finally:
        crm.close()
        store.close()


ANCHORED = """workflow "Renewal" {
  object contact
  anchor contact.renewal_date
  enroll when contact.lifecyclestage = "customer"
  steps {
    delay until 30 days before anchor at 09:00
    delay until 30 days after anchor at 09:00
    send email "Thanks"
  }
}
"""


def test_a_poisoned_timer_in_a_batch_is_set_aside_and_the_others_fire(pg_url: str, tmp_path: Path) -> None:
    """c1's second delay falls after the year 9999 (an error in its own firing): the batch
    is rolled back and fired again without it, c1 becomes a dead letter, c2 and c3 go on."""
    source = tmp_path / "renewal.wf"
    source.write_text(ANCHORED, encoding="utf-8")
    (tmp_path / "wfdsl.toml").write_text('[schema.contact]\nrenewal_date = "date"\n', encoding="utf-8")
    project = load_plans([source])
    store, crm = PostgresStore(pg_url), PostgresCRM(pg_url)
    try:
        engine = Engine(project, crm, store, VirtualClock(START))
        with store.transaction():
            engine.activate("Renewal")
            for record, date in (("c1", "9999-12-20"), ("c2", "2026-02-01"), ("c3", "2026-02-02")):
                engine.ingest(_created(record, {"lifecyclestage": "customer", "renewal_date": date}))
        with store.transaction():  # every first delay due now, in one batch
            store.db.execute("UPDATE timers SET due = 0")
    finally:
        crm.close()
        store.close()
    store, crm = PostgresStore(pg_url), PostgresCRM(pg_url)
    log: list[str] = []
    service = Service(project, crm, store, options=Options(until_idle=True, status_every=0), log=log.append)
    try:
        service.run(None)
        history = {r: [e.kind for e in store.history(record=("contact", r))] for r in ("c1", "c2", "c3")}
        assert history["c1"][-2:] == ["failed", "unenrolled"]
        assert history["c2"][-2:] == history["c3"][-2:] == ["action", "completed"]
        (letter,) = store.dead_letters()
        assert (letter.kind, letter.id) == ("timer", "c1")
        assert sorted(row["id"] for row in crm.outbox()) == ["c2", "c3"]
    finally:
        crm.close()
        store.close()


def _created(record: str, properties: dict[str, object]) -> Event:
    return Event(type="record.created", object="contact", id=record, at=START, properties=properties)


DRIP = """workflow "Drip" {
  object contact
  enroll manually
  steps {
    delay 1 day
    send email "Hello"
  }
}
"""


def test_an_action_performed_before_is_not_performed_again(pg_url: str) -> None:
    """c1's email is already in the idempotency log (its state was lost): the batch that
    performs it again fails at commit on the key, the unit runs again looking each key up,
    and c1's email counts a replay instead of a second outbox row."""
    _seed(pg_url, DRIP, {f"contact:c{n}": {"email": f"c{n}@example.com"} for n in range(5)})
    store, crm = PostgresStore(pg_url), PostgresCRM(pg_url)
    try:
        (first,) = [e for e in store.enrollments() if e.record == "c1"]
        key = idempotency_key(first, "steps.1", store.store_id())
        action = Action(
            kind="send_email", object="contact", id="c1", at=START, args={"email": "Hello", "_enrollment": first.id}
        )
        crm.perform(action, key)  # outside a worker's batch: looked up, then performed
    finally:
        crm.close()
        store.close()
    service = _work(pg_url, DRIP)
    assert service.counts.fired == 5
    store, crm = PostgresStore(pg_url), PostgresCRM(pg_url)
    try:
        assert sorted(row["id"] for row in crm.outbox()) == [f"c{n}" for n in range(5)]
        replays = {row["id"]: row["replays"] for row in crm.performed()}
        assert replays == {"c0": 0, "c1": 1, "c2": 0, "c3": 0, "c4": 0}
        assert store.count_enrollments(status="completed") == 5
    finally:
        crm.close()
        store.close()


def _enrollment(eid: str, record: str) -> Enrollment:
    return Enrollment(id=eid, workflow="W", object="contact", record=record, status="active", enrolled_at=START, seq=1)


def test_concurrent_claims_take_disjoint_timers(pg_url: str) -> None:
    """While worker A holds its batch, worker B's claim takes the next timers (not none
    because A's are first in due order), and no timer is in both batches."""
    store = PostgresStore(pg_url)
    try:
        with store.transaction():
            for n in range(30):
                store.put_enrollment(_enrollment(f"e{n}", f"c{n}"))
                store.set_timer(Timer(key=f"e{n}", due=START, seq=n, kind="resume", workflow="W", enrollment=f"e{n}"))
        a_claimed, release = threading.Event(), threading.Event()
        seen: dict[str, list[str]] = {}

        def worker_a() -> None:
            with store.transaction():
                seen["a"] = [t.key for t in store.claim_timers(START, 10)]
                a_claimed.set()
                release.wait(10)

        thread = threading.Thread(target=worker_a)
        thread.start()
        assert a_claimed.wait(10)
        with store.transaction():
            seen["b"] = [t.key for t in store.claim_timers(START, 10)]
        release.set()
        thread.join(10)
        assert seen["a"] == [f"e{n}" for n in range(10)]
        assert seen["b"] == [f"e{n}" for n in range(10, 20)]
    finally:
        store.close()


def test_a_record_held_by_a_batch_is_changed_by_others_only_after_its_commit(pg_url: str) -> None:
    """Worker A's batch holds company co1 (claimed with its own timer) and raises its score;
    worker B raises co1's score through an action of contact c1 meanwhile. B waits for A's
    commit and adds to A's value: no update is lost."""
    store, crm = PostgresStore(pg_url), PostgresCRM(pg_url)
    try:
        crm.add_record("company", "co1", {"score": 1}, at=START)
        crm.add_record("contact", "c1", {}, at=START)
        crm.associate(("contact", "c1"), ("company", "co1"))
        with store.transaction():
            store.put_enrollment(attrs.evolve(_enrollment("e1", "co1"), object="company"))
            store.set_timer(Timer(key="e1", due=START, seq=1, kind="resume", workflow="W", enrollment="e1"))
        a_claimed, release = threading.Event(), threading.Event()
        stamps: dict[str, float] = {}

        def increment(object_type: str, record_id: str, by: int, key: str, target: str | None = None) -> None:
            args: dict[str, object] = {"property": "score", "by": by}
            if target is not None:
                args["object"] = target
            crm.perform(Action(kind="increment", object=object_type, id=record_id, at=START, args=args), key)

        def worker_a() -> None:
            with store.transaction():
                assert [t.key for t in store.claim_timers(START, 10)] == ["e1"]
                increment("company", "co1", 10, "a")
                a_claimed.set()
                release.wait(10)
                stamps["a_commit"] = time.monotonic()

        thread = threading.Thread(target=worker_a)
        thread.start()
        assert a_claimed.wait(10)
        threading.Timer(0.3, release.set).start()
        with store.transaction():
            increment("contact", "c1", 5, "b", target="company")
            stamps["b_done"] = time.monotonic()
        thread.join(10)
        assert stamps["b_done"] >= stamps["a_commit"]
        record = crm.get("company", "co1")
        assert record is not None and record.properties["score"] == 16
        assert [json.dumps(v) for _, v in crm.property_history("company", "co1", "score")] == ["1", "11", "16"]
    finally:
        crm.close()
        store.close()


# ---------------------------------------------------------------- run --events on PostgreSQL

FORMS = """workflow "Forms" {
  object contact
  enroll on form.submitted
  steps {
    send email "Thanks"
  }
}
"""


def _events(*lines: dict[str, object]) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


def test_run_refuses_an_event_postgresql_cannot_hold_as_a_bad_line(pg_url: str, tmp_path: Path) -> None:
    """A NUL character in an event of `run --events`: that line is refused like any bad
    line (warning with FILE:LINE and the JSON path, a dead letter), the others are run."""
    (tmp_path / "forms.wf").write_text(FORMS, encoding="utf-8")
    created = {"type": "record.created", "object": "contact", "id": "c2", "properties": {"email": "b@example.com"}}
    form = {"type": "form.submitted", "object": "contact", "id": "c2", "data": {"form": "ok"}}
    (tmp_path / "events.jsonl").write_text(
        _events(
            {"at": "2026-11-23T10:00:00Z", **form, "id": "c1", "data": {"form": "a\x00b"}},
            {"at": "2026-11-23T10:00:01Z", **created},
            {"at": "2026-11-23T10:00:02Z", **form},
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "wfdsl", "run", "forms.wf", "--store", pg_url, "--crm", pg_url]
        + ["--events", "events.jsonl", "--clock", "virtual", "--until-idle", "--status-every", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "events.jsonl:1: data.form: a NUL character (\\u0000) cannot be stored in PostgreSQL" in result.stderr
    assert "(line skipped)" in result.stderr and "Traceback" not in result.stderr
    store, crm = PostgresStore(pg_url), PostgresCRM(pg_url)
    try:
        (letter,) = store.dead_letters()
        assert (letter.kind, letter.line) == ("event", 1)
        assert [row["id"] for row in crm.outbox()] == ["c2"]
        # A virtual run keeps its clock (the latest of the workers') for the next start.
        assert store.get_meta("clock") == store.get_meta("last_event") == "2026-11-23T10:00:02+00:00"
    finally:
        crm.close()
        store.close()


def test_the_saved_clock_only_moves_forward(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        for when in (START, START + dt.timedelta(hours=1), START):
            with store.transaction():
                store.keep_latest("clock", when)
        assert store.get_meta("clock") == (START + dt.timedelta(hours=1)).isoformat()
    finally:
        store.close()


# ---------------------------------------------------------------- deploying while workers run


def test_a_deploy_waits_for_the_batches_in_flight_and_claims_wait_for_it(pg_url: str) -> None:
    """A deploy holds the deploy lock exclusively; a claim takes it shared: a batch claimed
    before the deploy commits first, and a claim during the deploy waits for its commit."""
    store = PostgresStore(pg_url)
    try:
        with store.transaction():
            store.put_enrollment(_enrollment("e1", "c1"))
            store.set_timer(Timer(key="e1", due=START, seq=1, kind="resume", workflow="W", enrollment="e1"))
        deploying, release = threading.Event(), threading.Event()
        stamps: dict[str, float] = {}

        def deployer() -> None:
            with store.transaction():
                store.exclusive()
                deploying.set()
                release.wait(10)
                stamps["deployed"] = time.monotonic()

        thread = threading.Thread(target=deployer)
        thread.start()
        assert deploying.wait(10)
        threading.Timer(0.3, release.set).start()
        with store.transaction():
            claimed = [t.key for t in store.claim_timers(START, 10)]
            stamps["claimed"] = time.monotonic()
        thread.join(10)
        assert claimed == ["e1"] and stamps["claimed"] >= stamps["deployed"]
    finally:
        store.close()


def test_a_worker_stops_when_another_deployed_other_plans(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        store.set_meta("plans", "version 1")
        store.expect_plans("version 1")
        with store.transaction():
            assert store.claim_timers(START, 10) == []
        store.set_meta("plans", "version 2")  # another worker deployed
        with pytest.raises(PlansChangedError, match="another worker deployed other workflows"):
            with store.transaction():
                store.claim_timers(START, 10)
        with pytest.raises(PlansChangedError):
            with store.transaction():
                store.claim_events(10)
    finally:
        store.close()
