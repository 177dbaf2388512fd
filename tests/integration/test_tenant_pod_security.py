"""Pod Security, judged by the real API server's PodSecurity admission.

- In a namespace that enforces the ``restricted`` Pod Security Standard, the default driver and
  executor pods are admitted and the application completes with its executors: with the pod
  simulator (which creates executors as Spark's executor builder does) and with real Spark (the
  driver JVM creates its executors from sparkfleet's executor pod template).
- A platform's policy (``--pod-security=baseline``, ``--allowed-service-accounts``) refuses what a
  tenant asks of its pods beyond it, SUBMISSION_FAILED naming the field, with no pod created.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import EVENTS, NAMESPACES, PODS, SERVICEACCOUNTS
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.pod_policy import NO_POLICY, PodPolicy
from sparkfleet.sim import PodSimulator, SimConfig
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.kubelet import Kubelet
from sparkfleet.testing.proc import Process, free_port
from sparkfleet.testing.spark import compile_java, find_spark, java_sources
from tests.conformance import test_spark_pi as real_spark
from tests.examples import manifests
from tests.support import client_as, eventually, spark_application_rules, spark_crds

ACCOUNT = "spark-operator-spark"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


async def restrict(kube: KubeClient, namespace: str) -> None:
    """The namespace enforces the restricted Pod Security Standard from now on."""
    await kube.patch(NAMESPACES, namespace, {"metadata": {"labels": RESTRICTED}})


async def service_account(kube: KubeClient, namespace: str, name: str = ACCOUNT) -> None:
    body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
    await kube.create(SERVICEACCOUNTS, body)


def state_of(app: dict[str, Any]) -> dict[str, Any]:
    return (app.get("status") or {}).get("applicationState") or {}


async def test_default_pods_are_admitted_where_restricted_is_enforced_with_the_simulator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    await control_plane.install_crds(spark_crds())
    await service_account(kube, namespace)
    await restrict(kube, namespace)
    client = await control_plane.client()
    controller = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=2)
    simulator = PodSimulator(
        client, SimConfig(nodes=1, start_delay=(0.05, 0.1), run_time=(0.5, 1.0), seed=16), namespace=namespace
    )
    await controller.start(sync_timeout=10)
    await simulator.start()
    try:
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("pi", namespace))

        async def finished() -> dict[str, Any] | None:
            app = await kube.get(SPARK_APPLICATIONS, "pi", namespace)
            executors = (app.get("status") or {}).get("executorState") or {}
            state = state_of(app).get("state")
            if state in ("FAILED", "SUBMISSION_FAILED"):
                pytest.fail(f"pi ended {state}: {state_of(app).get('errorMessage')}")
            done = state == "COMPLETED" and len(executors) == 2
            return app if done and set(executors.values()) == {"COMPLETED"} else None

        await eventually(finished, what="pi COMPLETED with 2 executors", timeout=60)
        assert simulator.stats.executors_created == 2
        pods, _ = await kube.list_all(PODS, namespace)
        roles = sorted(p["metadata"]["labels"][naming.LABEL_SPARK_ROLE] for p in pods)
        assert roles == ["driver", "executor", "executor"]
    finally:
        await simulator.stop()
        await controller.stop()
        await client.close()


@pytest.fixture
async def restricted_operator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> AsyncIterator[Process]:
    """``sparkfleet run`` (a process of its own) serving a namespace that enforces restricted."""
    await restrict(kube, namespace)
    await control_plane.install_crds(spark_crds())
    port = free_port()
    argv = [sys.executable, "-m", "sparkfleet.cli", "run", "--kubeconfig", str(control_plane.kubeconfig),
            "--namespaces", namespace, "--metrics-bind-address", f"127.0.0.1:{port}"]  # fmt: skip
    process = await Process.spawn("sparkfleet", argv, tmp_path / "sparkfleet.log")
    try:
        await real_spark.wait_ready(f"http://127.0.0.1:{port}/readyz", process)
        yield process
    finally:
        await process.stop()


async def test_real_spark_driver_and_executors_are_admitted_where_restricted_is_enforced(
    control_plane: ControlPlane,
    kube: KubeClient,
    namespace: str,
    restricted_operator: Process,
    tmp_path: Path,
) -> None:
    spark = find_spark()
    jar = real_spark.build_jar(
        compile_java(spark, [java_sources() / "SparkPi.java"]), tmp_path / "spark-pi.jar"
    )
    await real_spark.grant_driver_role(control_plane, kube, namespace)
    kubelet = Kubelet.for_control_plane(control_plane, kube, namespace, tmp_path / "kubelet", spark)
    try:
        await kubelet.start()
        await kube.create(SPARK_APPLICATIONS, real_spark.spark_pi(namespace, jar))
        app = await real_spark.wait_done(kube, kubelet, namespace, real_spark.TIMEOUT, {})
        status = app["status"]
        assert status["applicationState"]["state"] == "COMPLETED", real_spark.diagnose(kubelet)
        assert sorted(status["executorState"].values()) == ["COMPLETED"] * real_spark.EXECUTORS
        executors = [run for run in kubelet.runs.values() if run.role == "executor"]
        assert len(executors) == real_spark.EXECUTORS, real_spark.diagnose(kubelet)
        for run in executors:  # created by the Spark driver itself, admitted as restricted
            [container] = run.pod["spec"]["containers"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert run.exit_code == 0, real_spark.diagnose(kubelet)
    finally:
        await kubelet.stop()


# -- the platform's policy ----------------------------------------------------------------------


@pytest.fixture
async def tenant(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> AsyncIterator[KubeClient]:
    """A tenant who may create, read and edit SparkApplications in the namespace, nothing more."""
    rules = spark_application_rules("get", "list", "watch", "create", "update", "patch", "delete")
    client = await client_as(control_plane, kube, namespace, "tenant", rules)
    yield client
    await client.close()


@pytest.fixture
async def policed(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[SparkApplicationController]:
    """The operator under --pod-security=baseline --allowed-service-accounts=spark-operator-spark."""
    await control_plane.install_crds(spark_crds())
    await service_account(kube, namespace)
    await service_account(kube, namespace, "admin-robot")
    client = await control_plane.client()
    policy = PodPolicy("baseline", frozenset({ACCOUNT}))
    controller = SparkApplicationController(
        client, namespaces=[namespace], concurrent_syncs=2, pod_policy=policy
    )
    await controller.start(sync_timeout=10)
    yield controller
    await controller.stop()
    await client.close()


def _host_path(spec: dict[str, Any]) -> None:
    spec["volumes"] = [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}},
                       {"name": "root", "hostPath": {"path": "/"}}]  # fmt: skip
    spec["driver"]["volumeMounts"] = [{"name": "root", "mountPath": "/host"}]


def _privileged(spec: dict[str, Any]) -> None:
    spec["driver"]["securityContext"] = {"privileged": True}


def _host_network(spec: dict[str, Any]) -> None:
    spec["driver"]["hostNetwork"] = True


def _host_pid(spec: dict[str, Any]) -> None:
    spec["driver"]["template"] = {"spec": {"hostPID": True}}


def _host_ipc(spec: dict[str, Any]) -> None:
    spec["executor"]["template"] = {"spec": {"hostIPC": True}}


def _privileged_sidecar(spec: dict[str, Any]) -> None:
    spec["executor"]["sidecars"] = [
        {"name": "tap", "image": "busybox", "securityContext": {"privileged": True}}
    ]


def _spark_host_path(spec: dict[str, Any]) -> None:
    spec["sparkConf"] = {"spark.kubernetes.executor.volumes.hostPath.etc.mount.path": "/host-etc",
                         "spark.kubernetes.executor.volumes.hostPath.etc.options.path": "/etc"}  # fmt: skip


def _foreign_account(spec: dict[str, Any]) -> None:
    spec["executor"]["serviceAccount"] = "admin-robot"


def _no_account(spec: dict[str, Any]) -> None:
    del spec["driver"]["serviceAccount"]


REFUSED = [
    ("host-path", _host_path, "spec.volumes[2].hostPath: host paths are refused"),
    ("privileged", _privileged, "spec.driver.securityContext.privileged: privileged containers are refused"),
    ("host-network", _host_network, "spec.driver.hostNetwork: host namespaces are refused"),
    ("host-pid", _host_pid, "spec.driver.template.spec.hostPID: host namespaces are refused"),
    ("host-ipc", _host_ipc, "spec.executor.template.spec.hostIPC: host namespaces are refused"),
    ("sidecar", _privileged_sidecar, "spec.executor.sidecars[0].securityContext.privileged: privileged"),
    ("spark-host-path", _spark_host_path,
     "spec.sparkConf[spark.kubernetes.executor.volumes.hostPath.etc.mount.path]: host paths are refused"),
    ("foreign-account", _foreign_account, "spec.executor.serviceAccount: ServiceAccount 'admin-robot' is not"),
    ("no-account", _no_account, "spec.driver.serviceAccount: required here: without it the driver runs as"),
]  # fmt: skip


@pytest.mark.usefixtures("policed")
async def test_the_policy_refuses_what_a_tenant_asks_beyond_it_naming_the_field(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    for case, change, _ in REFUSED:
        manifest = manifests.spark_pi(case, namespace)
        change(manifest["spec"])
        await tenant.create(SPARK_APPLICATIONS, manifest)
    allowed = manifests.spark_pi("allowed", namespace)
    await tenant.create(SPARK_APPLICATIONS, allowed)

    async def all_decided() -> dict[str, dict[str, Any]] | None:
        apps = {c: await tenant.get(SPARK_APPLICATIONS, c, namespace) for c, _, _ in REFUSED}
        done = all(state_of(a).get("state") == "SUBMISSION_FAILED" for a in apps.values())
        running = state_of(await tenant.get(SPARK_APPLICATIONS, "allowed", namespace)).get("state")
        return apps if done and running == "SUBMITTED" else None

    apps = await eventually(all_decided, what="every refused application SUBMISSION_FAILED", timeout=30)
    for case, _, message in REFUSED:
        assert message in state_of(apps[case])["errorMessage"], (case, state_of(apps[case]))
        events, _ = await kube.list_all(EVENTS, namespace, field_selector=f"involvedObject.name={case}")
        assert any(e["type"] == "Warning" and message in e["message"] for e in events), (case, events)
    pods, _ = await kube.list_all(PODS, namespace)
    assert [p["metadata"]["labels"][naming.LABEL_APP_NAME] for p in pods] == ["allowed"]

    # Refused until the spec changes: no retry, no attempt counted; a fixed spec is submitted.
    before = await tenant.get(SPARK_APPLICATIONS, "privileged", namespace)
    await asyncio.sleep(2)
    after = await tenant.get(SPARK_APPLICATIONS, "privileged", namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    await tenant.patch(
        SPARK_APPLICATIONS, "privileged", {"spec": {"driver": {"securityContext": None}}}, namespace
    )
    deadline = time.monotonic() + 20
    while state_of(await tenant.get(SPARK_APPLICATIONS, "privileged", namespace)).get("state") != "SUBMITTED":
        assert time.monotonic() < deadline, "the fixed application was never submitted"
        await asyncio.sleep(0.1)


async def test_a_policy_turned_on_later_fails_no_running_application(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """The platform team turns --pod-security on while an application it now refuses runs: that
    one goes on (judged at its submission, never again); a new one asking the same is refused."""
    await control_plane.install_crds(spark_crds())
    await service_account(kube, namespace)
    before = manifests.spark_pi("before", namespace)
    _host_path(before["spec"])
    await kube.create(SPARK_APPLICATIONS, before)

    async def run(policy: PodPolicy, until: str, check: Any) -> None:
        client = await control_plane.client()
        controller = SparkApplicationController(
            client, namespaces=[namespace], concurrent_syncs=2, pod_policy=policy
        )
        await controller.start(sync_timeout=10)
        try:
            await eventually(check, what=until, timeout=30)
        finally:
            await controller.stop()
            await client.close()

    async def state(name: str) -> str:
        return str(state_of(await kube.get(SPARK_APPLICATIONS, name, namespace)).get("state") or "")

    async def submitted() -> bool:
        return await state("before") == "SUBMITTED"

    await run(NO_POLICY, "the application submitted without a policy", submitted)
    after = manifests.spark_pi("after", namespace)
    _host_path(after["spec"])
    await kube.create(SPARK_APPLICATIONS, after)

    async def after_refused() -> bool:
        return await state("after") == "SUBMISSION_FAILED"

    await run(PodPolicy("baseline", frozenset({ACCOUNT})), "the new application refused", after_refused)
    assert await state("before") == "SUBMITTED"  # reconciled at start (it was listed first), not refused
    pods, _ = await kube.list_all(PODS, namespace)
    assert [p["metadata"]["labels"][naming.LABEL_APP_NAME] for p in pods] == ["before"]
