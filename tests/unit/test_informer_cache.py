"""The shared informer cache, the scope index and client-side label filtering (no cluster: events
are fed to the informers by hand)."""

from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube.informer import InformerEvent
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.labels import selector_matcher
from sparkfleet.kube.resources import PODS
from sparkfleet.kube.scope import Scope, Watch
from sparkfleet.operator.cache import InformerCache, InformerSpec
from sparkfleet.operator.controller import Result
from sparkfleet.operator.scoped import ScopedController, Secondary
from sparkfleet.operator.scopes import ScopedInformers

RUN_LABEL = "sparkoperator.k8s.io/scheduled-app-name"


def app(name: str, rv: str = "1", namespace: str = "ns", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "resourceVersion": rv, "labels": labels}}


def cache() -> InformerCache:
    return InformerCache(None)  # type: ignore[arg-type]  # informers fed by hand, never started


async def nothing(_key: NamespacedName) -> Result | None:
    return None


def test_one_informer_per_spec_held_until_the_last_release() -> None:
    informers = cache()
    spec = InformerSpec(SPARK_APPLICATIONS, Watch(namespace="ns"))
    first, second = informers.acquire(spec), informers.acquire(spec)
    assert first is second
    assert informers.holders(first) == 2
    assert informers.acquire(InformerSpec(SPARK_APPLICATIONS, Watch(namespace="other"))) is not first
    assert informers.acquire(InformerSpec(SPARK_APPLICATIONS, Watch(namespace="ns"), dict)) is not first
    assert informers.release(first) is False
    assert informers.release(first) is True  # the last holder stops it
    assert informers.acquire(spec) is not first  # a fresh one after that


def test_the_index_follows_the_events() -> None:
    view = ScopedInformers(cache(), SPARK_APPLICATIONS, indexed=True)
    (a,) = view.add(Scope.namespaces("a", ["ns"]))
    (b,) = view.add(Scope.namespaces("b", ["other"]))
    a.replace([app("one"), app("two")], "1")
    b.apply({"type": "ADDED", "object": app("three", namespace="other")})
    assert view.scope_of(NamespacedName("ns", "one")) == "a"
    assert view.scope_of(NamespacedName("other", "three")) == "b"
    assert view.scope_of(NamespacedName("ns", "three")) is None
    assert view.count("a") == 2
    assert view.keys("a") == [NamespacedName("ns", "one"), NamespacedName("ns", "two")]
    a.apply({"type": "DELETED", "object": app("one", "2")})
    assert view.scope_of(NamespacedName("ns", "one")) is None
    assert view.count("a") == 1
    a.replace([app("four")], "3")  # a re-list: two gone, four new
    assert view.keys("a") == [NamespacedName("ns", "four")]
    assert view.remove("a") == [a]
    assert view.scope_of(NamespacedName("ns", "four")) is None
    assert view.count("a") == 0
    a.apply({"type": "ADDED", "object": app("five")})  # its handlers are detached
    assert view.scope_of(NamespacedName("ns", "five")) is None


def test_an_object_held_by_two_scopes_keeps_its_scope_until_both_let_go() -> None:
    view = ScopedInformers(cache(), SPARK_APPLICATIONS, indexed=True)
    (gold,) = view.add(Scope("gold", (Watch(label_selector="tier=gold"),)))
    (silver,) = view.add(Scope("silver", (Watch(label_selector="tier=silver"),)))
    gold.replace([app("moving", tier="gold")], "1")
    silver.apply({"type": "ADDED", "object": app("moving", "2", tier="silver")})  # its new scope hears first
    gold.apply({"type": "DELETED", "object": app("moving", "2", tier="silver")})
    assert view.scope_of(NamespacedName("ns", "moving")) == "silver"


