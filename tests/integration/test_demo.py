"""The demo's engine on a tiny workload: the report has its shape, and nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkfleet.demo.runner import RunConfig, run
from sparkfleet.demo.workload import Workload
from sparkfleet.sim import SimConfig

pytestmark = pytest.mark.timeout(240)

KEYS = {
    "apps_total", "apps_completed", "apps_failed", "apps_lost", "overlaps", "submit_latency_seconds",
    "submissions_per_minute", "status_latency_seconds", "queue_duration_seconds_p99", "makespan_seconds",
    "api_requests_total", "api_requests_per_app", "fleet_write_rate_per_s", "apiserver_write_ceiling_per_s",
    "write_rate_vs_ceiling", "per_instance", "cpu_seconds_total", "sharding_cpu_overhead", "failover_seconds",
    "handoff_seconds", "simulator", "workload", "submission_phase",
}  # fmt: skip


async def test_a_tiny_run_reports_everything_and_loses_nothing(tmp_path: Path) -> None:
    config = RunConfig(
        instances=2,
        workload=Workload(namespaces=3, apps_per_namespace=2, executors=(1, 2), failures=1),
        sim=SimConfig(start_delay=(0.05, 0.1), run_time=(0.5, 1.0)),
        lease=(4, 3, 1),
        arrival_per_minute=360,  # one every 1/6 s: the last is created 5/6 s after the first
        workdir=tmp_path,
    )
    report = await run(config)
    assert set(report) >= KEYS
    assert report["apps_total"] == 6
    assert (report["apps_completed"], report["apps_failed"], report["apps_lost"]) == (5, 1, 0)
    assert report["overlaps"] == 0
    assert report["submit_latency_seconds"]["p50"] is not None
    assert report["status_latency_seconds"]["max"] is not None
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
