"""A create in a namespace being deleted, against the real API server: a 403 that is no RBAC failure.

The namespace is held in Terminating by a finalizer of the test's own (``metadata.finalizers``), so
the API server's NamespaceLifecycle admission refuses every create in it for as long as the test
needs, and the namespace goes away once the test removes the finalizer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from sparkfleet.kube import ApiError, KubeClient, connect
from sparkfleet.kube.errors import NAMESPACE_TERMINATING
from sparkfleet.kube.events import EventRecorder
from sparkfleet.kube.resources import CONFIGMAPS, NAMESPACES
from sparkfleet.operator.controller import DONE, Controller, Result
from sparkfleet.testing import ControlPlane
from tests.support import configmap

HOLD = "sparkfleet.io/test-hold"


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def terminating(kube: KubeClient) -> AsyncIterator[str]:
    """A namespace in Terminating (deleted, held by a finalizer), with one ConfigMap made before."""
    name = f"terminating-{uuid.uuid4().hex[:8]}"
    await kube.create(
        NAMESPACES,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "finalizers": [HOLD]}},
    )
    await kube.create(CONFIGMAPS, configmap("before", name))
    await kube.delete(NAMESPACES, name)
    assert (await kube.get(NAMESPACES, name))["status"]["phase"] == "Terminating"
    yield name
    await kube.patch(NAMESPACES, name, {"metadata": {"finalizers": None}})


async def test_a_create_in_a_terminating_namespace_is_a_403_that_rbac_did_not_decide(
    kube: KubeClient, terminating: str
) -> None:
    denied = {"verb": "POST", "resource": "configmaps"}
    before = sample("sparkfleet_api_forbidden_total", denied)
    refused_before = sample("sparkfleet_api_namespace_terminating_total", denied)
    with pytest.raises(ApiError) as refused:
        await kube.create(CONFIGMAPS, configmap("after", terminating))
    error = refused.value
    # the API server's own answer, as the classification relies on it
    assert (error.status, error.reason) == (403, "Forbidden")
    assert f"unable to create new content in namespace {terminating} because it is being terminated" in (
        error.message
    )
    causes = [c.get("reason") for c in error.body["details"]["causes"]]
    assert NAMESPACE_TERMINATING in causes, error.body
    assert error.is_forbidden
    assert error.is_namespace_terminating
    assert not error.is_denied
    assert sample("sparkfleet_api_forbidden_total", denied) == before  # not what the alert counts
    assert sample("sparkfleet_api_namespace_terminating_total", denied) == refused_before + 1
    # what was there before can still be read and changed: only creates are refused
    assert (await kube.get(CONFIGMAPS, "before", terminating))["metadata"]["name"] == "before"


async def test_an_rbac_denial_is_still_counted(control_plane: ControlPlane, namespace: str) -> None:
    identity = await control_plane.mint_identity(namespace, "nobody")
    denied = {"verb": "POST", "resource": "configmaps"}
    before = sample("sparkfleet_api_forbidden_total", denied)
    async with await connect(str(identity.kubeconfig)) as nobody:
        with pytest.raises(ApiError) as refused:
            await nobody.create(CONFIGMAPS, configmap("cm", namespace))
    assert refused.value.is_denied
    assert not refused.value.is_namespace_terminating
    assert sample("sparkfleet_api_forbidden_total", denied) == before + 1


async def test_no_event_is_retried_into_a_terminating_namespace(kube: KubeClient, terminating: str) -> None:
    recorder = EventRecorder(kube, "sparkfleet-test")
    about = await kube.get(CONFIGMAPS, "before", terminating)
    posts = {"code": "403", "method": "POST", "host": kube.transport.host}
    before = sample("rest_client_requests_total", posts)
    await recorder.record(about, "Normal", "First", "refused: the namespace is being deleted")
    assert recorder.terminating(terminating)
    assert sample("rest_client_requests_total", posts) == before + 1
    await recorder.record(about, "Warning", "Second", "not even sent")
    recorder.emit(about, "Warning", "Third", "not even sent")
    await recorder.flush()
    assert sample("rest_client_requests_total", posts) == before + 1  # no second request


async def test_a_reconcile_refused_by_a_terminating_namespace_is_not_retried(
    kube: KubeClient, terminating: str
) -> None:
    calls: list[str] = []
    done = asyncio.Event()

    async def reconcile(key: str) -> Result:
        calls.append(key)
        try:
            await kube.create(CONFIGMAPS, configmap(f"run-{len(calls)}", terminating))
        finally:
            done.set()
        return DONE

    controller = Controller("terminating-test", reconcile, concurrent_syncs=1)
    errors = {"controller": "terminating-test"}
    errors_before = sample("controller_runtime_reconcile_errors_total", errors)
    await controller.start()
    try:
        key = f"{terminating}/app"
        controller.queue.add(key)
        async with asyncio.timeout(10):
            await done.wait()
        # the worker handled the answer in the same step as the reconcile's end (no await between)
        assert controller.queue.num_requeues(key) == 0, "the key was put back to be retried"
        assert calls == [key]
        assert sample("controller_runtime_reconcile_errors_total", errors) == errors_before
        outcome = {"controller": "terminating-test", "result": "namespace_terminating"}
        assert sample("controller_runtime_reconcile_total", outcome) == 1
    finally:
        await controller.stop(timeout=1)
