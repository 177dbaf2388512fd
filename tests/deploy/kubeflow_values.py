"""Every value of the Kubeflow Spark Operator's chart v2.5.2 and what sparkfleet's chart does with it.

Kubeflow's full values file is tests/fixtures/kubeflow-v2.5.2/chart-values.yaml. Each of its leaves (a
Kubernetes object passed whole, such as ``controller.securityContext``, counts as one) is in
:data:`TABLE`, as one of:

- ``mapped``: it does here what it did there, under the same name or onto sparkfleet's setting;
- ``accepted``: read and valid, with no effect here (the text says why);
- ``refused``: accepted at Kubeflow's default, refused by ``helm install``/``helm template`` when set
  to what would need a feature sparkfleet does not have (the message names the value).

``loaded`` is a value other than Kubeflow's default that the "fully loaded" values file sets (mapped
and accepted values, and refused ones where more than the default is accepted); ``refused`` lists
values the chart refuses. The tests in test_kubeflow_values.py hold the chart to this table, and the
"Helm values, side by side" section of docs/migrating-from-kubeflow.md is rendered from it
(``python -m tests.deploy.kubeflow_values`` prints it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBEFLOW_VALUES = ROOT / "tests" / "fixtures" / "kubeflow-v2.5.2" / "chart-values.yaml"
GUIDE = ROOT / "docs" / "migrating-from-kubeflow.md"
SECTION = "## Helm values, side by side"

Status = Literal["mapped", "accepted", "refused"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Value:
    status: Status
    here: str
    loaded: Any = UNSET
    refused: tuple[Any, ...] = ()


def mapped(here: str, loaded: Any) -> Value:
    return Value("mapped", here, loaded)


def accepted(here: str, loaded: Any) -> Value:
    return Value("accepted", here, loaded)


def refused(here: str, *values: Any, loaded: Any = UNSET) -> Value:
    return Value("refused", here, loaded, values)


SAME = "the same"
NO_WEBHOOK = "no webhook here"
NO_HOOK = "only the CRD hook (refused) used it"
NO_PPROF = "no pprof endpoint"
NO_CERT = "no webhook, no certificate"
TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "spark", "effect": "NoSchedule"}
NODE_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["ops"]}]}
            ]
        }
    }
}
SPREAD = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
SIDECAR = {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0", "args": ["--config-path", "/etc/envoy.yaml"]}

TABLE: dict[str, Value] = {
    "nameOverride": mapped(SAME, "sf"),
    "fullnameOverride": mapped(SAME, "kf-fleet"),
    "commonLabels": mapped(SAME, {"team": "data-platform"}),
    # -- image
    "image.registry": mapped("the same (point image.* at sparkfleet's image)", "registry.example.com"),
    "image.repository": mapped("the same; Kubeflow's own image is named in the notes", "platform/sparkfleet"),
    "image.tag": mapped(SAME, "1.2.3"),
    "image.pullPolicy": mapped(SAME, "Always"),
    "image.pullSecrets": mapped(SAME, [{"name": "regcred"}]),
    # -- hook
    "hook.upgradeCrd": refused("refused if true: no CRD hook; installed CRDs are kept", True),
    "hook.image.registry": accepted(NO_HOOK, "registry.example.com"),
    "hook.image.repository": accepted(NO_HOOK, "platform/kubectl"),
    "hook.image.tag": accepted(NO_HOOK, "v1.34.1"),
    "hook.nodeSelector": accepted(NO_HOOK, {"pool": "ops"}),
    "hook.affinity": accepted(NO_HOOK, NODE_AFFINITY),
    "hook.tolerations": accepted(NO_HOOK, [TOLERATION]),
    # -- controller
    "controller.replicas": mapped("the same: instances (fleet members or leader + standbys)", 3),
    "controller.featureGates": refused(
        "refused if a gate is on (PartialRestart, LoadSparkDefaults)",
        [{"name": "PartialRestart", "enabled": True}, {"name": "LoadSparkDefaults", "enabled": False}],
        [{"name": "PartialRestart", "enabled": False}, {"name": "LoadSparkDefaults", "enabled": True}],
        loaded=[{"name": "LoadSparkDefaults", "enabled": False}],
    ),
    "controller.revisionHistoryLimit": mapped(SAME, 3),
    "controller.leaderElection.enable": mapped(
        "the same with fleet.enabled: false (a fleet needs none)", False
    ),
    "controller.leaderElection.leaseDuration": mapped("the same (with fleet.enabled: false)", "30s"),
    "controller.leaderElection.renewDeadline": mapped("the same (with fleet.enabled: false)", "20s"),
    "controller.leaderElection.retryPeriod": mapped("the same (with fleet.enabled: false)", "4s"),
    "controller.workers": mapped("the same: --controller-threads", 7),
    "controller.logLevel": mapped("--log-level (warn: warning; dpanic, panic, fatal: error)", "warn"),
    "controller.logEncoder": mapped("--log-format (console is text)", "json"),
    "controller.driverPodCreationGracePeriod": mapped(
        "the same (a driver not yet seen is waited for)", "30s"
    ),
    "controller.maxTrackedExecutorPerApp": mapped(SAME, 200),
    "controller.kubeAPIQPS": mapped("controller.kubeAPI.qps (--kube-api-qps); wins when set", 40),
    "controller.kubeAPIBurst": mapped("controller.kubeAPI.burst (--kube-api-burst); wins when set", 60),
    "controller.scheduledSparkApplicationTimestampPrecision": mapped(
        "the same: runs are <name>-<due time> in that unit", "seconds"
    ),
    "controller.uiService.enable": mapped(SAME, False),
    "controller.uiIngress.enable": mapped("the same: passes the --ingress-* flags, grants ingresses", True),
    "controller.uiIngress.urlFormat": mapped("--ingress-url-format", "{{$appName}}.spark.example.com"),
    "controller.uiIngress.ingressClassName": mapped("--ingress-class-name", "nginx"),
    "controller.uiIngress.tls": mapped(
        "--ingress-tls (JSON)", [{"hosts": ["*.spark.example.com"], "secretName": "tls"}]
    ),
    "controller.uiIngress.annotations": mapped(
        "--ingress-annotations (JSON)", {"cert-manager.io/cluster-issuer": "le"}
    ),
    "controller.batchScheduler.enable": mapped(
        "the same: --enable-batch-scheduler, grants podgroups (both API groups)", True
    ),
    "controller.batchScheduler.kubeSchedulerNames": mapped(
        "--kube-scheduler-names (with enable)", ["scheduler-a"]
    ),
    "controller.batchScheduler.default": mapped("--default-batch-scheduler (with enable)", "volcano"),
    "controller.serviceAccount.create": mapped(SAME, False),
    "controller.serviceAccount.name": mapped(SAME, "kf-operator"),
    "controller.serviceAccount.annotations": mapped(SAME, {"owner": "platform"}),
    "controller.serviceAccount.automountServiceAccountToken": mapped(
        "the same (on the ServiceAccount and the pods)", False
    ),
    "controller.rbac.create": mapped(SAME, False),
    "controller.rbac.annotations": mapped(
        "the same (every Role, ClusterRole and binding)", {"owner": "platform"}
    ),
    "controller.labels": mapped("the same (pod labels)", {"tier": "ops"}),
    "controller.annotations": mapped("the same (pod annotations)", {"note": "migrated"}),
    "controller.volumes": mapped(
        "the same; one named tmp replaces sparkfleet's /tmp emptyDir",
        [
            {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
            {"name": "conf", "configMap": {"name": "op-conf"}},
        ],
    ),
    "controller.nodeSelector": mapped(SAME, {"pool": "ops"}),
    "controller.affinity": mapped("the same (default here: instances spread over nodes)", NODE_AFFINITY),
    "controller.tolerations": mapped(SAME, [TOLERATION]),
    "controller.priorityClassName": mapped(SAME, "ops-critical"),
    "controller.podSecurityContext": mapped(
        "the same, over sparkfleet's (non-root, uid 65532)", {"fsGroup": 2000}
    ),
    "controller.topologySpreadConstraints": mapped(
        "the same; no labelSelector: the instances' selector labels", [SPREAD]
    ),
    "controller.hostUsers": mapped("the same (Kubernetes 1.30 or later)", False),
    "controller.env": mapped(SAME, [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}]),
    "controller.envFrom": mapped(SAME, [{"configMapRef": {"name": "op-env"}}]),
    "controller.volumeMounts": mapped(
        "the same; a mount at /tmp replaces sparkfleet's",
        [{"name": "tmp", "mountPath": "/tmp"}, {"name": "conf", "mountPath": "/etc/op", "readOnly": True}],
    ),
    "controller.resources": mapped(
        "the same ({}: sparkfleet's requests and limits)",
        {"requests": {"cpu": "500m", "memory": "384Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
    ),
    "controller.securityContext": mapped(
        "the same, over sparkfleet's (read-only root, no privilege)", {"runAsUser": 1001}
    ),
    "controller.sidecars": mapped("the same (containers after sparkfleet's)", [SIDECAR]),
    "controller.podDisruptionBudget.enable": mapped(
        "the same, made only with more than one instance (Kubeflow refuses to render one)", True
    ),
    "controller.podDisruptionBudget.minAvailable": mapped(SAME, 2),
    "controller.pprof.enable": refused("refused if true: no pprof endpoint (not a Go program)", True),
    "controller.pprof.port": accepted(NO_PPROF, 6061),
    "controller.pprof.portName": accepted(NO_PPROF, "debug"),
    "controller.workqueueRateLimiter.bucketQPS": mapped(SAME, 25),
    "controller.workqueueRateLimiter.bucketSize": mapped(SAME, 250),
    "controller.workqueueRateLimiter.maxDelay.enable": mapped(
        "the same; false: sparkfleet's cap (6h), Kubeflow had none", False
    ),
    "controller.workqueueRateLimiter.maxDelay.duration": mapped(SAME, "1h"),
    # -- webhook
    "webhook.enable": accepted("none needed: sparkfleet renders the pods (see notes)", False),
    "webhook.replicas": accepted(NO_WEBHOOK, 2),
    "webhook.revisionHistoryLimit": accepted(NO_WEBHOOK, 3),
    "webhook.leaderElection.enable": accepted(NO_WEBHOOK, False),
    "webhook.logLevel": accepted(NO_WEBHOOK, "debug"),
    "webhook.logEncoder": accepted(NO_WEBHOOK, "json"),
    "webhook.port": accepted(NO_WEBHOOK, 9444),
    "webhook.portName": accepted(NO_WEBHOOK, "hook"),
    "webhook.failurePolicy": accepted(NO_WEBHOOK, "Ignore"),
    "webhook.timeoutSeconds": accepted(NO_WEBHOOK, 20),
    "webhook.kubeAPIQPS": accepted(NO_WEBHOOK, 40),
    "webhook.kubeAPIBurst": accepted(NO_WEBHOOK, 60),
    "webhook.resourceQuotaEnforcement.enable": refused(
        "refused if true: no admission webhook (quotas bind pods)", True
    ),
    "webhook.serviceAccount.create": accepted(NO_WEBHOOK, False),
    "webhook.serviceAccount.name": accepted(NO_WEBHOOK, "kf-webhook"),
    "webhook.serviceAccount.annotations": accepted(NO_WEBHOOK, {"owner": "platform"}),
    "webhook.serviceAccount.automountServiceAccountToken": accepted(NO_WEBHOOK, False),
    "webhook.rbac.create": accepted(NO_WEBHOOK, False),
    "webhook.rbac.annotations": accepted(NO_WEBHOOK, {"owner": "platform"}),
    "webhook.labels": accepted(NO_WEBHOOK, {"tier": "ops"}),
    "webhook.annotations": accepted(NO_WEBHOOK, {"note": "migrated"}),
    "webhook.sidecars": accepted(NO_WEBHOOK, [SIDECAR]),
    "webhook.volumes": accepted(NO_WEBHOOK, [{"name": "certs", "emptyDir": {}}]),
    "webhook.nodeSelector": accepted(NO_WEBHOOK, {"pool": "ops"}),
    "webhook.affinity": accepted(NO_WEBHOOK, NODE_AFFINITY),
    "webhook.tolerations": accepted(NO_WEBHOOK, [TOLERATION]),
    "webhook.priorityClassName": accepted(NO_WEBHOOK, "ops-critical"),
    "webhook.podSecurityContext": accepted(NO_WEBHOOK, {"fsGroup": 2000}),
    "webhook.topologySpreadConstraints": accepted(NO_WEBHOOK, [SPREAD]),
    "webhook.hostUsers": accepted(NO_WEBHOOK, False),
    "webhook.env": accepted(NO_WEBHOOK, [{"name": "A", "value": "b"}]),
    "webhook.envFrom": accepted(NO_WEBHOOK, [{"configMapRef": {"name": "hook-env"}}]),
    "webhook.volumeMounts": accepted(NO_WEBHOOK, [{"name": "certs", "mountPath": "/certs"}]),
    "webhook.resources": accepted(NO_WEBHOOK, {"limits": {"cpu": "1"}}),
    "webhook.securityContext": accepted(NO_WEBHOOK, {"runAsUser": 1001}),
    "webhook.podDisruptionBudget.enable": accepted(NO_WEBHOOK, True),
    "webhook.podDisruptionBudget.minAvailable": accepted(NO_WEBHOOK, 2),
    # -- spark
    "spark.jobNamespaces": mapped('the same ([""]: every namespace); a fleet: one shard each', ["etl", "ml"]),
    "spark.jobNamespaceSelector": mapped(
        "the same, followed live; a fleet: a `selected` shard", "spark=enabled"
    ),
    "spark.serviceAccount.create": mapped(SAME, False),
    "spark.serviceAccount.name": mapped(
        "the same (default <fullname>-spark; see below)", "spark-operator-spark"
    ),
    "spark.serviceAccount.annotations": mapped(SAME, {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/s"}),
    "spark.serviceAccount.automountServiceAccountToken": mapped(SAME, False),
    "spark.rbac.create": mapped(SAME, False),
    "spark.rbac.annotations": mapped(SAME, {"owner": "data"}),
    # -- prometheus
    "prometheus.metrics.enable": mapped("the same: the metrics Service and scrape annotations", False),
    "prometheus.metrics.port": mapped("the same (probes are served there too)", 9090),
    "prometheus.metrics.portName": mapped(SAME, "prom"),
    "prometheus.metrics.endpoint": refused("refused but /metrics (the only path served)", "/prom"),
    "prometheus.metrics.prefix": mapped(SAME, "team_"),
    "prometheus.metrics.jobSubmitLatencyBuckets": mapped(SAME, "1,2,4"),
    "prometheus.metrics.jobStartLatencyBuckets": mapped(SAME, "10,20"),
    "prometheus.metrics.labels": mapped(
        "the same (empty: app_type), after namespace; bounded", "app_type,team"
    ),
    "prometheus.podMonitor.create": mapped("the same: a PodMonitor", True),
    "prometheus.podMonitor.labels": mapped(SAME, {"release": "prometheus"}),
    "prometheus.podMonitor.jobLabel": mapped(
        "the same (empty here: job <fullname>-metrics)", "app.kubernetes.io/name"
    ),
    "prometheus.podMonitor.podMetricsEndpoint.scheme": refused(
        "refused if https: metrics are plain HTTP", "https"
    ),
    "prometheus.podMonitor.podMetricsEndpoint.interval": mapped(SAME, "30s"),
    # -- certManager
    "certManager.enable": accepted(NO_CERT + " (the notes say so)", True),
    "certManager.issuerRef": accepted(
        NO_CERT, {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "ca"}
    ),
    "certManager.duration": accepted(NO_CERT, "2160h"),
    "certManager.renewBefore": accepted(NO_CERT, "720h"),
}


def kubeflow_defaults() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(KUBEFLOW_VALUES.read_text())
    return values


def leaves(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every leaf: a non-mapping, an empty mapping, or a path TABLE has whole."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in TABLE:
            yield from leaves(value, f"{path}.")
        else:
            yield path, value


def get(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for key in path.split("."):
        node = node[key]
    return node


def put(values: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = values
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = copy.deepcopy(value)


def with_values(changes: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Kubeflow's default values (or ``base``) with ``changes`` (path -> value) set."""
    values = copy.deepcopy(kubeflow_defaults() if base is None else base)
    for path, value in changes.items():
        put(values, path, value)
    return values


