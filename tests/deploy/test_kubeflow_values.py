"""A Kubeflow Spark Operator v2.5.2 values file installs sparkfleet's chart, and each of its values does
what tests/deploy/kubeflow_values.py says: mapped, accepted with no effect, or refused naming it.

Everything runs the real pinned helm; the install tests run it against the local control plane.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from sparkfleet.flags import parse_duration
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import NAMESPACES, SERVICEACCOUNTS
from sparkfleet.kubeflow_flags import translate
from sparkfleet.operator.spark.web_ui import parse_annotations, parse_tls
from sparkfleet.testing import ControlPlane
from tests.deploy.chart import CHART, RESOURCES, helm, helm_refuses, render, values_args
from tests.deploy.kubeflow_values import (
    KUBEFLOW_VALUES,
    NODE_AFFINITY,
    SIDECAR,
    SPREAD,
    TABLE,
    TOLERATION,
    UNSET,
    fully_loaded,
    get,
    guide_section,
    kubeflow_defaults,
    leaves,
    loaded,
    markdown,
    with_values,
)
from tests.support import run_params

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
RBAC_KINDS = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
GUIDE = "docs/migrating-from-kubeflow.md"
DEPLOYMENTS = RESOURCES["Deployment"]


def parsed(args: list[str]) -> dict[str, Any]:
    """What ``sparkfleet run`` reads from a Deployment's arguments: Kubeflow's flags translated as
    ``main`` translates them, then parsed by run's own parser (not run)."""
    assert args[0] == "run"
    return run_params(translate(args[1:]).argv)


