"""Percentiles of observed samples: nearest rank, never above the largest nor below the smallest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparkfleet.demo.percentiles import percentile, summarize
from sparkfleet.demo.report import percentiles

SAMPLES = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200)
Q = st.floats(min_value=0, max_value=1)


@given(SAMPLES, Q)
def test_a_percentile_is_between_the_smallest_and_the_largest_sample(samples: list[float], q: float) -> None:
    assert min(samples) <= percentile(samples, q) <= max(samples)


@given(SAMPLES, Q)
def test_a_percentile_is_one_of_the_samples(samples: list[float], q: float) -> None:
    assert percentile(samples, q) in samples


@given(SAMPLES, Q, Q)
def test_percentiles_grow_with_q(samples: list[float], q1: float, q2: float) -> None:
    low, high = sorted((q1, q2))
    assert percentile(samples, low) <= percentile(samples, high)


@given(SAMPLES)
def test_q_0_is_the_minimum_and_q_1_the_maximum(samples: list[float]) -> None:
    assert percentile(samples, 0) == min(samples)
    assert percentile(samples, 1) == max(samples)


def test_nearest_rank_of_a_hundred_samples() -> None:
    samples = [float(n) for n in range(100, 0, -1)]  # 1..100, shuffled order does not matter
    assert percentile(samples, 0.50) == 50
    assert percentile(samples, 0.90) == 90
    assert percentile(samples, 0.99) == 99
    assert percentile(samples, 0.07) == 7  # 0.07 * 100 is 7.000000000000001 in floats


def test_nearest_rank_of_few_samples_is_the_sample_at_or_above_q() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2
    assert percentile([1.0, 2.0], 0.5) == 1
    assert percentile([1.0, 2.0], 0.51) == 2
    assert percentile([5.0], 0.99) == 5


def test_no_samples_or_a_q_out_of_range_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="q must be between 0 and 1, not 99"):
        percentile([1.0], 99)


def test_a_summary_has_the_count_p50_p90_p99_and_max() -> None:
    samples = [0.1 * n for n in range(1, 11)]
    assert summarize(samples) == {"count": 10, "p50": 0.5, "p90": 0.9, "p99": 1.0, "max": 1.0}
    assert percentiles(samples) == summarize(samples)


def test_a_summary_of_nothing_has_count_0_and_no_figures() -> None:
    assert summarize([]) == {"count": 0, "p50": None, "p90": None, "p99": None, "max": None}


def test_a_few_slow_samples_in_a_short_run_never_give_a_p99_beyond_the_run() -> None:
    """The bucket-interpolated figure this replaces gave a queue p99 of 79 s in a 46 s run."""
    samples = [0.2] * 90 + [12.0, 20.0, 30.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0]
    summary = summarize(samples)
    assert summary["p99"] == 45.0
    assert summary["max"] == 46.0


@given(SAMPLES)
def test_summary_figures_are_ordered_and_typed(samples: list[float]) -> None:
    summary = summarize(samples)
    assert isinstance(summary["count"], int)
    figures = [summary[k] for k in ("p50", "p90", "p99", "max")]
    assert all(isinstance(f, float) for f in figures)
    assert figures == sorted(figures)  # type: ignore[type-var]
