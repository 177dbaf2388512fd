"""Trimming objects before they are cached: a controller keeps what it reads, not the whole object.

client-go calls these informer transforms; controller-runtime's default one
strips ``metadata.managedFields``, often the largest part of an object and
never read by a controller. At seed scale (2,500 pods) the operator's pod
cache is most of its memory, so pods lose their spec as well.
"""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]


def strip_managed_fields(obj: Object) -> Object:
    """The object without ``metadata.managedFields`` (an update without them keeps the server's)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    return obj


POD_SPEC_KEPT = ("nodeName",)


def pod_status_view(pod: Object) -> Object:
    """What a controller that follows pods' progress reads: metadata (without managedFields), the
    status, and the node; the spec (containers, volumes, environment) is left out."""
    slim = strip_managed_fields(pod)
    spec = pod.get("spec") or {}
    return {
        "apiVersion": pod.get("apiVersion", "v1"),
        "kind": pod.get("kind", "Pod"),
        "metadata": slim.get("metadata", {}),
        "spec": {k: spec[k] for k in POD_SPEC_KEPT if k in spec},
        "status": pod.get("status") or {},
    }
