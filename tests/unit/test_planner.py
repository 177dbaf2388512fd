"""The shard planner: the bound, minimal movement, pins, leaves and joins, determinism."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sparkfleet.sharding.planner import Member, Move, Plan, Shard, fair_share, plan

PROPERTY = settings(max_examples=100, deadline=None)
NAMES = [f"m{i}" for i in range(8)]
CAPACITIES = [0.5, 1.0, 2.0, 3.0]
ABSENT = "-"  # in a holder choice: the shard is missing from `current`


# -- exact reference arithmetic (the planner promises exact bounds, so the tests check exactly) --


def weight(shard: Shard) -> Fraction:
    return Fraction(max(shard.weight, 1.0))


def eligible(members: list[Member]) -> list[str]:
    return sorted(m.name for m in members if not m.draining)


def fair(members: list[Member], shards: list[Shard]) -> dict[str, Fraction]:
    total = sum((weight(s) for s in shards), Fraction(0))
    capacity = sum((Fraction(m.capacity) for m in members if not m.draining), Fraction(0))
    return {m.name: total * Fraction(m.capacity) / capacity for m in members if not m.draining}


def w_max(shards: list[Shard]) -> Fraction:
    return max((weight(s) for s in shards), default=Fraction(0))


def bounds(
    members: list[Member], shards: list[Shard], slack: float = 1.25, rebalance: bool = False
) -> dict[str, Fraction]:
    s = Fraction(1) if rebalance else Fraction(slack)
    return {m: max(s * f, f + w_max(shards)) for m, f in fair(members, shards).items()}


def loads(
    holders: Mapping[str, str | None], shards: list[Shard], only: set[str] | None = None
) -> dict[str, Fraction]:
    """Member -> exact load of the given holders (restricted to the shards in ``only``)."""
    total: dict[str, Fraction] = {}
    for shard in shards:
        member = holders.get(shard.name)
        if member is not None and (only is None or shard.name in only):
            total[member] = total.get(member, Fraction(0)) + weight(shard)
    return total


def effective_pins(members: list[Member], shards: list[Shard], pins: Mapping[str, str]) -> dict[str, str]:
    names, ok = {s.name for s in shards}, set(eligible(members))
    return {s: m for s, m in pins.items() if s in names and m in ok}


def seated(
    members: list[Member], shards: list[Shard], current: Mapping[str, str | None], pins: Mapping[str, str]
) -> dict[str, Fraction]:
    """Each eligible member's load before shedding: its pinned shards plus the unpinned shards it keeps."""
    pinned = effective_pins(members, shards, pins)
    ok = set(eligible(members))
    start = {s.name: pinned.get(s.name, current.get(s.name)) for s in shards}
    return loads({s: m for s, m in start.items() if m in ok}, shards)


def unit_shards(n: int) -> list[Shard]:
    return [Shard(f"s{i:02d}") for i in range(n)]


def moved_to(result: Plan) -> dict[str, str | None]:
    return {m.shard: m.target for m in result.moves}


# -- strategies --


@dataclass(frozen=True)
class Fleet:
    members: list[Member]
    shards: list[Shard]
    current: dict[str, str | None]
    pins: dict[str, str]


shard_weights = st.one_of(st.integers(0, 50).map(float), st.floats(0, 50))


@st.composite
def fleets(draw: st.DrawFn, *, min_eligible: int = 0) -> Fleet:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=max(1, min_eligible), max_size=8, unique=True))
    draining = st.sampled_from([False, False, False, True])
    members = [
        Member(n, draw(st.sampled_from(CAPACITIES)), False if i < min_eligible else draw(draining))
        for i, n in enumerate(names)
    ]
    weights = draw(st.lists(shard_weights, max_size=60))
    shards = [Shard(f"s{i:02d}", w) for i, w in enumerate(weights)]
    holder = st.sampled_from([*names, "ghost", None, ABSENT])
    current = {s.name: h for s in shards if (h := draw(holder)) != ABSENT}
    pins = draw(
        st.dictionaries(
            st.sampled_from([*(s.name for s in shards), "unknown-shard"]),
            st.sampled_from([*names, "ghost"]),
            max_size=6,
        )
    )
    return Fleet(members, shards, current, pins)


# -- properties --


