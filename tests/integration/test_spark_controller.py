"""The SparkApplication controller end to end on a real API server. Test code plays
kubelet and Spark driver: it moves pod phases and creates executor pods."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from sparkfleet.api import SPARK_APPLICATIONS, SparkApplication
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import CONFIGMAPS, EVENTS, PODS, SERVICEACCOUNTS, SERVICES, Resource
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.submission import new_submission_id, render
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.support import eventually, spark_crds


@pytest.fixture
async def operator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[SparkApplicationController]:
    await prepare(control_plane, kube, namespace)
    controller = await start_controller(control_plane, namespace)
    yield controller
    await stop_controller(controller)


async def prepare(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> None:
    await control_plane.install_crds(spark_crds())
    await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip


async def start_controller(control_plane: ControlPlane, namespace: str) -> SparkApplicationController:
    client = await control_plane.client()
    controller = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=4)
    await controller.start(sync_timeout=10)
    return controller


async def stop_controller(controller: SparkApplicationController) -> None:
    await controller.stop()
    await controller.client.close()


async def wait_app(
    kube: KubeClient, namespace: str, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = await kube.get(SPARK_APPLICATIONS, name, namespace)
        if check(app.get("status") or {}):
            return app
        await asyncio.sleep(0.1)
    pytest.fail(f"{namespace}/{name} never reached the expected status; last: {app.get('status')}")


def metric(name: str, namespace: str) -> float:
    return REGISTRY.get_sample_value(name, {"namespace": namespace}) or 0.0


def state_is(state: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: (status.get("applicationState") or {}).get("state") == state


async def set_phase(
    kube: KubeClient, namespace: str, pod: str, phase: str, exit_code: int | None = None
) -> None:
    status: dict[str, Any] = {"phase": phase}
    if exit_code is not None:
        status["containerStatuses"] = [{
            "name": "spark-kubernetes-driver", "ready": False, "restartCount": 0, "image": "spark", "imageID": "",
            "state": {"terminated": {"exitCode": exit_code, "reason": "Error", "message": "java.lang.OutOfMemoryError"}},
        }]  # fmt: skip
    await kube.patch(PODS, pod, {"status": status}, namespace, subresource="status")


async def start_executors(kube: KubeClient, namespace: str, driver: dict[str, Any], count: int) -> list[str]:
    labels = driver["metadata"]["labels"]
    names = []
    for i in range(1, count + 1):
        name = f"{labels[naming.LABEL_APP_NAME]}-exec-{i}"
        await kube.create(PODS, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {**{k: v for k, v in labels.items() if k != naming.LABEL_SPARK_ROLE},
                                    naming.LABEL_SPARK_ROLE: "executor", naming.LABEL_EXECUTOR_ID: str(i)},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": driver["metadata"]["name"],
                                              "uid": driver["metadata"]["uid"], "controller": True}]},
            "spec": {"serviceAccountName": "spark-operator-spark", "containers": [{"name": "spark-kubernetes-executor", "image": "spark"}]},
        })  # fmt: skip
        await set_phase(kube, namespace, name, "Running")
        names.append(name)
    return names


def status_writes(kube: KubeClient) -> float:
    labels = {"code": "200", "method": "PUT", "host": kube.transport.host}
    return REGISTRY.get_sample_value("rest_client_requests_total", labels) or 0.0


async def events_about(
    kube: KubeClient,
    namespace: str,
    name: str,
    reasons: set[str],
    timeout: float = 10.0,
    said: frozenset[tuple[str, str, str]] = frozenset(),
) -> list[dict[str, Any]]:
    """The Events about ``name`` once they include ``reasons`` and every (type, reason, message) of
    ``said`` (they are written in the background, each when its turn comes)."""
    deadline = time.monotonic() + timeout
    while True:
        events, _ = await kube.list_all(EVENTS, namespace, field_selector=f"involvedObject.name={name}")
        seen = {e["reason"] for e in events}
        told = {(e["type"], e["reason"], e["message"]) for e in events}
        if reasons <= seen and said <= told:
            return events
        assert time.monotonic() < deadline, (
            f"Events about {name}: {sorted(told)}; expected {sorted(reasons)} and {sorted(said - told)}"
        )
        await asyncio.sleep(0.1)


@pytest.mark.usefixtures("operator")
async def test_application_runs_to_completion(kube: KubeClient, namespace: str) -> None:
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=namespace))
    app = await wait_app(kube, namespace, "spark-pi", state_is("SUBMITTED"))
    status = app["status"]
    assert status["submissionAttempts"] == 1
    assert status["executionAttempts"] == 1
    assert status["driverInfo"]["podName"] == "spark-pi-driver"
    assert status["driverInfo"]["webUIServiceName"] == "spark-pi-ui-svc"
    ui = await kube.get(SERVICES, "spark-pi-ui-svc", namespace)
    assert status["driverInfo"]["webUIAddress"] == f"{ui['spec']['clusterIP']}:4040"  # as Kubeflow writes it
    submission_id = status["submissionID"]

    driver = await kube.get(PODS, "spark-pi-driver", namespace)
    assert driver["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == submission_id
    assert driver["metadata"]["ownerReferences"][0]["uid"] == app["metadata"]["uid"]
    prefix = naming.resource_prefix("spark-pi", submission_id)
    config_map = await kube.get(CONFIGMAPS, f"{prefix}-driver-conf-map", namespace)
    assert "spark.properties" in config_map["data"]
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == driver["metadata"]["uid"]
    service = await kube.get(SERVICES, f"{prefix}-driver-svc", namespace)
    assert service["spec"]["clusterIP"] == "None"
    await kube.get(SERVICES, "spark-pi-ui-svc", namespace)

    await set_phase(kube, namespace, "spark-pi-driver", "Running")
    await wait_app(kube, namespace, "spark-pi", state_is("RUNNING"))
    executors = await start_executors(kube, namespace, driver, 2)
    await wait_app(
        kube, namespace, "spark-pi", lambda s: s.get("executorState") == {e: "RUNNING" for e in executors}
    )
    # Counted from the caches: once the controller's informer sees the status it wrote.
    await eventually(
        lambda: (
            metric("spark_application_running_count", namespace) == 1
            and metric("spark_executor_running_count", namespace) == 2
        ),
        what="one running application with two running executors in the metrics",
        interval=0.02,
    )

    for name in executors:
        await set_phase(kube, namespace, name, "Succeeded")
    await set_phase(kube, namespace, "spark-pi-driver", "Succeeded")
    app = await wait_app(kube, namespace, "spark-pi", state_is("COMPLETED"))
    assert app["status"]["terminationTime"]
    assert app["status"]["executorState"] == {e: "COMPLETED" for e in executors}
    assert app["status"]["submissionID"] == submission_id

    # Counted once the status write has returned, which may be after this test read the status.
    await eventually(
        lambda: metric("spark_application_success_count", namespace) == 1,
        what="one successful application in the metrics",
        interval=0.02,
    )
    assert metric("spark_application_count", namespace) == 1
    assert metric("spark_application_submit_count", namespace) == 1
    assert metric("spark_application_success_count", namespace) == 1
    assert metric("spark_executor_success_count", namespace) == 2
    assert metric("spark_application_start_latency_seconds_count", namespace) == 1
    said = frozenset(
        {  # the Spark Operator's reasons and messages
            ("Normal", "SparkApplicationSubmitted", "SparkApplication spark-pi was submitted successfully"),
            ("Normal", "SparkDriverRunning", "Driver spark-pi-driver is running"),
            ("Normal", "SparkDriverCompleted", "Driver spark-pi-driver completed"),
            ("Normal", "SparkApplicationCompleted", "SparkApplication spark-pi completed"),
            *(("Normal", "SparkExecutorRunning", f"Executor {e} is running") for e in executors),
            *(("Normal", "SparkExecutorCompleted", f"Executor {e} completed") for e in executors),
        }
    )
    events = await events_about(kube, namespace, "spark-pi", set(), said=said)
    assert all(e["source"]["component"] == "sparkfleet" for e in events)


@pytest.mark.usefixtures("operator")
async def test_invalid_application_fails_submission_naming_the_field(
    kube: KubeClient, namespace: str
) -> None:
    broken = manifests.spark_pi("broken", namespace)
    # Invalid for the operator, admitted by either CRD set's schema (sparkfleet's and Kubeflow's).
    broken["spec"]["driver"]["labels"] = {"spark-role": "mine"}
    await kube.create(SPARK_APPLICATIONS, broken)
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("healthy", namespace))
    app = await wait_app(kube, namespace, "broken", state_is("SUBMISSION_FAILED"))
    assert app["status"]["applicationState"]["errorMessage"] == (
        "spec.driver.labels[spark-role]: spark-role is reserved: Spark sets it on its pods itself"
    )
    # Counted as a failed submission for the Spark Operator's sake (its retry arithmetic needs one), and
    # told apart from one by having no submission ID.
    assert app["status"]["submissionAttempts"] == 1
    assert "submissionID" not in app["status"]
    await wait_app(kube, namespace, "healthy", state_is("SUBMITTED"))  # its neighbour is unaffected
    events = await events_about(kube, namespace, "broken", {"SparkApplicationSubmissionFailed"})
    assert any(e["type"] == "Warning" and "spec.driver.labels[spark-role]" in e["message"] for e in events)
    with pytest.raises(ApiError):
        await kube.get(PODS, "broken-driver", namespace)
    await asyncio.sleep(0.5)  # it stays SUBMISSION_FAILED: retrying cannot fix a spec
    assert (await kube.get(SPARK_APPLICATIONS, "broken", namespace))["status"]["applicationState"][
        "state"
    ] == "SUBMISSION_FAILED"

    # Fixing the spec submits it.
    await kube.patch(
        SPARK_APPLICATIONS, "broken", {"spec": {"driver": {"labels": {"spark-role": None}}}}, namespace
    )
    fixed = await wait_app(kube, namespace, "broken", state_is("SUBMITTED"))
    assert "errorMessage" not in fixed["status"]["applicationState"]
    assert fixed["status"]["submissionAttempts"] == 1  # a fixed spec starts afresh
    await kube.get(PODS, "broken-driver", namespace)


@pytest.mark.usefixtures("operator")
async def test_on_failure_resubmits_then_gives_up(kube: KubeClient, namespace: str) -> None:
    app = manifests.spark_pi("retried", namespace)
    app["spec"]["restartPolicy"] = {"type": "OnFailure", "onFailureRetries": 1, "onFailureRetryInterval": 1}
    await kube.create(SPARK_APPLICATIONS, app)
    first = (await wait_app(kube, namespace, "retried", state_is("SUBMITTED")))["status"]["submissionID"]
    await set_phase(kube, namespace, "retried-driver", "Running")
    await wait_app(kube, namespace, "retried", state_is("RUNNING"))
    await set_phase(kube, namespace, "retried-driver", "Failed", exit_code=1)
    second = await wait_app(
        kube,
        namespace,
        "retried",
        lambda s: s.get("submissionID") not in (None, first) and state_is("SUBMITTED")(s),
    )
    assert second["status"]["executionAttempts"] == 2
    await set_phase(kube, namespace, "retried-driver", "Failed", exit_code=1)
    failed = await wait_app(kube, namespace, "retried", state_is("FAILED"))
    assert "ExitCode: 1, Reason: Error" in failed["status"]["applicationState"]["errorMessage"]
    assert failed["status"]["executionAttempts"] == 2


@pytest.mark.usefixtures("operator", "controller_manager")
async def test_deleting_the_application_collects_its_pods(kube: KubeClient, namespace: str) -> None:
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("doomed", namespace))
    status = (await wait_app(kube, namespace, "doomed", state_is("SUBMITTED")))["status"]
    prefix = naming.resource_prefix("doomed", status["submissionID"])
    await kube.delete(SPARK_APPLICATIONS, "doomed", namespace)

    async def gone(resource: Any, name: str) -> bool:
        try:
            await kube.get(resource, name, namespace)
        except ApiError as exc:
            return exc.is_not_found
        return False

    deadline = time.monotonic() + 60
    while not (await gone(PODS, "doomed-driver") and await gone(CONFIGMAPS, f"{prefix}-driver-conf-map")):
        assert time.monotonic() < deadline, "garbage collection did not remove the driver's objects"
        await asyncio.sleep(0.25)


@pytest.mark.usefixtures("operator")
async def test_suspend_removes_the_driver_and_resume_submits_again(kube: KubeClient, namespace: str) -> None:
    """spec.suspend, as the Spark Operator (and Kueue, which sets it) expects: SUSPENDING, SUSPENDED with
    no driver, then RESUMING and a new submission once it is cleared; never counted as a spec change."""
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("paused", namespace))
    first = (await wait_app(kube, namespace, "paused", state_is("SUBMITTED")))["status"]["submissionID"]
    await set_phase(kube, namespace, "paused-driver", "Running")
    await wait_app(kube, namespace, "paused", state_is("RUNNING"))
    await kube.patch(SPARK_APPLICATIONS, "paused", {"spec": {"suspend": True}}, namespace)
    suspended = await wait_app(kube, namespace, "paused", state_is("SUSPENDED"))
    assert suspended["status"]["driverInfo"] == {}
    assert suspended["status"]["submissionAttempts"] == 1
    with pytest.raises(ApiError) as gone:
        await kube.get(PODS, "paused-driver", namespace)
    assert gone.value.is_not_found

    await kube.patch(SPARK_APPLICATIONS, "paused", {"spec": {"suspend": False}}, namespace)
    resumed = await wait_app(
        kube, namespace, "paused", lambda s: state_is("SUBMITTED")(s) and s.get("submissionID") != first
    )
    assert resumed["status"]["submissionAttempts"] == 2
    assert resumed["status"]["executionAttempts"] == 2  # a resume is not a new spec: attempts go on
    driver = await kube.get(PODS, "paused-driver", namespace)
    assert driver["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == resumed["status"]["submissionID"]
    events = await events_about(
        kube, namespace, "paused", {"SparkApplicationSuspended", "SparkApplicationResuming"}
    )
    said = {(e["reason"], e["message"]) for e in events}
    assert {("SparkApplicationSuspending", "SparkApplication paused is suspending"),
            ("SparkApplicationSuspended", "SparkApplication paused is suspended"),
            ("SparkApplicationResuming", "SparkApplication paused is resuming")} <= said  # fmt: skip
    assert "SparkApplicationSpecUpdateProcessed" not in {reason for reason, _ in said}


@pytest.mark.usefixtures("operator")
async def test_an_application_created_suspended_starts_no_pod(kube: KubeClient, namespace: str) -> None:
    held = manifests.spark_pi("held", namespace)
    held["spec"]["suspend"] = True
    await kube.create(SPARK_APPLICATIONS, held)
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("free", namespace))
    await wait_app(kube, namespace, "free", state_is("SUBMITTED"))
    app = await wait_app(kube, namespace, "held", state_is("SUSPENDED"))
    assert not app["status"].get("submissionAttempts")
    pods, _ = await kube.list_all(PODS, namespace, label_selector=f"{naming.LABEL_APP_NAME}=held")
    assert pods == []
    await kube.patch(SPARK_APPLICATIONS, "held", {"spec": {"suspend": False}}, namespace)
    started = await wait_app(kube, namespace, "held", state_is("SUBMITTED"))
    assert started["status"]["submissionAttempts"] == 1


@pytest.mark.usefixtures("operator")
async def test_time_to_live_deletes_a_finished_application(kube: KubeClient, namespace: str) -> None:
    app = manifests.spark_pi("short-lived", namespace)
    app["spec"]["timeToLiveSeconds"] = 3  # long enough to see COMPLETED first on a busy machine
    await kube.create(SPARK_APPLICATIONS, app)
    await wait_app(kube, namespace, "short-lived", state_is("SUBMITTED"))
    await set_phase(kube, namespace, "short-lived-driver", "Succeeded")
    await wait_app(kube, namespace, "short-lived", state_is("COMPLETED"))
    deadline = time.monotonic() + 20
    while True:
        try:
            await kube.get(SPARK_APPLICATIONS, "short-lived", namespace)
        except ApiError as exc:
            if not exc.is_not_found:
                raise
            break
        assert time.monotonic() < deadline, "timeToLiveSeconds did not delete the application"
        await asyncio.sleep(0.2)


@pytest.mark.usefixtures("operator")
async def test_a_spec_change_resubmits(kube: KubeClient, namespace: str) -> None:
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("edited", namespace))
    first = (await wait_app(kube, namespace, "edited", state_is("SUBMITTED")))["status"]["submissionID"]
    await set_phase(kube, namespace, "edited-driver", "Running")
    await wait_app(kube, namespace, "edited", state_is("RUNNING"))
    await kube.patch(SPARK_APPLICATIONS, "edited", {"spec": {"executor": {"instances": 5}}}, namespace)
    app = await wait_app(
        kube,
        namespace,
        "edited",
        lambda s: s.get("submissionID") not in (None, first) and state_is("SUBMITTED")(s),
    )
    assert app["status"]["executionAttempts"] == 1  # a new spec starts a fresh retry budget
    driver = await kube.get(PODS, "edited-driver", namespace)
    assert driver["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == app["status"]["submissionID"]
    await events_about(kube, namespace, "edited", {"SparkApplicationSpecUpdateProcessed"})


async def test_label_selector_filter_limits_what_is_served(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    await control_plane.install_crds(spark_crds())
    await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
    client = await control_plane.client()
    controller = SparkApplicationController(client, namespaces=[namespace], label_selector="team=data")
    await controller.start(sync_timeout=10)
    try:
        ours = manifests.spark_pi("ours", namespace)
        ours["metadata"]["labels"] = {"team": "data"}
        await kube.create(SPARK_APPLICATIONS, ours)
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("theirs", namespace))
        await wait_app(kube, namespace, "ours", state_is("SUBMITTED"))
        await asyncio.sleep(0.5)
        assert "status" not in await kube.get(SPARK_APPLICATIONS, "theirs", namespace)
    finally:
        await controller.stop()
        await client.close()


@pytest.mark.usefixtures("operator")
async def test_the_api_server_accepts_everything_the_renderer_makes(kube: KubeClient, namespace: str) -> None:
    """Most of v1beta2 at once: the rendered pod, ConfigMap and Services pass the API server's validation."""
    classes = Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False)
    with contextlib.suppress(ApiError):  # shared by the session
        await kube.create(classes, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                    "metadata": {"name": "high"}, "value": 1000})  # fmt: skip
    await kube.create(SPARK_APPLICATIONS, manifests.everything(namespace=namespace))
    app = await wait_app(
        kube, namespace, "kitchen-sink", lambda s: bool(s.get("applicationState", {}).get("state"))
    )
    assert app["status"]["applicationState"] == {"state": "SUBMITTED"}, app["status"]
    driver = await kube.get(PODS, "kitchen-sink-driver", namespace)
    assert [c["name"] for c in driver["spec"]["containers"]] == ["spark-kubernetes-driver", "log-shipper"]
    assert driver["spec"]["priority"] == 1000