@dataclass
class Rendered:
    docs: list[dict[str, Any]]

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        (doc,) = self.kind(kind)
        return doc

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def pod(self) -> dict[str, Any]:
        pod: dict[str, Any] = self.deployment["spec"]["template"]["spec"]
        return pod

    @property
    def pod_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = self.deployment["spec"]["template"]["metadata"]
        return meta

    @property
    def container(self) -> dict[str, Any]:
        container: dict[str, Any] = self.pod["containers"][0]
        assert container["name"] == "sparkfleet"
        return container

    @property
    def args(self) -> list[str]:
        args: list[str] = self.container["args"]
        return args

    @property
    def params(self) -> dict[str, Any]:
        return parsed(self.args)

    def named(self, kind: str, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [
            d
            for d in self.kind(kind)
            if d["metadata"]["name"] == name and namespace in (None, d["metadata"].get("namespace"))
        ]


def rendered(values: dict[str, Any], release: str = "rel", namespace: str = "spark-operator") -> Rendered:
    return Rendered(render(release, namespace, values=values))


# -- the table is complete and true to Kubeflow's file ----------------------------------------------


def test_every_value_of_kubeflows_file_is_in_the_table() -> None:
    """Walks every leaf of Kubeflow's values: none is forgotten, none in the table is not Kubeflow's."""
    paths = [path for path, _ in leaves(kubeflow_defaults())]
    assert len(paths) == len(set(paths))
    assert sorted(set(paths) - set(TABLE)) == [], "values of Kubeflow's chart the table does not classify"
    assert sorted(set(TABLE) - set(paths)) == [], "values in the table Kubeflow's chart does not have"
    defaults = kubeflow_defaults()
    for path, value in TABLE.items():
        assert value.here, path
        default = get(defaults, path)
        if value.status in ("mapped", "accepted"):
            assert value.loaded is not UNSET, f"{path}: no value loaded"
            assert value.loaded != default, f"{path}: the value loaded is Kubeflow's default"
        else:
            assert value.refused, f"{path}: refused, but no value to refuse"
            assert value.here.startswith("refused"), path
            assert default not in value.refused, f"{path}: Kubeflow's default is refused"


def test_the_guide_lists_every_value_as_the_table_says() -> None:
    assert guide_section() == markdown(), (
        f"{GUIDE} is out of date: replace its section with `python -m tests.deploy.kubeflow_values`"
    )


def test_the_schema_knows_every_value_of_both_charts() -> None:
    """Each leaf of sparkfleet's values.yaml and of Kubeflow's file has a schema (not just "anything")."""
    own = yaml.safe_load((CHART / "values.yaml").read_text())

    def schema_of(path: str) -> dict[str, Any]:
        node: dict[str, Any] = SCHEMA
        for key in path.split("."):
            assert node.get("additionalProperties") is False, f"{path}: {key}'s parent takes anything"
            assert key in node["properties"], f"{path}: the schema has no {key}"
            node = node["properties"][key]
        return node

    def own_leaves(values: dict[str, Any], prefix: str = "") -> list[str]:
        out: list[str] = []
        for key, value in values.items():
            path = f"{prefix}{key}"
            sub = schema_of(path)
            if isinstance(value, dict) and value and "properties" in sub:
                out += own_leaves(value, f"{path}.")
            else:
                out.append(path)
        return out

    checked = own_leaves(own) + [path for path, _ in leaves(kubeflow_defaults())]
    for path in checked:
        sub = schema_of(path)
        assert {"type", "enum", "oneOf"} & set(sub), f"{path}: the schema gives it no type"
    assert len(checked) > 200


READ = ["15s", "1m30s", "6h", "1.5h", "250ms", "10m0s", "2h45m"]
NOT_READ = ["15", "15 s", "-1s", "1d", ".5s", "1us", "", "s"]  # Go takes some; sparkfleet does not


@pytest.mark.parametrize("text", READ + NOT_READ)
def test_durations_the_schema_lets_through_are_the_ones_sparkfleet_parses(text: str) -> None:
    pattern = SCHEMA["properties"]["controller"]["properties"]["handoffTimeout"]["pattern"]
    assert bool(re.search(pattern, text)) == (text in READ)
    if text in READ:
        assert parse_duration(text) > 0


# -- Kubeflow's values file, unchanged ---------------------------------------------------------------


def test_kubeflows_values_file_lints_and_renders_as_kubeflow_ran() -> None:
    helm("lint", "--strict", str(CHART), "--values", str(KUBEFLOW_VALUES))
    for fleet in (True, False):
        r = rendered(with_values({"fleet.enabled": fleet}))
        params = r.params
        assert params["concurrent_syncs"] == 10
        assert (params["kube_api_qps"], params["kube_api_burst"]) == (20, 30)  # Kubeflow's, not sparkfleet's
        assert (params["log_level"], params["log_format"]) == ("info", "text")
        assert params["enable_ui_service"] is True
        assert params["max_tracked_executor_per_app"] == 1000
        assert params["workqueue_ratelimiter_max_delay"] == "6h"
        assert params["scheduled_spark_application_timestamp_precision"] == "nanos"
        assert params["driver_pod_creation_grace_period"] == "10s"
        assert params["metrics_bind_address"] == ":8080"
        assert translate(r.args[1:]).warnings == []
        assert r.deployment["spec"]["replicas"] == 1
        assert r.deployment["spec"]["revisionHistoryLimit"] == 10
        # Kubeflow's tmp volume and mount replace sparkfleet's (not two of each)
        assert r.pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]
        assert r.container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp", "readOnly": False}]
        assert r.pod["securityContext"]["fsGroup"] == 185
        assert r.pod["securityContext"]["runAsNonRoot"] is True
        assert r.container["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert r.container["resources"]["limits"]  # resources: {} keeps sparkfleet's
        assert r.kind("PodDisruptionBudget") == []
        assert r.pod_meta["annotations"]["prometheus.io/scrape"] == "true"
        if fleet:
            assert r.one("SparkFleet")["spec"]["shards"] == [{"name": "default", "namespaces": ["default"]}]
            assert params["leader_elect"] is False
        else:
            assert params["namespaces"] == ["default"]
            assert params["leader_elect"] is True
            assert (params["leader_election_lease_duration"], params["leader_election_renew_deadline"],
                    params["leader_election_retry_period"]) == ("15s", "10s", "2s")  # fmt: skip
        (spark_account,) = r.named("ServiceAccount", "rel-sparkfleet-spark")
        assert spark_account["metadata"]["namespace"] == "default"


# -- fully loaded: every mapped value does what it did in Kubeflow -----------------------------------

Check = Callable[[Rendered], bool]
FULL = "kf-fleet"  # fullnameOverride, loaded
SELECTOR = {"app.kubernetes.io/name": "sf", "app.kubernetes.io/instance": "rel"}  # nameOverride, loaded


def _param(name: str, value: Any) -> Check:
    return lambda r: r.params[name] == value


def _rbac_annotated(r: Rendered) -> bool:
    own = [d for d in r.docs if d["kind"] in RBAC_KINDS and d["metadata"]["name"].startswith(FULL)]
    return len(own) >= 4 and all(d["metadata"]["annotations"] == {"owner": "platform"} for d in own)


def _loaded(r: Rendered) -> bool:
    """The rendering is the loaded file's (so that a check of something absent means something)."""
    return bool(r.deployment["metadata"]["name"] == FULL)


def _ingress_granted(r: Rendered) -> bool:
    """The operator may create (and delete an earlier application's) Ingresses where it serves."""
    rule = {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingresses"],
        "verbs": ["get", "create", "update", "delete"],
    }
    own = [
        d for d in r.docs if d["kind"] in ("Role", "ClusterRole") and d["metadata"]["name"].startswith(FULL)
    ]
    return any(rule in d["rules"] for d in own)


def _podgroups_granted(r: Rendered) -> bool:
    """The operator may make the applications' PodGroups, Volcano's and the coscheduling plugin's."""
    rule = {
        "apiGroups": ["scheduling.volcano.sh", "scheduling.x-k8s.io"],
        "resources": ["podgroups"],
        "verbs": ["get", "create", "update", "delete"],
    }
    own = [
        d for d in r.docs if d["kind"] in ("Role", "ClusterRole") and d["metadata"]["name"].startswith(FULL)
    ]
    return any(rule in d["rules"] for d in own)


def _spark_accounts(r: Rendered) -> list[dict[str, Any]]:
    return r.named("ServiceAccount", "spark-operator-spark")


def _spark_rbac(r: Rendered) -> list[dict[str, Any]]:
    return [
        d
        for d in r.docs
        if d["kind"] in ("Role", "RoleBinding") and d["metadata"]["name"] == "spark-operator-spark"
    ]


# (variant, check): "off" renders the loaded values as they are; "on" with SWITCHES turned back on.
CHECKS: dict[str, tuple[str, Check]] = {
    "nameOverride": ("on", lambda r: r.deployment["metadata"]["labels"]["app.kubernetes.io/name"] == "sf"),
    "fullnameOverride": ("on", lambda r: r.deployment["metadata"]["name"] == FULL),
    "commonLabels": ("on", lambda r: all(d["metadata"]["labels"]["team"] == "data-platform" for d in r.docs)),
    "image.registry": ("on", lambda r: r.container["image"].startswith("registry.example.com/")),
    "image.repository": (
        "on",
        lambda r: r.container["image"].split("/", 1)[1].startswith("platform/sparkfleet:"),
    ),
    "image.tag": ("on", lambda r: r.container["image"] == "registry.example.com/platform/sparkfleet:1.2.3"),
    "image.pullPolicy": ("on", lambda r: r.container["imagePullPolicy"] == "Always"),
    "image.pullSecrets": ("on", lambda r: r.pod["imagePullSecrets"] == [{"name": "regcred"}]),
    "controller.replicas": ("on", lambda r: r.deployment["spec"]["replicas"] == 3),
    "controller.revisionHistoryLimit": ("on", lambda r: r.deployment["spec"]["revisionHistoryLimit"] == 3),
    "controller.leaderElection.enable": (
        "off",
        lambda r: r.params["leader_elect"] is False and not any("leader-elect" in a for a in r.args),
    ),
    "controller.leaderElection.leaseDuration": ("on", _param("leader_election_lease_duration", "30s")),
    "controller.leaderElection.renewDeadline": ("on", _param("leader_election_renew_deadline", "20s")),
    "controller.leaderElection.retryPeriod": ("on", _param("leader_election_retry_period", "4s")),
    "controller.workers": (
        "on",
        lambda r: "--controller-threads=7" in r.args and r.params["concurrent_syncs"] == 7,
    ),
    "controller.logLevel": ("on", _param("log_level", "warning")),
    "controller.logEncoder": ("on", _param("log_format", "json")),
    "controller.maxTrackedExecutorPerApp": ("on", _param("max_tracked_executor_per_app", 200)),
    "controller.kubeAPIQPS": ("on", _param("kube_api_qps", 40)),
    "controller.kubeAPIBurst": ("on", _param("kube_api_burst", 60)),
    "controller.scheduledSparkApplicationTimestampPrecision": (
        "on",
        _param("scheduled_spark_application_timestamp_precision", "seconds"),
    ),
    "controller.driverPodCreationGracePeriod": ("on", _param("driver_pod_creation_grace_period", "30s")),
    "controller.uiService.enable": ("on", _param("enable_ui_service", False)),
    "controller.uiIngress.enable": ("on", _ingress_granted),
    "controller.batchScheduler.enable": (
        "on",
        lambda r: r.params["enable_batch_scheduler"] and _podgroups_granted(r),
    ),
    "controller.batchScheduler.kubeSchedulerNames": ("on", _param("kube_scheduler_names", ["scheduler-a"])),
    "controller.batchScheduler.default": ("on", _param("default_batch_scheduler", "volcano")),
    "controller.uiIngress.urlFormat": ("on", _param("ingress_url_format", "{{$appName}}.spark.example.com")),
    "controller.uiIngress.ingressClassName": ("on", _param("ingress_class_name", "nginx")),
    "controller.uiIngress.tls": (
        "on",
        lambda r: (
            parse_tls(r.params["ingress_tls"]) == ({"hosts": ["*.spark.example.com"], "secretName": "tls"},)
        ),
    ),
    "controller.uiIngress.annotations": (
        "on",
        lambda r: (
            parse_annotations(r.params["ingress_annotations"]) == {"cert-manager.io/cluster-issuer": "le"}
        ),
    ),
    "controller.serviceAccount.create": (
        "off",
        lambda r: (
            r.named("ServiceAccount", "kf-operator") == [] and r.pod["serviceAccountName"] == "kf-operator"
        ),
    ),
    "controller.serviceAccount.name": (
        "on",
        lambda r: (
            len(r.named("ServiceAccount", "kf-operator", "spark-operator")) == 1
            and r.pod["serviceAccountName"] == "kf-operator"
            and all(
                subject["name"] == "kf-operator"
                for d in r.kind("RoleBinding")
                if d["metadata"]["name"].startswith(FULL)
                for subject in d["subjects"]
            )
        ),
    ),
    "controller.serviceAccount.annotations": (
        "on",
        lambda r: (
            r.named("ServiceAccount", "kf-operator")[0]["metadata"]["annotations"] == {"owner": "platform"}
        ),
    ),
    "controller.serviceAccount.automountServiceAccountToken": (
        "on",
        lambda r: (
            r.named("ServiceAccount", "kf-operator")[0]["automountServiceAccountToken"] is False
            and r.pod["automountServiceAccountToken"] is False
        ),
    ),
    "controller.rbac.create": (
        "off",
        lambda r: _loaded(r) and not [d for d in r.docs if d["kind"] in RBAC_KINDS],
    ),
    "controller.rbac.annotations": ("on", _rbac_annotated),
    "controller.labels": ("on", lambda r: r.pod_meta["labels"]["tier"] == "ops"),
    "controller.annotations": ("on", lambda r: r.pod_meta["annotations"]["note"] == "migrated"),
    "controller.volumes": ("on", lambda r: r.pod["volumes"] == TABLE["controller.volumes"].loaded),
    "controller.nodeSelector": ("on", lambda r: r.pod["nodeSelector"] == {"pool": "ops"}),
    "controller.affinity": ("on", lambda r: r.pod["affinity"] == NODE_AFFINITY),
    "controller.tolerations": ("on", lambda r: r.pod["tolerations"] == [TOLERATION]),
    "controller.priorityClassName": ("on", lambda r: r.pod["priorityClassName"] == "ops-critical"),
    "controller.podSecurityContext": (
        "on",
        lambda r: r.pod["securityContext"]["fsGroup"] == 2000 and r.pod["securityContext"]["runAsNonRoot"],
    ),
    "controller.topologySpreadConstraints": (
        "on",
        lambda r: (
            r.pod["topologySpreadConstraints"] == [{**SPREAD, "labelSelector": {"matchLabels": SELECTOR}}]
        ),
    ),
    "controller.hostUsers": ("on", lambda r: r.pod["hostUsers"] is False),
    "controller.env": (
        "on",
        lambda r: [e["name"] for e in r.container["env"]] == ["POD_NAME", "POD_NAMESPACE", "HTTPS_PROXY"],
    ),
    "controller.envFrom": ("on", lambda r: r.container["envFrom"] == [{"configMapRef": {"name": "op-env"}}]),
    "controller.volumeMounts": (
        "on",
        lambda r: r.container["volumeMounts"] == TABLE["controller.volumeMounts"].loaded,
    ),
    "controller.resources": (
        "on",
        lambda r: r.container["resources"] == TABLE["controller.resources"].loaded,
    ),
    "controller.securityContext": (
        "on",
        lambda r: (
            r.container["securityContext"]["runAsUser"] == 1001
            and r.container["securityContext"]["readOnlyRootFilesystem"] is True
        ),
    ),
    "controller.sidecars": ("on", lambda r: r.pod["containers"][1:] == [SIDECAR]),
    "controller.podDisruptionBudget.enable": ("on", lambda r: len(r.kind("PodDisruptionBudget")) == 1),
    "controller.podDisruptionBudget.minAvailable": (
        "on",
        lambda r: r.one("PodDisruptionBudget")["spec"]["minAvailable"] == 2,
    ),
    "controller.workqueueRateLimiter.bucketQPS": ("on", _param("workqueue_ratelimiter_bucket_qps", 25)),
    "controller.workqueueRateLimiter.bucketSize": ("on", _param("workqueue_ratelimiter_bucket_size", 250)),
    "controller.workqueueRateLimiter.maxDelay.enable": (
        "off",
        lambda r: not any(a.startswith("--workqueue-ratelimiter-max-delay") for a in r.args),
    ),
    "controller.workqueueRateLimiter.maxDelay.duration": (
        "on",
        _param("workqueue_ratelimiter_max_delay", "1h"),
    ),
    "spark.jobNamespaces": ("on", _param("namespaces", ["etl", "ml"])),
    "spark.serviceAccount.create": (
        "off",
        lambda r: (
            _loaded(r)
            and not [d for d in r.kind("ServiceAccount") if d["metadata"]["namespace"] != "spark-operator"]
        ),
    ),
    "spark.serviceAccount.name": (
        "on",
        lambda r: (
            {d["metadata"]["namespace"] for d in _spark_accounts(r)} == {"etl", "ml"}
            and len(_spark_rbac(r)) == 4
        ),
    ),
    "spark.serviceAccount.annotations": (
        "on",
        lambda r: (
            len(_spark_accounts(r)) == 2
            and all(
                d["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/s"}
                for d in _spark_accounts(r)
            )
        ),
    ),
    "spark.serviceAccount.automountServiceAccountToken": (
        "on",
        lambda r: (
            len(_spark_accounts(r)) == 2
            and all(d["automountServiceAccountToken"] is False for d in _spark_accounts(r))
        ),
    ),
    "spark.rbac.create": ("off", lambda r: _loaded(r) and not r.kind("Role") and not r.kind("RoleBinding")),
    "spark.rbac.annotations": (
        "on",
        lambda r: (
            len(_spark_rbac(r)) == 4
            and all(d["metadata"]["annotations"] == {"owner": "data"} for d in _spark_rbac(r))
        ),
    ),
    "prometheus.metrics.enable": (
        "off",
        lambda r: (
            r.kind("Service") == []
            and not any(k.startswith("prometheus.io/") for k in r.pod_meta.get("annotations", {}))
        ),
    ),
    "prometheus.metrics.port": (
        "on",
        lambda r: (
            r.params["metrics_bind_address"] == ":9090"
            and r.container["ports"][0]["containerPort"] == 9090
            and r.pod_meta["annotations"]["prometheus.io/port"] == "9090"
            and r.one("Service")["spec"]["ports"][0]["port"] == 9090
        ),
    ),
    "prometheus.metrics.portName": (
        "on",
        lambda r: (
            r.container["ports"][0]["name"] == "prom"
            and r.container["livenessProbe"]["httpGet"]["port"] == "prom"
            and r.one("Service")["spec"]["ports"][0]["targetPort"] == "prom"
            and r.one("PodMonitor")["spec"]["podMetricsEndpoints"][0]["port"] == "prom"
        ),
    ),
    "spark.jobNamespaceSelector": (
        "on",
        lambda r: (
            r.params["namespace_selector"] == "spark=enabled"
            and r.params["namespaces"] == ["etl", "ml"]
            and len(r.named("ClusterRole", f"{FULL}-namespace-selector")) == 1
            and {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}
            in r.named("ClusterRole", f"{FULL}-namespace-selector")[0]["rules"]
        ),
    ),
    "prometheus.metrics.prefix": ("on", _param("metrics_prefix", "team_")),
    "prometheus.metrics.jobSubmitLatencyBuckets": (
        "on",
        _param("metrics_job_submit_latency_buckets", "1,2,4"),
    ),
    "prometheus.metrics.jobStartLatencyBuckets": ("on", _param("metrics_job_start_latency_buckets", "10,20")),
    "prometheus.metrics.labels": ("on", _param("metrics_labels", ["app_type,team"])),
    "prometheus.podMonitor.create": ("off", lambda r: len(r.kind("PodMonitor")) == 1),
    "prometheus.podMonitor.labels": (
        "on",
        lambda r: r.one("PodMonitor")["metadata"]["labels"]["release"] == "prometheus",
    ),
    "prometheus.podMonitor.jobLabel": (
        "on",
        lambda r: (
            r.one("PodMonitor")["spec"]["jobLabel"] == "app.kubernetes.io/name"
            and "relabelings" not in r.one("PodMonitor")["spec"]["podMetricsEndpoints"][0]
        ),
    ),
    "prometheus.podMonitor.podMetricsEndpoint.interval": (
        "on",
        lambda r: r.one("PodMonitor")["spec"]["podMetricsEndpoints"][0]["interval"] == "30s",
    ),
}


def test_every_mapped_value_has_a_check() -> None:
    assert sorted(CHECKS) == sorted(p for p, v in TABLE.items() if v.status == "mapped")


def test_a_fully_loaded_kubeflow_values_file_renders_to_what_each_value_means() -> None:
    variants = {"off": rendered(fully_loaded()), "on": rendered(fully_loaded(switches_on=True))}
    failed = [path for path, (variant, check) in CHECKS.items() if not check(variants[variant])]
    assert failed == [], f"these values do not render as the table says: {failed}"
    # Every argument is one `sparkfleet run` reads (parsed() would raise on one it did not).
    for r in variants.values():
        assert r.params["fleet"] is None  # classic mode, as Kubeflow runs
        assert translate(r.args[1:]).warnings == []  # the chart passes only flags sparkfleet acts on


def test_a_fully_loaded_file_as_a_fleet() -> None:
    r = rendered(fully_loaded(switches_on=True, fleet=True))
    assert r.one("SparkFleet")["spec"]["shards"] == [
        {"name": "etl", "namespaces": ["etl"]},
        {"name": "ml", "namespaces": ["ml"]},
        {"name": "selected", "namespaceSelector": "spark=enabled"},
    ]
    assert "jobNamespaces" not in r.one("SparkFleet")["spec"]  # the selector adds namespaces: unbounded
    params = r.params
    assert params["fleet"] == FULL
    assert params["leader_elect"] is False
    assert not any("leader-election" in a for a in r.args)
    assert params["concurrent_syncs"] == 7
    assert params["kube_api_qps"] == 40
    # The members', shards' and coordinator's Leases, in the release's namespace.
    (role,) = r.named("Role", FULL, "spark-operator")
    assert {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
            "verbs": ["get", "list", "watch", "create", "update", "delete"]} in role["rules"]  # fmt: skip


def test_values_kubeflow_reads_but_sparkfleet_has_no_use_for_change_nothing() -> None:
    """Each accepted value (and each refused one at a value other than its default that is accepted),
    all loaded at once, renders exactly what Kubeflow's default file renders."""
    assert rendered(loaded("accepted", "refused")).docs == rendered(kubeflow_defaults()).docs
    # not vacuous: most values are accepted (fewer as features become mapped: 50 after issue 19)
    assert len([v for v in TABLE.values() if v.status == "accepted"]) >= 40


# -- refused ------------------------------------------------------------------------------------------


REFUSALS = [
    pytest.param(path, value, id=f"{path}={json.dumps(value)}")
    for path, entry in TABLE.items()
    if entry.status == "refused"
    for value in entry.refused
]


def template_refuses(values: dict[str, Any]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
        return helm_refuses("template", "rel", str(CHART), *values_args((), values, extra))


@pytest.mark.parametrize(("path", "value"), REFUSALS)
def test_a_kubeflow_value_asking_for_what_sparkfleet_does_not_do_is_refused_naming_it(
    path: str, value: Any
) -> None:
    said = template_refuses(with_values({path: value}))
    assert "These Kubeflow Spark Operator values ask for what sparkfleet does not do:" in said
    (line,) = [ln for ln in said.splitlines() if ln.startswith(f"- {path}")]  # one line, naming it
    if isinstance(value, list):
        (gate,) = [g["name"] for g in value if g["enabled"]]
        assert line.startswith(f"- {path} {gate}=true: ")
    else:
        assert line.startswith(f"- {path}={json.dumps(value)}: ")
    assert GUIDE in said
    # (helm lint renders templates in a mode where `fail` is only logged: helm template and install refuse)


def test_every_refused_value_is_named_in_one_message() -> None:
    everything = with_values({path: v.refused[0] for path, v in TABLE.items() if v.status == "refused"})
    everything["controller"]["featureGates"] = [  # both gates on: both named
        {"name": "PartialRestart", "enabled": True}, {"name": "LoadSparkDefaults", "enabled": True},
    ]  # fmt: skip
    said = template_refuses(everything)
    named = [ln for ln in said.splitlines() if ln.startswith("- ")]
    refused_paths = {p for p, v in TABLE.items() if v.status == "refused"}
    assert {re.sub(r"[ =].*", "", ln[2:]) for ln in named} == refused_paths
    assert len(named) == len(refused_paths) + 1  # two gates


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"controller": {"replcas": 3}}, "at '/controller': additional properties 'replcas' not allowed"),
        (
            {"sparkJobNamespace": "spark"},
            "additional properties 'sparkJobNamespace' not allowed",
        ),  # Kubeflow v1
        ({"webhook": {"enabled": False}}, "at '/webhook': additional properties 'enabled' not allowed"),
        (
            {"controller": {"uiIngress": {"enabled": True}}},
            "at '/controller/uiIngress': additional properties",
        ),
        (
            {"fleet": {"lease": {"durationSecond": 30}}},
            "at '/fleet/lease': additional properties 'durationSecond'",
        ),
        ({"controller": {"replicas": -1}}, "at '/controller/replicas': minimum: got -1, want 0"),
        ({"controller": {"workers": 0}}, "at '/controller/workers': minimum: got 0, want 1"),
        ({"controller": {"logLevel": "verbose"}}, "at '/controller/logLevel': value must be one of"),
        ({"controller": {"logEncoder": "text"}}, "at '/controller/logEncoder': value must be one of"),
        (
            {"controller": {"leaderElection": {"leaseDuration": "15"}}},
            "at '/controller/leaderElection/leaseDuration'",
        ),
        ({"controller": {"handoffTimeout": 10}}, "at '/controller/handoffTimeout': got number, want string"),
        (
            {"controller": {"workqueueRateLimiter": {"maxDelay": {"duration": "1d"}}}},
            "at '/controller/workqueueRateLimiter/maxDelay/duration'",
        ),
        (
            {"controller": {"featureGates": [{"name": "Partial", "enabled": False}]}},
            "at '/controller/featureGates/0/name'",
        ),
        (
            {"controller": {"scheduledSparkApplicationTimestampPrecision": "hours"}},
            "at '/controller/scheduledSparkApplicationTimestampPrecision'",
        ),
        ({"controller": {"kubeAPIQPS": "fast"}}, "at '/controller/kubeAPIQPS'"),
        (
            {"controller": {"volumeMounts": [{"name": "tmp"}]}},
            "at '/controller/volumeMounts/0': missing property 'mountPath'",
        ),
        ({"image": {"tag": 2.5}}, "at '/image/tag': got number, want string"),
        ({"spark": {"jobNamespaces": ["Team_A"]}}, "at '/spark/jobNamespaces/0'"),
        (
            {"fleet": {"lease": {"durationSeconds": 1}}},
            "at '/fleet/lease/durationSeconds': minimum: got 1, want 2",
        ),
        (
            {"fleet": {"shards": [{"name": "a", "namespace": ["a"]}]}},
            "at '/fleet/shards/0': additional properties",
        ),
        ({"prometheus": {"metrics": {"port": 70000}}}, "at '/prometheus/metrics/port': maximum"),
        (
            {"prometheus": {"serviceMonitor": {"interval": "15 s"}}},
            "at '/prometheus/serviceMonitor/interval'",
        ),
        ({"webhook": {"timeoutSeconds": 60}}, "at '/webhook/timeoutSeconds': maximum: got 60, want 30"),
    ],
    ids=lambda v: json.dumps(v)[:60] if isinstance(v, dict) else "",
)
def test_a_typo_or_a_bad_value_is_refused_by_the_schema_naming_it(values: dict[str, Any], named: str) -> None:
    said = template_refuses(values)
    assert "values don't meet the specifications of the schema(s)" in said
    assert named in said
    # Kubeflow's file plus the same mistake: the same refusal
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
        assert named in helm_refuses(
            "template", "rel", str(CHART), *values_args((KUBEFLOW_VALUES,), values, extra)
        )


