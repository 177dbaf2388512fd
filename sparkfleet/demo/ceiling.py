"""What this machine's API server sustains for the operator's kind of writes, sent by a lean client.

A unit is one submission's writes with nothing else around them: the driver
pod, its ConfigMap, its two Services (rendered by the operator's own code,
so sizes and admission work are the same), a status update of a
SparkApplication, and an Event. Units run back to back, ``in_flight`` at a
time, with no reads, no informers and no reconcile logic; the writes per
second they reach is the ceiling the fleet's write rate is compared with.

The objects go into a namespace no fleet serves and no simulator watches.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.api.sparkapplication import SparkApplication
from sparkfleet.demo.workload import application
from sparkfleet.kube import KubeClient
from sparkfleet.kube.events import event_about
from sparkfleet.kube.resources import CONFIGMAPS, EVENTS, PODS, SERVICES
from sparkfleet.operator.spark.submission import new_submission_id, render

WRITES_PER_UNIT = 6
COMPONENT = "sparkfleet-ceiling"


async def write_ceiling(
    client: KubeClient, namespace: str, seconds: float = 6.0, in_flight: int = 32
) -> float:
    """Writes per second over ``seconds`` of back-to-back units, ``in_flight`` at a time."""
    apps = []
    for slot in range(in_flight):
        manifest = application(f"ceiling-{slot}", namespace, executors=5)
        manifest["metadata"]["labels"] = {}
        apps.append(await client.create(SPARK_APPLICATIONS, manifest))
    counter = itertools.count()
    writes = 0
    deadline = time.monotonic() + seconds

    async def lane(raw: dict[str, Any]) -> None:
        nonlocal writes
        app = SparkApplication.model_validate(raw)
        while time.monotonic() < deadline:
            n = next(counter)
            submission = render(app, new_submission_id())
            pod = submission.driver_pod
            pod["metadata"]["name"] = f"ceiling-{n}-driver"
            pod["metadata"]["labels"] = {"sparkfleet.io/ceiling": "true"}  # nobody watches these
            driver = await client.create(PODS, pod)
            extras = [submission.config_map, submission.driver_service, submission.ui_service]
            for i, obj in enumerate(x for x in extras if x is not None):
                obj["metadata"]["name"] = f"ceiling-{n}-{i}"
            await asyncio.gather(
                *(
                    client.create(kind, submission.owned_by_driver(obj, driver))
                    for kind, obj in zip((CONFIGMAPS, SERVICES, SERVICES), extras, strict=True)
                    if obj is not None
                )
            )
            raw["status"] = {"applicationState": {"state": "SUBMITTED"}, "submissionID": str(n)}
            raw = await client.replace_status(SPARK_APPLICATIONS, raw)
            event = event_about(raw, "Normal", "SparkApplicationSubmitted", f"submitted as {n}", COMPONENT)
            await client.create(EVENTS, event)
            writes += WRITES_PER_UNIT

    started = time.monotonic()
    await asyncio.gather(*(lane(raw) for raw in apps))
    return round(writes / (time.monotonic() - started), 1)