@PROPERTY
@given(fleets(), st.booleans())
def test_every_shard_is_placed_within_the_bound(fleet: Fleet, rebalance: bool) -> None:
    result = plan(fleet.members, fleet.shards, fleet.current, fleet.pins, rebalance=rebalance)
    ok = eligible(fleet.members)
    assert list(result.holders) == sorted(s.name for s in fleet.shards)
    # The plan reports bounds as floats; loads are held within the exact ones (a float may round
    # a bound down below a load that is within it).
    exact = bounds(fleet.members, fleet.shards, rebalance=rebalance)
    assert result.bounds == {m: float(b) for m, b in exact.items()}
    planned = loads(result.holders, fleet.shards)
    assert result.loads == {m.name: float(planned.get(m.name, 0)) for m in fleet.members}
    if not ok:
        assert set(result.holders.values()) <= {None}
        return
    assert set(result.holders.values()) <= set(ok)  # assigned, never to a draining or absent member
    for shard, member in effective_pins(fleet.members, fleet.shards, fleet.pins).items():
        assert result.holders[shard] == member
    pinned = set(effective_pins(fleet.members, fleet.shards, fleet.pins))
    unpinned_load = loads(result.holders, fleet.shards, only=set(result.holders) - pinned)
    for member, unpinned in unpinned_load.items():
        assert unpinned <= exact[member]
        # Pinned weight counts too: a member holding any unpinned shard is within bound with its pins.
        assert planned[member] <= exact[member]


def expected_reason(fleet: Fleet, result: Plan, move: Move, rebalance: bool) -> set[str]:
    names = {m.name: m for m in fleet.members}
    pin = effective_pins(fleet.members, fleet.shards, fleet.pins).get(move.shard)
    if not result.bounds:
        return {"no-members"}
    if move.source is None:
        return {"unassigned"}
    if move.source not in names:
        return {"holder-gone"}
    if names[move.source].draining:
        return {"draining"}
    if pin is not None:
        return {"pinned"}
    exact = bounds(fleet.members, fleet.shards, rebalance=rebalance)  # result.bounds are rounded
    over = seated(fleet.members, fleet.shards, fleet.current, fleet.pins)[move.source] > exact[move.source]
    return ({"over-bound"} if over else set()) | ({"rebalance"} if rebalance else set())


@PROPERTY
@given(fleets(), st.booleans())
def test_only_displaced_shards_move_and_moves_say_why(fleet: Fleet, rebalance: bool) -> None:
    result = plan(fleet.members, fleet.shards, fleet.current, fleet.pins, rebalance=rebalance)
    changed = sorted(s for s, h in result.holders.items() if h != fleet.current.get(s))
    assert [m.shard for m in result.moves] == changed
    for move in result.moves:
        assert move.source == fleet.current.get(move.shard)
        assert move.target == result.holders[move.shard]
        assert move.reason in expected_reason(fleet, result, move, rebalance)


@PROPERTY
@given(fleets(min_eligible=1))
def test_an_over_bound_member_sheds_at_most_one_shard_more_than_needed(fleet: Fleet) -> None:
    result = plan(fleet.members, fleet.shards, fleet.current, fleet.pins)
    before = seated(fleet.members, fleet.shards, fleet.current, fleet.pins)
    shed = loads({m.shard: m.source for m in result.moves if m.reason == "over-bound"}, fleet.shards)
    for member, weight_shed in shed.items():
        excess = before[member] - bounds(fleet.members, fleet.shards)[member]
        assert excess > 0  # only members over their bound shed (and then get back within it)
        assert weight_shed < excess + w_max(fleet.shards)  # the last shard shed was needed


@PROPERTY
@given(fleets(), st.booleans())
def test_replanning_a_plan_moves_nothing(fleet: Fleet, rebalance: bool) -> None:
    first = plan(fleet.members, fleet.shards, fleet.current, fleet.pins, rebalance=rebalance)
    again = plan(fleet.members, fleet.shards, first.holders, fleet.pins, rebalance=rebalance)
    assert again.moves == []
    assert again == replace(first, moves=[])


@PROPERTY
@given(fleets(), st.booleans(), st.data())
def test_the_plan_does_not_depend_on_input_order(fleet: Fleet, rebalance: bool, data: st.DataObject) -> None:
    result = plan(fleet.members, fleet.shards, fleet.current, fleet.pins, rebalance=rebalance)
    members = data.draw(st.permutations(fleet.members))
    shards = data.draw(st.permutations(fleet.shards))
    current = dict(data.draw(st.permutations(list(fleet.current.items()))))
    pins = dict(data.draw(st.permutations(list(fleet.pins.items()))))
    assert plan(iter(members), iter(shards), current, pins, rebalance=rebalance) == result


