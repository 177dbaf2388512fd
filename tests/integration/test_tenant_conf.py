"""A tenant's SparkApplication cannot override what the operator manages, nor ask for more than the
platform allows: each attack is refused up front (SUBMISSION_FAILED naming the field and key, a
Warning Event, no pod), on a real API server, by an operator holding only the chart's job RBAC
and a tenant who may only create SparkApplications in its namespace."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from fractions import Fraction
from typing import Any

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import EVENTS, PODS, RESOURCEQUOTAS, SERVICEACCOUNTS
from sparkfleet.operator.spark.bounds import Bounds
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.testing import ControlPlane
from tests.corpus import merge_patch
from tests.deploy.chart import render
from tests.examples import manifests
from tests.support import client_as, grant, spark_application_rules, spark_crds

BOUNDS = Bounds(
    max_executors=10,
    max_executor_cores=Fraction(4),
    max_executor_memory_mib=8 * 1024,
    max_driver_cores=Fraction(2),
    max_driver_memory_mib=4 * 1024,
)


def chart_job_rules() -> list[dict[str, Any]]:
    """The rules the chart grants the operator in a job namespace, as helm renders them."""
    docs = render("rel", "ops", values={"spark": {"jobNamespaces": ["jobs"]}})
    (role,) = [d for d in docs if d["kind"] == "Role" and d["metadata"]["namespace"] == "jobs"
               and d["metadata"]["name"] == "rel-sparkfleet-jobs"]  # fmt: skip
    rules: list[dict[str, Any]] = role["rules"]
    return rules


async def start_operator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, bounds: Bounds | None
) -> tuple[SparkApplicationController, KubeClient]:
    await control_plane.install_crds(spark_crds())
    await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
    identity = await control_plane.mint_identity(namespace, "operator")
    await grant(kube, namespace, "operator", chart_job_rules())
    client = await control_plane.client(kubeconfig=identity.kubeconfig)
    options: dict[str, Any] = {"bounds": bounds} if bounds else {}  # the defaults: no bounds
    controller = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=4, **options)
    await controller.start(sync_timeout=20)
    return controller, client


@pytest.fixture
async def operator(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> AsyncIterator[None]:
    """The operator as a default install runs it (no bounds), with the chart's job RBAC."""
    controller, client = await start_operator(control_plane, kube, namespace, None)
    yield
    await controller.stop()
    await client.close()


