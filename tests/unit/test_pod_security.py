"""The restricted securityContext defaults (pod_security) and the platform's pod policy (pod_policy)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from sparkfleet.api import SparkApplication
from sparkfleet.operator.spark.pod_policy import PodPolicy, parse_service_accounts, problems
from sparkfleet.operator.spark.pod_security import SPARK_UID, container_defaults, harden
from sparkfleet.operator.spark.submission import TEMPLATE_FILE, render
from sparkfleet.operator.spark.validation import parse
from tests.examples import manifests

SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": SPARK_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def app_of(manifest: dict[str, Any]) -> SparkApplication:
    return SparkApplication.model_validate(copy.deepcopy(manifest))


def spark_containers(manifest: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(driver pod, driver container, executor template container) as rendered."""
    sub = render(app_of(manifest), SID)
    driver = next(c for c in sub.driver_pod["spec"]["containers"] if c["name"] == "spark-kubernetes-driver")
    template = yaml.safe_load(sub.config_map["data"][TEMPLATE_FILE])
    executor = next(c for c in template["spec"]["containers"] if c["name"] == "spark-kubernetes-executor")
    return sub.driver_pod, driver, executor


# -- defaults --------------------------------------------------------------------------------


def test_default_driver_and_executor_containers_get_the_restricted_fields() -> None:
    _, driver, executor = spark_containers(manifests.spark_pi())
    assert driver["securityContext"] == RESTRICTED
    assert executor["securityContext"] == RESTRICTED


def test_the_users_fields_win_field_by_field() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["driver"]["securityContext"] = {"runAsUser": 1000, "readOnlyRootFilesystem": True}
    manifest["spec"]["executor"]["securityContext"] = {"allowPrivilegeEscalation": True}
    _, driver, executor = spark_containers(manifest)
    assert driver["securityContext"] == {**RESTRICTED, "runAsUser": 1000, "readOnlyRootFilesystem": True}
    assert executor["securityContext"] == {**RESTRICTED, "allowPrivilegeEscalation": True}


def test_a_pod_security_context_counts_as_the_users_choice() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["driver"]["podSecurityContext"] = {
        "runAsNonRoot": False, "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
    }  # fmt: skip
    pod, driver, _ = spark_containers(manifest)
    assert driver["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is False


def test_root_privileged_and_own_capabilities_are_left_as_asked() -> None:
    assert container_defaults({"runAsUser": 0}, None) == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    privileged = container_defaults({"privileged": True}, None)
    assert "allowPrivilegeEscalation" not in privileged  # the API server refuses false with privileged
    sys_admin = container_defaults({"capabilities": {"add": ["SYS_ADMIN"]}}, None)
    assert "allowPrivilegeEscalation" not in sys_admin
    assert "capabilities" not in sys_admin  # the user's capability set is theirs whole
    assert container_defaults({}, {"runAsUser": 2000})["runAsNonRoot"] is True
    assert "runAsUser" not in container_defaults({}, {"runAsUser": 2000})
    assert "runAsUser" not in container_defaults({"runAsNonRoot": True}, None)


def test_template_container_security_context_is_the_users_when_the_spec_has_none() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["executor"]["template"] = {
        "spec": {"containers": [{"name": "spark-kubernetes-executor", "securityContext": {"runAsUser": 7}}]}
    }
    _, _, executor = spark_containers(manifest)
    assert executor["securityContext"] == {**RESTRICTED, "runAsUser": 7}


def test_sidecars_and_init_containers_are_left_as_written() -> None:
    manifest = manifests.spark_pi()
    sidecar = {"name": "tap", "image": "busybox"}
    init = {"name": "init", "image": "busybox", "securityContext": {"runAsUser": 0}}
    manifest["spec"]["driver"]["sidecars"] = [sidecar]
    manifest["spec"]["driver"]["initContainers"] = [init]
    pod, _, _ = spark_containers(manifest)
    assert [c for c in pod["spec"]["containers"] if c["name"] == "tap"] == [sidecar]
    assert pod["spec"]["initContainers"] == [init]


def test_harden_never_mutates_its_input() -> None:
    spec = {"containers": [{"name": "c", "securityContext": {"runAsUser": 5}}]}
    before = copy.deepcopy(spec)
    hardened = harden(spec, "c")
    assert spec == before
    assert hardened["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert harden(spec, "absent") is spec


# -- policy ----------------------------------------------------------------------------------

BASELINE = PodPolicy("baseline")


def found(change: dict[str, Any], policy: PodPolicy = BASELINE) -> list[str]:
    manifest = manifests.spark_pi()
    for role in ("driver", "executor"):
        manifest["spec"][role].update(change.pop(role, {}))
    manifest["spec"].update(change)
    return problems(app_of(manifest), policy)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"volumes": [{"name": "v", "hostPath": {"path": "/"}}]}, "spec.volumes[0].hostPath"),
        ({"driver": {"hostNetwork": True}}, "spec.driver.hostNetwork"),
        ({"executor": {"securityContext": {"privileged": True}}}, "spec.executor.securityContext.privileged"),
        ({"driver": {"template": {"spec": {"hostPID": True}}}}, "spec.driver.template.spec.hostPID"),
        ({"executor": {"template": {"spec": {"hostIPC": True}}}}, "spec.executor.template.spec.hostIPC"),
        ({"driver": {"template": {"spec": {"volumes": [{"name": "h", "hostPath": {"path": "/x"}}]}}}},
         "spec.driver.template.spec.volumes[0].hostPath"),
        ({"driver": {"template": {"spec": {"containers": [{"name": "c", "securityContext": {"privileged": True}}]}}}},
         "spec.driver.template.spec.containers[0].securityContext.privileged"),
        ({"driver": {"sidecars": [{"name": "s", "ports": [{"containerPort": 80, "hostPort": 80}]}]}},
         "spec.driver.sidecars[0].ports[0].hostPort"),
        ({"executor": {"initContainers": [{"name": "i", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]}},
         "spec.executor.initContainers[0].securityContext.capabilities.add[0]"),
        ({"driver": {"podSecurityContext": {"seccompProfile": {"type": "Unconfined"}}}},
         "spec.driver.podSecurityContext.seccompProfile.type"),
        ({"sparkConf": {"spark.kubernetes.driver.volumes.hostPath.x.mount.path": "/x"}},
         "spec.sparkConf[spark.kubernetes.driver.volumes.hostPath.x.mount.path]"),
    ],
)  # fmt: skip
def test_baseline_refuses_naming_the_field(change: dict[str, Any], field: str) -> None:
    [problem] = found(change)
    assert problem.startswith(f"{field}: ")
    assert "--pod-security=baseline" in problem


