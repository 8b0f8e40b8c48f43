from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CASES = ROOT / "tests" / "cases"


@pytest.fixture
def root() -> Path:
    return ROOT
