"""The pod simulator drives real pods through real phases for the real controller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import Informer, InformerEvent, KubeClient
from sparkfleet.kube.resources import CONFIGMAPS, NODES, PODS, SERVICEACCOUNTS
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.sim import ANNOTATION_OUTCOME, ANNOTATION_RUN_SECONDS, PodSimulator, SimConfig
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.support import eventually, spark_crds


@pytest.fixture
async def simulated(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[PodSimulator]:
    await control_plane.install_crds(spark_crds())
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
    assert "ExitCode: 1" in doomed["applicationState"]["errorMessage"], doomed

    pods, _ = await kube.list_all(PODS, namespace)
    drivers = [p for p in pods if p["metadata"]["labels"].get(naming.LABEL_SPARK_ROLE) == "driver"]
    executors = [p for p in pods if p["metadata"]["labels"].get(naming.LABEL_SPARK_ROLE) == "executor"]
    assert len(drivers) == 5
    assert len(executors) == 1 + 2 + 3 + 4 + 2
    assert all(
        p["spec"].get("nodeName", "").startswith("sim-node-") for p in pods
    )  # bound, as by a scheduler
    drivers_by_uid = {d["metadata"]["uid"]: d for d in drivers}
    for executor in executors:  # created as Spark's executor builder creates them (sim.executors)
        meta = executor["metadata"]
        [owner] = meta["ownerReferences"]
        assert drivers_by_uid[owner["uid"]]["metadata"]["name"] == owner["name"]
        assert (owner["kind"], owner["controller"], owner.get("blockOwnerDeletion")) == ("Pod", True, None)
        assert meta["name"].startswith(meta["labels"][naming.LABEL_APP_NAME])
        assert (
            meta["name"]
            == f"{meta['name'].rsplit('-exec-', 1)[0]}-exec-{meta['labels'][naming.LABEL_EXECUTOR_ID]}"
        )
        assert meta["labels"]["spark-exec-resourceprofile-id"] == "0"
        assert executor["spec"]["hostname"] == meta["name"]
        [container] = executor["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["SPARK_EXECUTOR_ID"] == meta["labels"][naming.LABEL_EXECUTOR_ID]
        assert container["resources"]["limits"]["memory"] == "896Mi"  # 512m + 384 MiB overhead
        assert container["args"] == ["executor"]
    conf_maps, _ = await kube.list_all(CONFIGMAPS, namespace, label_selector="spark-role=executor")
    assert len(conf_maps) == 5  # each driver's executor ConfigMap
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


async def app_state(kube: KubeClient, namespace: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = (await kube.get(SPARK_APPLICATIONS, name, namespace)).get("status") or {}
    return status


async def test_what_spark_refuses_ends_the_driver_or_leaves_it_without_executors(
    simulated: PodSimulator, kube: KubeClient, namespace: str
) -> None:
    """An IllegalArgumentException building executor pods ends a Spark driver (exit code 1);
    anything else leaves it running with no executors (Spark tries again every second)."""
    fatal = app("bad-port", namespace, 2)
    fatal["spec"]["sparkConf"] = {"spark.blockManager.port": "80"}  # Spark requires 0 or 1024-65535
    stalled = app("no-gpu-vendor", namespace, 2)
    stalled["spec"]["sparkConf"] = {"spark.executor.resource.gpu.amount": "1"}
    await kube.create(SPARK_APPLICATIONS, fatal)
    await kube.create(SPARK_APPLICATIONS, stalled)

    [failed] = (await final_states(kube, namespace, ["bad-port"])).values()
    assert failed["status"]["applicationState"]["state"] == "FAILED"
    assert "ExitCode: 1" in failed["status"]["applicationState"]["errorMessage"]
    await eventually(
        lambda: _refused(simulated, 2), what="the simulator to refuse the second driver", timeout=60
    )
    status = await app_state(kube, namespace, "no-gpu-vendor")
    assert status["applicationState"]["state"] == "RUNNING", status
    pods, _ = await kube.list_all(PODS, namespace)
    assert [p for p in pods if p["metadata"]["labels"].get(naming.LABEL_SPARK_ROLE) == "executor"] == []
    assert simulated.stats.executors_created == 0


async def _refused(simulator: PodSimulator, count: int) -> bool:
    return simulator.stats.executors_refused >= count


async def test_a_deleted_running_driver_stops_as_a_kubelet_stops_it(
    simulated: PodSimulator, kube: KubeClient, namespace: str
) -> None:
    """Deleted with its grace period (30 s), a running pod is stopped (exit code 143) and removed
    at once, not left Terminating: a spec change resubmits without anyone force-deleting."""
    long = app("edited", namespace, 1)
    long["spec"]["driver"]["annotations"] = {ANNOTATION_RUN_SECONDS: "600"}
    await kube.create(SPARK_APPLICATIONS, long)

    async def running() -> dict[str, Any] | None:
        status = await app_state(kube, namespace, "edited")
        return status if (status.get("applicationState") or {}).get("state") == "RUNNING" else None

    first = (await eventually(running, what="RUNNING", timeout=60))["submissionID"]
    seen: dict[str, Any] = {}
    watcher = Informer(kube, PODS, namespace=namespace)
    watcher.add_handler(lambda event: _record_stops(event, seen))
    watcher.start()
    await watcher.wait_synced(30)
    try:
        started = time.monotonic()
        await kube.patch(SPARK_APPLICATIONS, "edited", {"spec": {"arguments": ["10"]}}, namespace)

        async def resubmitted() -> dict[str, Any] | None:
            status = await app_state(kube, namespace, "edited")
            return status if status.get("submissionID") not in (None, first) else None

        await eventually(resubmitted, what="the spec change to resubmit", timeout=25)
        assert time.monotonic() - started < 25  # well inside the driver's 30 s grace period
        await eventually(
            lambda: _stopped(seen, "edited-driver"), what="the edited driver to stop", timeout=10
        )
    finally:
        await watcher.stop()
    assert seen["edited-driver"]["exitCode"] == 143
    assert seen["edited-driver"]["phase"] == "Failed"
    assert simulated.stats.pods_stopped >= 1


def _record_stops(event: InformerEvent, seen: dict[str, Any]) -> None:
    pod = event.obj
    if not pod["metadata"].get("deletionTimestamp"):
        return
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if terminated := (status.get("state") or {}).get("terminated"):
            seen[pod["metadata"]["name"]] = {**terminated, "phase": pod["status"].get("phase")}


async def _stopped(seen: dict[str, Any], name: str) -> bool:
    return name in seen
