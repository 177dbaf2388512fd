"""Percentiles of observed samples (nearest rank): every figure is one of the observations.

No interpolation and no histogram buckets: a percentile is never above the
largest sample nor below the smallest, and it grows with ``q``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

QUANTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))
"""The percentiles a report gives, besides the sample count and the maximum."""

_EPSILON = 1e-9
"""Absorbs the float error of ``q * n`` (0.07 * 100 is 7.000000000000001, rank 7 not 8)."""


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0 <= q <= 1) of ``samples``: the smallest sample with at least
    ``q`` of them at or below it (q = 0 is the minimum, q = 1 the maximum)."""
    if not samples:
        raise ValueError("percentile: no samples")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"percentile: q must be between 0 and 1, not {q}")
    return _nearest_rank(sorted(samples), q)


def _nearest_rank(ordered: Sequence[float], q: float) -> float:
    rank = math.ceil(q * len(ordered) - _EPSILON)
    return ordered[min(len(ordered), max(1, rank)) - 1]


def summarize(samples: Sequence[float], digits: int = 3) -> dict[str, float | int | None]:
    """``count``, p50, p90, p99 and ``max`` of ``samples``, rounded to ``digits``; the figures are None
    (and count 0) when there are none."""
    if not samples:
        return {"count": 0, **{name: None for name, _ in QUANTILES}, "max": None}
    ordered = sorted(samples)  # once, for every quantile
    summary: dict[str, float | int | None] = {"count": len(ordered)}
    for name, q in QUANTILES:
        summary[name] = round(_nearest_rank(ordered, q), digits)
    summary["max"] = round(ordered[-1], digits)
    return summary
