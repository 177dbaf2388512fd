"""The informer's cache and its label index: what ``list_labelled`` returns follows every put and
removal, including a label changed, dropped or given to another namespace's object."""

from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.kube.store import Store

APP = "sparkoperator.k8s.io/app-name"


def pod(name: str, namespace: str = "a", app: str | None = "pi", **labels: str) -> dict[str, Any]:
    if app is not None:
        labels[APP] = app
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}}


def names(objects: list[dict[str, Any]]) -> list[str]:
    return sorted(o["metadata"]["name"] for o in objects)


def test_objects_are_found_by_their_label_value_within_their_namespace() -> None:
    store = Store(APP)
    store.put(pod("pi-driver"))
    store.put(pod("pi-exec-1"))
    store.put(pod("other-driver", app="other"))
    store.put(pod("pi-driver", namespace="b"))
    store.put(pod("unlabelled", app=None))
    assert names(store.list_labelled("a", "pi")) == ["pi-driver", "pi-exec-1"]
    assert names(store.list_labelled("b", "pi")) == ["pi-driver"]
    assert names(store.list_labelled("a", "other")) == ["other-driver"]
    assert store.list_labelled("c", "pi") == []


def test_a_changed_or_dropped_label_moves_the_object_in_the_index() -> None:
    store = Store(APP)
    store.put(pod("p"))
    store.put(pod("p", app="renamed"))
    assert store.list_labelled("a", "pi") == []
    assert names(store.list_labelled("a", "renamed")) == ["p"]
    store.put(pod("p", app=None))
    assert store.list_labelled("a", "renamed") == []
    store.put(pod("p"))
    assert names(store.list_labelled("a", "pi")) == ["p"]


def test_a_removed_object_leaves_the_index_and_the_latest_copy_is_returned() -> None:
    store = Store(APP)
    store.put(pod("p", phase="Pending"))
    store.put(pod("p", phase="Running"))
    assert [o["metadata"]["labels"]["phase"] for o in store.list_labelled("a", "pi")] == ["Running"]
    store.remove("a/p")
    assert store.list_labelled("a", "pi") == []
    assert store.remove("a/p") is None  # twice: nothing to undo


def test_a_store_without_an_index_refuses_to_be_asked_by_label() -> None:
    store = Store()
    store.put(pod("p"))
    with pytest.raises(ValueError, match="indexes no label"):
        store.list_labelled("a", "pi")
