"""Apache YuniKorn (``spec.batchScheduler: yunikorn``), as the Kubeflow Spark Operator v2.5 uses it.

No custom resource: YuniKorn reads gang scheduling from the pods. The driver is annotated
``yunikorn.apache.org/task-group-name: spark-driver`` and ``yunikorn.apache.org/task-groups`` (the
JSON list of task groups: the driver's, and the initial executors' when there are any, each with
its ``minMember``, ``minResource`` (:mod:`.resources`), node selector, tolerations, affinity and
labels); the executors ``yunikorn.apache.org/task-group-name: spark-executor``. Both run under the
``yunikorn`` scheduler, and carry the label ``queue`` when ``batchSchedulerOptions.queue`` is set.
As in Kubeflow, no application-id label is written: YuniKorn takes the ``spark-app-selector`` label
Spark puts on every pod for the application's id.
"""

from __future__ import annotations

import json
from typing import Any

from sparkfleet.api.sparkapplication import SparkApplication, SparkPodSpec
from sparkfleet.operator.spark.batch.model import YUNIKORN, BatchPlan
from sparkfleet.operator.spark.batch.resources import initial_executors, pod_requests

DRIVER_GROUP = "spark-driver"
EXECUTOR_GROUP = "spark-executor"
TASK_GROUP_NAME = "yunikorn.apache.org/task-group-name"
TASK_GROUPS = "yunikorn.apache.org/task-groups"
QUEUE_LABEL = "queue"


def _task_group(
    app: SparkApplication, name: str, role: str, pod: SparkPodSpec, members: int
) -> dict[str, Any]:
    """One task group, its keys in Kubeflow's order; empty ones left out, as it leaves them."""
    node_selector = {**(app.spec.node_selector or {}), **(pod.node_selector or {})}
    group: dict[str, Any] = {"name": name, "minMember": members, "minResource": pod_requests(app, role)}
    for key, value in (
        ("nodeSelector", dict(sorted(node_selector.items()))),
        ("tolerations", pod.tolerations),
        ("affinity", pod.affinity),
        ("labels", dict(sorted((pod.labels or {}).items()))),
    ):
        if value:
            group[key] = value
    return group


def task_groups_json(groups: list[dict[str, Any]]) -> str:
    """The annotation's text as Go's encoding/json writes it: compact, and <, >, & escaped."""
    text = json.dumps(groups, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plan(app: SparkApplication) -> BatchPlan:
    spec = app.spec
    groups = [_task_group(app, DRIVER_GROUP, "driver", spec.driver, 1)]
    executors = initial_executors(app)
    if executors > 0:
        groups.append(_task_group(app, EXECUTOR_GROUP, "executor", spec.executor, executors))
    options = spec.batch_scheduler_options
    queue = {QUEUE_LABEL: options.queue} if options and options.queue else {}
    return BatchPlan(
        scheduler_name=YUNIKORN,
        driver_labels=queue,
        executor_labels=queue,
        driver_annotations={TASK_GROUP_NAME: DRIVER_GROUP, TASK_GROUPS: task_groups_json(groups)},
        executor_annotations={TASK_GROUP_NAME: EXECUTOR_GROUP},
    )
