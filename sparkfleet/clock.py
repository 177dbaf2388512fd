"""Time for code that waits: what time it is, and a callback once a delay has passed.

:class:`Clock` is what a component that schedules work takes (the work queue's delays, its
rate-limited re-adds, its drain timeout), so a test can move time by hand
(:class:`sparkfleet.testing.clock.ManualClock`) instead of sleeping. :class:`LoopClock` is the
real one: the monotonic clock, and timers on the running event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback that can still be called off."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds (only differences mean anything)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Calls ``callback`` once ``delay`` seconds have passed on this clock."""
        ...


class LoopClock:
    """``time.monotonic`` and the running event loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)


LOOP_CLOCK = LoopClock()
