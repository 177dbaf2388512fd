"""What a randomized fleet run must show, judged from its records: pure functions.

- no object key reconciled by two processes at overlapping times (the audit lines, grouped by
  ``key``; by process, not by member name, so two processes with one identity are caught too).
  :func:`key_overlaps` is ``audit.overlaps()`` on the processes the runner tells apart;
- no application submitted twice (more than one driver pod, more than one submission ID, or
  ``status.submissionAttempts`` other than 1);
- nothing lost (every application COMPLETED within the bound after the last change).

Each finding is a sentence naming the key, the processes, the times and the change in effect,
so that a failure says what to replay (the seed is the caller's to add).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sparkfleet.operator import audit


@dataclass(frozen=True, slots=True)
class Applied:
    """A change as the runner applied it: when (wall clock, epoch seconds) and what."""

    index: int
    kind: str
    fleet: str
    summary: str
    started: float
    finished: float
    touches: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Reconcile:
    process: str
    member: str
    shard: str
    key: str
    t0: float
    t1: float


@dataclass(frozen=True, slots=True)
class Overlap:
    key: str
    earlier: Reconcile
    later: Reconcile


@dataclass
class AppRecord:
    """What the watchers saw of one application."""

    key: str
    fleet: str
    state: str = "NEW"
    attempts: int | None = None
    submission_ids: set[str] = field(default_factory=set)
    driver_uids: set[str] = field(default_factory=set)
    created: float | None = None
    finished: float | None = None
    labels: list[tuple[float, str]] = field(default_factory=list)
    """(when, value) for each routing-label value it was given (creation included)."""


def reconciles(lines_by_process: Mapping[str, Iterable[dict[str, Any]]]) -> list[Reconcile]:
    """Audit lines (``{"t0", "t1", "member", "shard", "key"}``) tagged with the process that wrote them."""
    return [
        Reconcile(
            process,
            str(line["member"]),
            str(line["shard"]),
            str(line["key"]),
            float(line["t0"]),
            float(line["t1"]),
        )
        for process, lines in lines_by_process.items()
        for line in lines
    ]


def key_overlaps(found: Iterable[Reconcile]) -> list[Overlap]:
    """Pairs (earlier, later) of reconciles of one key by two processes at overlapping times:
    :func:`sparkfleet.operator.audit.overlaps`, judged on the runner's own process tags."""
    lines = [
        {"key": r.key, "t0": r.t0, "t1": r.t1, "member": r.member, "process": r.process, "reconcile": r}
        for r in found
    ]
    pairs = audit.overlaps(lines)
    return sorted(
        (Overlap(later["key"], earlier["reconcile"], later["reconcile"]) for earlier, later in pairs),
        key=lambda o: (o.key, o.later.t0, o.earlier.t0),
    )


