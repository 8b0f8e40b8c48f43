"""State stores: implementations of `runtime.protocols.StateStore`, found by name.

Stores register under the entry-point group `wfdsl.stores`
(`memory = wfdsl.stores.memory:MemoryStore`); `store_class("memory")` looks one up.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

GROUP = "wfdsl.stores"


def store_class(name: str) -> Any:
    """The store class registered under `name`; KeyError if none is.

    >>> store_class("memory").__name__
    'MemoryStore'
    """
    for entry in entry_points(group=GROUP):
        if entry.name == name:
            return entry.load()
    raise KeyError(name)


def store_names() -> list[str]:
    return sorted(entry.name for entry in entry_points(group=GROUP))