def loaded(*statuses: Status) -> dict[str, Any]:
    """Kubeflow's values with every entry of these statuses set to its ``loaded`` value."""
    return with_values(
        {path: v.loaded for path, v in TABLE.items() if v.status in statuses and v.loaded is not UNSET}
    )


def cell(value: Value) -> str:
    """What the guide says of a value: its status first (a refused value's text starts with it)."""
    if value.status == "refused":
        return value.here
    return f"{value.status}{', no effect' if value.status == 'accepted' else ''}: {value.here}"


# Loaded, these switch off what other loaded values set (a ServiceAccount's name, the leader Lease's
# timing, ...); the fully loaded test renders them off and on.
SWITCHES = (
    "controller.serviceAccount.create", "controller.rbac.create", "controller.leaderElection.enable",
    "controller.workqueueRateLimiter.maxDelay.enable", "spark.serviceAccount.create", "spark.rbac.create",
    "prometheus.metrics.enable",
)  # fmt: skip


def fully_loaded(*, switches_on: bool = False, fleet: bool = False) -> dict[str, Any]:
    """Kubeflow's values with every mapped and accepted value loaded (and refused ones where another
    value than the default is accepted), in classic mode (as Kubeflow runs) or as a fleet."""
    values = loaded("mapped", "accepted", "refused")
    for path in SWITCHES if switches_on else ():
        put(values, path, True)
    put(values, "fleet.enabled", fleet)
    return values


