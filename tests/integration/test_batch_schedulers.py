"""Issue 19, batch schedulers and Kueue on a real API server: Volcano's and scheduler-plugins' PodGroup
CRDs installed (tests/fixtures/batch), the schedulers themselves not running. Asserts the objects and
pod metadata a scheduler would act on, the refusals (not enabled, CRD absent) and the idempotent
PodGroup create a fleet hand-off relies on. Test code plays kubelet (none needed here: pods stay Pending)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.errors import ignore_not_found
from sparkfleet.kube.resources import CONFIGMAPS, PODS, Resource
from sparkfleet.operator.spark.batch import coscheduling, pod_groups, volcano
from sparkfleet.operator.spark.batch.model import BatchOptions, PodGroup
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.submission import parse_properties
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.integration.test_pdb_ttl_metrics import started
from tests.integration.test_spark_controller import prepare, state_is, wait_app
from tests.support import eventually

FIXTURES = Path(__file__).parent.parent / "fixtures" / "batch"
VOLCANO_CRD = FIXTURES / "volcano-podgroups.yaml"
COSCHEDULING_CRD = FIXTURES / "scheduler-plugins-podgroups.yaml"
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition")
OPTIONS = BatchOptions(enabled=True, kube_scheduler_names=("scheduler-a",))


async def operator(
    control_plane: ControlPlane, namespace: str, options: BatchOptions
) -> SparkApplicationController:
    return await started(control_plane, namespace, batch=options)


@pytest.fixture
async def batch_operator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[SparkApplicationController]:
    await prepare(control_plane, kube, namespace)
    await control_plane.install_crds([VOLCANO_CRD, COSCHEDULING_CRD])
    controller = await operator(control_plane, namespace, OPTIONS)
    yield controller
    await controller.stop()
    await controller.client.close()


async def get_or_none(
    kube: KubeClient, resource: Resource, name: str, namespace: str
) -> dict[str, Any] | None:
    with ignore_not_found():
        return await kube.get(resource, name, namespace)
    return None


async def executor_side(kube: KubeClient, namespace: str, app: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The executor pod template and spark.properties the driver creates executors from."""
    maps, _ = await kube.list_all(CONFIGMAPS, namespace)
    (conf,) = [m for m in maps if m["metadata"].get("labels", {}).get("sparkoperator.k8s.io/app-name") == app]
    template: dict[str, Any] = yaml.safe_load(conf["data"]["pod-spec-template.yml"])
    return template, parse_properties(conf["data"]["spark.properties"])


