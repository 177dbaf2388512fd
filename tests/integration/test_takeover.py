"""Taking over from the Kubeflow Spark Operator, under Kubeflow's own CRDs (v2.5.2, as given).

A control plane of its own has Kubeflow's CRDs installed, not sparkfleet's. The state Kubeflow
leaves behind is built from real objects: SparkApplications with the statuses Kubeflow writes in
each state, and driver and executor pods with Kubeflow's labels and owner references and no
sparkfleet spec hash. sparkfleet then starts on it, as a single instance and as a fleet, and must
follow what runs, never submit a terminal application again, continue the retries Kubeflow had
scheduled, and write only statuses Kubeflow's schema accepts. (The reverse, Kubeflow taking back
what sparkfleet leaves, is test_handback.py.)
"""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import EVENTS, PODS, ROLEBINDINGS, ROLES, SERVICEACCOUNTS
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.audit import read as read_audit
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.status_writes import REASON_REJECTED
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.examples.kubeflow_chart_args import CONTROLLER_RULES
from tests.fleet.harness import FleetUnderTest
from tests.kubeflow import DRIVER_CONTAINER, EXECUTOR_CONTAINER, pods_of, set_phase, state_of
from tests.support import eventually, kubeflow_crds

SERVICE_ACCOUNT = "spark-operator-spark"
RECHECK = "sparkfleet.io/test-recheck"  # touched to have every application reconciled once more


@pytest.fixture
async def kf(kubeflow_plane: ControlPlane) -> AsyncIterator[KubeClient]:
    client = await kubeflow_plane.client()
    yield client
    await client.close()


@pytest.fixture
async def kf_namespace(kubeflow_plane: ControlPlane, kf: KubeClient) -> str:
    name = f"takeover-{uuid.uuid4().hex[:6]}"
    await kubeflow_plane.create_namespace(name)
    await kf.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                      "metadata": {"name": SERVICE_ACCOUNT, "namespace": name}})  # fmt: skip
    return name


@pytest.fixture
async def sparkfleet(
    kubeflow_plane: ControlPlane, kf_namespace: str
) -> AsyncIterator[SparkApplicationController]:
    client = await kubeflow_plane.client()
    controller = SparkApplicationController(client, namespaces=[kf_namespace], concurrent_syncs=4)
    await controller.start(sync_timeout=10)
    yield controller
    await controller.stop()
    await client.close()


def _iso(seconds_ago: float) -> str:
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class LeftBehind:
    """One application as Kubeflow left it: its state, its driver's phase (None: no driver pod),
    its restart policy, and what sparkfleet must make of it."""

    name: str
    state: str
    driver_phase: str | None
    then: str  # the state sparkfleet settles in
    resubmits: bool = False  # Kubeflow would have submitted it again too
    attempts: int = 2  # submissionAttempts once resubmitted (a new spec starts counting again)
    restart_policy: dict[str, Any] = field(default_factory=lambda: {"type": "Never"})
    executors: int = 0
    suspend: bool | None = None  # spec.suspend
    removes: bool = False  # its driver is removed, as Kubeflow would have removed it (nothing submitted)


RETRY = {"type": "OnFailure", "onFailureRetries": 2, "onFailureRetryInterval": 1,
         "onSubmissionFailureRetries": 2, "onSubmissionFailureRetryInterval": 1}  # fmt: skip
CASES = [
    LeftBehind("kf-new", "", None, then="SUBMITTED", resubmits=True, attempts=1),  # never reconciled yet
    LeftBehind("kf-submitted", "SUBMITTED", "Pending", then="SUBMITTED"),
    LeftBehind("kf-running", "RUNNING", "Running", then="RUNNING", executors=2),
    LeftBehind("kf-unknown", "UNKNOWN", "Running", then="RUNNING"),
    LeftBehind("kf-succeeding", "SUCCEEDING", "Succeeded", then="COMPLETED"),
    LeftBehind("kf-completed", "COMPLETED", "Succeeded", then="COMPLETED", executors=1),
    LeftBehind("kf-completed-gone", "COMPLETED", None, then="COMPLETED"),
    LeftBehind("kf-failed", "FAILED", "Failed", then="FAILED"),
    LeftBehind("kf-failing-final", "FAILING", "Failed", then="FAILED"),
    LeftBehind("kf-submission-failed-final", "SUBMISSION_FAILED", None, then="FAILED"),
    # Kubeflow had a retry scheduled: it goes on as Kubeflow would have gone on with it.
    LeftBehind("kf-failing-retry", "FAILING", "Failed", then="SUBMITTED", resubmits=True, restart_policy=RETRY),
    LeftBehind("kf-pending-rerun", "PENDING_RERUN", "Failed", then="SUBMITTED", resubmits=True),
    LeftBehind("kf-submission-failed-retry", "SUBMISSION_FAILED", None, then="SUBMITTED", resubmits=True,
               restart_policy=RETRY),
    LeftBehind("kf-invalidating", "INVALIDATING", "Running", then="SUBMITTED", resubmits=True, attempts=1),
    # Suspended (its driver removed): it stays so; resuming (unsuspended): it is submitted again.
    LeftBehind("kf-suspending", "SUSPENDING", "Running", then="SUSPENDED", suspend=True, removes=True),
    LeftBehind("kf-suspended", "SUSPENDED", None, then="SUSPENDED", suspend=True),
    LeftBehind("kf-resuming", "RESUMING", None, then="SUBMITTED", resubmits=True, suspend=False),
]  # fmt: skip


