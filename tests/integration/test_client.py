"""The client against the real API server: verbs, pagination, metrics, and
Retry-After handling when API Priority and Fairness throttles the caller."""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from sparkfleet.kube import ApiError, ClientSettings, KubeClient, connect
from sparkfleet.kube.client import JSON_PATCH, STRATEGIC_MERGE_PATCH
from sparkfleet.kube.resources import CONFIGMAPS, ROLEBINDINGS, ROLES, Resource
from sparkfleet.testing import ControlPlane
from tests.support import configmap

FLOWSCHEMAS = Resource("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", namespaced=False)
PRIORITY_LEVELS = Resource(
    "flowcontrol.apiserver.k8s.io",
    "v1",
    "prioritylevelconfigurations",
    "PriorityLevelConfiguration",
    namespaced=False,
)


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_verbs_round_trip(kube: KubeClient, namespace: str) -> None:
    created = await kube.create(CONFIGMAPS, configmap("cm", namespace, a="1"))
    assert created["metadata"]["resourceVersion"]
    merged = await kube.patch(CONFIGMAPS, "cm", {"data": {"b": "2"}}, namespace)
    assert merged["data"] == {"a": "1", "b": "2"}
    strategic = await kube.patch(
        CONFIGMAPS, "cm", {"metadata": {"labels": {"x": "y"}}}, namespace, content_type=STRATEGIC_MERGE_PATCH
    )
    assert strategic["metadata"]["labels"] == {"x": "y"}
    patched = await kube.patch(
        CONFIGMAPS, "cm", [{"op": "remove", "path": "/data/a"}], namespace, content_type=JSON_PATCH
    )
    assert patched["data"] == {"b": "2"}
    patched["data"]["c"] = "3"
    replaced = await kube.replace(CONFIGMAPS, patched)
    assert replaced["data"] == {"b": "2", "c": "3"}
    await kube.delete(CONFIGMAPS, "cm", namespace)
    with pytest.raises(ApiError) as gone:
        await kube.get(CONFIGMAPS, "cm", namespace)
    assert gone.value.is_not_found
    assert gone.value.reason == "NotFound"


async def test_delete_with_stale_precondition_is_a_conflict(kube: KubeClient, namespace: str) -> None:
    created = await kube.create(CONFIGMAPS, configmap("cm", namespace))
    await kube.patch(CONFIGMAPS, "cm", {"data": {"v": "2"}}, namespace)
    with pytest.raises(ApiError) as conflict:
        await kube.delete(
            CONFIGMAPS, "cm", namespace, resource_version=created["metadata"]["resourceVersion"]
        )
    assert conflict.value.is_conflict


async def test_list_all_follows_continue_tokens(kube: KubeClient, namespace: str) -> None:
    await asyncio.gather(*(kube.create(CONFIGMAPS, configmap(f"cm-{i:02d}", namespace)) for i in range(25)))
    first_page = await kube.list(CONFIGMAPS, namespace, limit=10)
    assert len(first_page["items"]) == 10
    assert first_page["metadata"]["continue"]
    items, resource_version = await kube.list_all(CONFIGMAPS, namespace, page_size=10)
    names = sorted(i["metadata"]["name"] for i in items if i["metadata"]["name"].startswith("cm-"))
    assert names == [f"cm-{i:02d}" for i in range(25)]
    assert int(resource_version) > 0


async def test_requests_are_counted_under_client_go_metric_names(kube: KubeClient, namespace: str) -> None:
    host = kube.transport.host
    ok_before = metric("rest_client_requests_total", {"code": "201", "method": "POST", "host": host})
    missing_before = metric("rest_client_requests_total", {"code": "404", "method": "GET", "host": host})
    latency_before = metric("rest_client_request_duration_seconds_count", {"verb": "POST", "host": host})
    await kube.create(CONFIGMAPS, configmap("counted", namespace))
    with pytest.raises(ApiError):
        await kube.get(CONFIGMAPS, "absent", namespace)
    assert (
        metric("rest_client_requests_total", {"code": "201", "method": "POST", "host": host}) == ok_before + 1
    )
    assert (
        metric("rest_client_requests_total", {"code": "404", "method": "GET", "host": host})
        == missing_before + 1
    )
    assert (
        metric("rest_client_request_duration_seconds_count", {"verb": "POST", "host": host})
        == latency_before + 1
    )


async def test_client_side_rate_limit_spaces_requests(control_plane: ControlPlane, namespace: str) -> None:
    settings = ClientSettings(qps=20, burst=2)
    async with await control_plane.client(settings) as slow:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.gather(*(slow.list(CONFIGMAPS, namespace) for _ in range(12)))
        elapsed = loop.time() - started
        # 2 from the burst, then 10 more at 20/s: at least 0.5 s.
        assert elapsed >= 0.45
        waited = metric(
            "rest_client_rate_limiter_duration_seconds_sum", {"verb": "GET", "host": slow.transport.host}
        )
        assert waited > 0


