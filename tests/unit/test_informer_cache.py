"""The informer's cache logic (events in, store and handler calls out), without a cluster."""

from __future__ import annotations

from typing import Any, cast

import pytest

from sparkfleet.kube import EventType, Informer, InformerEvent, KubeClient
from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.informer import Backoff, _Relist
from sparkfleet.kube.resources import CONFIGMAPS
from sparkfleet.kube.store import Store


def obj(name: str, rv: str, namespace: str = "ns", **data: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": rv}, "data": data}


def informer() -> tuple[Informer, list[InformerEvent]]:
    inf = Informer(cast(KubeClient, None), CONFIGMAPS, namespace="ns")
    seen: list[InformerEvent] = []
    inf.add_handler(seen.append)
    return inf, seen


def test_first_list_adds_everything_and_marks_synced() -> None:
    inf, seen = informer()
    assert not inf.has_synced
    inf.replace([obj("a", "1"), obj("b", "2")], "2")
    assert inf.has_synced
    assert inf.resource_version == "2"
    assert [(e.type, e.key) for e in seen] == [(EventType.ADDED, "ns/a"), (EventType.ADDED, "ns/b")]


def test_relist_reports_only_differences_including_deletions() -> None:
    inf, seen = informer()
    inf.replace([obj("a", "1"), obj("b", "2"), obj("c", "3")], "3")
    seen.clear()
    inf.replace([obj("a", "1"), obj("b", "9"), obj("d", "10")], "10")
    assert sorted((e.type, e.key) for e in seen) == [
        (EventType.ADDED, "ns/d"),
        (EventType.DELETED, "ns/c"),
        (EventType.MODIFIED, "ns/b"),
    ]
    modified = next(e for e in seen if e.type is EventType.MODIFIED)
    assert modified.old is not None
    assert modified.old["metadata"]["resourceVersion"] == "2"
    assert sorted(inf.store.list_keys()) == ["ns/a", "ns/b", "ns/d"]


def test_watch_events_update_cache_and_resource_version() -> None:
    inf, seen = informer()
    inf.replace([], "5")
    inf.apply({"type": "ADDED", "object": obj("a", "6")})
    inf.apply({"type": "MODIFIED", "object": obj("a", "7", k="v")})
    inf.apply({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "8"}}})
    assert inf.resource_version == "8"
    cached = inf.store.get("ns/a")
    assert cached is not None
    assert cached["data"] == {"k": "v"}
    inf.apply({"type": "DELETED", "object": obj("a", "9")})
    assert "ns/a" not in inf.store
    assert inf.resource_version == "9"
    assert [e.type for e in seen] == [EventType.ADDED, EventType.MODIFIED, EventType.DELETED]
    assert seen[1].old is not None
    assert seen[1].old["metadata"]["resourceVersion"] == "6"


def test_error_410_event_asks_for_a_relist_and_other_errors_raise() -> None:
    inf, _ = informer()
    with pytest.raises(_Relist):
        inf.apply({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}})
    with pytest.raises(ApiError) as info:
        inf.apply({"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "boom"}})
    assert info.value.status == 500


def test_a_failing_handler_does_not_stop_the_others() -> None:
    inf, seen = informer()

    def broken(event: InformerEvent) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(broken)
    inf.add_handler(seen.append)
    inf.replace([obj("a", "1")], "1")
    assert len(seen) == 2  # the first handler and the last each saw ADDED


def test_late_handler_receives_the_cache_as_added() -> None:
    inf, _ = informer()
    inf.replace([obj("a", "1"), obj("b", "2")], "2")
    late: list[InformerEvent] = []
    inf.add_handler(late.append)
    assert sorted(e.key for e in late) == ["ns/a", "ns/b"]


def test_store_namespace_index() -> None:
    store = Store()
    store.put(obj("a", "1", namespace="x"))
    store.put(obj("b", "1", namespace="x"))
    store.put(obj("c", "1", namespace="y"))
    assert sorted(o["metadata"]["name"] for o in store.list("x")) == ["a", "b"]
    assert store.get_by_name("y", "c") is not None
    store.remove("y/c")
    assert store.list("y") == []
    assert sorted(store.namespaces()) == ["x"]
    assert store.remove("missing/key") is None


def test_backoff_grows_to_a_cap_with_bounded_jitter() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, factor=2.0, jitter=0.2)
    for failures, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)]:
        delay = backoff.delay(failures)
        assert base <= delay <= base * 1.2
