"""Every fault scenario of ``make chaos``, at the short scale: each on a control plane of its own,
with a real fleet, the pod simulator and a workload. ``make chaos`` runs them long (more faults,
the seed workload) and writes the report."""

from __future__ import annotations

from pathlib import Path

from sparkfleet.chaos.scenarios import SCENARIOS, SHORT, ScenarioResult


async def run(name: str, tmp_path: Path) -> ScenarioResult:
    result = await SCENARIOS[name](SHORT, tmp_path)
    assert result.outcome is not None, result.as_dict()
    assert result.passed, result.as_dict()
    assert result.faults >= 1
    assert result.outcome.completed == result.outcome.apps
    return result


async def test_kill_storm(tmp_path: Path) -> None:
    result = await run("kill-storm", tmp_path)
    assert result.faults == SHORT.kills
    lease = result.details["lease_duration_seconds"]
    assert max(result.recovery_seconds) <= lease + 3, result.recovery_seconds  # DESIGN: crash failover


async def test_controlplane_restart(tmp_path: Path) -> None:
    result = await run("controlplane-restart", tmp_path)
    assert len(result.details["restarts"]) == len(SHORT.restarts)


async def test_etcd_compaction_forces_relists_and_misses_nothing(tmp_path: Path) -> None:
    result = await run("etcd-compaction", tmp_path)
    assert result.details["informer_relists"] > 0


async def test_apf_throttling_is_waited_out(tmp_path: Path) -> None:
    result = await run("apf-throttled", tmp_path)
    assert result.details["rest_client_429"] > 0


async def test_cut_off_member_stops_in_time_and_rejoins(tmp_path: Path) -> None:
    result = await run("cut-off", tmp_path)
    for cut in result.details["cuts"]:
        assert cut["stopped_after_seconds"] <= cut["renew_deadline_seconds"] + 1, cut
        assert cut["rejoined_after_heal_seconds"] is not None, cut


async def test_slow_api_server_submits_once_and_loses_no_status(tmp_path: Path) -> None:
    result = await run("slow-api", tmp_path)
    assert result.outcome is not None
    assert result.outcome.duplicate_submissions == 0
    assert result.outcome.status_incomplete == 0
