"""The kube-scheduler's coscheduling plugin (scheduler-plugins), as the Kubeflow Spark Operator v2.5 uses it.

``spec.batchScheduler`` names a scheduler profile listed in ``--kube-scheduler-names``. A PodGroup
``scheduling.x-k8s.io/v1alpha1`` named ``<app>-pg``, controlled by the application, with
``minMember: 1`` and ``minResources`` the driver's and initial executors' (:mod:`.resources`); the
driver and executors carry the label ``scheduling.x-k8s.io/pod-group`` with its name and run under
that profile. (Kubeflow puts the label on the application, whence it reaches the pods; here it goes
on the pods only.)
"""

from __future__ import annotations

from sparkfleet.api.resource import Resource
from sparkfleet.api.sparkapplication import SparkApplication
from sparkfleet.operator.spark.batch.model import BatchPlan, Obj
from sparkfleet.operator.spark.batch.objects import pod_group
from sparkfleet.operator.spark.batch.resources import group_min_resources

POD_GROUPS = Resource("scheduling.x-k8s.io", "v1alpha1", "podgroups", "PodGroup")
CRD = "podgroups.scheduling.x-k8s.io"
POD_GROUP_LABEL = "scheduling.x-k8s.io/pod-group"


def pod_group_name(app_name: str) -> str:
    return f"{app_name}-pg"


def plan(app: SparkApplication, scheduler: str) -> BatchPlan:
    name = pod_group_name(app.metadata["name"])
    spec: Obj = {"minMember": 1, "minResources": group_min_resources(app)}
    label = {POD_GROUP_LABEL: name}
    return BatchPlan(
        scheduler_name=scheduler,
        driver_labels=label,
        executor_labels=label,
        pod_group=pod_group(POD_GROUPS, CRD, scheduler, app, name, spec),
    )
