"""A clock that moves only when a test says so, for code that takes a :class:`sparkfleet.clock.Clock`."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True, slots=True)
class _Timer:
    deadline: float
    sequence: int  # ties fire in the order they were scheduled
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """Stands still until :meth:`advance`, which fires the timers that came due, in deadline order.

    Also callable (``clock()`` is ``clock.now()``), for the components that take a plain
    ``Callable[[], float]``.
    """

    def __init__(self, now: float = 100.0) -> None:
        self._now = now
        self._timers: list[_Timer] = []
        self._sequence = itertools.count()

    def now(self) -> float:
        return self._now

    def __call__(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer(self._now + max(0.0, delay), next(self._sequence), callback)
        heapq.heappush(self._timers, timer)
        return timer

    @property
    def pending(self) -> int:
        """Timers scheduled and not fired or cancelled yet."""
        return sum(1 for timer in self._timers if not timer.cancelled)

    def next_deadline(self) -> float | None:
        """When the earliest pending timer fires; None if none is pending."""
        live = [timer.deadline for timer in self._timers if not timer.cancelled]
        return min(live, default=None)

    def advance(self, seconds: float) -> None:
        """Moves time ``seconds`` on, calling each timer due on the way at its own deadline (a timer a
        callback schedules within the step fires too)."""
        if seconds < 0:
            raise ValueError(f"time does not go back: advance({seconds})")
        target = self._now + seconds
        while self._timers and self._timers[0].deadline <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.deadline)
            timer.callback()
        self._now = target
