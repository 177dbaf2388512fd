from __future__ import annotations

import pytest

from sparkfleet.kube.ratelimit import TokenBucket
from tests.support import FakeClock


def test_burst_is_free_then_requests_are_spaced_by_one_over_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)


def test_tokens_refill_over_time_but_never_beyond_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=5, burst=2, clock=clock)
    bucket.reserve()
    bucket.reserve()
    clock.now += 100  # a long pause refills only up to the burst
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.2)


def test_long_run_rate_never_exceeds_qps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=50, burst=10, clock=clock)
    delays = [bucket.reserve() for _ in range(1010)]
    # 1,010 requests at once: 10 from the burst, the last waits 1,000 / 50 = 20 s.
    assert delays[-1] == pytest.approx(20.0)
    assert delays == sorted(delays)


def test_non_positive_qps_means_unlimited() -> None:
    bucket = TokenBucket(qps=0, burst=0)
    assert bucket.unlimited
    assert all(bucket.reserve() == 0.0 for _ in range(10_000))


def test_burst_below_one_is_refused_when_limited() -> None:
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(qps=5, burst=0)


async def test_acquire_waits_the_reserved_delay() -> None:
    bucket = TokenBucket(qps=100, burst=1)
    assert await bucket.acquire() == 0.0
    waited = await bucket.acquire()
    assert 0.0 < waited <= 0.011
