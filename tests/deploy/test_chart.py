"""The Helm chart: lint, render (default and every example), and the API server's word on what it renders."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import CRDS, NAMESPACES
from sparkfleet.testing import ControlPlane
from tests.deploy import kubeflow_values
from tests.deploy.chart import (
    CHART,
    EXAMPLES,
    ROOT,
    apply,
    example_values,
    helm,
    merge,
    metric_names,
    namespaces_of,
    notes,
    render,
)
from tests.deploy.kubeflow_values import KUBEFLOW_VALUES
from tests.support import run_params

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"}
CASES = [pytest.param((), id="default")] + [pytest.param((p,), id=p.name) for p in example_values()]
EVERYTHING = {
    "prometheus": {
        "serviceMonitor": {"create": True},
        "prometheusRule": {"create": True},
        "dashboard": {"create": True},
    }
}


def test_lint_default_and_examples() -> None:
    helm("lint", "--strict", str(CHART))
    for values in example_values():
        helm("lint", "--strict", str(CHART), "--values", str(values))


def test_chart_crds_are_the_generated_ones() -> None:
    for crd in sorted((ROOT / "deploy" / "crds").glob("*.yaml")):
        assert (CHART / "crds" / crd.name).read_text() == crd.read_text(), (
            f"run `make crds`: {crd.name} differs"
        )


@pytest.mark.parametrize("values", CASES)
def test_template(values: tuple[Path, ...]) -> None:
    docs = render("rel", "spark-operator", values)
    kinds = [d["kind"] for d in docs]
    for doc in docs:
        if doc["kind"] in CLUSTER_SCOPED:
            assert "rel" in doc["metadata"]["name"], (
                f"{doc['kind']} {doc['metadata']['name']} lacks the release name"
            )
            assert "namespace" not in doc["metadata"]
        else:
            assert doc["metadata"].get("namespace"), (
                f"{doc['kind']} {doc['metadata']['name']} has no namespace"
            )
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    assert pod["terminationGracePeriodSeconds"] >= 40  # hand-offs + the last in-flight reconciles
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in container["env"]
    if "SparkFleet" in kinds:
        assert "--identity=$(POD_NAME)" in container["args"]
        assert not any(a.startswith("--leader-elect") for a in container["args"])
    else:
        assert "--leader-elect" in container["args"]
    assert "--max-application-bytes=524288" in container["args"]  # a tenant's objects are bounded
    assert "PodDisruptionBudget" in kinds
    assert "ServiceAccount" in kinds


def test_values_mirror_the_spark_operator() -> None:
    docs = render(
        "rel",
        "ops",
        values={
            "controller": {
                "workers": 33,
                "workqueueRateLimiter": {"bucketQPS": 7, "bucketSize": 70, "maxDelay": {"duration": "1h"}},
                "kubeAPI": {"qps": 11, "burst": 22},
                "uiService": {"enable": False},
                "logEncoder": "console",
            },
            "prometheus": {"metrics": {"port": 9100, "prefix": "team_a_"}},
            "spark": {"jobNamespaces": ["a", "b"]},
        },
    )
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    for expected in (
        "--controller-threads=33", "--workqueue-ratelimiter-bucket-qps=7", "--workqueue-ratelimiter-bucket-size=70",
        "--workqueue-ratelimiter-max-delay=1h", "--kube-api-qps=11", "--kube-api-burst=22",
        "--no-enable-ui-service", "--metrics-bind-address=:9100", "--metrics-prefix=team_a_", "--log-format=text",
    ):  # fmt: skip
        assert expected in args
    (fleet,) = [d for d in docs if d["kind"] == "SparkFleet"]
    assert fleet["spec"]["shards"] == [{"name": "a", "namespaces": ["a"]}, {"name": "b", "namespaces": ["b"]}]


def test_pod_security_values_become_flags_the_cli_accepts() -> None:
    def args_of(values: dict[str, Any]) -> list[str]:
        (deployment,) = [d for d in render("rel", "ops", values=values) if d["kind"] == "Deployment"]
        return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])

    assert not any(a.startswith(("--pod-security", "--allowed-service-accounts")) for a in args_of({}))
    values = {
        "controller": {"podSecurity": {"level": "baseline", "allowedServiceAccounts": ["spark", "etl"]}}
    }
    args = args_of(values)
    assert "--pod-security=baseline" in args
    assert "--allowed-service-accounts=spark,etl" in args
    params = run_params([a for a in args if a.startswith(("--pod-security", "--allowed-service-accounts"))])
    assert (params["pod_security"], params["allowed_service_accounts"]) == ("baseline", ["spark,etl"])
    with pytest.raises(AssertionError, match="podSecurity"):
        render("rel", "ops", values={"controller": {"podSecurity": {"level": "restricted"}}})


def test_resource_bounds_and_the_quota_check_reach_the_flags() -> None:
    def args(values: dict[str, object]) -> list[str]:
        (deployment,) = [d for d in render("rel", "ops", values=values) if d["kind"] == "Deployment"]
        found: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        return found

    default = args({})
    assert not [a for a in default if a.startswith("--max-executor") or a.startswith("--max-driver")]
    assert "--no-resource-quota-check" not in default
    bounded = args({"controller": {"resourceQuotaCheck": False, "bounds": {
        "maxExecutors": 50, "maxExecutorCores": "8", "maxExecutorMemory": "64Gi",
        "maxDriverCores": "4", "maxDriverMemory": "16Gi"}}})  # fmt: skip
    for expected in (
        "--max-executors=50", "--max-executor-cores=8", "--max-executor-memory=64Gi",
        "--max-driver-cores=4", "--max-driver-memory=16Gi", "--no-resource-quota-check",
    ):  # fmt: skip
        assert expected in bounded


def test_releases_side_by_side_never_collide() -> None:
    """Two teams, and a routed fleet, in one cluster: no object of one release has the name of another's."""
    seen: dict[tuple[str, str, str], str] = {}
    for release, namespace, values in (
        ("team-a", "team-a-spark", EXAMPLES / "team-a.values.yaml"),
        ("team-b", "team-b-spark", EXAMPLES / "team-b.values.yaml"),
        ("routed", "spark-routed", EXAMPLES / "routed.values.yaml"),
    ):
        for doc in render(release, namespace, (values,), EVERYTHING):
            key = (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
            assert key not in seen, f"{key} is rendered by both {seen[key]} and {release}"
            seen[key] = release


def test_rbac_is_namespaced_unless_shards_watch_across_namespaces() -> None:
    team = render("team-a", "team-a-spark", (EXAMPLES / "team-a.values.yaml",))
    cluster_roles = {d["metadata"]["name"]: d for d in team if d["kind"] == "ClusterRole"}
    # Only the read-only view of SparkFleets (for the Overlap check) is cluster-wide.
    assert list(cluster_roles) == ["team-a-sparkfleet-fleets"]
    assert cluster_roles["team-a-sparkfleet-fleets"]["rules"] == [
        {"apiGroups": ["sparkfleet.io"], "resources": ["sparkfleets"], "verbs": ["list", "watch"]}
    ]
    job_roles = {
        d["metadata"]["namespace"]
        for d in team
        if d["kind"] == "Role" and d["metadata"]["name"].endswith("-jobs")
    }
    assert job_roles == {"team-a", "team-a-batch", "team-a-streaming"}
    for doc in team:
        for rule in doc.get("rules") or []:
            assert "*" not in rule["verbs"], doc["metadata"]["name"]
            assert "*" not in rule["resources"], doc["metadata"]["name"]
            assert "secrets" not in rule["resources"]
    # A label-routed fleet with job namespaces is bounded by them: namespaced Roles only.
    routed = render("routed", "spark-routed", (EXAMPLES / "routed.values.yaml",))
    assert {d["metadata"]["name"] for d in routed if d["kind"] == "ClusterRole"} == {
        "routed-sparkfleet-fleets"
    }
    (fleet,) = [d for d in routed if d["kind"] == "SparkFleet"]
    assert fleet["spec"]["jobNamespaces"] == ["spark-jobs"]
    assert {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in routed if d["kind"] == "Role"} >= {
        ("spark-jobs", "routed-sparkfleet-jobs")
    }
    # Without job namespaces it routes across every namespace, and only then are the job rules cluster-wide.
    everywhere = render(
        "routed", "spark-routed", (EXAMPLES / "routed.values.yaml",), {"spark": {"jobNamespaces": []}}
    )
    assert {d["metadata"]["name"] for d in everywhere if d["kind"] == "ClusterRole"} == {
        "routed-sparkfleet-fleets",
        "routed-sparkfleet-jobs",
    }
    (fleet,) = [d for d in everywhere if d["kind"] == "SparkFleet"]
    assert "jobNamespaces" not in fleet["spec"]
    # A catch-all (the default with no job namespaces) likewise; with them, namespace shards as before.
    named = render("t", "ops", values={"spark": {"jobNamespaces": ["a", "b"]}, "fleet": {"shards": [
        {"name": "a", "namespaces": ["a"]}, {"name": "rest", "catchAll": True}]}})  # fmt: skip
    assert [d["metadata"]["name"] for d in named if d["kind"] == "ClusterRole"] == ["t-sparkfleet-fleets"]
    (fleet,) = [d for d in named if d["kind"] == "SparkFleet"]
    assert fleet["spec"]["jobNamespaces"] == ["a", "b"]
    # Every namespace (spark.jobNamespaces: []) with a named shard and a catch-all: the catch-all takes
    # every other namespace of the cluster, unbounded, with cluster-wide job rules.
    rest = render("t", "ops", values={"spark": {"jobNamespaces": []}, "fleet": {"shards": [
        {"name": "a", "namespaces": ["a"]}, {"name": "rest", "catchAll": True}]}})  # fmt: skip
    assert sorted(d["metadata"]["name"] for d in rest if d["kind"] == "ClusterRole") == [
        "t-sparkfleet-fleets", "t-sparkfleet-jobs"]  # fmt: skip
    (fleet,) = [d for d in rest if d["kind"] == "SparkFleet"]
    assert "jobNamespaces" not in fleet["spec"]
    # ... and with namespace shards only, Roles in the namespaces they name
    only_named = render("t", "ops", values={"spark": {"jobNamespaces": []}, "fleet": {"shards": [
        {"name": "a", "namespaces": ["a"]}]}})  # fmt: skip
    assert [d["metadata"]["name"] for d in only_named if d["kind"] == "ClusterRole"] == [
        "t-sparkfleet-fleets"
    ]
    assert [
        d["metadata"]["namespace"]
        for d in only_named
        if d["kind"] == "Role" and "jobs" in d["metadata"]["name"]
    ] == ["a"]


def test_alerts_and_dashboard_are_rendered_when_asked() -> None:
    # What the alerts mean (each fires on its series after its `for`, and only for this release's
    # job and namespace) and that the dashboard's PromQL parses is judged by promtool: test_promtool.py.
    docs = render("rel", "ops", values=EVERYTHING)
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["metadata"]["namespace"] == "ops"
    assert "__SELECTOR__" not in json.dumps(rule)
    (dashboard,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")
    ]
    board = json.loads(dashboard["data"]["sparkfleet.json"])
    assert board == json.loads((CHART / "files" / "dashboard.json").read_text())


def dashboard_exprs(board: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets") or []]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict) and query.get("query", "").startswith("label_values("):
            exprs.append(query["query"].removeprefix("label_values(").split(",")[0])
    return exprs


async def test_every_rendered_manifest_passes_server_side_dry_run(
    control_plane: ControlPlane, kube: KubeClient
) -> None:
    """Default and every example, with CRDs, ServiceMonitor, PrometheusRule and dashboard on; Kubeflow's
    values file as it is, and fully loaded (classic mode and fleet, PodMonitor included)."""
    stubs = Path(__file__).with_name("monitoring-crds.yaml")
    await control_plane.install_crds([stubs, *sorted((CHART / "crds").glob("*.yaml"))])
    created: list[str] = []
    checked: dict[str, int] = {}
    cases: list[tuple[str, tuple[Path, ...], dict[str, Any]]] = [
        ("default", (), EVERYTHING),
        *((p.name, (p,), EVERYTHING) for p in example_values()),
        ("kubeflow", (KUBEFLOW_VALUES,), EVERYTHING),
        ("kubeflow-loaded", (), merge(kubeflow_values.fully_loaded(switches_on=True), EVERYTHING)),
        (
            "kubeflow-loaded-fleet",
            (),
            merge(kubeflow_values.fully_loaded(switches_on=True, fleet=True), EVERYTHING),
        ),
    ]
    try:
        for name, files, values in cases:
            release = f"dry-{uuid.uuid4().hex[:5]}"
            namespace = f"{release}-ops"
            docs = render(release, namespace, files, values, include_crds=True)
            for ns in sorted(namespaces_of(docs)):
                try:
                    await kube.get(NAMESPACES, ns)
                except ApiError as exc:
                    if not exc.is_not_found:
                        raise
                    await control_plane.create_namespace(ns)
                    created.append(ns)
            for doc in docs:
                try:
                    await apply(kube, doc, dry_run=True)
                except ApiError as exc:
                    raise AssertionError(
                        f"{name}: {doc['kind']} {doc['metadata']['name']} refused: {exc}\n{yaml.safe_dump(doc)}"
                    ) from exc
            checked[name] = len(docs)
            # a dry run stores nothing
            for doc in docs:
                if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                    with pytest.raises(ApiError) as missing:
                        await kube.request(
                            "GET",
                            f"/apis/rbac.authorization.k8s.io/v1/{doc['kind'].lower()}s/{doc['metadata']['name']}",
                        )
                    assert missing.value.status == 404
    finally:
        for ns in created:
            try:
                await kube.delete(NAMESPACES, ns)
            except ApiError as exc:
                if not exc.is_not_found:
                    raise
        for crd in ("servicemonitors", "podmonitors", "prometheusrules"):
            await kube.delete(CRDS, f"{crd}.monitoring.coreos.com")
    assert set(checked) == {name for name, _, _ in cases}
    assert all(count >= 10 for count in checked.values()), checked


def test_the_hpa_reads_the_metric_the_adapter_rule_serves() -> None:
    docs = render("rel", "ops", (EXAMPLES / "autoscaling.values.yaml",))
    (hpa,) = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    adapter = yaml.safe_load((EXAMPLES / "prometheus-adapter-rules.yaml").read_text())
    (rule,) = adapter["rules"]["custom"]
    assert rule["name"]["as"] == metric["pods"]["metric"]["name"] == "workqueue_depth"
    assert metric_names(rule["seriesQuery"]) == {"workqueue_depth"}
    assert hpa["spec"]["scaleTargetRef"]["name"] == "rel-sparkfleet"
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert "replicas" not in deployment["spec"]  # the HPA owns it
    cronjobs = [d for d in docs if d["kind"] == "CronJob"]
    assert [c["spec"]["schedule"] for c in cronjobs] == ["15 1 * * *", "0 5 * * *"]
    command = cronjobs[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[-1] == '--patch={"spec":{"minReplicas":6}}'
    (role,) = [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"].endswith("-prescale")]
    assert role["rules"] == [
        {
            "apiGroups": ["autoscaling"],
            "resources": ["horizontalpodautoscalers"],
            "resourceNames": ["rel-sparkfleet"],
            "verbs": ["get", "patch"],
        }
    ]


def _budgets(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in render("rel", "ops", values=values) if d["kind"] == "PodDisruptionBudget"]


def test_the_disruption_budget_is_made_only_with_more_than_one_instance() -> None:
    # With one instance a budget of minAvailable 1 allows no eviction: every drain of its node blocks.
    (budget,) = _budgets({"controller": {"replicas": 2}})
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "rel"
    assert _budgets({"controller": {"replicas": 1}}) == []
    assert "No PodDisruptionBudget: with one instance" in notes(
        "rel", "ops", values={"controller": {"replicas": 1}}
    )
    assert "PodDisruptionBudget" not in notes("rel", "ops")
    assert _budgets({"controller": {"replicas": 1}, "fleet": {"enabled": False}}) == []
    assert _budgets({"controller": {"replicas": 3, "podDisruptionBudget": {"enable": False}}}) == []
    # With the HPA on, its floor counts (replicas is the HPA's then).
    hpa = {"enable": True, "minReplicas": 1, "maxReplicas": 4}
    assert _budgets({"controller": {"replicas": 3, "autoscaling": hpa}}) == []
    (budget,) = _budgets({"controller": {"replicas": 1, "autoscaling": {**hpa, "minReplicas": 2}}})
    assert budget["spec"]["minAvailable"] == 1


def test_the_notes_say_the_default_image_is_published_nowhere() -> None:
    default = notes("rel", "ops")
    assert "ghcr.io/sparkfleet/sparkfleet:0.1.0, which is published\nnowhere" in default
    assert "Build it from the Dockerfile" in default
    for image in ({"registry": "registry.example.com"}, {"repository": "platform/sparkfleet"}):
        own = notes("rel", "ops", values={"image": image})
        assert "published" not in own, own
        assert "Dockerfile" not in own, own


def test_the_monitors_keep_the_spark_metrics_namespace_label_and_the_notes_say_so() -> None:
    both = {"prometheus": {"serviceMonitor": {"create": True}, "podMonitor": {"create": True}}}

    def endpoints(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
        docs = render("rel", "ops", values=values)
        service = [d["spec"]["endpoints"][0] for d in docs if d["kind"] == "ServiceMonitor"]
        pod = [d["spec"]["podMetricsEndpoints"][0] for d in docs if d["kind"] == "PodMonitor"]
        return {"ServiceMonitor": service[0], "PodMonitor": pod[0]}

    assert {k: e["honorLabels"] for k, e in endpoints(both).items()} == {
        "ServiceMonitor": True, "PodMonitor": True}  # fmt: skip
    text = notes("rel", "ops", values=both)
    assert text.count("is stored as `namespace` (honorLabels: true).") == 2
    off = merge(both, {"prometheus": {"podMonitor": {"honorLabels": False}}})
    assert endpoints(off)["PodMonitor"]["honorLabels"] is False
    assert "PodMonitor (job rel-sparkfleet-metrics): the Spark application metrics' `namespace` label" in (
        notes("rel", "ops", values=off)
    )
    assert "`exported_namespace` (honorLabels: false" in notes("rel", "ops", values=off)
    assert "honorLabels" not in notes("rel", "ops")  # no monitor, nothing to say


def test_one_instance_may_read_the_namespaces_it_serves_by_name_and_nothing_else() -> None:
    """``run --namespaces`` warns at start-up about a listed namespace that does not exist: the chart
    lets it GET exactly those namespaces; a fleet (no --namespaces) and every-namespace get none."""
    classic = {"fleet": {"enabled": False}, "spark": {"jobNamespaces": ["team-a", "team-b"]}}
    docs = render("one", "ops", values=classic)
    (role,) = [
        d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "one-sparkfleet-namespaces"
    ]
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": ["team-a", "team-b"],
            "verbs": ["get"],
        }
    ]
    (binding,) = [
        d
        for d in docs
        if d["kind"] == "ClusterRoleBinding" and d["metadata"]["name"] == "one-sparkfleet-namespaces"
    ]
    assert binding["roleRef"]["name"] == "one-sparkfleet-namespaces"
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert "--namespaces=team-a,team-b" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    everywhere = render("one", "ops", values={**classic, "spark": {"jobNamespaces": []}})
    fleet = render("one", "ops", values={"spark": {"jobNamespaces": ["team-a"]}})
    for other in (everywhere, fleet):
        assert not [d for d in other if d["metadata"]["name"] == "one-sparkfleet-namespaces"]