async def leave_behind(kf: KubeClient, namespace: str, case: LeftBehind) -> dict[str, Any]:
    """Creates the application, its status and its pods as the Kubeflow Spark Operator leaves them."""
    manifest = manifests.spark_pi(case.name, namespace)
    manifest["spec"]["restartPolicy"] = case.restart_policy
    if case.suspend is not None:
        manifest["spec"]["suspend"] = case.suspend
    app = await kf.create(SPARK_APPLICATIONS, manifest)
    if case.state == "":
        return app  # Kubeflow had not reconciled it: no status, no pods
    submission_id = str(uuid.uuid4())
    app_id = f"spark-{uuid.uuid4().hex}"
    driver_name = f"{case.name}-driver"
    terminal = case.state in ("COMPLETED", "FAILED", "FAILING", "SUCCEEDING", "PENDING_RERUN")
    status: dict[str, Any] = {
        "applicationState": {"state": case.state},
        "driverInfo": {"podName": driver_name, "webUIServiceName": f"{case.name}-ui-svc", "webUIPort": 4040,
                       "webUIAddress": "10.96.0.10:4040"},
        "submissionID": submission_id,
        "sparkApplicationId": app_id,
        "submissionAttempts": 1,
        "executionAttempts": 1,
        "lastSubmissionAttemptTime": _iso(120),
        **({"terminationTime": _iso(60)} if terminal else {}),
    }  # fmt: skip
    if case.state == "SUBMISSION_FAILED":
        # Kubeflow records the attempt's submission ID before it runs spark-submit (submitSparkApplication).
        status = {"applicationState": {"state": case.state, "errorMessage": "failed to run spark-submit"},
                  "driverInfo": {}, "submissionID": submission_id, "submissionAttempts": 1,
                  "lastSubmissionAttemptTime": _iso(120)}  # fmt: skip
    if case.driver_phase is None:
        status["driverInfo"].pop("podName", None)
    owner = {"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "name": case.name,
             "uid": app["metadata"]["uid"], "controller": True}  # fmt: skip
    labels = {
        naming.LABEL_APP_NAME: case.name,
        naming.LABEL_LAUNCHED_BY_OPERATOR: "true",
        naming.LABEL_SUBMISSION_ID: submission_id,
        naming.LABEL_SPARK_APP_SELECTOR: app_id,
        naming.LABEL_SPARK_APP_NAME: case.name,
        naming.LABEL_SPARK_VERSION: "4.0.2",
    }
    executor_state = {}
    if case.driver_phase is not None:
        driver = await kf.create(PODS, _pod(driver_name, namespace, {**labels, naming.LABEL_SPARK_ROLE: "driver"},
                                            owner, "spark-kubernetes-driver"))  # fmt: skip
        await set_phase(kf, namespace, driver_name, case.driver_phase)
        driver_owner = {"apiVersion": "v1", "kind": "Pod", "name": driver_name,
                        "uid": driver["metadata"]["uid"], "controller": True}  # fmt: skip
        executor_phase = "Running" if case.driver_phase in ("Running", "Pending") else case.driver_phase
        for i in range(1, case.executors + 1):
            name = f"{case.name}-{uuid.uuid4().hex[:8]}-exec-{i}"
            exec_labels = {**labels, naming.LABEL_SPARK_ROLE: "executor", naming.LABEL_EXECUTOR_ID: str(i)}
            await kf.create(
                PODS, _pod(name, namespace, exec_labels, driver_owner, "spark-kubernetes-executor")
            )
            await set_phase(kf, namespace, name, executor_phase, EXECUTOR_CONTAINER)
            executor_state[name] = {"Running": "RUNNING", "Succeeded": "COMPLETED"}.get(
                executor_phase, "FAILED"
            )
    if executor_state:
        status["executorState"] = executor_state
    return await kf.replace_status(SPARK_APPLICATIONS, {**app, "status": status})