@PROPERTY
@given(fleets(min_eligible=2), st.sampled_from(["remove", "drain"]), st.booleans(), st.data())
def test_a_leave_moves_only_the_leavers_shards(
    fleet: Fleet, how: str, from_scratch: bool, data: st.DataObject
) -> None:
    """Stronger than "leaver's shards plus over-bound shedding": a leave raises every other bound,
    so no member of a previous plan can be over its new bound, and nothing else moves."""
    before = plan(fleet.members, fleet.shards, {} if from_scratch else fleet.current, fleet.pins)
    leaver = data.draw(st.sampled_from(eligible(fleet.members)))
    if how == "remove":
        members = [m for m in fleet.members if m.name != leaver]
    else:
        members = [replace(m, draining=True) if m.name == leaver else m for m in fleet.members]
    after = plan(members, fleet.shards, before.holders, fleet.pins)
    assert {m.shard for m in after.moves} == {s for s, h in before.holders.items() if h == leaver}
    assert {m.reason for m in after.moves} <= {"holder-gone" if how == "remove" else "draining"}


@PROPERTY
@given(fleets(min_eligible=1), st.sampled_from(CAPACITIES), st.booleans(), st.booleans())
def test_a_join_only_sheds_over_bound_shards_to_members_below_their_new_fair_share(
    fleet: Fleet, capacity: float, from_scratch: bool, balanced: bool
) -> None:
    before = plan(fleet.members, fleet.shards, {} if from_scratch else fleet.current, rebalance=balanced)
    members = [*fleet.members, Member("joiner", capacity)]
    after = plan(members, fleet.shards, before.holders)
    old = loads(before.holders, fleet.shards)
    new_fair, new_bound = fair(members, fleet.shards), bounds(members, fleet.shards)
    for move in after.moves:
        assert move.reason == "over-bound"
        assert move.source is not None
        assert move.target is not None
        assert old[move.source] > new_bound[move.source]  # only members over their new bound give shards away
        assert move.target == "joiner" or old.get(move.target, Fraction(0)) < new_fair[move.target]
    if all(old.get(m, Fraction(0)) >= new_fair[m] for m in eligible(fleet.members)):
        event(f"join: every old member held its new fair share; something moved: {bool(after.moves)}")
        # Then the joiner is the only member below its fair share: every move goes to it, and it
        # only receives while below its fair share, so it takes less than its fair share + w_max.
        assert {m.target for m in after.moves} <= {"joiner"}
        moved = sum((weight(s) for s in fleet.shards if s.name in moved_to(after)), Fraction(0))
        assert moved == 0 or moved < new_fair["joiner"] + w_max(fleet.shards)
        assert moved <= Fraction(after.bounds["joiner"])
    else:
        event("join: some old member held less than its new fair share")


# -- examples --


def test_bound_formula_and_fair_share() -> None:
    members = [Member("a", 2.0), Member("b"), Member("c"), Member("d", 5.0, draining=True)]
    shards = [Shard("big", 7.0), *unit_shards(33)]  # W = 40, w_max = 7
    assert fair_share(members, shards) == {"a": 20.0, "b": 10.0, "c": 10.0}
    assert plan(members, shards, {}).bounds == {"a": 27.0, "b": 17.0, "c": 17.0}  # fair + w_max > 1.25 * fair
    assert plan(members, shards, {}, slack=2.0).bounds == {"a": 40.0, "b": 20.0, "c": 20.0}
    assert plan(members, shards, {}, slack=2.0, rebalance=True).bounds == {"a": 27.0, "b": 17.0, "c": 17.0}
    assert fair_share([Member("a", draining=True)], shards) == {}


def test_a_member_with_twice_the_capacity_carries_about_twice_the_load() -> None:
    members = [Member("big", 2.0), Member("b"), Member("c")]
    result = plan(members, unit_shards(40), {})
    assert result.loads == {"big": 20.0, "b": 10.0, "c": 10.0}
    assert all(result.loads[m] <= result.bounds[m] for m in result.bounds)


def test_placement_spreads_by_rendezvous_hashing() -> None:
    """Not round-robin by name: the shards a member gets are scattered across the name space."""
    result = plan([Member("a"), Member("b"), Member("c")], unit_shards(30), {})
    changes = sum(x != y for x, y in itertools.pairwise(result.holders.values()))
    assert changes >= 10
    assert sorted(result.loads.values()) == [10.0, 10.0, 10.0]


