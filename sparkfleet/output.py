"""kubectl-style output: ``-o table`` (aligned columns, upper-case headers), ``wide``, ``json``, ``yaml``."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import orjson
import yaml


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    wide = "wide"
    """The table with every cell whole (a plain table abbreviates long cells to fit the terminal)."""

    @property
    def tabular(self) -> bool:
        return self in (Format.table, Format.wide)


FORMATS = tuple(f.value for f in Format)


def parse_format(value: str) -> Format:
    """``-o``'s value; a ValueError names the flag and the choices."""
    try:
        return Format(value)
    except ValueError:
        raise ValueError(f"--output must be one of {', '.join(FORMATS)}") from None


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell, three spaces apart, as kubectl prints them."""
    cells = [[str(h).upper() for h in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)


def structured(data: Any, fmt: Format) -> str:
    if fmt is Format.json:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    return yaml.safe_dump(data, sort_keys=False).rstrip()


def short_age(seconds: float | None) -> str:
    """kubectl's short age: 45s, 3m12s, 5h, 2d; ``-`` when unknown."""
    if seconds is None:
        return "-"
    whole = max(0, int(seconds))
    if whole < 120:
        return f"{whole}s"
    if whole < 600:
        return f"{whole // 60}m{whole % 60}s"
    if whole < 3 * 3600:
        return f"{whole // 60}m"
    if whole < 2 * 86400:
        return f"{whole // 3600}h"
    return f"{whole // 86400}d"


def abbreviate(items: Sequence[str], width: int) -> str:
    """``items`` comma-joined, or as many as fit in ``width`` and ``+N more`` (at least the first)."""
    full = ",".join(items)
    if len(full) <= width or len(items) <= 1:
        return full
    for shown in range(len(items) - 1, 0, -1):
        text = f"{','.join(items[:shown])} +{len(items) - shown} more"
        if len(text) <= width:
            return text
    return f"{items[0]} +{len(items) - 1} more"


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``...`` when cut."""
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."
