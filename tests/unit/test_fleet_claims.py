"""Fleets side by side: the one created first keeps a namespace both name, a catch-all hands over what
another fleet names before that fleet serves it."""

from __future__ import annotations

from sparkfleet.api.fleet import SparkFleetSpec
from sparkfleet.sharding.shards import (
    ANNOTATION_EXCLUDES,
    FleetClaim,
    claim_of,
    claim_order,
    compile_shards,
    confirmed_excludes,
    excludes_annotation,
    named_elsewhere,
    refused_shards,
    waiting_shards,
)
from tests.unit.test_shards import ns_fleet

EARLY = ("2026-01-01T00:00:00Z", "ops", "a")
LATE = ("2026-01-02T00:00:00Z", "ops", "b")


def claim(order: tuple[str, str, str], spec: SparkFleetSpec) -> FleetClaim:
    return FleetClaim(order, f"{order[1]}/{order[2]}", spec)


def test_the_later_fleet_refuses_the_shards_naming_a_claimed_namespace() -> None:
    first, second = ns_fleet(["x"], ["y"]), ns_fleet(["y", "w"], ["z"])
    assert refused_shards(second, LATE, [claim(EARLY, first)]) == {
        "s0": "namespaces y are already claimed by fleet ops/a"
    }
    assert refused_shards(first, EARLY, [claim(LATE, second)]) == {}


def test_same_creation_second_is_ordered_by_namespace_and_name() -> None:
    a = ("2026-01-01T00:00:00Z", "ops", "a")
    b = ("2026-01-01T00:00:00Z", "ops", "b")
    assert refused_shards(ns_fleet(["x"]), b, [claim(a, ns_fleet(["x"]))]) == {
        "s0": "namespaces x are already claimed by fleet ops/a"
    }
    assert refused_shards(ns_fleet(["x"]), a, [claim(b, ns_fleet(["x"]))]) == {}
    obj = {"metadata": {"name": "a", "namespace": "ops", "creationTimestamp": "2026-01-01T00:00:00Z"}}
    assert claim_order(obj) == a


def test_catch_alls() -> None:
    # a name beats a catch-all, whoever came first
    assert refused_shards(ns_fleet(["x"]), LATE, [claim(EARLY, ns_fleet(None))]) == {}
    assert refused_shards(ns_fleet(None), LATE, [claim(EARLY, ns_fleet(["x"]))]) == {}
    # two catch-alls: the later one is refused
    assert refused_shards(ns_fleet(["q"], None), LATE, [claim(EARLY, ns_fleet(None))]) == {
        "s1": "fleet ops/a already has a catch-all"
    }


def test_label_fleets_are_not_judged() -> None:
    values = SparkFleetSpec.model_validate(
        {"routingLabel": "tier", "shards": [{"name": "g", "values": ["gold"]}]}
    )
    assert refused_shards(ns_fleet(["x"]), LATE, [claim(EARLY, values)]) == {}
    assert refused_shards(values, LATE, [claim(EARLY, ns_fleet(["x"]))]) == {}


def test_two_catch_alls_with_job_namespaces_that_do_not_meet_are_both_served() -> None:
    first = ns_fleet(None).model_copy(update={"job_namespaces": ["a1", "a2"]})
    second = ns_fleet(None).model_copy(update={"job_namespaces": ["b1"]})
    assert refused_shards(second, LATE, [claim(EARLY, first)]) == {}
    meeting = ns_fleet(None).model_copy(update={"job_namespaces": ["a2", "b1"]})
    assert refused_shards(meeting, LATE, [claim(EARLY, first)]) == {
        "s0": "fleet ops/a already has a catch-all"
    }


# -- the hand-over from another fleet's catch-all ------------------------------------------------------


def released(order: tuple[str, str, str], spec: SparkFleetSpec, *namespaces: str) -> FleetClaim:
    return FleetClaim(order, f"{order[1]}/{order[2]}", spec, frozenset(namespaces))


def test_a_shard_naming_what_another_catch_all_may_serve_waits_for_its_release() -> None:
    mine = ns_fleet(["y"], ["z"])
    catch_all = ns_fleet(["q"], None)
    assert waiting_shards(mine, LATE, [released(EARLY, catch_all)], serving=set()) == {
        "s0": "waiting for fleet ops/a's catch-all to release y",
        "s1": "waiting for fleet ops/a's catch-all to release z",
    }
    # the other fleet's status confirms y: s0 may be claimed
    assert waiting_shards(mine, LATE, [released(EARLY, catch_all, "y")], serving=set()) == {
        "s1": "waiting for fleet ops/a's catch-all to release z"
    }
    assert waiting_shards(mine, LATE, [released(EARLY, catch_all, "y", "z")], serving=set()) == {}
    # whoever was created first: a catch-all created later may hold it too until it confirms
    assert waiting_shards(mine, EARLY, [released(LATE, catch_all)], serving=set()) != {}
    # once gone (not among the others), nothing to wait for
    assert waiting_shards(mine, LATE, [], serving=set()) == {}


