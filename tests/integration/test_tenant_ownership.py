"""A hostile tenant cannot make the operator touch another application's objects (issue 16).

The tenant holds only namespace-scoped RBAC: it may create and edit SparkApplications and
ScheduledSparkApplications and read pods and Events, no more. What its applications' drivers
do runs under the Spark ServiceAccount, which may create pods (Spark needs it). The victim is
another team's application in the same namespace. The operator runs as itself (admin): the
harm, if any, is what the operator does on the tenant's behalf.

- a driver pod name taken by another application's running driver, at creation or by an edit
  later, or by a plain pod: the operator neither deletes nor follows it; the tenant's
  application is refused naming the field and the pod, with one Warning Event, and not retried;
- executors forged with the victim's labels (by the tenant's driver, or plain pods) do not enter
  the victim's executorState: executors are matched by their driver's UID;
- applications labelled with a victim ScheduledSparkApplication's name are no runs of it: they
  neither make it delete its real runs as history nor hold back its Forbid schedule; and one that
  takes a future run's name is not taken for that run.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import EVENTS, PODS
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.schedule import Schedule, run_name
from sparkfleet.operator.spark.scheduled import LABEL_SCHEDULED_APP_NAME, ScheduledSparkApplicationController
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.support import client_as, eventually, spark_crds

SPARK_SERVICE_ACCOUNT = "spark-operator-spark"  # the applications' drivers run under it
TENANT_RULES = [
    {"apiGroups": ["sparkoperator.k8s.io"], "resources": ["sparkapplications", "scheduledsparkapplications"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list", "watch"]},
]  # fmt: skip
DRIVER_RULES = [  # what a Spark driver needs, as the Spark Operator's chart grants its Spark ServiceAccount
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "persistentvolumeclaims"],
     "verbs": ["create", "get", "list", "watch", "update", "patch", "delete", "deletecollection"]},
]  # fmt: skip
SETTLE_SECONDS = 3.0  # how long an unwanted effect is watched for (on main each one shows within 1 s)


@pytest.fixture
async def tenant(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> AsyncIterator[KubeClient]:
    """The attacker: SparkApplications and ScheduledSparkApplications of its namespace, read-only pods."""
    await control_plane.install_crds(spark_crds())
    client = await client_as(control_plane, kube, namespace, "tenant", TENANT_RULES)
    yield client
    await client.close()


@pytest.fixture
async def tenant_driver(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[KubeClient]:
    """What the tenant's driver code can do: the Spark ServiceAccount's rights (it creates pods)."""
    client = await client_as(control_plane, kube, namespace, SPARK_SERVICE_ACCOUNT, DRIVER_RULES)
    yield client
    await client.close()


@pytest.fixture
async def operator(
    control_plane: ControlPlane, tenant: KubeClient, tenant_driver: KubeClient, namespace: str
) -> AsyncIterator[SparkApplicationController]:
    client = await control_plane.client()
    controller = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=4)
    await controller.start(sync_timeout=10)
    yield controller
    await controller.stop()
    await client.close()


@pytest.fixture
async def scheduler(control_plane: ControlPlane, tenant: KubeClient, namespace: str) -> AsyncIterator[None]:
    client = await control_plane.client()
    controller = ScheduledSparkApplicationController(client, namespaces=[namespace])
    await controller.start(sync_timeout=10)
    yield
    await controller.stop()
    await client.close()


async def holds(check: Callable[[], Any], what: str, seconds: float = SETTLE_SECONDS) -> None:
    """Asserts the async ``check`` stays true for ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert await check(), what
        await asyncio.sleep(0.1)


def state(app: dict[str, Any]) -> dict[str, Any]:
    return (app.get("status") or {}).get("applicationState") or {}


async def app_in(kube: KubeClient, namespace: str, name: str, wanted: str) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def check() -> dict[str, Any] | None:
        app = await kube.get(SPARK_APPLICATIONS, name, namespace)
        last["status"] = app.get("status")
        return app if state(app).get("state") == wanted else None

    try:
        found: dict[str, Any] = await eventually(check, what=f"{name} in {wanted}", interval=0.1)
    except pytest.fail.Exception:
        pytest.fail(f"{name} never in {wanted}; last status: {last.get('status')}")
    return found