def _pod(
    name: str, namespace: str, labels: dict[str, str], owner: dict[str, Any], container: str
) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
            "spec": {"serviceAccountName": SERVICE_ACCOUNT, "restartPolicy": "Never",
                     "containers": [{"name": container, "image": "spark:4.0.2"}]}}  # fmt: skip


def _forbidden(client: KubeClient) -> float:
    """403 answers the client got so far (rest_client_requests_total of its host)."""
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "rest_client_requests"
        for sample in metric.samples
        if sample.labels.get("code") == "403" and sample.labels.get("host") == client.transport.host
    )


async def as_kubeflows_controller(cp: ControlPlane, kf: KubeClient, namespace: str) -> Path:
    """A kubeconfig for a ServiceAccount with exactly the Kubeflow controller's permissions in
    ``namespace`` (as its chart grants them): the identity sparkfleet runs under when the image of
    Kubeflow's Deployment is swapped."""
    identity = await cp.mint_identity(namespace, "spark-operator-controller")
    await kf.create(ROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                            "metadata": {"name": "spark-operator-controller", "namespace": namespace},
                            "rules": CONTROLLER_RULES})  # fmt: skip
    await kf.create(ROLEBINDINGS, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "spark-operator-controller", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "spark-operator-controller"},
        "subjects": [{"kind": "ServiceAccount", "name": identity.name, "namespace": namespace}],
    })  # fmt: skip
    return identity.kubeconfig


@dataclass
class Left:
    """What Kubeflow left, per application: its namespace, its pods (by UID) and its submission."""

    namespace: dict[str, str]
    pods: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    submission: dict[str, str | None] = field(default_factory=dict)


async def leave_all(kf: KubeClient, namespace: dict[str, str]) -> Left:
    """Every case of :data:`CASES` as Kubeflow leaves it, each in ``namespace[case.name]``."""
    left = Left(namespace)
    for case in CASES:
        app = await leave_behind(kf, namespace[case.name], case)
        left.submission[case.name] = (app.get("status") or {}).get("submissionID")
        left.pods[case.name] = await pods_of(kf, namespace[case.name], case.name)
    return left


