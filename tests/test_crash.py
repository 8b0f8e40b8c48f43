"""Crash test: `wfdsl run` killed with SIGKILL at random moments and restarted loses nothing
committed, performs no action twice, and ends in the state of an uninterrupted run."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.stores.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
UNTIL = "2028-03-01T00:00:00Z"
ROUNDS = 10  # copies of the examples' events, four weeks apart


def _events(path: Path) -> None:
    lines = (EXAMPLES / "events.jsonl").read_text(encoding="utf-8").splitlines()
    out = []
    for copy in range(ROUNDS):
        shift = dt.timedelta(days=28 * copy)
        for line in lines:
            data = json.loads(line)
            at = dt.datetime.fromisoformat(data["at"].replace("Z", "+00:00")) + shift
            data["at"] = at.isoformat()
            out.append(json.dumps(data))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("crash-inputs")
    plan = base / "plan.json"
    subprocess.run(
        [sys.executable, "-m", "wfdsl", "compile", str(EXAMPLES), "-o", str(plan)], check=True, capture_output=True
    )
    events = base / "events.jsonl"
    _events(events)
    return {"plan": plan, "events": events, "records": EXAMPLES / "records.json"}


def _command(inputs: dict[str, Path], where: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "wfdsl",
        "run",
        str(inputs["plan"]),
        "--store",
        f"sqlite:///{where / 'state.db'}",
        "--crm",
        f"sqlite:///{where / 'crm.db'}",
        "--records",
        str(inputs["records"]),
        "--events",
        str(inputs["events"]),
        "--clock",
        "virtual",
        "--until-idle",
        "--until",
        UNTIL,
        "--batch",
        "3",
        "--status-every",
        "0",
    ]


def _run(inputs: dict[str, Path], where: Path) -> None:
    done = subprocess.run(_command(inputs, where), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _without_store_id(key: str, store_id: str) -> str:
    prefix, sep, rest = key.partition("/")
    assert sep and prefix == store_id, key
    return rest


def final_state(where: Path) -> dict[str, Any]:
    """Everything the run leaves behind, as comparable plain data."""
    store = SQLiteStore(where / "state.db")
    crm = SQLiteCRM(where / "crm.db")
    try:
        workflows = store.workflows()
        return {
            "history": [e.to_json() for e in store.history()],
            "stats": {name: dict(store.stats(name)) for name in workflows},
            "enrollments": [repr(e) for e in store.enrollments()],
            "timers": [repr(t) for t in store.timers()],
            "records": [repr(r) for r in crm.records()],
            "outbox": crm.outbox(),
            # Keys begin with the store's own id, which differs from run to run.
            "performed": [
                (_without_store_id(p["key"], store.store_id()), p["kind"], p["object"], p["id"], p["replays"])
                for p in crm.performed()
            ],
            "property_history": [
                (r.object, r.id, prop, crm.property_history(r.object, r.id, prop))
                for r in crm.records()
                for prop in sorted(r.properties)
            ],
        }
    finally:
        store.close()
        crm.close()


def _committed(where: Path) -> tuple[list[Any], set[str]]:
    if not (where / "state.db").exists():
        return [], set()
    store = SQLiteStore(where / "state.db")
    try:
        return [e.to_json() for e in store.history()], {e.id for e in store.enrollments()}
    finally:
        store.close()


def crash_and_compare(inputs: dict[str, Path], tmp_path: Path, kills: int, seed: int) -> int:
    """Kill runs until `kills` kills have landed (a fresh directory whenever a run gets
    to the end first); after each, compare with an uninterrupted run."""
    reference = tmp_path / "reference"
    reference.mkdir()
    _run(inputs, reference)
    expected = final_state(reference)
    assert len(expected["history"]) > 1000 and expected["performed"]
    rng = random.Random(seed)
    killed = 0
    scenario = 0
    while killed < kills:
        scenario += 1
        crashed = tmp_path / f"crashed-{scenario}"
        crashed.mkdir()
        history: list[Any] = []
        enrollments: set[str] = set()
        while killed < kills:
            process = subprocess.Popen(_command(inputs, crashed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.1, 0.9))
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                killed += 1
            process.wait()
            now_history, now_enrollments = _committed(crashed)
            # nothing committed is lost: what was there before the kill is still there
            assert now_history[: len(history)] == history
            assert enrollments <= now_enrollments
            history, enrollments = now_history, now_enrollments
            if process.returncode == 0:
                break
        _run(inputs, crashed)  # the last restart runs to the end
        actual = final_state(crashed)
        assert actual["history"][: len(history)] == history
        for key in expected:
            assert actual[key] == expected[key], (scenario, key)
        # the idempotency log holds each key once (performed once), and no call was ever
        # repeated: a crash never made the engine call `perform` again for a done action
        keys = [p[0] for p in actual["performed"]]
        assert len(keys) == len(set(keys))
        assert all(p[4] == 0 for p in actual["performed"])
    return killed


def test_killed_and_restarted_run_ends_as_an_uninterrupted_one(inputs: dict[str, Path], tmp_path: Path) -> None:
    killed = crash_and_compare(inputs, tmp_path, kills=10, seed=5)
    assert killed == 10


@pytest.mark.slow
def test_crash_soak(inputs: dict[str, Path], tmp_path: Path) -> None:
    count = int(os.environ.get("WFDSL_SOAK_KILLS", "200"))
    seed = int(os.environ.get("WFDSL_SOAK_SEED", time.time()))
    killed = crash_and_compare(inputs, tmp_path, kills=count, seed=seed)
    print(f"soak: {killed} kills, seed {seed}, all runs equal to the uninterrupted one")


class Crash(BaseException):
    """The process dies here."""


class CrashingCRM(SQLiteCRM):
    """Dies at its `at`-th unit commit: after the store committed, before the CRM did."""

    def __init__(self, path: Path, at: int) -> None:
        super().__init__(path)
        self.calls = 0
        self.at = at

    def end_unit(self, token: int) -> None:
        self.calls += 1
        if self.calls == self.at:
            self._conn.close()  # the CRM's transaction never commits
            raise Crash
        super().end_unit(token)


SHORT_UNTIL = "2027-01-20T00:00:00Z"


def _service_run(where: Path, crm: SQLiteCRM, inputs: dict[str, Path]) -> int:
    """One in-process run of the examples' own events; the number of journals replayed."""
    from wfdsl.host.service import Options, Service
    from wfdsl.plan.model import plans_from_json

    plans = plans_from_json(inputs["plan"].read_text(encoding="utf-8"))
    store = SQLiteStore(where / "state.db")
    records = json.loads(inputs["records"].read_text(encoding="utf-8"))
    until = dt.datetime.fromisoformat(SHORT_UNTIL.replace("Z", "+00:00"))
    source = EXAMPLES / "events.jsonl"
    service = Service(
        plans, crm, store, records=records, options=Options(clock="virtual", until_idle=True, until=until, batch=3)
    )
    try:
        replayed = service.recover()
        with source.open("rb") as events:
            service.run(events, str(source))
    finally:
        store.close()
        crm.close()
    return replayed


