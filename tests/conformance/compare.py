"""Normalising what Spark created and what sparkfleet renders, and their differences, field by field.

Pure functions only: the test reads the objects and hands them in.

Both sides are first reduced to what a Spark driver (and the kubelet starting it) can see:

- names and ids that are random or per submission become placeholders (``<app-id>``,
  ``<prefix>``, ``<conf-map>``, ``<local-dir>``, ``<driver-uid>``), so only their *use* is compared;
- what the API server fills in (uid, resourceVersion, times, managedFields, status) is dropped;
- lists whose order means nothing to Kubernetes are keyed: containers, ports and env by name
  (env by its effective value: of two entries with one name the last wins, as in the kubelet;
  ``SPARK_LOCAL_DIRS`` as a set, since Spark shuffles it),
  owner references by kind and name, tolerations and image pull secrets as sets;
- a container's volume mounts are keyed by mount path and resolved through the pod's volumes to
  what is mounted there: for a ConfigMap whose data is known (the submission's own, or the
  JMX exporter's), the files the container sees, parsed (``spark.properties`` key by key,
  YAML as data); for any other volume, its source. Volume names, the ConfigMaps that carry the
  files and their item lists are plumbing: they are compared through the files.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from sparkfleet.operator.spark.submission import parse_properties

Obj = dict[str, Any]


class _Missing:
    def __repr__(self) -> str:
        return "<absent>"


MISSING: Any = _Missing()
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "selfLink")
_RANDOM = (
    (re.compile(r"/var/data/spark-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"), "/var/data/<local-dir>"),
    (re.compile(r"\bkube-api-access-[a-z0-9]{5}\b"), "kube-api-access-<random>"),
)


@dataclass(frozen=True, slots=True)
class Diff:
    case: str
    path: str
    sparkfleet: Any
    spark: Any

    def __str__(self) -> str:
        return f"{self.case}: {self.path}\n    sparkfleet: {_show(self.sparkfleet)}\n    spark:      {_show(self.spark)}"


def wildcard(pattern: str) -> re.Pattern[str]:
    """``pattern`` with ``*`` matching anything and every other character itself (paths hold brackets)."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")) + r"\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Allowed:
    """A known difference: ``path`` matches :attr:`Diff.path` (``*`` is a wildcard), ``when``
    narrows it by value, ``cases`` (wildcards too) to some cases."""

    path: str
    reason: str
    when: Callable[[Diff], bool] | None = None
    cases: tuple[str, ...] = ()

    def matches(self, diff: Diff) -> bool:
        if self.cases and not any(wildcard(c).match(diff.case) for c in self.cases):
            return False
        if not wildcard(self.path).match(diff.path):
            return False
        return self.when is None or self.when(diff)


def _show(value: Any) -> str:
    if value is MISSING:
        return "<absent>"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 400 else text[:400] + "..."


def split(diffs: Iterable[Diff], allowed: Iterable[Allowed]) -> tuple[list[Diff], Counter[int]]:
    """(the differences no entry allows, how many each entry allowed, by its index)."""
    entries = list(allowed)
    unexpected: list[Diff] = []
    used: Counter[int] = Counter()
    for diff in diffs:
        hits = [i for i, entry in enumerate(entries) if entry.matches(diff)]
        used.update(hits)
        if not hits:
            unexpected.append(diff)
    return unexpected, used


# -- differences -----------------------------------------------------------------------------------


def differences(case: str, path: str, ours: Any, theirs: Any) -> list[Diff]:
    """Every leaf where ``ours`` (sparkfleet) and ``theirs`` (Spark) differ, by path."""
    if (isinstance(ours, dict) and theirs is MISSING) or (ours is MISSING and isinstance(theirs, dict)):
        ours, theirs = ({} if ours is MISSING else ours), ({} if theirs is MISSING else theirs)
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found: list[Diff] = []
        for key in sorted(set(ours) | set(theirs), key=str):
            found += differences(
                case, f"{path}[{key}]" if _needs_brackets(key) else f"{path}.{key}",
                ours.get(key, MISSING), theirs.get(key, MISSING),
            )  # fmt: skip
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        found = []
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            found += differences(case, f"{path}[{i}]", a, b)
        return found
    return [] if ours == theirs else [Diff(case, path, ours, theirs)]


def _needs_brackets(key: str) -> bool:
    return not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key)


# -- normalisation ---------------------------------------------------------------------------------