def test_host_users_is_set_as_kubeflows_chart_sets_it() -> None:
    assert Rendered(render("rel", "ops", values={"controller": {"hostUsers": True}})).pod["hostUsers"] is True
    assert "hostUsers" not in Rendered(render("rel", "ops")).pod  # null: not set
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
        out = helm(
            "template", "rel", str(CHART), "--kube-version", "1.29.0",
            *values_args((), {"controller": {"hostUsers": False}}, extra),
        )  # fmt: skip
    (deployment,) = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Deployment"]
    assert "hostUsers" not in deployment["spec"]["template"]["spec"]  # before 1.30, as Kubeflow's chart


# -- helm install against the API server ------------------------------------------------------------


async def test_kubeflows_values_file_installs_and_the_notes_say_what_it_means_here(
    control_plane: ControlPlane, kube: KubeClient
) -> None:
    await control_plane.install_crds(sorted((CHART / "crds").glob("*.yaml")))
    release = f"kf{uuid.uuid4().hex[:5]}"
    namespace = f"{release}-ops"
    kubeconfig = str(control_plane.kubeconfig)
    try:
        out = helm(
            "install", release, str(CHART), "--kubeconfig", kubeconfig, "--namespace", namespace,
            "--create-namespace", "--skip-crds", "--values", str(KUBEFLOW_VALUES),
        )  # fmt: skip
        assert "STATUS: deployed" in out
        notes = out[out.index("NOTES:") :]
        assert "webhook.enable is true: no webhook is installed, none is needed" in notes
        assert "delete them before sparkfleet submits" in notes
        assert ": 1 instance sharing 1 shard." in notes  # Kubeflow's one replica, its one job namespace
        assert (
            "image.repository is Kubeflow's image:\n    ghcr.io/kubeflow/spark-operator/controller:0.1.0\n"
            in notes
        )
        assert "certManager.enable" not in notes  # false in Kubeflow's file
        deployment = await kube.get(DEPLOYMENTS, f"{release}-sparkfleet", namespace)
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert "--kube-api-qps=20" in args
        assert "--log-format=text" in args
        spark_account = await kube.get(SERVICEACCOUNTS, f"{release}-sparkfleet-spark", "default")
        assert spark_account["automountServiceAccountToken"] is True

        # A refused value: helm install stops before it writes anything, naming the value.
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
            said = helm_refuses(
                "install", f"{release}-x", str(CHART), "--kubeconfig", kubeconfig, "--namespace", namespace,
                "--skip-crds", *values_args((KUBEFLOW_VALUES,), {"controller": {"pprof": {"enable": True}}}, extra),
            )  # fmt: skip
        assert "- controller.pprof.enable=true: sparkfleet is not a Go program" in said
        assert GUIDE in said
        listed = helm("list", "--kubeconfig", kubeconfig, "--namespace", namespace, "--short")
        assert listed.split() == [release]
        with pytest.raises(ApiError) as missing:
            await kube.get(DEPLOYMENTS, f"{release}-x-sparkfleet", namespace)
        assert missing.value.is_not_found
    finally:
        helm("uninstall", release, "--kubeconfig", kubeconfig, "--namespace", namespace, "--ignore-not-found")
        try:
            await kube.delete(NAMESPACES, namespace)
        except ApiError as exc:
            if not exc.is_not_found:
                raise
    with pytest.raises(ApiError) as gone:
        await kube.get(SERVICEACCOUNTS, f"{release}-sparkfleet-spark", "default")
    assert gone.value.is_not_found


