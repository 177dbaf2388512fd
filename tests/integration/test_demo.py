"""The demo's engine on a tiny workload: the report has its shape, nothing is lost, every step is said."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkfleet.demo.runner import RunConfig, run
from sparkfleet.demo.snapshot import Phase, Snapshot
from sparkfleet.demo.workload import Workload
from sparkfleet.sim import SimConfig

pytestmark = pytest.mark.timeout(240)

KEYS = {
    "apps_total", "apps_completed", "apps_failed", "apps_lost", "apps_by_state", "overlaps",
    "submit_latency_seconds", "first_status_latency_seconds", "submissions_per_minute",
    "status_latency_seconds", "makespan_seconds", "api_requests_total", "api_requests_per_app",
    "fleet_write_rate_per_s", "apiserver_write_ceiling_per_s", "write_rate_vs_ceiling", "per_instance",
    "cpu_seconds_total", "sharding_cpu_overhead", "failover_seconds", "failover", "handoff_seconds",
    "simulator", "workload", "submission_phase", "fleet_at_end", "fences", "shard_moves",
}  # fmt: skip
LATENCIES = ("submit_latency_seconds", "first_status_latency_seconds", "status_latency_seconds")


async def test_a_tiny_run_reports_everything_and_loses_nothing(tmp_path: Path) -> None:
    config = RunConfig(
        instances=2,
        workload=Workload(namespaces=3, apps_per_namespace=2, executors=(1, 2), failures=1),
        sim=SimConfig(start_delay=(0.05, 0.1), run_time=(0.5, 1.0)),
        lease=(4, 3, 1),
        arrival_per_minute=360,  # one every 1/6 s: the last is created 5/6 s after the first
        workdir=tmp_path,
    )
    events: list[Snapshot | Phase] = []
    report = await run(config, events.append)
    assert set(report) >= KEYS
    assert not any("queue" in key for key in report)  # the bucket-interpolated queue p99 is gone
    assert report["apps_total"] == 6
    assert (report["apps_completed"], report["apps_failed"], report["apps_lost"]) == (5, 1, 0)
    assert report["overlaps"] == 0
    assert report["apps_by_state"] == {"COMPLETED": 5, "FAILED": 1}
    assert report["submit_latency_seconds"]["count"] == 6
    assert report["first_status_latency_seconds"]["count"] == 6  # one per application, observed
    assert report["status_latency_seconds"]["count"] >= 6
    for key in LATENCIES:  # percentiles of the samples: never beyond the largest, nor the run
        figures = report[key]
        assert (
            figures["p50"] <= figures["p90"] <= figures["p99"] <= figures["max"] <= report["makespan_seconds"]
        )
    assert report["failover"] is None
    assert report["fleet_at_end"]["shards"] == 3
    assert report["fleet_at_end"]["unheld_shards"] == 0
    members = report["fleet_at_end"]["members"]
    assert [m["identity"] for m in members] == ["member-1", "member-2"]
    assert sum(m["shards"] for m in members) == 3
    assert not any(m["gone"] for m in members)
    assert report["apiserver_write_ceiling_per_s"] > 0
    assert report["workload"]["arrival_per_minute"] == 360
    phase = report["submission_phase"]
    assert phase["seconds"] >= 5 / 6  # paced, not a burst
    assert phase["fleet_writes_per_s"] > 0
    assert 0 < phase["vs_ceiling"] < 1
    assert report["api_requests_per_app"]["POST"] >= 4  # driver pod, ConfigMap, two Services at least
    assert set(report["per_instance"]) == {"member-1", "member-2"}
    for usage in report["per_instance"].values():
        assert usage["cpu_seconds"] > 0
        assert usage["startup_cpu_seconds"] > 0  # imports, first lists: not counted as the workload's
        assert usage["peak_rss_mib"] > 0
    assert sum(u["reconciles"] for u in report["per_instance"].values()) >= 6
    phases = [e.text for e in events if isinstance(e, Phase)]
    assert phases[0].startswith("starting the control plane")
    assert any(p.startswith("waiting for the fleet to settle") for p in phases)
    assert any(p.startswith("measuring the API server's write ceiling") for p in phases)
    assert any(p.startswith("tearing down: stopping 2 instance(s)") for p in phases)
    assert phases[-1] == "stopping the control plane"
    assert any(isinstance(e, Snapshot) for e in events)
