"""Two fleets naming one namespace: the one created first keeps it, the other refuses the shard."""

from __future__ import annotations

from sparkfleet.api.fleet import SparkFleetSpec
from sparkfleet.sharding.shards import FleetClaim, claim_order, refused_shards
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