@pytest.fixture
async def bounded(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> AsyncIterator[None]:
    """The operator with a platform team's bounds (as --max-executors=10 --max-executor-cores=4
    --max-executor-memory=8Gi --max-driver-cores=2 --max-driver-memory=4Gi set them)."""
    controller, client = await start_operator(control_plane, kube, namespace, BOUNDS)
    yield
    await controller.stop()
    await client.close()


@pytest.fixture
async def tenant(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> AsyncIterator[KubeClient]:
    """A tenant who may create and read SparkApplications in its namespace, nothing else."""
    rules = spark_application_rules("create", "get", "list", "watch")
    client = await client_as(control_plane, kube, namespace, "tenant", rules)
    yield client
    await client.close()


def application(name: str, namespace: str, patch: dict[str, Any]) -> dict[str, Any]:
    app: dict[str, Any] = merge_patch(manifests.spark_pi(name, namespace), patch)
    return app


async def status_of(kube: KubeClient, name: str, namespace: str, timeout: float = 20.0) -> dict[str, Any]:
    """The application's applicationState once the operator has written one."""
    deadline = time.monotonic() + timeout
    while True:
        app = await kube.get(SPARK_APPLICATIONS, name, namespace)
        state: dict[str, Any] = (app.get("status") or {}).get("applicationState") or {}
        if state.get("state"):
            return state
        assert time.monotonic() < deadline, f"{name}: no status within {timeout}s"
        await asyncio.sleep(0.2)


async def warned(kube: KubeClient, namespace: str, words: str, timeout: float = 20.0) -> None:
    """Waits for the Warning Event of a failed submission whose message holds ``words`` (the
    recorder sends Events after the status write)."""
    deadline = time.monotonic() + timeout
    while True:
        events = (await kube.list(EVENTS, namespace))["items"]
        if any(
            e["reason"] == "SparkApplicationSubmissionFailed"
            and e["type"] == "Warning"
            and words in e["message"]
            for e in events
        ):
            return
        assert time.monotonic() < deadline, [e["message"] for e in events]
        await asyncio.sleep(0.2)


async def assert_refused(
    kube: KubeClient, tenant: KubeClient, namespace: str, patch: dict[str, Any], *says: str
) -> str:
    """The tenant creates the application; it ends in SUBMISSION_FAILED whose message holds
    ``says``, with a Warning Event, and no pod is created. Returns the message."""
    name = "attack"
    await tenant.create(SPARK_APPLICATIONS, application(name, namespace, patch))
    state = await status_of(kube, name, namespace)
    message = str(state.get("errorMessage", ""))
    assert state["state"] == "SUBMISSION_FAILED", (state, "submitted, not refused")
    for words in says:
        assert words in message, f"{words!r} not in: {message}"
    await warned(kube, namespace, says[0])
    assert (await kube.list(PODS, namespace))["items"] == []
    return message


def conf(key: str, value: str) -> dict[str, Any]:
    return {"spec": {"sparkConf": {key: value}}}


DENIED_CONF = [
    ("spark.kubernetes.namespace", "kube-system"),
    ("spark.master", "k8s://https://attacker.example:6443"),
    ("spark.kubernetes.driver.master", "https://attacker.example:6443"),
    ("spark.kubernetes.authenticate.driver.serviceAccountName", "admin"),
    ("spark.kubernetes.authenticate.executor.serviceAccountName", "admin"),
    ("spark.kubernetes.authenticate.oauthToken", "stolen-token"),
    ("spark.kubernetes.authenticate.driver.oauthTokenFile", "/var/run/secrets/other/token"),
    ("spark.kubernetes.authenticate.driver.mounted.oauthTokenFile", "/var/run/secrets/other/token"),
    ("spark.kubernetes.authenticate.submission.caCertFile", "/etc/ssl/evil.pem"),
    ("spark.kubernetes.executor.podNamePrefix", "victim-app"),
    ("spark.kubernetes.driver.podTemplateFile", "/etc/passwd"),
    ("spark.kubernetes.executor.podTemplateFile", "/etc/passwd"),
    ("spark.kubernetes.driver.podTemplateContainerName", "other"),
    ("spark.kubernetes.executor.podTemplateContainerName", "other"),
    ("spark.kubernetes.container.image", "attacker/spark:latest"),
    ("spark.kubernetes.executor.container.image", "attacker/spark:latest"),
    ("spark.app.id", "spark-victimsubmission"),
    ("spark.submit.deployMode", "client"),
    ("spark.driver.host", "attacker.example"),
]


@pytest.mark.usefixtures("operator")
@pytest.mark.parametrize(("key", "value"), DENIED_CONF, ids=[k for k, _ in DENIED_CONF])
async def test_an_operator_managed_spark_property_is_refused(
    kube: KubeClient, tenant: KubeClient, namespace: str, key: str, value: str
) -> None:
    await assert_refused(kube, tenant, namespace, conf(key, value), f"spec.sparkConf[{key}]", "not allowed")


FORGED = [
    ("conf-executor-app-name", conf("spark.kubernetes.executor.label.sparkoperator.k8s.io/app-name", "victim"),
     "spec.sparkConf[spark.kubernetes.executor.label.sparkoperator.k8s.io/app-name]"),
    ("conf-executor-submission-id",
     conf("spark.kubernetes.executor.label.sparkoperator.k8s.io/submission-id", "0b7c6f1e-victim"),
     "spec.sparkConf[spark.kubernetes.executor.label.sparkoperator.k8s.io/submission-id]"),
    ("conf-driver-launched-by",
     conf("spark.kubernetes.driver.label.sparkoperator.k8s.io/launched-by-spark-operator", "true"),
     # a key this long is shortened in the field's path; the message names it whole
     "spark.kubernetes.driver.label.sparkoperator.k8s.io/launched-by-spark-operator is not allowed"),
    ("conf-driver-routing-annotation", conf("spark.kubernetes.driver.annotation.sparkfleet.io/routing", "{}"),
     "spec.sparkConf[spark.kubernetes.driver.annotation.sparkfleet.io/routing]"),
    ("driver-labels", {"spec": {"driver": {"labels": {"sparkoperator.k8s.io/app-name": "victim"}}}},
     "spec.driver.labels[sparkoperator.k8s.io/app-name]"),
    ("executor-labels", {"spec": {"executor": {"labels": {"sparkoperator.k8s.io/submission-id": "x"}}}},
     "spec.executor.labels[sparkoperator.k8s.io/submission-id]"),
    ("executor-scheduled-app-name",
     {"spec": {"executor": {"labels": {"sparkoperator.k8s.io/scheduled-app-name": "nightly"}}}},
     "spec.executor.labels[sparkoperator.k8s.io/scheduled-app-name]"),
    ("driver-annotations", {"spec": {"driver": {"annotations": {"sparkfleet.io/spec-hash": "0"}}}},
     "spec.driver.annotations[sparkfleet.io/spec-hash]"),
    ("executor-template",
     {"spec": {"executor": {"template": {"metadata": {"labels": {"sparkoperator.k8s.io/app-name": "victim"}}}}}},
     "spec.executor.template.metadata.labels[sparkoperator.k8s.io/app-name]"),
    ("driver-template",
     {"spec": {"driver": {"template": {"metadata": {"labels": {"sparkoperator.k8s.io/submission-id": "x"}}}}}},
     "spec.driver.template.metadata.labels[sparkoperator.k8s.io/submission-id]"),
]  # fmt: skip


@pytest.mark.usefixtures("operator")
@pytest.mark.parametrize(("patch", "field"), [(p, f) for _, p, f in FORGED], ids=[i for i, _, _ in FORGED])
async def test_a_forged_operator_label_is_refused(
    kube: KubeClient, tenant: KubeClient, namespace: str, patch: dict[str, Any], field: str
) -> None:
    await assert_refused(kube, tenant, namespace, patch, field, "the operator's")


OVERSIZED = [
    ("executor-instances", {"spec": {"executor": {"instances": 11}}}, "spec.executor.instances", "--max-executors"),
    ("conf-executor-instances",  # the spec's field wins over sparkConf: without it, sparkConf's counts
     {"spec": {"executor": {"instances": None}, "sparkConf": {"spark.executor.instances": "5000"}}},
     "spec.sparkConf[spark.executor.instances]", "--max-executors"),
    ("dynamic-max-executors",
     {"spec": {"dynamicAllocation": {"enabled": True, "minExecutors": 1, "maxExecutors": 500}}},
     "spec.dynamicAllocation.maxExecutors", "--max-executors"),
    ("dynamic-initial-executors",
     {"spec": {"dynamicAllocation": {"enabled": True, "initialExecutors": 40, "maxExecutors": 10}}},
     "spec.dynamicAllocation.initialExecutors", "--max-executors"),
    ("dynamic-unbounded", {"spec": {"dynamicAllocation": {"enabled": True, "minExecutors": 1}}},
     "spec.dynamicAllocation.maxExecutors", "unbounded"),
    ("executor-cores", {"spec": {"executor": {"cores": 16}}}, "spec.executor.cores", "--max-executor-cores"),
    ("executor-core-limit", {"spec": {"executor": {"coreLimit": "12"}}}, "spec.executor.coreLimit",
     "--max-executor-cores"),
    ("executor-core-request", {"spec": {"executor": {"coreRequest": "6", "coreLimit": "6"}}},
     "spec.executor.coreRequest", "--max-executor-cores"),
    ("executor-memory", {"spec": {"executor": {"memory": "16g"}}}, "spec.executor.memory",
     "--max-executor-memory"),
    ("executor-memory-overhead", {"spec": {"executor": {"memory": "4g", "memoryOverhead": "6g"}}},
     "spec.executor.memory", "spec.executor.memoryOverhead"),
    ("driver-cores", {"spec": {"driver": {"cores": 8}}}, "spec.driver.cores", "--max-driver-cores"),
    ("driver-memory", {"spec": {"driver": {"memory": "8g"}}}, "spec.driver.memory", "--max-driver-memory"),
    ("conf-driver-memory", {"spec": {"driver": {"memory": None}, "sparkConf": {"spark.driver.memory": "32g"}}},
     "spec.sparkConf[spark.driver.memory]", "--max-driver-memory"),
]  # fmt: skip


@pytest.mark.usefixtures("bounded")
@pytest.mark.parametrize(
    ("patch", "field", "says"), [c[1:] for c in OVERSIZED], ids=[c[0] for c in OVERSIZED]
)
async def test_an_application_beyond_the_bounds_is_refused(
    kube: KubeClient, tenant: KubeClient, namespace: str, patch: dict[str, Any], field: str, says: str
) -> None:
    await assert_refused(kube, tenant, namespace, patch, f"{field}:", says)


async def quota(kube: KubeClient, namespace: str, hard: dict[str, str]) -> None:
    await kube.create(RESOURCEQUOTAS, {"apiVersion": "v1", "kind": "ResourceQuota",
                                       "metadata": {"name": "team-quota", "namespace": namespace},
                                       "spec": {"hard": hard}})  # fmt: skip


@pytest.mark.usefixtures("operator")
async def test_an_application_over_its_namespace_quota_is_refused(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    # Each pod fits; together (1 + 4 x 1 CPU, 5 x 896Mi) they never could.
    await quota(kube, namespace, {"requests.cpu": "4", "requests.memory": "4Gi", "pods": "10"})
    message = await assert_refused(
        kube, tenant, namespace, {"spec": {"executor": {"instances": 4}}},
        "spec.executor.instances: the application needs requests.cpu 5 (driver 1 + 4 executors x 1)",
        "ResourceQuota team-quota", "hard requests.cpu: 4",
    )  # fmt: skip
    assert "requests.memory 4480Mi (driver 896Mi + 4 executors x 896Mi)" in message


@pytest.mark.usefixtures("operator")
async def test_an_application_over_its_namespace_pod_count_is_refused(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    await quota(kube, namespace, {"pods": "3"})
    await assert_refused(
        kube, tenant, namespace, {"spec": {"executor": {"instances": 3}}},
        "spec.executor.instances: the application needs pods 4 (1 driver + 3 executors)", "hard pods: 3",
    )  # fmt: skip


@pytest.mark.usefixtures("bounded")
async def test_what_is_within_bounds_and_quota_is_submitted(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    """The checks refuse only what they should: an application at the bounds, in its own namespace
    (spark.kubernetes.namespace naming it, as Kubeflow allows), its own labels and the driver pod
    name it picks, within its namespace's quota, is submitted."""
    await quota(kube, namespace, {"requests.cpu": "12", "requests.memory": "100Gi", "pods": "11"})
    patch = {"spec": {
        "sparkConf": {"spark.kubernetes.namespace": namespace, "spark.app.name": "mine",
                      "spark.kubernetes.executor.label.team": "data"},
        "driver": {"cores": 2, "labels": {"team": "data"}, "podName": "my-driver"},
        "executor": {"instances": 10, "cores": 1, "coreLimit": "4", "memory": "7g"},
    }}  # fmt: skip
    await tenant.create(SPARK_APPLICATIONS, application("fits", namespace, patch))
    state = await status_of(kube, "fits", namespace)
    assert state["state"] == "SUBMITTED", state
    pod = await kube.get(PODS, "my-driver", namespace)
    assert pod["metadata"]["labels"]["sparkoperator.k8s.io/app-name"] == "fits"