def substitute(obj: Any, tokens: Mapping[str, str]) -> Any:
    """``obj`` with every token (longest first) and random suffix replaced in keys and strings."""
    ordered = sorted(((k, v) for k, v in tokens.items() if k), key=lambda kv: -len(kv[0]))

    def text(value: str) -> str:
        for token, placeholder in ordered:
            value = value.replace(token, placeholder)
        for pattern, placeholder in _RANDOM:
            value = pattern.sub(placeholder, value)
        return value

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            return {text(k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(obj)


def metadata(obj: Mapping[str, Any]) -> Obj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    if "ownerReferences" in meta:
        meta["ownerReferences"] = {f"{r['kind']}/{r['name']}": r for r in meta["ownerReferences"]}
    return meta


def parse_file(name: str, content: Any) -> Any:
    """A file as the driver reads it: properties key by key, YAML as data, anything else as text."""
    if not isinstance(content, str):  # a key the ConfigMap does not have
        return content
    if name.endswith(".properties"):
        return parse_properties(content)
    if name.endswith((".yml", ".yaml")):
        return yaml.safe_load(content)
    return content


def _by_name(items: Iterable[Obj] | None, key: str = "name") -> Obj:
    return {str(item.get(key)): item for item in items or []}


def _env(env: Iterable[Obj] | None) -> Obj:
    effective: Obj = {}
    for entry in env or []:
        effective[entry["name"]] = {k: v for k, v in entry.items() if k != "name"}
    local_dirs = effective.get("SPARK_LOCAL_DIRS", {}).get("value")
    if local_dirs:  # Spark shuffles them (LocalDirsFeatureStep.randomize): the set is what counts
        effective["SPARK_LOCAL_DIRS"] = {"value": ",".join(sorted(local_dirs.split(",")))}
    return effective


def _ports(ports: Iterable[Obj] | None) -> Obj:
    return {str(p.get("name") or p["containerPort"]): p for p in ports or []}


def _volume_source(volume: Obj, files: Mapping[str, Mapping[str, str]], sub_path: str | None) -> Any:
    source = {k: v for k, v in volume.items() if k != "name"}
    config_map = (volume.get("configMap") or {}).get("name")
    if isinstance(config_map, str) and config_map in files:
        data = files[config_map]
        items = volume["configMap"].get("items")
        shown = {item["path"]: data.get(item["key"], MISSING) for item in items} if items else dict(data)
        if sub_path is not None:
            return {"file": parse_file(sub_path, shown.get(sub_path, MISSING))}
        return {"files": {path: parse_file(path, text) for path, text in sorted(shown.items())}}
    return source


def container(c: Obj, volumes: Mapping[str, Obj], files: Mapping[str, Mapping[str, str]]) -> Obj:
    out = {k: v for k, v in c.items() if k not in ("env", "ports", "volumeMounts")}
    out["env"] = _env(c.get("env"))
    out["ports"] = _ports(c.get("ports"))
    mounts: Obj = {}
    for mount in c.get("volumeMounts") or []:
        volume = volumes.get(mount["name"], {"missing volume": mount["name"]})
        shown = {k: v for k, v in mount.items() if k not in ("name", "mountPath", "subPath")}
        shown["source"] = _volume_source(volume, files, mount.get("subPath"))
        mounts[mount["mountPath"]] = shown
    out["volumeMounts"] = mounts
    return out


def pod(obj: Obj, files: Mapping[str, Mapping[str, str]]) -> Obj:
    """A pod as its containers and the kubelet see it (see the module's docstring)."""
    spec = dict(obj["spec"])
    volumes = _by_name(spec.get("volumes"))
    mounted = {m["name"] for c in [*spec.get("containers", []), *spec.get("initContainers", [])]
               for m in c.get("volumeMounts") or []}  # fmt: skip
    spec["volumes"] = sorted(set(volumes) - mounted)  # only the unmounted ones by name
    for key in ("containers", "initContainers"):
        if key in spec:
            spec[key] = {c["name"]: container(c, volumes, files) for c in spec[key]}
    for key in ("tolerations", "hostAliases"):
        if key in spec:
            spec[key] = sorted(spec[key], key=lambda item: json.dumps(item, sort_keys=True))
    if "imagePullSecrets" in spec:
        spec["imagePullSecrets"] = sorted(s["name"] for s in spec["imagePullSecrets"])
    return {"metadata": metadata(obj), "spec": spec}


def service(obj: Obj) -> Obj:
    spec = dict(obj["spec"])
    spec.pop("clusterIPs", None)
    spec["ports"] = _by_name(spec.get("ports"))
    return {"metadata": metadata(obj), "spec": spec}


def config_map_files(obj: Obj) -> dict[str, str]:
    return dict(obj.get("data") or {})
