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


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (tests/pg_server.py), dropped after it."""
    import pg_server

    yield from pg_server.database()
