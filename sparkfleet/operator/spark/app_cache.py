"""What a member caches of each SparkApplication and ScheduledSparkApplication: a bounded view.

A tenant decides how large its objects are (etcd takes up to 1.5 MiB each), and a decoded JSON
object costs two to seven times its size in Python (one ``str`` per short string, one ``dict`` per
object). A cache that held objects as decoded let a few hundred large applications, even refused
ones, push a member past its memory limit. So the cache holds, for each object:

- its metadata (without ``managedFields``) and its status, as decoded dicts: what the controllers
  read on every event;
- its spec packed: the spec's JSON, compressed (:data:`zlib`), unpacked only by the reconcile that
  needs it (:func:`unpacked`). A spec costs its compressed size, a fraction of its JSON;
- nothing of the spec at all when the object is over the size bound
  (``--max-application-bytes``, :data:`DEFAULT_MAX_APPLICATION_BYTES`): its labels are cut to the
  operator's own and its annotations left out, and :func:`unpacked` raises
  :class:`InvalidApplication` naming the size and the bound, so the reconcile refuses it like any
  invalid spec (SUBMISSION_FAILED and an Event, once; never retried). A refused application then
  costs less than an accepted one.

The size measured is that of the serialized spec, labels and annotations (what the tenant writes,
without status and ``managedFields``). The default bound, 512 KiB, is half the 1 MiB a ConfigMap may
hold (the rendered Spark configuration goes into one) and a third of etcd's 1.5 MiB object limit:
no application that can run comes near it (the largest in Kubeflow's examples is a few KiB). Large
inputs belong in files (``spec.deps.files``) or ConfigMaps the application mounts.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from sparkfleet.operator.spark.validation import InvalidApplication

Object = dict[str, Any]

DEFAULT_MAX_APPLICATION_BYTES = 512 * 1024
FLAG = "--max-application-bytes"
# Of an application over the bound, the labels kept: the operator's own (the scheduled run's
# label), at most this many.
OPERATOR_LABEL_PREFIXES = ("sparkoperator.k8s.io/", "sparkfleet.io/")
MAX_LABELS_KEPT = 16
MAX_LIST_KEPT = 8  # of its ownerReferences and finalizers
CUT_LISTS = ("ownerReferences", "finalizers")
COMPRESSION_LEVEL = 1  # the fastest: a spec is packed on every watch event of its object


class CachedObject(dict[str, Any]):
    """A cached object: ``apiVersion``, ``kind``, ``metadata`` and ``status`` as dicts; the spec
    in :attr:`packed` (empty when over the bound). Serialized (a status write), it has no spec:
    a write of the status subresource keeps the stored spec whatever the body says."""

    __slots__ = ("bound", "largest", "packed", "size")

    packed: bytes
    size: int
    bound: int
    largest: tuple[str, int]  # of an object over the bound: its largest field and that field's bytes


def application_bytes(obj: Mapping[str, Any]) -> int:
    """The size the bound applies to: the serialized spec, labels and annotations."""
    meta = obj.get("metadata") or {}
    parts = (obj.get("spec"), meta.get("labels"), meta.get("annotations"))
    return sum(len(orjson.dumps(part)) for part in parts if part)


def bounded_view(max_bytes: int = DEFAULT_MAX_APPLICATION_BYTES) -> Callable[[Object], Object]:
    """The informer transform of applications: see the module's docstring."""
    if max_bytes < 1:
        raise ValueError(f"{FLAG} must be at least 1; got {max_bytes}")

    def view(obj: Object) -> Object:
        size = application_bytes(obj)
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        over = size > max_bytes
        if over:
            meta = _bounded_metadata(meta)
        cached = CachedObject(
            apiVersion=obj.get("apiVersion"),
            kind=obj.get("kind"),
            metadata=meta,
            status=obj.get("status") or {},
        )
        spec = obj.get("spec")
        cached.packed = b"" if over or spec is None else zlib.compress(orjson.dumps(spec), COMPRESSION_LEVEL)
        cached.size = size
        cached.bound = max_bytes
        cached.largest = largest_field(obj) if over else ("", 0)
        return cached

    return view


def status_view(obj: Object) -> Object:
    """A view without spec, for caches that read metadata and status only (a schedule's runs)."""
    return {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "metadata": {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"},
        "status": obj.get("status") or {},
    }


def unpacked(cached: Mapping[str, Any]) -> Object:
    """The object with its spec, to parse. Raises :class:`InvalidApplication` for one over the
    bound (naming its size and the bound; its content is not echoed)."""
    if not isinstance(cached, CachedObject):
        return dict(cached)  # not from a bounded cache: as it is
    if cached.size > cached.bound:
        raise InvalidApplication(too_large(cached.size, cached.bound, *cached.largest))
    obj = dict(cached)
    if cached.packed:
        obj["spec"] = orjson.loads(zlib.decompress(cached.packed))
    return obj


def too_large(size: int, bound: int, field: str = "spec", field_bytes: int = 0) -> str:
    """The refusal, naming the largest field (``spec.sparkConf``), the sizes and the bound."""
    part = f", {field_bytes} of them in {field}" if field_bytes else ""
    return (
        f"{field}: the application is {size} bytes (its spec, labels and annotations, serialized){part}; "
        f"a member accepts at most {bound} ({FLAG}): keep large inputs in files (spec.deps.files) "
        "or in a ConfigMap the application mounts"
    )


def largest_field(obj: Mapping[str, Any]) -> tuple[str, int]:
    """The largest of the spec's fields and of the labels and annotations, and its size."""
    meta = obj.get("metadata") or {}
    parts = {f"spec.{k}": v for k, v in (obj.get("spec") or {}).items()}
    parts |= {f"metadata.{k}": meta.get(k) for k in ("labels", "annotations") if meta.get(k)}
    sizes = [(len(orjson.dumps(v)), name) for name, v in parts.items()]
    if not sizes:
        return ("spec", 0)
    size, name = max(sizes)
    return (name, size)


def cached_bytes(obj: Mapping[str, Any]) -> int:
    """What ``obj`` holds in a cache, as serialized bytes (its packed spec counted as packed): the
    measure the tests bound."""
    packed = obj.packed if isinstance(obj, CachedObject) else b""
    return len(orjson.dumps(dict(obj))) + len(packed)


def _bounded_metadata(meta: Object) -> Object:
    """Of an over-bound object's metadata, what identifies it and its owners; labels cut to the
    operator's own, no annotations."""
    labels = meta.get("labels") or {}
    kept = [(k, v) for k, v in labels.items() if k.startswith(OPERATOR_LABEL_PREFIXES)]
    out = {k: v for k, v in meta.items() if k not in ("annotations", "labels", *CUT_LISTS)}
    out["labels"] = dict(kept[:MAX_LABELS_KEPT])
    for field in CUT_LISTS:
        if meta.get(field):
            out[field] = list(meta[field])[:MAX_LIST_KEPT]
    return out
