"""The chart without a fleet (one leader behind a Lease, as the Spark Operator runs), under its own
ServiceAccount: the operator takes and renews its leader Lease and can touch no other Lease of the
release's namespace (another controller's leader Lease may live there), and it serves its job namespace.

The Deployment's own arguments, as helm renders them, are run as a local process (there is no kubelet).
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import LEASES, NAMESPACES
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.proc import free_port
from tests.deploy.chart import CHART, EXAMPLES, apply, render
from tests.deploy.fleet import NOT_APPLIED
from tests.deploy.test_fleet_chart import FORBIDDEN_IN_LOG, can
from tests.examples import manifests
from tests.support import eventually

LEASE_API = "coordination.k8s.io/leases"


def _lease(name: str, namespace: str, holder: str) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15},
    }


def _args(docs: list[dict[str, Any]], kubeconfig: Path, port: int) -> list[str]:
    """The Deployment's arguments, with the metrics on a free loopback port and the test's kubeconfig."""
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = [a for a in container["args"] if not a.startswith("--metrics-bind-address=")]
    assert len(args) == len(container["args"]) - 1, container["args"]
    return [*args, f"--metrics-bind-address=127.0.0.1:{port}", f"--kubeconfig={kubeconfig}"]


async def test_classic_mode_holds_its_leader_lease_and_no_other(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> None:
    release = f"c{uuid.uuid4().hex[:6]}"
    ops, jobs = f"{release}-ops", f"{release}-jobs"
    values = {"spark": {"jobNamespaces": [jobs], "serviceAccount": {"name": "spark-operator-spark"}}}
    docs = render(release, ops, (EXAMPLES / "leader-elected.values.yaml",), values)
    lock = f"{release}-sparkfleet-controller-lock"
    assert f"--leader-election-lock-name={lock}" in _args(docs, tmp_path, 0)
    await control_plane.install_crds(sorted((CHART / "crds").glob("*.yaml")))
    for namespace in (ops, jobs):
        await control_plane.create_namespace(namespace)
    proc = None
    try:
        for doc in docs:
            if doc["kind"] not in NOT_APPLIED:
                await apply(kube, doc)
        # cluster-wide: only a GET of the namespaces it serves, by name (the start-up check)
        cluster_wide = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"].startswith("Cluster")}
        assert cluster_wide == {
            ("ClusterRole", f"{release}-sparkfleet-namespaces"),
            ("ClusterRoleBinding", f"{release}-sparkfleet-namespaces"),
        }
        (account,) = [d for d in docs if d["kind"] == "ServiceAccount" and d["metadata"]["namespace"] == ops]
        identity = await control_plane.mint_identity(ops, account["metadata"]["name"])
        await kube.create(LEASES, _lease("other-controller-lock", ops, "other-controller-0"))

        async with await control_plane.client(kubeconfig=identity.kubeconfig) as sa:
            assert await can(sa, "create", LEASE_API, ops)
            for verb in ("get", "update"):
                assert await can(sa, verb, LEASE_API, ops, name=lock), verb
            for verb in ("get", "update", "patch", "delete"):
                assert not await can(sa, verb, LEASE_API, ops, name="other-controller-lock"), verb
            for verb in ("list", "watch", "deletecollection"):
                assert not await can(sa, verb, LEASE_API, ops), verb
            assert not await can(sa, "delete", LEASE_API, ops, name=lock)
            assert await can(sa, "get", "namespaces", "", name=jobs)
            assert not await can(sa, "get", "namespaces", "", name=ops)
            assert not await can(sa, "list", "namespaces", "")
            with pytest.raises(ApiError) as refused:  # and the API server really refuses it
                await sa.delete(LEASES, "other-controller-lock", ops)
            assert refused.value.is_denied, refused.value

        port = free_port()
        log_path = tmp_path / "operator.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sparkfleet.cli", *_args(docs, identity.kubeconfig, port),
                stdout=log, stderr=log,
                env={**os.environ, "POD_NAME": "operator-0", "POD_NAMESPACE": ops, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip

        async def leading() -> bool:
            assert proc is not None
            assert proc.returncode is None, log_path.read_text()[-3000:]
            try:
                lease = await kube.get(LEASES, lock, ops)
            except ApiError as exc:
                if exc.is_not_found:
                    return False
                raise
            return bool(lease["spec"].get("holderIdentity") == "operator-0")

        await eventually(leading, what="the operator to take its leader Lease", timeout=60.0)
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("classic", jobs))
        every = manifests.scheduled("every", jobs)
        every["spec"].update(schedule="@every 2s", timeZone="UTC")
        await kube.create(SCHEDULED_SPARK_APPLICATIONS, every)

        async def served() -> bool:
            app = await kube.get(SPARK_APPLICATIONS, "classic", jobs)
            state = ((app.get("status") or {}).get("applicationState") or {}).get("state")
            assert state not in ("FAILED", "SUBMISSION_FAILED"), app["status"]
            scheduled = await kube.get(SCHEDULED_SPARK_APPLICATIONS, "every", jobs)
            return state == "SUBMITTED" and bool((scheduled.get("status") or {}).get("lastRunName"))

        await eventually(served, what="the application submitted and a scheduled run", timeout=60.0)
        other = await kube.get(LEASES, "other-controller-lock", ops)
        assert other["spec"]["holderIdentity"] == "other-controller-0"
        assert not FORBIDDEN_IN_LOG.search(log_path.read_text()), log_path.read_text()[-3000:]
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        for namespace in (ops, jobs):
            try:
                await kube.delete(NAMESPACES, namespace)
            except ApiError as exc:
                if not exc.is_not_found:
                    raise
