"""Issue 19, part C on a real API server: the driver PodDisruptionBudget, the operator's default TTL,
and the Kubeflow metrics' labels and latency histograms. Test code plays kubelet (pod phases)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.errors import ignore_not_found
from sparkfleet.operator.spark import metrics
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.driver_pdb import PODDISRUPTIONBUDGETS
from sparkfleet.operator.spark.metric_labels import label_names
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.integration.test_spark_controller import prepare, set_phase, state_is, wait_app
from tests.support import CRDS_ENV, eventually


async def started(
    control_plane: ControlPlane, namespace: str, **kwargs: object
) -> SparkApplicationController:
    client = await control_plane.client()
    controller = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=2, **kwargs)  # type: ignore[arg-type]
    await controller.start(sync_timeout=10)
    return controller


@pytest.fixture
async def ttl_operator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[SparkApplicationController]:
    await prepare(control_plane, kube, namespace)
    controller = await started(control_plane, namespace, default_ttl=1.0)
    yield controller
    await controller.stop()
    await controller.client.close()


async def gone(kube: KubeClient, namespace: str, name: str) -> bool:
    with ignore_not_found():
        await kube.get(SPARK_APPLICATIONS, name, namespace)
        return False
    return True


@pytest.mark.usefixtures("ttl_operator")
async def test_an_application_without_ttl_is_deleted_after_the_default(
    kube: KubeClient, namespace: str
) -> None:
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("no-ttl", namespace))
    keep = manifests.spark_pi("own-ttl", namespace)
    keep["spec"]["timeToLiveSeconds"] = 3600  # its own TTL wins over the default
    await kube.create(SPARK_APPLICATIONS, keep)
    for name in ("no-ttl", "own-ttl"):
        await wait_app(kube, namespace, name, state_is("SUBMITTED"))
        await set_phase(kube, namespace, f"{name}-driver", "Succeeded", exit_code=0)
    await wait_app(kube, namespace, "own-ttl", state_is("COMPLETED"))
    await eventually(
        lambda: gone(kube, namespace, "no-ttl"), what="no-ttl deleted after the default TTL", timeout=15
    )
    assert not await gone(kube, namespace, "own-ttl")


@pytest.fixture
async def pdb_operator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[SparkApplicationController]:
    await prepare(control_plane, kube, namespace)
    controller = await started(control_plane, namespace, driver_pdb=True)
    yield controller
    await controller.stop()
    await controller.client.close()


async def budget(kube: KubeClient, namespace: str, name: str) -> dict[str, Any] | None:
    with ignore_not_found():
        return await kube.get(PODDISRUPTIONBUDGETS, name, namespace)
    return None


@pytest.mark.usefixtures("pdb_operator")
async def test_the_driver_pdb_protects_a_running_driver_and_goes_when_the_run_ends(
    kube: KubeClient, namespace: str
) -> None:
    asking = manifests.spark_pi("asking", namespace)
    asking["spec"]["driverPodDisruptionBudget"] = True
    created = await kube.create(SPARK_APPLICATIONS, asking)
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("not-asking", namespace))
    for name in ("asking", "not-asking"):
        await wait_app(kube, namespace, name, state_is("SUBMITTED"))
    assert await budget(kube, namespace, "not-asking-driver") is None
    if "driverPodDisruptionBudget" not in created["spec"]:
        # Kubeflow v2.5.2's CRD has no such field (it came later): the API server drops it, and the
        # application runs unprotected, as under Kubeflow v2.5.2.
        assert os.environ.get(CRDS_ENV) == "kubeflow"
        assert await budget(kube, namespace, "asking-driver") is None
        return
    pdb = await budget(kube, namespace, "asking-driver")
    assert pdb is not None
    assert pdb["spec"] == {
        "minAvailable": 1,
        "selector": {"matchLabels": {"sparkoperator.k8s.io/app-name": "asking", "spark-role": "driver"}},
    }
    meta = pdb["metadata"]
    assert meta["labels"] == {
        "sparkoperator.k8s.io/launched-by-spark-operator": "true",
        "sparkoperator.k8s.io/app-name": "asking",
    }
    [owner] = meta["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "SparkApplication", "asking", created["metadata"]["uid"], True,
    )  # fmt: skip
    await set_phase(kube, namespace, "asking-driver", "Running")
    await wait_app(kube, namespace, "asking", state_is("RUNNING"))
    assert await budget(kube, namespace, "asking-driver") is not None
    await set_phase(kube, namespace, "asking-driver", "Succeeded", exit_code=0)
    await wait_app(kube, namespace, "asking", state_is("COMPLETED"))
    await eventually(
        lambda: no_budget(kube, namespace, "asking-driver"), what="the PDB removed when the run ended"
    )


async def no_budget(kube: KubeClient, namespace: str, name: str) -> bool:
    return await budget(kube, namespace, name) is None


@pytest.fixture
def labelled_metrics() -> Iterator[None]:
    metrics.configure(label_names(["app_type"]), (0.001, 600.0), (0.001, 900.0))
    yield
    metrics.configure()


@pytest.mark.usefixtures("labelled_metrics", "ttl_operator")
async def test_the_latency_histograms_have_the_configured_buckets_and_labels(
    kube: KubeClient, namespace: str
) -> None:
    app = manifests.spark_pi("labelled", namespace)
    app["metadata"]["labels"] = {"app_type": "batch"}
    await kube.create(SPARK_APPLICATIONS, app)
    await wait_app(kube, namespace, "labelled", state_is("SUBMITTED"))
    await set_phase(kube, namespace, "labelled-driver", "Running")
    await wait_app(kube, namespace, "labelled", state_is("RUNNING"))
    labels = {"namespace": namespace, "app_type": "batch"}

    def sample(name: str, **more: str) -> float | None:
        return REGISTRY.get_sample_value(name, {**labels, **more})

    await eventually(lambda: sample("spark_application_running_count") == 1, what="one running, labelled")
    for histogram, top in (("submit", "600.0"), ("start", "900.0")):
        name = f"spark_application_{histogram}_latency_seconds_histogram"
        assert sample(f"{name}_bucket", le="0.001") == 0
        assert sample(f"{name}_bucket", le=top) == 1
        assert sample(f"{name}_bucket", le="+Inf") == 1
    assert sample("spark_application_submit_count") == 1
    assert sample("spark_application_submit_latency_seconds_count") == 1
