"""Rendering the Helm chart and applying what it renders to the local control plane.

helm is the pinned one `make helm` installs into .cache/tools/bin; a missing helm fails the tests
(never a skip).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.client import APPLY_PATCH
from sparkfleet.kube.resources import CRDS, Resource

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "sparkfleet"
EXAMPLES = ROOT / "deploy" / "examples"
HELM = ROOT / ".cache" / "tools" / "bin" / "helm"
FIELD_MANAGER = "sparkfleet-chart-tests"


def example_values() -> list[Path]:
    """The examples that are values files for this chart."""
    return sorted(EXAMPLES.glob("*.values.yaml"))


def _run_helm(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"helm is not installed at {HELM.relative_to(ROOT)}: run `make helm`")
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)


def helm(*args: str) -> str:
    proc = _run_helm(args)
    if proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return proc.stdout


def helm_refuses(*args: str) -> str:
    """What helm says on stderr when it refuses ``args`` (the test fails if helm succeeds)."""
    proc = _run_helm(args)
    assert proc.returncode != 0, f"helm {' '.join(args)} succeeded; expected a refusal:\n{proc.stdout[:2000]}"
    return proc.stderr


def values_args(values_files: tuple[Path, ...], values: dict[str, Any] | None, extra: Any) -> list[str]:
    """``--values`` arguments for ``values_files`` and then ``values`` (written to the open file ``extra``)."""
    args: list[str] = []
    for path in values_files:
        args += ["--values", str(path)]
    if values:
        yaml.safe_dump(values, extra)
        extra.flush()
        args += ["--values", extra.name]
    return args


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` over it, mappings merged key by key (as helm merges values files)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def render(
    release: str,
    namespace: str,
    values_files: tuple[Path, ...] = (),
    values: dict[str, Any] | None = None,
    *,
    include_crds: bool = False,
) -> list[dict[str, Any]]:
    args = ["template", release, str(CHART), "--namespace", namespace]
    if include_crds:
        args.append("--include-crds")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
        out = helm(*args, *values_args(values_files, values, extra))
    return [doc for doc in yaml.safe_load_all(out) if doc]


# A template that renders NOTES.txt into a ConfigMap: `helm template` renders the notes but prints them
# nowhere, and `helm install --dry-run` needs a cluster.
_NOTES_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  NOTES.txt: {{ include "sparkfleet/templates/NOTES.txt" . | quote }}
"""


def notes(
    release: str, namespace: str, values_files: tuple[Path, ...] = (), values: dict[str, Any] | None = None
) -> str:
    """What ``helm install`` prints after NOTES: for ``release`` in ``namespace`` with these values."""
    with tempfile.TemporaryDirectory() as tmp:
        chart = Path(tmp) / "sparkfleet"
        shutil.copytree(CHART, chart)
        (chart / "templates" / "zz-notes-for-tests.yaml").write_text(_NOTES_TEMPLATE)
        args = ["template", release, str(chart), "--namespace", namespace]
        args += ["--show-only", "templates/zz-notes-for-tests.yaml"]
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
            out = helm(*args, *values_args(values_files, values, extra))
    text: str = yaml.safe_load(out)["data"]["NOTES.txt"]
    return text


def _r(group: str, version: str, plural: str, kind: str, namespaced: bool = True) -> Resource:
    return Resource(group, version, plural, kind, namespaced)


RESOURCES: dict[str, Resource] = {
    r.kind: r
    for r in (
        _r("", "v1", "serviceaccounts", "ServiceAccount"),
        _r("", "v1", "services", "Service"),
        _r("", "v1", "configmaps", "ConfigMap"),
        _r("", "v1", "namespaces", "Namespace", False),
        _r("apps", "v1", "deployments", "Deployment"),
        _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"),
        _r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
        _r("batch", "v1", "cronjobs", "CronJob"),
        _r("rbac.authorization.k8s.io", "v1", "roles", "Role"),
        _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
        _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
        _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
        _r("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor"),
        _r("monitoring.coreos.com", "v1", "prometheusrules", "PrometheusRule"),
        _r("monitoring.coreos.com", "v1", "podmonitors", "PodMonitor"),
        SPARK_FLEETS,
        SPARK_APPLICATIONS,
        SCHEDULED_SPARK_APPLICATIONS,
        CRDS,
    )
}


def resource_of(doc: dict[str, Any]) -> Resource:
    kind = doc["kind"]
    assert kind in RESOURCES, f"the tests do not know the kind {kind} the chart renders"
    return RESOURCES[kind]


async def apply(kube: KubeClient, doc: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    """Server-side apply (with ``dry_run``: validated, admitted and defaulted by the API server, not stored)."""
    resource = resource_of(doc)
    meta = doc["metadata"]
    path = resource.path(meta.get("namespace") if resource.namespaced else None, meta["name"])
    result: dict[str, Any] = await kube.request(
        "PATCH",
        path,
        body=doc,
        content_type=APPLY_PATCH,
        query={"fieldManager": FIELD_MANAGER, "force": True, "dryRun": "All" if dry_run else None},
    )
    return result


def namespaces_of(docs: list[dict[str, Any]]) -> set[str]:
    return {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")}


# -- metric names in PromQL -------------------------------------------------------------------

_FUNCTIONS_AND_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "topk", "bottomk", "quantile", "rate", "irate",
    "increase", "delta", "histogram_quantile", "clamp_min", "clamp_max", "abs", "absent", "by",
    "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "label_values", "inf", "nan",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, keywords, labels or numbers)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values, legends)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"(?<![A-Za-z0-9_:])\d+(\.\d+)?([eE][-+]?\d+)?", " ", text)  # numbers
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        token = match.group(0)
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function
        if token.lower() in _FUNCTIONS_AND_KEYWORDS:
            continue
        names.add(token)
    return names


def exported_names(exposition: str) -> set[str]:
    """Every series name a /metrics page can show, from its TYPE lines (families without samples too)."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
            elif kind == "summary":
                names |= {f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def registry_names(prefix: str = "") -> set[str]:
    """Every series name an instance started with ``--metrics-prefix=prefix`` can export: the code's
    prometheus_client registry (each module that defines metrics, imported through the instance), as
    the /metrics handler serves it."""
    from prometheus_client import REGISTRY, generate_latest

    import sparkfleet.instance  # noqa: F401  (registers every metric the instances export)
    from sparkfleet.server import with_prefix

    return exported_names(with_prefix(generate_latest(REGISTRY), prefix).decode())
