"""An application and its pods are one unit: the pods carry their application's routing labels.

A label-routed fleet watches pods with each shard's selector, so a pod is seen by the member
whose shard its *own* labels select. For the pods to reach their application's holder, they
must carry the application's values of the keys the shards select on (its *routing*), or lack
a key as the application does:

- rendering enforces it: the application's value wins over ``spec.driver.labels``,
  ``spec.executor.labels``, pod templates and ``spark.kubernetes.executor.label.*``;
- the application's holder claims the pods that disagree (its label changed while it ran, or a
  tenant edited a pod's labels): it relabels them, so they leave the old watch and enter its own.
  Only pods the application owns are claimed: the driver by the application's UID, an executor
  by its driver's.

A running driver creates executors with the labels it was given at submission; the routing its
executors are born with is recorded on the driver (:data:`ANNOTATION_ROUTING`), so the holder
knows when new executors will be born astray (:func:`executors_astray`).

Pure functions; the controller does the reads and writes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from sparkfleet.operator.spark import naming

ANNOTATION_ROUTING = "sparkfleet.io/routing"
"""On a driver pod: the routing labels its executors are rendered with (JSON; null: no such label)."""

Routing = dict[str, str | None]
"""Routing key -> the value an application's pods must carry (None: they must not carry the key)."""

Pod = dict[str, Any]


def routing_of(app_labels: Mapping[str, str] | None, keys: Iterable[str]) -> Routing:
    """The routing the pods of an application labelled ``app_labels`` must carry."""
    labels = app_labels or {}
    return {key: labels.get(key) for key in sorted(keys)}


def enforce(labels: Mapping[str, str], routing: Routing) -> dict[str, str]:
    """``labels`` with ``routing`` applied: each key set to the application's value, or removed."""
    out = {key: value for key, value in labels.items() if key not in routing}
    out.update({key: value for key, value in routing.items() if value is not None})
    return out


def agrees(labels: Mapping[str, str] | None, routing: Routing) -> bool:
    """Whether a pod labelled ``labels`` carries exactly ``routing``."""
    return all((labels or {}).get(key) == value for key, value in routing.items())


def encode(routing: Routing) -> str:
    return orjson.dumps(routing, option=orjson.OPT_SORT_KEYS).decode()


def _decode(text: str | None) -> dict[str, str | None]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}  # edited by hand: fall back to the driver's labels
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if v is None or isinstance(v, str)}


def born_with(driver: Pod, keys: Iterable[str]) -> Routing:
    """The routing the executors of ``driver`` are created with: as recorded at submission (or at
    its first claim), else as the driver's own labels say (a driver another operator launched)."""
    meta = driver["metadata"]
    recorded = _decode((meta.get("annotations") or {}).get(ANNOTATION_ROUTING))
    labels = meta.get("labels") or {}
    return {key: recorded[key] if key in recorded else labels.get(key) for key in sorted(keys)}


def executors_astray(driver: Pod, routing: Routing) -> bool:
    """Whether executors this driver creates from now on carry another routing than ``routing``."""
    return bool(routing) and born_with(driver, routing) != routing


def owners(pod: Pod) -> set[str]:
    """The UIDs of ``pod``'s owners."""
    return {ref.get("uid", "") for ref in pod["metadata"].get("ownerReferences") or []} - {""}


def owned(pods: Iterable[Pod], app_uid: str | None) -> list[Pod]:
    """The pods an application owns: drivers it owns by UID, and executors those drivers own."""
    if not app_uid:
        return []
    pods = list(pods)
    drivers = {p["metadata"].get("uid") for p in pods if app_uid in owners(p)} - {None, ""}
    return [p for p in pods if app_uid in owners(p) or owners(p) & drivers]


def strays(pods: Iterable[Pod], routing: Routing, app_uid: str | None) -> list[Pod]:
    """The application's own pods (see :func:`owned`) that disagree with ``routing`` and are not
    being deleted: the ones its holder must claim."""
    if not routing:
        return []
    return [
        pod
        for pod in owned(pods, app_uid)
        if not pod["metadata"].get("deletionTimestamp") and not agrees(pod["metadata"].get("labels"), routing)
    ]


def claimed(pod: Pod, routing: Routing) -> Pod:
    """``pod`` relabelled to ``routing``. A driver that does not record the routing its executors
    are born with records it first (its labels before the claim), so that it is not forgotten."""
    out = copy.deepcopy(pod)
    meta = out["metadata"]
    labels = meta.get("labels") or {}
    if labels.get(naming.LABEL_SPARK_ROLE) == "driver":
        annotations = meta.get("annotations") or {}
        if ANNOTATION_ROUTING not in annotations:
            meta["annotations"] = {**annotations, ANNOTATION_ROUTING: encode(born_with(pod, routing))}
    meta["labels"] = enforce(labels, routing)
    return out


def submission_selector(app_name: str, submission_id: str) -> str:
    """The label selector of one submission's pods (what the holder lists to find strays)."""
    return f"{naming.LABEL_APP_NAME}={app_name},{naming.LABEL_SUBMISSION_ID}={submission_id}"


def left_watch(event_type: str, pod: Pod) -> bool:
    """Whether a pod removed from a label-selected cache may still exist with other labels.

    The API server tells a watch that an object stopped matching its selector as a deletion
    carrying the object as it last matched: no deletionTimestamp, not terminated. A deleted pod
    passes through a graceful deletion (a deletionTimestamp) unless it had ended or never ran.
    """
    if event_type != "DELETED" or pod["metadata"].get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


__all__ = [
    "ANNOTATION_ROUTING",
    "Routing",
    "agrees",
    "born_with",
    "claimed",
    "encode",
    "enforce",
    "executors_astray",
    "left_watch",
    "owned",
    "owners",
    "routing_of",
    "strays",
    "submission_selector",
]
