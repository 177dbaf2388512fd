"""Fleet tests: several `sparkfleet run --fleet` processes share 40 namespace shards.

Each test checks, from the members' audit logs, that no two members ever
reconciled one shard at overlapping times, and that every application is
reconciled (and completes) whatever happens to the members.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import PODS
from sparkfleet.sharding.planner import Member, Shard, plan
from sparkfleet.testing import ControlPlane
from tests.fleet.harness import FleetUnderTest

pytestmark = pytest.mark.timeout(300)

SUBMITTED = {"SUBMITTED", "RUNNING"}
DONE = {"COMPLETED"}


@pytest.fixture
async def fleet(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> AsyncIterator[FleetUnderTest]:
    under_test = FleetUnderTest(control_plane, kube, tmp_path)
    await under_test.create()
    yield under_test
    await under_test.close()


def holders(status: dict[str, object]) -> Counter[str]:
    return Counter(s["holder"] for s in status["shards"])  # type: ignore[attr-defined]


def bound(members: int, shards: int) -> float:
    """The planner's own bound for equal members and unit shards."""
    result = plan([Member(f"m{i}") for i in range(members)], [Shard(f"s{i}") for i in range(shards)], {})
    return max(result.bounds.values())


async def start_all(fleet: FleetUnderTest, identities: list[str]) -> None:
    for identity in identities:
        await fleet.start(identity)


async def test_three_members_split_forty_shards(fleet: FleetUnderTest) -> None:
    await start_all(fleet, ["m1", "m2", "m3"])
    status = await fleet.wait_settled(["m1", "m2", "m3"])
    counts = holders(status)
    assert sum(counts.values()) == 40
    assert max(counts.values()) <= bound(3, 40), counts
    apps = await fleet.create_apps(per_namespace=2)
    await fleet.wait_states(SUBMITTED, len(apps))
    await fleet.wait_audited(apps)
    handoffs = sum([await i.metric("sparkfleet_shard_handoffs_total") for i in fleet.instances.values()])
    print(f"\nsplit: {sorted(counts.values())} shards per member; {handoffs:g} hand-offs in all")
    fleet.assert_no_overlaps()
    fleet.finish_drivers = True
    await fleet.wait_states(DONE, len(apps))


async def test_killed_member_shards_are_taken_over(fleet: FleetUnderTest) -> None:
    await start_all(fleet, ["m1", "m2", "m3"])
    status = await fleet.wait_settled(["m1", "m2", "m3"])
    apps = await fleet.create_apps()
    await fleet.wait_states(SUBMITTED, len(apps))
    victim = status["coordinator"]  # the hardest case: the coordinator goes too
    lost = holders(status)[victim]
    killed_at = time.monotonic()
    await fleet.kill(victim)
    survivors = [m for m in ["m1", "m2", "m3"] if m != victim]
    status = await fleet.wait_settled(survivors, timeout=30)
    took = time.monotonic() - killed_at
    duration = fleet.lease[0]
    print(f"\nfailover: {lost} shards of {victim} taken over in {took:.1f}s (lease duration {duration}s)")
    assert took <= duration + 4, f"failover took {took:.1f}s"
    assert status["coordinator"] in survivors
    fleet.finish_drivers = True
    await fleet.wait_states(DONE, len(apps))  # nothing lost: the survivors finish every application
    fleet.assert_no_overlaps()


async def test_joining_member_gets_shards_by_graceful_handoff(fleet: FleetUnderTest) -> None:
    await start_all(fleet, ["m1", "m2", "m3"])
    await fleet.wait_settled(["m1", "m2", "m3"])
    apps = await fleet.create_apps()
    await fleet.wait_states(SUBMITTED, len(apps))
    joiner = await fleet.start("m4")
    status = await fleet.wait_settled(["m1", "m2", "m3", "m4"])
    moved = holders(status)["m4"]
    assert moved >= 1, status
    deadline = time.monotonic() + 10  # "Held" is written at the claim; the duration once its caches synced
    while (handoffs := await joiner.metric("sparkfleet_shard_handoff_duration_seconds_count")) < moved:
        assert time.monotonic() < deadline, await joiner.metrics()
        await asyncio.sleep(0.1)
    within_second = await joiner.metric('sparkfleet_shard_handoff_duration_seconds_bucket{le="1.0"}')
    print(f"\njoin: {moved} shards moved to m4 by hand-off; {within_second:g}/{handoffs:g} took under 1 s")
    assert handoffs >= moved
    assert within_second == handoffs, (await joiner.metrics())[-3000:]
    took = fleet.handoff_seconds()
    print(f"hand-offs to the joiner: {', '.join(f'{t:.3f}s' for t in took)}")
    # a full rebalance through the CLI: shows the moves, applies them, follows them
    code, out = await fleet.cli("rebalance", "--timeout", "60s")
    assert code == 0, out
    assert "REASON" in out  # the moves, shown before they are applied
    status = await fleet.wait_settled(["m1", "m2", "m3", "m4"])
    assert sorted(holders(status).values()) == [10, 10, 10, 10], (out, holders(status))
    fleet.finish_drivers = True
    await fleet.wait_states(DONE, len(apps))
    fleet.assert_no_overlaps()


