"""The driver PodDisruptionBudget's pure parts (Kubeflow's driver_pdb.go): when it is wanted, its shape."""

from __future__ import annotations

import pytest

from sparkfleet.kubeflow_flags import DROPPED, translate
from sparkfleet.operator.spark.driver_pdb import render, wanted
from sparkfleet.operator.spark.lifecycle import AppState
from sparkfleet.options import RunOptions


@pytest.mark.parametrize("state", list(AppState))
def test_the_gate_off_leaves_every_budget_as_it_is(state: AppState) -> None:
    assert wanted(False, True, state) is None


def test_a_budget_protects_submitted_and_running_drivers_of_applications_that_ask() -> None:
    for state in (AppState.SUBMITTED, AppState.RUNNING):
        assert wanted(True, True, state) is True
        assert wanted(True, False, state) is False  # opted out (or never in): removed
    for state in (AppState.COMPLETED, AppState.FAILED, AppState.INVALIDATING, AppState.PENDING_RERUN,
                  AppState.SUSPENDING, AppState.SUSPENDED):  # fmt: skip
        assert wanted(True, True, state) is False
    for state in (AppState.NEW, AppState.SUBMISSION_FAILED, AppState.SUCCEEDING, AppState.FAILING,
                  AppState.UNKNOWN, AppState.RESUMING):  # fmt: skip
        assert wanted(True, True, state) is None


def test_the_budget_is_kubeflows() -> None:
    app = {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "metadata": {"name": "pi", "namespace": "etl", "uid": "u1"},
    }
    assert render(app, "pi-driver") == {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": "pi-driver",
            "namespace": "etl",
            "labels": {"sparkoperator.k8s.io/launched-by-spark-operator": "true", "sparkoperator.k8s.io/app-name": "pi"},
            "ownerReferences": [{"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "name": "pi",
                                 "uid": "u1", "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": {"minAvailable": 1,
                 "selector": {"matchLabels": {"sparkoperator.k8s.io/app-name": "pi", "spark-role": "driver"}}},
    }  # fmt: skip


@pytest.mark.parametrize(("kubeflow", "read"), [("--enable-driver-pdb=true", True), ("--enable-driver-pdb", True),
                                                ("--enable-driver-pdb=false", False)])  # fmt: skip
def test_kubeflows_flag_is_read(kubeflow: str, read: bool) -> None:
    assert "--enable-driver-pdb" not in DROPPED
    [arg] = translate([kubeflow]).argv
    assert arg == ("--enable-driver-pdb" if read else "--no-enable-driver-pdb")
    assert RunOptions.from_flags({"enable_driver_pdb": read}).controller.driver_pdb is read
    assert RunOptions().controller.driver_pdb is False
