from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CASES = ROOT / "tests" / "cases"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    """One PostgreSQL database for the session (tests/pg_server.py), dropped at its end."""
    import pg_server

    yield from pg_server.database()


@pytest.fixture
def pg_url(pg_session_url: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    import pg_server

    pg_server.reset(pg_session_url)
    return pg_session_url
