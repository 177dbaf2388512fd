"""The local control plane is a real one: optimistic concurrency, garbage
collection, RBAC, feature gates and CRD discovery behave as in a cluster."""

from __future__ import annotations

import pytest

from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import (
    CONFIGMAPS,
    LEASES,
    PODS,
    ROLEBINDINGS,
    ROLES,
    SECRETS,
    SERVICEACCOUNTS,
    Resource,
)
from sparkfleet.testing import ControlPlane
from tests.support import eventually


async def test_serves_on_loopback_with_the_pinned_version(
    control_plane: ControlPlane, kube: KubeClient
) -> None:
    assert control_plane.host.startswith("https://127.0.0.1:")
    assert control_plane.etcd_url.startswith("http://127.0.0.1:")
    version = await kube.request("GET", "/version")
    assert version["gitVersion"].startswith("v1.3")
    assert (int(version["major"]), int(version["minor"].rstrip("+"))) >= (1, 36)
    assert control_plane.startup_seconds < 20


async def test_sharded_list_and_watch_gate_is_enabled(kube: KubeClient) -> None:
    resp = await kube.open("GET", "/metrics")
    text = (await resp.read()).decode()
    resp.release()
    assert 'kubernetes_feature_enabled{name="ShardedListAndWatch",stage="ALPHA"} 1' in text


async def test_stale_resource_version_on_lease_update_is_a_conflict(kube: KubeClient, namespace: str) -> None:
    lease = await kube.create(
        LEASES,
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "shard-0", "namespace": namespace},
            "spec": {"holderIdentity": "member-a", "leaseDurationSeconds": 15},
        },
    )
    stale = {**lease, "spec": {**lease["spec"], "holderIdentity": "member-c"}}
    lease["spec"]["holderIdentity"] = "member-b"
    updated = await kube.replace(LEASES, lease)
    assert updated["spec"]["holderIdentity"] == "member-b"
    with pytest.raises(ApiError) as conflict:
        await kube.replace(LEASES, stale)  # carries the resourceVersion member-b already replaced
    assert conflict.value.is_conflict
    assert conflict.value.reason == "Conflict"
    current = await kube.get(LEASES, "shard-0", namespace)
    assert current["spec"]["holderIdentity"] == "member-b"


@pytest.mark.usefixtures("controller_manager")
async def test_garbage_collector_deletes_a_pod_whose_owner_is_deleted(
    kube: KubeClient, namespace: str
) -> None:
    owner = await kube.create(
        CONFIGMAPS,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": namespace}},
    )
    # Pod admission needs the namespace's default ServiceAccount, which the
    # serviceaccount controller of kube-controller-manager creates.
    await eventually(
        lambda: _exists(kube, SERVICEACCOUNTS, "default", namespace),
        what="the default ServiceAccount",
        timeout=60.0,
        interval=0.25,
    )
    await kube.create(
        PODS,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "dependent",
                "namespace": namespace,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "name": "owner",
                        "uid": owner["metadata"]["uid"],
                    }
                ],
            },
            "spec": {"containers": [{"name": "main", "image": "spark:3.5.5"}]},
        },
    )
    await kube.delete(CONFIGMAPS, "owner", namespace)

    async def pod_gone() -> bool:
        return not await _exists(kube, PODS, "dependent", namespace)

    await eventually(pod_gone, what="the pod gone", timeout=60, interval=0.25)


async def test_non_admin_identity_is_forbidden_until_rbac_allows(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    identity = await control_plane.mint_identity(namespace, "operator")
    assert identity.username == f"system:serviceaccount:{namespace}:operator"
    async with await control_plane.client(kubeconfig=identity.kubeconfig) as limited:
        with pytest.raises(ApiError) as forbidden:
            await limited.list(CONFIGMAPS, namespace)
        assert forbidden.value.is_forbidden
        assert identity.username in forbidden.value.message

        await kube.create(
            ROLES,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "read-configmaps", "namespace": namespace},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
            },
        )
        await kube.create(
            ROLEBINDINGS,
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "operator-reads", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "read-configmaps",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": namespace}],
            },
        )

        async def can_list() -> bool:
            try:
                await limited.list(CONFIGMAPS, namespace)
            except ApiError as exc:
                if not exc.is_forbidden:
                    raise
                return False
            return True

        await eventually(can_list, what="the grant to allow a list", timeout=10, interval=0.25)
        # The grant is exactly what the Role says: no writes, no Secrets.
        with pytest.raises(ApiError) as still_forbidden:
            await limited.create(
                CONFIGMAPS,
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": namespace}},
            )
        assert still_forbidden.value.is_forbidden
        with pytest.raises(ApiError) as no_secrets:
            await limited.list(SECRETS, namespace)
        assert no_secrets.value.is_forbidden


async def test_install_crds_waits_until_discovery_serves_them(
    control_plane: ControlPlane, kube: KubeClient
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.test.sparkfleet.io"},
        "spec": {
            "group": "test.sparkfleet.io",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
            ],
        },
    }
    await control_plane.install_crds([crd])
    await control_plane.install_crds([crd])  # idempotent
    await control_plane.create_namespace("widgets")
    widgets = Resource("test.sparkfleet.io", "v1", "widgets", "Widget")
    created = await kube.create(
        widgets,
        {
            "apiVersion": widgets.api_version,
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "widgets"},
        },
    )
    assert created["metadata"]["uid"]


async def _exists(kube: KubeClient, resource: Resource, name: str, namespace: str) -> bool:
    try:
        await kube.get(resource, name, namespace)
    except ApiError as exc:
        if exc.is_not_found:
            return False
        raise
    return True
