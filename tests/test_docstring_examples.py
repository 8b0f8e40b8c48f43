"""The docstring examples of the modules cut out of larger ones run and pass: the
stores' shared codec and SQLite plumbing, the SQL CRMs' records, the HubSpot
adapter and bridge, criteria, and the editor analysis."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "wfdsl.stores.codec",
    "wfdsl.stores.errors",
    "wfdsl.stores.sqlitedb",
    "wfdsl.adapters.records",
    "wfdsl.adapters.hubspot.config",
    "wfdsl.adapters.hubspot.client",
    "wfdsl.adapters.hubspot.ledger",
    "wfdsl.adapters.hubspot.search",
    "wfdsl.adapters.hubspot_api",
    "wfdsl.runtime.operators",
    "wfdsl.runtime.criteria",
    "wfdsl.runtime.criteria_text",
    "wfdsl.tools.hubspot.flows",
    "wfdsl.tools.hubspot.export",
    "wfdsl.tools.lsp.values",
    "wfdsl.tools.lsp.edits",
    "wfdsl.tools.lsp.analysis",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0, name
    assert result.attempted > 0, name
