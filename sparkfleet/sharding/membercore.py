"""What a fleet member does next, decided from what it sees: a pure function, no I/O, no clock.

:func:`decide` takes a :class:`View` (the member's caches and its own state,
with every expiry already judged on the member's clock) and returns the
:class:`Action` list the member carries out (see :mod:`sparkfleet.sharding.member`).
The rules are the sharding protocol's (docs/architecture.md):

1. Serve only while fresh (the member Lease renewed within the renew
   deadline) and holding the shard's Lease; not fresh while serving
   anything: :class:`Fence`. A shard Lease naming someone else while we
   serve it: :class:`Stop` at once.
2. Take a shard the coordinator gave us only when its Lease is released,
   already ours, or held by a member that is gone (released or expired,
   as judged by the caller).
4. A shard's definition is part of its identity: its holder serving another
   definition than the spec's stops that scope and records the new
   fingerprint on the Lease (:class:`Rescope`) before serving again, and no
   member starts serving any shard while another shard's Lease is held
   (claimed) by a live member under a definition that is not that shard's
   current one, or under a shard the spec no longer has (:func:`barrier`).
   Fingerprints come from the view, so a member whose spec cache lags judges
   by the spec it has: the one whose definition moved ahead waits for it.

Hand-off: our Lease, and the coordinator wants another live member (not
draining, unless we are shutting down): :class:`HandOff`. Shards on their
way to us are warmed (:class:`Warm`) and unwarmed when they are not coming
(:class:`Unwarm`). A claim serves from the caches it finds, so caches warmed
for another definition are unwarmed before any claim. A fenced member's
shards stay warm (their gates closed): once renewed it serves again without
listing everything anew. A shard removed from the spec is handed to nobody
(released).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

LEGACY = ""
"""The definition of a shard Lease claimed by a member that records none (an earlier version)."""


@dataclass(frozen=True, slots=True)
class Holding:
    """A shard Lease as the member's cache shows it."""

    holder: str = ""
    acquired: bool = False
    """Claimed by ``holder`` (acquireTime set); a Lease only named to a new holder is not."""
    definition: str = ""
    """The fingerprint its holder recorded: the definition it serves or is claiming for."""


@dataclass(frozen=True, slots=True)
class View:
    identity: str
    fresh: bool
    """The member Lease was renewed within the renew deadline (and the member is not fenced)."""
    shards: Mapping[str, str]
    """The spec's shards this member may serve (refused ones left out): name -> fingerprint."""
    leases: Mapping[str, Holding]
    """Every shard Lease of the fleet, by shard name, including shards the spec no longer has."""
    desired: Mapping[str, str | None] = field(default_factory=dict)
    """The coordinator's desired holder per shard."""
    live: Mapping[str, bool] = field(default_factory=dict)
    """Live members (member Lease held and not expired): identity -> draining."""
    gone: frozenset[str] = frozenset()
    """Holders whose member Lease is released, or expired on this member's clock."""
    serving: Mapping[str, str] = field(default_factory=dict)
    """Shards served now: name -> the fingerprint of the scope served."""
    warming: Mapping[str, str] = field(default_factory=dict)
    """Shards whose caches are warmed ahead of a hand-off: name -> fingerprint."""
    busy: frozenset[str] = frozenset()
    """Shards with work in progress: nothing new is decided for them."""
    shutting_down: bool = False
    drained: frozenset[str] = frozenset()
    """Members the spec drains."""
    pins: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fence:
    """Stop every shard at once: the member Lease is not fresh."""


@dataclass(frozen=True, slots=True)
class Claim:
    """Write the shard's Lease naming us (acquired, with the definition), then serve it."""

    shard: str
    reason: str  # assigned, failover, handoff, resume
    definition: str


@dataclass(frozen=True, slots=True)
class HandOff:
    """Stop serving (in-flight reconciles finish, bounded), then name ``to`` holder ("" releases)."""

    shard: str
    to: str
    reason: str  # shutdown, drain, move, rebalance, removed


@dataclass(frozen=True, slots=True)
class Rescope:
    """Our shard's definition changed: stop the old scope (bounded), record ``definition`` on the Lease."""

    shard: str
    definition: str


@dataclass(frozen=True, slots=True)
class Stop:
    """The shard's Lease names someone else while we serve it: stop at once."""

    shard: str
    holder: str


@dataclass(frozen=True, slots=True)
class Warm:
    shard: str
    definition: str


@dataclass(frozen=True, slots=True)
class Unwarm:
    shard: str


Action = Fence | Claim | HandOff | Rescope | Stop | Warm | Unwarm


def takeable(view: View, shard: str) -> bool:
    """Rule 2: released, ours, or held by a member that is gone."""
    lease = view.leases.get(shard)
    return lease is None or not lease.holder or lease.holder == view.identity or lease.holder in view.gone