def stamp(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%H:%M:%S.%f")[:-3]


def in_effect(applied: list[Applied], when: float, fleets: Iterable[str] | None = None) -> Applied | None:
    """The last change applied (started) at or before ``when``; of ``fleets`` only, if given."""
    wanted = set(fleets) if fleets is not None else None
    before = [a for a in applied if a.started <= when and (wanted is None or a.fleet in wanted)]
    return max(before, key=lambda a: a.started) if before else None


def _said(change: Applied) -> str:
    return (
        f"change #{change.index} {change.kind} of fleet {change.fleet} ({change.summary}) "
        f"at {stamp(change.started)}"
    )


def _change(applied: list[Applied], when: float, fleets: Iterable[str] | None = None) -> str:
    """The change of ``fleets`` in effect at ``when``, and the very last one if that was another's."""
    last = in_effect(applied, when)
    if last is None:
        return "before the first change"
    mine = in_effect(applied, when, fleets) if fleets is not None else last
    if mine is None:
        return f"before any change of fleet {', '.join(sorted(set(fleets or ())))}; last: {_said(last)}"
    text = f"after {_said(mine)}"
    if mine is not last:
        text += f"; last of any fleet: #{last.index} {last.kind} of fleet {last.fleet}"
    return text


def describe_overlaps(
    overlaps: list[Overlap],
    applied: list[Applied],
    started_by: Mapping[str, str] | None = None,
    fleet_of: Mapping[str, str] | None = None,
) -> list[str]:
    """One sentence per key and pair of processes: how many overlapping reconciles, the first one's
    times and shards, and the change in effect then (of the processes' fleets, given ``fleet_of``:
    process -> fleet). ``started_by``: process -> the change that started it (a duplicate identity,
    a second fleet), said next to its name."""
    started_by = started_by or {}
    groups: dict[tuple[str, str, str], list[Overlap]] = {}
    for overlap in overlaps:
        pair = sorted((overlap.earlier.process, overlap.later.process))
        groups.setdefault((overlap.key, pair[0], pair[1]), []).append(overlap)

    def who(r: Reconcile) -> str:
        extra = f", {started_by[r.process]}" if r.process in started_by else ""
        return f"{r.process} (member {r.member}{extra}, shard {r.shard}) {stamp(r.t0)}-{stamp(r.t1)}"

    found = []
    for (key, a, b), group in sorted(groups.items(), key=lambda g: g[1][0].later.t0):
        first, last = group[0], group[-1]
        fleets = None if fleet_of is None else [fleet_of[p] for p in (a, b) if p in fleet_of]
        found.append(
            f"{key} reconciled by two processes at once, {len(group)} time(s) "
            f"from {stamp(first.later.t0)} to {stamp(last.later.t0)}; "
            f"first: {who(first.earlier)} and {who(first.later)}, "
            f"{_change(applied, first.later.t0, fleets)}"
        )
    return found


def duplicate_submissions(apps: Iterable[AppRecord]) -> list[AppRecord]:
    """Applications submitted more than once: two driver pods, two submission IDs, or attempts != 1."""
    return [
        app
        for app in apps
        if len(app.driver_uids) > 1
        or len(app.submission_ids) > 1
        or (app.attempts is not None and app.attempts != 1)
    ]


def lost(apps: Iterable[AppRecord]) -> list[AppRecord]:
    """Applications that did not complete (none is told to fail)."""
    return [app for app in apps if app.state != "COMPLETED"]


def _who(key: str, found: list[Reconcile]) -> str:
    mine = sorted((r for r in found if r.key == key), key=lambda r: r.t1)
    if not mine:
        return "never reconciled"
    processes = sorted({r.process for r in mine})
    last = mine[-1]
    return (
        f"reconciled by {', '.join(processes)}; "
        f"last by {last.process} (shard {last.shard}) at {stamp(last.t1)}"
    )


def describe_duplicate(app: AppRecord, found: list[Reconcile]) -> str:
    return (
        f"{app.key} submitted more than once: {len(app.driver_uids)} driver pods, submission IDs "
        f"{sorted(app.submission_ids)}, submissionAttempts {app.attempts}; {_who(app.key, found)}"
    )


def describe_lost(
    app: AppRecord, found: list[Reconcile], applied: list[Applied], touches: tuple[str, ...]
) -> str:
    """``touches``: what routes the application (its namespace, shard names, routing values): the
    last change that concerned any of them is named."""
    concerning = [a for a in applied if set(a.touches) & set(touches)]
    last = concerning[-1] if concerning else None
    labels = " -> ".join(f"{value} at {stamp(when)}" for when, value in app.labels)
    text = f"{app.key} ({app.fleet}) ended {app.state}, not COMPLETED"
    if len(app.labels) > 1:
        text += f"; routing label {labels}"
    text += f"; {_who(app.key, found)}"
    if last is not None:
        text += f"; last change concerning it: #{last.index} {last.kind} ({last.summary})"
        text += f" at {stamp(last.started)}"
    return text


__all__ = [
    "AppRecord",
    "Applied",
    "Overlap",
    "Reconcile",
    "describe_duplicate",
    "describe_lost",
    "describe_overlaps",
    "duplicate_submissions",
    "in_effect",
    "key_overlaps",
    "lost",
    "reconciles",
]
