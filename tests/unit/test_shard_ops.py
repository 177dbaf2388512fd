"""What ``sparkfleet shards`` reports and predicts, from the objects it read (no cluster)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from sparkfleet.kube.timestamps import format_micro_time
from sparkfleet.output import Format, short_age, structured
from sparkfleet.sharding.leases import (
    ANNOTATION_IDENTITY,
    ANNOTATION_LOAD,
    ROLE_MEMBER,
    ROLE_SHARD,
    lease_object,
)
from sparkfleet.sharding.ops import (
    ConditionRow,
    MemberRow,
    ShardRow,
    ShardScope,
    age_seconds,
    all_held,
    member_empty,
    planned_moves,
    rebalanced,
    report,
    shard_on,
)
from sparkfleet.sharding.planner import Move

NOW = 1_700_000_000.0


def ago(seconds: float) -> str:
    return format_micro_time(NOW - seconds)


def member_lease(identity: str, load: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    annotations = {ANNOTATION_IDENTITY: identity}
    if load is not None:
        annotations[ANNOTATION_LOAD] = orjson.dumps(load).decode()
    return lease_object(
        f"fleet-member-{identity}",
        "spark",
        fleet="fleet",
        role=ROLE_MEMBER,
        spec={"holderIdentity": identity},
        annotations=annotations,
    )


def fleet_obj(
    shards: list[dict[str, Any]],
    members: list[dict[str, Any]],
    *,
    spec: dict[str, Any] | None = None,
    **status: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "sparkfleet.io/v1alpha1",
        "kind": "SparkFleet",
        "metadata": {"name": "fleet", "namespace": "spark", "resourceVersion": "7"},
        "spec": spec or {"shards": [{"name": s["name"], "namespaces": [s["name"]]} for s in shards]},
        "status": {"shards": shards, "members": members, **status},
    }


def only(*namespaces: str) -> ShardScope:
    return ShardScope(sorted(namespaces), False, [], None)


def held(name: str, holder: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "holder": holder, "desiredHolder": holder, "phase": "Held", **extra}


# -- age ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (120, "2m0s"),
        (192, "3m12s"),
        (599, "9m59s"),
        (600, "10m"),
        (2 * 3600, "120m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 1800, "5h"),
        (48 * 3600 - 1, "47h"),
        (2 * 86400, "2d"),
        (30 * 86400, "30d"),
    ],
)
def test_age_is_kubectl_style(seconds: int, expected: str) -> None:
    assert short_age(age_seconds(ago(seconds), NOW)) == expected


def test_age_without_a_time_or_in_the_future() -> None:
    assert age_seconds(None, NOW) is None
    assert age_seconds("", NOW) is None
    assert short_age(None) == "-"
    assert age_seconds(ago(-30), NOW) == 0.0
    assert age_seconds(ago(45.94), NOW) == 45.9  # seconds to a tenth
    assert short_age(age_seconds(ago(45.9), NOW)) == "45s"  # truncated, not rounded


# -- report ----------------------------------------------------------------------------------


def test_report_from_the_status_and_the_member_leases() -> None:
    obj = fleet_obj(
        [
            held("s0", "m0", since=ago(45), objects=3),
            {
                "name": "s1",
                "holder": "m0",
                "desiredHolder": "m1",
                "phase": "Moving",
                "since": ago(192),
                "objects": 9,
            },
            {"name": "s2", "phase": "Unassigned", "objects": 4},
        ],
        [
            {"identity": "m0", "state": "Active", "shards": 2, "objects": 12, "capacity": 2.0},
            {"identity": "m1", "state": "Draining", "shards": 0, "objects": 5},
        ],
        coordinator="m1",
        conditions=[
            {"type": "Invalid", "status": "False"},
            {"type": "Ready", "status": "False", "reason": "ShardsMoving"},
        ],
    )
    leases = [
        member_lease("m0", {"s0": {"objects": 10, "queued": 2}, "s1": {"objects": 1, "queued": 0}}),
        member_lease("m1"),
        lease_object(
            "fleet-shard-s0", "spark", fleet="fleet", role=ROLE_SHARD, spec={"holderIdentity": "m0"}
        ),
    ]
    result = report(obj, leases, NOW)
    assert (result.fleet, result.namespace, result.coordinator, result.ready) == (
        "fleet",
        "spark",
        "m1",
        False,
    )
    assert result.shards == [
        ShardRow(
            "s0", "Held", "m0", "m0", None, 45.0, 10, 2, only("s0")
        ),  # live counts from the holder's Lease
        ShardRow("s1", "Moving", "m0", "m1", None, 192.0, 1, 0, only("s1")),
        ShardRow(
            "s2", "Unassigned", None, None, None, None, 4, 0, only("s2")
        ),  # no holder: the status's count
    ]
    assert result.members == [
        MemberRow("m0", "Active", 2, 11, 2, 2.0, False),
        MemberRow("m1", "Draining", 0, 0, 0, 1.0, True),  # its Lease reports no shards: 0, not the status's 5
    ]
    assert result.conditions == [
        ConditionRow("Invalid", False, "", "", None),
        ConditionRow("Ready", False, "ShardsMoving", "", None),
    ]


def test_report_of_a_fleet_without_status() -> None:
    obj = {"metadata": {"name": "fleet", "namespace": "spark"}, "spec": {"shards": []}}
    result = report(obj, [], NOW)
    assert (result.coordinator, result.ready, result.shards, result.members, result.conditions) == (
        None,
        None,
        [],
        [],
        [],
    )


def test_report_ignores_leases_that_are_not_member_leases() -> None:
    obj = fleet_obj(
        [held("s0", "m0", objects=3)], [{"identity": "m0", "state": "Active", "shards": 1, "objects": 3}]
    )
    impostor = member_lease("m0", {"s0": {"objects": 99, "queued": 99}})
    impostor["metadata"]["labels"]["sparkfleet.io/role"] = ROLE_SHARD
    result = report(obj, [impostor], NOW)
    assert result.shards[0].objects == 3
    assert result.shards[0].queued == 0
    assert result.members[0].objects == 3


def test_report_to_dict_is_printable() -> None:
    obj = fleet_obj(
        [held("s0", "m0", since=ago(10))],
        [{"identity": "m0", "state": "Active", "shards": 1}],
        coordinator="m0",
    )
    data = report(obj, [member_lease("m0", {"s0": {"objects": 1, "queued": 0}})], NOW).to_dict()
    assert data["shards"] == [
        {
            "name": "s0",
            "phase": "Held",
            "holder": "m0",
            "desired": "m0",
            "pin": None,
            "age_seconds": 10.0,
            "objects": 1,
            "queued": 0,
            "scope": {
                "namespaces": ["s0"],
                "all_namespaces": False,
                "except_namespaces": [],
                "selector": None,
                "namespace_selector": None,
            },
        }
    ]
    assert data["members"][0]["coordinator"] is True
    assert orjson.loads(structured(data, Format.json)) == data


def test_report_member_objects_prefer_a_live_zero() -> None:
    obj = fleet_obj(
        [held("s0", "m0", objects=8)], [{"identity": "m0", "state": "Active", "shards": 1, "objects": 8}]
    )
    result = report(obj, [member_lease("m0", {"s0": {"objects": 0, "queued": 0}})], NOW)
    assert result.shards[0].objects == 0
    assert result.members[0].objects == result.shards[0].objects


# -- planned moves ---------------------------------------------------------------------------


def four_shards(drain: list[str] | None = None, pins: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"shards": [{"name": f"s{i}", "namespaces": [f"n{i}"]} for i in range(4)]}
    if drain:
        spec["drain"] = drain
    if pins:
        spec["pins"] = pins
    return fleet_obj(
        [held("s0", "m0"), held("s1", "m0"), held("s2", "m1"), held("s3", "m1")],
        [{"identity": "m0", "state": "Active"}, {"identity": "m1", "state": "Active"}],
        spec=spec,
    )


def test_no_moves_for_a_settled_fleet() -> None:
    assert planned_moves(four_shards(), rebalance=False) == []
    assert planned_moves(four_shards(), rebalance=True) == []


def test_moves_for_a_drained_member() -> None:
    obj = four_shards(drain=["m0"])
    snapshot = copy.deepcopy(obj)
    moves = planned_moves(obj, rebalance=False)
    assert moves == [Move("s0", "m0", "m1", "draining"), Move("s1", "m0", "m1", "draining")]
    assert obj == snapshot


def test_moves_for_a_member_the_status_says_is_draining() -> None:
    obj = four_shards()
    obj["status"]["members"][1]["state"] = "Draining"
    assert planned_moves(obj, rebalance=False) == [
        Move("s2", "m1", "m0", "draining"),
        Move("s3", "m1", "m0", "draining"),
    ]


def test_moves_for_an_expired_member() -> None:
    obj = four_shards()
    obj["status"]["members"][1]["state"] = "Expired"
    assert planned_moves(obj, rebalance=False) == [
        Move("s2", "m1", "m0", "holder-gone"),
        Move("s3", "m1", "m0", "holder-gone"),
    ]


def test_moves_for_a_pin() -> None:
    assert planned_moves(four_shards(pins={"s0": "m1"}), rebalance=False) == [
        Move("s0", "m0", "m1", "pinned")
    ]


def test_rebalance_moves_use_the_weights() -> None:
    obj = four_shards()
    obj["spec"]["shards"][0]["weight"] = 10  # m0: 11, m1: 2
    plain = planned_moves(obj, rebalance=False)
    full = planned_moves(obj, rebalance=True)
    assert plain == []
    assert full == [Move("s1", "m0", "m1", "rebalance")]


# -- predicates ------------------------------------------------------------------------------


def test_all_held() -> None:
    assert all_held(four_shards())
    moving = four_shards()
    moving["status"]["shards"][2]["phase"] = "Moving"
    assert not all_held(moving)
    assert not all_held(fleet_obj([], []))
    assert not all_held({"metadata": {}})


def test_shard_on() -> None:
    obj = four_shards()
    assert shard_on("s2", "m1")(obj)
    assert not shard_on("s2", "m0")(obj)
    assert not shard_on("nope", "m1")(obj)
    obj["status"]["shards"][2]["phase"] = "Moving"
    assert not shard_on("s2", "m1")(obj)


def test_member_empty() -> None:
    obj = four_shards()
    assert not member_empty("m0")(obj)
    assert member_empty("m9")(obj)
    obj["status"]["shards"] = [held("s0", "m1"), held("s1", "m1"), held("s2", "m1"), held("s3", "m1")]
    assert member_empty("m0")(obj)
    obj["status"]["shards"][0]["phase"] = "Moving"
    assert not member_empty("m0")(obj), "not done until every shard is held again"


def test_rebalanced() -> None:
    obj = four_shards()
    assert not rebalanced("t1")(obj)
    obj["status"]["lastRebalance"] = "t1"
    assert rebalanced("t1")(obj)
    assert not rebalanced("t2")(obj)
    obj["status"]["shards"][0]["phase"] = "Moving"
    assert not rebalanced("t1")(obj)
