"""An application and its pods are one unit: the routing labels its pods must carry, how rendering
enforces them, which pods its holder claims, and how a scope's controller treats an object that
moves in or out by its labels."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import orjson
import pytest
import yaml

from sparkfleet.api import SPARK_APPLICATIONS, SparkApplication
from sparkfleet.api.fleet import SparkFleetSpec
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.scope import Scope, Watch, selector_keys, unsharded_scopes
from sparkfleet.operator.controller import Result
from sparkfleet.operator.scoped import ScopedController
from sparkfleet.operator.spark import naming, routing
from sparkfleet.operator.spark.submission import parse_properties, render
from sparkfleet.sharding.shards import compile_shards
from tests.examples import manifests

SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
APP_UID = "11111111-2222-3333-4444-555555555555"
DRIVER_UID = "dddddddd-2222-3333-4444-555555555555"

# -- the keys a scope routes by --------------------------------------------------------------


def test_selector_keys_are_every_key_a_requirement_names() -> None:
    assert selector_keys("a=b,c in (d,e),!f,g,h notin (x),i!=j,k>3") == {"a", "c", "f", "g", "h", "i", "k"}


def test_selector_keys_refuse_what_is_not_a_selector() -> None:
    with pytest.raises(ValueError, match="'=b' is not a requirement"):
        selector_keys("a,=b")


def fleet_scopes(spec: dict[str, Any]) -> dict[str, Scope]:
    defs, problems = compile_shards(SparkFleetSpec.model_validate(spec))
    assert not problems
    return {d.name: d.scope for d in defs}


def test_a_values_fleet_routes_by_its_routing_label_catch_all_included() -> None:
    scopes = fleet_scopes({
        "routingLabel": "example.com/tier",
        "shards": [{"name": "gold", "values": ["gold"]}, {"name": "rest", "catchAll": True}],
    })  # fmt: skip
    assert {name: s.routing_keys for name, s in scopes.items()} == {
        "gold": {"example.com/tier"},
        "rest": {"example.com/tier"},
    }


def test_a_label_selector_fleet_routes_by_every_key_of_its_selectors() -> None:
    scopes = fleet_scopes({
        "shards": [
            {"name": "a", "labelSelector": {"matchLabels": {"team": "a", "env": "prod"}}},
            {"name": "b", "labelSelector": {"matchLabels": {"team": "b"}}},
        ]
    })  # fmt: skip
    assert scopes["a"].routing_keys == {"team", "env"}
    assert scopes["b"].routing_keys == {"team"}


def test_namespace_scopes_route_by_no_label() -> None:
    scopes = fleet_scopes({
        "shards": [{"name": "a", "namespaces": ["a1", "a2"]}, {"name": "rest", "catchAll": True}],
    })  # fmt: skip
    assert all(not s.routing_keys for s in scopes.values())
    assert unsharded_scopes(["x"])[0].routing_keys == frozenset()
    assert unsharded_scopes(None, "env=prod")[0].routing_keys == {"env"}  # --label-selector-filter


# -- the routing pods must carry --------------------------------------------------------------


def test_routing_is_the_applications_value_or_absent() -> None:
    assert routing.routing_of({"tier": "gold", "x": "y"}, {"tier", "zone"}) == {"tier": "gold", "zone": None}
    assert routing.routing_of(None, {"tier"}) == {"tier": None}


def test_enforce_sets_the_applications_values_and_removes_what_it_lacks() -> None:
    labels = {"tier": "silver", "zone": "eu", "keep": "me"}
    assert routing.enforce(labels, {"tier": "gold", "zone": None}) == {"tier": "gold", "keep": "me"}
    assert labels == {"tier": "silver", "zone": "eu", "keep": "me"}  # not mutated


def test_agrees() -> None:
    want: routing.Routing = {"tier": "gold", "zone": None}
    assert routing.agrees({"tier": "gold", "other": "x"}, want)
    assert not routing.agrees({"tier": "gold", "zone": "eu"}, want)
    assert not routing.agrees({"tier": "silver"}, want)
    assert not routing.agrees(None, want)
    assert routing.agrees(None, {})


# -- rendering enforces it --------------------------------------------------------------------


def app_of(labels: dict[str, str] | None, **spec: Any) -> SparkApplication:
    manifest = copy.deepcopy(manifests.spark_pi(namespace="team-a"))
    manifest["metadata"]["uid"] = APP_UID
    if labels is not None:
        manifest["metadata"]["labels"] = labels
    for path, value in spec.items():
        target = manifest["spec"]
        *parents, last = path.split("__")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return SparkApplication.model_validate(manifest)


def executor_side(sub: Any) -> tuple[dict[str, str], dict[str, str]]:
    """The executor labels Spark is told (properties) and the executor template's labels."""
    props = parse_properties(sub.config_map["data"]["spark.properties"])
    prefix = "spark.kubernetes.executor.label."
    template = yaml.safe_load(sub.config_map["data"]["pod-spec-template.yml"])
    return {k.removeprefix(prefix): v for k, v in props.items() if k.startswith(prefix)}, template[
        "metadata"
    ]["labels"]