def markdown() -> str:
    """The "Helm values, side by side" section of the migration guide."""
    sections: dict[str, list[str]] = {}
    for path in TABLE:
        sections.setdefault(path.split(".")[0] if "." in path else "(top level)", []).append(path)
    lines = [
        SECTION,
        "",
        "Every value of Kubeflow's chart v2.5.2 (its full values file is",
        "`tests/fixtures/kubeflow-v2.5.2/chart-values.yaml`) and what sparkfleet's chart does with it:",
        "**mapped** (does here what it did there), **accepted** (valid, no effect here, and why) or",
        "**refused** (`helm install` and `helm template` stop with a message naming it and saying what to",
        "do; Kubeflow's default is accepted). That file installs as it is. `values.schema.json` refuses",
        "a value of another name or type, naming it. This section is generated from",
        "`tests/deploy/kubeflow_values.py`, which the chart's tests hold the chart to",
        "(`python -m tests.deploy.kubeflow_values` prints it).",
    ]
    for section, paths in sections.items():
        width = max(len(path) for path in paths) + 2
        text_width = max(len(cell(TABLE[path])) for path in paths)
        lines += ["", f"### {section}", ""]
        lines.append(f"| {'Kubeflow value'.ljust(width)} | {'here'.ljust(text_width)} |")
        lines.append(f"| {'-' * width} | {'-' * text_width} |")
        for path in paths:
            lines.append(f"| {f'`{path}`'.ljust(width)} | {cell(TABLE[path]).ljust(text_width)} |")
    lines += ["", "### What to look at in a migrating values file", "", *MIGRATION_NOTES]
    return "\n".join(lines) + "\n"


