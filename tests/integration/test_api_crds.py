"""The generated CRDs on a real API server: manifests are stored unpruned, the status
subresource works, and wrong types are refused with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkfleet.api import SPARK_APPLICATIONS, SparkApplication
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.testing import ControlPlane
from tests.examples import manifests

CRD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "crds"


@pytest.fixture(scope="module")
async def crds(control_plane: ControlPlane) -> None:
    await control_plane.install_crds(sorted(CRD_DIR.glob("*.yaml")))


@pytest.mark.usefixtures("crds")
@pytest.mark.parametrize("make", [manifests.spark_pi, manifests.pyspark, manifests.everything])
async def test_manifests_are_stored_without_pruning(kube: KubeClient, namespace: str, make: object) -> None:
    manifest = make(namespace=namespace)  # type: ignore[operator]
    created = await kube.create(SPARK_APPLICATIONS, manifest)
    assert created["spec"] == manifest["spec"]  # unknown fields included
    stored = await kube.get(SPARK_APPLICATIONS, manifest["metadata"]["name"], namespace)
    app = SparkApplication.model_validate(stored)
    assert app.to_kube()["spec"] == manifest["spec"]


@pytest.mark.usefixtures("crds")
async def test_status_is_a_subresource(kube: KubeClient, namespace: str) -> None:
    created = await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=namespace))
    status = manifests.with_status(manifests.spark_pi())["status"]
    updated = await kube.patch(
        SPARK_APPLICATIONS, "spark-pi", {"status": status}, namespace, subresource="status"
    )
    assert updated["status"] == status
    assert updated["metadata"]["generation"] == created["metadata"]["generation"]  # status is not spec
    # A write to the main resource does not change status.
    ignored = await kube.patch(
        SPARK_APPLICATIONS, "spark-pi", {"status": {"executionAttempts": 9}}, namespace
    )
    assert ignored["status"]["executionAttempts"] == 1


@pytest.mark.usefixtures("crds")
async def test_wrong_types_are_refused_naming_the_field(kube: KubeClient, namespace: str) -> None:
    manifest = manifests.spark_pi(namespace=namespace)
    manifest["spec"]["executor"]["instances"] = "many"
    manifest["spec"]["driver"]["memory"] = "1Gx"
    with pytest.raises(ApiError) as refused:
        await kube.create(SPARK_APPLICATIONS, manifest)
    assert refused.value.status == 422
    assert "spec.executor.instances" in refused.value.message
    assert "spec.driver.memory" in refused.value.message
