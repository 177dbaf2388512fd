"""The shard planner: a pure, deterministic assignment of shards to fleet members.

Notation: ``w(s) = max(weight, 1)`` is a shard's effective weight, ``W`` the total
effective weight, ``C`` the total capacity of the eligible (non-draining) members,
``w_max`` the largest effective weight and ``fair(m) = W * cap(m) / C``.

Bound. Every eligible member gets ``bound(m) = max(s * fair(m), fair(m) + w_max)``
with ``s = slack`` (default 1.25), or ``s = 1`` when ``rebalance=True`` (the bound
is then the fair share plus at most one shard).

Algorithm, one pass in a fixed order:

1. Seat: a pinned shard goes to its pin when the pin names an eligible member
   (pins never send a shard to a draining or absent member); any other shard
   stays with its current holder if that holder is eligible. The rest (holder
   missing, gone or draining) must be placed.
2. Shed: a member whose load (pinned shards included) exceeds its bound sheds
   unpinned shards until it is within bound: the lightest shard that alone
   fixes the excess, else the heaviest, then again. Ties go to the shard the
   member ranks lowest by rendezvous hashing, then to the name.
3. Place: the shards to place, heaviest first (ties by name), each go to the
   member ranking highest by capacity-weighted rendezvous hashing
   (``score = cap / -ln(u)``, ``u`` from BLAKE2b of shard and member) among the
   members where the shard still fits within the fair share; failing that,
   among the members below their fair share; failing that, among the members
   with room (load + weight <= bound). If none has room (impossible with this
   bound), the least loaded relative to capacity (ties by name) takes it.
4. Rebalance (``rebalance=True`` only): while some member above its fair share
   can hand an unpinned shard to a member below it such that the imbalance
   ``sum((load(m) - fair(m)) ** 2 / cap(m))`` strictly drops, make the best such
   move (most overloaded donor first, then most underloaded taker).

Guarantees:

* Feasible bound: before a shard ``x`` is placed, all loads add up to at most
  ``W - w(x) < W``, so some member is below its fair share, and such a member has
  room since ``load + w(x) < fair + w_max <= bound``. Every shard is therefore
  placed, and every member holding an unpinned shard ends with
  ``load <= bound`` (pinned weight counts toward the load; pins alone may exceed it).
* Minimal movement: a shard moves only if it is unassigned, its holder is gone or
  draining, a pin says otherwise, or its holder is over bound (which stops shedding
  as soon as it is within bound, so it sheds less than its excess + ``w_max``).
  With ``rebalance=False`` nothing else moves. A plan fed back as ``current`` yields
  no moves, in both modes.
* Leave (``rebalance=False``): removing or draining a member raises every other
  bound, so when nothing else changes only the leaver's shards move.
* Join (``rebalance=False``): bounds shrink, members over their new bound shed, and
  a shed shard only goes to a member below its new fair share. So when every old
  member holds at least its new fair share, every move goes to the joiner and the
  moved weight is below the joiner's fair share + ``w_max``. (An old member left
  below its new fair share by earlier history may take some shed shards too.)
* Determinism: loads, fair shares and bounds are exact rationals (``Fraction``), the
  rendezvous hash is BLAKE2b (never ``hash()``) and its logarithm is computed from
  IEEE-754 basic operations only, and every choice has a total order ending in a
  name. The plan depends only on the input values, never on their order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = ["Member", "Move", "Plan", "Shard", "fair_share", "plan"]


@dataclass(frozen=True, slots=True)
class Member:
    """One operator instance of the fleet."""

    name: str
    capacity: float = 1.0  # relative weight (> 0)
    draining: bool = False  # gets no shards; its shards move away


@dataclass(frozen=True, slots=True)
class Shard:
    """A unit of work; its weight is the number of objects observed in it."""

    name: str
    weight: float = 1.0  # the planner uses max(weight, 1.0)


@dataclass(frozen=True, slots=True)
class Move:
    """A shard whose holder changes, and why it leaves its current holder."""

    shard: str
    source: str | None  # current holder (None: unassigned)
    target: str | None  # new holder (None: no eligible member)
    reason: str  # unassigned | holder-gone | draining | over-bound | pinned | rebalance | no-members


@dataclass(frozen=True, slots=True)
class Plan:
    """The planner's answer; every mapping is sorted by name."""

    holders: dict[str, str | None]  # every input shard -> member (None: no eligible member)
    moves: list[Move]  # only the shards whose holder changes, sorted by shard name
    bounds: dict[str, float]  # eligible member -> its load bound
    loads: dict[str, float]  # every member -> planned load (sum of effective shard weights)