def test_a_client_side_view_reads_only_what_it_accepts() -> None:
    informers = cache()
    apps = ScopedInformers(informers, SPARK_APPLICATIONS, indexed=True)
    runs = ScopedInformers(informers, SPARK_APPLICATIONS, accepts=selector_matcher(RUN_LABEL), indexed=True)
    scope = Scope.namespaces("a", ["ns"])
    (shared,) = apps.add(scope)
    assert runs.add(scope) == [shared]  # one watch for both
    shared.replace([app("plain"), app("nightly-1", **{RUN_LABEL: "nightly"})], "1")
    assert sorted(o["metadata"]["name"] for o in apps.list("ns")) == ["nightly-1", "plain"]
    assert [o["metadata"]["name"] for o in runs.list("ns")] == ["nightly-1"]
    assert runs.get("ns/plain") is None
    assert runs.get(NamespacedName("ns", "nightly-1")) is not None
    assert runs.count("a") == 1
    shared.apply({"type": "MODIFIED", "object": app("nightly-1", "2")})  # its label was removed
    assert runs.count("a") == 0
    assert apps.count("a") == 2


def test_a_handler_added_late_hears_the_cache_as_a_replay() -> None:
    informer = cache().acquire(InformerSpec(PODS, Watch(namespace="ns")))
    informer.replace([app("pod")], "1")
    heard: list[InformerEvent] = []
    hear = heard.append
    informer.add_handler(hear)
    assert [(e.key, e.replay) for e in heard] == [("ns/pod", True)]
    informer.remove_handler(hear)
    informer.apply({"type": "ADDED", "object": app("later")})
    assert len(heard) == 1


async def test_two_controllers_share_one_watch_and_each_its_own_keys() -> None:
    informers = cache()
    applications = ScopedController(
        None,  # type: ignore[arg-type]
        "apps",
        nothing,
        SPARK_APPLICATIONS,
        transform=None,  # as the runs': one transform, one informer
        informers=informers,
    )
    scheduled = ScopedController(
        None,  # type: ignore[arg-type]
        "schedules",
        nothing,
        PODS,  # standing in for ScheduledSparkApplications
        secondaries=(
            Secondary(
                SPARK_APPLICATIONS, RUN_LABEL, lambda e: [NamespacedName("ns", "nightly")], client_side=True
            ),
        ),
        informers=informers,
    )
    scope = Scope.namespaces("a", ["ns"])
    (shared,) = applications._register(scope)
    _, runs = scheduled._register(scope)
    assert runs is shared
    applications._open.add("a")
    scheduled._open.add("a")
    shared.replace([app("plain"), app("nightly-1", **{RUN_LABEL: "nightly"})], "1")
    assert applications.controller.queue.count(lambda _: True) == 2
    assert scheduled.controller.queue.count(lambda _: True) == 1  # the run only, mapped to its schedule
    assert applications._forget("a") == []  # still held by the scheduled controller: not stopped
    shared.apply({"type": "ADDED", "object": app("third")})
    assert applications.controller.queue.count(lambda _: True) == 2  # its handlers are gone
    assert shared in scheduled._forget("a")  # the last holder: for it to stop


def test_sharing_a_cache_after_informers_are_held_is_refused() -> None:
    controller = ScopedController(None, "apps", nothing, SPARK_APPLICATIONS)  # type: ignore[arg-type]
    controller._register(Scope.namespaces("a", ["ns"]))
    with pytest.raises(RuntimeError):
        controller.share_informers(cache())


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("a", {"a": "1"}, True),
        ("a", {}, False),
        ("!a", {}, True),
        ("a=1", {"a": "1"}, True),
        ("a==1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a in (1, 2)", {"a": "2"}, True),
        ("a notin (1,2)", {"a": "2"}, False),
        ("a,b=x", {"a": "1", "b": "x"}, True),
        ("a,b=x", {"a": "1"}, False),
        ("n>3", {"n": "4"}, True),
        ("n<3", {"n": "x"}, False),
    ],
)
def test_label_selectors_on_the_client(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert selector_matcher(selector)({"metadata": {"labels": labels}}) is matches


def test_reads_follow_the_scopes_as_they_come_and_go() -> None:
    view = ScopedInformers(cache(), SPARK_APPLICATIONS)
    (a,) = view.add(Scope.namespaces("a", ["ns"]))
    a.replace([app("one")], "1")
    assert view.get("ns/one") is not None
    assert view.list("other") == []
    (everything,) = view.add(Scope.cluster("all"))
    everything.replace([app("two", namespace="other")], "1")
    assert [o["metadata"]["name"] for o in view.list("other")] == ["two"]
    view.remove("a")
    assert view.get("ns/one") is None
    assert view.list("ns") == []