async def set_phase(kube: KubeClient, namespace: str, pod: str, phase: str) -> None:
    await kube.patch(PODS, pod, {"status": {"phase": phase}}, namespace, subresource="status")


async def running_victim(kube: KubeClient, namespace: str, name: str = "victim") -> dict[str, Any]:
    """Another team's application, RUNNING; returns its driver pod."""
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(name, namespace))
    await app_in(kube, namespace, name, "SUBMITTED")
    driver: dict[str, Any] = await kube.get(PODS, f"{name}-driver", namespace)
    await set_phase(kube, namespace, driver["metadata"]["name"], "Running")
    await app_in(kube, namespace, name, "RUNNING")
    return driver


async def untouched(kube: KubeClient, namespace: str, pod: dict[str, Any], app: str | None) -> bool:
    """Whether ``pod`` is still there, the same object, not being deleted, and its application
    (if any) still RUNNING."""
    meta = pod["metadata"]
    now = await kube.get(PODS, meta["name"], namespace)
    if now["metadata"]["uid"] != meta["uid"] or now["metadata"].get("deletionTimestamp"):
        return False
    return app is None or state(await kube.get(SPARK_APPLICATIONS, app, namespace)).get("state") == "RUNNING"


async def refused_once(kube: KubeClient, namespace: str, name: str, says: str) -> None:
    """``name`` is SUBMISSION_FAILED saying ``says``, with one Warning Event that says it too,
    and stays so: no second attempt, no second Event."""
    app = await app_in(kube, namespace, name, "SUBMISSION_FAILED")
    assert says in state(app).get("errorMessage", ""), state(app)

    async def warned() -> list[dict[str, Any]]:
        items, _ = await kube.list_all(EVENTS, namespace, field_selector=f"involvedObject.name={name}")
        return [e for e in items if e["reason"] == "SparkApplicationSubmissionFailed"]

    events = await eventually(
        warned, what=f"a SparkApplicationSubmissionFailed Event about {name}", interval=0.1
    )
    assert events[0]["type"] == "Warning"
    assert says in events[0]["message"], events[0]["message"]

    async def still() -> bool:
        now = await kube.get(SPARK_APPLICATIONS, name, namespace)
        same = now["status"] == app["status"]
        told = await warned()
        return same and len(told) == 1 and told[0].get("count", 1) == 1

    await holds(still, f"{name} is retried or said again")


# -- driver pod names -------------------------------------------------------------------------------


@pytest.mark.usefixtures("operator")
@pytest.mark.parametrize(
    ("how", "field"),
    [("podName", "spec.driver.podName"),
     ("sparkConf", "spec.sparkConf[spark.kubernetes.driver.pod.name]")],
)  # fmt: skip
async def test_a_driver_name_taken_by_a_running_application_is_refused_not_taken(
    kube: KubeClient, tenant: KubeClient, namespace: str, how: str, field: str
) -> None:
    victim = await running_victim(kube, namespace)
    attack = manifests.spark_pi("attacker", namespace)
    if how == "podName":
        attack["spec"]["driver"]["podName"] = "victim-driver"
    else:
        attack["spec"]["sparkConf"] = {"spark.kubernetes.driver.pod.name": "victim-driver"}
    await tenant.create(SPARK_APPLICATIONS, attack)
    says = f"{field}: pod {namespace}/victim-driver exists and is not owned by this application"
    await refused_once(kube, namespace, "attacker", says)
    assert await untouched(kube, namespace, victim, "victim")


