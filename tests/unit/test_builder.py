"""The controller builder: for_/owns/watches declarations make the scoped controller (no cluster:
events are fed to the informers by hand)."""

from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.kube.informer import InformerEvent
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import CONFIGMAPS, PODS
from sparkfleet.kube.scope import Scope
from sparkfleet.operator.builder import ControllerBuilder
from sparkfleet.operator.cache import InformerCache
from sparkfleet.operator.controller import Result


def obj(name: str, rv: str = "1", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv, "labels": labels}}


def owner_of(event: InformerEvent) -> list[NamespacedName]:
    owner = event.obj["metadata"]["labels"].get("app")
    return [NamespacedName("ns", owner)] if owner else []


async def nothing(_key: NamespacedName) -> Result | None:
    return None


def builder(cache: InformerCache | None = None) -> ControllerBuilder:
    built = ControllerBuilder(None, "built")  # type: ignore[arg-type]  # informers fed by hand
    return built.with_informers(cache) if cache is not None else built


async def test_owned_events_queue_their_owner_urgently_and_watched_ones_in_the_ordinary_lane() -> None:
    scoped = (
        builder()
        .for_(SPARK_APPLICATIONS)
        .owns(PODS, "launched=true", owner_of)
        .watches(CONFIGMAPS, owner_of)
        .with_options(concurrent_syncs=3)
        .complete(nothing)
    )
    assert scoped.controller.concurrent_syncs == 3
    apps, pods, config_maps = scoped._register(Scope.namespaces("a", ["ns"]))
    assert pods.label_selector == "launched=true"
    assert config_maps.label_selector is None
    scoped._open.add("a")
    apps.replace([obj("app-1"), obj("app-2"), obj("app-3")], "1")
    config_maps.apply({"type": "ADDED", "object": obj("conf", app="app-3")})
    pods.apply({"type": "ADDED", "object": obj("driver", app="app-2")})
    queue = scoped.controller.queue
    assert [await queue.get() for _ in range(3)] == [
        NamespacedName("ns", "app-2"),  # its pod's news first
        NamespacedName("ns", "app-1"),
        NamespacedName("ns", "app-3"),
    ]
    assert scoped.primary_keys("a") == [NamespacedName("ns", f"app-{i}") for i in (1, 2, 3)]


async def test_an_owned_event_may_be_held_back_and_its_cache_is_indexed_by_the_owner_label() -> None:
    held = {NamespacedName("ns", "app-1"): 0.5}
    scoped = (
        builder()
        .for_(SPARK_APPLICATIONS)
        .owns(PODS, None, owner_of, index_label="app", delay=lambda _event, key: held.get(key))
        .complete(nothing)
    )
    _, pods = scoped._register(Scope.namespaces("a", ["ns"]))
    scoped._open.add("a")
    pods.apply({"type": "ADDED", "object": obj("exec-1", app="app-1")})  # held: queued in 0.5 s
    pods.apply({"type": "ADDED", "object": obj("exec-2", app="app-2")})  # not held: now
    queue = scoped.controller.queue
    assert len(queue) == 1
    assert queue.delayed == 1
    assert await queue.get() == NamespacedName("ns", "app-2")
    by_owner = scoped.secondary(0)
    assert [p["metadata"]["name"] for p in by_owner.list_labelled("ns", "app-1")] == ["exec-1"]
    assert by_owner.list_labelled("other", "app-1") == []
    queue.shutdown()


def test_a_client_side_selector_shares_another_controllers_watch() -> None:
    cache = InformerCache(None)  # type: ignore[arg-type]
    view = dict.copy  # one transform object for both
    apps = builder(cache).for_(SPARK_APPLICATIONS, transform=view).complete(nothing)
    schedules = (
        builder(cache)
        .for_(SCHEDULED_SPARK_APPLICATIONS)
        .owns(SPARK_APPLICATIONS, "scheduled", owner_of, transform=view, client_side=True)
        .complete(nothing)
    )
    scope = Scope.namespaces("a", ["ns"])
    (shared,) = apps._register(scope)
    _, runs = schedules._register(scope)
    assert runs is shared
    assert cache.watches == 2  # SparkApplications once, ScheduledSparkApplications once


def test_a_server_side_selector_is_a_watch_of_its_own() -> None:
    cache = InformerCache(None)  # type: ignore[arg-type]
    apps = builder(cache).for_(SPARK_APPLICATIONS, transform=None).complete(nothing)
    schedules = (
        builder(cache)
        .for_(SCHEDULED_SPARK_APPLICATIONS)
        .owns(SPARK_APPLICATIONS, "scheduled", owner_of)
        .complete(nothing)
    )
    scope = Scope.namespaces("a", ["ns"])
    (app_watch,) = apps._register(scope)
    _, runs = schedules._register(scope)
    assert runs is not app_watch
    assert runs.label_selector == "scheduled"


def test_for_is_declared_once_and_first() -> None:
    with pytest.raises(ValueError, match="for_"):
        builder().complete(nothing)
    with pytest.raises(ValueError, match="once"):
        builder().for_(SPARK_APPLICATIONS).for_(PODS)
