"""``--audit-log FILE``: one JSON line per reconcile, to prove no two members reconciled one object at once.

Each line is ``{"t0": <start, epoch seconds>, "t1": <end>, "member": ..., "shard": ..., "key":
"namespace/name"}``. Lines are appended and flushed as they are written, so a
killed instance leaves every finished reconcile on record.

Overlaps are judged per object (``key``), never per shard: two members that
believe they serve different shards (a stale scope after a spec edit, two
fleets whose scopes meet) still overlap when they reconcile one object at
overlapping times. The shard name is kept on each line to say why.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson


class AuditLog:
    def __init__(self, path: str | Path, member: str):
        self.path = Path(path)
        self.member = member
        self._file: IO[bytes] = self.path.open("ab", buffering=0)

    def record(self, t0: float, t1: float, shard: str, key: str) -> None:
        line = {"t0": round(t0, 6), "t1": round(t1, 6), "member": self.member, "shard": shard, "key": key}
        self._file.write(orjson.dumps(line) + b"\n")

    def close(self) -> None:
        self._file.close()


def read(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every line of the audit logs that exist among ``paths``."""
    lines: list[dict[str, Any]] = []
    for path in paths:
        if path.exists():
            lines += [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    return lines


def overlaps(lines: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs (earlier, later) of reconciles of one object (``key``) by two members at overlapping times.

    Whatever shard names the members used: the shards are what they believed, the key is what they did.
    """
    by_key: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_key.setdefault(str(line["key"]), []).append(line)
    found = []
    for entries in by_key.values():
        entries.sort(key=lambda e: float(e["t0"]))
        furthest: dict[str, dict[str, Any]] = {}  # member -> its entry that ends last so far
        for entry in entries:
            for member, other in furthest.items():
                if member != entry["member"] and float(entry["t0"]) < float(other["t1"]):
                    found.append((other, entry))
            mine = furthest.get(entry["member"])
            if mine is None or float(entry["t1"]) > float(mine["t1"]):
                furthest[entry["member"]] = entry
    return found
