"""The chart's values for issue 19 part C, under Kubeflow's names: controller.driverPodDisruptionBudget,
controller.defaultTimeToLiveSeconds, prometheus.metrics.{labels,jobSubmitLatencyBuckets,
jobStartLatencyBuckets}; the PodDisruptionBudget grant only when the feature is on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.chart import CHART, helm_refuses
from tests.deploy.test_kubeflow_values import rendered


def pdb_rules(values: dict[str, Any]) -> list[dict[str, Any]]:
    r = rendered(values)
    return [
        rule
        for doc in r.kind("ClusterRole") + r.kind("Role")
        for rule in doc.get("rules") or []
        if "poddisruptionbudgets" in rule.get("resources", [])
    ]


@pytest.mark.parametrize("fleet", [True, False])
def test_the_pdb_grant_and_flag_come_with_the_feature_only(fleet: bool) -> None:
    off = rendered({"fleet": {"enabled": fleet}})
    assert "--enable-driver-pdb" not in off.args
    assert pdb_rules({"fleet": {"enabled": fleet}}) == []
    values = {"fleet": {"enabled": fleet}, "controller": {"driverPodDisruptionBudget": {"enable": True}}}
    assert "--enable-driver-pdb" in rendered(values).args
    rules = pdb_rules(values)
    assert rules
    assert all(
        rule["apiGroups"] == ["policy"] and rule["verbs"] == ["get", "create", "delete"] for rule in rules
    )


def test_the_default_ttl_is_passed_when_above_zero() -> None:
    assert not any(a.startswith("--default-time-to-live-seconds") for a in rendered({}).args)
    r = rendered({"controller": {"defaultTimeToLiveSeconds": 3600}})
    assert "--default-time-to-live-seconds=3600" in r.args
    assert r.params["default_time_to_live_seconds"] == 3600
    refused = helm_refuses("template", "r", str(CHART), "--set", "controller.defaultTimeToLiveSeconds=-1")
    assert "defaultTimeToLiveSeconds" in refused


def test_the_metrics_labels_and_buckets_are_kubeflows() -> None:
    r = rendered({})
    assert r.params["metrics_labels"] == ["app_type"]  # Kubeflow's chart's default when empty
    assert r.params["metrics_job_submit_latency_buckets"] == "0.5,1,2,4,8,16,32,64,128,256"
    assert r.params["metrics_job_start_latency_buckets"] == "30,60,90,120,150,180,210,240,270,300"
    given = rendered(
        {"prometheus": {"metrics": {"labels": "team,app_type", "jobStartLatencyBuckets": "1,2"}}}
    )
    assert given.params["metrics_labels"] == ["team,app_type"]
    assert given.params["metrics_job_start_latency_buckets"] == "1,2"
    refused = helm_refuses(
        "template", "r", str(CHART), "--set", "prometheus.metrics.labels=app.kubernetes.io/name"
    )
    assert "labels" in refused