def test_the_plan_is_the_same_on_every_machine() -> None:
    """Golden values: the hash is BLAKE2b and the arithmetic exact, so these never change."""
    members = [Member("op-0"), Member("op-1", 2.0), Member("op-2")]
    result = plan(members, [Shard(f"ns-{i}", float(i % 3)) for i in range(12)], {})
    assert result.holders == {
        "ns-0": "op-1", "ns-1": "op-1", "ns-10": "op-2", "ns-11": "op-0", "ns-2": "op-1", "ns-3": "op-1",
        "ns-4": "op-2", "ns-5": "op-1", "ns-6": "op-2", "ns-7": "op-1", "ns-8": "op-0", "ns-9": "op-2",
    }  # fmt: skip
    assert result.loads == {"op-0": 4.0, "op-1": 8.0, "op-2": 4.0}


def test_a_leave_with_unit_weights_moves_only_the_leavers_shards() -> None:
    members = [Member("a"), Member("b"), Member("c"), Member("d")]
    before = plan(members, unit_shards(40), {})
    assert before.loads == {"a": 10.0, "b": 10.0, "c": 10.0, "d": 10.0}
    after = plan(members[:3], unit_shards(40), before.holders)
    leavers = sorted(s for s, h in before.holders.items() if h == "d")
    assert [m.shard for m in after.moves] == leavers
    assert {m.reason for m in after.moves} == {"holder-gone"}
    assert sorted(after.loads.values()) == [13.0, 13.0, 14.0]


def test_a_join_moves_shards_only_to_the_joiner_and_rebalance_evens_out() -> None:
    shards = unit_shards(40)
    current = {s.name: "a" if i < 14 else "b" if i < 27 else "c" for i, s in enumerate(shards)}
    three = [Member("a"), Member("b"), Member("c")]
    assert plan(three, shards, current).moves == []  # 14/13/13 is within the bound 16.67
    four = [*three, Member("d")]

    joined = plan(four, shards, current)  # fair 10, bound max(12.5, 11): each keeps 12
    assert joined.loads == {"a": 12.0, "b": 12.0, "c": 12.0, "d": 4.0}
    assert {(m.source, m.target, m.reason) for m in joined.moves} == {
        ("a", "d", "over-bound"),
        ("b", "d", "over-bound"),
        ("c", "d", "over-bound"),
    }
    assert len(joined.moves) == 4

    evened = plan(four, shards, current, rebalance=True)  # bound fair + 1 = 11, then rebalance
    assert evened.bounds == dict.fromkeys("abcd", 11.0)
    assert evened.loads == dict.fromkeys("abcd", 10.0)
    assert {m.target for m in evened.moves} == {"d"}
    assert len(evened.moves) == 10  # the least possible
    assert plan(four, shards, evened.holders, rebalance=True).moves == []

    # Asking for a rebalance after the join evens out too, moving only what it must.
    after = plan(four, shards, joined.holders, rebalance=True)
    assert after.loads == dict.fromkeys("abcd", 10.0)
    assert {(m.target, m.reason) for m in after.moves} == {("d", "over-bound"), ("d", "rebalance")}
    assert len(after.moves) == 6


def test_a_draining_member_gives_all_its_shards_away() -> None:
    members = [Member("a"), Member("b"), Member("c")]
    before = plan(members, unit_shards(30), {})
    draining = [Member("a"), Member("b", draining=True), Member("c")]
    after = plan(draining, unit_shards(30), before.holders)
    assert "b" not in after.holders.values()
    assert after.loads["b"] == 0.0
    assert "b" not in after.bounds
    assert after.moves
    assert all(m.source == "b" and m.target in {"a", "c"} and m.reason == "draining" for m in after.moves)
    assert after.loads["a"] + after.loads["c"] == 30.0


def test_without_an_eligible_member_nothing_is_held() -> None:
    members = [Member("a", draining=True)]
    result = plan(members, unit_shards(3), {"s00": "a", "s01": "ghost"})
    assert result.holders == {"s00": None, "s01": None, "s02": None}
    assert result.moves == [Move("s00", "a", None, "no-members"), Move("s01", "ghost", None, "no-members")]
    assert result.bounds == {}
    assert result.loads == {"a": 0.0}
    assert plan([], [], {}) == Plan(holders={}, moves=[], bounds={}, loads={})


