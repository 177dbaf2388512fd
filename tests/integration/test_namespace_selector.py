"""--namespace-selector on the real API server: an instance serves the namespaces whose labels
match, following label changes live (a namespace labelled is served from then on, one unlabelled is
let go and nothing created there afterwards is touched), beside its --namespaces as Kubeflow's does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import NAMESPACES, SERVICEACCOUNTS
from sparkfleet.kube.scope import SELECTED_SCOPE, selected_scopes
from sparkfleet.operator.host import SparkControllers
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.scheduled import ScheduledSparkApplicationController
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.support import eventually, spark_crds

KEY = "sparkfleet.test/team"


@pytest.fixture
async def namespaces(control_plane: ControlPlane, kube: KubeClient) -> AsyncIterator[list[str]]:
    """Three namespaces of the test's own: ``a`` and ``b`` unlabelled, ``named`` to be given by name."""
    await control_plane.install_crds(spark_crds())
    stem = uuid.uuid4().hex[:6]
    names = [f"nssel-{part}-{stem}" for part in ("a", "b", "named")]
    for name in names:
        await control_plane.create_namespace(name)
        await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                            "metadata": {"name": "spark-operator-spark", "namespace": name}})  # fmt: skip
    yield names
    for name in names:
        await kube.delete(NAMESPACES, name)


async def start(control_plane: ControlPlane, selector: str, namespaces: list[str] | None) -> SparkControllers:
    client = await control_plane.client()
    scopes = selected_scopes(namespaces, selector)
    host = SparkControllers(
        SparkApplicationController(client, scopes=scopes, concurrent_syncs=4),
        ScheduledSparkApplicationController(client, scopes=scopes),
        sync_timeout=10,
    )
    await host.start()
    return host


async def label(kube: KubeClient, namespace: str, value: str | None) -> None:
    await kube.patch(NAMESPACES, namespace, {"metadata": {"labels": {KEY: value}}})


async def submitted(kube: KubeClient, namespace: str, name: str) -> bool:
    app = await kube.get(SPARK_APPLICATIONS, name, namespace)
    return ((app.get("status") or {}).get("applicationState") or {}).get("state") == "SUBMITTED"


async def test_serves_the_namespaces_whose_labels_match_as_they_change(
    control_plane: ControlPlane, kube: KubeClient, namespaces: list[str]
) -> None:
    a, b, named = namespaces
    team = f"a-{uuid.uuid4().hex[:6]}"  # this test's own value: other tests' namespaces never match
    await label(kube, a, team)
    host = await start(control_plane, f"{KEY}={team}", [named])
    apps = host.applications.scoped
    try:
        for ns in (a, b, named):
            await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=ns))
        await eventually(lambda: submitted(kube, a, "spark-pi"), what="the labelled namespace's app served")
        await eventually(lambda: submitted(kube, named, "spark-pi"), what="the named namespace's app served")
        assert apps.primary.scope_of(NamespacedName(b, "spark-pi")) is None
        assert not (await kube.get(SPARK_APPLICATIONS, "spark-pi", b)).get("status")

        await label(kube, b, team)  # starts matching: served from now on
        await eventually(
            lambda: submitted(kube, b, "spark-pi"), what="the newly labelled namespace's app served"
        )
        assert apps.primary.scope_of(NamespacedName(b, "spark-pi")) == SELECTED_SCOPE

        await label(kube, a, None)  # stops matching: let go, nothing deleted
        await eventually(
            lambda: apps.primary.scope_of(NamespacedName(a, "spark-pi")) is None, what="the namespace let go"
        )
        assert all(informer.namespace != a for informer in apps.primary)
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("after", namespace=a))
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("after", namespace=b))
        await eventually(lambda: submitted(kube, b, "after"), what="a served namespace's new app")
        assert not (await kube.get(SPARK_APPLICATIONS, "after", a)).get("status")  # never touched
        assert await submitted(kube, a, "spark-pi")  # what it did there stays
        assert apps.primary.scope_of(NamespacedName(a, "after")) is None
    finally:
        await host.stop(5)
        await host.applications.client.close()


async def test_a_selector_that_matches_nothing_serves_nothing_but_its_named_namespaces(
    control_plane: ControlPlane, kube: KubeClient, namespaces: list[str]
) -> None:
    a, _, named = namespaces
    host = await start(control_plane, f"{KEY}=nobody-{uuid.uuid4().hex[:6]}", [named])
    try:
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=a))
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=named))
        await eventually(lambda: submitted(kube, named, "spark-pi"), what="the named namespace's app served")
        assert host.has_synced
        assert host.applications.scoped.objects(SELECTED_SCOPE) == 0
        assert not (await kube.get(SPARK_APPLICATIONS, "spark-pi", a)).get("status")
    finally:
        await host.stop(5)
        await host.applications.client.close()