MIGRATION_NOTES = """\
- `image.*`: Kubeflow's file names Kubeflow's image; the pods run `sparkfleet run` and need
  sparkfleet's (the install notes say so). Set `image.registry`, `image.repository` and `image.tag`.
- `controller.kubeAPIQPS: 20` and `controller.kubeAPIBurst: 30` are Kubeflow's defaults, and here
  they cap sparkfleet at them (sparkfleet's own are 50 and 100): drop them to get sparkfleet's.
- `webhook.enable: true` installs nothing (the notes say so); Kubeflow's webhook configurations must
  go before sparkfleet submits (step 2 above).
- No `fleet:` block means a sharded fleet of `controller.replicas` instances, one shard per job
  namespace. `fleet.enabled: false` runs one leader-elected instance as Kubeflow did; its Lease is
  `<fullname>-controller-lock` as Kubeflow's, so with `fullnameOverride` set to Kubeflow's fullname
  the two exclude each other; otherwise stop Kubeflow's first (step 1).
- The drivers' ServiceAccount: applications name it (`spec.driver.serviceAccount`). Kubeflow's
  default is `<release>-spark-operator-spark` (`<release>-spark` when the release name contains
  `spark-operator`); sparkfleet's is `<fullname>-spark`. Set `spark.serviceAccount.name` to the name
  your applications use. While Kubeflow's release exists it owns that ServiceAccount and its Role
  (helm refuses to take them over): set `spark.serviceAccount.create` and `spark.rbac.create` to
  false. Uninstalling Kubeflow's release (step 5) deletes them, and with them the API access of
  drivers still running: do it only once no application uses them, or make them outside both.
- `prometheus.podMonitor.jobLabel: spark-operator-podmonitor` (Kubeflow's default) names a label the
  pods do not carry, so the job label is Prometheus's default; sparkfleet's alerts and dashboard
  select `job="<fullname>-metrics"`, which the PodMonitor sets when `jobLabel` is empty.
- `helm lint` does not fail on a refused value (helm only logs a template's `fail` when linting, as
  INFO with `--debug`); `helm template` and `helm install` stop on it. Schema errors fail all three.
""".splitlines()


def guide_section() -> str:
    """The section as the guide has it (up to the next section of the same level)."""
    text = GUIDE.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end + 1 if end != -1 else len(text)]


if __name__ == "__main__":
    print(markdown(), end="")
