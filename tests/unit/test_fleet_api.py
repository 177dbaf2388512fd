"""The SparkFleet models: what parses, what is refused (naming the field), and the wire form."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from sparkfleet.api.base import format_validation_error
from sparkfleet.api.fleet import (
    FLEET_API_VERSION,
    LabelSelector,
    LeaseSpec,
    ShardSpec,
    SparkFleet,
    SparkFleetSpec,
)


def fleet(spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": FLEET_API_VERSION,
        "kind": "SparkFleet",
        "metadata": {"name": "fleet", "namespace": "spark-system"},
        "spec": spec,
        **extra,
    }


def refusal(obj: dict[str, Any]) -> str:
    """The formatted message of the ValidationError ``obj`` raises (the test fails if it parses)."""
    with pytest.raises(ValidationError) as info:
        SparkFleet.model_validate(obj)
    return format_validation_error(info.value)


NAMESPACE_SHARDS = [
    {"name": "team-a", "namespaces": ["a1", "a2"]},
    {"name": "team-b", "namespaces": ["b1"], "weight": 10},
    {"name": "rest", "catchAll": True},
]


# -- valid specs ---------------------------------------------------------------------------


def test_namespace_fleet_parses_with_snake_case_attributes() -> None:
    parsed = SparkFleet.model_validate(
        fleet(
            {
                "shards": NAMESPACE_SHARDS,
                "lease": {"durationSeconds": 30, "renewDeadlineSeconds": 20, "retryPeriodSeconds": 5},
                "pins": {"team-a": "operator-0"},
                "drain": ["operator-2"],
            }
        )
    )
    assert parsed.api_version == "sparkfleet.io/v1alpha1"
    assert parsed.kind == "SparkFleet"
    assert [s.name for s in parsed.spec.shards] == ["team-a", "team-b", "rest"]
    assert [s.form for s in parsed.spec.shards] == ["namespaces", "namespaces", "catchAll"]
    assert parsed.spec.shards[1].weight == 10
    assert parsed.spec.lease is not None
    assert (
        parsed.spec.lease.duration_seconds,
        parsed.spec.lease.renew_deadline_seconds,
        parsed.spec.lease.retry_period_seconds,
    ) == (30, 20, 5)
    assert parsed.spec.pins == {"team-a": "operator-0"}
    assert parsed.spec.drain == ["operator-2"]
    assert parsed.status is None


def test_values_fleet_parses() -> None:
    spec = SparkFleetSpec.model_validate(
        {
            "routingLabel": "sparkfleet.io/team",
            "shards": [{"name": "s0", "values": ["red", "blue"]}, {"name": "rest", "catchAll": True}],
        }
    )
    assert spec.routing_label == "sparkfleet.io/team"
    assert spec.shards[0].form == "values"
    assert spec.shards[0].values == ["red", "blue"]


def test_label_selector_fleet_parses_every_operator() -> None:
    spec = SparkFleetSpec.model_validate(
        {
            "shards": [
                {
                    "name": "s0",
                    "labelSelector": {
                        "matchLabels": {"example.com/tier": "gold"},
                        "matchExpressions": [
                            {"key": "env", "operator": "In", "values": ["prod"]},
                            {"key": "env2", "operator": "NotIn", "values": ["dev", "test"]},
                            {"key": "owner", "operator": "Exists"},
                            {"key": "legacy", "operator": "DoesNotExist"},
                        ],
                    },
                }
            ]
        }
    )
    selector = spec.shards[0].label_selector
    assert selector is not None
    assert selector.match_labels == {"example.com/tier": "gold"}
    assert selector.match_expressions is not None
    assert [e.operator for e in selector.match_expressions] == ["In", "NotIn", "Exists", "DoesNotExist"]
    assert spec.shards[0].form == "labelSelector"


def test_lease_defaults_are_client_go_defaults() -> None:
    lease = LeaseSpec()
    assert (lease.duration_seconds, lease.renew_deadline_seconds, lease.retry_period_seconds) == (15, 10, 2)


def test_lease_timing_just_inside_both_rules_is_accepted() -> None:
    lease = LeaseSpec.model_validate(
        {"durationSeconds": 13, "renewDeadlineSeconds": 12, "retryPeriodSeconds": 9}
    )  # 13 > 12 and 12 > 1.2 x 9 = 10.8
    assert lease.renew_deadline_seconds == 12


def test_label_key_and_value_patterns_accept_kubernetes_forms() -> None:
    selector = LabelSelector.model_validate(
        {"matchLabels": {"app.kubernetes.io/name": "spark_pi-1.0", "a": "", "Upper_Case.key": "X"}}
    )
    assert selector.match_labels == {"app.kubernetes.io/name": "spark_pi-1.0", "a": "", "Upper_Case.key": "X"}


# -- refusals name the field ---------------------------------------------------------------


def test_two_forms_in_one_shard_are_refused_naming_the_shard_and_forms() -> None:
    message = refusal(fleet({"shards": [{"name": "a", "namespaces": ["x"], "values": ["v"]}]}))
    assert message.startswith("spec.shards[0]: ")
    assert "exactly one of namespaces, namespaceSelector, labelSelector, values or catchAll" in message
    assert "got namespaces, values" in message


def test_form_plus_catch_all_is_refused() -> None:
    message = refusal(
        fleet(
            {
                "shards": [
                    {"name": "ok", "catchAll": True},
                    {"name": "b", "namespaces": ["x"], "catchAll": True},
                ]
            }
        )
    )
    assert message.startswith("spec.shards[1]: ")
    assert "got namespaces, catchAll" in message


@pytest.mark.parametrize("shard", [{"name": "a"}, {"name": "a", "catchAll": False}])
def test_a_shard_without_a_form_is_refused(shard: dict[str, Any]) -> None:
    message = refusal(fleet({"shards": [shard]}))
    assert message.startswith("spec.shards[0]: ")
    assert "exactly one of namespaces, namespaceSelector, labelSelector, values or catchAll: true" in message
    assert "got" not in message


@pytest.mark.parametrize(
    ("lease", "expected"),
    [
        (
            {"durationSeconds": 10},
            "renewDeadlineSeconds: durationSeconds (10) must be greater than renewDeadlineSeconds (10)",
        ),
        (
            {"durationSeconds": 20, "renewDeadlineSeconds": 25, "retryPeriodSeconds": 2},
            "renewDeadlineSeconds: durationSeconds (20) must be greater than renewDeadlineSeconds (25)",
        ),
        (
            {"renewDeadlineSeconds": 2},
            "retryPeriodSeconds: renewDeadlineSeconds (2) must be greater than 1.2 x retryPeriodSeconds (2)",
        ),
        (
            {"durationSeconds": 15, "renewDeadlineSeconds": 12, "retryPeriodSeconds": 10},
            "retryPeriodSeconds: renewDeadlineSeconds (12) must be greater than 1.2 x retryPeriodSeconds (10)",
        ),
        (  # an invalid duration is named alone, not compared
            {"durationSeconds": 0, "renewDeadlineSeconds": 10},
            "durationSeconds: Input should be greater than or equal to 2",
        ),
    ],
)
def test_lease_timing_rules_are_enforced(lease: dict[str, Any], expected: str) -> None:
    message = refusal(fleet({"shards": [{"name": "a", "catchAll": True}], "lease": lease}))
    assert message == f"spec.lease.{expected}"


def test_lease_bounds_name_the_field() -> None:
    message = refusal(
        fleet({"shards": [{"name": "a", "catchAll": True}], "lease": {"retryPeriodSeconds": 0}})
    )
    assert message.startswith("spec.lease.retryPeriodSeconds: ")


def test_bad_label_key_is_refused_naming_the_key() -> None:
    message = refusal(fleet({"shards": [{"name": "a", "labelSelector": {"matchLabels": {"-bad": "x"}}}]}))
    assert message.startswith(
        "spec.shards[0].labelSelector.matchLabels[-bad]: key: String should match pattern"
    )


def test_bad_label_value_is_refused_naming_the_key() -> None:
    message = refusal(
        fleet({"shards": [{"name": "a", "labelSelector": {"matchLabels": {"ok": "two words"}}}]})
    )
    assert message.startswith("spec.shards[0].labelSelector.matchLabels.ok: String should match pattern")


def test_bad_expression_key_and_value_are_refused() -> None:
    message = refusal(
        fleet(
            {
                "shards": [
                    {
                        "name": "a",
                        "labelSelector": {
                            "matchExpressions": [{"key": "Bad Key", "operator": "In", "values": ["-x"]}]
                        },
                    }
                ]
            }
        )
    )
    assert "spec.shards[0].labelSelector.matchExpressions[0].key: String should match pattern" in message
    assert (
        "spec.shards[0].labelSelector.matchExpressions[0].values[0]: String should match pattern" in message
    )


def test_routing_label_must_be_a_label_key() -> None:
    message = refusal(fleet({"routingLabel": "not a key", "shards": [{"name": "a", "values": ["x"]}]}))
    assert message.startswith("spec.routingLabel: String should match pattern")


@pytest.mark.parametrize(
    "selector",
    [{}, {"matchLabels": {}}, {"matchExpressions": []}, {"matchLabels": {}, "matchExpressions": []}],
)
def test_a_selector_without_terms_is_refused(selector: dict[str, Any]) -> None:
    message = refusal(fleet({"shards": [{"name": "a", "labelSelector": selector}]}))
    assert message == (
        "spec.shards[0].labelSelector: a shard's selector must select something: give matchLabels or matchExpressions"
    )


@pytest.mark.parametrize("operator", ["In", "NotIn"])
@pytest.mark.parametrize("values", [None, []])
def test_in_and_notin_need_values(operator: str, values: list[str] | None) -> None:
    expression: dict[str, Any] = {"key": "k", "operator": operator}
    if values is not None:
        expression["values"] = values
    message = refusal(fleet({"shards": [{"name": "a", "labelSelector": {"matchExpressions": [expression]}}]}))
    assert message == f"spec.shards[0].labelSelector.matchExpressions[0]: operator {operator} needs values"


@pytest.mark.parametrize("operator", ["Exists", "DoesNotExist"])
def test_exists_and_doesnotexist_take_no_values(operator: str) -> None:
    expression = {"key": "k", "operator": operator, "values": ["x"]}
    message = refusal(fleet({"shards": [{"name": "a", "labelSelector": {"matchExpressions": [expression]}}]}))
    assert message == f"spec.shards[0].labelSelector.matchExpressions[0]: operator {operator} takes no values"


def test_unknown_operator_is_refused() -> None:
    expression = {"key": "k", "operator": "Equals", "values": ["x"]}
    message = refusal(fleet({"shards": [{"name": "a", "labelSelector": {"matchExpressions": [expression]}}]}))
    assert message.startswith("spec.shards[0].labelSelector.matchExpressions[0].operator: ")


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (fleet({"shards": [{"name": "a", "namespace": ["x"]}]}), "spec.shards[0].namespace"),
        (fleet({"shard": [{"name": "a", "namespaces": ["x"]}]}), "spec.shard"),
        (
            fleet({"shards": [{"name": "a", "catchAll": True}], "lease": {"duration": 15}}),
            "spec.lease.duration",
        ),
        (fleet({"shards": [{"name": "a", "catchAll": True}]}, unknownField=1), "unknownField"),
        (
            fleet({"shards": [{"name": "a", "labelSelector": {"matchLabel": {"k": "v"}}}]}),
            "spec.shards[0].labelSelector.matchLabel",
        ),
    ],
)
def test_unknown_fields_are_refused(obj: dict[str, Any], field: str) -> None:
    message = refusal(obj)
    assert f"{field}: Extra inputs are not permitted" in message


def test_shard_names_and_namespaces_must_be_dns_labels() -> None:
    message = refusal(fleet({"shards": [{"name": "Team_A", "namespaces": ["ok", "Not.OK"]}]}))
    assert "spec.shards[0].name: String should match pattern" in message
    assert "spec.shards[0].namespaces[1]: String should match pattern" in message


def test_empty_lists_are_refused() -> None:
    assert refusal(fleet({"shards": []})).startswith("spec.shards: List should have at least 1 item")
    assert refusal(fleet({"shards": [{"name": "a", "namespaces": []}]})).startswith(
        "spec.shards[0].namespaces: List should have at least 1 item"
    )


def test_weight_must_be_positive() -> None:
    message = refusal(fleet({"shards": [{"name": "a", "catchAll": True, "weight": 0}]}))
    assert message.startswith("spec.shards[0].weight: Input should be greater than or equal to 1")


def test_shard_spec_alone_refuses_two_forms() -> None:
    with pytest.raises(ValidationError, match="got labelSelector, values"):
        ShardSpec.model_validate({"name": "a", "labelSelector": {"matchLabels": {"k": "v"}}, "values": ["x"]})


def test_formatted_message_prefix() -> None:
    with pytest.raises(ValidationError) as info:
        SparkFleetSpec.model_validate({"shards": [{"name": "a"}]})
    assert format_validation_error(info.value, prefix="spec").startswith("spec.shards[0]: a shard takes")


# -- the wire form -------------------------------------------------------------------------


def test_to_kube_round_trip_keeps_camel_case_and_only_set_fields() -> None:
    original = fleet(
        {
            "routingLabel": "sparkfleet.io/team",
            "shards": [
                {"name": "s0", "values": ["red"]},
                {
                    "name": "s1",
                    "labelSelector": {
                        "matchLabels": {"k": "v"},
                        "matchExpressions": [{"key": "e", "operator": "Exists"}],
                    },
                },
                {"name": "rest", "catchAll": True, "weight": 3},
            ],
            "lease": {"durationSeconds": 20},
            "pins": {"s0": "m0"},
        },
        status={
            "observedGeneration": 2,
            "coordinator": "m0",
            "members": [
                {
                    "identity": "m0",
                    "state": "Active",
                    "shards": 2,
                    "lastRenewTime": "2024-01-01T00:00:00.000000Z",
                }
            ],
            "shards": [{"name": "s0", "holder": "m0", "desiredHolder": "m0", "phase": "Held"}],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "AllShardsHeld",
                    "lastTransitionTime": "2024-01-01T00:00:00.000000Z",
                }
            ],
            "lastRebalance": "token",
        },
    )
    snapshot = copy.deepcopy(original)
    kube = SparkFleet.model_validate(original).to_kube()
    assert kube == snapshot
    assert original == snapshot  # the input is not changed
    assert SparkFleet.model_validate(kube).to_kube() == kube


def test_to_kube_of_a_model_built_in_python_uses_aliases() -> None:
    spec = SparkFleetSpec(
        shards=[ShardSpec(name="a", catch_all=True)],
        routing_label="k",
        lease=LeaseSpec(renew_deadline_seconds=5),
    )
    assert spec.to_kube() == {
        "shards": [{"name": "a", "catchAll": True}],
        "routingLabel": "k",
        "lease": {"renewDeadlineSeconds": 5},
    }