# -- sparkfleet's own defaults under the new values --------------------------------------------------


@pytest.mark.parametrize(
    ("level", "read"),
    [("debug", "debug"), ("info", "info"), ("warn", "warning"), ("warning", "warning"), ("error", "error"),
     ("dpanic", "error"), ("panic", "error"), ("fatal", "error")],
)  # fmt: skip
def test_zap_log_levels_are_read_as_sparkfleets(level: str, read: str) -> None:
    assert rendered({"controller": {"logLevel": level}}).params["log_level"] == read


def test_the_built_in_tmp_stays_unless_the_values_bring_their_own() -> None:
    r = rendered({"controller": {"volumes": [{"name": "conf", "configMap": {"name": "c"}}],
                                 "volumeMounts": [{"name": "conf", "mountPath": "/etc/op"}]}})  # fmt: skip
    assert [v["name"] for v in r.pod["volumes"]] == ["tmp", "conf"]
    assert r.pod["volumes"][0] == {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}
    assert [(m["name"], m["mountPath"]) for m in r.container["volumeMounts"]] == [
        ("tmp", "/tmp"),
        ("conf", "/etc/op"),
    ]
    # a /tmp of their own (another volume): it is mounted there instead of the built-in one
    r = rendered({"controller": {"volumes": [{"name": "scratch", "emptyDir": {}}],
                                 "volumeMounts": [{"name": "scratch", "mountPath": "/tmp/"}]}})  # fmt: skip
    assert r.container["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp/"}]


