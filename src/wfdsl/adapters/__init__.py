"""CRM adapters: implementations of `runtime.protocols.CRMAdapter`, found by name.

Adapters register under the entry-point group `wfdsl.adapters`
(`memory = wfdsl.adapters.memory:MemoryCRM`); `adapter_class("memory")`
looks one up.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

GROUP = "wfdsl.adapters"


def adapter_class(name: str) -> Any:
    """The adapter class registered under `name`; KeyError if none is.

    >>> adapter_class("memory").__name__
    'MemoryCRM'
    """
    for entry in entry_points(group=GROUP):
        if entry.name == name:
            return entry.load()
    raise KeyError(name)


def adapter_names() -> list[str]:
    return sorted(entry.name for entry in entry_points(group=GROUP))
