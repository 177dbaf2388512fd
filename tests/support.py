"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from sparkfleet.kube.resources import ROLEBINDINGS, ROLES

if TYPE_CHECKING:
    from sparkfleet.kube import KubeClient
    from sparkfleet.testing import ControlPlane

T = TypeVar("T")


def configmap(name: str, namespace: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "data": data,
    }


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]],
    *,
    what: str,
    timeout: float = ...,
    interval: float = ...,
    seen: Callable[[], object] | None = ...,
    retrying: tuple[type[Exception], ...] = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T | None],
    *,
    what: str,
    timeout: float = ...,
    interval: float = ...,
    seen: Callable[[], object] | None = ...,
    retrying: tuple[type[Exception], ...] = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    *,
    what: str,
    timeout: float = 20.0,
    interval: float = 0.2,
    seen: Callable[[], object] | None = None,
    retrying: tuple[type[Exception], ...] = (),
) -> Any:
    """Polls ``check`` (sync or async) every ``interval`` seconds until it returns something true,
    and returns that; after ``timeout`` seconds fails saying ``what`` was awaited and the last value
    (or what ``seen`` says, when the check's value is a bare bool).

    An exception from the check fails at once, unless it is one of ``retrying``: then it counts as a
    miss, and the last one is in the failure (a 404 for an object not created yet, say).
    """
    deadline = time.monotonic() + timeout
    while True:
        error: Exception | None = None
        try:
            result = check()
            value = await result if inspect.isawaitable(result) else result
        except retrying as exc:
            error = exc
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            last = f"raised {error!r}" if error is not None else f"was {value!r}"
            detail = f"; saw {seen()}" if seen is not None else ""
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}: the check last {last}{detail}"
            ) from error
        await asyncio.sleep(interval)


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
