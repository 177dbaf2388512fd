"""The pod simulator drives real pods through real phases for the real controller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import NODES, PODS, SERVICEACCOUNTS
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.sim import ANNOTATION_OUTCOME, PodSimulator, SimConfig
from sparkfleet.testing import ControlPlane
from tests.examples import manifests

CRDS = sorted((Path(__file__).resolve().parents[2] / "deploy" / "crds").glob("*.yaml"))


@pytest.fixture
async def simulated(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[PodSimulator]:
    await control_plane.install_crds(CRDS)
    await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
    client = await control_plane.client()
    controller = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=4)
    simulator = PodSimulator(
        client, SimConfig(nodes=3, start_delay=(0.05, 0.1), run_time=(0.5, 1.0), seed=7), namespace=namespace
    )
    await controller.start(sync_timeout=10)
    await simulator.start()
    yield simulator
    await simulator.stop()
    await controller.stop()
    await client.close()


def app(name: str, namespace: str, executors: int, outcome: str | None = None) -> dict[str, Any]:
    manifest = manifests.spark_pi(name, namespace)
    manifest["spec"]["executor"]["instances"] = executors
    if outcome:
        manifest["spec"]["driver"]["annotations"] = {ANNOTATION_OUTCOME: outcome}
    return manifest


async def final_states(
    kube: KubeClient, namespace: str, names: list[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        apps = {n: await kube.get(SPARK_APPLICATIONS, n, namespace) for n in names}
        states = {
            n: ((a.get("status") or {}).get("applicationState") or {}).get("state") for n, a in apps.items()
        }
        if all(s in ("COMPLETED", "FAILED") for s in states.values()):
            return apps
        assert time.monotonic() < deadline, states
        await asyncio.sleep(0.2)


async def test_applications_run_their_executors_and_complete(
    simulated: PodSimulator, kube: KubeClient, namespace: str
) -> None:
    names = [f"job-{i}" for i in range(4)]
    await asyncio.gather(
        *(kube.create(SPARK_APPLICATIONS, app(n, namespace, i + 1)) for i, n in enumerate(names))
    )
    await kube.create(SPARK_APPLICATIONS, app("doomed", namespace, 2, outcome="Failed"))
    apps = await final_states(kube, namespace, [*names, "doomed"])

    for i, name in enumerate(names):
        status = apps[name]["status"]
        assert status["applicationState"]["state"] == "COMPLETED", status
        assert sorted(status["executorState"].values()) == ["COMPLETED"] * (i + 1)
    doomed = apps["doomed"]["status"]
    assert doomed["applicationState"]["state"] == "FAILED"
    assert "exit code 1" in doomed["applicationState"]["errorMessage"], doomed

    pods, _ = await kube.list_all(PODS, namespace)
    drivers = [p for p in pods if p["metadata"]["labels"].get(naming.LABEL_SPARK_ROLE) == "driver"]
    executors = [p for p in pods if p["metadata"]["labels"].get(naming.LABEL_SPARK_ROLE) == "executor"]
    assert len(drivers) == 5
    assert len(executors) == 1 + 2 + 3 + 4 + 2
    assert all(
        p["spec"].get("nodeName", "").startswith("sim-node-") for p in pods
    )  # bound, as by a scheduler
    for executor in executors:  # created as a Spark driver would: named, labelled and owned by the driver
        owner = executor["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "Pod"
        assert executor["metadata"]["name"].startswith(executor["metadata"]["labels"][naming.LABEL_APP_NAME])
        assert "-exec-" in executor["metadata"]["name"]
    nodes, _ = await kube.list_all(NODES, label_selector="sparkfleet.io/simulated=true")
    assert len(nodes) >= 3
    stats = simulated.stats
    assert stats.drivers_started == 5
    assert stats.executors_created == 12
    assert (stats.drivers_succeeded, stats.drivers_failed) == (4, 1)
    assert simulated.cpu_seconds() > 0


def test_bad_simulator_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="run_time"):
        SimConfig(run_time=(5, 1))
    with pytest.raises(ValueError, match="failure_rate"):
        SimConfig(failure_rate=2)