# -- validation and indexing -------------------------------------------------

MAX_WEIGHT = 1e12
"""A shard's weight counts objects; past a trillion, bounds and loads no longer fit a float."""
MAX_SLACK = 1000.0


def _index_members(members: Iterable[Member]) -> dict[str, Member]:
    roster: dict[str, Member] = {}
    for member in members:
        if member.name in roster:
            raise ValueError(f"duplicate member name {member.name!r}")
        if not (math.isfinite(member.capacity) and member.capacity > 0):
            raise ValueError(
                f"member {member.name!r}: capacity must be a finite number > 0, got {member.capacity!r}"
            )
        roster[member.name] = member
    return dict(sorted(roster.items()))


def _index_shards(shards: Iterable[Shard]) -> dict[str, Fraction]:
    """Shard name -> effective weight, exact."""
    weights: dict[str, Fraction] = {}
    for shard in shards:
        if shard.name in weights:
            raise ValueError(f"duplicate shard name {shard.name!r}")
        if not (math.isfinite(shard.weight) and shard.weight <= MAX_WEIGHT):
            raise ValueError(
                f"shard {shard.name!r}: weight must be a finite number <= {MAX_WEIGHT:g}, "
                f"got {shard.weight!r}"
            )
        weights[shard.name] = Fraction(max(shard.weight, 1.0))
    return dict(sorted(weights.items()))


def _check_slack(slack: float) -> None:
    if not (math.isfinite(slack) and 1.0 <= slack <= MAX_SLACK):
        raise ValueError(f"slack must be a finite number from 1.0 to {MAX_SLACK:g}, got {slack!r}")


def _capacities(roster: Mapping[str, Member]) -> dict[str, Fraction]:
    """Eligible (non-draining) member -> capacity, exact."""
    return {name: Fraction(m.capacity) for name, m in roster.items() if not m.draining}


def _fair_shares(capacities: Mapping[str, Fraction], weights: Mapping[str, Fraction]) -> dict[str, Fraction]:
    total_weight = sum(weights.values(), Fraction(0))
    total_capacity = sum(capacities.values(), Fraction(0))
    return {name: total_weight * cap / total_capacity for name, cap in capacities.items()}


def _bounds(fair: Mapping[str, Fraction], w_max: Fraction, slack: Fraction) -> dict[str, Fraction]:
    return {name: max(slack * share, share + w_max) for name, share in fair.items()}


# -- rendezvous hashing ------------------------------------------------------

_LN2 = 0.6931471805599453
_SQRT_HALF = 0.7071067811865476
_ATANH_TERMS = tuple(1.0 / (2 * k + 1) for k in reversed(range(13)))


def _unit(shard: str, member: str) -> float:
    """A uniform number in (0, 1) from BLAKE2b of the pair: stable across runs and machines."""
    shard_bytes = shard.encode()
    key = len(shard_bytes).to_bytes(8, "big") + shard_bytes + member.encode()
    digest = hashlib.blake2b(key, digest_size=8, person=b"sparkfleet-hrw").digest()
    bits = int.from_bytes(digest, "big") >> 12  # 52 bits: (2 * bits + 1) is exact in a double
    return (2 * bits + 1) / 2.0**53


def _neg_log(u: float) -> float:
    """-ln(u) for u in (0, 1) from IEEE-754 basic operations only, so bit-identical everywhere
    (libm's log may differ in the last bit between platforms)."""
    mantissa, exponent = math.frexp(u)  # exact: u = mantissa * 2**exponent, mantissa in [0.5, 1)
    if mantissa < _SQRT_HALF:
        mantissa, exponent = mantissa * 2.0, exponent - 1
    z = (mantissa - 1.0) / (mantissa + 1.0)  # |z| < 0.172: ln(mantissa) = 2 * atanh(z)
    z2 = z * z
    series = 0.0
    for coefficient in _ATANH_TERMS:
        series = series * z2 + coefficient
    return -(2.0 * z * series + exponent * _LN2)


def _rendezvous_score(shard: str, member: str, capacity: float) -> float:
    """Highest-random-weight score: member m wins a shard with probability cap(m) / C."""
    return capacity / _neg_log(_unit(shard, member))