def test_baseline_allows_what_baseline_allows() -> None:
    change = {
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "driver": {"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE", "CAP_CHOWN"]}},
                   "hostNetwork": False},
        "executor": {"template": {"spec": {"hostPID": False}}},
    }  # fmt: skip
    assert found(change) == []
    assert found({"driver": {"hostNetwork": True}}, PodPolicy()) == []


def test_service_accounts_outside_the_allowed_list_are_refused() -> None:
    policy = PodPolicy(allowed_service_accounts=frozenset({"spark-operator-spark"}))
    assert found({}, policy) == []
    [problem] = found({"executor": {"serviceAccount": "admin"}}, policy)
    assert problem.startswith("spec.executor.serviceAccount: ServiceAccount 'admin' is not among the allowed")
    [problem] = found({"executor": {"template": {"spec": {"serviceAccountName": "admin"}}}}, policy)
    assert problem.startswith("spec.executor.template.spec.serviceAccountName: ")
    key = "spark.kubernetes.authenticate.driver.serviceAccountName"
    [problem] = found({"sparkConf": {key: "admin"}}, policy)
    assert problem.startswith(f"spec.sparkConf[{key}]: ")
    [problem] = found({"driver": {"serviceAccount": None}}, policy)
    assert problem.startswith("spec.driver.serviceAccount: required here")
    default_allowed = PodPolicy(allowed_service_accounts=frozenset({"default"}))
    assert found({"driver": {"serviceAccount": None}}, default_allowed) == []


def test_parse_leaves_the_policy_to_submission_and_the_flags_parse() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["driver"]["hostNetwork"] = True
    app = parse(manifest)  # valid: what the platform refuses is judged before each submission
    assert any("spec.driver.hostNetwork: host namespaces" in p for p in problems(app, BASELINE))
    assert parse_service_accounts(["a,b", " c "]) == frozenset({"a", "b", "c"})
    assert parse_service_accounts([]) is None
    with pytest.raises(ValueError, match="--pod-security: 'strict' is not one of none, baseline"):
        PodPolicy("strict")
