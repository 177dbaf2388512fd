"""Volcano (``spec.batchScheduler: volcano``), as the Kubeflow Spark Operator v2.5 uses it.

A PodGroup ``scheduling.volcano.sh/v1beta1`` named ``spark-<app>-pg``, controlled by the application:
``minMember: 1``, ``minResources`` the driver's and initial executors' (:mod:`.resources`), or
``batchSchedulerOptions.resources`` when it sets any; ``queue`` and ``priorityClassName`` from
``batchSchedulerOptions``. The driver and executors are annotated ``scheduling.k8s.io/group-name``
with its name, and run under the ``volcano`` scheduler. An application whose driver annotations
already name a group is left to it (no PodGroup is made), as in Kubeflow.
"""

from __future__ import annotations

from sparkfleet.api.resource import Resource
from sparkfleet.api.sparkapplication import SparkApplication
from sparkfleet.operator.spark.batch.model import VOLCANO, BatchPlan, Obj
from sparkfleet.operator.spark.batch.objects import pod_group
from sparkfleet.operator.spark.batch.resources import group_min_resources

POD_GROUPS = Resource("scheduling.volcano.sh", "v1beta1", "podgroups", "PodGroup")
CRD = "podgroups.scheduling.volcano.sh"
GROUP_NAME_ANNOTATION = "scheduling.k8s.io/group-name"


def pod_group_name(app_name: str) -> str:
    return f"spark-{app_name}-pg"


def plan(app: SparkApplication) -> BatchPlan:
    spec = app.spec
    if GROUP_NAME_ANNOTATION in (spec.driver.annotations or {}):
        return BatchPlan(scheduler_name=VOLCANO)
    name = pod_group_name(app.metadata["name"])
    options = spec.batch_scheduler_options
    given = dict(options.resources) if options and options.resources else None
    group_spec: Obj = {"minMember": 1, "minResources": given or group_min_resources(app)}
    if options and options.queue:
        group_spec["queue"] = options.queue
    if options and options.priority_class_name:
        group_spec["priorityClassName"] = options.priority_class_name
    annotations = {GROUP_NAME_ANNOTATION: name}
    return BatchPlan(
        scheduler_name=VOLCANO,
        driver_annotations=annotations,
        executor_annotations=annotations,
        pod_group=pod_group(POD_GROUPS, CRD, VOLCANO, app, name, group_spec),
    )
