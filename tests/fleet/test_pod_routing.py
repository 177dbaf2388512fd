"""An application and its pods are one unit, in a fleet of two members routed by a label's values.

The members are real `sparkfleet run --fleet` processes; the test plays Spark's driver where it
creates executors (named and labelled from the submission's ConfigMap, owned by the driver) and
the harness's kubelet stand-in moves drivers to Running, then Succeeded. Shards ``gold`` and
``silver`` are held by different members, so an application whose label moves from one to the
other changes hands, and its pods must follow it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import CONFIGMAPS, PODS
from sparkfleet.operator.audit import overlaps
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.submission import PROPERTIES_FILE, parse_properties
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.fleet.harness import FleetUnderTest
from tests.support import eventually

pytestmark = pytest.mark.timeout(300)

TIER = "tier"
MEMBERS = ["m1", "m2"]


@pytest.fixture
async def tiered(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> AsyncIterator[FleetUnderTest]:
    under_test = FleetUnderTest(
        control_plane, kube, tmp_path, routing_label=TIER, routing_values=["gold", "silver"]
    )
    await under_test.create()
    yield under_test
    await under_test.close()


async def split_gold_and_silver(fleet: FleetUnderTest) -> dict[str, str]:
    """Shard -> holder, with gold and silver held by different members."""
    status = await fleet.wait_settled(MEMBERS)
    holder = {s["name"]: s["holder"] for s in status["shards"]}
    if holder["gold"] == holder["silver"]:
        other = next(m for m in MEMBERS if m != holder["gold"])
        code, out = await fleet.cli("move", "silver", "--to", other, "--timeout", "30s")
        assert code == 0, out
        status = await fleet.wait_settled(MEMBERS)
        holder = {s["name"]: s["holder"] for s in status["shards"]}
    assert holder["gold"] != holder["silver"], holder
    return holder


def application(name: str, namespace: str, tier: str, pod_tier: str | None = None) -> dict[str, Any]:
    manifest = manifests.spark_pi(name, namespace)
    manifest["metadata"]["labels"] = {TIER: tier}
    if pod_tier is not None:  # the pods' own labels say otherwise
        manifest["spec"]["driver"]["labels"][TIER] = pod_tier
        manifest["spec"]["executor"]["labels"][TIER] = pod_tier
    return manifest


async def pods_of(kube: KubeClient, namespace: str, app: str) -> list[dict[str, Any]]:
    items, _ = await kube.list_all(PODS, namespace, label_selector=f"{naming.LABEL_APP_NAME}={app}")
    return items


async def start_executor(kube: KubeClient, namespace: str, app: str, executor_id: int) -> dict[str, Any]:
    """An executor as the Spark driver creates it: named and labelled from its submission's properties
    (as they were at submission), owned by the driver pod."""
    status = (await kube.get(SPARK_APPLICATIONS, app, namespace))["status"]
    driver = await kube.get(PODS, status["driverInfo"]["podName"], namespace)
    volume = next(v for v in driver["spec"]["volumes"] if v["name"] == "spark-conf-volume-driver")
    config_map = await kube.get(CONFIGMAPS, volume["configMap"]["name"], namespace)
    props = parse_properties(config_map["data"][PROPERTIES_FILE])
    prefix = "spark.kubernetes.executor.label."
    labels = {k.removeprefix(prefix): v for k, v in props.items() if k.startswith(prefix)}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{props['spark.kubernetes.executor.podNamePrefix']}-exec-{executor_id}",
            "namespace": namespace,
            "labels": {
                **labels,
                naming.LABEL_SPARK_ROLE: "executor",
                naming.LABEL_EXECUTOR_ID: str(executor_id),
                naming.LABEL_SPARK_APP_SELECTOR: props["spark.app.id"],
            },
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": driver["metadata"]["name"],
                    "uid": driver["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "spark-kubernetes-executor", "image": "spark:3.5.5"}]},
    }
    created: dict[str, Any] = await kube.create(PODS, pod)
    return created


def tiers(pods: list[dict[str, Any]]) -> dict[str, str | None]:
    return {p["metadata"]["name"]: (p["metadata"].get("labels") or {}).get(TIER) for p in pods}


async def test_an_application_moved_to_another_shard_while_running_takes_its_pods_along(
    tiered: FleetUnderTest,
) -> None:
    fleet = tiered
    for member in MEMBERS:
        await fleet.start(member)
    holder = await split_gold_and_silver(fleet)
    namespace = fleet.app_namespaces[0]
    kube = fleet.kube
    await asyncio.gather(
        kube.create(SPARK_APPLICATIONS, application("moved", namespace, "gold")),
        kube.create(SPARK_APPLICATIONS, application("mislabelled", namespace, "gold", pod_tier="silver")),
        kube.create(SPARK_APPLICATIONS, application("edited", namespace, "gold")),
    )
    await fleet.wait_states({"RUNNING"}, 3)

    # From the start, the application's routing value wins over its pods' own labels.
    assert set(tiers(await pods_of(kube, namespace, "mislabelled")).values()) == {"gold"}
    await start_executor(kube, namespace, "mislabelled", 1)
    assert set(tiers(await pods_of(kube, namespace, "mislabelled")).values()) == {"gold"}

    # gold -> silver while it runs, with an executor born before the move and one after it
    # (a running driver creates its executors with the labels it was submitted with).
    before = (await kube.get(SPARK_APPLICATIONS, "moved", namespace))["status"]
    await start_executor(kube, namespace, "moved", 1)
    await kube.patch(SPARK_APPLICATIONS, "moved", {"metadata": {"labels": {TIER: "silver"}}}, namespace)
    late = await start_executor(kube, namespace, "moved", 2)
    assert late["metadata"]["labels"][TIER] == "gold"

    async def moved_pods_silver() -> bool:
        found = tiers(await pods_of(kube, namespace, "moved"))
        return len(found) == 3 and set(found.values()) == {"silver"}

    await eventually(
        moved_pods_silver, what="every pod of the moved application relabelled silver", timeout=60.0
    )
    # Its driver still creates executors labelled gold: its new holder looks for them until it ends.
    latest = await start_executor(kube, namespace, "moved", 3)
    assert latest["metadata"]["labels"][TIER] == "gold"

    async def latest_silver() -> bool:
        return tiers([await kube.get(PODS, latest["metadata"]["name"], namespace)]) == {
            latest["metadata"]["name"]: "silver"
        }

    await eventually(
        latest_silver, what="the executor created after the claim relabelled silver", timeout=60.0
    )

    # A tenant relabels a running driver: it leaves its holder's watch, and is brought back.
    edited_driver = "edited-driver"
    await kube.patch(PODS, edited_driver, {"metadata": {"labels": {TIER: "silver"}}}, namespace)

    async def edited_driver_back() -> bool:
        labels: dict[str, str] = (await kube.get(PODS, edited_driver, namespace))["metadata"]["labels"]
        return labels.get(TIER) == "gold"

    await eventually(
        edited_driver_back, what="the edited driver relabelled gold by its application's holder", timeout=60.0
    )
    # The same for an executor: it leaves the watch without being deleted, and is looked for.
    edited_executor = (await start_executor(kube, namespace, "edited", 1))["metadata"]["name"]

    async def executor_seen() -> bool:
        status = (await kube.get(SPARK_APPLICATIONS, "edited", namespace))["status"]
        return edited_executor in (status.get("executorState") or {})

    await eventually(executor_seen, what="the edited application's executor in its status", timeout=60.0)
    await kube.patch(PODS, edited_executor, {"metadata": {"labels": {TIER: "silver"}}}, namespace)

    async def edited_executor_back() -> bool:
        labels: dict[str, str] = (await kube.get(PODS, edited_executor, namespace))["metadata"]["labels"]
        return labels.get(TIER) == "gold"

    await eventually(
        edited_executor_back,
        what="the edited executor relabelled gold by its application's holder",
        timeout=60.0,
    )

    fleet.finish_drivers = True
    states = await fleet.wait_states({"COMPLETED"}, 3)
    assert states == {f"{namespace}/{n}": "COMPLETED" for n in ("moved", "mislabelled", "edited")}

    after = (await kube.get(SPARK_APPLICATIONS, "moved", namespace))["status"]
    assert after["submissionAttempts"] == before["submissionAttempts"] == 1  # not submitted twice
    assert after["submissionID"] == before["submissionID"]
    for executor in (late, latest):  # the executors born astray were seen
        assert executor["metadata"]["name"] in after.get("executorState", {}), after
    assert set(tiers(await pods_of(kube, namespace, "moved")).values()) == {"silver"}

    lines = await fleet.wait_audited([(namespace, n) for n in ("moved", "mislabelled", "edited")])
    mine = [line for line in lines if line["key"].startswith(f"{namespace}/")]
    found = overlaps(mine)
    assert not found, f"two members reconciled one application at overlapping times: {found[:3]}"
    moved = [line for line in mine if line["key"] == f"{namespace}/moved"]
    assert {line["member"] for line in moved} == {holder["gold"], holder["silver"]}
    last = max(moved, key=lambda line: float(line["t1"]))
    assert (last["member"], last["shard"]) == (holder["silver"], "silver")  # completed by its new holder
