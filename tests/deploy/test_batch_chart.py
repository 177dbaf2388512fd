"""The chart's batch scheduler values under Kubeflow's names (controller.batchScheduler.enable,
.kubeSchedulerNames, .default): rendered into flags, and the podgroups grant only when enabled."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.test_kubeflow_values import rendered


def podgroup_rules(values: dict[str, Any]) -> list[dict[str, Any]]:
    r = rendered(values)
    return [
        rule
        for doc in r.kind("ClusterRole") + r.kind("Role")
        for rule in doc.get("rules") or []
        if "podgroups" in rule.get("resources", [])
    ]


@pytest.mark.parametrize("fleet", [True, False])
def test_the_podgroups_grant_and_flags_come_with_enable_only(fleet: bool) -> None:
    off = {"fleet": {"enabled": fleet}, "controller": {"batchScheduler": {"default": "volcano"}}}
    assert not any("batch-scheduler" in a for a in rendered(off).args)
    assert podgroup_rules(off) == []
    on = {
        "fleet": {"enabled": fleet},
        "controller": {
            "batchScheduler": {
                "enable": True,
                "kubeSchedulerNames": ["sched-a", "sched-b"],
                "default": "yunikorn",
            }
        },
    }
    r = rendered(on)
    assert "--enable-batch-scheduler" in r.args
    assert "--kube-scheduler-names=sched-a,sched-b" in r.args
    assert r.params["default_batch_scheduler"] == "yunikorn"
    rules = podgroup_rules(on)
    assert rules
    assert all(set(rule["apiGroups"]) == {"scheduling.volcano.sh", "scheduling.x-k8s.io"} for rule in rules)