@pytest.mark.usefixtures("operator")
async def test_an_edit_of_the_driver_name_to_a_running_drivers_is_refused(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    victim = await running_victim(kube, namespace)
    await tenant.create(SPARK_APPLICATIONS, manifests.spark_pi("attacker", namespace))
    await app_in(kube, namespace, "attacker", "SUBMITTED")
    await set_phase(kube, namespace, "attacker-driver", "Running")
    await app_in(kube, namespace, "attacker", "RUNNING")
    await tenant.patch(
        SPARK_APPLICATIONS, "attacker", {"spec": {"driver": {"podName": "victim-driver"}}}, namespace
    )
    says = f"spec.driver.podName: pod {namespace}/victim-driver exists and is not owned by this application"
    await refused_once(kube, namespace, "attacker", says)
    assert await untouched(kube, namespace, victim, "victim")
    # Named back to a free name, it is submitted again at once: a refusal lasts as long as the spec.
    await tenant.patch(
        SPARK_APPLICATIONS, "attacker", {"spec": {"driver": {"podName": "attacker-2"}}}, namespace
    )
    app = await app_in(kube, namespace, "attacker", "SUBMITTED")
    assert app["status"]["driverInfo"]["podName"] == "attacker-2"
    assert await untouched(kube, namespace, victim, "victim")


@pytest.mark.usefixtures("operator")
@pytest.mark.parametrize("named", ["sparkConf", "default"])
async def test_a_plain_pod_of_the_driver_name_is_neither_deleted_nor_followed(
    kube: KubeClient, tenant: KubeClient, namespace: str, named: str
) -> None:
    pod_name = "web-0" if named == "sparkConf" else "report-driver"
    plain = await kube.create(PODS, {  # another team's workload, nothing to do with Spark
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "namespace": namespace},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    })  # fmt: skip
    attack = manifests.spark_pi("report", namespace)
    if named == "sparkConf":
        attack["spec"]["sparkConf"] = {"spark.kubernetes.driver.pod.name": pod_name}
        says = (
            f"spec.sparkConf[spark.kubernetes.driver.pod.name]: pod {namespace}/{pod_name} exists and is "
            "not owned by this application"
        )
    else:
        says = f"metadata.name: pod {namespace}/{pod_name} exists and is not owned by this application"
    await tenant.create(SPARK_APPLICATIONS, attack)
    await refused_once(kube, namespace, "report", says)
    assert await untouched(kube, namespace, plain, None)


# -- executors ---------------------------------------------------------------------------------------


async def _executor(
    client: KubeClient, namespace: str, name: str, labels: dict[str, str], owner: dict[str, Any] | None
) -> None:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if owner is not None:  # as Spark sets it: the driver pod owns its executors
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True}]  # fmt: skip
    await client.create(PODS, {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"serviceAccountName": SPARK_SERVICE_ACCOUNT,
                 "containers": [{"name": "spark-kubernetes-executor", "image": "spark"}]},
    })  # fmt: skip


def _executor_labels(driver: dict[str, Any], executor_id: int) -> dict[str, str]:
    labels = {k: v for k, v in driver["metadata"]["labels"].items() if k != naming.LABEL_SPARK_ROLE}
    return {**labels, naming.LABEL_SPARK_ROLE: "executor", naming.LABEL_EXECUTOR_ID: str(executor_id)}


@pytest.mark.usefixtures("operator")
async def test_forged_executor_labels_do_not_enter_another_applications_status(
    kube: KubeClient, tenant: KubeClient, tenant_driver: KubeClient, namespace: str
) -> None:
    victim_driver = await running_victim(kube, namespace)
    await _executor(kube, namespace, "victim-exec-1", _executor_labels(victim_driver, 1), victim_driver)
    await set_phase(kube, namespace, "victim-exec-1", "Running")

    async def victim_executors() -> dict[str, str]:
        app = await kube.get(SPARK_APPLICATIONS, "victim", namespace)
        executors: dict[str, str] = (app.get("status") or {}).get("executorState") or {}
        return executors

    await eventually(victim_executors, what="the victim's own executor tracked", interval=0.1)
    await tenant.create(SPARK_APPLICATIONS, manifests.spark_pi("attacker", namespace))
    await app_in(kube, namespace, "attacker", "SUBMITTED")
    attacker_driver = await kube.get(PODS, "attacker-driver", namespace)
    await set_phase(kube, namespace, "attacker-driver", "Running")
    # The tenant reads the victim's submission off its status and its driver's labels; its own driver
    # (its code, under the Spark ServiceAccount) creates executors labelled as the victim's, owned by
    # itself as Spark makes them, and a plain pod labelled so.
    forged = _executor_labels(victim_driver, 7)
    await _executor(tenant_driver, namespace, "attacker-exec-7", forged, attacker_driver)
    await _executor(tenant_driver, namespace, "plain-exec-8", {**forged, naming.LABEL_EXECUTOR_ID: "8"}, None)
    for pod in ("attacker-exec-7", "plain-exec-8"):
        await set_phase(kube, namespace, pod, "Running")
    # The victim's next executor is tracked: the forged ones were seen by then.
    await _executor(kube, namespace, "victim-exec-2", _executor_labels(victim_driver, 2), victim_driver)
    await set_phase(kube, namespace, "victim-exec-2", "Running")
    await eventually(
        lambda: _has(victim_executors, "victim-exec-2"),
        what="the victim's second executor tracked",
        interval=0.1,
    )

    async def only_its_own() -> bool:
        return set(await victim_executors()) == {"victim-exec-1", "victim-exec-2"}

    await holds(only_its_own, "a forged executor entered the victim's executorState")
    attacker = await kube.get(SPARK_APPLICATIONS, "attacker", namespace)
    assert not (attacker.get("status") or {}).get("executorState")  # labelled as the victim's, not its


