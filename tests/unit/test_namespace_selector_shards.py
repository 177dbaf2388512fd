"""A fleet's namespaceSelector shards: the spec's field, how it compiles to a scope that follows the
namespaces' labels, and the problems that make a spec invalid (naming the field and the shards)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sparkfleet.api.fleet import LabelSelector, LabelSelectorRequirement, SparkFleetSpec
from sparkfleet.kube.scope import NamespaceSelection
from sparkfleet.operator.selection import chosen
from sparkfleet.sharding.ops import describe_scope
from sparkfleet.sharding.shards import (
    FleetClaim,
    compile_shards,
    overlapping_namespaces,
    parse_selector,
    refused_shards,
    scope_fingerprint,
)
from sparkfleet.shards_view import scope_text


def spec(shards: list[dict[str, Any]], **fields: Any) -> SparkFleetSpec:
    return SparkFleetSpec.model_validate({"shards": shards, **fields})


def test_a_namespace_selector_shard_follows_the_namespaces_its_selector_takes() -> None:
    defs, problems = compile_shards(
        spec([
            {"name": "a", "namespaceSelector": "team=a"},
            {"name": "b", "namespaceSelector": "team in (b, c)"},
            {"name": "ops", "namespaces": ["ops"]},
        ])
    )  # fmt: skip
    assert problems == []
    by_name = {d.name: d for d in defs}
    assert by_name["a"].scope.watches == ()
    assert by_name["a"].scope.selection == NamespaceSelection(
        "team=a", excludes=frozenset({"ops"}), moves_in=True
    )
    assert by_name["b"].scope.selection is not None
    assert by_name["b"].scope.selection.selector == "team in (b,c)"
    namespaces = [
        {"metadata": {"name": n, "labels": {"team": t}}} for n, t in [("x", "b"), ("y", "c"), ("ops", "b")]
    ]
    assert chosen(by_name["b"].scope.selection, namespaces) == {"x", "y"}  # ops is its own shard's
    assert describe_scope(by_name["a"].scope).namespace_selector == "team=a"


def test_job_namespaces_bound_what_a_namespace_selector_may_take() -> None:
    defs, _ = compile_shards(spec([{"name": "a", "namespaceSelector": "team=a"}], jobNamespaces=["p", "q"]))
    assert defs[0].scope.selection is not None
    assert defs[0].scope.selection.within == frozenset({"p", "q"})


def test_the_selector_is_part_of_the_shards_identity() -> None:
    one, _ = compile_shards(spec([{"name": "a", "namespaceSelector": "team=a"}]))
    two, _ = compile_shards(spec([{"name": "a", "namespaceSelector": "team=b"}]))
    again, _ = compile_shards(spec([{"name": "a", "namespaceSelector": "team = a"}]))
    assert one[0].fingerprint != two[0].fingerprint
    assert scope_fingerprint(one[0].scope) == scope_fingerprint(again[0].scope)


def test_overlapping_namespace_selectors_are_refused_naming_both_shards() -> None:
    _, problems = compile_shards(
        spec([
            {"name": "gold", "namespaceSelector": "tier=gold"},
            {"name": "prod", "namespaceSelector": "env=prod"},
            {"name": "silver", "namespaceSelector": "tier=silver"},
        ])
    )  # fmt: skip
    assert [p.field for p in problems] == [
        "spec.shards[1].namespaceSelector",
        "spec.shards[2].namespaceSelector",
    ]
    assert "shards 'gold' and 'prod' may select the same namespaces" in problems[0].message
    assert "shards 'prod' and 'silver'" in problems[1].message  # gold and silver differ on tier


@pytest.mark.parametrize(
    ("selector", "said"),
    [
        ("team in (a", "is not a requirement"),
        ("-bad-=x", "is not a label key"),
        ("replicas>2", "takes no < or >"),
        ("team=a,team=b", "given two values"),
    ],
)
def test_an_unreadable_selector_is_a_problem_at_its_field(selector: str, said: str) -> None:
    _, problems = compile_shards(spec([{"name": "a", "namespaceSelector": selector}]))
    assert [p.field for p in problems] == ["spec.shards[0].namespaceSelector"]
    assert said in problems[0].message


def test_no_catch_all_and_no_object_label_shards_beside_namespace_selectors() -> None:
    _, problems = compile_shards(
        spec([{"name": "a", "namespaceSelector": "team=a"}, {"name": "rest", "catchAll": True}])
    )
    assert [p.field for p in problems] == ["spec.shards[1].catchAll"]
    _, problems = compile_shards(
        spec([{"name": "a", "namespaceSelector": "team=a"}, {"name": "gold", "labelSelector": {"matchLabels": {"t": "g"}}}])
    )  # fmt: skip
    assert [p.field for p in problems] == ["spec.shards[1]"]


def test_a_shard_takes_one_form() -> None:
    with pytest.raises(ValidationError, match="exactly one of namespaces, namespaceSelector"):
        spec([{"name": "a", "namespaceSelector": "team=a", "namespaces": ["x"]}])
    with pytest.raises(ValidationError):
        spec([{"name": "a", "namespaceSelector": ""}])


def test_the_api_syntax_reads_as_a_label_selector() -> None:
    assert parse_selector("a=1,b!=2,c in (y,x),d notin (z),e,!f") == LabelSelector(
        match_labels={"a": "1"},
        match_expressions=[
            LabelSelectorRequirement(key="b", operator="NotIn", values=["2"]),
            LabelSelectorRequirement(key="c", operator="In", values=["x", "y"]),
            LabelSelectorRequirement(key="d", operator="NotIn", values=["z"]),
            LabelSelectorRequirement(key="e", operator="Exists"),
            LabelSelectorRequirement(key="f", operator="DoesNotExist"),
        ],
    )


def test_beside_another_fleet_a_namespace_selector_fleet_is_judged_by_its_job_namespaces() -> None:
    selecting = spec([{"name": "a", "namespaceSelector": "team=a"}])
    named = spec([{"name": "x", "namespaces": ["x"]}])
    assert overlapping_namespaces(selecting, named) == ["x"]
    earlier = FleetClaim(("1", "ns", "first"), "ns/first", named)
    assert "a" in refused_shards(selecting, ("2", "ns", "second"), [earlier])
    bounded = spec([{"name": "a", "namespaceSelector": "team=a"}], jobNamespaces=["p"])
    assert overlapping_namespaces(bounded, named) == []


def test_the_cli_shows_a_namespace_selector_shard_by_its_selector() -> None:
    defs, _ = compile_shards(spec([{"name": "a", "namespaceSelector": "team=a"}]))
    assert scope_text(describe_scope(defs[0].scope)) == "ns by labels team=a"