@pytest.mark.usefixtures("operator")
async def test_a_burst_of_applications_is_each_submitted_exactly_once(
    kube: KubeClient, namespace: str
) -> None:
    """The driver pod's event can arrive before the status write it led to: deciding from that stale
    copy must not submit again (nor delete the driver it just made)."""
    names = [f"burst-{i}" for i in range(30)]
    await asyncio.gather(*(kube.create(SPARK_APPLICATIONS, manifests.spark_pi(n, namespace)) for n in names))
    for name in names:
        app = await wait_app(kube, namespace, name, state_is("SUBMITTED"), timeout=60)
        assert app["status"]["submissionAttempts"] == 1, app["status"]
        driver = await kube.get(PODS, f"{name}-driver", namespace)
        assert driver["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == app["status"]["submissionID"]
    await asyncio.sleep(1)  # anything still queued settles
    for name in names:
        app = await kube.get(SPARK_APPLICATIONS, name, namespace)
        assert app["status"]["applicationState"]["state"] == "SUBMITTED", app["status"]


async def test_an_unrecorded_driver_is_replaced_without_counting_a_failed_attempt(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """What a crash between creating the driver and writing the status leaves behind, of an earlier
    spec: the application's own pod (by UID), which it replaces. (A pod of that name it does not
    own is never touched: tests/integration/test_tenant_ownership.py.)"""
    await prepare(control_plane, kube, namespace)
    live = await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=namespace))
    earlier = SparkApplication.model_validate({**live, "spec": {**live["spec"], "arguments": ["10"]}})
    left = await kube.create(PODS, render(earlier, "lost").driver_pod)
    controller = await start_controller(control_plane, namespace)
    try:
        app = await wait_app(kube, namespace, "spark-pi", state_is("SUBMITTED"))
        assert app["status"]["submissionAttempts"] == 1
        driver = await kube.get(PODS, "spark-pi-driver", namespace)
        assert driver["metadata"]["uid"] != left["metadata"]["uid"]
        assert (
            driver["metadata"]["labels"][naming.LABEL_SUBMISSION_ID]
            == app["status"]["submissionID"]
            != "lost"
        )
    finally:
        await stop_controller(controller)


