"""Property tests of bad and good input: the models and the operator's validation refuse anything by a
field path and never raise anything else; valid applications render objects the API server accepts,
the same every time, carrying what the spec set."""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import orjson
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from sparkfleet.api import ScheduledSparkApplication, SparkApplication, format_validation_error
from sparkfleet.api.fleet import SparkFleet
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.submission import parse_properties, render
from sparkfleet.operator.spark.validation import InvalidApplication, parse
from sparkfleet.sharding.shards import compile_shards
from tests.examples import manifests

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"

# -- JSON as the API server hands it over (orjson: integers within 64 bits, no NaN) -------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        ["", "1g", "512m", "-1", "0", "abc", "Never", "OnFailure", "a" * 64, "x\ny", "1.5", "500m"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)

FLEET = {
    "apiVersion": "sparkfleet.io/v1alpha1",
    "kind": "SparkFleet",
    "metadata": {"name": "f", "namespace": "ops"},
    "spec": {
        "shards": [
            {"name": "a", "namespaces": ["team-a"]},
            {
                "name": "b",
                "labelSelector": {"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]},
            },
            {"name": "rest", "catchAll": True},
        ],
        "lease": {"durationSeconds": 15, "renewDeadlineSeconds": 10, "retryPeriodSeconds": 2},
        "pins": {"a": "m-1"},
        "drain": ["m-2"],
    },
}


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (the root excluded)."""
    found = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], under: str = "spec") -> dict[str, Any]:
    """``base`` with a few of its parts under ``under`` replaced, removed, or joined by unknown fields.

    ``metadata`` stays as the API server validates it for every kind of object.
    """
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        candidates = [p for p in paths(document) if p[0] == under and len(p) > 1]
        path = draw(st.sampled_from(candidates or [(under,)]))
        parent: Any = document
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif action == "add" and isinstance(parent.get(path[-1]) if isinstance(parent, dict) else None, dict):
            parent[path[-1]][draw(st.text(min_size=1, max_size=10))] = draw(json_values)
        elif isinstance(parent, dict | list):
            parent[path[-1]] = draw(json_values)
    return document


def assert_names_paths(error: ValidationError) -> None:
    message = format_validation_error(error)
    assert "\n" not in message
    for item in error.errors(include_url=False):
        assert item["loc"], item  # every error of a mapping names where
    first = error.errors(include_url=False)[0]
    assert message.startswith(str(first["loc"][0])), message  # the path first: "spec.driver.cores: ..."
    assert ": " in message, message
    assert len(message) < 1000 * len(error.errors()), message


def parses_or_names(model: type[BaseModel], raw: dict[str, Any]) -> BaseModel | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        assert_names_paths(exc)
        return None


def operator_verdict(raw: dict[str, Any]) -> None:
    """The controller's whole path: parse and validate, then render; only InvalidApplication may escape."""
    try:
        app = parse(raw)
        submission = render(app, SID)
    except InvalidApplication as exc:
        message = str(exc)
        assert message
        assert "\n" not in message
        assert re.match(r"^(spec|metadata)\b", message), message  # a path first
        assert ": " in message, message
        return
    orjson.dumps(submission.driver_pod)
    orjson.dumps(submission.config_map)


# -- (a) the models and the operator's validation, on arbitrary and mutated input --------------


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["apiVersion", "kind", "metadata", "spec", "status", "extra"]), json_values
    )
)
def test_arbitrary_documents_parse_or_name_a_path(raw: dict[str, Any]) -> None:
    for model in (SparkApplication, ScheduledSparkApplication, SparkFleet):
        parses_or_names(model, raw)


@FUZZ
@given(st.sampled_from([manifests.spark_pi(), manifests.pyspark(), manifests.everything()]).flatmap(mutated))
def test_mutated_applications_are_refused_by_field_or_submitted(raw: dict[str, Any]) -> None:
    parses_or_names(SparkApplication, raw)
    operator_verdict(raw)


