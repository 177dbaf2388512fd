"""The in-memory fake of the client answers as the API server would, and records every request."""

from __future__ import annotations

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import ApiError
from sparkfleet.kube.resources import PODS
from sparkfleet.testing.fake_client import FakeKubeClient, Request, matches_labels, merge_patch


def _pod(name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    return {"metadata": {"name": name, "namespace": "ns", "labels": labels or {}}, "spec": {}}


async def test_create_assigns_server_fields_and_refuses_a_second_of_the_name() -> None:
    client = FakeKubeClient(clock=lambda: 0.0)
    created = await client.create(PODS, _pod("a"))
    meta = created["metadata"]
    assert meta["uid"]
    assert meta["resourceVersion"]
    assert meta["creationTimestamp"] == "1970-01-01T00:00:00Z"
    assert created["apiVersion"] == "v1"
    assert created["kind"] == "Pod"
    with pytest.raises(ApiError) as caught:
        await client.create(PODS, _pod("a"))
    assert caught.value.is_conflict
    assert caught.value.reason == "AlreadyExists"
    assert caught.value.body["details"]["name"] == "a"


async def test_get_of_a_missing_object_is_404_not_found() -> None:
    client = FakeKubeClient()
    with pytest.raises(ApiError) as caught:
        await client.get(PODS, "missing", "ns")
    assert caught.value.is_not_found
    assert caught.value.reason == "NotFound"
    assert caught.value.message == 'pods "missing" not found'


async def test_replace_is_a_compare_and_swap_on_resource_version() -> None:
    client = FakeKubeClient()
    created = await client.create(PODS, _pod("a"))
    created["metadata"]["labels"] = {"x": "1"}
    updated = await client.replace(PODS, created)
    assert updated["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(ApiError) as caught:
        await client.replace(PODS, created)  # the older resourceVersion
    assert caught.value.is_conflict
    assert caught.value.reason == "Conflict"


async def test_status_writes_change_the_status_only_and_replace_keeps_it() -> None:
    client = FakeKubeClient()
    app = client.add(SPARK_APPLICATIONS, {"metadata": {"name": "app", "namespace": "ns"}, "spec": {"a": 1}})
    await client.put_status(SPARK_APPLICATIONS, {**app, "spec": {"a": 2}, "status": {"s": "x"}})
    stored = client.object(SPARK_APPLICATIONS, "app", "ns")
    assert stored is not None
    assert stored["spec"] == {"a": 1}
    assert stored["status"] == {"s": "x"}
    await client.replace(SPARK_APPLICATIONS, {**stored, "spec": {"a": 3}, "status": {}})
    again = client.object(SPARK_APPLICATIONS, "app", "ns")
    assert again is not None
    assert again["spec"] == {"a": 3}
    assert again["status"] == {"s": "x"}
    with pytest.raises(ApiError) as caught:
        await client.put_status(SPARK_APPLICATIONS, {**app, "status": {}})  # stale
    assert caught.value.is_conflict
    assert client.requests[0] == Request("update", "sparkapplications/status", "ns/app")


async def test_delete_checks_its_preconditions() -> None:
    client = FakeKubeClient()
    created = await client.create(PODS, _pod("a"))
    with pytest.raises(ApiError) as caught:
        await client.delete(PODS, "a", "ns", uid="another")
    assert caught.value.is_conflict
    assert caught.value.message.startswith("Precondition failed: UID")
    with pytest.raises(ApiError):
        await client.delete(PODS, "a", "ns", resource_version="0")
    await client.delete(PODS, "a", "ns", uid=created["metadata"]["uid"])
    assert client.object(PODS, "a", "ns") is None
    with pytest.raises(ApiError) as gone:
        await client.delete(PODS, "a", "ns")
    assert gone.value.is_not_found


async def test_an_object_with_finalizers_is_marked_deleted_until_they_go() -> None:
    client = FakeKubeClient(clock=lambda: 60.0)
    client.add(PODS, {"metadata": {"name": "a", "namespace": "ns", "finalizers": ["f"]}})
    await client.delete(PODS, "a", "ns")
    marked = client.object(PODS, "a", "ns")
    assert marked is not None
    assert marked["metadata"]["deletionTimestamp"] == "1970-01-01T00:01:00Z"
    await client.patch(PODS, "a", {"metadata": {"finalizers": None}}, "ns")
    assert client.object(PODS, "a", "ns") is None


async def test_list_selects_by_namespace_labels_and_fields() -> None:
    client = FakeKubeClient()
    client.add(PODS, _pod("a", {"role": "driver", "app": "x"}))
    client.add(PODS, _pod("b", {"role": "executor", "app": "x"}))
    client.add(PODS, {"metadata": {"name": "c", "namespace": "other", "labels": {"role": "driver"}}})
    items, version = await client.list_all(PODS, "ns", label_selector="app=x,role!=executor")
    assert [p["metadata"]["name"] for p in items] == ["a"]
    assert version
    everywhere = await client.list(PODS, label_selector="role==driver")
    assert sorted(p["metadata"]["name"] for p in everywhere["items"]) == ["a", "c"]
    named = await client.list(PODS, field_selector="metadata.name=b")
    assert [p["metadata"]["name"] for p in named["items"]] == ["b"]
    assert client.count("list", PODS) == 3
    assert client.count() == 3


async def test_merge_patch_and_recorded_failures() -> None:
    client = FakeKubeClient()
    client.add(PODS, _pod("a", {"keep": "1", "drop": "2"}))
    patched = await client.patch(PODS, "a", {"metadata": {"labels": {"drop": None, "new": "3"}}}, "ns")
    assert patched["metadata"]["labels"] == {"keep": "1", "new": "3"}
    client.fail("create", PODS, ApiError(403, "Forbidden", "no"))
    with pytest.raises(ApiError) as caught:
        await client.create(PODS, _pod("b"))
    assert caught.value.is_forbidden
    await client.create(PODS, _pod("b"))  # once only
    assert client.count("create", PODS) == 2


def test_label_selector_terms() -> None:
    assert matches_labels({"a": "1"}, "a")
    assert not matches_labels({"a": "1"}, "!a")
    assert matches_labels({}, "!a,b!=2")
    assert not matches_labels({"a": "1"}, "a=2")
    assert matches_labels({"a": "1"}, "")


def test_merge_patch_follows_rfc_7386() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None}, "d": [1]}) == {"a": {"c": 2}, "d": [1]}
    assert merge_patch({"a": 1}, [1]) == [1]