async def test_a_driver_created_just_before_a_crash_is_adopted_not_started_twice(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """An instance killed between creating the driver and writing the status leaves a driver of
    this very application and spec: the next holder records it instead of starting another."""
    await prepare(control_plane, kube, namespace)
    live = await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=namespace))
    crashed = render(SparkApplication.model_validate(live), new_submission_id())
    left = await kube.create(PODS, crashed.driver_pod)  # and nothing else: no ConfigMap, no status
    controller = await start_controller(control_plane, namespace)
    try:
        app = await wait_app(kube, namespace, "spark-pi", state_is("SUBMITTED"))
        driver = await kube.get(PODS, "spark-pi-driver", namespace)
        assert driver["metadata"]["uid"] == left["metadata"]["uid"]
        assert (
            app["status"]["submissionID"]
            == crashed.driver_pod["metadata"]["labels"][naming.LABEL_SUBMISSION_ID]
        )
        assert app["status"]["submissionAttempts"] == 1
        config_map = await kube.get(CONFIGMAPS, crashed.config_map["metadata"]["name"], namespace)
        assert config_map["metadata"]["ownerReferences"][0]["uid"] == left["metadata"]["uid"]
        await kube.get(SERVICES, crashed.driver_service["metadata"]["name"], namespace)
    finally:
        await stop_controller(controller)


