"""Issue 19, part C on a real API server: the driver PodDisruptionBudget, the operator's default TTL,
and the Kubeflow metrics' labels and latency histograms. Test code plays kubelet (pod phases)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.integration.test_spark_controller import prepare, set_phase, state_is, wait_app
from tests.support import eventually


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
    try:
        await kube.get(SPARK_APPLICATIONS, name, namespace)
    except ApiError as exc:
        if exc.is_not_found:
            return True
        raise
    return False


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
