"""Fleet tests: several `sparkfleet run --fleet` processes share 40 namespace shards.

Each test checks, from the members' audit logs, that no two members ever
reconciled one shard at overlapping times, and that every application is
reconciled (and completes) whatever happens to the members.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import PODS
from sparkfleet.operator.audit import overlaps
from sparkfleet.sharding.planner import Member, Shard, plan
from sparkfleet.testing import ControlPlane
from tests.fleet.harness import FleetUnderTest, key_handovers

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


# -- a shard's definition is part of its identity (DESIGN rule 4) ----------------------------------


async def _flow(fleet: FleetUnderTest, keys: list[tuple[str, str]], stop: asyncio.Event) -> None:
    """Applications keep arriving, one per namespace every 0.3 s, until ``stop``."""
    wave = 0
    while not stop.is_set():
        keys += await fleet.create_apps(prefix=f"flow-{wave}")
        wave += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.3)


async def _served_by(
    fleet: FleetUnderTest, namespace: str, member: str, prefix: str
) -> list[tuple[str, str]]:
    """Until an application created in ``namespace`` is reconciled by ``member`` alone; the probes made.

    A probe created just after a spec edit may still be reconciled by the member that served the
    namespace until it let go (that is a hand-off, not an overlap); a later one must not be.
    """
    deadline = time.monotonic() + 30
    every, probes = fleet.app_namespaces, list[tuple[str, str]]()
    while True:
        fleet.app_namespaces = [namespace]
        try:
            [key] = await fleet.create_apps(prefix=f"{prefix}-{len(probes)}")
        finally:
            fleet.app_namespaces = every
        probes.append(key)
        lines = await fleet.wait_audited([key], timeout=30)
        members = {line["member"] for line in lines if line["key"] == f"{key[0]}/{key[1]}"}
        if members == {member}:
            return probes
        assert time.monotonic() < deadline, (key, members, fleet.logs())
        await asyncio.sleep(0.5)


async def test_a_namespace_moved_between_shards_is_never_served_twice(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> None:
    fleet = FleetUnderTest(control_plane, kube, tmp_path, shards=3)
    await fleet.create()
    try:
        ns0, ns1, ns2 = fleet.app_namespaces
        spec = {"shards": [{"name": "a", "namespaces": [ns0, ns1]}, {"name": "b", "namespaces": [ns2]}],
                "pins": {"a": "m1", "b": "m2"}}  # fmt: skip
        await kube.patch(SPARK_FLEETS, fleet.name, {"spec": spec}, fleet.namespace)
        fleet.shards = 2
        await start_all(fleet, ["m1", "m2"])
        status = await fleet.wait_settled(["m1", "m2"])
        assert {s["name"]: s["holder"] for s in status["shards"]} == {"a": "m1", "b": "m2"}
        keys: list[tuple[str, str]] = []
        stop = asyncio.Event()
        flow = asyncio.create_task(_flow(fleet, keys, stop))
        await asyncio.sleep(2)
        # ns1 moves from a (m1) to b (m2) while applications flow
        moved = {"shards": [{"name": "a", "namespaces": [ns0]}, {"name": "b", "namespaces": [ns2, ns1]}]}
        await kube.patch(SPARK_FLEETS, fleet.name, {"spec": moved}, fleet.namespace)
        keys += await _served_by(fleet, ns1, "m2", "after-move")
        await asyncio.sleep(2)
        # then b (now with ns1) is pinned to m1
        await kube.patch(
            SPARK_FLEETS, fleet.name, {"spec": {"pins": {"a": "m1", "b": "m1"}}}, fleet.namespace
        )
        keys += await _served_by(fleet, ns1, "m1", "after-pin")
        await asyncio.sleep(2)
        stop.set()
        await flow
        await fleet.wait_states(SUBMITTED, len(keys))
        lines = await fleet.wait_audited(keys)
        found = overlaps(lines)
        assert not found, f"{len(found)} overlapping reconciles of one object: {found[:3]}"
        turns = {key: members for key, members in key_handovers(lines).items() if len(members) > 1}
        back_and_forth = {key: members for key, members in turns.items() if len(members) > 3}
        assert not back_and_forth, back_and_forth  # each key changed hands at most twice (move, pin)
        moved_keys = [k for k in turns if k.startswith(f"{ns1}/")]
        print(f"\nmove: {len(keys)} applications, {len(moved_keys)} of {ns1} changed hands, 0 overlaps")
        fleet.finish_drivers = True
        await fleet.wait_states(DONE, len(keys))
        assert not overlaps(fleet.audit())
    finally:
        await fleet.close()


# -- one identity, one process (DESIGN rule 5) ------------------------------------------------------


async def test_a_second_process_with_the_same_identity_refuses_to_start(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> None:
    fleet = FleetUnderTest(control_plane, kube, tmp_path, shards=3)
    await fleet.create()
    try:
        first = await fleet.start("m1")
        await fleet.wait_settled(["m1"])
        apps = await fleet.create_apps(prefix="before")
        twin = await fleet.start("m1", process="m1-twin")
        assert twin.proc is not None
        code = await asyncio.wait_for(twin.proc.wait(), 30)
        del fleet.instances["m1-twin"]  # its exit is the point, not a failure of the fleet
        out = twin.log_path.read_text()
        lease = f"{fleet.namespace}/fleet-member-m1"
        assert code == 3, out[-3000:]
        errors = [line for line in out.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, out[-3000:]
        assert f"identity 'm1' is in use: member Lease {lease} is held by 'm1'" in errors[0]
        assert "Traceback" not in out
        assert not twin.audit_path.exists() or not twin.audit_path.read_text().strip()  # reconciled nothing
        # the first keeps serving
        apps += await fleet.create_apps(prefix="after")
        await fleet.wait_states(SUBMITTED, len(apps))
        await fleet.wait_audited(apps)
        assert first.running
        await fleet.wait_settled(["m1"])
        # a restart after kill -9 takes the identity over once the Lease expires
        await fleet.kill("m1")
        killed_at = time.monotonic()
        await fleet.start("m1", process="m1-again")
        await fleet.wait_settled(["m1"], timeout=30)
        apps += await fleet.create_apps(prefix="restarted")
        lines = await fleet.wait_audited(apps)
        took = time.monotonic() - killed_at
        again = fleet.instances["m1-again"]
        assert again.running
        assert "taking over the member Lease" in again.log_path.read_text()
        assert any(line["key"].endswith("/restarted-0") for line in lines)
        assert took >= fleet.lease[0] - 1, took  # it waited the crashed process's Lease out
        print(f"\nduplicate identity refused (exit {code}); restart after kill -9 took over in {took:.1f}s")
        fleet.finish_drivers = True
        await fleet.wait_states(DONE, len(apps))
    finally:
        await fleet.close()
