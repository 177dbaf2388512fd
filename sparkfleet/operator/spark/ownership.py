"""Whose an object is: the operator deletes, adopts or follows only what an application owns.

Names are not proof of anything: a tenant may name its driver pod after another application's
(``spec.driver.podName``, ``spark.kubernetes.driver.pod.name``), a plain pod may bear a driver's
name, and labels are set by whoever creates a pod. What an application owns is told by UID:

- its driver pods and its UI Service name the application's UID among their owners;
- its ConfigMap, driver Service and executors name its driver pod's UID;
- the runs of a ScheduledSparkApplication name the ScheduledSparkApplication's UID.

An object that bears the name the operator wants but is not owned so is a *collision*
(:func:`collision_message`): the operator leaves it alone and says so, naming the field that
chose the name and the object. Two are not in the way for long: an object being deleted
(:func:`being_deleted`) is waited for; one a previous application of the same name owned
(:func:`orphan_of`: its owner is gone for certain) is garbage, which the operator deletes as the
garbage collector would, by a UID precondition, rather than wait for it.

Pure functions; the controllers do the reads and writes.
"""

from __future__ import annotations

from typing import Any

from sparkfleet.api.base import key_path
from sparkfleet.kube.timestamps import parse_time

Obj = dict[str, Any]

DRIVER_POD_NAME_CONF = "spark.kubernetes.driver.pod.name"
SPARK_APPLICATION_GROUP = "sparkoperator.k8s.io"
NAMED_AFTER_APPLICATION = "metadata.name"
GOING_GRACE_SECONDS = 60.0


def owners(obj: Obj) -> set[str]:
    """The UIDs of ``obj``'s owners."""
    return {ref.get("uid", "") for ref in obj["metadata"].get("ownerReferences") or []} - {""}


def owned_by(obj: Obj, uid: str | None) -> bool:
    """Whether ``obj`` names the object with ``uid`` among its owners."""
    return bool(uid) and uid in owners(obj)


def being_deleted(obj: Obj, now: float) -> bool:
    """Whether ``obj`` is on its way out: being deleted, and not long past its deletion time. One
    stuck on a finalizer :data:`GOING_GRACE_SECONDS` past it is in the way like any other."""
    deleted = epoch(obj["metadata"].get("deletionTimestamp"))
    return deleted is not None and now < deleted + GOING_GRACE_SECONDS


def orphan_of(obj: Obj, kind: str, name: str, uid: str | None) -> bool:
    """Whether ``obj`` is owned by an earlier ``kind`` (a Spark Operator kind) of the name ``name``,
    which now has ``uid``: names are unique, so that owner is gone, and ``obj`` is garbage the
    garbage collector removes in its own time (tens of seconds when it has just learnt the kind)."""
    return bool(uid) and any(
        ref.get("kind") == kind
        and ref.get("name") == name
        and ref.get("uid") not in (None, "", uid)
        and str(ref.get("apiVersion", "")).split("/", 1)[0] == SPARK_APPLICATION_GROUP
        for ref in obj["metadata"].get("ownerReferences") or []
    )


epoch = parse_time
"""Seconds since the epoch of an API timestamp (``2026-01-01T00:00:00Z``), or None: Kubernetes time
is read in one place, :mod:`sparkfleet.kube.timestamps`."""


def driver_name_field(pod_name: str | None, spark_conf: dict[str, str] | None) -> str:
    """The field that names the driver pod (as :func:`naming.driver_pod_name` picks it):
    :data:`NAMED_AFTER_APPLICATION` when neither ``spec.driver.podName`` nor the Spark property does."""
    if pod_name:
        return "spec.driver.podName"
    if (spark_conf or {}).get(DRIVER_POD_NAME_CONF):
        return f"spec.sparkConf{key_path(DRIVER_POD_NAME_CONF)}"
    return NAMED_AFTER_APPLICATION


def collision_message(
    kind: str, namespace: str, name: str, owner: str, field: str | None, why: str = ""
) -> str:
    """Why a submission stops at an object it did not create: ``kind`` ``namespace/name`` exists
    and is not ``owner``'s. ``field`` is what chose the name (it leads the message, as every
    refusal names its field); ``why`` says, when no field chose it, what the name comes from."""
    what = f"{kind} {namespace}/{name} exists and is not owned by {owner}"
    text = f"{field}: {what}" if field else what
    return f"{text} ({why})" if why else text


__all__ = [
    "DRIVER_POD_NAME_CONF",
    "GOING_GRACE_SECONDS",
    "NAMED_AFTER_APPLICATION",
    "being_deleted",
    "collision_message",
    "driver_name_field",
    "epoch",
    "orphan_of",
    "owned_by",
    "owners",
]
