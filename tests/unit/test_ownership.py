"""What an application owns, and what a collision says (sparkfleet.operator.spark.ownership)."""

from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.operator.spark import ownership


def obj(*refs: dict[str, Any], deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", "namespace": "ns", "ownerReferences": list(refs)}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta}


def app_ref(name: str, uid: str, api_version: str = "sparkoperator.k8s.io/v1beta2") -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": "SparkApplication", "name": name, "uid": uid}


def test_owned_by_is_by_uid_only() -> None:
    pod = obj(app_ref("victim", "u-victim"))
    assert ownership.owned_by(pod, "u-victim")
    assert not ownership.owned_by(pod, "u-other")
    assert not ownership.owned_by(pod, None)
    assert not ownership.owned_by(pod, "")
    assert not ownership.owned_by(obj(), "u-victim")
    assert ownership.owners(obj(app_ref("a", "u1"), {"kind": "Pod", "name": "d", "uid": ""})) == {"u1"}


NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
GRACE = ownership.GOING_GRACE_SECONDS


def test_an_earlier_application_of_the_same_name_leaves_an_orphan() -> None:
    assert ownership.orphan_of(obj(app_ref("report", "u-old")), "SparkApplication", "report", "u-new")


def test_an_object_being_deleted_is_waited_for_until_well_past_its_deletion_time() -> None:
    deleting = obj(deleting=True)  # deletionTimestamp NOW
    assert ownership.being_deleted(deleting, NOW + GRACE - 1)
    assert not ownership.being_deleted(deleting, NOW + GRACE)  # stuck on a finalizer: in the way
    assert not ownership.being_deleted(obj(), NOW)


@pytest.mark.parametrize(
    "ref",
    [
        app_ref("victim", "u-victim"),  # another application's: a live one
        app_ref("report", "u-new"),  # the application's own: not foreign at all
        app_ref("report", ""),  # no UID: proves nothing
        app_ref("report", "u-old", api_version="example.com/v1"),  # another group's kind of the name
        {"apiVersion": "v1", "kind": "Pod", "name": "report", "uid": "u-old"},
    ],
)
def test_what_is_no_orphan(ref: dict[str, Any]) -> None:
    assert not ownership.orphan_of(obj(ref), "SparkApplication", "report", "u-new")
    assert not ownership.orphan_of(obj(), "SparkApplication", "report", "u-new")  # a plain pod
    assert not ownership.orphan_of(obj(app_ref("report", "u-old")), "SparkApplication", "report", None)


def test_epoch() -> None:
    assert ownership.epoch("2026-01-01T00:00:00Z") == NOW
    assert ownership.epoch(None) is None
    assert ownership.epoch("") is None


def test_the_field_that_names_the_driver_pod() -> None:
    conf = {ownership.DRIVER_POD_NAME_CONF: "b"}
    assert ownership.driver_name_field("a", conf) == "spec.driver.podName"  # it wins, as it names the pod
    assert ownership.driver_name_field(None, conf) == "spec.sparkConf[spark.kubernetes.driver.pod.name]"
    assert ownership.driver_name_field(None, {}) == ownership.NAMED_AFTER_APPLICATION == "metadata.name"
    assert ownership.driver_name_field("", None) == "metadata.name"


def test_a_collision_names_the_field_and_the_object() -> None:
    said = ownership.collision_message(
        "pod", "ns", "victim-driver", "this application", "spec.driver.podName"
    )
    assert said == "spec.driver.podName: pod ns/victim-driver exists and is not owned by this application"
    why = ownership.collision_message(
        "configmap", "ns", "cm", "this application's driver pod", None, "because"
    )
    assert why == "configmap ns/cm exists and is not owned by this application's driver pod (because)"
