"""The chaos report: every scenario's result, and the totals a reader looks for first."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from sparkfleet import __version__
from sparkfleet.chaos.scenarios import Scale, ScenarioResult
from sparkfleet.demo.report import markdown_table, percentiles


def build(scale: Scale, results: Sequence[ScenarioResult]) -> dict[str, Any]:
    outcomes = [r.outcome for r in results if r.outcome is not None]
    faults: dict[str, int] = {}
    recovery: dict[str, dict[str, float | None]] = {}
    for result in results:
        faults[result.fault] = faults.get(result.fault, 0) + result.faults
        if result.recovery_seconds:
            recovery[result.fault] = percentiles(result.recovery_seconds)
    return {
        "sparkfleet": __version__,
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "scale": scale.name,
        "passed": bool(results) and all(r.passed for r in results),
        "faults_injected": faults,
        "applications": {
            "run": sum(o.apps for o in outcomes),
            "completed": sum(o.completed for o in outcomes),
            "failed": sum(o.failed for o in outcomes),
            "lost": sum(o.lost for o in outcomes),
        },
        "overlaps": sum(o.overlaps for o in outcomes),
        "duplicate_submissions": sum(o.duplicate_submissions for o in outcomes),
        "status_incomplete": sum(o.status_incomplete for o in outcomes),
        "recovery_seconds": recovery,
        "scenarios": [r.as_dict() for r in results],
    }


def markdown(report: dict[str, Any]) -> str:
    """The report's table, for the README and for a terminal."""
    rows = []
    for scenario in report["scenarios"]:
        recovery = scenario.get("recovery_seconds") or {}
        rows.append(
            {
                "name": scenario["name"],
                "faults": scenario["faults"],
                "apps": (scenario.get("outcome") or {}).get("apps"),
                "lost": (scenario.get("outcome") or {}).get("lost"),
                "overlaps": (scenario.get("outcome") or {}).get("overlaps"),
                "duplicates": (scenario.get("outcome") or {}).get("duplicate_submissions"),
                "recovery_p50": recovery.get("p50"),
                "recovery_max": recovery.get("max"),
                "passed": "yes" if scenario["passed"] else f"NO: {scenario.get('error') or 'see outcome'}",
            }
        )
    columns = [
        ("scenario", "name"), ("faults", "faults"), ("apps", "apps"), ("lost", "lost"),
        ("overlaps", "overlaps"), ("duplicate submissions", "duplicates"),
        ("recovery p50 (s)", "recovery_p50"), ("recovery max (s)", "recovery_max"), ("passed", "passed"),
    ]  # fmt: skip
    table = markdown_table(rows, columns)
    seeded = [s for s in report["scenarios"] if "seed" in (s.get("details") or {})]
    for scenario in seeded:  # the randomized scenario: what replays it, and what it changed
        details = scenario["details"]
        kinds = ", ".join(f"{kind} {n}" for kind, n in details.get("changes_by_kind", {}).items())
        table += (
            f'\n\n{scenario["name"]}: seed {details["seed"]} (replay: `make chaos CHAOS_ARGS="--only '
            f'{scenario["name"]} --seed {details["seed"]}"`); {details.get("changes")} changes ({kinds}); '
            f"{details.get('applications')} applications, {details.get('lost')} lost, "
            f"{details.get('duplicate_submissions')} duplicate submissions, "
            f"{details.get('per_object_overlaps')} per-object overlaps"
        )
    return table