async def _has(executors: Callable[[], Any], name: str) -> bool:
    return name in await executors()


# -- scheduled runs ----------------------------------------------------------------------------------


async def _spoof(tenant: KubeClient, namespace: str, name: str, scheduled: str) -> dict[str, Any]:
    app = manifests.spark_pi(name, namespace)
    app["metadata"]["labels"] = {LABEL_SCHEDULED_APP_NAME: scheduled}
    created: dict[str, Any] = await tenant.create(SPARK_APPLICATIONS, app)
    return created


async def _complete(kube: KubeClient, namespace: str, name: str) -> None:
    """What the Spark controller writes when a run completes (driverInfo: Kubeflow's CRD requires it)."""
    status = {"applicationState": {"state": "COMPLETED"}, "driverInfo": {}}
    await kube.patch(SPARK_APPLICATIONS, name, {"status": status}, namespace, subresource="status")


async def _runs_owned_by(kube: KubeClient, namespace: str, scheduled: dict[str, Any]) -> list[str]:
    items, _ = await kube.list_all(SPARK_APPLICATIONS, namespace)
    uid = scheduled["metadata"]["uid"]
    return sorted(
        i["metadata"]["name"]
        for i in items
        if any(ref.get("uid") == uid for ref in i["metadata"].get("ownerReferences") or [])
    )


