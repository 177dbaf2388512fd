"""What the tests that judge sparkfleet against the Kubeflow Spark Operator share: Kubeflow's controller
binary and identity, and reading and moving the objects both operators work on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import (
    CLUSTERROLEBINDINGS,
    CLUSTERROLES,
    PODS,
    ROLEBINDINGS,
    ROLES,
)
from sparkfleet.operator.spark import naming
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.controlplane import Identity
from tests.examples.kubeflow_chart_args import CLUSTER_RULES, CONTROLLER_RULES

ROOT = Path(__file__).resolve().parents[1]
KUBEFLOW_BINARY = ROOT / "bin" / "kubeflow-spark-operator"
DRIVER_CONTAINER = "spark-kubernetes-driver"
EXECUTOR_CONTAINER = "spark-kubernetes-executor"


def kubeflow_binary() -> Path:
    """The Kubeflow Spark Operator's controller (``make kubeflow``). Missing, the test fails: it is
    never skipped."""
    if not KUBEFLOW_BINARY.exists():
        pytest.fail(f"{KUBEFLOW_BINARY} is missing: run `make kubeflow` (it builds the pinned controller)")
    return KUBEFLOW_BINARY


def state_of(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("applicationState") or {}).get("state") or "")


async def pods_of(kube: KubeClient, namespace: str, app: str) -> dict[str, dict[str, Any]]:
    """An application's pods (every submission's) by UID."""
    pods, _ = await kube.list_all(PODS, namespace, label_selector=f"{naming.LABEL_APP_NAME}={app}")
    return {p["metadata"]["uid"]: p for p in pods}


async def set_phase(
    kube: KubeClient, namespace: str, pod: str, phase: str, container: str = DRIVER_CONTAINER
) -> None:
    """What a kubelet reports: the pod's phase and, once it ended, its container's exit code (0 when
    it succeeded, 1 when it failed)."""
    status: dict[str, Any] = {"phase": phase}
    if phase in ("Succeeded", "Failed"):
        code = 0 if phase == "Succeeded" else 1
        status["containerStatuses"] = [{
            "name": container, "ready": False, "restartCount": 0, "image": "spark", "imageID": "",
            "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}},
        }]  # fmt: skip
    await kube.patch(PODS, pod, {"status": status}, namespace, subresource="status")


async def kubeflow_controller_identity(
    cp: ControlPlane, kube: KubeClient, namespace: str, job_namespaces: list[str]
) -> Identity:
    """A ServiceAccount in ``namespace`` with exactly the permissions Kubeflow's chart v2.5.2 gives its
    controller for ``job_namespaces`` (a Role in each, and the ClusterRole reading CRDs): what both
    Kubeflow's controller and sparkfleet run under when the image of Kubeflow's Deployment is swapped."""
    identity = await cp.mint_identity(namespace, "spark-operator-controller")
    subject = {"kind": "ServiceAccount", "name": identity.name, "namespace": namespace}
    rbac = "rbac.authorization.k8s.io"
    for job_namespace in job_namespaces:
        await kube.create(ROLES, {"apiVersion": f"{rbac}/v1", "kind": "Role",
                                  "metadata": {"name": "spark-operator-controller", "namespace": job_namespace},
                                  "rules": CONTROLLER_RULES})  # fmt: skip
        await kube.create(ROLEBINDINGS, {
            "apiVersion": f"{rbac}/v1", "kind": "RoleBinding",
            "metadata": {"name": "spark-operator-controller", "namespace": job_namespace},
            "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "spark-operator-controller"},
            "subjects": [subject],
        })  # fmt: skip
    cluster_name = f"{namespace}-spark-operator-controller"
    await kube.create(CLUSTERROLES, {"apiVersion": f"{rbac}/v1", "kind": "ClusterRole",
                                     "metadata": {"name": cluster_name}, "rules": CLUSTER_RULES})  # fmt: skip
    await kube.create(CLUSTERROLEBINDINGS, {
        "apiVersion": f"{rbac}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": cluster_name},
        "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": cluster_name}, "subjects": [subject],
    })  # fmt: skip
    return identity