def test_the_applications_routing_value_wins_over_every_pod_label() -> None:
    template = {"metadata": {"labels": {"tier": "from-template"}}}
    app = app_of(
        {"tier": "gold"},
        driver__labels={"tier": "silver", "version": "3.5.5"},
        driver__template=template,
        executor__labels={"tier": "bronze"},
        executor__template=template,
        sparkConf={"spark.kubernetes.executor.label.tier": "copper"},
    )
    sub = render(app, SID, routing_keys={"tier"})
    assert sub.driver_pod["metadata"]["labels"]["tier"] == "gold"
    assert sub.driver_pod["metadata"]["labels"]["version"] == "3.5.5"  # other labels as the user set them
    told, templated = executor_side(sub)
    assert told["tier"] == "gold"
    assert templated["tier"] == "gold"
    recorded = sub.driver_pod["metadata"]["annotations"][routing.ANNOTATION_ROUTING]
    assert orjson.loads(recorded) == {"tier": "gold"}


def test_a_routing_label_the_application_lacks_is_left_off_its_pods() -> None:
    template = {"metadata": {"labels": {"tier": "from-template"}}}
    app = app_of(
        None,
        driver__labels={"tier": "silver"},
        driver__template=template,
        executor__labels={"tier": "bronze"},
        executor__template=template,
        sparkConf={"spark.kubernetes.executor.label.tier": "copper"},
    )
    sub = render(app, SID, routing_keys={"tier"})
    assert "tier" not in sub.driver_pod["metadata"]["labels"]
    told, templated = executor_side(sub)
    assert "tier" not in told
    assert "tier" not in templated
    assert orjson.loads(sub.driver_pod["metadata"]["annotations"][routing.ANNOTATION_ROUTING]) == {
        "tier": None
    }


def test_without_routing_keys_the_pods_own_labels_win_as_in_the_spark_operator() -> None:
    app = app_of({"tier": "gold"}, driver__labels={"tier": "silver"}, executor__labels={"tier": "bronze"})
    sub = render(app, SID)
    assert sub.driver_pod["metadata"]["labels"]["tier"] == "silver"
    assert executor_side(sub)[0]["tier"] == "bronze"
    assert routing.ANNOTATION_ROUTING not in sub.driver_pod["metadata"]["annotations"]


def test_routing_does_not_change_the_spec_hash() -> None:
    a = render(app_of({"tier": "gold"}), SID, routing_keys={"tier"})
    b = render(app_of({"tier": "silver"}), SID, routing_keys={"tier"})
    hash_key = naming.ANNOTATION_SPEC_HASH
    assert (
        a.driver_pod["metadata"]["annotations"][hash_key] == b.driver_pod["metadata"]["annotations"][hash_key]
    )


# -- which pods the holder claims ------------------------------------------------------------


def pod(
    name: str,
    role: str,
    owner: str,
    labels: dict[str, str] | None = None,
    *,
    uid: str = "",
    deleting: bool = False,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "uid": uid or f"uid-{name}",
        "labels": {naming.LABEL_SPARK_ROLE: role, **(labels or {})},
        "ownerReferences": [{"uid": owner}],
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "status": {"phase": "Running"}}


def names(pods: list[dict[str, Any]]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods)


