"""What the demo shows while it runs: a snapshot of the applications and the fleet, and the phase it is in.

Pure: built from the observer's counts and the SparkFleet's status, read by
the live view (a table on a terminal, a line through a pipe).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Phase:
    """A step with no live table to show: starting, waiting, tearing down."""

    text: str


@dataclass
class Snapshot:
    elapsed: float
    total: int
    states: dict[str, int]
    submitted: int
    submit: Mapping[str, float | int | None]
    status: Mapping[str, float | int | None]
    members: dict[str, int]
    """Every member the run started (and any other holder), with the shards it holds; 0 for none."""
    gone: set[str] = field(default_factory=set)
    """Members whose process has exited (killed): shown as gone, never left out."""
    shards: int = 0
    unheld: int = 0
    """Shards no member holds (moving, or unassigned)."""
    note: str = ""


def held_counts(status: Mapping[str, Any]) -> dict[str, int]:
    """Shards held per holder, in a SparkFleet's status."""
    counts: dict[str, int] = {}
    for shard in status.get("shards") or []:
        if shard.get("phase") == "Held" and shard.get("holder"):
            counts[shard["holder"]] = counts.get(shard["holder"], 0) + 1
    return counts


def member_shards(status: Mapping[str, Any], members: Iterable[str]) -> dict[str, int]:
    """Shards held by each of ``members`` (0 when none) and by any other holder the status names."""
    counts = {member: 0 for member in members}
    counts.update(held_counts(status))
    return dict(sorted(counts.items()))


def unheld_shards(status: Mapping[str, Any]) -> int:
    """Shards not held by a member: moving between holders, or unassigned."""
    return sum(1 for s in status.get("shards") or [] if not (s.get("phase") == "Held" and s.get("holder")))


def all_held_by(status: Mapping[str, Any], members: set[str]) -> bool:
    shards = status.get("shards") or []
    return bool(shards) and all(s.get("phase") == "Held" and s.get("holder") in members for s in shards)
