"""A PostgreSQL server for the tests: the one at WFDSL_TEST_POSTGRES when it answers,
otherwise a throwaway one started here from the system's initdb/pg_ctl (or the
`pgserver` package). Databases are named `wfdsl_<session hex>_<n>` and dropped
after use. Never skips: no server and no way to start one is a failure."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

SESSION = uuid.uuid4().hex[:10]
_counter = 0


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _configured() -> str:
    """The admin URL of WFDSL_TEST_POSTGRES: `host:port`, or a full postgresql:// URL."""
    value = os.environ.get("WFDSL_TEST_POSTGRES", "127.0.0.1:5432")
    if "://" in value:
        return value
    host, _, port = value.partition(":")
    return f"postgresql://postgres@{host}:{port or '5432'}/postgres"


def _binaries() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_throwaway() -> str:
    """initdb + pg_ctl start in a temp dir (trust auth, a free port); stopped at exit."""
    bindir = _binaries()
    if bindir is None:
        try:
            import pgserver  # type: ignore[import-not-found]
        except ImportError:
            raise RuntimeError(
                "no PostgreSQL answers at WFDSL_TEST_POSTGRES and none can be started: install the server "
                "(initdb/pg_ctl on PATH) or `pip install pgserver`"
            ) from None
        server = pgserver.get_server(tempfile.mkdtemp(prefix="wfdsl-pg-"), cleanup_mode="stop")
        return str(server.get_uri())
    data = Path(tempfile.mkdtemp(prefix="wfdsl-pg-"))
    user = "postgres"
    env = dict(os.environ)
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: use an unprivileged account
        run_as = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else []
        shutil.chown(data, "postgres")
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data / "db"), "-U", user, "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        env=env,
    )
    port = _free_port()
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data / "db"),
            "-l",
            str(data / "log"),
            "-w",
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
        env=env,
    )

    def stop() -> None:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(data, ignore_errors=True)

    atexit.register(stop)
    return f"postgresql://{user}@127.0.0.1:{port}/postgres"


_admin: str | None = None


def admin_url() -> str:
    """The admin URL of the server the tests use (found or started once per session)."""
    global _admin
    if _admin is None:
        configured = _configured()
        _admin = configured if _answers(configured) else _start_throwaway()
    return _admin


def _with_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def create_database() -> str:
    """A new empty database; its URL."""
    global _counter
    _counter += 1
    name = f"wfdsl_{SESSION}_{_counter}"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _with_db(admin_url(), name)


def drop_database(url: str) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database() -> Iterator[str]:
    """A fixture body: a fresh database for one test, dropped after it."""
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


def reset(url: str) -> None:
    """Empty a database of the tests: every table, sequence and function gone."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
