"""A client-side token bucket, the same model as client-go's QPS/burst limiter."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """Refills ``qps`` tokens a second up to ``burst``; each request takes one.

    Tokens are reserved at call time, so concurrent callers queue up in order
    and the long-run rate never exceeds ``qps``. ``qps <= 0`` means unlimited.
    """

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic):
        if qps > 0 and burst < 1:
            raise ValueError(f"burst must be at least 1 when qps is limited; got {burst}")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    @property
    def unlimited(self) -> bool:
        return self.qps <= 0

    def reserve(self) -> float:
        """Takes a token now and returns how long the caller must wait before using it."""
        if self.unlimited:
            return 0.0
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def acquire(self) -> float:
        """Waits for a token; returns the seconds waited."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)
        return delay
