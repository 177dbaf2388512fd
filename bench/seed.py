"""The seed-scale benchmark: the same workload with 1, 2 and 4 instances, each on a fresh control plane.

Writes ``bench/results/<name>.json`` (every run's full report, plus the
sharding CPU overhead of each fleet size against one instance) and
``bench/results/<name>.md`` (a table with the targets of docs/benchmarks.md). Every
percentile is of observed samples, one per application or status change (see
``sparkfleet/demo/observer.py``), never of histogram buckets; the rendering
of the table from the JSON is ``markdown``.

Run: ``python -m bench.seed`` (``make bench``); ``--namespaces 100
--apps-per-namespace 40`` for 4,000 applications (``make bench-large``); ``--profile DIR`` samples
each instance with py-spy while the workload runs (collapsed stacks, one file per member).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop

from sparkfleet.demo.report import markdown_table, ratio
from sparkfleet.demo.runner import RunConfig, run
from sparkfleet.demo.units import duration
from sparkfleet.demo.workload import Workload, parse_range
from sparkfleet.logs import configure_logging
from sparkfleet.sim import SimConfig

RESULTS = Path(__file__).resolve().parent / "results"

COLUMNS = [
    ("instances", "instances"),
    ("arrivals/min", "workload.arrival_per_minute"),
    ("apps", "apps_total"),
    ("lost", "apps_lost"),
    ("overlaps", "overlaps"),
    ("fences", "fences"),
    ("shard moves", "shard_moves"),
    ("submissions/min", "submissions_per_minute"),
    ("submit p50 s", "submit_latency_seconds.p50"),
    ("submit p99 s", "submit_latency_seconds.p99"),
    ("first status p99 s", "first_status_latency_seconds.p99"),
    ("status p50 s", "status_latency_seconds.p50"),
    ("status p99 s", "status_latency_seconds.p99"),
    ("makespan s", "makespan_seconds"),
    ("requests/app", "requests_per_app"),
    ("fleet CPU s", "cpu_seconds_total"),
    ("CPU vs 1", "sharding_cpu_overhead"),
    ("max RSS MiB", "max_peak_rss_mib"),
    ("ceiling writes/s", "apiserver_write_ceiling_per_s"),
    ("fleet writes/s while submitting", "submission_phase.fleet_writes_per_s"),
    ("vs ceiling", "submission_phase.vs_ceiling"),
    ("all writes/s while submitting", "submission_phase.all_writes_per_s"),
    ("all vs ceiling", "submission_phase.all_vs_ceiling"),
    ("simulator CPU s", "simulator.cpu_seconds"),
]

TARGETS = (
    "Targets (docs/benchmarks.md): submissions >= 1,000/min from one instance; status p99 < 1 s at seed "
    "scale; apps lost = 0 and overlaps = 0 always; CPU with 4 instances <= 1.10 x one instance; peak RSS "
    "< 150 MiB per instance; write rate >= 80% of the ceiling when write-bound."
)
LEGEND = (
    "Latencies are percentiles (nearest rank) of what the benchmark observed per application: submit = "
    "the create call -> the driver pod appears; first status = the create call -> the application's status "
    "first appears (the operator's queue and the submission); status = the simulator writes a pod phase -> "
    "the application's status shows it. A dash is a figure the run did not measure."
)


async def bench(
    name: str,
    sizes: list[int],
    workload: Workload,
    sim: SimConfig,
    syncs: int,
    arrival: float | None,
    profile: Path | None = None,
) -> dict[str, Any]:
    runs = []
    for instances in sizes:
        started = time.monotonic()
        print(f"{name}: {workload.total} applications with {instances} instance(s)...", flush=True)
        config = RunConfig(
            instances=instances,
            workload=workload,
            sim=sim,
            concurrent_syncs=syncs,
            arrival_per_minute=arrival,
            profile=profile / f"{instances}-instances" if profile else None,
        )
        report = await run(config)
        report["wall_seconds"] = round(time.monotonic() - started, 1)
        runs.append(report)
        status_p99 = report["status_latency_seconds"]["p99"]
        print(
            f"  done in {duration(report['wall_seconds'])}: lost {report['apps_lost']}, "
            f"overlaps {report['overlaps']}, {report['submissions_per_minute']} submissions/min, "
            f"status p99 {duration(status_p99)}",
            flush=True,
        )
    single = next((r["cpu_seconds_total"] for r in runs if r["instances"] == 1), None)
    for report in runs:
        report["sharding_cpu_overhead"] = ratio(report["cpu_seconds_total"], single)
        report["max_peak_rss_mib"] = max(
            (i["peak_rss_mib"] for i in report["per_instance"].values()), default=None
        )
        report["requests_per_app"] = round(sum(report["api_requests_per_app"].values()), 1)
    return {
        "name": name,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="seed")
    parser.add_argument("--instances", default="1,2,4", help="fleet sizes to run, comma-separated")
    parser.add_argument("--namespaces", type=int, default=40)
    parser.add_argument("--apps-per-namespace", type=int, default=10)
    parser.add_argument("--executors", default="1-10")
    parser.add_argument("--run-time", default="10-30", help="seconds each application runs")
    parser.add_argument("--concurrent-syncs", type=int, default=10)
    parser.add_argument(
        "--start-delay", default="0.1-0.3", help="seconds from a pod's creation to Running (a range)"
    )
    parser.add_argument(
        "--arrival-per-minute", type=float, default=None, help="submit at this pace (default: all at once)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="profile each instance with py-spy while the workload runs: DIR/<N>-instances/<member>.txt",
    )
    args = parser.parse_args()
    configure_logging("text", "error")
    low, high = parse_range(args.run_time)
    workload = Workload(args.namespaces, args.apps_per_namespace, parse_range(args.executors))
    sizes = [int(n) for n in args.instances.split(",")]
    for n in sizes if args.profile else []:
        (args.profile / f"{n}-instances").mkdir(parents=True, exist_ok=True)
    result = uvloop.run(
        bench(
            args.name,
            sizes,
            workload,
            SimConfig(run_time=(float(low), float(high)), start_delay=parse_range(args.start_delay, float)),
            args.concurrent_syncs,
            args.arrival_per_minute,
            args.profile,
        )
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    text = markdown(result)
    (RESULTS / f"{args.name}.md").write_text(text)
    print(text)


def markdown(result: dict[str, Any]) -> str:
    """The results page of one benchmark, from its JSON (so an old result can be rendered again)."""
    runs = result["runs"]
    workload = runs[0]["workload"] if runs else {}
    executors = "-".join(str(n) for n in workload.get("executors", ()))
    run_time = "-".join(f"{s:g}" for s in workload.get("app_run_time_seconds", ()))
    total = runs[0]["apps_total"] if runs else 0
    text = f"# {result['name']}: {total} applications, executors {executors}, run time {run_time}s\n\n"
    return text + f"{markdown_table(runs, COLUMNS)}\n\n{LEGEND}\n\n{TARGETS}\n"


if __name__ == "__main__":
    main()
