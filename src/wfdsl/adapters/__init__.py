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


def incremented(current: Any, by: Any, what: str) -> Any:
    """The value of `increment` (HubSpot's "increase property value"): `current` plus
    `by`, an int when whole. PermanentAdapterError when `current` is not a number or
    the sum is not a finite number (an integer beyond 1e308, `Infinity`, `NaN`).

    >>> incremented("2", 1, "contact.score")
    3
    """
    import math

    from wfdsl.runtime.protocols import PermanentAdapterError

    try:
        base = float(current) if current not in (None, "") else 0.0
        total = base + float(by)
    except (TypeError, ValueError, OverflowError) as error:
        raise PermanentAdapterError(f"{what} is {_short(current)}, not a number it can add {by!r} to") from error
    if not math.isfinite(total):
        raise PermanentAdapterError(f"{what} + {by!r} is not a finite number ({_short(current)})")
    return int(total) if total.is_integer() else total


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
