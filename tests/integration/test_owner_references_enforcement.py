"""The operator on an API server with the OwnerReferencesPermissionEnforcement admission plugin, as
OpenShift runs it: whoever sets ``blockOwnerDeletion`` on a reference to an owner must be allowed to
update that owner's ``finalizers`` subresource.

The operator's driver pods and UI Services block their SparkApplication's deletion, and the runs of a
ScheduledSparkApplication block the schedule's, as the Kubeflow Spark Operator's do. A control plane of
this module's own enables the plugin; the operator runs under the chart's RBAC as helm renders it (a
fleet member under the chart's ServiceAccount), with the job permissions in both of the chart's forms
(a Role per job namespace, and the cluster-wide ClusterRole), and under the Kubeflow chart's controller
RBAC for a takeover.

Under RBAC without those grants (a platform's own, written from an older chart), an application ends
in SUBMISSION_FAILED and a schedule says in its status and an Event which grant it lacks, and retries
with back-off; a grant made later starts its runs.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import EVENTS, PODS, ROLEBINDINGS, ROLES, SERVICEACCOUNTS, SERVICES
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.audit import read as read_audit
from sparkfleet.operator.ratelimiters import DEFAULT_BASE_DELAY
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.scheduled import ScheduledSparkApplicationController
from sparkfleet.operator.spark.status_writes import REASON_REJECTED
from sparkfleet.testing import ControlPlane
from tests.deploy.chart import render
from tests.deploy.fleet import ChartFleet
from tests.examples import manifests
from tests.integration.test_takeover import (
    CASES,
    SERVICE_ACCOUNT,
    assert_taken_over,
    follow_to_completion,
    leave_all,
)
from tests.kubeflow import kubeflow_controller_identity, set_phase, state_of
from tests.support import eventually, kubeflow_crds, spark_crds

OWNER_REFERENCES = "OwnerReferencesPermissionEnforcement"
# 403s that deny a permission; not a create refused in a namespace being deleted (the cluster-wide
# fleet sees the namespaces of the module's earlier tests go).
DENIED = re.compile(r"^sparkfleet_api_forbidden_total\{[^}]*\} (\S+)$", re.MULTILINE)
BLOCKING = {"controller": True, "blockOwnerDeletion": True}
BASE_DELAY = DEFAULT_BASE_DELAY  # the first retry's, doubling with each failure


@pytest.fixture(scope="module")
async def enforcing() -> AsyncIterator[ControlPlane]:
    """A control plane whose API server runs OwnerReferencesPermissionEnforcement."""
    async with ControlPlane(admission_plugins=(OWNER_REFERENCES,)) as cp:
        assert f"--enable-admission-plugins={OWNER_REFERENCES}" in cp.processes["kube-apiserver"].argv
        yield cp


@pytest.fixture
async def admin(enforcing: ControlPlane) -> AsyncIterator[KubeClient]:
    client = await enforcing.client()
    yield client
    await client.close()


def _blocking_owner(obj: dict[str, Any], kind: str, uid: str) -> bool:
    return any(
        ref.get("kind") == kind
        and ref.get("uid") == uid
        and all(ref.get(k) == v for k, v in BLOCKING.items())
        for ref in obj["metadata"].get("ownerReferences") or []
    )


async def _completed(kube: KubeClient, keys: list[tuple[str, str]]) -> bool:
    """Whether every application is COMPLETED; one that failed fails the test with its message."""
    for namespace, name in keys:
        app = await kube.get(SPARK_APPLICATIONS, name, namespace)
        state = (app.get("status") or {}).get("applicationState") or {}
        assert state.get("state") not in ("FAILED", "SUBMISSION_FAILED"), f"{namespace}/{name}: {state}"
        if state.get("state") != "COMPLETED":
            return False
    return True


@pytest.mark.parametrize("form", ["job-namespaces", "cluster-wide"])
async def test_the_charts_rbac_under_owner_references_enforcement(
    enforcing: ControlPlane, admin: KubeClient, tmp_path: Path, form: str
) -> None:
    """An application reaches COMPLETED and a ScheduledSparkApplication makes a run, with no 403."""
    fleet = ChartFleet(enforcing, admin, tmp_path, shards=2, crds=spark_crds())
    if form == "cluster-wide":  # every namespace: the job rules are the ClusterRole <release>-sparkfleet-jobs
        fleet.values = {"spark": {"jobNamespaces": []}}
    await fleet.create()
    jobs = [
        d
        for d in fleet.docs
        if d["kind"] in ("Role", "ClusterRole") and d["metadata"]["name"].endswith("-jobs")
    ]
    assert {d["kind"] for d in jobs} == {"ClusterRole" if form == "cluster-wide" else "Role"}
    try:
        if form == "cluster-wide":  # the chart makes the drivers' ServiceAccount in listed namespaces only
            for namespace in fleet.app_namespaces:
                await admin.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                     "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace}})  # fmt: skip
        member = await fleet.start("m1")
        await fleet.wait_settled(["m1"])
        keys = await fleet.create_apps(per_namespace=1)
        every = manifests.scheduled("every", fleet.app_namespaces[0])
        every["spec"].update(schedule="@every 2s", timeZone="UTC")
        scheduled = await admin.create(SCHEDULED_SPARK_APPLICATIONS, every)
        fleet.finish_drivers = True

        await eventually(lambda: _completed(admin, keys), what="the applications to complete", timeout=60.0)

        async def run_started() -> str:
            obj = await admin.get(SCHEDULED_SPARK_APPLICATIONS, "every", fleet.app_namespaces[0])
            return str((obj.get("status") or {}).get("lastRunName") or "")

        run_name = await eventually(run_started, what="a scheduled run", timeout=60.0)
        await eventually(
            lambda: _completed(admin, [(fleet.app_namespaces[0], run_name)]),
            what="the scheduled run to complete",
            timeout=60.0,
        )

        # The references still block their owners' foreground deletion, as Kubeflow's do.
        run = await admin.get(SPARK_APPLICATIONS, run_name, fleet.app_namespaces[0])
        assert _blocking_owner(run, "ScheduledSparkApplication", scheduled["metadata"]["uid"]), run[
            "metadata"
        ]
        namespace, name = keys[0]
        app = await admin.get(SPARK_APPLICATIONS, name, namespace)
        driver = await admin.get(PODS, app["status"]["driverInfo"]["podName"], namespace)
        assert _blocking_owner(driver, "SparkApplication", app["metadata"]["uid"]), driver["metadata"]
        ui = await admin.get(SERVICES, app["status"]["driverInfo"]["webUIServiceName"], namespace)
        assert _blocking_owner(ui, "SparkApplication", app["metadata"]["uid"]), ui["metadata"]

        forbidden = [float(v) for v in DENIED.findall(await member.metrics())]
        assert sum(forbidden) == 0, f"403 answers: {forbidden}\n{member.log_tail()}"
        assert "blockOwnerDeletion" not in member.log_path.read_text(), member.log_tail()
    finally:
        await fleet.close()


async def test_a_takeover_under_kubeflows_rbac_and_owner_references_enforcement(
    enforcing: ControlPlane, admin: KubeClient, tmp_path: Path
) -> None:
    """sparkfleet in place of Kubeflow's controller, under exactly the permissions Kubeflow's chart
    v2.5.2 grants it (which include the finalizers of sparkapplications and scheduledsparkapplications):
    what Kubeflow left is taken over, what must be resubmitted is, and a schedule makes runs."""
    await enforcing.install_crds(kubeflow_crds())
    namespace = f"kf-enforced-{uuid.uuid4().hex[:6]}"
    await enforcing.create_namespace(namespace)
    await admin.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace}})  # fmt: skip
    left = await leave_all(admin, {c.name: namespace for c in CASES})
    identity = await kubeflow_controller_identity(enforcing, admin, namespace, [namespace])
    client = await enforcing.client(kubeconfig=identity.kubeconfig)
    audit = AuditLog(tmp_path / "audit.jsonl", "single")
    apps = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=4, audit=audit)
    schedules = ScheduledSparkApplicationController(client, namespaces=[namespace])
    await apps.start(sync_timeout=10)
    await schedules.start(sync_timeout=10)
    try:
        taken = await assert_taken_over(admin, left, lambda: read_audit([audit.path]))
        await follow_to_completion(admin, left, taken["kf-running"])
        every = manifests.scheduled("every", namespace)
        every["spec"].update(schedule="@every 2s", timeZone="UTC", concurrencyPolicy="Allow")
        await admin.create(SCHEDULED_SPARK_APPLICATIONS, every)

        async def run_submitted() -> dict[str, Any] | None:
            obj = await admin.get(SCHEDULED_SPARK_APPLICATIONS, "every", namespace)
            name = (obj.get("status") or {}).get("lastRunName")
            run = await admin.get(SPARK_APPLICATIONS, name, namespace) if name else {}
            return run if state_of(run) == "SUBMITTED" else None

        run = await eventually(run_submitted, what="a scheduled run to be submitted", timeout=60.0)
        await set_phase(admin, namespace, run["status"]["driverInfo"]["podName"], "Succeeded")
        await eventually(
            lambda: _completed(admin, [(namespace, run["metadata"]["name"])]),
            what="the run to complete",
            timeout=60.0,
        )
    finally:
        await schedules.stop()
        await apps.stop()
        await client.close()
        audit.close()
    events, _ = await admin.list_all(EVENTS, namespace, field_selector=f"reason={REASON_REJECTED}")
    assert events == []
    refused = [
        e
        for e in (await admin.list_all(EVENTS, namespace))[0]
        if "blockOwnerDeletion" in (e.get("message") or "")
    ]
    assert refused == [], refused[0]["message"]
    for case in CASES:  # what was resubmitted blocks its application's deletion
        if case.resubmits and case.name in taken:
            app = await admin.get(SPARK_APPLICATIONS, case.name, namespace)
            pod = await admin.get(PODS, app["status"]["driverInfo"]["podName"], namespace)
            assert naming.LABEL_SUBMISSION_ID in pod["metadata"]["labels"]
            assert _blocking_owner(pod, "SparkApplication", app["metadata"]["uid"]), pod["metadata"]


def _without_finalizers(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [r for r in rules if not any(res.endswith("/finalizers") for res in r["resources"])]
    assert len(kept) == len(rules) - 1, rules
    return kept


async def test_without_the_finalizers_grants_the_refusal_is_said_not_looped(
    enforcing: ControlPlane, admin: KubeClient, tmp_path: Path
) -> None:
    await enforcing.install_crds(spark_crds())
    namespace = f"no-finalizers-{uuid.uuid4().hex[:6]}"
    await enforcing.create_namespace(namespace)
    await admin.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                         "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace}})  # fmt: skip
    (jobs,) = [
        d for d in render("t", "ops", values={"spark": {"jobNamespaces": [namespace]}})
        if d["kind"] == "Role" and d["metadata"]["name"] == "t-sparkfleet-jobs"
    ]  # fmt: skip
    identity = await enforcing.mint_identity(namespace, "operator")
    rbac = "rbac.authorization.k8s.io"
    role = await admin.create(ROLES, {"apiVersion": f"{rbac}/v1", "kind": "Role",
                                      "metadata": {"name": "operator", "namespace": namespace},
                                      "rules": _without_finalizers(jobs["rules"])})  # fmt: skip
    await admin.create(ROLEBINDINGS, {
        "apiVersion": f"{rbac}/v1", "kind": "RoleBinding", "metadata": {"name": "operator", "namespace": namespace},
        "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "operator"},
        "subjects": [{"kind": "ServiceAccount", "name": identity.name, "namespace": namespace}],
    })  # fmt: skip
    client = await enforcing.client(kubeconfig=identity.kubeconfig)
    audit = AuditLog(tmp_path / "audit.jsonl", "single")
    apps = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=2)
    schedules = ScheduledSparkApplicationController(client, namespaces=[namespace], audit=audit)
    await apps.start(sync_timeout=10)
    await schedules.start(sync_timeout=10)
    try:
        await admin.create(SPARK_APPLICATIONS, manifests.spark_pi("refused", namespace))
        every = manifests.scheduled("every", namespace)
        every["spec"].update(schedule="@every 2s", timeZone="UTC")
        await admin.create(SCHEDULED_SPARK_APPLICATIONS, every)

        async def failed() -> dict[str, Any] | None:
            app = await admin.get(SPARK_APPLICATIONS, "refused", namespace)
            state = (app.get("status") or {}).get("applicationState") or {}
            return state if state.get("state") in ("SUBMISSION_FAILED", "FAILED") else None

        state = await eventually(failed, what="the application to fail its submission", timeout=60.0)
        assert "cannot set blockOwnerDeletion" in state["errorMessage"], state
        assert "needs update on sparkapplications/finalizers in sparkoperator.k8s.io" in state["errorMessage"]

        async def said() -> str:
            obj = await admin.get(SCHEDULED_SPARK_APPLICATIONS, "every", namespace)
            return str((obj.get("status") or {}).get("reason") or "")

        reason = await eventually(said, what="the schedule to say why it cannot run", timeout=60.0)
        assert reason.startswith("cannot start a run: 403 Forbidden: "), reason
        assert "needs update on scheduledsparkapplications/finalizers in sparkoperator.k8s.io" in reason

        # Said once, in an Event; retried with back-off (5 ms, doubling), not in a loop.
        async def refused_event() -> list[str]:
            events, _ = await admin.list_all(
                EVENTS, namespace, field_selector="reason=ScheduledSparkApplicationRunRefused"
            )
            return [e["message"] for e in events]

        assert await eventually(refused_event, what="the Warning Event", timeout=60.0) == [reason]
        await eventually(lambda: _reconciled(audit.path, 6), what="a few retries", timeout=60.0)
        refused = read_audit([audit.path])
        span = max(float(x["t1"]) for x in refused) - min(float(x["t0"]) for x in refused)
        backed_off = math.log2(max(span, BASE_DELAY) / BASE_DELAY) + 6  # a retry per doubling, and events
        assert len(refused) <= backed_off, f"{len(refused)} reconciles in {span:.2f}s: a loop"
        assert await refused_event() == [reason]
        runs, _ = await admin.list_all(SPARK_APPLICATIONS, namespace)
        assert [r["metadata"]["name"] for r in runs] == ["refused"]

        # The grant, made later, is all it takes.
        role["rules"] = jobs["rules"]
        await admin.replace(ROLES, role)
        run_name = await eventually(
            lambda: _last_run(admin, namespace), what="a run once granted", timeout=60.0
        )
        assert await admin.get(SPARK_APPLICATIONS, run_name, namespace)
        assert not await said()
    finally:
        await schedules.stop()
        await apps.stop()
        await client.close()
        audit.close()


async def _reconciled(path: Path, count: int) -> bool:
    return len(read_audit([path])) >= count


async def _last_run(kube: KubeClient, namespace: str) -> str:
    obj = await kube.get(SCHEDULED_SPARK_APPLICATIONS, "every", namespace)
    return str((obj.get("status") or {}).get("lastRunName") or "")
