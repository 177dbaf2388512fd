"""A shard's definition fingerprint (ShardDef.fingerprint): what changes it, and what does not."""

from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.api.fleet import SparkFleetSpec
from sparkfleet.kube.scope import Scope, Watch
from sparkfleet.sharding.shards import ShardDef, compile_shards, scope_fingerprint


def fingerprints(shards: list[dict[str, Any]], **fields: Any) -> dict[str, str]:
    compiled, problems = compile_shards(SparkFleetSpec.model_validate({"shards": shards, **fields}))
    assert not problems, problems
    return {s.name: s.fingerprint for s in compiled}


def test_same_definition_same_fingerprint() -> None:
    shards: list[dict[str, Any]] = [
        {"name": "a", "namespaces": ["n1", "n2"]},
        {"name": "rest", "catchAll": True},
    ]
    assert fingerprints(shards) == fingerprints(shards)


def test_namespace_order_does_not_matter() -> None:
    assert fingerprints([{"name": "a", "namespaces": ["n1", "n2"]}]) == fingerprints(
        [{"name": "a", "namespaces": ["n2", "n1"]}]
    )


def test_a_moved_namespace_changes_both_shards_and_the_catch_all_only_if_its_exclusions_change() -> None:
    before = fingerprints([{"name": "a", "namespaces": ["n1", "n2"]}, {"name": "b", "namespaces": ["n3"]},
                           {"name": "rest", "catchAll": True}])  # fmt: skip
    after = fingerprints([{"name": "a", "namespaces": ["n1"]}, {"name": "b", "namespaces": ["n3", "n2"]},
                          {"name": "rest", "catchAll": True}])  # fmt: skip
    assert before["a"] != after["a"]
    assert before["b"] != after["b"]
    assert before["rest"] == after["rest"]  # the same namespaces are still named


def test_a_newly_named_namespace_changes_the_catch_all() -> None:
    before = fingerprints([{"name": "a", "namespaces": ["n1"]}, {"name": "rest", "catchAll": True}])
    after = fingerprints([{"name": "a", "namespaces": ["n1", "n9"]}, {"name": "rest", "catchAll": True}])
    assert before["rest"] != after["rest"]


def test_values_and_routing_label_are_part_of_the_definition() -> None:
    base = fingerprints([{"name": "g", "values": ["gold"]}], routingLabel="tier")
    assert base != fingerprints([{"name": "g", "values": ["gold", "silver"]}], routingLabel="tier")
    assert base != fingerprints([{"name": "g", "values": ["gold"]}], routingLabel="team")


def test_a_selector_edit_changes_the_fingerprint() -> None:
    one = fingerprints([{"name": "s", "labelSelector": {"matchLabels": {"tier": "gold"}}}])
    two = fingerprints([{"name": "s", "labelSelector": {"matchLabels": {"tier": "silver"}}}])
    assert one != two


def test_the_name_and_weight_are_not_the_definition() -> None:
    scope = Scope("x", (Watch(namespace="n1"),))
    assert ShardDef("x", scope).fingerprint == ShardDef("y", Scope("y", scope.watches), weight=5).fingerprint


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Watch(namespace="n"), Watch(label_selector="n")),  # the same text in another field
        (Watch(label_selector="a,b"), Watch(label_selector="a", field_selector="b")),
    ],
)
def test_fields_do_not_blur_together(a: Watch, b: Watch) -> None:
    assert scope_fingerprint(Scope("s", (a,))) != scope_fingerprint(Scope("s", (b,)))
