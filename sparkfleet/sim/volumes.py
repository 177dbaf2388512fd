"""``spark.kubernetes.executor.volumes.*``: the volumes Spark 4.0 mounts into executors.

KubernetesVolumeUtils.parseVolumesWithPrefix and MountVolumesFeatureStep's checks: each
``<type>.<name>.*`` group of properties is one volume (hostPath, persistentVolumeClaim, emptyDir
or nfs) and its mount; errors are Spark's. Spark iterates them in hash order; here they are sorted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sparkfleet.sim import sparkconf as sc
from sparkfleet.sim.sparkconf import Conf, IllegalArgument, NoSuchElement, require

Obj = dict[str, Any]
PREFIX = "spark.kubernetes.executor.volumes."


@dataclass(frozen=True, slots=True)
class Volume:
    """One ``spark.kubernetes.executor.volumes.<type>.<name>.*`` volume."""

    type: str
    name: str
    mount: Obj
    source: Obj
    claim: Obj | None = None
    """The PersistentVolumeClaim Spark creates for it (storageClass and sizeLimit given)."""


def executor_volumes(conf: Conf) -> list[Volume]:
    """``KubernetesVolumeUtils.parseVolumesWithPrefix`` (executors), MountVolumesFeatureStep's checks."""
    options = sc.with_prefix(conf, PREFIX)
    kinds = sorted({tuple(key.split(".")[:2]) for key in options if key.count(".") >= 1})
    volumes = [_volume(options, kind, name) for kind, name in kinds]
    paths = [v.mount["mountPath"] for v in volumes]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    require(not duplicates, f"Found duplicated mountPath: {', '.join(repr(p) for p in duplicates)}")
    return volumes


def _volume(options: Mapping[str, str], kind: str, name: str) -> Volume:
    def key(suffix: str) -> str:
        return f"{kind}.{name}.{suffix}"

    def needed(suffix: str) -> str:
        if key(suffix) not in options:
            raise NoSuchElement(f"{key(suffix)} is required for {kind}")
        return options[key(suffix)]

    if key("mount.subPath") in options and key("mount.subPathExpr") in options:
        raise IllegalArgument(
            f"These config options are mutually exclusive: {key('mount.subPath')}, {key('mount.subPathExpr')}"
        )
    if key("mount.path") not in options:
        raise NoSuchElement(f"key not found: {key('mount.path')}")
    read_only = _scala_bool(options[key("mount.readOnly")]) if key("mount.readOnly") in options else False
    mount = {
        "mountPath": options[key("mount.path")],
        "name": name,
        "readOnly": read_only,
        "subPath": options.get(key("mount.subPath"), ""),
        "subPathExpr": options.get(key("mount.subPathExpr"), ""),
    }
    claim: Obj | None = None
    if kind == "hostPath":
        source: Obj = {"path": needed("options.path"), "type": options.get(key("options.type"), "")}
    elif kind == "persistentVolumeClaim":
        claim_name = needed("options.claimName")
        size = options.get(key("options.sizeLimit"))
        _verify_size(size)
        source = {"claimName": claim_name, "readOnly": read_only}
        storage_class = options.get(key("options.storageClass"))
        if storage_class is not None and size is not None:
            labels = {
                k.removeprefix(key("label.")): v for k, v in options.items() if k.startswith(key("label."))
            }
            annotations = {
                k.removeprefix(key("annotation.")): v
                for k, v in options.items()
                if k.startswith(key("annotation."))
            }
            claim = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name, "labels": labels, "annotations": annotations},
                "spec": {"storageClassName": storage_class, "accessModes": ["ReadWriteOncePod"],
                         "resources": {"requests": {"storage": size}}},
            }  # fmt: skip
    elif kind == "emptyDir":
        size = options.get(key("options.sizeLimit"))
        _verify_size(size)
        source = {"medium": options.get(key("options.medium"), "")}
        if size is not None:
            source["sizeLimit"] = size
    elif kind == "nfs":
        source = {"path": needed("options.path"), "server": needed("options.server")}
    else:
        raise IllegalArgument(f"Kubernetes Volume type `{kind}` is not supported")
    return Volume(kind, name, mount, source, claim)


def _verify_size(size: str | None) -> None:
    if size is not None and size.isdigit() and size.isascii() and int(size) < 1024:
        raise IllegalArgument(f"Volume size `{size}` is smaller than 1KiB. Missing units?")
    if size == "":
        raise sc.NumberFormat('For input string: ""')


def _scala_bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise IllegalArgument(f'For input string: "{text}"')
    return text.lower() == "true"
