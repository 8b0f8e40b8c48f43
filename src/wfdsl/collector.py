"""Pausing Python's cyclic garbage collector around work that makes no garbage cycles.

Parsing and checking make many small objects and no cycles. The collections they
would set off walk every object already alive (the ASTs of a project's files
parsed before, say), so a large project's lint grew faster than its size:
BENCHMARKS.md, measurement 2 (1.34x per line from 5,000 to 50,000 lines with
the collector running, 1.06x paused). Compiling is the same: per workflow,
5,000 workflows in one file took 1.25x the time of 1,000 with the collector
running during the plan's building, 1.05x paused (measurement 8).

>>> import gc
>>> with collector_paused():
...     gc.isenabled()
False
>>> gc.isenabled()
True
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off inside the block, and as it was after (re-entrant)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