def test_an_application_owns_its_driver_by_uid_and_its_executors_through_the_driver() -> None:
    pods = [
        pod("driver", "driver", APP_UID, uid=DRIVER_UID),
        pod("exec-1", "executor", DRIVER_UID),
        pod("foreign-driver", "driver", "someone-else", uid="other-driver"),
        pod("foreign-exec", "executor", "other-driver"),
    ]
    assert names(routing.owned(pods, APP_UID)) == ["driver", "exec-1"]
    assert routing.owned(pods, None) == []


def test_strays_are_the_applications_own_live_pods_that_disagree() -> None:
    want: routing.Routing = {"tier": "silver"}
    pods = [
        pod("driver", "driver", APP_UID, {"tier": "gold"}, uid=DRIVER_UID),
        pod("exec-1", "executor", DRIVER_UID, {"tier": "gold"}),
        pod("exec-2", "executor", DRIVER_UID, {"tier": "silver"}),  # agrees already
        pod("exec-3", "executor", DRIVER_UID, {"tier": "gold"}, deleting=True),  # on its way out
        pod("intruder", "executor", "other-driver", {"tier": "gold"}),  # not the application's
    ]
    assert names(routing.strays(pods, want, APP_UID)) == ["driver", "exec-1"]
    assert routing.strays(pods, {}, APP_UID) == []  # not a label-routed scope: nothing to claim


def test_a_claimed_driver_remembers_the_routing_its_executors_are_born_with() -> None:
    driver = pod("driver", "driver", APP_UID, {"tier": "gold", "x": "y"}, uid=DRIVER_UID)
    claimed = routing.claimed(driver, {"tier": "silver"})
    assert claimed["metadata"]["labels"] == {naming.LABEL_SPARK_ROLE: "driver", "tier": "silver", "x": "y"}
    assert orjson.loads(claimed["metadata"]["annotations"][routing.ANNOTATION_ROUTING]) == {"tier": "gold"}
    assert driver["metadata"]["labels"]["tier"] == "gold"  # not mutated
    again = routing.claimed(claimed, {"tier": "bronze"})  # claimed twice: the first record stays
    assert orjson.loads(again["metadata"]["annotations"][routing.ANNOTATION_ROUTING]) == {"tier": "gold"}
    executor = routing.claimed(pod("exec-1", "executor", DRIVER_UID, {"tier": "gold"}), {"tier": "silver"})
    assert executor["metadata"]["labels"]["tier"] == "silver"
    assert "annotations" not in executor["metadata"]


def test_executors_are_astray_while_the_routing_they_are_born_with_differs() -> None:
    rendered = pod(
        "d", "driver", APP_UID, {"tier": "gold"}, annotations={routing.ANNOTATION_ROUTING: '{"tier":"gold"}'}
    )
    assert not routing.executors_astray(rendered, {"tier": "gold"})
    assert routing.executors_astray(rendered, {"tier": "silver"})
    relabelled = routing.claimed(pod("d", "driver", APP_UID, {"tier": "gold"}), {"tier": "silver"})
    assert routing.executors_astray(
        relabelled, {"tier": "silver"}
    )  # the labels moved, the executors' did not
    launched_elsewhere = pod("d", "driver", APP_UID, {"tier": "gold"})  # no record: its own labels
    assert routing.born_with(launched_elsewhere, {"tier"}) == {"tier": "gold"}
    scribbled = pod(
        "d", "driver", APP_UID, {"tier": "gold"}, annotations={routing.ANNOTATION_ROUTING: "{nope"}
    )
    assert routing.born_with(scribbled, {"tier"}) == {"tier": "gold"}
    assert not routing.executors_astray(rendered, {})


def test_a_pod_left_the_watch_when_it_is_dropped_without_being_deleted() -> None:
    running = pod("e", "executor", DRIVER_UID)
    assert routing.left_watch("DELETED", running)
    assert not routing.left_watch("MODIFIED", running)
    assert not routing.left_watch("DELETED", pod("e", "executor", DRIVER_UID, deleting=True))
    ended = {**running, "status": {"phase": "Succeeded"}}
    assert not routing.left_watch("DELETED", ended)  # an ended pod is deleted at once


