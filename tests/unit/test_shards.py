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
    overlap_message,
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


def test_a_catch_all_never_overlaps_the_other_fleets_named_namespaces() -> None:
    # it leaves them out (compile_shards' elsewhere); only what both name overlaps
    mine, other = ns_fleet(["a"], None), ns_fleet(["a", "b", "c"])
    assert overlapping_namespaces(mine, other) == ["a"]
    assert overlapping_namespaces(other, mine) == ["a"]
    assert overlapping_namespaces(ns_fleet(None), ns_fleet(["x"])) == []
    assert overlapping_namespaces(ns_fleet(["x"]), ns_fleet(None)) == []


def test_two_catch_alls_always_overlap() -> None:
    assert overlapping_namespaces(ns_fleet(["a"], None), ns_fleet(["b"], None)) == ["*"]
    assert overlapping_namespaces(ns_fleet(None), ns_fleet(None)) == ["*"]


def bounded(fleet: SparkFleetSpec, *job_namespaces: str) -> SparkFleetSpec:
    return fleet.model_copy(update={"job_namespaces": list(job_namespaces)})


def values_fleet(*values: str, catch_all: bool = True, key: str = "tier") -> SparkFleetSpec:
    shards: list[dict[str, Any]] = [{"name": f"v-{v}", "values": [v]} for v in values]
    if catch_all:
        shards.append({"name": "rest", "catchAll": True})
    return spec(shards, routingLabel=key)


def label_fleet(*labels: dict[str, str]) -> SparkFleetSpec:
    return spec([{"name": f"l{i}", "labelSelector": {"matchLabels": m}} for i, m in enumerate(labels)])


def test_catch_alls_bounded_by_job_namespaces_overlap_only_where_the_bounds_meet() -> None:
    a = bounded(ns_fleet(["a1"], None), "a1", "a2", "shared")
    b = bounded(ns_fleet(["b1"], None), "b1", "b2", "shared")
    assert overlapping_namespaces(a, b) == ["shared"]
    assert overlapping_namespaces(b, a) == ["shared"]
    c = bounded(ns_fleet(None), "c1")
    assert overlapping_namespaces(a, c) == []
    # one bounded, one not: the bounded one's catch-all namespaces
    assert overlapping_namespaces(a, ns_fleet(None)) == ["a2", "shared"]
    # a namespace one names is left out by the other's catch-all
    assert overlapping_namespaces(bounded(ns_fleet(None), "x", "y"), ns_fleet(["x"], None)) == ["y"]


def test_a_label_fleet_and_a_namespace_fleet_overlap_in_the_named_namespaces_it_may_serve() -> None:
    assert overlapping_namespaces(values_fleet("gold"), ns_fleet(["x", "y"])) == ["x", "y"]
    assert overlapping_namespaces(ns_fleet(["x", "y"]), values_fleet("gold")) == ["x", "y"]
    assert overlapping_namespaces(bounded(values_fleet("gold"), "y", "z"), ns_fleet(["x", "y"])) == ["y"]
    assert overlapping_namespaces(bounded(label_fleet({"k": "v"}), "z"), ns_fleet(["x", "y"])) == []


def test_a_label_fleet_and_a_namespace_catch_all_overlap_where_both_may_serve() -> None:
    assert overlapping_namespaces(values_fleet("gold"), ns_fleet(None)) == ["*"]
    assert overlapping_namespaces(ns_fleet(["x"], None), label_fleet({"k": "v"})) == ["*"]
    # p: named by one, served by labels by the other; q: the catch-all's and the label fleet's
    assert overlapping_namespaces(bounded(values_fleet("gold"), "p", "q"), ns_fleet(["p"], None)) == [
        "p",
        "q",
    ]
    assert overlapping_namespaces(bounded(values_fleet("gold"), "p"), bounded(ns_fleet(None), "q")) == []


def test_two_label_fleets_overlap_unless_provably_disjoint() -> None:
    # same routing label, different values, no catch-all: disjoint everywhere
    assert (
        overlapping_namespaces(values_fleet("gold", catch_all=False), values_fleet("silver", catch_all=False))
        == []
    )
    # a catch-all takes whatever the other's values are
    assert overlapping_namespaces(values_fleet("gold"), values_fleet("silver", catch_all=False)) == ["*"]
    assert overlapping_namespaces(values_fleet("gold"), values_fleet("gold")) == ["*"]
    # selectors on different keys cannot be proven disjoint
    assert overlapping_namespaces(label_fleet({"a": "1"}), label_fleet({"b": "1"})) == ["*"]
    assert overlapping_namespaces(label_fleet({"a": "1"}), label_fleet({"a": "2"})) == []
    # bounded: only in the job namespaces both may serve
    a = bounded(values_fleet("gold"), "j1", "j2")
    b = bounded(values_fleet("silver"), "j2", "j3")
    assert overlapping_namespaces(a, b) == ["j2"]
    assert overlapping_namespaces(bounded(values_fleet("gold"), "j1"), b) == []