async def test_rolling_restart_loses_nothing(fleet: FleetUnderTest) -> None:
    members = ["m1", "m2", "m3"]
    await start_all(fleet, members)
    await fleet.wait_settled(members)
    apps = await fleet.create_apps(prefix="before")
    for generation, old in enumerate(["m1", "m2", "m3"]):
        new = f"m{4 + generation}"
        code = await fleet.terminate(old)
        assert code == 0, fleet.logs()
        members = [m for m in members if m != old]
        await fleet.start(new)
        members.append(new)
        apps += await fleet.create_apps(prefix=f"during-{generation}")
        await fleet.wait_settled(members)
    await fleet.wait_states(SUBMITTED, len(apps))
    fleet.finish_drivers = True
    states = await fleet.wait_states(DONE, len(apps))
    assert len(states) == len(apps)
    fleet.assert_no_overlaps()
    took = fleet.handoff_seconds()
    print(
        f"\nrolling restart: {len(took)} hand-offs, median {took[len(took) // 2]:.3f}s, max {took[-1]:.3f}s"
    )
    # Graceful: each new holder took over as the old one let go, never by waiting for its Lease
    # to expire. The < 1 s target is the benchmark's to report (a timed assertion on a shared
    # 2-core machine only measures what else runs at that moment).
    assert len(took) >= 3 * 10
    assert took[-1] < fleet.lease[0], f"a hand-off took {took[-1]:.2f}s: as long as a failover"


@pytest.fixture
async def routed(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> AsyncIterator[FleetUnderTest]:
    under_test = FleetUnderTest(
        control_plane, kube, tmp_path, routing_label="team", routing_values=["gold", "silver", "bronze"]
    )
    await under_test.create()
    yield under_test
    await under_test.close()


async def test_one_namespace_split_by_a_routing_label_and_steered_with_the_cli(
    routed: FleetUnderTest,
) -> None:
    fleet = routed
    await start_all(fleet, ["m1", "m2"])
    await fleet.wait_settled(["m1", "m2"])
    apps = []
    for team in ("gold", "silver", "bronze"):
        apps += await fleet.create_apps(per_namespace=3, prefix=team, labels={"team": team})
    apps += await fleet.create_apps(per_namespace=2, prefix="untagged")  # no label: the catch-all's
    await fleet.wait_states(SUBMITTED, len(apps))
    own = f"{fleet.app_namespaces[0]}/"  # label shards are cluster-wide: other tests' leftovers show up too
    for line in fleet.audit():  # each application was reconciled in the shard its label routes it to
        if not line["key"].startswith(own):
            continue
        name = line["key"].split("/", 1)[1]
        assert line["shard"] == ("rest" if name.startswith("untagged") else name.split("-", 1)[0]), line
    pods, _ = await fleet.kube.list_all(PODS, fleet.app_namespaces[0], label_selector="spark-role=driver")
    assert {p["metadata"]["labels"].get("team") for p in pods} == {"gold", "silver", "bronze", None}

    code, out = await fleet.cli("status", "-o", "json")
    assert code == 0, out
    report = json.loads(out)
    assert {s["name"] for s in report["shards"]} == {"gold", "silver", "bronze", "rest"}
    assert {m["member"] for m in report["members"]} == {"m1", "m2"}
    gold = next(s for s in report["shards"] if s["name"] == "gold")
    other = "m2" if gold["holder"] == "m1" else "m1"

    code, out = await fleet.cli("move", "gold", "--to", other, "--timeout", "30s")
    assert code == 0, out
    assert f'shard "gold" is held by "{other}"' in out

    code, out = await fleet.cli("drain", other, "--timeout", "30s")
    assert code == 0, out
    status = await fleet.status()
    assert all(s["holder"] != other for s in status["shards"])  # draining beats the pin
    code, out = await fleet.cli("status")
    assert code == 0, out
    assert "SHARD" in out
    assert "Draining" in out
    code, out = await fleet.cli("move", "silver", "--to", other)
    assert code == 1
    assert "draining" in out
    code, out = await fleet.cli("undrain", other)
    assert code == 0, out
    code, out = await fleet.cli("plan", "-o", "yaml")
    assert code == 0, out
    code, out = await fleet.cli("move", "gold", "--to", "nobody")
    assert code == 1
    assert 'member "nobody" is not in the fleet' in out

    fleet.finish_drivers = True
    await fleet.wait_states(DONE, len(apps))
    fleet.assert_no_overlaps()
    for instance in fleet.instances.values():
        text = await instance.metrics()
        for name in (
            "sparkfleet_shards_held{",
            "sparkfleet_shard_handoffs_total{",
            "sparkfleet_shard_handoff_duration_seconds_bucket",
            "sparkfleet_lease_renew_failures_total",
            "sparkfleet_members{",
            "sparkfleet_is_coordinator{",
        ):
            assert name in text, name