def test_a_refused_catch_all_is_not_waited_for() -> None:
    # ops/b's catch-all is refused (ops/a has one too): it serves nothing, so nothing to hand over
    mine = ns_fleet(["y"])
    first, second = ns_fleet(None), ns_fleet(None)
    later = ("2026-01-03T00:00:00Z", "ops", "c")
    assert (
        waiting_shards(mine, later, [released(EARLY, first, "y"), released(LATE, second)], serving=set())
        == {}
    )
    # while the first has not released y, it is the one waited for
    assert waiting_shards(mine, later, [released(EARLY, first), released(LATE, second)], serving=set()) == {
        "s0": "waiting for fleet ops/a's catch-all to release y"
    }


def test_a_served_shard_never_waits() -> None:
    mine, catch_all = ns_fleet(["y"]), ns_fleet(None)
    assert waiting_shards(mine, LATE, [released(EARLY, catch_all)], serving={"s0"}) == {}


def test_only_catch_alls_that_may_serve_the_namespace_are_waited_for() -> None:
    mine = ns_fleet(["y"])
    assert waiting_shards(mine, LATE, [released(EARLY, ns_fleet(["x"]))], serving=set()) == {}
    bounded_elsewhere = ns_fleet(None).model_copy(update={"job_namespaces": ["p"]})
    assert waiting_shards(mine, LATE, [released(EARLY, bounded_elsewhere)], serving=set()) == {}
    # the catch-all fleet names y itself: that is a refusal or an overlap, not a hand-over
    assert waiting_shards(mine, LATE, [released(EARLY, ns_fleet(["y"], None))], serving=set()) == {}
    values = SparkFleetSpec.model_validate(
        {
            "routingLabel": "tier",
            "shards": [{"name": "g", "values": ["gold"]}, {"name": "r", "catchAll": True}],
        }
    )
    assert waiting_shards(mine, LATE, [released(EARLY, values)], serving=set()) == {
        "s0": "waiting for fleet ops/a's catch-all to release y"
    }


def test_a_fleet_object_as_a_claim() -> None:
    obj = {
        "metadata": {"name": "c", "namespace": "ops", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"shards": [{"name": "r", "catchAll": True}]},
        "status": {"catchAllExcludes": ["y", "z"]},
    }
    found = claim_of(obj)
    assert found is not None
    assert found.where == "ops/c"
    assert found.released == frozenset({"y", "z"})
    assert found.order == claim_order(obj)
    assert claim_of({**obj, "spec": {"shards": []}}) is None  # an invalid fleet claims nothing
    assert claim_of({**obj, "status": {}}).released == frozenset()  # type: ignore[union-attr]


def test_named_elsewhere_is_every_namespace_the_other_fleets_name() -> None:
    others = [claim(EARLY, ns_fleet(["a"], None)), claim(LATE, ns_fleet(["b", "c"]))]
    assert named_elsewhere(others) == frozenset({"a", "b", "c"})
    assert named_elsewhere([]) == frozenset()


def test_a_member_publishes_the_excludes_of_the_catch_all_it_serves() -> None:
    defs, _ = compile_shards(ns_fleet(["a"], None), frozenset({"y", "x"}))
    assert excludes_annotation(defs) == '["x","y"]'
    assert confirmed_excludes({ANNOTATION_EXCLUDES: excludes_annotation(defs)}) == frozenset({"x", "y"})
    named_only, _ = compile_shards(ns_fleet(["a"]))
    assert excludes_annotation(named_only) == ""
    assert confirmed_excludes({ANNOTATION_EXCLUDES: ""}) is None
    assert confirmed_excludes({}) is None
    assert confirmed_excludes({ANNOTATION_EXCLUDES: "not json"}) is None
    assert confirmed_excludes({ANNOTATION_EXCLUDES: '{"a": 1}'}) is None
    nothing_excluded, _ = compile_shards(ns_fleet(None))
    assert confirmed_excludes({ANNOTATION_EXCLUDES: excludes_annotation(nothing_excluded)}) == frozenset()