async def assert_taken_over(
    kf: KubeClient, left: Left, audit: Callable[[], list[dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Waits until every application settles in the state its case says, and until each has been
    reconciled once more after that (each is touched; ``audit`` is the reconcilers' audit log), then
    checks that nothing was submitted again that Kubeflow would not have submitted again, and that
    no driver Kubeflow left was deleted or replaced."""
    apps: dict[str, dict[str, Any]] = {}

    async def settled() -> bool:
        for case in CASES:
            apps[case.name] = await kf.get(SPARK_APPLICATIONS, case.name, left.namespace[case.name])
        return all(state_of(apps[c.name]) == c.then for c in CASES)

    await eventually(
        settled,
        what="every case settled",
        seen=lambda: {c.name: state_of(apps[c.name]) for c in CASES if c.name in apps},
        timeout=30.0,
    )
    # Anything wrong would act in a later reconcile too: each application gets one more, in its
    # settled state.
    touched = time.time()
    for case in CASES:
        await kf.patch(SPARK_APPLICATIONS, case.name,
                       {"metadata": {"annotations": {RECHECK: repr(touched)}}}, left.namespace[case.name])  # fmt: skip
    keys = {f"{left.namespace[c.name]}/{c.name}" for c in CASES}

    async def reconciled_again() -> bool:
        return keys <= {line["key"] for line in audit() if float(line["t0"]) >= touched}

    await eventually(
        reconciled_again,
        what="reconciled again",
        seen=lambda: keys - {line["key"] for line in audit() if float(line["t0"]) >= touched},
        timeout=30.0,
    )
    for case in CASES:
        namespace = left.namespace[case.name]
        app = apps[case.name] = await kf.get(SPARK_APPLICATIONS, case.name, namespace)
        assert state_of(app) == case.then, f"{case.name}: {app.get('status')}"
        now = await pods_of(kf, namespace, case.name)
        drivers = [
            p for p in now.values() if p["metadata"]["labels"].get(naming.LABEL_SPARK_ROLE) == "driver"
        ]
        if case.removes:  # its driver goes, as Kubeflow would have removed it; nothing is submitted
            assert all(d["metadata"].get("deletionTimestamp") for d in drivers), f"{case.name}: driver kept"
            assert app["status"]["submissionAttempts"] == 1, f"{case.name} was submitted again"
            assert set(now) <= set(left.pods[case.name]), f"{case.name}: pods created"
        elif not case.resubmits:
            # Nothing deleted, nothing created: the very pods Kubeflow left.
            assert set(now) == set(left.pods[case.name]), f"{case.name}: pods changed"
            assert app["status"]["submissionAttempts"] == 1, f"{case.name} was submitted again"
            assert app["status"].get("submissionID") == left.submission[case.name], case.name
            for driver in drivers:  # adopted: the spec hash is stamped, not read as a change
                assert naming.ANNOTATION_SPEC_HASH in (driver["metadata"].get("annotations") or {})
        else:
            assert app["status"]["submissionAttempts"] == case.attempts, f"{case.name}: {app['status']}"
            assert app["status"]["submissionID"] != left.submission[case.name]
            ours = [d for d in drivers if not d["metadata"].get("deletionTimestamp")]
            assert len(ours) == 1, f"{case.name}: {len(ours)} drivers"
            assert ours[0]["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == app["status"]["submissionID"]
    return apps


async def follow_to_completion(kf: KubeClient, left: Left, running: dict[str, Any]) -> None:
    """The running driver Kubeflow left (kf-running) is followed to its end; no second driver starts."""
    namespace = left.namespace["kf-running"]
    assert set(running["status"]["executorState"].values()) == {"RUNNING"}
    # Executors end first, then the driver, as a Spark application ends.
    for pod in sorted(
        left.pods["kf-running"].values(),
        key=lambda p: p["metadata"]["labels"][naming.LABEL_SPARK_ROLE] == "driver",
    ):
        role = pod["metadata"]["labels"][naming.LABEL_SPARK_ROLE]
        container = EXECUTOR_CONTAINER if role == "executor" else DRIVER_CONTAINER
        await set_phase(kf, namespace, pod["metadata"]["name"], "Succeeded", container)
    app: dict[str, Any] = {}

    async def completed() -> bool:
        app.update(await kf.get(SPARK_APPLICATIONS, "kf-running", namespace))
        executors = set((app.get("status") or {}).get("executorState", {}).values())
        return state_of(app) == "COMPLETED" and executors == {"COMPLETED"}

    await eventually(
        completed, what="the application completed", seen=lambda: app.get("status"), timeout=30.0
    )
    assert app["status"]["submissionAttempts"] == 1
    assert set(await pods_of(kf, namespace, "kf-running")) == set(left.pods["kf-running"])


@pytest.mark.parametrize("rbac", ["admin", "kubeflow-controller"])
async def test_takeover_follows_what_runs_and_resubmits_nothing_finished(
    kf: KubeClient, kf_namespace: str, kubeflow_plane: ControlPlane, rbac: str, tmp_path: Path
) -> None:
    namespace = kf_namespace
    left = await leave_all(kf, {c.name: namespace for c in CASES})
    rejected_before = REGISTRY.get_sample_value(
        "sparkfleet_status_writes_rejected_total", {"resource": "sparkapplications", "namespace": namespace}
    )

    kubeconfig = await as_kubeflows_controller(kubeflow_plane, kf, namespace) if rbac != "admin" else None
    client = await kubeflow_plane.client(kubeconfig=kubeconfig)
    forbidden_before = _forbidden(client)
    audit = AuditLog(tmp_path / "audit.jsonl", "single")
    controller = SparkApplicationController(
        client,
        namespaces=[namespace],
        concurrent_syncs=4,
        audit=audit,
        # Kubeflow's RBAC grants no resourcequotas list: run as its users would, with
        # --no-resource-quota-check (checked on, each namespace costs one 403 and one warning).
        check_quotas=rbac == "admin",
    )
    await controller.start(sync_timeout=10)
    try:
        apps = await assert_taken_over(kf, left, lambda: read_audit([audit.path]))
        await follow_to_completion(kf, left, apps["kf-running"])
    finally:
        await controller.stop()
        await client.close()
        audit.close()
    assert _forbidden(client) == forbidden_before, "a request was refused (403)"
    rejected = REGISTRY.get_sample_value(
        "sparkfleet_status_writes_rejected_total", {"resource": "sparkapplications", "namespace": namespace}
    )
    assert (rejected or 0) == (rejected_before or 0), "a status write was refused by Kubeflow's schema"
    events, _ = await kf.list_all(EVENTS, namespace, field_selector=f"reason={REASON_REJECTED}")
    assert events == []


@pytest.mark.timeout(180)
async def test_a_fleet_takes_over(kf: KubeClient, kubeflow_plane: ControlPlane, tmp_path: Path) -> None:
    """The same cases taken over by a fleet: three `sparkfleet run --fleet` members share six
    namespace shards the applications are spread over; the first takes them all over, and hands
    shards off to the others as they join. Per application: nothing resubmitted that Kubeflow would not have resubmitted, no driver
    deleted, the same states as one instance reaches, and never two members reconciling it at once."""
    members = ["m1", "m2", "m3"]
    fleet = FleetUnderTest(kubeflow_plane, kf, tmp_path, shards=2 * len(members), name="takeover",
                           crds=kubeflow_crds(), kubelet=False)  # fmt: skip
    await fleet.create()
    try:
        spread = {c.name: fleet.app_namespaces[i % fleet.shards] for i, c in enumerate(CASES)}
        left = await leave_all(kf, spread)
        # The first member takes everything over alone; the others join and are handed shards.
        await fleet.start(members[0])
        await fleet.wait_settled(members[:1])
        for member in members[1:]:
            await fleet.start(member)
        status = await fleet.wait_settled(members)
        apps = await assert_taken_over(kf, left, fleet.audit)
        await follow_to_completion(kf, left, apps["kf-running"])
        fleet.assert_no_overlaps()
        reconcilers = {line["member"] for line in fleet.audit()}
        assert len(reconcilers) >= 2, f"one member did it all: {reconcilers}, shards {status['shards']}"
        by_member = {m: sorted({line["key"].split("/")[1] for line in fleet.audit() if line["member"] == m})
                     for m in sorted(reconcilers)}  # fmt: skip
        handoffs = fleet.handoff_seconds()
        print(f"\nreconciled by: {by_member}; {len(handoffs)} hand-offs")
        assert handoffs, "no shard changed hands"
        assert fleet.live() == members, fleet.logs()
        rejected = [
            await i.metric("sparkfleet_status_writes_rejected_total") for i in fleet.instances.values()
        ]
        assert sum(rejected) == 0, "a status write was refused by Kubeflow's schema"
        for namespace in fleet.app_namespaces:
            events, _ = await kf.list_all(EVENTS, namespace, field_selector=f"reason={REASON_REJECTED}")
            assert events == []
    finally:
        await fleet.close()


@pytest.mark.usefixtures("sparkfleet")
async def test_a_failed_submission_is_visible_under_kubeflows_crd(kf: KubeClient, kf_namespace: str) -> None:
    """Kubeflow's CRD requires status.driverInfo: a SUBMISSION_FAILED status must carry one, or the
    write is refused and the application sits in state "" with nothing said."""
    no_account = manifests.spark_pi("no-account", kf_namespace)
    no_account["spec"]["driver"]["serviceAccount"] = "missing"
    invalid = manifests.spark_pi("invalid", kf_namespace)
    invalid["spec"]["driver"]["labels"] = {"spark-app-name": "mine"}  # Kubeflow's schema lets it through
    for manifest in (no_account, invalid):
        await kf.create(SPARK_APPLICATIONS, manifest)

    states: list[str] = []

    async def both_failed() -> bool:
        states[:] = [
            state_of(await kf.get(SPARK_APPLICATIONS, n, kf_namespace)) for n in ("no-account", "invalid")
        ]
        return states == ["FAILED", "SUBMISSION_FAILED"]

    await eventually(both_failed, what="both applications failed", seen=lambda: states, timeout=30.0)
    refused = await kf.get(SPARK_APPLICATIONS, "no-account", kf_namespace)
    assert 'serviceaccount "missing" not found' in refused["status"]["applicationState"]["errorMessage"]
    assert refused["status"]["submissionAttempts"] == 1
    assert refused["status"]["driverInfo"] == {}
    bad = await kf.get(SPARK_APPLICATIONS, "invalid", kf_namespace)
    assert bad["status"]["applicationState"]["errorMessage"].startswith(
        "spec.driver.labels[spark-app-name]: "
    )
    events, _ = await kf.list_all(EVENTS, kf_namespace, field_selector=f"reason={REASON_REJECTED}")
    assert events == []
