"""The run report: percentiles of observed samples and the tables the demo and the benchmark write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sparkfleet.demo.percentiles import summarize


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p90, p99 and max of observed ``values`` (nearest rank, to the millisecond)."""
    return summarize(values)


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