# Fields the models keep as plain Kubernetes objects and the renderer copies into pods and templates.
PASS_THROUGH = [
    ("driver", "template"), ("executor", "template"), ("volumes",), ("driver", "volumeMounts"),
    ("executor", "volumeMounts"), ("driver", "env"), ("executor", "env"), ("driver", "sidecars"),
    ("executor", "initContainers"), ("driver", "affinity"), ("executor", "tolerations"), ("driver", "envFrom"),
    ("driver", "lifecycle"), ("executor", "securityContext"), ("driver", "podSecurityContext"),
    ("driver", "dnsConfig"), ("executor", "hostAliases"), ("batchSchedulerOptions", "resources"),
]  # fmt: skip
kube_objects = st.recursive(
    st.dictionaries(st.sampled_from(["name", "spec", "metadata", "labels", "containers", "volumes", "mountPath",
                                     "value", "image", "x"]), scalars, max_size=4),
    lambda inner: st.dictionaries(st.sampled_from(["name", "spec", "metadata", "labels", "annotations",
                                                   "containers", "volumes", "initContainers", "env"]),
                                  inner | st.lists(inner, max_size=3) | scalars, max_size=4),
    max_leaves=10,
)  # fmt: skip


@FUZZ
@given(
    st.sampled_from(PASS_THROUGH), st.one_of(kube_objects, st.lists(kube_objects, max_size=3), json_values)
)
def test_any_kubernetes_object_in_the_spec_is_refused_by_field_or_rendered(
    where: tuple[str, ...], value: Any
) -> None:
    raw = manifests.everything()
    parent = raw["spec"]
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = value
    parses_or_names(SparkApplication, raw)
    operator_verdict(raw)


@FUZZ
@given(mutated(manifests.scheduled()))
def test_mutated_scheduled_applications_parse_or_name_a_path(raw: dict[str, Any]) -> None:
    parses_or_names(ScheduledSparkApplication, raw)


@FUZZ
@given(mutated(FLEET))
def test_mutated_fleets_are_refused_by_field_or_compile(raw: dict[str, Any]) -> None:
    fleet = parses_or_names(SparkFleet, raw)
    if isinstance(fleet, SparkFleet):
        shards, problems = compile_shards(fleet.spec)
        for problem in problems:
            assert problem.field.startswith("spec."), problem
        assert bool(shards) != bool(problems)


# -- (b) the renderer, on valid applications -------------------------------------------------------