# -- the working state -------------------------------------------------------


@dataclass(slots=True)
class _Layout:
    """The plan being built: who holds what, and each eligible member's exact load."""

    roster: dict[str, Member]  # every member
    weight: dict[str, Fraction]  # shard -> effective weight
    cap: dict[str, Fraction]  # eligible member -> capacity
    fair: dict[str, Fraction]  # eligible member -> fair share
    bound: dict[str, Fraction]  # eligible member -> bound
    holder: dict[str, str | None] = field(init=False)
    held: dict[str, set[str]] = field(init=False)
    load: dict[str, Fraction] = field(init=False)
    pinned: set[str] = field(init=False, default_factory=set)
    reason: dict[str, str] = field(init=False, default_factory=dict)  # shard -> why it left its holder
    scores: dict[tuple[str, str], float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.holder = dict.fromkeys(self.weight)
        self.held = {name: set() for name in self.cap}
        self.load = dict.fromkeys(self.cap, Fraction(0))

    def assign(self, shard: str, member: str) -> None:
        self.holder[shard] = member
        self.held[member].add(shard)
        self.load[member] += self.weight[shard]

    def release(self, shard: str) -> None:
        member = self.holder[shard]
        assert member is not None
        self.holder[shard] = None
        self.held[member].discard(shard)
        self.load[member] -= self.weight[shard]

    def score(self, shard: str, member: str) -> float:
        key = (shard, member)
        if key not in self.scores:
            self.scores[key] = _rendezvous_score(shard, member, self.roster[member].capacity)
        return self.scores[key]

    def movable(self, member: str) -> list[str]:
        return sorted(self.held[member] - self.pinned)


def _departure(holder: str | None, roster: Mapping[str, Member], otherwise: str) -> str:
    """Why a shard leaves ``holder``; ``otherwise`` when the holder itself is fine."""
    if holder is None:
        return "unassigned"
    if holder not in roster:
        return "holder-gone"
    if roster[holder].draining:
        return "draining"
    return otherwise


# -- the four steps ----------------------------------------------------------


def _seat(layout: _Layout, current: Mapping[str, str | None], pins: Mapping[str, str]) -> list[str]:
    """Pins and eligible current holders; returns the shards left to place."""
    unseated: list[str] = []
    for shard in layout.weight:
        holder = current.get(shard)
        pin = pins.get(shard)
        if pin is not None and pin in layout.cap:
            layout.pinned.add(shard)
            layout.assign(shard, pin)
            if holder != pin:
                layout.reason[shard] = _departure(holder, layout.roster, "pinned")
        elif holder is not None and holder in layout.cap:
            layout.assign(shard, holder)
        else:
            layout.reason[shard] = _departure(holder, layout.roster, "holder-gone")
            unseated.append(shard)
    return unseated


def _victim(layout: _Layout, member: str, movable: list[str]) -> str:
    """The lightest shard that alone brings ``member`` within bound, else the heaviest."""
    excess = layout.load[member] - layout.bound[member]
    fixers = [s for s in movable if layout.weight[s] >= excess]
    if fixers:
        return min(fixers, key=lambda s: (layout.weight[s], layout.score(s, member), s))
    return min(movable, key=lambda s: (-layout.weight[s], layout.score(s, member), s))


def _shed(layout: _Layout) -> list[str]:
    """Members over their bound give up unpinned shards until within it."""
    shed: list[str] = []
    for member in layout.cap:
        movable = layout.movable(member)
        while layout.load[member] > layout.bound[member] and movable:
            victim = _victim(layout, member, movable)
            movable.remove(victim)
            layout.release(victim)
            layout.reason[victim] = "over-bound"
            shed.append(victim)
    return shed


def _receiver(layout: _Layout, shard: str) -> str:
    weight, load, fair = layout.weight[shard], layout.load, layout.fair
    ranked = sorted(layout.cap, key=lambda m: (-layout.score(shard, m), m))
    tiers: tuple[Callable[[str], bool], ...] = (
        lambda m: load[m] + weight <= fair[m],  # stays within its fair share
        lambda m: load[m] < fair[m],  # below its fair share (always someone: see the docstring)
        lambda m: load[m] + weight <= layout.bound[m],  # room under its bound
    )
    for admits in tiers:
        for member in ranked:
            if admits(member):
                return member
    return min(layout.cap, key=lambda m: (load[m] / layout.cap[m], m))  # unreachable with this bound


def _place(layout: _Layout, shards: list[str]) -> None:
    for shard in sorted(shards, key=lambda s: (-layout.weight[s], s)):
        layout.assign(shard, _receiver(layout, shard))


def _best_shard(layout: _Layout, donor: str, taker: str, gap: Fraction) -> str | None:
    """The donor's unpinned shard whose move to ``taker`` lowers the imbalance the most.

    Moving weight w changes sum((load - fair)**2 / cap) by -w * (2 * gap - w * k), where
    gap is the difference of the two members' (load - fair) / cap and k = 1/cap_d + 1/cap_t.
    """
    k = 1 / layout.cap[donor] + 1 / layout.cap[taker]
    gains = {s: layout.weight[s] * (2 * gap - layout.weight[s] * k) for s in layout.movable(donor)}
    improving = [s for s, gain in gains.items() if gain > 0]
    if not improving:
        return None
    return min(improving, key=lambda s: (-gains[s], -layout.score(s, taker), s))


def _best_transfer(layout: _Layout) -> tuple[str, str] | None:
    excess = {m: (layout.load[m] - layout.fair[m]) / layout.cap[m] for m in layout.cap}
    donors = sorted((m for m in excess if excess[m] > 0), key=lambda m: (-excess[m], m))
    takers = sorted((m for m in excess if excess[m] < 0), key=lambda m: (excess[m], m))
    for donor in donors:
        for taker in takers:
            shard = _best_shard(layout, donor, taker, excess[donor] - excess[taker])
            if shard is not None:
                return shard, taker
    return None


def _rebalance(layout: _Layout) -> None:
    """Strictly improving moves from members above their fair share to members below it.

    Terminates: the imbalance strictly drops at each move and the layouts are finite.
    """
    while (transfer := _best_transfer(layout)) is not None:
        shard, taker = transfer
        layout.reason.setdefault(shard, "rebalance")
        layout.release(shard)
        layout.assign(shard, taker)


# -- assembling the answer ---------------------------------------------------


def _finish(layout: _Layout, current: Mapping[str, str | None]) -> Plan:
    moves = [
        Move(shard, current.get(shard), target, layout.reason[shard])
        for shard, target in layout.holder.items()
        if target != current.get(shard)
    ]
    return Plan(
        holders=dict(layout.holder),
        moves=moves,
        bounds={m: float(b) for m, b in layout.bound.items()},
        loads={m: float(layout.load.get(m, 0)) for m in layout.roster},
    )


def _without_members(
    roster: Mapping[str, Member], weights: Mapping[str, Fraction], current: Mapping[str, str | None]
) -> Plan:
    holders: dict[str, str | None] = dict.fromkeys(weights)
    moves = [Move(s, current.get(s), None, "no-members") for s in weights if current.get(s) is not None]
    return Plan(holders=holders, moves=moves, bounds={}, loads=dict.fromkeys(roster, 0.0))


def fair_share(members: Iterable[Member], shards: Iterable[Shard]) -> dict[str, float]:
    """Eligible member -> W * cap / C (empty when no member is eligible)."""
    roster = _index_members(members)
    shares = _fair_shares(_capacities(roster), _index_shards(shards))
    return {name: float(share) for name, share in shares.items()}


def plan(
    members: Iterable[Member],
    shards: Iterable[Shard],
    current: Mapping[str, str | None],
    pins: Mapping[str, str] | None = None,
    *,
    slack: float = 1.25,
    rebalance: bool = False,
) -> Plan:
    """Assign every shard to an eligible member; see the module docstring for the rules."""
    _check_slack(slack)
    roster = _index_members(members)
    weights = _index_shards(shards)
    capacities = _capacities(roster)
    if not capacities:
        return _without_members(roster, weights, current)
    fair = _fair_shares(capacities, weights)
    w_max = max(weights.values(), default=Fraction(0))
    bound = _bounds(fair, w_max, Fraction(1) if rebalance else Fraction(slack))
    layout = _Layout(roster=roster, weight=weights, cap=capacities, fair=fair, bound=bound)
    unseated = _seat(layout, current, pins or {})
    _place(layout, unseated + _shed(layout))
    if rebalance:
        _rebalance(layout)
    return _finish(layout, current)
