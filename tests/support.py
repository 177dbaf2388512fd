"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sparkfleet.kube.resources import ROLEBINDINGS, ROLES

if TYPE_CHECKING:
    from sparkfleet.kube import KubeClient
    from sparkfleet.testing import ControlPlane


def configmap(name: str, namespace: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "data": data,
    }


async def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Polls a synchronous predicate (a cache, a list the test fills) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


async def wait_until(what: str, check: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    """Polls an async ``check`` until it returns something true, and returns that; fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.2)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


CRDS_ENV = "SPARKFLEET_TEST_CRDS"
_ROOT = Path(__file__).resolve().parents[1]
KUBEFLOW_CRDS = _ROOT / "tests" / "fixtures" / "kubeflow-v2.5.2" / "crds"


def on_kubeflow_crds() -> bool:
    """Whether the suite runs on the Kubeflow Spark Operator's CRDs (``SPARKFLEET_TEST_CRDS=kubeflow``)."""
    return os.environ.get(CRDS_ENV, "sparkfleet") == "kubeflow"


def kubeflow_crds() -> list[Path]:
    """The Kubeflow Spark Operator v2.5.2's CRDs (what a cluster that ran Kubeflow has), beside
    sparkfleet's own SparkFleet CRD."""
    ours = sorted((_ROOT / "deploy" / "crds").glob("*.yaml"))
    return [*sorted(KUBEFLOW_CRDS.glob("*.yaml")), *(p for p in ours if "sparkfleets" in p.name)]


def spark_crds() -> list[Path]:
    """The CRDs the suite runs on: sparkfleet's generated ones (deploy/crds), or, with
    ``SPARKFLEET_TEST_CRDS=kubeflow``, the Kubeflow Spark Operator v2.5.2's for its resources (what a
    cluster that ran Kubeflow has) beside sparkfleet's own SparkFleet CRD."""
    ours = sorted((_ROOT / "deploy" / "crds").glob("*.yaml"))
    which = os.environ.get(CRDS_ENV, "sparkfleet")
    if which == "sparkfleet":
        return ours
    if which != "kubeflow":
        raise ValueError(f"{CRDS_ENV}={which!r}: sparkfleet or kubeflow")
    return kubeflow_crds()


def run_params(args: list[str]) -> dict[str, Any]:
    """The parameters ``sparkfleet run`` reads from ``args``, parsed by its own parser (not run)."""
    import typer

    from sparkfleet.cli import app

    command = typer.main.get_command(app)
    assert isinstance(command, typer.core.TyperGroup)
    with command.commands["run"].make_context("run", list(args), obj=[]) as ctx:
        return dict(ctx.params)


RBAC = "rbac.authorization.k8s.io"


def spark_application_rules(*verbs: str, scheduled: bool = False) -> list[dict[str, Any]]:
    """RBAC rules over SparkApplications (and ScheduledSparkApplications) of a namespace."""
    resources = ["sparkapplications", *(["scheduledsparkapplications"] if scheduled else [])]
    return [{"apiGroups": ["sparkoperator.k8s.io"], "resources": resources, "verbs": list(verbs)}]


async def grant(kube: KubeClient, namespace: str, who: str, rules: list[dict[str, Any]]) -> None:
    """A Role of ``rules`` named ``who``, bound to the ServiceAccount ``who`` of ``namespace``."""
    meta = {"name": who, "namespace": namespace}
    await kube.create(ROLES, {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": meta, "rules": rules})
    await kube.create(ROLEBINDINGS, {
        "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": who},
        "subjects": [{"kind": "ServiceAccount", "name": who, "namespace": namespace}],
    })  # fmt: skip


async def client_as(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, who: str, rules: list[dict[str, Any]]
) -> KubeClient:
    """A client of the ServiceAccount ``who`` of ``namespace`` (made now), granted ``rules`` there only."""
    identity = await control_plane.mint_identity(namespace, who)
    await grant(kube, namespace, who, rules)
    return await control_plane.client(kubeconfig=identity.kubeconfig)
