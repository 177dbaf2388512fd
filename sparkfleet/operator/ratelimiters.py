"""Work-queue rate limiters with client-go's semantics: how long a key waits before a retry.

The default is shaped as in the Kubeflow Spark Operator: the larger of a
per-key exponential backoff (5 ms doubling, at most 1000 s) and an overall
token bucket (``--workqueue-ratelimiter-bucket-qps`` and
``--workqueue-ratelimiter-bucket-size``), with the combined wait capped at
``--workqueue-ratelimiter-max-delay``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

from sparkfleet.kube.ratelimit import TokenBucket

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)

# The values the Spark Operator's Helm chart passes for its --workqueue-ratelimiter-* flags,
# which is what its users run. (The binary's own flag defaults are 10, 100 and no cap.)
DEFAULT_BUCKET_QPS = 50.0
DEFAULT_BUCKET_SIZE = 500
DEFAULT_MAX_DELAY = 6 * 3600.0
DEFAULT_BASE_DELAY = 0.005
ITEM_BACKOFF_CAP = 1000.0  # client-go's cap on the per-key backoff


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


class MaxWaitRateLimiter:
    """Its limiter's wait, never longer than ``max_delay``."""

    def __init__(self, limiter: RateLimiter[Hashable], max_delay: float):
        if max_delay <= 0:
            raise ValueError(f"--workqueue-ratelimiter-max-delay must be positive; got {max_delay}s")
        self.limiter = limiter
        self.max_delay = max_delay

    def when(self, item: Hashable) -> float:
        return min(self.limiter.when(item), self.max_delay)

    def forget(self, item: Hashable) -> None:
        self.limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return self.limiter.num_requeues(item)


def default_controller_rate_limiter(
    bucket_qps: float = DEFAULT_BUCKET_QPS,
    bucket_size: int = DEFAULT_BUCKET_SIZE,
    max_delay: float = DEFAULT_MAX_DELAY,
    base_delay: float = DEFAULT_BASE_DELAY,
) -> MaxWaitRateLimiter:
    per_key = ItemExponentialFailureRateLimiter(base_delay, max(base_delay, ITEM_BACKOFF_CAP))
    return MaxWaitRateLimiter(
        MaxOfRateLimiter(per_key, BucketRateLimiter(bucket_qps, bucket_size)), max_delay
    )
