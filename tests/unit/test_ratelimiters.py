from __future__ import annotations

import pytest

from sparkfleet.operator.ratelimiters import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    default_controller_rate_limiter,
)
from tests.support import FakeClock


def test_exponential_backoff_per_item_doubles_to_the_cap_and_forget_resets() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 0.04)
    assert [limiter.when("a") for _ in range(6)] == [0.005, 0.01, 0.02, 0.04, 0.04, 0.04]
    assert limiter.when("b") == 0.005  # items are independent
    assert limiter.num_requeues("a") == 6
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005


def test_exponential_backoff_never_overflows() -> None:
    limiter = ItemExponentialFailureRateLimiter(0.005, 3600)
    delays = [limiter.when("k") for _ in range(200)]
    assert delays[-1] == 3600


def test_bucket_limits_the_overall_rate_across_items() -> None:
    clock = FakeClock()
    limiter = BucketRateLimiter(qps=10, burst=2, clock=clock)
    assert [limiter.when(f"k{i}") for i in range(2)] == [0.0, 0.0]
    assert limiter.when("k2") == pytest.approx(0.1)
    assert limiter.when("k3") == pytest.approx(0.2)
    assert limiter.num_requeues("k3") == 0


def test_max_of_takes_the_longest_wait() -> None:
    clock = FakeClock()
    limiter = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(1.0, 100), BucketRateLimiter(1, 1, clock=clock)
    )
    assert limiter.when("a") == 1.0  # backoff 1 s, bucket free
    assert limiter.when("b") == 1.0  # backoff 1 s, bucket 1 s
    assert limiter.when("a") == 2.0  # backoff 2 s beats the bucket's 2 s tie
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


def test_default_shape_per_key_cap_and_overall_max_delay() -> None:
    limiter = default_controller_rate_limiter(bucket_qps=1000, bucket_size=1000, max_delay=600)
    delays = [limiter.when("k") for _ in range(30)]
    assert delays[0] == 0.005
    assert max(delays) == 600  # the combined wait is capped at --workqueue-ratelimiter-max-delay
    uncapped = default_controller_rate_limiter(bucket_qps=1000, bucket_size=1000, max_delay=24 * 3600)
    assert max(uncapped.when("k") for _ in range(40)) == 1000  # the per-key backoff stops at 1000 s
    limiter.forget("k")
    assert limiter.num_requeues("k") == 0


def test_max_delay_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max-delay"):
        default_controller_rate_limiter(max_delay=0)


def test_defaults_are_the_spark_operators() -> None:
    limiter = default_controller_rate_limiter()
    first = limiter.when("x")
    assert first == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("make", "flag"),
    [
        (lambda: BucketRateLimiter(qps=0), "bucket-qps"),
        (lambda: BucketRateLimiter(qps=1, burst=0), "bucket-size"),
        (lambda: ItemExponentialFailureRateLimiter(1.0, 0.5), "max-delay"),
    ],
)
def test_bad_settings_name_the_flag(make: object, flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        make()  # type: ignore[operator]