@pytest.fixture(scope="module")
def short_reference(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    where = tmp_path_factory.mktemp("journal-reference")
    assert _service_run(where, SQLiteCRM(where / "crm.db"), inputs) == 0
    return final_state(where)


@pytest.mark.parametrize("at", [1, 2, 7, 40])
def test_a_crash_between_the_two_commits_is_repaired_from_the_journal(
    inputs: dict[str, Path], short_reference: dict[str, Any], tmp_path: Path, at: int
) -> None:
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    with pytest.raises(Crash):
        _service_run(crashed, CrashingCRM(crashed / "crm.db", at), inputs)
    assert _service_run(crashed, SQLiteCRM(crashed / "crm.db"), inputs) == 1
    assert final_state(crashed) == short_reference


# ---------------------------------------------------------------- two stores, a symlink, rotation


def _split_events(source: Path, base: Path, rounds: int) -> dict[str, Path]:
    """The events of the first `rounds` rounds in three parts: the first file, the file
    that replaces it (rotation), and the second store's file."""
    lines = source.read_text(encoding="utf-8").splitlines()
    lines = lines[: len(lines) * rounds // ROUNDS]
    third = len(lines) // 3
    parts = {"first": lines[:third], "rotated": lines[third : 2 * third], "other": lines[2 * third :]}
    out = {}
    for name, part in parts.items():
        path = base / f"part-{name}.jsonl"
        path.write_text("\n".join(part) + "\n", encoding="utf-8")
        out[name] = path
    return out


def _store_command(inputs: dict[str, Path], store: Path, crm: Path, events: Path) -> list[str]:
    command = _command(inputs, store.parent)
    command[command.index("--store") + 1] = f"sqlite:///{store}"
    command[command.index("--crm") + 1] = f"sqlite:///{crm}"
    command[command.index("--events") + 1] = str(events)
    return command


def _until_done(command: list[str], rng: random.Random, kills: int) -> int:
    """Run `command` to its end, killing it up to `kills` times on the way; the kills landed."""
    landed = 0
    while landed < kills:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.1, 0.9))
        if process.poll() is not None:
            process.wait()
            assert process.returncode == 0, process.stderr.read() if process.stderr else ""
            return landed
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        landed += 1
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return landed


