"""The shard model: specs compiled to disjoint scopes, the problems that make a spec invalid."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sparkfleet.api.fleet import LabelSelector, SparkFleetSpec
from sparkfleet.kube.scope import Watch
from sparkfleet.sharding.shards import (
    Problem,
    ShardDef,
    compile_shards,
    fleet_namespaces,
    overlapping_namespaces,
    provably_disjoint,
    selector_string,
)


def spec(shards: list[dict[str, Any]], **fields: Any) -> SparkFleetSpec:
    return SparkFleetSpec.model_validate({"shards": shards, **fields})


def compiled(shards: list[dict[str, Any]], **fields: Any) -> dict[str, ShardDef]:
    defs, problems = compile_shards(spec(shards, **fields))
    assert problems == []
    return {d.name: d for d in defs}


def problems_of(shards: list[dict[str, Any]], **fields: Any) -> list[Problem]:
    defs, problems = compile_shards(spec(shards, **fields))
    assert problems, "the spec should have problems"
    assert defs == [], "a spec with problems compiles to no shards"
    return problems


def selector(
    labels: dict[str, str] | None = None, *expressions: tuple[str, str, list[str] | None]
) -> LabelSelector:
    data: dict[str, Any] = {}
    if labels:
        data["matchLabels"] = labels
    if expressions:
        data["matchExpressions"] = [
            {"key": k, "operator": op, **({"values": v} if v is not None else {})} for k, op, v in expressions
        ]
    return LabelSelector.model_validate(data)


# -- compiling -------------------------------------------------------------------------------


def test_namespace_shards_watch_each_namespace() -> None:
    defs = compiled(
        [{"name": "a", "namespaces": ["z2", "a1"], "weight": 7}, {"name": "b", "namespaces": ["b1"]}]
    )
    assert list(defs) == ["a", "b"]
    assert defs["a"].scope.name == "a"
    assert defs["a"].scope.watches == (Watch(namespace="a1"), Watch(namespace="z2"))
    assert defs["a"].namespaces == frozenset({"a1", "z2"})
    assert defs["a"].weight == 7
    assert defs["b"].scope.watches == (Watch(namespace="b1"),)
    assert defs["b"].weight is None
    assert defs["a"].scope.may_hold("z2")
    assert not defs["a"].scope.may_hold("b1")


def test_values_shards_select_sorted_values_of_the_routing_label() -> None:
    defs = compiled(
        [{"name": "warm", "values": ["red", "orange"]}, {"name": "cold", "values": ["blue"]}],
        routingLabel="example.com/team",
    )
    assert defs["warm"].scope.watches == (Watch(label_selector="example.com/team in (orange,red)"),)
    assert defs["cold"].scope.watches == (Watch(label_selector="example.com/team in (blue)"),)
    assert defs["warm"].namespaces == frozenset()


def test_selector_string_match_labels_are_sorted() -> None:
    assert selector_string(selector({"b": "2", "a": "1", "x.io/c": "3"})) == "a=1,b=2,x.io/c=3"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (("env", "In", ["prod", "dev"]), "env in (dev,prod)"),
        (("env", "NotIn", ["qa", "dev", "test"]), "env notin (dev,qa,test)"),
        (("owner", "Exists", None), "owner"),
        (("legacy", "DoesNotExist", None), "!legacy"),
    ],
)
def test_selector_string_operators(expression: tuple[str, str, list[str] | None], expected: str) -> None:
    assert selector_string(selector(None, expression)) == expected


def test_selector_string_labels_first_then_expressions_in_order() -> None:
    sel = selector({"tier": "gold"}, ("z", "DoesNotExist", None), ("a", "In", ["y", "x"]))
    assert selector_string(sel) == "tier=gold,!z,a in (x,y)"


def test_label_selector_shards_use_the_selector_as_given() -> None:
    defs = compiled(
        [
            {"name": "gold", "labelSelector": {"matchLabels": {"tier": "gold"}}},
            {
                "name": "other",
                "labelSelector": {
                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}]
                },
            },
        ]
    )
    assert defs["gold"].scope.watches == (Watch(label_selector="tier=gold"),)
    assert defs["other"].scope.watches == (Watch(label_selector="tier notin (gold)"),)


def test_namespace_catch_all_excludes_every_named_namespace() -> None:
    defs = compiled(
        [
            {"name": "rest", "catchAll": True},
            {"name": "a", "namespaces": ["ns-c", "ns-a"]},
            {"name": "b", "namespaces": ["ns-b"]},
        ]
    )
    assert list(defs) == ["rest", "a", "b"]  # in spec order
    (watch,) = defs["rest"].scope.watches
    assert watch == Watch(
        field_selector="metadata.namespace!=ns-a,metadata.namespace!=ns-b,metadata.namespace!=ns-c"
    )
    assert watch.namespace is None
    assert watch.label_selector is None
    assert defs["rest"].namespaces == frozenset()


def test_routing_catch_all_is_notin_every_taken_value() -> None:
    defs = compiled(
        [
            {"name": "s0", "values": ["c", "a"]},
            {"name": "s1", "values": ["b"]},
            {"name": "rest", "catchAll": True, "weight": 2},
        ],
        routingLabel="team",
    )
    assert defs["rest"].scope.watches == (Watch(label_selector="team notin (a,b,c)"),)
    assert defs["rest"].weight == 2


def test_catch_all_alone_is_cluster_wide() -> None:
    defs = compiled([{"name": "all", "catchAll": True}])
    assert defs["all"].scope.watches == (Watch(),)
    assert defs["all"].scope.may_hold("anything")


# -- problems --------------------------------------------------------------------------------


def test_namespace_in_two_shards() -> None:
    problems = problems_of([{"name": "a", "namespaces": ["x", "y"]}, {"name": "b", "namespaces": ["z", "y"]}])
    assert problems == [Problem("spec.shards[1].namespaces[1]", "namespace 'y' is already in shard 'a'")]
    assert str(problems[0]) == "spec.shards[1].namespaces[1]: namespace 'y' is already in shard 'a'"


def test_value_in_two_shards() -> None:
    problems = problems_of(
        [{"name": "a", "values": ["red"]}, {"name": "b", "values": ["blue", "green", "red"]}],
        routingLabel="team",
    )
    assert problems == [Problem("spec.shards[1].values[2]", "value 'red' is already in shard 'a'")]


def test_mixed_forms_name_each_odd_shard() -> None:
    problems = problems_of(
        [
            {"name": "a", "namespaces": ["x"]},
            {"name": "b", "values": ["v"]},
            {"name": "c", "namespaces": ["y"]},
            {"name": "d", "labelSelector": {"matchLabels": {"k": "v"}}},
        ],
        routingLabel="team",
    )
    fields = [p.field for p in problems]
    assert fields == ["spec.shards[1]", "spec.shards[3]"]
    assert "shard 'b' is a values shard but shard 'a' is a namespaces shard" in problems[0].message
    assert "shard 'd' is a labelSelector shard" in problems[1].message


def test_catch_all_with_label_selector_shards() -> None:
    problems = problems_of(
        [
            {"name": "gold", "labelSelector": {"matchLabels": {"tier": "gold"}}},
            {"name": "rest", "catchAll": True},
        ]
    )
    assert [p.field for p in problems] == ["spec.shards[1].catchAll"]
    assert "a catch-all needs namespaces or values shards" in problems[0].message


def test_values_need_a_routing_label() -> None:
    problems = problems_of([{"name": "a", "values": ["x"]}])
    assert problems == [Problem("spec.routingLabel", "shards given as values need spec.routingLabel")]


def test_pin_to_unknown_shard() -> None:
    problems = problems_of([{"name": "a", "namespaces": ["x"]}], pins={"zz": "m1", "a": "m0", "b": "m2"})
    assert problems == [
        Problem("spec.pins.b", "there is no shard named 'b'"),
        Problem("spec.pins.zz", "there is no shard named 'zz'"),
    ]


def test_two_catch_alls_and_duplicate_names() -> None:
    problems = problems_of(
        [
            {"name": "r1", "catchAll": True},
            {"name": "a", "namespaces": ["x"]},
            {"name": "a", "catchAll": True},
        ]
    )
    fields = [p.field for p in problems]
    assert "spec.shards[2].name" in fields
    assert "spec.shards[2].catchAll" in fields


def test_overlapping_selectors() -> None:
    problems = problems_of(
        [
            {"name": "gold", "labelSelector": {"matchLabels": {"tier": "gold"}}},
            {"name": "prod", "labelSelector": {"matchLabels": {"env": "prod"}}},
        ]
    )
    assert [p.field for p in problems] == ["spec.shards[1].labelSelector"]
    assert "may select the same objects as shard 'gold'" in problems[0].message


def test_disjoint_selectors_compile() -> None:
    defs = compiled(
        [
            {"name": "gold", "labelSelector": {"matchLabels": {"tier": "gold"}}},
            {"name": "silver", "labelSelector": {"matchLabels": {"tier": "silver", "env": "prod"}}},
            {
                "name": "none",
                "labelSelector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]},
            },
        ]
    )
    assert set(defs) == {"gold", "silver", "none"}


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of([{"name": "a", "values": ["x"]}, {"name": "b", "values": ["x"]}], pins={"c": "m"})
    assert [p.field for p in problems] == ["spec.routingLabel", "spec.shards[1].values[0]", "spec.pins.c"]


def test_namespace_listed_twice_in_one_shard_is_refused() -> None:
    with pytest.raises(ValidationError, match="namespaces lists x more than once"):
        spec([{"name": "a", "namespaces": ["x", "x"]}])


# -- provably_disjoint -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "disjoint"),
    [
        # matchLabels
        (selector({"k": "a"}), selector({"k": "b"}), True),
        (selector({"k": "a"}), selector({"k": "a"}), False),
        (selector({"k": "a", "x": "1"}), selector({"k": "a", "x": "2"}), True),
        # In vs In
        (selector(None, ("k", "In", ["a", "b"])), selector(None, ("k", "In", ["c"])), True),
        (selector(None, ("k", "In", ["a", "b"])), selector(None, ("k", "In", ["b", "c"])), False),
        (selector({"k": "a"}), selector(None, ("k", "In", ["b", "c"])), True),
        (selector({"k": "b"}), selector(None, ("k", "In", ["b", "c"])), False),
        # presence
        (selector(None, ("k", "Exists", None)), selector(None, ("k", "DoesNotExist", None)), True),
        (selector({"k": "a"}), selector(None, ("k", "DoesNotExist", None)), True),
        (selector(None, ("k", "In", ["a"])), selector(None, ("k", "DoesNotExist", None)), True),
        (selector(None, ("k", "Exists", None)), selector(None, ("k", "Exists", None)), False),
        (selector(None, ("k", "DoesNotExist", None)), selector(None, ("k", "DoesNotExist", None)), False),
        # In vs NotIn
        (selector(None, ("k", "In", ["a", "b"])), selector(None, ("k", "NotIn", ["a", "b", "c"])), True),
        (selector(None, ("k", "In", ["a", "b"])), selector(None, ("k", "NotIn", ["a"])), False),
        (selector({"k": "a"}), selector(None, ("k", "NotIn", ["a"])), True),
        (selector(None, ("k", "NotIn", ["a"])), selector(None, ("k", "NotIn", ["b"])), False),
        (selector(None, ("k", "Exists", None)), selector(None, ("k", "NotIn", ["a"])), False),
        (selector(None, ("k", "DoesNotExist", None)), selector(None, ("k", "NotIn", ["a"])), False),
        # unrelated keys: not provable
        (selector({"a": "1"}), selector({"b": "1"}), False),
        (selector(None, ("a", "Exists", None)), selector(None, ("b", "DoesNotExist", None)), False),
        # one key decides even when the others agree
        (selector({"a": "1", "k": "x"}), selector({"a": "1"}, ("k", "DoesNotExist", None)), True),
        # both In and NotIn on one side
        (
            selector(None, ("k", "In", ["a", "b"]), ("k", "NotIn", ["b"])),
            selector(None, ("k", "In", ["b"])),
            True,
        ),
    ],
)
def test_provably_disjoint(a: LabelSelector, b: LabelSelector, disjoint: bool) -> None:
    assert provably_disjoint(a, b) is disjoint
    assert provably_disjoint(b, a) is disjoint


# -- namespaces claimed by two fleets ----------------------------------------------------------


def ns_fleet(*shards: list[str] | None) -> SparkFleetSpec:
    """A namespace fleet; None stands for a catch-all shard."""
    return spec(
        [
            {"name": f"s{i}", "catchAll": True}
            if namespaces is None
            else {"name": f"s{i}", "namespaces": namespaces}
            for i, namespaces in enumerate(shards)
        ]
    )


def test_named_namespaces_of_two_fleets() -> None:
    mine, other = ns_fleet(["a", "b"], ["c"]), ns_fleet(["c", "d"], ["b"])
    assert overlapping_namespaces(mine, other) == ["b", "c"]
    assert overlapping_namespaces(other, mine) == ["b", "c"]
    assert overlapping_namespaces(ns_fleet(["a"]), ns_fleet(["b"])) == []


def test_catch_all_overlaps_the_other_fleets_named_namespaces() -> None:
    mine, other = ns_fleet(["a"], None), ns_fleet(["a", "b", "c"])
    # a: named by both; b, c: named by the other, taken by my catch-all
    assert overlapping_namespaces(mine, other) == ["a", "b", "c"]
    assert overlapping_namespaces(other, mine) == ["a", "b", "c"]
    assert overlapping_namespaces(ns_fleet(None), ns_fleet(["x"])) == ["x"]


def test_two_catch_alls_always_overlap() -> None:
    assert overlapping_namespaces(ns_fleet(["a"], None), ns_fleet(["b"], None)) == ["*"]
    assert overlapping_namespaces(ns_fleet(None), ns_fleet(None)) == ["*"]


def test_label_fleets_are_not_judged() -> None:
    values = spec([{"name": "v", "values": ["x"]}, {"name": "r", "catchAll": True}], routingLabel="team")
    labels = spec([{"name": "l", "labelSelector": {"matchLabels": {"k": "v"}}}])
    assert overlapping_namespaces(values, ns_fleet(None)) == []
    assert overlapping_namespaces(ns_fleet(["a"], None), labels) == []
    assert overlapping_namespaces(values, values) == []


def test_fleet_namespaces() -> None:
    assert fleet_namespaces(ns_fleet(["a", "b"], ["c"])) == (frozenset({"a", "b", "c"}), False)
    assert fleet_namespaces(ns_fleet(["a"], None)) == (frozenset({"a"}), True)
    values = spec([{"name": "v", "values": ["x"]}, {"name": "r", "catchAll": True}], routingLabel="team")
    assert fleet_namespaces(values) == (frozenset(), False)