def stale_holdings(
    identity: str,
    shards: Mapping[str, str],
    leases: Mapping[str, Holding],
    live: Mapping[str, bool],
    serving: Mapping[str, str],
) -> list[str]:
    """Shards whose Lease a live member holds under a definition that is not the shard's current one.

    A shard the spec no longer has counts too. Our own shards are judged by what we serve
    (our cache may not show our last write yet); a Lease only named to a new holder, not
    claimed, is served by nobody and does not count. A Lease with no definition recorded
    (:data:`LEGACY`) was claimed by a member of an earlier version, which serves the spec
    it sees: it counts as current, or a rolling upgrade would serve nothing until every old
    member had gone (a definition changed during an upgrade is not guarded, as before).
    """
    stale = []
    for name, lease in sorted(leases.items()):
        if not lease.acquired:
            continue
        if lease.holder == identity:
            served = serving.get(name, lease.definition)
        elif lease.holder in live:
            served = lease.definition
        else:
            continue  # gone, or never live: it serves nothing
        if name not in shards or (served != shards[name] and served != LEGACY):
            stale.append(name)
    for name, served in sorted(serving.items()):
        if name not in leases and (name not in shards or served != shards[name]):
            stale.append(name)
    return stale


def claim_blockers(
    identity: str,
    shards: Mapping[str, str],
    leases: Mapping[str, Holding],
    live: Mapping[str, bool],
    serving: Mapping[str, str],
    shard: str,
    definition: str,
) -> list[str]:
    """What keeps a claim of ``shard`` under ``definition`` from being served, judged once the claim
    is written (rule 4, on a quorum read): the other shards held under an old definition, and the
    claimed shard itself when the spec changed while the claim was on its way (the shard is gone, or
    defined otherwise). Serving such a claim would serve namespaces the current spec gives to a
    shard another member may already serve; the next pass hands it off or rescopes it instead."""
    others = [name for name in stale_holdings(identity, shards, leases, live, serving) if name != shard]
    return others if shards.get(shard) == definition else [shard, *others]


def barrier(view: View, shard: str) -> list[str]:
    """The shards that keep ``shard`` (one of the view's) from being served now (rule 4): empty
    when it may be."""
    return claim_blockers(
        view.identity, view.shards, view.leases, view.live, view.serving, shard, view.shards[shard]
    )


def reason(view: View, shard: str, target: str) -> str:
    if view.shutting_down:
        return "shutdown"
    if view.identity in view.drained:
        return "drain"
    if view.pins.get(shard) == target:
        return "move"
    return "rebalance"


def decide(view: View) -> list[Action]:
    """The actions the member should start now (at most one per shard, none for busy shards)."""
    if not view.fresh:  # warm caches stay: they reconcile nothing, and spare a re-list once renewed
        return [Fence()] if view.serving else []
    actions: list[Action] = []
    me = view.identity
    for name, definition in sorted(view.shards.items()):
        if name in view.busy:
            continue
        lease = view.leases.get(name)
        holder = lease.holder if lease else ""
        target = view.desired.get(name)
        handing_to = target if target and target != me and target in view.live else None
        coming = target == me and not view.shutting_down
        # caches warmed for another definition: a claim serves from the caches it finds
        stale_warm = view.warming.get(name, definition) != definition
        if holder == me:
            assert lease is not None
            if handing_to and (view.shutting_down or not view.live[handing_to]):
                actions.append(HandOff(name, handing_to, reason(view, name, handing_to)))
            elif name in view.serving:
                if view.serving[name] != definition:
                    actions.append(Rescope(name, definition))
            elif lease.acquired and lease.definition != definition:
                actions.append(Rescope(name, definition))  # recorded before anyone waits on it
            elif stale_warm:
                actions.append(Unwarm(name))
            elif not view.shutting_down and not barrier(view, name):
                actions.append(Claim(name, "resume" if lease.acquired else "handoff", definition))
        elif name in view.serving:
            actions.append(Stop(name, holder))
        elif coming and stale_warm:
            actions.append(Unwarm(name))
        elif coming and takeable(view, name) and not barrier(view, name):
            actions.append(Claim(name, "failover" if holder else "assigned", definition))
        elif coming and name not in view.warming:
            actions.append(Warm(name, definition))
    for name in sorted((set(view.serving) | set(view.leases)) - set(view.shards) - view.busy):
        lease = view.leases.get(name)
        if lease is not None and lease.holder == me:
            actions.append(HandOff(name, "", "removed"))
        elif name in view.serving:
            actions.append(Stop(name, lease.holder if lease else ""))
    decided = {a.shard for a in actions if not isinstance(a, Fence)}
    for name in sorted(set(view.warming) - set(view.serving) - view.busy - decided):
        stale = view.shards.get(name) != view.warming[name]
        if view.desired.get(name) != me or view.shutting_down or stale:
            actions.append(Unwarm(name))
    return actions
