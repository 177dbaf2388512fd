"""The run report: percentiles and the JSON shape the demo and the benchmark write."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p99 and max (nearest-rank), rounded to the millisecond; None for no values."""
    if not values:
        return {"p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return {"p50": round(rank(0.50), 3), "p99": round(rank(0.99), 3), "max": round(ordered[-1], 3)}


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """A quantile from cumulative Prometheus buckets ``(upper bound, count)``, as PromQL does it."""
    if not buckets or buckets[-1][1] == 0:
        return None
    ordered = sorted(buckets)
    total = ordered[-1][1]
    target = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= target:
            if math.isinf(bound):
                return lower_bound
            span = count - lower_count
            fraction = (target - lower_count) / span if span else 1.0
            return round(lower_bound + (bound - lower_bound) * fraction, 4)
        lower_bound, lower_count = bound, count
    return None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def markdown_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """A Markdown table of ``rows`` with (header, key) columns; nested keys as ``a.b``."""

    def cell(row: dict[str, Any], key: str) -> str:
        value: Any = row
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "-" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))

    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, k) for _, k in columns) + " |" for r in rows]
    return "\n".join(lines)