async def test_a_stale_cache_never_resubmits_nor_deletes_the_live_driver(
    kube: KubeClient, namespace: str, operator: SparkApplicationController
) -> None:
    created = await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=namespace))
    submitted = (await wait_app(kube, namespace, "spark-pi", state_is("SUBMITTED")))["status"]
    await asyncio.sleep(0.3)  # the controller is idle again
    informer = next(i for i in operator.apps if i.namespace == namespace)
    informer.store.put(created)  # as if the cache had missed the status write
    with contextlib.suppress(ApiError):  # the attempt is refused and retried: that is the point
        await operator.reconcile(NamespacedName(namespace, "spark-pi"))
    driver = await kube.get(PODS, "spark-pi-driver", namespace)
    assert driver["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == submitted["submissionID"]
    app = await kube.get(SPARK_APPLICATIONS, "spark-pi", namespace)
    assert app["status"]["submissionID"] == submitted["submissionID"]
    assert app["status"]["applicationState"]["state"] == "SUBMITTED"
    assert app["status"]["submissionAttempts"] == 1


@pytest.mark.usefixtures("operator")
async def test_executor_states_are_batched_and_app_states_are_not(kube: KubeClient, namespace: str) -> None:
    """Eight executors starting one after another: their states reach the status within a batch
    window in a couple of writes, not eight; the application's own state changes are written at once."""
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=namespace))
    await wait_app(kube, namespace, "spark-pi", state_is("SUBMITTED"))
    driver = await kube.get(PODS, "spark-pi-driver", namespace)
    await set_phase(kube, namespace, "spark-pi-driver", "Running")
    await wait_app(kube, namespace, "spark-pi", state_is("RUNNING"))
    puts_before = status_writes(kube)  # only the operator sends PUT here: its status writes

    executors = await start_executors(kube, namespace, driver, 8)  # one by one
    all_running = {e: "RUNNING" for e in executors}
    await wait_app(kube, namespace, "spark-pi", lambda s: s.get("executorState") == all_running)
    writes = status_writes(kube) - puts_before
    assert 1 <= writes <= 3, f"{writes} status writes for 8 executors"

    await set_phase(kube, namespace, "spark-pi-driver", "Failed")
    started = time.monotonic()
    await wait_app(kube, namespace, "spark-pi", state_is("FAILED"))
    assert time.monotonic() - started < 0.9  # not held back: less than a batch window
