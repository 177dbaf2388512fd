"""The coordinator's pure pass: from members, shard Leases, spec and last status to holders and status."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkfleet.api.fleet import SparkFleetSpec, SparkFleetStatus
from sparkfleet.kube.timestamps import format_micro_time
from sparkfleet.sharding.coordinator import Inputs, MemberView, decide
from sparkfleet.sharding.leases import (
    ANNOTATION_CAPACITY,
    ANNOTATION_DRAINING,
    ANNOTATION_IDENTITY,
    ANNOTATION_LOAD,
    LABEL_SHARD,
    ROLE_MEMBER,
    ROLE_SHARD,
    MemberLease,
    ShardLease,
    lease_object,
    member_lease_name,
    shard_lease_name,
)
from sparkfleet.sharding.shards import Problem

NOW = 1_700_000_000.0
LATER = NOW + 60
ACQUIRED = "2023-11-14T22:00:00.000000Z"
SHARDS = [f"s{i}" for i in range(6)]


def fleet_spec(shards: list[str] = SHARDS, **fields: Any) -> SparkFleetSpec:
    return SparkFleetSpec.model_validate(
        {"shards": [{"name": name, "namespaces": [f"ns-{name}"]} for name in shards], **fields}
    )


def member(
    identity: str,
    *,
    alive: bool = True,
    draining: bool = False,
    capacity: float | None = None,
    load: dict[str, dict[str, int]] | None = None,
) -> MemberView:
    annotations = {ANNOTATION_IDENTITY: identity}
    if draining:
        annotations[ANNOTATION_DRAINING] = "true"
    if capacity is not None:
        annotations[ANNOTATION_CAPACITY] = f"{capacity:g}"
    if load is not None:
        annotations[ANNOTATION_LOAD] = orjson.dumps(load).decode()
    obj = lease_object(
        member_lease_name("fleet", identity),
        "ns",
        fleet="fleet",
        role=ROLE_MEMBER,
        spec={"holderIdentity": identity, "leaseDurationSeconds": 15, "renewTime": ACQUIRED},
        annotations=annotations,
    )
    return MemberView(MemberLease.parse(obj), alive)


def shard_lease(shard: str, holder: str, *, acquired: bool = True) -> ShardLease:
    spec: dict[str, Any] = {"holderIdentity": holder}
    if acquired:
        spec["acquireTime"] = ACQUIRED
    obj = lease_object(
        shard_lease_name("fleet", shard),
        "ns",
        fleet="fleet",
        role=ROLE_SHARD,
        spec=spec,
        labels={LABEL_SHARD: shard},
    )
    return ShardLease.parse(obj)


def inputs(
    members: list[MemberView],
    *,
    spec: SparkFleetSpec | None = None,
    shards: list[str] = SHARDS,
    leases: dict[str, ShardLease] | None = None,
    previous: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
    overlaps: list[str] | None = None,
    rebalance: str | None = None,
    now: float = NOW,
    newcomers: frozenset[str] = frozenset(),
) -> Inputs:
    return Inputs(
        coordinator="m0",
        generation=4,
        spec=spec if spec is not None else fleet_spec(shards),
        shard_names=shards,
        problems=problems or [],
        members=members,
        shard_leases=leases or {},
        previous=previous or {},
        overlaps=overlaps or [],
        rebalance=rebalance,
        now=now,
        newcomers=newcomers,
    )


def claimed(holders: dict[str, str | None]) -> dict[str, ShardLease]:
    """Shard Leases as the members write them once they took what they were given."""
    return {name: shard_lease(name, holder) for name, holder in holders.items() if holder}


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in status["conditions"] if c["type"] == kind)
    return found


def shard_entry(status: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in status["shards"] if s["name"] == name)
    return found


def counts(holders: dict[str, str | None]) -> dict[str | None, int]:
    result: dict[str | None, int] = {}
    for holder in holders.values():
        result[holder] = result.get(holder, 0) + 1
    return result


THREE = [member("m0"), member("m1"), member("m2")]


# -- a new fleet -----------------------------------------------------------------------------


def test_new_fleet_assigns_every_shard_and_waits_for_the_claims() -> None:
    holders, status = decide(inputs(THREE))
    assert set(holders) == set(SHARDS)
    assert counts(holders) == {"m0": 2, "m1": 2, "m2": 2}
    assert [s["name"] for s in status["shards"]] == SHARDS
    for entry in status["shards"]:
        assert entry["phase"] == "Moving"
        assert entry["desiredHolder"] == holders[entry["name"]]
        assert "holder" not in entry
        assert "since" not in entry
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ShardsMoving")
    assert ready["message"] == "6 of 6 shards are changing hands"
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Invalid", "Overlap"]
    assert status["coordinator"] == "m0"
    assert status["observedGeneration"] == 4
    assert "lastRebalance" not in status
    assert [m["identity"] for m in status["members"]] == ["m0", "m1", "m2"]
    assert all(m["state"] == "Active" and m["shards"] == 0 for m in status["members"])
    SparkFleetStatus.model_validate(status)  # the status fits the CRD's own model


def test_claimed_shards_are_held() -> None:
    holders, _ = decide(inputs(THREE))
    previous = decide(inputs(THREE))[1]
    again, status = decide(inputs(THREE, leases=claimed(holders), previous=previous, now=LATER))
    assert again == holders
    for entry in status["shards"]:
        assert entry["phase"] == "Held"
        assert entry["holder"] == entry["desiredHolder"] == holders[entry["name"]]
        assert entry["since"] == ACQUIRED
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "True",
        "AllShardsHeld",
        "6 shards held by 3 members",
    )
    assert ready["lastTransitionTime"] == format_micro_time(LATER)
    assert {m["identity"]: m["shards"] for m in status["members"]} == {"m0": 2, "m1": 2, "m2": 2}
    SparkFleetStatus.model_validate(status)


def test_a_lease_without_acquire_time_or_held_by_another_member_is_still_moving() -> None:
    holders, previous = decide(inputs(THREE))
    other = {"m0": "m1", "m1": "m2", "m2": "m0"}
    leases = {
        "s0": shard_lease("s0", str(holders["s0"]), acquired=False),
        "s1": shard_lease("s1", other[str(holders["s1"])]),
    }
    _, status = decide(inputs(THREE, leases=leases, previous=previous))
    assert shard_entry(status, "s0")["phase"] == "Moving"
    assert shard_entry(status, "s0")["holder"] == holders["s0"]
    assert "since" not in shard_entry(status, "s0")
    s1 = shard_entry(status, "s1")
    assert (s1["phase"], s1["holder"], s1["desiredHolder"]) == (
        "Moving",
        other[str(holders["s1"])],
        holders["s1"],
    )


def test_objects_come_from_the_holders_load() -> None:
    members = [member("m0", load={"s0": {"objects": 7, "queued": 2}}), member("m1")]
    leases = {"s0": shard_lease("s0", "m0"), "s1": shard_lease("s1", "m1")}
    previous = {"shards": [{"name": "s1", "objects": 4, "phase": "Held"}]}
    _, status = decide(inputs(members, shards=["s0", "s1"], leases=leases, previous=previous))
    assert shard_entry(status, "s0")["objects"] == 7
    assert shard_entry(status, "s1")["objects"] == 4  # m1 reports nothing for s1: the last status
    assert {m["identity"]: m["objects"] for m in status["members"]} == {"m0": 7, "m1": 0}


# -- members leaving -------------------------------------------------------------------------


def test_expired_members_shards_are_replanned_to_live_members() -> None:
    holders, previous = decide(inputs(THREE))
    leases = claimed(holders)
    dead = [member("m0"), member("m1", alive=False), member("m2")]
    replanned, status = decide(inputs(dead, leases=leases, previous=previous, now=LATER))
    assert "m1" not in replanned.values()
    assert all(replanned[s] == holders[s] for s in SHARDS if holders[s] != "m1"), (
        "only the dead member's shards move"
    )
    assert counts(replanned) == {"m0": 3, "m2": 3}
    states = {m["identity"]: (m["state"], m["shards"]) for m in status["members"]}
    assert states == {"m0": ("Active", 2), "m1": ("Expired", 0), "m2": ("Active", 2)}
    for name in SHARDS:
        entry = shard_entry(status, name)
        if holders[name] == "m1":
            assert entry["phase"] == "Moving"
            assert entry["holder"] == "m1"  # the Lease still names it until the new holder claims it
        else:
            assert entry["phase"] == "Held"
    assert condition(status, "Ready")["reason"] == "ShardsMoving"


@pytest.mark.parametrize("how", ["annotation", "spec"])
def test_draining_member_gets_no_shards(how: str) -> None:
    holders, previous = decide(inputs(THREE))
    leases = claimed(holders)
    if how == "annotation":
        members = [member("m0"), member("m1"), member("m2", draining=True)]
        spec = fleet_spec()
    else:
        members = THREE
        spec = fleet_spec(drain=["m2"])
    replanned, status = decide(inputs(members, spec=spec, leases=leases, previous=previous))
    assert "m2" not in replanned.values()
    assert all(replanned[s] == holders[s] for s in SHARDS if holders[s] != "m2")
    assert counts(replanned) == {"m0": 3, "m1": 3}
    drainer = next(m for m in status["members"] if m["identity"] == "m2")
    assert drainer["state"] == "Draining"
    assert drainer["shards"] == 2  # it still holds them until the hand-off


def test_a_new_fleet_never_plans_onto_a_draining_member() -> None:
    holders, status = decide(inputs([member("m0"), member("m1", draining=True)]))
    assert set(holders.values()) == {"m0"}
    assert all(s["desiredHolder"] == "m0" for s in status["shards"])


def test_all_members_draining_leaves_shards_unassigned() -> None:
    holders, status = decide(inputs([member("m0", draining=True)], shards=["s0"]))
    assert holders == {"s0": None}
    entry = shard_entry(status, "s0")
    assert entry["phase"] == "Unassigned"
    assert "desiredHolder" not in entry
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "NoEligibleMembers")


def test_no_live_members() -> None:
    holders, status = decide(inputs([member("m0", alive=False)], shards=["s0", "s1"]))
    assert holders == {"s0": None, "s1": None}
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "NoMembers", "no live members")
    assert [s["phase"] for s in status["shards"]] == ["Unassigned", "Unassigned"]
    assert status["members"][0]["state"] == "Expired"


def test_no_members_at_all() -> None:
    holders, status = decide(inputs([], shards=["s0"]))
    assert holders == {"s0": None}
    assert status["members"] == []
    assert condition(status, "Ready")["reason"] == "NoMembers"


# -- pins ------------------------------------------------------------------------------------


def test_pins_are_honoured() -> None:
    holders, previous = decide(inputs(THREE))
    target = next(m for m in ("m0", "m1", "m2") if m != holders["s0"])
    spec = fleet_spec(pins={"s0": target})
    pinned, status = decide(inputs(THREE, spec=spec, leases=claimed(holders), previous=previous))
    assert pinned["s0"] == target
    entry = shard_entry(status, "s0")
    assert (entry["phase"], entry["holder"], entry["desiredHolder"]) == ("Moving", holders["s0"], target)


def test_pin_to_a_draining_or_absent_member_is_not_followed() -> None:
    members = [member("m0"), member("m1", draining=True)]
    for pin in ("m1", "nobody"):
        holders, _ = decide(inputs(members, shards=["s0"], spec=fleet_spec(["s0"], pins={"s0": pin})))
        assert holders == {"s0": "m0"}


# -- conditions ------------------------------------------------------------------------------


def test_problems_make_the_spec_invalid_naming_the_field() -> None:
    problems = [
        Problem("spec.shards[1].namespaces[0]", "namespace 'x' is already in shard 's0'"),
        Problem("spec.pins.zz", "there is no shard named 'zz'"),
    ]
    holders, status = decide(inputs(THREE, problems=problems))
    invalid = condition(status, "Invalid")
    assert (invalid["status"], invalid["reason"]) == ("True", "InvalidSpec")
    assert "spec.shards[1].namespaces[0]: namespace 'x' is already in shard 's0'" in invalid["message"]
    assert "spec.pins.zz" in invalid["message"]
    assert all(holders.values()), "the last valid plan keeps being served"


def test_valid_spec() -> None:
    _, status = decide(inputs(THREE))
    invalid = condition(status, "Invalid")
    assert (invalid["status"], invalid["reason"], invalid["message"]) == ("False", "Valid", "")


def test_overlap_with_another_fleet() -> None:
    message = "fleet other/fleet also serves namespaces ns-s0"
    _, status = decide(inputs(THREE, overlaps=[message, "fleet b/c also serves namespaces *"]))
    overlap = condition(status, "Overlap")
    assert (overlap["status"], overlap["reason"]) == ("True", "NamespacesClaimedTwice")
    assert message in overlap["message"]
    _, clean = decide(inputs(THREE))
    assert (condition(clean, "Overlap")["status"], condition(clean, "Overlap")["reason"]) == (
        "False",
        "NoOverlap",
    )


def test_last_transition_time_is_kept_while_the_status_does_not_change() -> None:
    _, first = decide(inputs(THREE, now=NOW))
    _, second = decide(inputs(THREE, previous=first, now=LATER))
    for kind in ("Ready", "Invalid", "Overlap"):
        assert condition(second, kind)["lastTransitionTime"] == format_micro_time(NOW)
    _, third = decide(inputs(THREE, previous=second, problems=[Problem("spec.x", "bad")], now=LATER + 1))
    assert condition(third, "Invalid")["lastTransitionTime"] == format_micro_time(LATER + 1)
    assert condition(third, "Overlap")["lastTransitionTime"] == format_micro_time(NOW)


def test_reason_change_without_status_change_keeps_the_time() -> None:
    _, first = decide(inputs(THREE, now=NOW))  # Ready False: ShardsMoving
    _, second = decide(inputs([], previous=first, now=LATER))  # Ready False: NoMembers
    ready = condition(second, "Ready")
    assert ready["reason"] == "NoMembers"
    assert ready["lastTransitionTime"] == format_micro_time(NOW)


def test_ready_goes_true_then_false_with_new_times() -> None:
    holders, first = decide(inputs(THREE, now=NOW))
    _, held = decide(inputs(THREE, leases=claimed(holders), previous=first, now=NOW + 10))
    assert condition(held, "Ready")["status"] == "True"
    assert condition(held, "Ready")["lastTransitionTime"] == format_micro_time(NOW + 10)
    dead = [member("m0"), member("m1"), member("m2", alive=False)]
    _, moving = decide(inputs(dead, leases=claimed(holders), previous=held, now=NOW + 20))
    assert condition(moving, "Ready")["status"] == "False"
    assert condition(moving, "Ready")["lastTransitionTime"] == format_micro_time(NOW + 20)


# -- rebalance -------------------------------------------------------------------------------


def lopsided() -> tuple[dict[str, str | None], dict[str, Any]]:
    """m0 holds four of six shards, m1 two: within the bound, so a plain pass keeps it."""
    holders: dict[str, str | None] = {s: ("m0" if i < 4 else "m1") for i, s in enumerate(SHARDS)}
    previous = {"shards": [{"name": s, "desiredHolder": h, "phase": "Held"} for s, h in holders.items()]}
    return holders, previous


def test_a_plain_pass_does_not_rebalance() -> None:
    holders, previous = lopsided()
    members = [member("m0"), member("m1")]
    planned, status = decide(inputs(members, leases=claimed(holders), previous=previous))
    assert planned == holders
    assert "lastRebalance" not in status


def test_rebalance_token_evens_the_load_and_is_recorded() -> None:
    holders, previous = lopsided()
    members = [member("m0"), member("m1")]
    planned, status = decide(inputs(members, leases=claimed(holders), previous=previous, rebalance="token-1"))
    assert counts(planned) == {"m0": 3, "m1": 3}
    moved = [s for s in SHARDS if planned[s] != holders[s]]
    assert len(moved) == 1
    assert holders[moved[0]] == "m0"
    assert status["lastRebalance"] == "token-1"
    # the next pass (the request already applied) keeps the token and the plan
    again, later = decide(inputs(members, leases=claimed(holders), previous=status))
    assert again == planned
    assert later["lastRebalance"] == "token-1"


# -- stability -------------------------------------------------------------------------------


def test_feeding_the_status_back_keeps_the_holders() -> None:
    holders, status = decide(inputs(THREE))
    for _ in range(3):
        again, status = decide(inputs(THREE, previous=status))
        assert again == holders
    _, held = decide(inputs(THREE, leases=claimed(holders), previous=status))
    assert decide(inputs(THREE, leases=claimed(holders), previous=held))[0] == holders


def test_previous_desired_holder_is_kept_over_the_lease_holder() -> None:
    previous = {"shards": [{"name": "s0", "desiredHolder": "m1", "phase": "Moving"}]}
    holders, status = decide(
        inputs(THREE, shards=["s0"], leases={"s0": shard_lease("s0", "m0")}, previous=previous)
    )
    assert holders == {"s0": "m1"}
    assert shard_entry(status, "s0")["holder"] == "m0"


def test_decide_does_not_change_its_inputs() -> None:
    holders, previous = decide(inputs(THREE))
    snapshot = copy.deepcopy(previous)
    decide(inputs(THREE, leases=claimed(holders), previous=previous, rebalance="r"))
    assert previous == snapshot


MEMBER_STATES = st.sampled_from(["alive", "dead", "draining"])


@settings(max_examples=60, deadline=None)
@given(
    states=st.lists(MEMBER_STATES, min_size=0, max_size=4),
    previous_holders=st.lists(
        st.sampled_from([None, "m0", "m1", "m2", "m3", "gone"]), min_size=6, max_size=6
    ),
    lease_holders=st.lists(st.sampled_from([None, "m0", "m1", "m2", "m3"]), min_size=6, max_size=6),
    rebalance=st.booleans(),
)
def test_decisions_are_stable(
    states: list[str], previous_holders: list[str | None], lease_holders: list[str | None], rebalance: bool
) -> None:
    members = [
        member(f"m{i}", alive=state != "dead", draining=state == "draining") for i, state in enumerate(states)
    ]
    previous = {
        "shards": [
            {"name": s, "desiredHolder": h, "phase": "Moving"}
            for s, h in zip(SHARDS, previous_holders, strict=True)
        ]
    }
    leases = {s: shard_lease(s, h) for s, h in zip(SHARDS, lease_holders, strict=True) if h}
    holders, status = decide(
        inputs(members, leases=leases, previous=previous, rebalance="r" if rebalance else None)
    )
    eligible = {f"m{i}" for i, state in enumerate(states) if state == "alive"}
    if eligible:
        assert set(holders.values()) <= eligible
    else:
        assert set(holders.values()) == {None}
    again, status_again = decide(inputs(members, leases=leases, previous=status))
    assert again == holders
    assert status_again["shards"] == status["shards"]


def test_a_member_with_infinite_capacity_does_not_stop_the_fleet() -> None:
    obj = lease_object(
        member_lease_name("fleet", "m9"),
        "ns",
        fleet="fleet",
        role=ROLE_MEMBER,
        spec={"holderIdentity": "m9"},
        annotations={ANNOTATION_CAPACITY: "inf"},
    )
    holders, _ = decide(inputs([*THREE, MemberView(MemberLease.parse(obj), True)]))
    assert all(holders.values())


def test_refused_shards_make_a_clear_overlap_condition() -> None:
    shards = [s for s in SHARDS if s != "s0"]  # s0 is refused: the member does not serve or plan it
    why = "namespaces ns-s0 are already claimed by fleet ops/team-a"
    refusing = inputs(THREE, shards=shards)
    refusing.refused = {"s0": why}
    holders, status = decide(refusing)
    overlap = condition(status, "Overlap")
    assert (overlap["status"], overlap["reason"]) == ("True", "NamespacesRefused")
    assert overlap["message"] == f"refused shard s0: {why}"
    assert "s0" not in holders
    assert "s0" not in [s["name"] for s in status["shards"]]


def test_a_shard_waiting_for_another_fleets_catch_all_is_said_so() -> None:
    shards = [s for s in SHARDS if s != "s0"]
    why = "waiting for fleet ops/shared's catch-all to release ns-s0"
    waiting = inputs(THREE, shards=shards)
    waiting.refused = {"s0": why}
    holders, status = decide(waiting)
    overlap = condition(status, "Overlap")
    assert (overlap["status"], overlap["reason"]) == ("True", "WaitingForRelease")
    assert overlap["message"] == f"shard s0 is {why}"
    assert "s0" not in holders
    # a refusal beside a wait: refused is the stronger word; both are said
    waiting.refused = {"s0": why, "s1": "namespaces ns-s1 are already claimed by fleet ops/a"}
    overlap = condition(decide(waiting)[1], "Overlap")
    assert overlap["reason"] == "NamespacesRefused"
    assert overlap["message"] == (
        f"refused shard s1: namespaces ns-s1 are already claimed by fleet ops/a; shard s0 is {why}"
    )


def test_the_catch_alls_confirmed_excludes_are_published() -> None:
    confirmed = inputs(THREE)
    confirmed.catch_all_excludes = frozenset({"team-b", "team-a"})
    _, status = decide(confirmed)
    assert status["catchAllExcludes"] == ["team-a", "team-b"]
    SparkFleetStatus.model_validate(status)  # the status model (and so the CRD) takes it
    nothing = inputs(THREE)
    assert "catchAllExcludes" not in decide(nothing)[1]  # no catch-all, or nobody confirms: nothing
    empty = inputs(THREE)
    empty.catch_all_excludes = frozenset()
    assert decide(empty)[1]["catchAllExcludes"] == []


def test_a_crashed_members_shards_go_to_established_members_not_to_its_replacement() -> None:
    """The replacement would judge the dead Lease expired a lease duration after its own join."""
    before: dict[str, str | None] = {"s0": "m1", "s1": "m1", "s2": "m2", "s3": "m2", "s4": "m3", "s5": "m3"}
    leases = claimed(before)
    members = [member("m1"), member("m2"), member("m3", alive=False), member("m4")]
    previous = {"shards": [{"name": n, "desiredHolder": h} for n, h in before.items()]}
    holders, _ = decide(inputs(members, leases=leases, previous=previous, newcomers=frozenset({"m4"})))
    assert {holders["s4"], holders["s5"]} <= {"m1", "m2"}
    assert "m4" not in holders.values()
    # once established, it is planned like anyone
    holders, _ = decide(inputs(members, leases=leases, previous=previous))
    assert "m4" in {holders["s4"], holders["s5"]}


def test_newcomers_are_held_back_only_while_an_established_member_can_take_the_orphans() -> None:
    # no orphan: a newcomer is planned at once (a join is a graceful hand-off)
    all_on_m1 = claimed({name: "m1" for name in SHARDS})
    joined = [member("m1"), member("m2")]
    holders, _ = decide(inputs(joined, leases=all_on_m1, newcomers=frozenset({"m2"})))
    assert "m2" in holders.values()
    leases = claimed({"s0": "m1", "s1": "m1"})
    shards = ["s0", "s1"]
    # everyone alive is new (a coordinator just elected): plan as usual rather than stall
    crashed = [member("m1", alive=False), member("m2"), member("m3")]
    holders, _ = decide(inputs(crashed, shards=shards, leases=leases, newcomers=frozenset({"m2", "m3"})))
    assert set(holders.values()) <= {"m2", "m3"}
    assert None not in holders.values()


def test_a_replacement_that_joins_before_the_crashed_members_lease_expires_gets_none_of_its_shards() -> None:
    """The kill-storm timeline: m1 is killed; its Lease stands still (a suspect) but has not expired
    on the coordinator's clock when the replacement m4 joins; then it expires."""
    before: dict[str, str | None] = {"s0": "m1", "s1": "m1", "s2": "m2", "s3": "m2", "s4": "m3", "s5": "m3"}
    weights = {"s0": 5, "s1": 5, "s2": 1, "s3": 1, "s4": 1, "s5": 1}  # m1 serves the busy namespaces
    leases = claimed(before)
    joined = frozenset({"m4"})

    def at(members: list[MemberView], holders: dict[str, str | None], suspects: set[str]) -> Inputs:
        previous = {"shards": [{"name": n, "desiredHolder": h} for n, h in holders.items()]}
        planned = inputs(members, leases=leases, previous=previous, newcomers=joined)
        planned.plan_weights = weights
        planned.suspects = frozenset(suspects)
        return planned

    members = [member("m1"), member("m2"), member("m3"), member("m4")]
    # a join is a hand-off: m1, over its new bound, would shed a busy shard to m4, which would wait a
    # whole lease duration from its own join to take it from a member that can no longer let go
    unsuspected, _ = decide(at(members, before, set()))
    assert "m4" in {unsuspected["s0"], unsuspected["s1"]}, unsuspected
    # m1 has not renewed for a while: m4, holding nothing, is held back
    suspected, _ = decide(at(members, before, {"m1"}))
    assert "m4" not in suspected.values(), suspected
    # m1's Lease expires: its shards go to m2 and m3, who watched it stand still, not to m4
    expired = [member("m1", alive=False), member("m2"), member("m3"), member("m4")]
    after, _ = decide(at(expired, suspected, set()))
    assert set(after.values()) == {"m2", "m3"}, after


def test_a_suspect_keeps_its_shards_and_holds_back_nobody_when_no_one_is_joining() -> None:
    """A member slow to renew (a loaded node) is not stripped of its shards; without newcomers its
    suspicion changes nothing."""
    before: dict[str, str | None] = {"s0": "m1", "s1": "m1", "s2": "m2", "s3": "m2", "s4": "m3", "s5": "m3"}
    previous = {"shards": [{"name": n, "desiredHolder": h} for n, h in before.items()]}
    three = [member("m1"), member("m2"), member("m3")]
    plain = inputs(three, leases=claimed(before), previous=previous)
    suspected = inputs(three, leases=claimed(before), previous=previous)
    suspected.suspects = frozenset({"m1"})
    assert decide(suspected)[0] == decide(plain)[0] == before
