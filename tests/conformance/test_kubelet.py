"""The kubelet stand-in on its own: a deleted pod's JVM is stopped, and the pod ends as a kubelet ends it.

One real executor JVM (``KubernetesExecutorBackend``) whose driver URL points at a socket that
accepts and never answers, so it waits as long as nobody stops it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import PODS
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.kubelet import Kubelet
from sparkfleet.testing.spark import JAVA_MODULE_OPTIONS, find_spark


def executor_pod(name: str, driver_port: int) -> dict[str, Any]:
    """An executor pod as Spark's driver creates one (env from BasicExecutorFeatureStep)."""
    env = [
        {"name": "SPARK_DRIVER_URL", "value": f"spark://CoarseGrainedScheduler@127.0.0.1:{driver_port}"},
        {"name": "SPARK_EXECUTOR_CORES", "value": "1"},
        {"name": "SPARK_EXECUTOR_MEMORY", "value": "256m"},
        {"name": "SPARK_APPLICATION_ID", "value": "spark-kubelet-test"},
        {"name": "SPARK_EXECUTOR_ID", "value": "1"},
        {"name": "SPARK_RESOURCE_PROFILE_ID", "value": "0"},
        *({"name": f"SPARK_JAVA_OPT_{i}", "value": option} for i, option in enumerate(JAVA_MODULE_OPTIONS)),
        {"name": "SPARK_EXECUTOR_POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
        {"name": "SPARK_EXECUTOR_POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
    ]  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"spark-role": "executor"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 10,
            "automountServiceAccountToken": False,
            "containers": [{"name": "spark-kubernetes-executor", "image": "spark:4.0.2", "args": ["executor"],
                            "env": env}],
        },
    }  # fmt: skip


async def test_a_deleted_pod_stops_its_jvm_and_ends_as_a_kubelet_ends_it(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    connected = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        connected.set()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await control_plane.mint_identity(namespace, "default")  # pods need their ServiceAccount
    kubelet = Kubelet.for_control_plane(control_plane, kube, namespace, tmp_path / "kubelet", find_spark())
    try:
        await kubelet.start()
        await kube.create(PODS, executor_pod("exec-hold", port), namespace)
        deadline = time.monotonic() + 60
        while not connected.is_set():
            runs = list(kubelet.runs.values())
            assert time.monotonic() < deadline, [(r.error, r.log()) for r in runs]
            assert all(r.exit_code is None for r in runs), [r.log() for r in runs]
            await asyncio.sleep(0.2)
        pod = await kube.get(PODS, "exec-hold", namespace)
        assert pod["spec"]["nodeName"] == kubelet.node_name
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"] == "127.0.0.1"
        assert pod["status"]["containerStatuses"][0]["state"]["running"]
        run = kubelet.by_name("exec-hold")
        assert kubelet.processes() == [run.pid]

        # A graceful delete: the pod stays (deletionTimestamp) until its JVM has stopped and
        # the kubelet has reported how it ended; then the kubelet's final delete removes it.
        events = await kube.watch(PODS, namespace, field_selector="metadata.name=exec-hold",
                                  resource_version=pod["metadata"]["resourceVersion"], timeout_seconds=60)  # fmt: skip
        await kube.delete(PODS, "exec-hold", namespace)
        seen: list[tuple[str, str | None, int | None]] = []
        async for event in events:
            status = event["object"].get("status") or {}
            terminated = ((status.get("containerStatuses") or [{}])[0].get("state") or {}).get(
                "terminated"
            ) or {}
            seen.append((event["type"], status.get("phase"), terminated.get("exitCode")))
            if event["type"] == "DELETED":
                break
        assert ("MODIFIED", "Failed", 143) in seen, seen  # SIGTERM: 128 + 15
        assert seen[-1][0] == "DELETED", seen
        assert run.exit_code == 143
        assert not kubelet.processes()
    finally:
        await kubelet.stop()
        for writer in held:
            writer.close()
        server.close()