def test_the_submission_selector_names_the_app_and_the_submission() -> None:
    assert routing.submission_selector("pi", SID) == (
        f"sparkoperator.k8s.io/app-name=pi,sparkoperator.k8s.io/submission-id={SID}"
    )


# -- moving in and out of a scope's controller -----------------------------------------------


def app_event(kind: str, name: str, rv: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}
    if status:
        obj["status"] = status
    return {"type": kind, "object": obj}


class Reconciles:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.running = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled: list[str] = []

    async def __call__(self, key: NamespacedName) -> Result | None:
        self.started.append(str(key))
        self.running.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(str(key))
            raise
        return None


def scoped_controller(reconciles: Reconciles, settle: float) -> tuple[ScopedController, Any]:
    scoped = ScopedController(None, "routing-test", reconciles, SPARK_APPLICATIONS, move_settle=settle)  # type: ignore[arg-type]  # events are fed by hand
    scope = Scope("gold", (Watch(label_selector="tier in (gold)"),))
    (informer,) = scoped._register(scope)  # the informer, fed by hand instead of started
    scoped._open.add(scope.name)
    informer.replace(
        [app_event("ADDED", "listed", "1", {"state": "RUNNING"})["object"]], "1"
    )  # the initial list
    return scoped, informer


async def test_an_object_that_moves_in_waits_before_its_first_reconcile() -> None:
    reconciles = Reconciles()
    reconciles.release.set()
    scoped, informer = scoped_controller(reconciles, settle=60.0)
    informer.apply(app_event("ADDED", "moved", "2", {"applicationState": {"state": "RUNNING"}}))
    result = await scoped._gated(NamespacedName("ns", "moved"))
    assert result is not None
    assert result.requeue_after is not None
    assert 59 < result.requeue_after <= 60
    assert reconciles.started == []
    await scoped._gated(NamespacedName("ns", "listed"))  # found by the initial list: served at once
    # no status yet: it may still be moving in (relabelled while its old holder submits it)
    informer.apply(app_event("ADDED", "young", "3"))
    young = await scoped._gated(NamespacedName("ns", "young"))
    assert young is not None
    assert young.requeue_after is not None
    assert young.requeue_after > 59
    assert reconciles.started == ["ns/listed"]


async def test_a_namespace_scope_serves_new_objects_at_once() -> None:
    reconciles = Reconciles()
    reconciles.release.set()
    scoped = ScopedController(None, "routing-test", reconciles, SPARK_APPLICATIONS, move_settle=60.0)  # type: ignore[arg-type]  # events are fed by hand
    scope = Scope.namespaces("team", ["ns"])
    (informer,) = scoped._register(scope)
    scoped._open.add(scope.name)
    informer.replace([], "1")
    informer.apply(app_event("ADDED", "new", "2"))
    informer.apply(app_event("ADDED", "with-status", "3", {"applicationState": {"state": "RUNNING"}}))
    assert await scoped._gated(NamespacedName("ns", "new")) is None
    assert await scoped._gated(NamespacedName("ns", "with-status")) is None
    assert reconciles.started == ["ns/new", "ns/with-status"]


async def test_after_the_settle_delay_a_moved_object_is_reconciled() -> None:
    reconciles = Reconciles()
    reconciles.release.set()
    scoped, informer = scoped_controller(reconciles, settle=0.0)
    informer.apply(app_event("ADDED", "moved", "2", {"applicationState": {"state": "RUNNING"}}))
    assert await scoped._gated(NamespacedName("ns", "moved")) is None
    assert reconciles.started == ["ns/moved"]


async def test_an_object_that_leaves_mid_reconcile_has_its_reconcile_cancelled() -> None:
    reconciles = Reconciles()
    scoped, informer = scoped_controller(reconciles, settle=0.0)
    running = asyncio.create_task(scoped._gated(NamespacedName("ns", "listed")))
    await reconciles.running.wait()
    informer.apply(app_event("DELETED", "listed", "4", {"state": "RUNNING"}))  # its label moved it away
    assert await running is None
    assert reconciles.cancelled == ["ns/listed"]
    assert (
        await scoped._gated(NamespacedName("ns", "listed")) is None
    )  # not in this scope any more: nothing starts
    assert reconciles.started == ["ns/listed"]
