"""A fleet whose shards are namespace selectors: a namespace relabelled from one shard to another,
held by another member, while its applications run. Per object (the members' audit logs): no key
reconciled by two members at overlapping times, and none stranded (every application completes)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import NAMESPACES
from sparkfleet.testing import ControlPlane
from tests.fleet.harness import FleetUnderTest

pytestmark = pytest.mark.timeout(300)

KEY = "sparkfleet.test/colour"
SUBMITTED = {"SUBMITTED", "RUNNING"}


@pytest.fixture
async def selected(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> AsyncIterator[FleetUnderTest]:
    stem = uuid.uuid4().hex[:6]
    under_test = FleetUnderTest(
        control_plane,
        kube,
        tmp_path,
        namespace=f"nsfleet-{stem}",
        app_namespaces=[f"nsfleet-{stem}-{i}" for i in range(3)],
        shard_specs=[
            {"name": "blue", "namespaceSelector": f"{KEY}=blue-{stem}"},
            {"name": "green", "namespaceSelector": f"{KEY}=green-{stem}"},
        ],
    )
    await under_test.create()
    yield under_test
    await under_test.close()


async def colour(fleet: FleetUnderTest, namespace: str, value: str) -> None:
    stem = fleet.namespace.removeprefix("nsfleet-")
    await fleet.kube.patch(NAMESPACES, namespace, {"metadata": {"labels": {KEY: f"{value}-{stem}"}}})


async def test_a_namespace_relabelled_to_another_members_shard_moves_without_overlap(
    selected: FleetUnderTest,
) -> None:
    fleet = selected
    moving, blue, green = fleet.app_namespaces
    for namespace, value in ((moving, "blue"), (blue, "blue"), (green, "green")):
        await colour(fleet, namespace, value)
    await fleet.start("m1")
    await fleet.start("m2")
    status = await fleet.wait_settled(["m1", "m2"])
    held = {s["name"]: s["holder"] for s in status["shards"]}
    if held["blue"] == held["green"]:  # two shards, two members: make sure they are apart
        other = "m2" if held["blue"] == "m1" else "m1"
        code, out = await fleet.cli("move", "green", "--to", other, "--timeout", "30s")
        assert code == 0, out
        held["green"] = other
    apps = await fleet.create_apps(per_namespace=3)
    await fleet.wait_states(SUBMITTED, len(apps))
    await fleet.wait_audited(apps)
    assert {line["shard"] for line in fleet.audit() if line["key"].startswith(f"{moving}/")} == {"blue"}

    await colour(fleet, moving, "green")  # its applications are running: blue's holder lets them go
    fleet.app_namespaces, every = [moving], fleet.app_namespaces
    try:
        after = await fleet.create_apps(per_namespace=2, prefix="after")
    finally:
        fleet.app_namespaces = every
    apps += after
    await fleet.wait_states(SUBMITTED, len(apps))
    lines = await fleet.wait_audited(after)
    for line in lines:
        if line["key"].startswith(f"{moving}/after-"):
            assert (line["shard"], line["member"]) == ("green", held["green"]), line

    fleet.finish_drivers = True
    await fleet.wait_states({"COMPLETED"}, len(apps))  # nothing stranded
    finished = [
        line
        for line in fleet.audit()
        if line["key"].startswith(f"{moving}/app-") and line["shard"] == "green"
    ]
    assert finished, "the moved namespace's running applications were finished by green's holder"
    fleet.assert_no_overlaps()
