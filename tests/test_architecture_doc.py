"""docs/architecture.md names real files and real functions, so it cannot drift from the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXT = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
SRC = ROOT / "src" / "wfdsl"


def _named_files() -> list[str]:
    return sorted(set(re.findall(r"`([\w/]+\.py)`", TEXT)))


@pytest.mark.parametrize("name", _named_files())
def test_every_named_file_exists(name: str) -> None:
    assert any(p.exists() for p in (SRC / name, ROOT / name)), name


@pytest.mark.parametrize(
    "dotted",
    sorted(set(re.findall(r"`((?:project|check|compile|syntax|schema)\.(?!py`)\w+)`", TEXT)) | {"runtime.protocols"}),
)
def test_every_named_function_exists(dotted: str) -> None:
    module, _, attr = dotted.rpartition(".")
    try:
        importlib.import_module(f"wfdsl.{dotted}")
    except ImportError:
        assert hasattr(importlib.import_module(f"wfdsl.{module}"), attr), dotted
