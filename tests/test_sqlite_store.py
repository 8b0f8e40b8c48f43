"""SQLite store specifics: URLs, schema versions, file kinds, durability settings, registry."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import attrs
import pytest

from wfdsl.adapters.memory import MemoryCRM
from wfdsl.adapters.sqlite import SQLiteCRM
from wfdsl.host.registry import ConfigError, Registry, open_adapter, open_store, split_url
from wfdsl.runtime.protocols import Enrollment, Timer
from wfdsl.stores.codec import dumps
from wfdsl.stores.memory import MemoryStore
from wfdsl.stores.sqlite import (
    ENROLLMENT_LAYOUT,
    SCHEMA_VERSION,
    SchemaVersionError,
    SQLiteStore,
    StoreError,
    sqlite_options,
)


def test_url_paths(tmp_path: Path) -> None:
    assert sqlite_options("sqlite:///state.db") == ("state.db", {})
    assert sqlite_options("sqlite:////abs/x.db") == ("/abs/x.db", {})
    assert sqlite_options("sqlite:///a.db?synchronous=normal")[1] == {"synchronous": "normal"}
    with pytest.raises(StoreError, match="names no file"):
        sqlite_options("sqlite://")
    with pytest.raises(StoreError, match="unknown option 'mode'"):
        sqlite_options("sqlite:///a.db?mode=ro")
    with pytest.raises(StoreError, match="synchronous=sometimes"):
        sqlite_options("sqlite:///a.db?synchronous=sometimes")


def test_wal_and_synchronous_full_by_default(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    normal = SQLiteStore.from_url(f"sqlite:///{tmp_path}/n.db?synchronous=normal")
    assert normal._conn.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="newer than this wfdsl understands"):
        SQLiteStore(path)


def test_a_crm_file_is_not_a_store_and_back(tmp_path: Path) -> None:
    SQLiteCRM(tmp_path / "crm.db").close()
    with pytest.raises(StoreError, match="is not a wfdsl state store file"):
        SQLiteStore(tmp_path / "crm.db")
    SQLiteStore(tmp_path / "state.db").close()
    with pytest.raises(StoreError, match="is not a wfdsl CRM file"):
        SQLiteCRM(tmp_path / "state.db")


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        SQLiteStore(path)


# ---------------------------------------------------------------- registry


def test_registry_opens_by_url(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_adapter("memory://"), MemoryCRM)
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    assert isinstance(store, SQLiteStore) and store.path == f"{tmp_path}/s.db"
    crm = open_adapter(f"sqlite:///{tmp_path}/c.db")
    assert isinstance(crm, SQLiteCRM)


def test_registry_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///rel.db")
    assert isinstance(store, SQLiteStore)
    assert (tmp_path / "rel.db").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("state.db", "not a URL: 'state.db' (expected NAME://LOCATION"),
        ("mysql://db/x", "unknown store 'mysql' in 'mysql://db/x' (known: memory, postgres, postgresql, sqlite)"),
        ("memory://somewhere", "the memory store takes no location: use memory://"),
        ("sqlite://", "cannot open store 'sqlite://': 'sqlite://' names no file"),
        ("sqlite:////no/such/dir/x.db", "directory '/no/such/dir' does not exist"),
    ],
)
def test_registry_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    assert message in str(caught.value)


def test_registry_names_adapters() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown adapter 'salesforce' .*known: hubspot, memory, .*postgresql, sqlite"
    ):
        open_adapter("salesforce://x")


def test_registry_register_explicitly() -> None:
    registry = Registry("wfdsl.stores", "store")
    registry.register("mine", MemoryStore)
    assert "mine" in registry.names()
    assert isinstance(registry.open("mine://"), MemoryStore)
    assert split_url("Mine://x") == ("mine", "x")


def test_an_older_file_is_migrated_forward_keeping_its_data(tmp_path: Path) -> None:
    from wfdsl.stores.sqlite import MIGRATIONS

    path = tmp_path / "s.db"
    old = SQLiteStore(path)
    old.add_stat("W", "enrolled", 2)
    old.close()

    class NextVersion(SQLiteStore):
        migrations = (*MIGRATIONS, "ALTER TABLE stats ADD COLUMN note TEXT; CREATE INDEX stats_note ON stats (note)")

    new = NextVersion(path)
    assert new._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert new.stats("W")["enrolled"] == 2
    assert new._conn.execute("SELECT note FROM stats").fetchall() == [(None,)]
    new.close()
    with pytest.raises(SchemaVersionError, match=f"schema version {SCHEMA_VERSION + 1}"):
        SQLiteStore(path)  # and this wfdsl cannot go back to it


def test_a_failed_migration_changes_nothing(tmp_path: Path) -> None:
    from wfdsl.stores.sqlite import MIGRATIONS

    path = tmp_path / "s.db"
    SQLiteStore(path).close()

    class Broken(SQLiteStore):
        migrations = (*MIGRATIONS, "ALTER TABLE stats ADD COLUMN x TEXT; SELECT a FROM nowhere")

    with pytest.raises(
        StoreError,
        match=f"cannot migrate the state store schema from version {SCHEMA_VERSION} to {SCHEMA_VERSION + 1}: "
        "no such table: nowhere",
    ):
        Broken(path)
    again = SQLiteStore(path)
    assert again._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "x" not in [r[1] for r in again._conn.execute("PRAGMA table_info(stats)")]


def test_processes_opening_a_new_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    """`wfdsl run` and `wfdsl ingest` (or `serve`) started together on a new file: the one
    that waits for the write lock finds the schema already there."""
    import threading

    def open_together(path: Path) -> list[BaseException]:
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def open_it() -> None:
            barrier.wait()
            try:
                SQLiteStore(path).close()
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return errors

    for attempt in range(5):
        assert open_together(tmp_path / f"s{attempt}.db") == []


# ---------------------------------------------------------------- rows and statements


def _enrollment(eid: str = "e1", **kw: object) -> Enrollment:
    fields: dict[str, object] = {
        "id": eid,
        "workflow": "W",
        "object": "contact",
        "record": "c1",
        "status": "active",
        "enrolled_at": dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc),
        "seq": 1,
    }
    fields.update(kw)
    return Enrollment(**fields)  # type: ignore[arg-type]


def test_the_row_layout_names_every_enrollment_field_once() -> None:
    # A new field is appended to the layout; one missing from it would not be stored.
    assert sorted(ENROLLMENT_LAYOUT) == sorted(f.name for f in attrs.fields(Enrollment))
    assert len(set(ENROLLMENT_LAYOUT)) == len(ENROLLMENT_LAYOUT)


def test_enrollment_rows_are_positional_and_keyed_rows_still_read(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    new = _enrollment("e1", waiting_for={"type": "form.submitted"}, ended_at=None)
    store.put_enrollment(new)
    (data,) = store._conn.execute("SELECT data FROM enrollments WHERE id = 'e1'").fetchone()
    assert data.startswith('["e1","W","contact","c1","active"')
    # A row written by schema versions 1-3: an object keyed by field name.
    old = _enrollment("e2", step="steps.1", emailed=True)
    store._conn.execute(
        "INSERT INTO enrollments (id, workflow, object, record, status, data) VALUES (?, ?, ?, ?, ?, ?)",
        ("e2", "W", "contact", "c1", "active", dumps(attrs.asdict(old, recurse=False))),
    )
    # A shorter positional row (written before later fields existed) takes their defaults.
    short = '["e3","W","contact","c1","active",{"$dt":"2026-01-01T09:00:00+00:00"},3]'
    store._conn.execute(
        "INSERT INTO enrollments (id, workflow, object, record, status, data) VALUES (?, ?, ?, ?, ?, ?)",
        ("e3", "W", "contact", "c1", "active", short),
    )
    store.close()
    again = SQLiteStore(tmp_path / "s.db")
    assert again.enrollment("e1") == new
    assert again.enrollment("e2") == old
    assert again.enrollment("e3") == _enrollment("e3", seq=3)


def test_counters_and_stats_kept_in_memory_roll_back_with_their_block(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with store.transaction():
        assert store.next_seq("history") == 1
        store.add_stat("W", "enrolled", 1)
        try:
            with store.transaction():
                assert store.next_seq("history") == 2
                store.add_stat("W", "enrolled", 10)
                assert store.stats("W")["enrolled"] == 11  # seen inside the block
                raise ValueError("inner")
        except ValueError:
            pass
        assert store.next_seq("history") == 2
    with pytest.raises(RuntimeError), store.transaction():
        assert store.next_seq("history") == 3
        store.add_stat("W", "enrolled", 5)
        raise RuntimeError("outer")
    store.close()
    again = SQLiteStore(tmp_path / "s.db")
    assert again.stats("W")["enrolled"] == 1
    assert again.next_seq("history") == 3


def test_a_nested_block_that_writes_nothing_costs_no_statement(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    with store.transaction():
        with store.transaction():
            store.enrollment("e1")
        with store.transaction():
            store.put_enrollment(_enrollment("e1"))
            store.put_enrollment(_enrollment("e1"))  # the row holds this already
        assert store.enrollment("e1") == _enrollment("e1")  # known: no read
        store.set_timer(Timer(key="e1", due=_enrollment().enrolled_at, seq=1, kind="resume", workflow="W"))
        assert store.pop_due(_enrollment().enrolled_at) is not None
        store.cancel_timer("e1")  # popped in this transaction: nothing to delete
    kinds = [s.split()[0] for s in statements]
    # The enrollment row is kept until commit, so its block needs no SAVEPOINT either.
    assert kinds == ["BEGIN", "SELECT", "INSERT", "DELETE", "INSERT", "COMMIT"]
    assert store.enrollment("e1") == _enrollment("e1")


def test_an_enrollment_put_twice_in_a_transaction_is_written_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    with store.transaction():
        store.put_enrollment(_enrollment("e1"))
        store.put_enrollment(attrs.evolve(_enrollment("e1"), status="completed"))
        assert store.enrollment("e1") == attrs.evolve(_enrollment("e1"), status="completed")
    assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "COMMIT"]
    assert store.enrollments(status="completed") == [attrs.evolve(_enrollment("e1"), status="completed")]


def test_enrollments_kept_until_commit_roll_back_with_their_own_block_only(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    done = attrs.evolve(_enrollment("e1"), status="completed")
    with store.transaction():
        store.put_enrollment(_enrollment("e1"))
        with pytest.raises(ValueError), store.transaction():
            store.put_enrollment(done)
            store.put_enrollment(_enrollment("e2"))
            assert [e.id for e in store.enrollments()] == ["e1", "e2"]  # read inside the block
            raise ValueError("inner")
        assert store.enrollment("e1") == _enrollment("e1")
        assert store.enrollment("e2") is None
        with store.transaction():
            store.put_enrollment(done)
    with pytest.raises(RuntimeError), store.transaction():
        store.put_enrollment(_enrollment("e3"))
        raise RuntimeError("outer")
    store.close()
    again = SQLiteStore(tmp_path / "s.db")
    assert again.enrollments() == [done]
    again.close()


def test_history_kept_until_commit_rolls_back_with_its_own_block_only(tmp_path: Path) -> None:
    from wfdsl.runtime.protocols import HistoryEntry

    def entry(seq: int) -> HistoryEntry:
        at = _enrollment().enrolled_at
        return HistoryEntry(
            seq=seq, at=at, workflow="W", object="contact", id="c1", kind="action", step=None, detail={}
        )

    store = SQLiteStore(tmp_path / "s.db")
    with store.transaction():
        store.append_history(entry(1))
        try:
            with store.transaction():
                store.append_history(entry(2))
                assert [h.seq for h in store.history()] == [1, 2]  # read inside: written first
                store.append_history(entry(3))
                raise ValueError("inner")
        except ValueError:
            pass
        store.append_history(entry(4))
        with store.transaction():
            store.append_history(entry(5))
        assert store.count_history() == 3
    with pytest.raises(RuntimeError), store.transaction():
        store.append_history(entry(6))
        raise RuntimeError("outer")
    store.append_history(entry(7))  # outside a block: on its own
    store.close()
    assert [h.seq for h in SQLiteStore(tmp_path / "s.db").history()] == [1, 4, 5, 7]


def test_timers_read_ahead_in_a_group_commit_pop_in_due_order(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    t0 = _enrollment().enrolled_at

    def timer(key: str, minutes: int) -> Timer:
        return Timer(key=key, due=t0 + dt.timedelta(minutes=minutes), seq=minutes, kind="resume", workflow="W")

    for i in range(10):
        store.set_timer(timer(f"t{i}", i))
    now = t0 + dt.timedelta(hours=1)
    popped: list[str] = []
    with store.transaction():
        for _ in range(3):
            popped.append(store.pop_due(now).key)  # type: ignore[union-attr]
        store.cancel_timer("t3")  # read ahead: not popped later
        store.set_timer(timer("t0", 0))  # popped, set again: before every other
        store.set_timer(timer("late", 600))  # not due
        with pytest.raises(ValueError), store.transaction():
            assert store.pop_due(now).key == "t0"  # type: ignore[union-attr]
            assert store.pop_due(now).key == "t4"  # type: ignore[union-attr]
            raise ValueError("inner")
        assert store.timer("t4") is not None  # the block's pops rolled back
        while (t := store.pop_due(now)) is not None:
            popped.append(t.key)
        assert store.count_timers() == 1
    assert popped == ["t0", "t1", "t2", "t0", "t4", "t5", "t6", "t7", "t8", "t9"]
    assert [t.key for t in store.timers()] == ["late"]
    with pytest.raises(RuntimeError), store.transaction():
        store.set_timer(timer("a", 1))
        store.set_timer(timer("b", 2))
        assert store.pop_due(now).key == "a"  # type: ignore[union-attr]
        assert store.pop_due(now).key == "b"  # type: ignore[union-attr]
        raise RuntimeError("outer")
    assert [t.key for t in store.timers()] == ["late"]
    store.close()