def test_sparkfleets_pod_monitor_scrapes_under_the_job_the_alerts_select() -> None:
    r = rendered({"prometheus": {"podMonitor": {"create": True}, "prometheusRule": {"create": True}}})
    (endpoint,) = r.one("PodMonitor")["spec"]["podMetricsEndpoints"]
    assert endpoint["relabelings"] == [{"targetLabel": "job", "replacement": "rel-sparkfleet-metrics"}]
    assert "jobLabel" not in r.one("PodMonitor")["spec"]
    exprs = [rule["expr"] for g in r.one("PrometheusRule")["spec"]["groups"] for rule in g["rules"]]
    assert all('job="rel-sparkfleet-metrics"' in e for e in exprs)
    assert (
        r.one("PodMonitor")["spec"]["selector"]["matchLabels"]
        == r.deployment["spec"]["selector"]["matchLabels"]
    )


def test_max_tracked_executors_zero_means_the_default_as_in_kubeflows_chart() -> None:
    """Kubeflow's chart passes --max-tracked-executor-per-app only when the value is set and not 0."""
    assert (
        rendered({"controller": {"maxTrackedExecutorPerApp": 0}}).params["max_tracked_executor_per_app"]
        == 1000
    )
    assert (
        rendered({"controller": {"maxTrackedExecutorPerApp": 7}}).params["max_tracked_executor_per_app"] == 7
    )


def test_the_leader_lease_has_kubeflows_name_for_it() -> None:
    classic = rendered({"fullnameOverride": "spark-operator", "fleet": {"enabled": False}})
    assert classic.params["leader_election_lock_name"] == "spark-operator-controller-lock"
