"""The scheduler's time source: the system clock, or a clock tests move by hand.

Everything that decides *when* a schedule is due (storing a schedule, the scheduler loop, stall
warnings) reads `current().now()`; `use(ManualClock(...))` makes it controllable for a test.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Sleep up to `seconds` of this clock's time, or until `event` is set."""
        return event.wait(max(0.0, seconds))


class ManualClock(Clock):
    """A clock that only moves when told to; moving it wakes whatever waits on it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self._waiting: set[threading.Event] = set()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)
            waiting = list(self._waiting)
        for event in waiting:
            event.set()

    def advance(self, **delta: float) -> datetime:
        """Move forward by `timedelta(**delta)` (e.g. `advance(minutes=5)`); returns the time."""
        self.set(self.now() + timedelta(**delta))
        return self.now()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        # Manual time never passes by itself: wait for the event or a move of the clock, with a
        # short real-time bound so a loop still notices being stopped.
        with self._lock:
            self._waiting.add(event)
        try:
            return event.wait(min(max(0.0, seconds), 0.5))
        finally:
            with self._lock:
                self._waiting.discard(event)


_current: Clock = Clock()


def current() -> Clock:
    return _current


def use(clock: Clock | None) -> None:
    """Make `clock` the process's scheduling clock (None: back to real time)."""
    global _current
    _current = clock if clock is not None else Clock()