@pytest.mark.usefixtures("scheduler")
async def test_spoofed_runs_do_not_make_a_schedule_delete_its_real_runs(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    nightly = manifests.scheduled("nightly", namespace)
    nightly["spec"].update(schedule="@every 1s", timeZone="UTC", successfulRunHistoryLimit=3)
    scheduled = await kube.create(SCHEDULED_SPARK_APPLICATIONS, nightly)
    await eventually(lambda: _runs_owned_by(kube, namespace, scheduled), what="a first run", interval=0.1)
    await kube.patch(SCHEDULED_SPARK_APPLICATIONS, "nightly", {"spec": {"suspend": True}}, namespace)
    await asyncio.sleep(0.5)  # a run started just before the suspension shows up
    real = await _runs_owned_by(kube, namespace, scheduled)
    for run in real:
        await _complete(kube, namespace, run)

    async def recorded() -> bool:
        status = (await kube.get(SCHEDULED_SPARK_APPLICATIONS, "nightly", namespace)).get("status") or {}
        return sorted(status.get("pastSuccessfulRunNames") or []) == real

    await eventually(recorded, what="the real runs recorded as the successful ones", interval=0.1)
    # Newer "completed runs" of the tenant's, labelled with the schedule's name.
    for i in range(3):
        await _spoof(tenant, namespace, f"nightly-spoof-{i}", "nightly")
        await _complete(kube, namespace, f"nightly-spoof-{i}")

    async def kept() -> bool:
        return await _runs_owned_by(kube, namespace, scheduled) == real and await recorded()

    await holds(kept, "the schedule deleted its real runs, or recorded others as its own")
    for i in range(3):  # and the tenant's own applications are not the schedule's to delete either
        await kube.get(SPARK_APPLICATIONS, f"nightly-spoof-{i}", namespace)


@pytest.mark.usefixtures("scheduler")
async def test_a_spoofed_active_run_does_not_hold_back_a_forbid_schedule(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    await _spoof(tenant, namespace, "nightly-spoof", "nightly")  # never runs: "active" for ever
    nightly = manifests.scheduled("nightly", namespace)
    nightly["spec"].update(schedule="@every 1s", timeZone="UTC", concurrencyPolicy="Forbid")
    scheduled = await kube.create(SCHEDULED_SPARK_APPLICATIONS, nightly)
    runs = await eventually(
        lambda: _runs_owned_by(kube, namespace, scheduled),
        what="a run despite the spoof",
        timeout=10,
        interval=0.1,
    )
    assert len(runs) == 1, runs  # Forbid: its own first run stays the only one while it is active
    await kube.get(SPARK_APPLICATIONS, "nightly-spoof", namespace)  # and the spoof is left alone


@pytest.mark.usefixtures("scheduler")
async def test_a_run_name_taken_in_advance_is_not_taken_for_the_run(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    """Run names are predictable (the schedule's name and the due time): the tenant creates
    applications of the next runs' names. They are not the runs: the runs they block are skipped,
    said by a Warning Event, and never recorded as the schedule's; the next free one starts."""
    nightly = manifests.scheduled("nightly", namespace)
    nightly["spec"].update(schedule="@every 1s", timeZone="UTC", suspend=True)
    scheduled = await kube.create(SCHEDULED_SPARK_APPLICATIONS, nightly)
    created = datetime.datetime.fromisoformat(
        scheduled["metadata"]["creationTimestamp"].replace("Z", "+00:00")
    )
    every = Schedule.parse("@every 1s", "UTC")
    dues = [every.next_after(created)]
    for _ in range(2):
        dues.append(every.next_after(dues[-1]))
    squatters = {}
    for due in dues:
        name = run_name("nightly", due)
        squatters[name] = (await tenant.create(SPARK_APPLICATIONS, manifests.spark_pi(name, namespace)))[
            "metadata"
        ]
    await kube.patch(SCHEDULED_SPARK_APPLICATIONS, "nightly", {"spec": {"suspend": False}}, namespace)
    runs = await eventually(
        lambda: _runs_owned_by(kube, namespace, scheduled), what="a run of a free name", interval=0.1
    )
    assert not set(runs) & set(squatters), runs
    status = (await kube.get(SCHEDULED_SPARK_APPLICATIONS, "nightly", namespace))["status"]
    assert status.get("lastRunName") not in squatters, status
    items, _ = await kube.list_all(EVENTS, namespace, field_selector="involvedObject.name=nightly")
    taken = [e for e in items if e["reason"] == "ScheduledSparkApplicationRunNameTaken"]
    assert taken, [e["reason"] for e in items]
    assert taken[0]["type"] == "Warning"
    assert "exists and is not owned by this ScheduledSparkApplication" in taken[0]["message"]
    for name, meta in squatters.items():  # the tenant's own applications, left as they were
        now = await kube.get(SPARK_APPLICATIONS, name, namespace)
        assert now["metadata"]["uid"] == meta["uid"]
        assert not now["metadata"].get("ownerReferences")


@pytest.mark.usefixtures("operator", "controller_manager")
async def test_an_application_deleted_and_created_again_waits_for_its_old_driver(
    kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    """Not an attack: the old application's driver, which the garbage collector is to remove (in
    its own time: tens of seconds when it has just learnt the kind), is in the new one's way. It
    is no collision: its owner is gone for certain (names are unique), and the operator deletes it
    as the garbage collector would, then submits at once."""
    first = await tenant.create(SPARK_APPLICATIONS, manifests.spark_pi("again", namespace))
    await app_in(kube, namespace, "again", "SUBMITTED")
    await tenant.delete(SPARK_APPLICATIONS, "again", namespace, propagation_policy="Background")

    async def gone() -> bool:
        items, _ = await kube.list_all(SPARK_APPLICATIONS, namespace)
        return all(i["metadata"]["name"] != "again" for i in items)

    await eventually(gone, what="the first application deleted", interval=0.1)
    second = await tenant.create(SPARK_APPLICATIONS, manifests.spark_pi("again", namespace))
    app = await app_in(kube, namespace, "again", "SUBMITTED")
    assert app["status"]["submissionAttempts"] == 1
    driver = await kube.get(PODS, "again-driver", namespace)
    owners = {ref["uid"] for ref in driver["metadata"]["ownerReferences"]}
    assert owners == {second["metadata"]["uid"]} != {first["metadata"]["uid"]}