dns_1035 = st.from_regex(r"\A[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
dns_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z")
label_values = st.from_regex(r"\A(([A-Za-z0-9][-A-Za-z0-9_.]{0,20})?[A-Za-z0-9])?\Z")
label_keys = st.from_regex(
    r"\A([a-z0-9]{1,8}(\.[a-z0-9]{1,8}){0,2}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,15}[A-Za-z0-9])?\Z"
)
sizes = st.builds(
    lambda n, u: f"{n}{u}", st.integers(1, 4096), st.sampled_from(["m", "g", "M", "G", "", "mb"])
)
conf_keys = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20).filter(
    lambda k: k.strip() == k and "\n" not in k and "\r" not in k
)


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    cores = draw(st.integers(1, 16))
    pod: dict[str, Any] = {
        "cores": cores,
        "memory": draw(sizes),
        "labels": draw(st.dictionaries(label_keys, label_values, max_size=3)),
    }
    if draw(st.booleans()):
        pod["coreLimit"] = draw(
            st.sampled_from([str(cores), f"{cores * 1000 + draw(st.integers(0, 999))}m", f"{cores}.5"])
        )
    if draw(st.booleans()):
        pod["memoryOverhead"] = draw(sizes)
    if draw(st.booleans()):
        pod["envVars"] = draw(
            st.dictionaries(st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,8}\Z"), st.text(max_size=20), max_size=3)
        )
    if draw(st.booleans()):
        pod["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return pod  # fmt: skip


@st.composite
def valid_applications(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["Java", "Scala", "Python", "R"]))
    spec: dict[str, Any] = {
        "type": kind,
        "sparkVersion": draw(label_values.filter(bool)),
        "image": "spark:3.5.5",
        "mainApplicationFile": draw(
            st.sampled_from(["local:///app.jar", "s3a://b/app.py", "local:///a b.R"])
        ),
        "arguments": draw(st.lists(st.text(max_size=30), max_size=6)),
        "sparkConf": draw(st.dictionaries(conf_keys, st.text(max_size=30), max_size=5)),
        "volumes": [{"name": "data", "emptyDir": {}}],
        "driver": draw(pods()),
        "executor": {**draw(pods()), "instances": draw(st.integers(0, 100))},
    }
    spec["sparkConf"].pop("spark.kubernetes.driver.pod.name", None)
    if kind in ("Java", "Scala"):
        spec["mainClass"] = "org.example.Main"
    if draw(st.booleans()):
        spec["driver"]["podName"] = draw(
            st.from_regex(r"\A[a-z0-9]([-a-z0-9.]{0,80}[a-z0-9])?\Z").filter(
                lambda n: ".." not in n and ".-" not in n and "-." not in n
            )
        )
    metadata = {
        "name": draw(dns_1035),
        "namespace": draw(dns_label),
        "uid": "u-1",
        "labels": draw(st.dictionaries(label_keys, label_values, max_size=3)),
    }
    return {"apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "metadata": metadata, "spec": spec}  # fmt: skip


def all_labels(obj: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = obj["metadata"].get("labels") or {}
    return labels


@FUZZ
@given(valid_applications())
def test_valid_applications_render_objects_the_api_server_accepts(manifest: dict[str, Any]) -> None:
    app = parse(manifest)  # a valid application is never refused
    sub = render(app, SID)
    assert render(parse(copy.deepcopy(manifest)), SID) == sub  # deterministic
    assert SparkApplication.model_validate(manifest).to_kube() == manifest  # never mutated by rendering

    pod, config_map, service, ui = sub.driver_pod, sub.config_map, sub.driver_service, sub.ui_service
    assert ui is not None
    assert naming.is_dns_subdomain(pod["metadata"]["name"])
    assert pod["metadata"]["name"] == (
        manifest["spec"]["driver"].get("podName") or f"{manifest['metadata']['name']}-driver"
    )
    assert naming.is_dns_subdomain(config_map["metadata"]["name"])
    for svc in (service, ui):
        assert naming.is_dns_1035_label(svc["metadata"]["name"]), svc["metadata"]["name"]
    assert len(sub.prefix) <= naming.EXECUTOR_PREFIX_MAX
    template = yaml.safe_load(config_map["data"]["pod-spec-template.yml"])
    for obj in (pod, config_map, service, ui, template):
        for key, value in all_labels(obj).items():
            assert naming.label_key_problem(key) is None, key
            assert naming.label_value_problem(value) is None, value
    assert all(
        pod["metadata"]["labels"][k] == v
        for k, v in (manifest["spec"]["driver"]["labels"]).items()
        if not k.startswith(("sparkoperator.k8s.io/", "spark-"))
    )
    orjson.dumps(pod)
    assert sum(len(v.encode()) for v in config_map["data"].values()) <= 1024 * 1024

    properties = parse_properties(config_map["data"]["spark.properties"])
    spec = manifest["spec"]
    assert {k: properties[k] for k in spec["sparkConf"]} == spec["sparkConf"]  # the user's settings win
    for role in ("driver", "executor"):
        expected = {"cores": str(spec[role]["cores"]), "memory": spec[role]["memory"]}
        for key, value in expected.items():
            assert properties.get(f"spark.{role}.{key}", value) == spec["sparkConf"].get(
                f"spark.{role}.{key}", value
            )
    if "spark.executor.instances" not in spec["sparkConf"]:
        assert properties["spark.executor.instances"] == str(spec["executor"]["instances"])
    driver = next(c for c in pod["spec"]["containers"] if c["name"] == "spark-kubernetes-driver")
    assert driver["args"][-len(spec["arguments"]) or len(driver["args"]) :] == spec["arguments"]
    resources = driver["resources"]
    if "cpu" in resources["limits"]:
        from sparkfleet.api.base import parse_quantity

        assert parse_quantity(resources["requests"]["cpu"]) <= parse_quantity(resources["limits"]["cpu"])