def test_pins_win_but_never_send_a_shard_to_a_draining_or_absent_member() -> None:
    members = [Member("a"), Member("b"), Member("gone-soon", draining=True)]
    shards = unit_shards(10)
    pins = {f"s0{i}": "a" for i in range(8)} | {"s08": "gone-soon", "s09": "ghost", "nope": "a"}
    result = plan(members, shards, {}, pins)
    assert all(result.holders[f"s0{i}"] == "a" for i in range(8))
    assert result.loads == {"a": 8.0, "b": 2.0, "gone-soon": 0.0}  # pins may exceed the bound (6.25)
    assert result.loads["a"] > result.bounds["a"]
    # Pinned weight counts when placing the others: "a" is full, so they go to "b".
    assert result.holders["s08"] == result.holders["s09"] == "b"
    # A pin moves a shard off a healthy holder.
    moved = plan(members, shards, result.holders | {"s00": "b"}, pins)
    assert moved.moves == [Move("s00", "b", "a", "pinned")]


def test_moves_are_sorted_and_name_their_reason() -> None:
    members = [Member("a"), Member("b"), Member("c", draining=True), Member("d")]
    shards = unit_shards(12)  # eligible a, b, d: fair 4, bound max(5, 5) = 5
    current: dict[str, str | None] = {f"s{i:02d}": "a" for i in range(7)}  # a holds 7: over its bound
    current |= {"s07": "ghost", "s08": "c", "s09": None, "s10": "b"}  # s11 is missing
    result = plan(members, shards, current, {"s06": "b"})
    reasons = {m.shard: m.reason for m in result.moves}
    assert [m.shard for m in result.moves] == sorted(reasons)
    displaced = {
        "s06": "pinned",
        "s07": "holder-gone",
        "s08": "draining",
        "s09": "unassigned",
        "s11": "unassigned",
    }
    assert {s: reasons.pop(s) for s in displaced} == displaced
    [(shed, reason)] = reasons.items()  # a: 6 unpinned shards > 5, sheds exactly one
    assert (current[shed], reason) == ("a", "over-bound")
    assert result.loads["a"] == 5.0
    assert "s10" not in {m.shard for m in result.moves}


@pytest.mark.parametrize(
    ("members", "shards", "slack", "message"),
    [
        ([Member("a", 0.0)], [], 1.25, "member 'a': capacity must be a finite number > 0, got 0.0"),
        ([Member("a", -1.0)], [], 1.25, "capacity must be a finite number > 0"),
        ([Member("a", float("nan"))], [], 1.25, "capacity must be"),
        ([Member("a"), Member("a", 2.0)], [], 1.25, "duplicate member name 'a'"),
        ([Member("a")], [Shard("s"), Shard("s", 3.0)], 1.25, "duplicate shard name 's'"),
        ([Member("a")], [Shard("s", float("inf"))], 1.25, "shard 's': weight must be a finite number"),
        ([Member("a")], [], 0.99, "slack must be a finite number from 1.0 to 1000, got 0.99"),
        ([Member("a")], [Shard("s", 1e300)], 1.25, "shard 's': weight must be a finite number <= 1e+12"),
    ],
)
def test_invalid_input_is_rejected_by_name(
    members: list[Member], shards: list[Shard], slack: float, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        plan(members, shards, {}, slack=slack)
    if slack >= 1.0:
        with pytest.raises(ValueError, match=re.escape(message)):
            fair_share(members, shards)


# -- bad input: anything else is refused by name, never a crash or a hang --

any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -1.0, 1e-300, 1e300, 5e-324]
)
any_name = st.sampled_from(["a", "b", "c", "", "ghost", "a "])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.builds(Member, any_name, any_float, st.booleans()), max_size=5),
    st.lists(st.builds(Shard, any_name, any_float), max_size=8),
    st.dictionaries(any_name, st.none() | any_name, max_size=4),
    st.dictionaries(any_name, any_name, max_size=4),
    any_float,
    st.booleans(),
)
def test_any_input_is_planned_or_refused_by_name(
    members: list[Member],
    shards: list[Shard],
    current: dict[str, str | None],
    pins: dict[str, str],
    slack: float,
    rebalance: bool,
) -> None:
    try:
        result = plan(members, shards, current, pins, slack=slack, rebalance=rebalance)
    except ValueError as exc:
        refusal = str(exc)
    else:
        refusal = ""
    if refusal:
        assert re.match(r"^(duplicate (member|shard) name |member '|shard '|slack )", refusal), refusal
        return
    assert set(result.holders) == {s.name for s in shards}
    eligible_names = {m.name for m in members if not m.draining}
    assert set(result.holders.values()) <= eligible_names | {None}
    for shard, member in pins.items():  # a pin to an eligible member always wins
        if shard in result.holders and member in eligible_names:
            assert result.holders[shard] == member
    assert plan(list(reversed(members)), list(reversed(shards)), current, pins, slack=slack,
                rebalance=rebalance) == result  # fmt: skip