async def test_throttled_identity_backs_off_on_429_and_finishes(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """APF rejects the identity's excess requests with 429 + Retry-After; every request still completes."""
    identity = await control_plane.mint_identity(namespace, "throttled")
    await kube.create(
        ROLES,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "list-configmaps", "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        },
    )
    await kube.create(
        ROLEBINDINGS,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "throttled-lists", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "list-configmaps"},
            "subjects": [{"kind": "ServiceAccount", "name": "throttled", "namespace": namespace}],
        },
    )
    level = await kube.create(
        PRIORITY_LEVELS,
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "PriorityLevelConfiguration",
            "metadata": {"name": f"tight-{namespace}"},
            "spec": {
                "type": "Limited",
                "limited": {
                    "nominalConcurrencyShares": 1,
                    "lendablePercent": 0,
                    "borrowingLimitPercent": 0,
                    "limitResponse": {"type": "Reject"},
                },
            },
        },
    )
    await kube.create(
        FLOWSCHEMAS,
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": f"tight-{namespace}"},
            "spec": {
                "priorityLevelConfiguration": {"name": f"tight-{namespace}"},
                "matchingPrecedence": 500,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [
                    {
                        "subjects": [
                            {
                                "kind": "ServiceAccount",
                                "serviceAccount": {"name": "throttled", "namespace": namespace},
                            }
                        ],
                        "resourceRules": [
                            {
                                "verbs": ["*"],
                                "apiGroups": ["*"],
                                "resources": ["*"],
                                "namespaces": ["*"],
                                "clusterScope": True,
                            }
                        ],
                    }
                ],
            },
        },
    )
    await asyncio.gather(
        *(kube.create(CONFIGMAPS, configmap(f"bulk-{i:03d}", namespace, blob="x" * 2000)) for i in range(300))
    )
    settings = ClientSettings(qps=0, max_retries=40)  # no client-side limit: let the server push back
    try:
        async with await control_plane.client(settings, kubeconfig=identity.kubeconfig) as throttled:
            host = throttled.transport.host
            level_uid = level["metadata"]["uid"]
            for _ in range(300):  # the APF configuration takes effect within a moment
                resp = await throttled.open("GET", CONFIGMAPS.path(namespace), query={"limit": 1})
                classified = resp.headers.get("X-Kubernetes-PF-PriorityLevel-UID") == level_uid
                resp.release()
                if classified:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the FlowSchema never classified the identity's requests")

            rejected_before = metric(
                "rest_client_requests_total", {"code": "429", "method": "GET", "host": host}
            )
            retries_before = metric(
                "rest_client_request_retries_total", {"code": "429", "verb": "GET", "host": host}
            )
            # Far more concurrent lists than the level's few seats: most are rejected at first.
            results = await asyncio.gather(*(throttled.list(CONFIGMAPS, namespace) for _ in range(20)))
            assert all(len(r["items"]) == 300 for r in results)
            rejected = metric("rest_client_requests_total", {"code": "429", "method": "GET", "host": host})
            retries = metric(
                "rest_client_request_retries_total", {"code": "429", "verb": "GET", "host": host}
            )
            assert rejected > rejected_before, "no request was throttled: the priority level had room"
            assert retries - retries_before == rejected - rejected_before
    finally:
        await kube.delete(FLOWSCHEMAS, f"tight-{namespace}")
        await kube.delete(PRIORITY_LEVELS, f"tight-{namespace}")


SELF_SUBJECT_REVIEWS = Resource(
    "authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", namespaced=False
)


def inline(path: str) -> str:
    """A file's content as a kubeconfig ``*-data`` field."""
    return base64.b64encode(Path(path).read_bytes()).decode()


async def who_am_i(kubeconfig: Path) -> dict[str, Any]:
    async with await connect(str(kubeconfig)) as kube:
        review = await kube.create(
            SELF_SUBJECT_REVIEWS, {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        )
    user_info: dict[str, Any] = review["status"]["userInfo"]
    return user_info


async def test_credentials_the_api_server_accepts(control_plane: ControlPlane, tmp_path: Path) -> None:
    """Each way a kubeconfig names a user authenticates for real: an exec plugin's token,
    embedded certificate data, a token file, and impersonation on top of an admin certificate."""
    identity = await control_plane.mint_identity("auth-ways", "robot")
    admin = yaml.safe_load(control_plane.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    admin_user = admin["users"][0]["user"]

    def kubeconfig(name: str, user: dict[str, Any]) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "x",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        }))  # fmt: skip
        return path

    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, sys\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        f" 'status': {{'token': {identity.token!r}}}}}))\n"
    )
    robot = "system:serviceaccount:auth-ways:robot"
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                          "args": [str(plugin)]}}  # fmt: skip
    assert (await who_am_i(kubeconfig("exec", exec_user)))["username"] == robot

    token_file = tmp_path / "token"
    token_file.write_text(identity.token)
    assert (await who_am_i(kubeconfig("file", {"tokenFile": str(token_file)})))["username"] == robot

    embedded = {
        "client-certificate-data": inline(admin_user["client-certificate"]),
        "client-key-data": inline(admin_user["client-key"]),
    }
    assert (await who_am_i(kubeconfig("embedded", embedded)))["username"] == "sparkfleet-admin"

    impersonating = {**embedded, "as": "alice", "as-groups": ["team-a", "team-b"]}
    alice = await who_am_i(kubeconfig("as", impersonating))
    assert alice["username"] == "alice"
    assert {"team-a", "team-b"} <= set(alice["groups"])
