"""The driver: events in time order + an engine -> the engine fed, due timers fired first.

Every host runs the same loop: feed each event in order, firing the timers
that fall due before it first; stop at `until`; at the end of the input, run
out the clock (fire each timer in turn up to `until`, or `HORIZON` past the
last event). `simulate`, `explain` and `test` drive it on a virtual clock over
a memory store; `wfdsl run` drives it in units of work against a durable
store, on a virtual clock (replay) or the real one. What differs is a
parameter:

- the clock: `VirtualTime` moves a virtual clock to each event and timer
  (timers fire as event time passes); `RealTime` leaves the system clock
  alone and fires what is due by now;
- how due timers fire: `fire(limit)` (default `engine.run_due(limit)`); the
  service passes its own, which fires in units of `batch` timers, each one
  commit, and sets aside a timer that fails;
- observation: `fire` and the engine's observer see everything; the
  driver counts events and fired timers and keeps the last event's time.

>>> import datetime as dt
>>> from wfdsl.adapters.memory import MemoryCRM
>>> from wfdsl.plan.model import ProjectPlan
>>> from wfdsl.runtime.engine import Engine
>>> from wfdsl.runtime.protocols import VirtualClock
>>> from wfdsl.stores.memory import MemoryStore
>>> clock = VirtualClock(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
>>> driver = Driver(Engine(ProjectPlan(workflows=()), MemoryCRM(), MemoryStore(), clock), VirtualTime(clock))
>>> driver.run_out(driver.end())
0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol

from wfdsl.runtime.engine import Engine
from wfdsl.runtime.protocols import Clock, Event, VirtualClock

#: Without `until`, the clock runs out this long after the last event.
HORIZON = dt.timedelta(days=400)

#: The latest time a clock can be set to.
_LATEST = dt.datetime.max.replace(tzinfo=dt.timezone.utc)


class TimeSource(Protocol):
    """How time passes for a driver: the clock strategy."""

    def at_event(self, event: Event) -> dt.datetime:
        """Time has come to `event`: the limit up to which timers are due before it."""
        ...

    def at_timer(self, due: dt.datetime) -> None:
        """Time has come to a timer due at `due` (run out at the end of the input)."""
        ...


class VirtualTime:
    """A virtual clock that follows the input: set to each event's `at` and to each
    timer's due time, so a year of workflow time runs in milliseconds."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def at_event(self, event: Event) -> dt.datetime:
        self.clock.set(event.at)
        return event.at

    def at_timer(self, due: dt.datetime) -> None:
        self.clock.set(due)


class RealTime:
    """The system clock (or any clock the driver does not move): what is due by now."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def at_event(self, event: Event) -> dt.datetime:
        return self.clock.now()

    def at_timer(self, due: dt.datetime) -> None:
        return None


def time_source(clock: Clock) -> TimeSource:
    """`VirtualTime` for a virtual clock, else `RealTime`."""
    return VirtualTime(clock) if isinstance(clock, VirtualClock) else RealTime(clock)


class Driver:
    """Feeds one engine: `feed` each event in time order, then `run_out` the clock.

    `fire(limit)` fires the timers due by `limit` and returns how many fired
    (default: `engine.run_due(limit)`); `until` ends the input (an event after it
    is not fed) and the run out."""

    def __init__(
        self,
        engine: Engine,
        time: TimeSource,
        *,
        until: dt.datetime | None = None,
        fire: Callable[[dt.datetime], int] | None = None,
        last: dt.datetime | None = None,
    ) -> None:
        self.engine = engine
        self.time = time
        self.until = until
        self.fire = fire if fire is not None else engine.run_due
        self.last = last  # the time of the latest event fed
        self.events = 0
        self.fired = 0

    def feed(self, event: Event) -> bool:
        """Fire what is due before `event`, then ingest it; False (and nothing done) for
        an event after `until`, which ends the input."""
        if self.until is not None and event.at > self.until:
            return False
        self.fired += self.fire(self.time.at_event(event))
        self.engine.ingest(event)
        self.events += 1
        if self.last is None or event.at > self.last:
            self.last = event.at
        return True

    def end(self) -> dt.datetime:
        """Where the run out stops: `until`, else `HORIZON` past the last event (or the
        clock's time when no event came), within the calendar."""
        if self.until is not None:
            return self.until
        last = self.last if self.last is not None else self.engine.clock.now()
        return last + min(HORIZON, _LATEST - last)

    def run_out(self, end: dt.datetime) -> int:
        """Fire every timer due by `end`, one due time after another (the clock moved to
        each); the number fired."""
        total = 0
        while True:
            due = self.engine.next_due()
            if due is None or due > end:
                return total
            self.time.at_timer(due)
            fired = self.fire(due)
            if not fired:
                return total  # what is due is another's (a timer claimed by another worker)
            total += fired
            self.fired += fired


__all__ = ["HORIZON", "Driver", "RealTime", "TimeSource", "VirtualTime", "time_source"]
