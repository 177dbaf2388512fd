"""Work-queue rate limiters with client-go's semantics: how long a key waits before a retry.

The default, as in the Kubeflow Spark Operator, is the larger of a per-key
exponential backoff (5 ms doubling up to ``--workqueue-ratelimiter-max-delay``)
and an overall token bucket (``--workqueue-ratelimiter-bucket-qps`` and
``--workqueue-ratelimiter-bucket-size``) that caps retries across all keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

from sparkfleet.kube.ratelimit import TokenBucket

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)

# The Spark Operator's defaults for its --workqueue-ratelimiter-* flags.
DEFAULT_BUCKET_QPS = 50.0
DEFAULT_BUCKET_SIZE = 500
DEFAULT_MAX_DELAY = 6 * 3600.0
DEFAULT_BASE_DELAY = 0.005


class RateLimiter(Protocol[T_contra]):
    def when(self, item: T_contra) -> float:
        """Seconds the item must wait before it is processed again (counts a failure)."""
        ...

    def forget(self, item: T_contra) -> None:
        """The item succeeded: stop tracking its failures."""
        ...

    def num_requeues(self, item: T_contra) -> int: ...


class ItemExponentialFailureRateLimiter:
    """``base_delay * 2**failures`` per item, capped at ``max_delay``."""

    def __init__(self, base_delay: float = DEFAULT_BASE_DELAY, max_delay: float = DEFAULT_MAX_DELAY):
        if base_delay < 0 or max_delay < 0:
            raise ValueError("workqueue backoff delays must not be negative")
        if max_delay < base_delay:
            raise ValueError(
                f"--workqueue-ratelimiter-max-delay ({max_delay}s) is below the base delay ({base_delay}s)"
            )
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        if failures >= 64:  # 2**64 * base overflows any sane cap
            return self.max_delay
        return float(min(self.base_delay * (2**failures), self.max_delay))

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """One token bucket for every item: bounds the overall retry rate."""

    def __init__(
        self,
        qps: float = DEFAULT_BUCKET_QPS,
        burst: int = DEFAULT_BUCKET_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ):
        if qps <= 0:
            raise ValueError(f"--workqueue-ratelimiter-bucket-qps must be positive; got {qps}")
        if burst < 1:
            raise ValueError(f"--workqueue-ratelimiter-bucket-size must be at least 1; got {burst}")
        self._bucket = TokenBucket(qps, burst, clock)

    def when(self, item: Hashable) -> float:
        return self._bucket.reserve()

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest wait any of its limiters asks for."""

    def __init__(self, *limiters: RateLimiter[Hashable]):
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(
    bucket_qps: float = DEFAULT_BUCKET_QPS,
    bucket_size: int = DEFAULT_BUCKET_SIZE,
    max_delay: float = DEFAULT_MAX_DELAY,
    base_delay: float = DEFAULT_BASE_DELAY,
) -> MaxOfRateLimiter:
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base_delay, max_delay), BucketRateLimiter(bucket_qps, bucket_size)
    )
