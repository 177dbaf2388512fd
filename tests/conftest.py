"""Fixtures: one real control plane per test session, a fresh namespace per test.

Tests under tests/integration/ and tests/fleet/ are marked ``integration`` and use the control
plane; unit tests never start it. A missing control plane build fails the
integration tests loudly (it is never a skip): run ``make controlplane``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import NAMESPACES
from sparkfleet.testing import ControlPlane, TcpProxy
from tests.support import kubeflow_crds


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name in ("integration", "fleet", "deploy", "chaos", "conformance"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
async def control_plane() -> AsyncIterator[ControlPlane]:
    async with ControlPlane() as cp:
        yield cp


@pytest.fixture(scope="session")
async def kubeflow_plane() -> AsyncIterator[ControlPlane]:
    """A control plane of its own with the Kubeflow Spark Operator v2.5.2's CRDs installed (what a
    cluster that ran Kubeflow has), and sparkfleet's SparkFleet CRD: for the takeover and hand-back
    tests, whatever CRDs the session's control plane has."""
    async with ControlPlane() as cp:
        await cp.install_crds(kubeflow_crds())
        yield cp


@pytest.fixture
def controller_manager(control_plane: ControlPlane) -> None:
    """For tests of garbage collection: skipped only when KUBEBUILDER_ASSETS has no kube-controller-manager."""
    if "kube-controller-manager" not in control_plane.processes:
        pytest.skip("KUBEBUILDER_ASSETS has no kube-controller-manager: garbage collection is not running")


@pytest.fixture
async def proxied(control_plane: ControlPlane) -> AsyncIterator[tuple[KubeClient, TcpProxy]]:
    """A client whose every connection to the API server runs through a proxy the test can cut."""
    target = urlsplit(control_plane.host)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 443) as proxy:
        client = await control_plane.client()
        client.connection.host = proxy.url
        yield client, proxy
        await client.close()


@pytest.fixture
async def kube(control_plane: ControlPlane) -> AsyncIterator[KubeClient]:
    client = await control_plane.client()
    yield client
    await client.close()


@pytest.fixture
async def namespace(
    control_plane: ControlPlane, kube: KubeClient, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A namespace of the test's own, deleted afterwards (the namespace controller empties it)."""
    stem = request.node.name.lower().replace("_", "-")
    name = f"{''.join(c for c in stem if c.isalnum() or c == '-')[:40].strip('-')}-{uuid.uuid4().hex[:6]}"
    await control_plane.create_namespace(name)
    yield name
    try:
        await kube.delete(NAMESPACES, name)
    except ApiError as exc:
        if not exc.is_not_found:
            raise