@pytest.mark.usefixtures("batch_operator")
async def test_volcano_pod_group_owned_by_the_app_and_pods_annotated(
    kube: KubeClient, namespace: str
) -> None:
    manifest = manifests.spark_pi("vc", namespace)
    manifest["spec"]["batchScheduler"] = "volcano"
    manifest["spec"]["batchSchedulerOptions"] = {"queue": "q1", "priorityClassName": "high"}
    created = await kube.create(SPARK_APPLICATIONS, manifest)
    await wait_app(kube, namespace, "vc", state_is("SUBMITTED"))
    group = await kube.get(volcano.POD_GROUPS, "spark-vc-pg", namespace)
    (owner,) = group["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "SparkApplication",
        created["metadata"]["uid"],
        True,
    )
    assert group["spec"]["minMember"] == 1
    assert group["spec"]["minResources"] == {"cpu": "3", "memory": "1536Mi"}
    assert (group["spec"]["queue"], group["spec"]["priorityClassName"]) == ("q1", "high")
    driver = await kube.get(PODS, "vc-driver", namespace)
    assert driver["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == "spark-vc-pg"
    assert driver["spec"]["schedulerName"] == "volcano"
    template, props = await executor_side(kube, namespace, "vc")
    assert template["metadata"]["annotations"]["scheduling.k8s.io/group-name"] == "spark-vc-pg"
    assert template["spec"]["schedulerName"] == "volcano"
    assert props["spark.kubernetes.executor.annotation.scheduling.k8s.io/group-name"] == "spark-vc-pg"


@pytest.mark.usefixtures("batch_operator")
async def test_coscheduling_pod_group_and_pod_label(kube: KubeClient, namespace: str) -> None:
    manifest = manifests.spark_pi("cs", namespace)
    manifest["spec"]["batchScheduler"] = "scheduler-a"
    created = await kube.create(SPARK_APPLICATIONS, manifest)
    await wait_app(kube, namespace, "cs", state_is("SUBMITTED"))
    group = await kube.get(coscheduling.POD_GROUPS, "cs-pg", namespace)
    assert group["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert group["spec"]["minMember"] == 1
    assert group["spec"]["minResources"] == {"cpu": "3", "memory": "1536Mi"}
    driver = await kube.get(PODS, "cs-driver", namespace)
    assert driver["metadata"]["labels"]["scheduling.x-k8s.io/pod-group"] == "cs-pg"
    assert driver["spec"]["schedulerName"] == "scheduler-a"
    template, props = await executor_side(kube, namespace, "cs")
    assert template["metadata"]["labels"]["scheduling.x-k8s.io/pod-group"] == "cs-pg"
    assert template["spec"]["schedulerName"] == "scheduler-a"
    assert props["spark.kubernetes.executor.label.scheduling.x-k8s.io/pod-group"] == "cs-pg"


@pytest.mark.usefixtures("batch_operator")
async def test_yunikorn_task_groups_without_a_crd(kube: KubeClient, namespace: str) -> None:
    manifest = manifests.spark_pi("yk", namespace)
    manifest["spec"]["batchScheduler"] = "yunikorn"
    manifest["spec"]["batchSchedulerOptions"] = {"queue": "root.spark"}
    await kube.create(SPARK_APPLICATIONS, manifest)
    await wait_app(kube, namespace, "yk", state_is("SUBMITTED"))
    driver = await kube.get(PODS, "yk-driver", namespace)
    annotations = driver["metadata"]["annotations"]
    assert annotations["yunikorn.apache.org/task-group-name"] == "spark-driver"
    assert '"name":"spark-executor","minMember":2' in annotations["yunikorn.apache.org/task-groups"]
    assert driver["metadata"]["labels"]["queue"] == "root.spark"
    assert driver["spec"]["schedulerName"] == "yunikorn"
    template, _ = await executor_side(kube, namespace, "yk")
    assert template["metadata"]["annotations"]["yunikorn.apache.org/task-group-name"] == "spark-executor"
    assert template["metadata"]["labels"]["queue"] == "root.spark"


@pytest.mark.usefixtures("batch_operator")
async def test_a_scheduler_not_enabled_fails_the_submission_without_pods(
    kube: KubeClient, namespace: str
) -> None:
    manifest = manifests.spark_pi("other", namespace)
    manifest["spec"]["batchScheduler"] = "scheduler-b"  # not among --kube-scheduler-names
    await kube.create(SPARK_APPLICATIONS, manifest)
    app = await wait_app(kube, namespace, "other", state_is("SUBMISSION_FAILED"))
    message = app["status"]["applicationState"]["errorMessage"]
    assert message.startswith("spec.batchScheduler: batch scheduler 'scheduler-b' is not enabled")
    assert await get_or_none(kube, PODS, "other-driver", namespace) is None


async def test_a_pod_group_crd_that_is_absent_fails_the_submission_without_pods(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """The control plane is shared: the CRD is taken out for this test and put back after it."""
    await prepare(control_plane, kube, namespace)
    with ignore_not_found():
        await kube.delete(CRDS, volcano.CRD)

    async def unserved() -> bool:
        try:
            await kube.list(volcano.POD_GROUPS, namespace)
        except ApiError as exc:
            return exc.is_not_found
        return False

    await eventually(unserved, what="the Volcano PodGroup API gone", timeout=30)
    controller = await operator(control_plane, namespace, OPTIONS)
    try:
        manifest = manifests.spark_pi("no-crd", namespace)
        manifest["spec"]["batchScheduler"] = "volcano"
        # A submission attempt that failed (the CRD may be installed later): retried as the policy
        # says; without retries it goes on to FAILED with the same message, as in Kubeflow.
        manifest["spec"]["restartPolicy"] = {
            "type": "OnFailure", "onSubmissionFailureRetries": 3, "onSubmissionFailureRetryInterval": 600,
        }  # fmt: skip
        await kube.create(SPARK_APPLICATIONS, manifest)
        app = await wait_app(kube, namespace, "no-crd", state_is("SUBMISSION_FAILED"))
        message = app["status"]["applicationState"]["errorMessage"]
        assert message.startswith("spec.batchScheduler: volcano: ")
        assert "podgroups.scheduling.volcano.sh is not installed" in message
        assert await get_or_none(kube, PODS, "no-crd-driver", namespace) is None
        events, _ = await kube.list_all(Resource("", "v1", "events", "Event"), namespace)
        assert any("podgroups.scheduling.volcano.sh" in e.get("message", "") for e in events)
    finally:
        await controller.stop()
        await controller.client.close()
        await control_plane.install_crds([VOLCANO_CRD])


@pytest.mark.usefixtures("batch_operator")
async def test_pod_group_create_is_idempotent_and_refuses_another_owner(
    kube: KubeClient, namespace: str
) -> None:
    """What a fleet hand-off relies on: the new holder's create of a PodGroup the previous holder
    made is an adoption, never a second PodGroup; one another application owns fails naming it."""
    created = await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("owner", namespace))
    await wait_app(kube, namespace, "owner", state_is("SUBMITTED"))
    uid = created["metadata"]["uid"]

    def group(name: str, owner: str, owner_uid: str) -> PodGroup:
        ref = {"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "name": owner,
               "uid": owner_uid, "controller": True, "blockOwnerDeletion": True}  # fmt: skip
        obj = {"apiVersion": volcano.POD_GROUPS.api_version, "kind": "PodGroup",
               "metadata": {"name": name, "namespace": namespace, "ownerReferences": [ref]},
               "spec": {"minMember": 1, "minResources": {"cpu": "1"}}}  # fmt: skip
        return PodGroup(volcano.POD_GROUPS, volcano.CRD, obj, "volcano")

    first = await pod_groups.ensure(kube, group("handed", "owner", uid), uid)
    again = await pod_groups.ensure(kube, group("handed", "owner", uid), uid)
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    groups, _ = await kube.list_all(volcano.POD_GROUPS, namespace)
    assert [g["metadata"]["name"] for g in groups].count("handed") == 1
    # another (live) application's PodGroup of the name: never adopted nor deleted
    other = await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("other-app", namespace))
    await kube.create(volcano.POD_GROUPS, group("taken", "other-app", other["metadata"]["uid"]).obj)
    with pytest.raises(
        pod_groups.PodGroupFailure,
        match=r"PodGroup .*/taken exists and is not owned by this application \(owned by SparkApplication other-app\)",
    ):
        await pod_groups.ensure(kube, group("taken", "owner", uid), uid)
    assert await get_or_none(kube, volcano.POD_GROUPS, "taken", namespace) is not None
    # one left by an earlier application of this name (another UID): replaced, as the GC would (the
    # GC may be first: either way a fresh one, the application's)
    stale = await kube.create(volcano.POD_GROUPS, group("stale", "owner", "0000-earlier").obj)
    fresh = await pod_groups.ensure(kube, group("stale", "owner", uid), uid)
    assert fresh["metadata"]["uid"] != stale["metadata"]["uid"]
    assert fresh["metadata"]["ownerReferences"][0]["uid"] == uid


@pytest.mark.usefixtures("batch_operator")
async def test_a_new_holder_adopts_the_pod_group_its_predecessor_made(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, batch_operator: SparkApplicationController
) -> None:
    """A holder that made the PodGroup and stopped before the driver: the next one submits with it."""
    await batch_operator.stop()
    manifest = manifests.spark_pi("moved", namespace)
    manifest["spec"]["batchScheduler"] = "volcano"
    created = await kube.create(SPARK_APPLICATIONS, manifest)
    uid = created["metadata"]["uid"]
    ref = {"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "name": "moved",
           "uid": uid, "controller": True, "blockOwnerDeletion": True}  # fmt: skip
    before = await kube.create(volcano.POD_GROUPS, {
        "apiVersion": volcano.POD_GROUPS.api_version, "kind": "PodGroup",
        "metadata": {"name": "spark-moved-pg", "namespace": namespace, "ownerReferences": [ref]},
        "spec": {"minMember": 1, "minResources": {"cpu": "3", "memory": "1536Mi"}},
    })  # fmt: skip
    successor = await operator(control_plane, namespace, OPTIONS)
    try:
        await wait_app(kube, namespace, "moved", state_is("SUBMITTED"))
        after = await kube.get(volcano.POD_GROUPS, "spark-moved-pg", namespace)
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
    finally:
        await successor.stop()
        await successor.client.close()


async def test_batch_scheduling_off_only_sets_the_scheduler_name(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """Kubeflow without --enable-batch-scheduler: spec.batchScheduler is the pods' schedulerName, no PodGroup."""
    await prepare(control_plane, kube, namespace)
    await control_plane.install_crds([VOLCANO_CRD])
    controller = await operator(control_plane, namespace, BatchOptions())
    try:
        manifest = manifests.spark_pi("off", namespace)
        manifest["spec"]["batchScheduler"] = "volcano"
        await kube.create(SPARK_APPLICATIONS, manifest)
        await wait_app(kube, namespace, "off", state_is("SUBMITTED"))
        driver = await kube.get(PODS, "off-driver", namespace)
        assert driver["spec"]["schedulerName"] == "volcano"
        assert "scheduling.k8s.io/group-name" not in (driver["metadata"].get("annotations") or {})
        assert await get_or_none(kube, volcano.POD_GROUPS, "spark-off-pg", namespace) is None
    finally:
        await controller.stop()
        await controller.client.close()


async def test_kueue_admits_by_spec_suspend_and_its_labels_stay_off_the_pods(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """Kueue creates nothing here: it suspends a SparkApplication carrying its queue-name label, and
    admits it by clearing spec.suspend. As Kubeflow v2.5.2 does (its #2714), the kueue.x-k8s.io/
    labels are not copied to the driver and executors: Kueue's pod integration would take them for
    workloads of their own and gate them."""
    await prepare(control_plane, kube, namespace)
    controller = await operator(control_plane, namespace, BatchOptions())
    try:
        manifest = manifests.spark_pi("queued", namespace)
        manifest["metadata"]["labels"] = {
            "kueue.x-k8s.io/queue-name": "user-queue", "kueue.x-k8s.io/priority-class": "low", "team": "a",
        }  # fmt: skip
        manifest["spec"]["suspend"] = True
        created = await kube.create(SPARK_APPLICATIONS, manifest)
        assert created["spec"]["suspend"] is True  # both CRD sets keep the field (pruning would drop it)
        await wait_app(kube, namespace, "queued", state_is("SUSPENDED"))
        assert await get_or_none(kube, PODS, "queued-driver", namespace) is None
        await kube.patch(SPARK_APPLICATIONS, "queued", {"spec": {"suspend": False}}, namespace)  # admitted
        await wait_app(kube, namespace, "queued", state_is("SUBMITTED"))
        driver = await kube.get(PODS, "queued-driver", namespace)
        labels = driver["metadata"]["labels"]
        assert labels["team"] == "a"  # the application's other labels reach the pods
        assert not {k for k in labels if k.startswith("kueue.x-k8s.io/")}
        template, props = await executor_side(kube, namespace, "queued")
        assert template["metadata"]["labels"]["team"] == "a"
        assert not [k for k in props if k.startswith("spark.kubernetes.executor.label.kueue.x-k8s.io/")]
    finally:
        await controller.stop()
        await controller.client.close()
