"""Resource bounds and ResourceQuota hard limits: pure decisions on an application's demand."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from sparkfleet.api import SparkApplication
from sparkfleet.operator.spark.bounds import (
    Bounds,
    application_demand,
    applies,
    bound_problems,
    executor_count,
    pod_demand,
    quota_problems,
)
from sparkfleet.operator.spark.submission import render
from tests.corpus import merge_patch
from tests.examples import manifests

MIB = 1 << 20


def app(patch: dict[str, Any] | None = None) -> SparkApplication:
    manifest = merge_patch(manifests.spark_pi("app", "team-a"), patch or {})
    return SparkApplication.model_validate(manifest)


def quota(hard: dict[str, str], name: str = "q", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "team-a"}, "spec": {"hard": hard, **spec}}


def test_flags_read_as_bounds() -> None:
    bounds = Bounds.from_flags(10, "7500m", "64Gi", "", "0")
    assert bounds == Bounds(10, Fraction(15, 2), 64 * 1024, None, None)
    assert Bounds.from_flags() == Bounds()
    with pytest.raises(ValueError, match="quantity"):
        Bounds.from_flags(max_driver_memory="lots")


def test_no_bounds_refuse_nothing() -> None:
    assert bound_problems(app({"spec": {"executor": {"instances": 100000, "cores": 512}}}), Bounds()) == []


@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"spec": {"type": "Python", "mainClass": None, "executor": {"memory": "2g"}}},
        {"spec": {"driver": {"memory": "3g", "memoryOverhead": "1g"}, "memoryOverheadFactor": "0.2"}},
        {"spec": {"driver": {"memory": None}, "sparkConf": {"spark.driver.memory": "2g",
                                                            "spark.kubernetes.memoryOverheadFactor": "0.3"}}},
        {"spec": {"driver": {"cores": None, "coreRequest": "500m"}, "sparkConf": {"spark.driver.cores": "3"}}},
    ],
)  # fmt: skip
def test_the_drivers_demand_is_what_the_renderer_gives_its_pod(patch: dict[str, Any]) -> None:
    application = app(patch)
    resources = render(application, "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b").driver_pod["spec"]["containers"][
        0
    ]["resources"]
    demand = pod_demand(application, "driver")
    assert demand is not None
    assert f"{demand.memory_mib}Mi" == resources["requests"]["memory"] == resources["limits"]["memory"]
    assert demand.cpu_request.value == Fraction(resources["requests"]["cpu"].removesuffix("m")) / (
        1000 if resources["requests"]["cpu"].endswith("m") else 1
    )


def test_executor_demand_names_its_fields() -> None:
    demand = pod_demand(app({"spec": {"executor": {"cores": None, "memory": None}, "sparkConf": {
        "spark.executor.cores": "3", "spark.executor.memory": "4g",
        "spark.kubernetes.executor.limit.cores": "4"}}}), "executor")  # fmt: skip
    assert demand is not None
    assert (demand.cores.field, demand.cores.value) == ("spec.sparkConf[spark.executor.cores]", Fraction(3))
    assert demand.cpu_request == demand.cores
    assert demand.cpu_limit is not None
    assert demand.cpu_limit.field == "spec.sparkConf[spark.kubernetes.executor.limit.cores]"
    assert (demand.memory_mib, demand.memory_field) == (4096 + 409, "spec.sparkConf[spark.executor.memory]")


def test_a_setting_that_does_not_parse_bounds_nothing() -> None:
    broken = app({"spec": {"executor": {"cores": None}, "sparkConf": {"spark.executor.cores": "many"}}})
    assert pod_demand(broken, "executor") is None
    assert bound_problems(broken, Bounds(max_executor_cores=Fraction(1))) == []
    assert quota_problems(broken, [quota({"requests.cpu": "1"})]) == []


@pytest.mark.parametrize(
    ("patch", "start", "field", "unbounded"),
    [
        ({}, 2, "spec.executor.instances", False),
        ({"spec": {"executor": {"instances": None}}}, 2, "spec.executor.instances", False),  # Spark's default
        ({"spec": {"executor": {"instances": None}, "sparkConf": {"spark.executor.instances": "7"}}},
         7, "spec.sparkConf[spark.executor.instances]", False),
        ({"spec": {"dynamicAllocation": {"enabled": True, "initialExecutors": 3, "minExecutors": 5,
                                         "maxExecutors": 9}}}, 5, "spec.dynamicAllocation.minExecutors", False),
        ({"spec": {"executor": {"instances": None}, "dynamicAllocation": {"enabled": True}}},
         0, "spec.dynamicAllocation.minExecutors", True),
        ({"spec": {"sparkConf": {"spark.dynamicAllocation.enabled": "true",
                                 "spark.dynamicAllocation.maxExecutors": "4"}}}, 2, "spec.executor.instances", False),
    ],
)  # fmt: skip
def test_executor_count(patch: dict[str, Any], start: int, field: str, unbounded: bool) -> None:
    count = executor_count(app(patch))
    assert (count.start.value, count.start.field, count.unbounded) == (Fraction(start), field, unbounded)


BOUNDS = Bounds(10, Fraction(4), 8 * 1024, Fraction(2), 4 * 1024)


@pytest.mark.parametrize(
    ("patch", "field", "says"),
    [
        ({"spec": {"executor": {"instances": 11}}}, "spec.executor.instances", "11 executors, more than the 10"),
        ({"spec": {"dynamicAllocation": {"enabled": True, "maxExecutors": 11}}},
         "spec.dynamicAllocation.maxExecutors", "--max-executors"),
        ({"spec": {"dynamicAllocation": {"enabled": True}}}, "spec.dynamicAllocation.maxExecutors", "unbounded"),
        ({"spec": {"sparkConf": {"spark.dynamicAllocation.enabled": "true"}}},
         "spec.dynamicAllocation.maxExecutors", "required"),
        ({"spec": {"executor": {"cores": 5}}}, "spec.executor.cores", "5 CPUs, more than the 4 an executor"),
        ({"spec": {"executor": {"coreLimit": "4500m"}}}, "spec.executor.coreLimit", "4.5 CPUs"),
        ({"spec": {"executor": {"memory": "7800m"}}}, "spec.executor.memory", "8580Mi of memory with its overhead"),
        ({"spec": {"driver": {"cores": 3}}}, "spec.driver.cores", "more than the 2 a driver may have"),
        ({"spec": {"driver": {"memory": "1g", "memoryOverhead": "4g"}}}, "spec.driver.memory",
         "5120Mi of memory with spec.driver.memoryOverhead, more than the 4096Mi a driver"),
    ],
)  # fmt: skip
def test_beyond_a_bound_is_refused_naming_the_field(patch: dict[str, Any], field: str, says: str) -> None:
    found = bound_problems(app(patch), BOUNDS)
    assert len(found) == 1, found
    assert found[0].startswith(f"{field}: ")
    assert says in found[0]


def test_at_the_bounds_is_accepted() -> None:
    at = app({"spec": {"executor": {"instances": 10, "cores": 4, "memory": "7447m"},
                       "driver": {"cores": 2, "memory": "3712m"}}})  # fmt: skip
    assert bound_problems(at, BOUNDS) == []


def test_application_demand_adds_the_driver_and_starting_executors() -> None:
    demand = application_demand(app({"spec": {"executor": {"instances": 3, "cores": 2, "coreLimit": "2"},
                                              "driver": {"coreLimit": "1"}}}))  # fmt: skip
    assert demand is not None
    assert demand.totals["requests.cpu"] == demand.totals["cpu"] == 7
    assert demand.totals["limits.cpu"] == 7
    assert demand.totals["requests.memory"] == demand.totals["limits.memory"] == 4 * 896 * MIB
    assert demand.totals["pods"] == demand.totals["count/pods"] == 4
    assert demand.how["requests.cpu"] == "driver 1 + 3 executors x 2"


def test_limits_cpu_is_not_judged_when_a_pod_has_no_cpu_limit() -> None:
    demand = application_demand(app())
    assert demand is not None
    assert "limits.cpu" not in demand.totals


def test_over_a_hard_limit_is_refused_naming_the_field_and_quota() -> None:
    found = quota_problems(app(), [quota({"requests.cpu": "2", "memory": "10Gi", "pods": "3"}, "team")])
    assert found == [
        "spec.executor.instances: the application needs requests.cpu 3 (driver 1 + 2 executors x 1), "
        "more than ResourceQuota team of namespace team-a allows (hard requests.cpu: 2)"
    ]


def test_a_driver_alone_over_the_quota_names_the_drivers_field() -> None:
    found = quota_problems(app({"spec": {"executor": {"instances": 0}}}), [quota({"limits.memory": "512Mi"})])
    assert len(found) == 1
    assert found[0].startswith("spec.driver.memory: the application needs limits.memory 896Mi")


def test_within_every_quota_and_other_scopes_are_accepted() -> None:
    quotas = [
        quota({"requests.cpu": "3", "requests.memory": "2688Mi", "pods": "3", "count/pods": "3"}),
        quota({"pods": "1"}, "best-effort", scopes=["BestEffort"]),
        quota(
            {"pods": "1"},
            "priority",
            scopeSelector={
                "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]
            },
        ),
        quota({"services": "1", "requests.storage": "1Gi", "cpu": "not-a-quantity"}, "other"),
    ]
    assert quota_problems(app(), quotas) == []
    assert applies(quota({}, scopes=["NotTerminating", "NotBestEffort"]))
    assert not applies(quota({}, scopes=["Terminating"]))