def _rotate(events: Path, replacement: Path) -> None:
    """logrotate's `create` mode: the file is renamed away and a new one is at its path."""
    events.rename(events.with_name(events.name + ".1"))
    events.write_bytes(replacement.read_bytes())


def _two_store_state(where: Path) -> dict[str, Any]:
    stores = {name: SQLiteStore(where / f"{name}.db") for name in ("a", "b")}
    crm = SQLiteCRM(where / "crm.db")
    try:
        ids = {store.store_id(): name for name, store in stores.items()}
        assert len(ids) == 2 and "" not in ids
        state: dict[str, Any] = {}
        for name, store in stores.items():
            state[f"{name}.history"] = [e.to_json() for e in store.history()]
            state[f"{name}.enrollments"] = [repr(e) for e in store.enrollments()]
            state[f"{name}.dead_letters"] = store.count_dead_letters()
        performed = []
        for p in crm.performed():
            prefix, _, rest = p["key"].partition("/")
            performed.append((ids[prefix], rest, p["kind"], p["object"], p["id"], p["replays"]))
        state["performed"] = performed
        state["outbox"] = crm.outbox()
        state["records"] = [repr(r) for r in crm.records()]
        return state
    finally:
        for store in stores.values():
            store.close()
        crm.close()


def two_stores_rotated(inputs: dict[str, Path], tmp_path: Path, kills: int, seed: int, rounds: int) -> int:
    """Store A (reached through a symlink) reads an events file that is rotated half-way;
    store B then works on the same CRM. Killed `kills` times in each of the three runs,
    the end state equals that of the runs never killed."""
    parts = _split_events(inputs["events"], tmp_path, rounds)
    rng = random.Random(seed)
    landed = 0
    states = []
    for name, kill in (("reference", 0), ("crashed", kills)):
        where = tmp_path / name
        where.mkdir()
        store_a = where / "a.db"
        if kill:
            (where / "alias.db").symlink_to(store_a)
            store_a_url = where / "alias.db"
        else:
            store_a_url = store_a
        events = where / "events.jsonl"
        events.write_bytes(parts["first"].read_bytes())
        landed += _until_done(_store_command(inputs, store_a_url, where / "crm.db", events), rng, kill)
        _rotate(events, parts["rotated"])
        landed += _until_done(_store_command(inputs, store_a_url, where / "crm.db", events), rng, kill)
        landed += _until_done(_store_command(inputs, where / "b.db", where / "crm.db", parts["other"]), rng, kill)
        states.append(_two_store_state(where))
    reference, crashed = states
    assert reference["a.history"] and reference["b.history"]
    # Both stores' actions were performed, each once: their keys begin with their ids.
    assert {p[0] for p in reference["performed"]} == {"a", "b"}
    assert any(p[1].startswith("e1:") for p in reference["performed"] if p[0] == "b")
    for key in reference:
        assert crashed[key] == reference[key], key
    keys = [(p[0], p[1]) for p in crashed["performed"]]
    assert len(keys) == len(set(keys))
    assert all(p[5] == 0 for p in crashed["performed"])
    return landed


def test_two_stores_one_crm_a_symlinked_store_and_a_rotated_file_survive_kills(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    assert two_stores_rotated(inputs, tmp_path, kills=1, seed=11, rounds=3) > 0


@pytest.mark.slow
def test_two_stores_rotation_soak(inputs: dict[str, Path], tmp_path: Path) -> None:
    count = int(os.environ.get("WFDSL_SOAK_KILLS", "60"))
    seed = int(os.environ.get("WFDSL_SOAK_SEED", time.time()))
    landed = two_stores_rotated(inputs, tmp_path, kills=max(1, count // 3), seed=seed, rounds=ROUNDS)
    print(f"two-store soak: {landed} kills, seed {seed}, all runs equal to the uninterrupted ones")
