"""How much CPU decoding a large list costs, by decoder.

An operator at seed scale lists and watches thousands of pods; in Python the
decoder dominates that CPU. This compares, on a list of realistic Spark
executor pods (with managedFields, as the API server returns them):

- kubernetes-asyncio's generated models (``ApiClient.deserialize``),
- the standard library's ``json``,
- ``orjson`` into plain dicts (what sparkfleet.kube uses),
- a small pydantic model of only the fields a controller reads.

Run: ``make bench-decode`` (or ``python -m bench.decode --pods 4000``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import orjson
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.rest import RESTResponse
from pydantic import BaseModel, ConfigDict, TypeAdapter


def executor_pod(app: int, index: int) -> dict[str, Any]:
    name = f"app-{app:04d}"
    labels = {
        "spark-role": "executor",
        "spark-app-name": name,
        "spark-app-selector": f"spark-{app:032x}",
        "spark-exec-id": str(index),
        "sparkoperator.k8s.io/app-name": name,
        "sparkoperator.k8s.io/launched-by-spark-operator": "true",
        "sparkoperator.k8s.io/submission-id": f"{app:08x}-0000-4000-8000-{index:012x}",
    }
    return {
        "metadata": {
            "name": f"{name}-exec-{index}",
            "namespace": f"team-{app % 40:02d}",
            "uid": f"{app:08x}-{index:04x}-4000-8000-000000000000",
            "resourceVersion": str(100000 + app * 10 + index),
            "creationTimestamp": "2026-11-24T03:00:00Z",
            "labels": labels,
            "annotations": {"sparkfleet.io/shard": f"shard-{app % 8}"},
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": f"{name}-driver",
                    "uid": f"{app:08x}-0000-4000-8000-000000000000",
                    "controller": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "spark-driver",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2026-11-24T03:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {"f:labels": {f"f:{k}": {} for k in labels}},
                        "f:spec": {"f:containers": {'k:{"name":"spark-kubernetes-executor"}': {".": {}}}},
                    },
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "spark-kubernetes-executor",
                    "image": "apache/spark:3.5.5",
                    "args": ["executor"],
                    "env": [
                        {"name": "SPARK_EXECUTOR_ID", "value": str(index)},
                        {"name": "SPARK_APPLICATION_ID", "value": f"spark-{app:032x}"},
                        {
                            "name": "SPARK_DRIVER_URL",
                            "value": f"spark://CoarseGrainedScheduler@{name}-svc:7078",
                        },
                        {"name": "SPARK_EXECUTOR_CORES", "value": "1"},
                        {"name": "SPARK_EXECUTOR_MEMORY", "value": "512m"},
                        {
                            "name": "SPARK_EXECUTOR_POD_IP",
                            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
                        },
                    ],
                    "ports": [{"name": "blockmanager", "containerPort": 7079, "protocol": "TCP"}],
                    "resources": {
                        "limits": {"memory": "896Mi"},
                        "requests": {"cpu": "1", "memory": "896Mi"},
                    },
                    "volumeMounts": [{"name": "spark-local-dir-1", "mountPath": "/var/data/spark-1"}],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                }
            ],
            "volumes": [{"name": "spark-local-dir-1", "emptyDir": {}}],
            "restartPolicy": "Never",
            "nodeName": f"node-{index % 16}",
            "serviceAccountName": "spark",
            "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 30,
        },
        "status": {
            "phase": "Running",
            "podIP": f"10.1.{app % 250}.{index}",
            "startTime": "2026-11-24T03:00:01Z",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": "2026-11-24T03:00:02Z"}
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": [
                {
                    "name": "spark-kubernetes-executor",
                    "ready": True,
                    "restartCount": 0,
                    "image": "apache/spark:3.5.5",
                    "imageID": "docker.io/apache/spark@sha256:" + "0" * 64,
                    "state": {"running": {"startedAt": "2026-11-24T03:00:02Z"}},
                }
            ],
        },
    }


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    namespace: str
    resourceVersion: str
    labels: dict[str, str] = {}


class _Status(BaseModel):
    model_config = ConfigDict(extra="ignore")
    phase: str | None = None


class PodLite(BaseModel):
    """The fields a Spark controller reads from an executor pod."""

    model_config = ConfigDict(extra="ignore")
    metadata: _Meta
    status: _Status = _Status()


class PodListLite(BaseModel):
    model_config = ConfigDict(extra="ignore")
    items: list[PodLite]


class _Response(RESTResponse):
    """What ApiClient.deserialize reads: the body of an answer."""

    def __init__(self, data: bytes):
        self.data = data


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


async def measure(pods_count: int, runs: int) -> None:
    pods = [executor_pod(app, i) for app in range(pods_count // 10 + 1) for i in range(10)][:pods_count]
    raw = orjson.dumps(
        {"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": pods}
    )
    api = ApiClient()  # needs a running loop for its (unused) connection pool
    lite = TypeAdapter(PodListLite)
    decoders: dict[str, Callable[[], object]] = {
        "kubernetes-asyncio models": lambda: api.deserialize(_Response(raw), "V1PodList"),
        "json.loads (stdlib)": lambda: json.loads(raw),
        "orjson.loads -> dicts": lambda: orjson.loads(raw),
        "pydantic (fields read)": lambda: lite.validate_json(raw),
    }
    results = {name: best_of(runs, fn) for name, fn in decoders.items()}
    await api.close()
    baseline = results["orjson.loads -> dicts"]
    print(f"{pods_count} executor pods, {len(raw) / 2**20:.1f} MiB of JSON, best of {runs}")
    print(f"{'decoder':<28}{'total ms':>10}{'us/pod':>10}{'x orjson':>10}")
    for name, seconds in results.items():
        print(
            f"{name:<28}{seconds * 1e3:>10.1f}{seconds / pods_count * 1e6:>10.1f}{seconds / baseline:>10.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pods", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    asyncio.run(measure(args.pods, args.runs))


if __name__ == "__main__":
    main()