def test_the_overlap_message_names_the_fleet_the_namespaces_and_why() -> None:
    two_label = overlap_message("ops/b", values_fleet("gold"), values_fleet("gold"), ["j1", "j2"])
    assert two_label == (
        "fleet ops/b may select the same objects in namespaces j1, j2: their label shards cannot be proven "
        "disjoint"
    )
    assert overlap_message("ops/b", ns_fleet(None), ns_fleet(None), ["*"]) == (
        "fleet ops/b also names every namespace"
    )
    assert overlap_message("ops/b", values_fleet("g"), ns_fleet(["x"]), ["x"]) == (
        "fleet ops/b also serves namespaces x, this fleet by labels and the other by namespace"
    )
    assert (
        overlap_message("ops/b", ns_fleet(["x"]), ns_fleet(["x"]), ["x"])
        == "fleet ops/b also names namespaces x"
    )


def test_fleet_namespaces() -> None:
    assert fleet_namespaces(ns_fleet(["a", "b"], ["c"])) == (frozenset({"a", "b", "c"}), False)
    assert fleet_namespaces(ns_fleet(["a"], None)) == (frozenset({"a"}), True)
    values = spec([{"name": "v", "values": ["x"]}, {"name": "r", "catchAll": True}], routingLabel="team")
    assert fleet_namespaces(values) == (frozenset(), False)


# -- the catch-all leaves out what other fleets name; job namespaces bound every shard ------------------


def scopes(fleet: SparkFleetSpec, elsewhere: frozenset[str] = frozenset()) -> dict[str, ShardDef]:
    defs, problems = compile_shards(fleet, elsewhere)
    assert problems == []
    return {d.name: d for d in defs}


def test_a_namespace_catch_all_leaves_out_what_other_fleets_name() -> None:
    defs = scopes(ns_fleet(["a"], None), frozenset({"x", "a", "y"}))
    rest = defs["s1"]
    assert rest.scope.watches == (
        Watch(field_selector="metadata.namespace!=a,metadata.namespace!=x,metadata.namespace!=y"),
    )
    assert rest.excludes == frozenset({"x", "y"})  # a is its own fleet's
    assert rest.catch_all
    assert not defs["s0"].catch_all
    assert scopes(ns_fleet(None))["s0"].scope.watches == (Watch(),)


def test_a_values_catch_all_leaves_out_what_other_fleets_name() -> None:
    rest = scopes(values_fleet("gold"), frozenset({"x"}))["rest"]
    assert rest.scope.watches == (
        Watch(label_selector="tier notin (gold)", field_selector="metadata.namespace!=x"),
    )
    assert rest.excludes == frozenset({"x"})


def test_job_namespaces_make_label_shards_one_watch_per_namespace() -> None:
    defs = scopes(bounded(values_fleet("gold"), "j2", "j1"), frozenset({"j2", "elsewhere"}))
    assert defs["v-gold"].scope.watches == (
        Watch(namespace="j1", label_selector="tier in (gold)"),
        Watch(namespace="j2", label_selector="tier in (gold)"),
    )
    # the catch-all: the job namespaces no fleet names (j2 is named elsewhere)
    assert defs["rest"].scope.watches == (Watch(namespace="j1", label_selector="tier notin (gold)"),)
    assert defs["rest"].excludes == frozenset({"j2"})
    selector = scopes(bounded(label_fleet({"k": "v"}), "j1"))["l0"]
    assert selector.scope.watches == (Watch(namespace="j1", label_selector="k=v"),)


def test_job_namespaces_make_a_namespace_catch_all_the_namespaces_nobody_names() -> None:
    defs = scopes(bounded(ns_fleet(["j1"], None), "j1", "j2", "j3", "j4"), frozenset({"j3", "other"}))
    assert defs["s1"].scope.watches == (Watch(namespace="j2"), Watch(namespace="j4"))
    assert defs["s1"].excludes == frozenset({"j3"})
    # every job namespace named: the catch-all watches nothing
    assert scopes(bounded(ns_fleet(["j1"], None), "j1"))["s1"].scope.watches == ()


def test_a_named_namespace_outside_the_job_namespaces_is_a_problem() -> None:
    _, problems = compile_shards(bounded(ns_fleet(["j1", "kube-system"]), "j1"))
    assert problems == [
        Problem(
            "spec.shards[0].namespaces[1]",
            "namespace 'kube-system' is not in spec.jobNamespaces (the namespaces the fleet may serve at all)",
        )
    ]
