"""Batch-scheduler planning (sparkfleet.operator.spark.batch): which scheduler, what the pods carry,
the PodGroup and its minResources, by the Kubeflow Spark Operator v2.5's rules; no cluster."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from sparkfleet.api import SparkApplication
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.batch import resources, yunikorn
from sparkfleet.operator.spark.batch.model import BatchOptions, BatchRefused
from sparkfleet.operator.spark.batch.plan import plan_for
from sparkfleet.operator.spark.submission import parse_properties, render, spec_hash
from tests.examples import manifests

UID = "11111111-2222-3333-4444-555555555555"
SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
ON = BatchOptions(enabled=True, kube_scheduler_names=("scheduler-a",))


def app_of(manifest: dict[str, Any], **spec: Any) -> SparkApplication:
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["uid"] = UID
    manifest["spec"].update(spec)
    return SparkApplication.model_validate(manifest)


def pi(**spec: Any) -> SparkApplication:
    return app_of(manifests.spark_pi(), **spec)


def test_off_or_unnamed_there_is_no_plan() -> None:
    assert plan_for(pi(batchScheduler="volcano"), BatchOptions()) is None  # off: schedulerName only
    assert plan_for(pi(), ON) is None  # on, but neither the app nor a default names one


def test_off_the_batch_scheduler_is_only_the_pods_scheduler_name_and_wins_over_theirs() -> None:
    app = pi(batchScheduler="volcano")
    app.spec.driver.scheduler_name = "custom"
    sub = render(app, SID, batch=plan_for(app, BatchOptions()))
    assert sub.driver_pod["spec"]["schedulerName"] == "volcano"  # Kubeflow's webhook: batchScheduler first
    assert "scheduling.k8s.io/group-name" not in sub.driver_pod["metadata"]["annotations"]


def test_a_scheduler_not_enabled_is_refused_naming_the_field_and_the_scheduler() -> None:
    with pytest.raises(
        BatchRefused, match=r"^spec\.batchScheduler: batch scheduler 'kueue-x' is not enabled"
    ):
        plan_for(pi(batchScheduler="kueue-x"), ON)
    # a kube-scheduler profile counts only when listed
    with pytest.raises(BatchRefused, match="scheduler-b"):
        plan_for(pi(batchScheduler="scheduler-b"), ON)


def test_a_default_that_is_no_batch_scheduler_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="--default-batch-scheduler: 'nope'"):
        BatchOptions(enabled=True, default="nope")
    assert BatchOptions(enabled=True, default="scheduler-a", kube_scheduler_names=("scheduler-a",))
    assert BatchOptions(enabled=False, default="nope")  # ignored when off, as in Kubeflow


def test_volcano_pod_group_pods_and_owner() -> None:
    app = pi(batchScheduler="volcano", batchSchedulerOptions={"queue": "q1", "priorityClassName": "high"})
    plan = plan_for(app, ON)
    assert plan is not None
    assert plan.pod_group is not None
    group = plan.pod_group.obj
    assert group["apiVersion"] == "scheduling.volcano.sh/v1beta1"
    assert group["metadata"]["name"] == "spark-spark-pi-pg"
    (owner,) = group["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "SparkApplication", "spark-pi", UID, True,
    )  # fmt: skip
    # driver 1 core 512m + 2 executors of 1 core 512m; no overhead counted (none given), as Kubeflow
    assert group["spec"] == {
        "minMember": 1, "minResources": {"cpu": "3", "memory": "1536Mi"},
        "queue": "q1", "priorityClassName": "high",
    }  # fmt: skip
    sub = render(app, SID, batch=plan)
    executor = yaml_template(sub)
    for meta, spec in (
        (sub.driver_pod["metadata"], sub.driver_pod["spec"]),
        (executor["metadata"], executor["spec"]),
    ):
        assert meta["annotations"]["scheduling.k8s.io/group-name"] == "spark-spark-pi-pg"
        assert spec["schedulerName"] == "volcano"
    props = parse_properties(sub.config_map["data"]["spark.properties"])
    assert props["spark.kubernetes.executor.annotation.scheduling.k8s.io/group-name"] == "spark-spark-pi-pg"


def test_volcano_default_scheduler_and_given_resources() -> None:
    options = BatchOptions(enabled=True, default="volcano")
    app = pi(batchSchedulerOptions={"resources": {"cpu": "10", "memory": "10Gi"}})
    plan = plan_for(app, options)
    assert plan is not None
    assert plan.pod_group is not None
    assert plan.pod_group.obj["spec"]["minResources"] == {"cpu": "10", "memory": "10Gi"}
    assert render(app, SID, batch=plan).driver_pod["spec"]["schedulerName"] == "volcano"


def test_volcano_leaves_an_app_that_names_its_own_group() -> None:
    app = pi(batchScheduler="volcano")
    app.spec.driver.annotations = {"scheduling.k8s.io/group-name": "mine"}
    plan = plan_for(app, ON)
    assert plan is not None
    assert plan.pod_group is None
    assert plan.scheduler_name == "volcano"


@pytest.mark.parametrize(
    ("driver", "executor", "extra", "expected"),
    [
        # memoryOverhead counts when given; cores over coreLimit for the driver, coreRequest first for executors
        ({"cores": 2, "coreLimit": "3", "memory": "1g", "memoryOverhead": "512m"},
         {"instances": 3, "cores": 1, "coreRequest": "500m", "memory": "2g", "memoryOverhead": "1g"}, {},
         {"cpu": "3500m", "memory": "10752Mi"}),
        # coreLimit when no cores; no executor instances: Kubeflow's 2
        ({"coreLimit": "1500m", "memory": "1g"}, {"cores": 2, "memory": "1g"}, {},
         {"cpu": "5500m", "memory": "3072Mi"}),
        # dynamic allocation: the largest of instances, initialExecutors, minExecutors
        ({"cores": 1}, {"instances": 1, "cores": 1},
         {"dynamicAllocation": {"enabled": True, "initialExecutors": 4, "minExecutors": 2}}, {"cpu": "5"}),
        # dynamic allocation with no counts: the driver only
        ({"cores": 1, "memory": "1g"}, {"cores": 4, "memory": "8g"}, {"dynamicAllocation": {"enabled": True}},
         {"cpu": "1", "memory": "1024Mi"}),
        # the driver's coreRequest is not read (Kubeflow's rule)
        ({"coreRequest": "250m"}, {"instances": 0}, {}, {}),
    ],
)  # fmt: skip
def test_group_min_resources_follow_kubeflows_rule(
    driver: dict[str, Any], executor: dict[str, Any], extra: dict[str, Any], expected: dict[str, str]
) -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["driver"] = driver
    manifest["spec"]["executor"] = executor
    assert resources.group_min_resources(app_of(manifest, **extra)) == expected


def test_yunikorn_task_groups_queue_and_scheduler() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["nodeSelector"] = {"zone": "a"}
    manifest["spec"]["executor"]["nodeSelector"] = {"disk": "ssd"}
    manifest["spec"]["executor"]["tolerations"] = [{"key": "spark", "operator": "Exists"}]
    app = app_of(manifest, batchScheduler="yunikorn", batchSchedulerOptions={"queue": "root.default"})
    plan = plan_for(app, ON)
    assert plan is not None
    assert plan.pod_group is None
    sub = render(app, SID, batch=plan)
    driver_meta = sub.driver_pod["metadata"]
    assert driver_meta["annotations"]["yunikorn.apache.org/task-group-name"] == "spark-driver"
    groups = json.loads(driver_meta["annotations"]["yunikorn.apache.org/task-groups"])
    # Scala: 512m heap + max(10%, 384 MiB) = 896Mi per pod
    assert groups == [
        {"name": "spark-driver", "minMember": 1, "minResource": {"cpu": "1", "memory": "896Mi"},
         "nodeSelector": {"zone": "a"}, "labels": {"version": "3.5.5"}},
        {"name": "spark-executor", "minMember": 2, "minResource": {"cpu": "1", "memory": "896Mi"},
         "nodeSelector": {"disk": "ssd", "zone": "a"}, "tolerations": [{"key": "spark", "operator": "Exists"}],
         "labels": {"version": "3.5.5"}},
    ]  # fmt: skip
    text = driver_meta["annotations"]["yunikorn.apache.org/task-groups"]
    assert text.startswith('[{"name":"spark-driver","minMember":1,"minResource":{"cpu":"1","memory":"896Mi"}')
    assert driver_meta["labels"]["queue"] == "root.default"
    assert sub.driver_pod["spec"]["schedulerName"] == "yunikorn"
    executor = yaml_template(sub)
    assert executor["metadata"]["annotations"]["yunikorn.apache.org/task-group-name"] == "spark-executor"
    assert "yunikorn.apache.org/task-groups" not in executor["metadata"]["annotations"]
    assert executor["metadata"]["labels"]["queue"] == "root.default"
    assert executor["spec"]["schedulerName"] == "yunikorn"


def test_yunikorn_memory_adds_pyspark_and_off_heap_to_executors() -> None:
    manifest = manifests.pyspark()
    manifest["spec"]["driver"] = {"cores": 1, "memory": "1g", "coreRequest": "200m"}
    manifest["spec"]["executor"] = {"instances": 1, "memory": "2g", "memoryOverhead": "100m"}
    manifest["spec"]["sparkConf"] = {
        "spark.executor.pyspark.memory": "300", "spark.memory.offHeap.enabled": "true",
        "spark.memory.offHeap.size": "1g",
    }  # fmt: skip
    app = app_of(manifest)
    # Python: 1g + max(40%, 384 MiB) = 1024 + 409 (409.6 truncated in bytes, then whole MiB)
    assert resources.pod_requests(app, "driver") == {"cpu": "200m", "memory": "1433Mi"}
    # 2048 + 100 given + 300 pyspark (a bare number is MiB) + 1024 off-heap
    assert resources.pod_requests(app, "executor") == {"cpu": "1", "memory": "3472Mi"}


def test_yunikorn_with_no_executors_has_the_driver_group_only() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["executor"]["instances"] = 0
    plan = plan_for(app_of(manifest, batchScheduler="yunikorn"), ON)
    assert plan is not None
    groups = json.loads(plan.driver_annotations[yunikorn.TASK_GROUPS])
    assert [g["name"] for g in groups] == ["spark-driver"]
    assert "queue" not in plan.driver_labels


def test_go_json_escapes_html_characters() -> None:
    assert (
        yunikorn.task_groups_json([{"labels": {"a": "<&>"}}]) == '[{"labels":{"a":"\\u003c\\u0026\\u003e"}}]'
    )


def test_coscheduling_pod_group_label_and_profile() -> None:
    app = pi(batchScheduler="scheduler-a")
    plan = plan_for(app, ON)
    assert plan is not None
    assert plan.pod_group is not None
    group = plan.pod_group.obj
    assert group["apiVersion"] == "scheduling.x-k8s.io/v1alpha1"
    assert group["metadata"]["name"] == "spark-pi-pg"
    assert group["spec"] == {"minMember": 1, "minResources": {"cpu": "3", "memory": "1536Mi"}}
    assert group["metadata"]["ownerReferences"][0]["uid"] == UID
    sub = render(app, SID, batch=plan)
    executor = yaml_template(sub)
    for meta, spec in (
        (sub.driver_pod["metadata"], sub.driver_pod["spec"]),
        (executor["metadata"], executor["spec"]),
    ):
        assert meta["labels"]["scheduling.x-k8s.io/pod-group"] == "spark-pi-pg"
        assert spec["schedulerName"] == "scheduler-a"
    props = parse_properties(sub.config_map["data"]["spark.properties"])
    assert props["spark.kubernetes.executor.label.scheduling.x-k8s.io/pod-group"] == "spark-pi-pg"


def test_plan_labels_never_add_labels_spark_reserves_on_executors() -> None:
    app = pi(batchScheduler="yunikorn")
    plan = plan_for(app, ON)
    assert plan is not None
    sub = render(app, SID, batch=plan)
    props = parse_properties(sub.config_map["data"]["spark.properties"])
    labels = {k.removeprefix("spark.kubernetes.executor.label.") for k in props if ".executor.label." in k}
    assert not labels & naming.SPARK_RESERVED_LABELS


def test_planning_does_not_change_the_application_nor_its_spec_hash() -> None:
    app = pi(batchScheduler="volcano")
    before = app.to_kube()
    plan = plan_for(app, ON)
    sub = render(app, SID, batch=plan)
    assert app.to_kube() == before
    assert sub.driver_pod["metadata"]["annotations"][naming.ANNOTATION_SPEC_HASH] == spec_hash(app)


def yaml_template(sub: Any) -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = yaml.safe_load(sub.config_map["data"]["pod-spec-template.yml"])
    return loaded
