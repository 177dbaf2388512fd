"""API requests the operator makes per SparkApplication lifecycle, by verb.

Starts a local control plane, runs the SparkApplication controller, and
drives N applications through submit -> driver Running -> executors Running
-> everything Succeeded -> COMPLETED, with the test side playing kubelet.
The controller's client goes through a local proxy, so its requests are
counted apart (``rest_client_requests_total`` by host).

Run: ``python -m bench.api_requests --apps 50 --executors 2``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import REGISTRY

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import PODS, SERVICEACCOUNTS
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.testing import ControlPlane, TcpProxy

CRD_DIR = Path(__file__).resolve().parents[1] / "deploy" / "crds"
NAMESPACE = "bench"


def app(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "type": "Scala", "mode": "cluster", "image": "spark:3.5.5", "sparkVersion": "3.5.5",
            "mainClass": "org.apache.spark.examples.SparkPi",
            "mainApplicationFile": "local:///opt/spark/examples/jars/spark-examples.jar",
            "driver": {"cores": 1, "memory": "512m", "serviceAccount": "spark"},
            "executor": {"instances": 2, "cores": 1, "memory": "512m"},
        },
    }  # fmt: skip


def requests_by_verb(host: str) -> Counter[str]:
    """``VERB code`` -> requests, for one client host."""
    counts: Counter[str] = Counter()
    for metric in REGISTRY.collect():
        if metric.name != "rest_client_requests":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("host") == host:
                counts[f"{sample.labels['method']} {sample.labels['code']}"] += int(sample.value)
    return counts


async def state(kube: KubeClient, name: str) -> str:
    obj = await kube.get(SPARK_APPLICATIONS, name, NAMESPACE)
    return str(((obj.get("status") or {}).get("applicationState") or {}).get("state", ""))


async def wait_state(kube: KubeClient, name: str, wanted: str) -> None:
    while await state(kube, name) != wanted:  # noqa: ASYNC110 (polls the API server)
        await asyncio.sleep(0.05)


async def phase(kube: KubeClient, pod: str, value: str) -> None:
    await kube.patch(PODS, pod, {"status": {"phase": value}}, NAMESPACE, subresource="status")


async def lifecycle(kube: KubeClient, name: str, executors: int) -> None:
    await kube.create(SPARK_APPLICATIONS, app(name))
    await wait_state(kube, name, "SUBMITTED")
    driver = await kube.get(PODS, f"{name}-driver", NAMESPACE)
    await phase(kube, driver["metadata"]["name"], "Running")
    await wait_state(kube, name, "RUNNING")
    labels = {k: v for k, v in driver["metadata"]["labels"].items() if k != naming.LABEL_SPARK_ROLE}
    owner = {"apiVersion": "v1", "kind": "Pod", "name": driver["metadata"]["name"],
             "uid": driver["metadata"]["uid"], "controller": True}  # fmt: skip
    pods = []
    for i in range(1, executors + 1):
        pod = f"{name}-exec-{i}"
        executor_labels = {**labels, naming.LABEL_SPARK_ROLE: "executor", naming.LABEL_EXECUTOR_ID: str(i)}
        await kube.create(PODS, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod, "namespace": NAMESPACE, "labels": executor_labels,
                         "ownerReferences": [owner]},  # as Spark sets it: matched by the driver's UID
            "spec": {"serviceAccountName": "spark",
                     "containers": [{"name": "spark-kubernetes-executor", "image": "spark"}]},
        })  # fmt: skip
        await phase(kube, pod, "Running")
        pods.append(pod)
    for pod in pods:
        await phase(kube, pod, "Succeeded")
    await phase(kube, driver["metadata"]["name"], "Succeeded")
    await wait_state(kube, name, "COMPLETED")


async def main(apps: int, executors: int) -> None:
    async with ControlPlane() as cp:
        await cp.install_crds(sorted(CRD_DIR.glob("*.yaml")))
        async with await cp.client() as kube:
            await cp.create_namespace(NAMESPACE)
            account = {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "spark", "namespace": NAMESPACE},
            }
            await kube.create(SERVICEACCOUNTS, account)
            target = urlsplit(cp.host)
            async with TcpProxy(target.hostname or "127.0.0.1", target.port or 443) as proxy:
                client = await cp.client()
                client.connection.host = proxy.url
                controller = SparkApplicationController(client, namespaces=[NAMESPACE], concurrent_syncs=10)
                await controller.start(sync_timeout=10)
                host = client.transport.host
                before = requests_by_verb(host)
                started = time.monotonic()
                await asyncio.gather(*(lifecycle(kube, f"app-{i:03d}", executors) for i in range(apps)))
                elapsed = time.monotonic() - started
                await asyncio.sleep(1.0)  # let trailing reconciles land
                counts = requests_by_verb(host) - before
                await controller.stop()
                await client.close()
    total = sum(counts.values())
    print(f"{apps} applications, {executors} executors each, full lifecycle in {elapsed:.1f}s")
    print("controller API requests per application, by verb:")
    for verb in sorted(counts):
        print(f"  {verb:<10} {counts[verb] / apps:6.2f}")
    print(f"  {'total':<10} {total / apps:6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--executors", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.apps, args.executors))
