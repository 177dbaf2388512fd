"""``shards status`` as tables: pure functions from a :class:`FleetReport` to text.

A plain table is kept to the terminal's width where it can be: a shard's scope (its namespaces
or selector, the only cell that grows without bound) has a table of its own after the shards,
abbreviated to the width, ``a,b +3 more``. ``-o wide`` has every scope whole, in the shard table.
"""

from __future__ import annotations

from sparkfleet.output import abbreviate, clip, short_age, table
from sparkfleet.sharding.ops import FleetReport, ShardRow, ShardScope

SHARD_HEADERS = ("shard", "phase", "holder", "age", "objects", "queued", "pin", "scope")
SCOPE_HEADERS = ("shard", "scope")
MEMBER_HEADERS = ("member", "state", "shards", "objects", "queued", "capacity", "coordinator")
MIN_SCOPE_WIDTH = 20
NONE = "<none>"


def _state(value: bool | None) -> str:
    return "Unknown" if value is None else str(value)


def headline(report: FleetReport, width: int | None) -> list[str]:
    """``fleet ns/name   coordinator m0   ready True``; when not ready, the Ready condition's reason and
    message; the job namespaces when the spec bounds the fleet by them."""
    line = (
        f"fleet {report.namespace}/{report.fleet}   coordinator {report.coordinator or NONE}   "
        f"ready {_state(report.ready)}"
    )
    lines = [line]
    ready = report.condition("Ready")
    if report.ready is not True and ready is not None and (ready.reason or ready.message):
        lines.append(": ".join(p for p in (ready.reason, ready.message) if p))
    if report.job_namespaces is not None:
        prefix = "job namespaces "
        shown = report.job_namespaces or ["<none>"]
        room = None if width is None else max(MIN_SCOPE_WIDTH, width - len(prefix))
        lines.append(prefix + (",".join(shown) if room is None else abbreviate(shown, room)))
    return lines


def holder_text(row: ShardRow) -> str:
    """The holder, and where it is going while it moves: ``m0 -> m1``."""
    holder = row.holder or NONE
    if row.desired and row.desired != row.holder:
        return f"{holder} -> {row.desired}"
    return holder


def scope_text(scope: ShardScope | None, width: int | None = None, bound: list[str] | None = None) -> str:
    """A scope on one line: ``ns a,b``, ``all ns but a,b``, ``team in (gold)``, ``tier=gold, ns a,b``.

    A selector's namespaces are left out when they are the fleet's job namespaces (``bound``: the
    headline shows them). With ``width``, lists are abbreviated (``a,b +3 more``) and a long
    selector cut to fit.
    """
    if scope is None:
        return "<unknown>"
    if scope.namespace_selector:  # namespaces by their labels (a namespaceSelector shard)
        text = f"ns by labels {scope.namespace_selector}"
        return text if width is None else clip(text, width)
    selector = scope.selector or ""
    if width is not None:
        selector = clip(selector, width)
    if scope.all_namespaces:
        if not scope.except_namespaces:
            return selector or "all ns"
        prefix, items = "all ns but ", scope.except_namespaces
    else:
        if selector and bound is not None and scope.namespaces == sorted(bound):
            return selector
        prefix, items = "ns ", scope.namespaces
        if not items:
            return f"{selector}, no namespaces" if selector else "no namespaces"
    if selector:
        prefix = f"{selector}, {prefix}"
    if width is None:
        return prefix + ",".join(items)
    return prefix + abbreviate(items, max(1, width - len(prefix)))


def shard_columns(report: FleetReport, wide: bool) -> tuple[str, ...]:
    """The shard table's columns: PIN only when a shard is pinned; SCOPE in it only with ``-o wide``
    (a plain table has the scopes in a table of their own, where they have the width to be read)."""
    if wide:
        return SHARD_HEADERS
    pinned = any(s.pin for s in report.shards)
    return tuple(h for h in SHARD_HEADERS if h != "scope" and (pinned or h != "pin"))


def shard_rows(report: FleetReport, wide: bool) -> list[list[str]]:
    """The shard table's rows, columns as :func:`shard_columns`."""
    columns = shard_columns(report, wide)
    rows = []
    for s in report.shards:
        cells = {
            "shard": s.name,
            "phase": s.phase,
            "holder": holder_text(s),
            "age": short_age(s.age_seconds),
            "objects": str(s.objects),
            "queued": str(s.queued),
            "pin": s.pin or NONE,
            "scope": scope_text(s.scope, None, report.job_namespaces),
        }
        rows.append([cells[c] for c in columns])
    return rows


def scope_rows(report: FleetReport, width: int) -> list[list[str]]:
    """SHARD and SCOPE, each scope abbreviated to what ``width`` leaves it (at least 20 columns)."""
    name_width = max([len(SCOPE_HEADERS[0]), *(len(s.name) for s in report.shards)])
    room = max(MIN_SCOPE_WIDTH, width - name_width - 3)
    return [[s.name, scope_text(s.scope, room, report.job_namespaces)] for s in report.shards]


def member_rows(report: FleetReport) -> list[list[str]]:
    return [
        [
            m.member,
            m.state,
            str(m.shards),
            str(m.objects),
            str(m.queued),
            f"{m.capacity:g}",
            "*" if m.coordinator else "",
        ]
        for m in report.members
    ]


def status_text(report: FleetReport, width: int | None) -> str:
    """The headline, the shards, their scopes and the members; ``width`` None: ``-o wide``, the
    scopes whole in the shard table."""
    wide = width is None
    parts = [*headline(report, width), "", table(shard_columns(report, wide), shard_rows(report, wide))]
    if width is not None and report.shards:
        parts += ["", table(SCOPE_HEADERS, scope_rows(report, width))]
    parts += ["", table(MEMBER_HEADERS, member_rows(report)) if report.members else "no members"]
    return "\n".join(parts)


def problems(report: FleetReport) -> list[str]:
    """The conditions that say the spec is not served as written (for stderr)."""
    return [
        f"{c.type}: {c.message}" for c in report.conditions if c.type in ("Invalid", "Overlap") and c.status
    ]
