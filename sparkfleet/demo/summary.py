"""The demo's closing summary for a person: outcomes, observed latencies, failover, the fleet as it ended.

Pure: the text is made from the run's report (the JSON ``--report`` writes,
whose fields stay the machine-readable form). Durations are in readable
units; every percentile is one of the observed samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sparkfleet.demo.units import duration
from sparkfleet.output import table

LATENCIES = (
    ("create -> driver pod", "submit_latency_seconds"),
    ("create -> first status", "first_status_latency_seconds"),
    ("pod phase -> status", "status_latency_seconds"),
)
FIGURES = ("p50", "p90", "p99", "max")
TERMINAL = ("COMPLETED", "FAILED", "SUBMISSION_FAILED")


def render(report: Mapping[str, Any]) -> str:
    sections = [headline(report), outcomes(report), latencies(report), failover(report), fleet(report)]
    return "\n\n".join(s for s in sections if s)


def headline(report: Mapping[str, Any]) -> str:
    workload = report.get("workload") or {}
    rate = report.get("submissions_per_minute")
    text = (
        f"{report['apps_total']} applications in {workload.get('namespaces', '?')} namespaces, "
        f"{report['instances']} instance(s): the workload took {duration(report.get('makespan_seconds'))}"
    )
    return text + (f" ({rate:.0f} submissions/min)" if rate is not None else "")


def outcomes(report: Mapping[str, Any]) -> str:
    states: Mapping[str, int] = report.get("apps_by_state") or {}
    rows = [
        ["completed", report["apps_completed"]],
        ["failed", states.get("FAILED", 0)],
        ["submission failed", states.get("SUBMISSION_FAILED", 0)],
        ["lost (never finished)", report["apps_lost"]],
        ["total", report["apps_total"]],
    ]
    text = table(["outcome", "applications"], rows)
    unfinished = {s: n for s, n in states.items() if s not in TERMINAL and n}
    unseen = report["apps_total"] - sum(states.values())
    if report["apps_lost"]:
        where = [f"{state} {n}" for state, n in sorted(unfinished.items())]
        where += [f"never seen {unseen}"] if unseen > 0 else []
        text += f"\nlost applications were last seen as: {', '.join(where)}"
    overlaps = report.get("overlaps")
    if overlaps is not None:
        text += f"\noverlaps (two members on one application at once): {overlaps}"
    return text


def latencies(report: Mapping[str, Any]) -> str:
    rows = []
    for label, key in LATENCIES:
        figures: Mapping[str, Any] = report.get(key) or {}
        rows.append([label, figures.get("count", 0), *(duration(figures.get(f)) for f in FIGURES)])
    return table(["latency (observed)", "samples", *FIGURES], rows)


def failover(report: Mapping[str, Any]) -> str:
    kill: Mapping[str, Any] | None = report.get("failover")
    if kill is None:
        return "failover: no member was killed (--kill-one-at SECONDS kills the busiest one)"
    text = (
        f"failover: {kill['killed']} killed (kill -9) {duration(kill['killed_after_seconds'])} into the run; "
    )
    takeover = kill.get("takeover_seconds")
    if takeover is None:
        return text + "its shards were not all taken over before the workload ended"
    return text + f"every shard was held by a live member {duration(takeover)} later"


def fleet(report: Mapping[str, Any]) -> str:
    end: Mapping[str, Any] | None = report.get("fleet_at_end")
    if end is None:
        return ""
    rows = [[m["identity"], "gone" if m["gone"] else "running", m["shards"]] for m in end["members"]]
    text = table(["member (as the workload ended)", "state", "shards"], rows)
    return text + f"\nshards: {end['shards']}, unheld {end['unheld_shards']}"
