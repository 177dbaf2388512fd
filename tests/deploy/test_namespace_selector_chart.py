"""spark.jobNamespaceSelector and fleet shards' namespaceSelector in the chart: the flag or the shard,
and list/watch of namespaces only when a selector is used."""

from __future__ import annotations

from typing import Any

from sparkfleet.api.fleet import SparkFleet
from sparkfleet.sharding.shards import compile_shards
from tests.deploy.chart import render

NAMESPACE_RULE = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}


def _namespace_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        rule
        for d in docs
        if d["kind"] == "ClusterRole"
        for rule in d.get("rules") or []
        if "namespaces" in rule.get("resources", []) and "watch" in rule.get("verbs", [])
    ]


def _args(docs: list[dict[str, Any]]) -> list[str]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])


def test_no_selector_no_namespace_watch() -> None:
    for fleet in (True, False):
        docs = render("rel", "ops", values={"fleet": {"enabled": fleet}})
        assert _namespace_rules(docs) == []
        assert not any(a.startswith("--namespace-selector") for a in _args(docs))


def test_classic_mode_passes_the_selector_and_may_watch_namespaces() -> None:
    docs = render(
        "rel", "ops", values={"fleet": {"enabled": False}, "spark": {"jobNamespaceSelector": "spark=on"}}
    )
    assert "--namespace-selector=spark=on" in _args(docs)
    assert "--namespaces=default" in _args(docs)  # besides jobNamespaces, as Kubeflow's
    assert _namespace_rules(docs) == [NAMESPACE_RULE]
    assert any(d["kind"] == "ClusterRole" and d["metadata"]["name"] == "rel-sparkfleet-jobs" for d in docs)


def test_a_fleet_gets_a_selected_shard_that_compiles() -> None:
    docs = render("rel", "ops", values={"spark": {"jobNamespaceSelector": "spark=on"}})
    (fleet,) = [d for d in docs if d["kind"] == "SparkFleet"]
    _, problems = compile_shards(SparkFleet.model_validate(fleet).spec)
    assert problems == []
    assert fleet["spec"]["shards"][-1] == {"name": "selected", "namespaceSelector": "spark=on"}
    assert _namespace_rules(docs) == [NAMESPACE_RULE]


def test_fleet_shards_with_a_namespace_selector_may_watch_namespaces() -> None:
    shards = [{"name": "a", "namespaceSelector": "team=a"}, {"name": "b", "namespaceSelector": "team=b"}]
    docs = render("rel", "ops", values={"fleet": {"shards": shards}})
    assert _namespace_rules(docs) == [NAMESPACE_RULE]
    (fleet,) = [d for d in docs if d["kind"] == "SparkFleet"]
    assert fleet["spec"]["jobNamespaces"] == ["default"]  # bounded: selected among the job namespaces


def test_every_namespace_already_served_makes_the_selector_moot() -> None:
    """As in Kubeflow: jobNamespaces holding "" serves every namespace, whatever the selector adds."""
    for fleet in (True, False):
        values = {
            "fleet": {"enabled": fleet},
            "spark": {"jobNamespaces": [""], "jobNamespaceSelector": "spark=on"},
        }
        docs = render("rel", "ops", values=values)
        assert not any(a.startswith("--namespace-selector") for a in _args(docs))
        assert _namespace_rules(docs) == []
        if fleet:
            (spec,) = [d["spec"] for d in docs if d["kind"] == "SparkFleet"]
            assert spec["shards"] == [{"name": "all", "catchAll": True}]
