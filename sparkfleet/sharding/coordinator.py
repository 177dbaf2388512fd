"""The fleet's coordinator: it runs the planner and writes each shard's desired holder.

It decides; it never reconciles for others, and the fleet keeps reconciling
while it fails over (members keep what they hold). One pass:

1. read the members (their Leases: alive, draining, capacity, load), the
   shard Leases (holders), the spec (pins, drains) and the last status;
2. :func:`decide` (pure): the plan, and the status that describes it;
3. write the status only if it changed (a compare-and-swap); counts that
   only drift (objects, last renew times) are refreshed at most every
   ``refresh_seconds``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from sparkfleet.api.fleet import SPARK_FLEETS, SparkFleetSpec
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.errors import ignore_not_found
from sparkfleet.kube.leaderelection import LeaseTiming
from sparkfleet.kube.resources import LEASES
from sparkfleet.kube.timestamps import format_micro_time
from sparkfleet.sharding.leases import ANNOTATION_REBALANCE, MemberLease, ParsedByVersion, ShardLease
from sparkfleet.sharding.planner import Member, Shard, plan
from sparkfleet.sharding.shards import (
    Problem,
    claim_order,
    confirmed_excludes,
    is_waiting,
    overlap_message,
    overlapping_namespaces,
)

log = logging.getLogger(__name__)

DRIFTING = ("objects", "lastRenewTime")


class FleetView(Protocol):
    """What the coordinator reads of the fleet (a member's caches, read-only), and its client."""

    @property
    def fleet(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def timing(self) -> LeaseTiming: ...
    @property
    def client(self) -> KubeClient: ...
    @property
    def fleet_object(self) -> dict[str, Any] | None: ...
    @property
    def spec(self) -> SparkFleetSpec | None: ...
    @property
    def shard_names(self) -> list[str]: ...
    @property
    def problems(self) -> list[Problem]: ...
    @property
    def refused(self) -> dict[str, str]: ...
    def shard_leases(self) -> dict[str, ShardLease]: ...
    def members(self) -> list[tuple[MemberLease, bool]]:
        """Every member Lease, each with whether it is alive on the viewer's clock."""
        ...

    def other_fleet_objects(self) -> list[dict[str, Any]]: ...
    def lease_annotations(self, name: str) -> dict[str, str]:
        """The annotations of the fleet's Lease ``name`` as the viewer's cache has them ({} if absent)."""
        ...

    def lease_age(self, name: str) -> float | None:
        """Seconds since the viewer last saw Lease ``name`` change; None if never seen."""
        ...


SUSPECT_AFTER_RETRY_PERIODS = 2
"""A live member whose Lease stood still this many retry periods is a suspect (see :func:`held_back`)."""


@dataclass(frozen=True, slots=True)
class MemberView:
    lease: MemberLease
    alive: bool


@dataclass(slots=True)
class Inputs:
    """Everything one coordinator pass looks at, already read from the caches."""

    coordinator: str
    generation: int | None
    spec: SparkFleetSpec | None
    shard_names: list[str]
    problems: list[Problem]
    members: list[MemberView]
    shard_leases: dict[str, ShardLease]
    previous: dict[str, Any]
    overlaps: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    """Shards this fleet does not serve because another fleet claimed their namespaces first, or
    (:func:`~sparkfleet.sharding.shards.is_waiting`) not yet: another fleet's catch-all may serve them."""
    catch_all_excludes: frozenset[str] | None = None
    """What the holder of this fleet's catch-all confirms its scope leaves out (its member Lease says
    so); None: no catch-all, or no live holder saying it. Published as ``status.catchAllExcludes``."""
    rebalance: str | None = None
    now: float = 0.0
    newcomers: frozenset[str] = frozenset()
    """Members this coordinator has seen for less than a lease duration (see :func:`held_back`)."""
    suspects: frozenset[str] = frozenset()
    """Live members whose member Lease this coordinator has not seen renewed for several retry
    periods: crashed, most likely, but not yet expired (see :func:`held_back`)."""
    plan_weights: dict[str, int] | None = None
    """Objects per shard to plan with (a snapshot refreshed now and then); None: the current counts."""


def _condition(
    old: list[dict[str, Any]], kind: str, status: str, reason: str, message: str, now: str
) -> dict[str, Any]:
    before = next((c for c in old if c.get("type") == kind), None)
    changed = before is None or before.get("status") != status
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now if changed or before is None else before.get("lastTransitionTime", now),
    }


def _objects(inputs: Inputs) -> dict[str, int]:
    """Objects per shard: as its live holder reports them, else as the last status said."""
    alive = {m.lease.identity: m.lease for m in inputs.members if m.alive}
    previous = {s.get("name"): int(s.get("objects") or 0) for s in inputs.previous.get("shards") or []}
    objects: dict[str, int] = {}
    for name in inputs.shard_names:
        lease = inputs.shard_leases.get(name)
        holder_lease = alive.get(lease.holder) if lease else None
        load = holder_lease.load.get(name) if holder_lease else None
        objects[name] = load.objects if load is not None else previous.get(name, 0)
    return objects


def held_back(inputs: Inputs, current: dict[str, str | None]) -> frozenset[str]:
    """Newcomers not to give shards to this pass: a crashed member's shards are waiting for a holder.

    A member judges another's Lease expired on its own clock, from when it first saw it: one that
    joined a moment ago (a replacement for the crashed member, typically) would wait a whole lease
    duration from its join before taking an orphaned shard, while members that have watched the dead
    Lease stand still take it as soon as it expires. So while some shard's Lease names a member that
    is gone, or a suspect (a member whose Lease stopped being renewed but has not expired yet: a
    replacement often joins before its predecessor's Lease runs out), newcomers holding nothing get
    nothing (as if draining), provided an established member other than a suspect can take the
    shards; the balance moves shards to them by graceful hand-off once they are established.
    """
    alive = {m.lease.identity: m.lease for m in inputs.members if m.alive}
    dead_holders = {
        name: lease.holder
        for name, lease in inputs.shard_leases.items()
        if lease.holder and lease.holder not in alive
    }
    orphaned = any(current.get(name) is None for name in dead_holders if name in inputs.shard_names)
    suspect_held = any(current.get(name) in inputs.suspects for name in inputs.shard_names)
    if not orphaned and not suspect_held:
        return frozenset()
    drained = set(inputs.spec.drain or []) if inputs.spec else set()
    # a newcomer already given shards keeps them (taking back a planned hand-off would only churn)
    holding = {holder for holder in current.values() if holder}
    waiting = frozenset(i for i in inputs.newcomers & alive.keys() if i not in holding)
    established = [
        i
        for i, lease in alive.items()
        if i not in waiting and i not in inputs.suspects and not lease.draining and i not in drained
    ]
    return waiting if established else frozenset()


def decide(inputs: Inputs) -> tuple[dict[str, str | None], dict[str, Any]]:
    """The desired holders and the fleet status, from what the coordinator sees."""
    spec = inputs.spec
    alive = {m.lease.identity: m.lease for m in inputs.members if m.alive}
    drained = set(spec.drain or []) if spec else set()
    previous_desired = {
        s["name"]: s.get("desiredHolder") for s in inputs.previous.get("shards") or [] if isinstance(s, dict)
    }
    weights = {s.name: s.weight for s in spec.shards} if spec else {}
    objects = _objects(inputs)
    current: dict[str, str | None] = {}
    for name in inputs.shard_names:
        wanted = previous_desired.get(name)
        lease = inputs.shard_leases.get(name)
        if wanted in alive:
            current[name] = wanted
        elif lease is not None and lease.holder in alive:
            current[name] = lease.holder
        else:
            current[name] = None
    newcomers_held_back = held_back(inputs, current)
    members = [
        Member(
            identity,
            lease.capacity,
            draining=lease.draining or identity in drained or identity in newcomers_held_back,
        )
        for identity, lease in alive.items()
    ]
    planned = inputs.plan_weights if inputs.plan_weights is not None else objects
    shards = [
        Shard(name, float(weights.get(name) or planned.get(name, objects[name])))
        for name in inputs.shard_names
    ]
    result = plan(
        members, shards, current, (spec.pins if spec else None) or {}, rebalance=inputs.rebalance is not None
    )
    holders = result.holders

    now = format_micro_time(inputs.now)
    shard_status = []
    held: dict[str, int] = {}
    for name in inputs.shard_names:
        lease = inputs.shard_leases.get(name)
        holder = lease.holder if lease and lease.holder else None
        desired = holders.get(name)
        claimed = lease is not None and lease.acquire_time is not None and holder in alive
        if holder and claimed:
            held[holder] = held.get(holder, 0) + 1
        phase = "Unassigned" if desired is None else ("Held" if claimed and holder == desired else "Moving")
        entry: dict[str, Any] = {"name": name, "phase": phase, "objects": objects[name]}
        if holder:
            entry["holder"] = holder
        if desired:
            entry["desiredHolder"] = desired
        if lease is not None and lease.acquire_time and holder:
            entry["since"] = lease.acquire_time
        shard_status.append(entry)
    member_status = []
    for view in sorted(inputs.members, key=lambda m: m.lease.identity):
        ml = view.lease
        state = (
            "Expired"
            if not view.alive
            else ("Draining" if ml.draining or ml.identity in drained else "Active")
        )
        entry = {
            "identity": ml.identity,
            "state": state,
            "shards": held.get(ml.identity, 0),
            "objects": sum(load.objects for load in ml.load.values()),
            "capacity": ml.capacity,
        }
        if ml.renew_time:
            entry["lastRenewTime"] = ml.renew_time
        member_status.append(entry)

    old_conditions = inputs.previous.get("conditions") or []
    conditions = []
    if inputs.problems:
        message = "; ".join(str(p) for p in inputs.problems)
        conditions.append(_condition(old_conditions, "Invalid", "True", "InvalidSpec", message, now))
    else:
        conditions.append(_condition(old_conditions, "Invalid", "False", "Valid", "", now))
    refused = {name: why for name, why in inputs.refused.items() if not is_waiting(why)}
    waiting = {name: why for name, why in inputs.refused.items() if is_waiting(why)}
    if refused or waiting:
        refusals = [f"refused shard {name}: {why}" for name, why in sorted(refused.items())]
        refusals += [f"shard {name} is {why}" for name, why in sorted(waiting.items())]
        message = "; ".join(refusals + inputs.overlaps)
        reason = "NamespacesRefused" if refused else "WaitingForRelease"
        conditions.append(_condition(old_conditions, "Overlap", "True", reason, message, now))
    elif inputs.overlaps:
        conditions.append(
            _condition(
                old_conditions, "Overlap", "True", "NamespacesClaimedTwice", "; ".join(inputs.overlaps), now
            )
        )
    else:
        conditions.append(_condition(old_conditions, "Overlap", "False", "NoOverlap", "", now))
    if spec is None and inputs.problems:
        ready = ("False", "InvalidSpec", "no valid spec to serve yet: see the Invalid condition")
    elif not alive:
        ready = ("False", "NoMembers", "no live members")
    elif any(s["phase"] == "Unassigned" for s in shard_status):
        ready = ("False", "NoEligibleMembers", "some shards have no eligible member (all draining?)")
    elif any(s["phase"] == "Moving" for s in shard_status):
        moving = sum(1 for s in shard_status if s["phase"] == "Moving")
        ready = ("False", "ShardsMoving", f"{moving} of {len(shard_status)} shards are changing hands")
    else:
        ready = ("True", "AllShardsHeld", f"{len(shard_status)} shards held by {len(alive)} members")
    conditions.insert(0, _condition(old_conditions, "Ready", *ready, now))

    status: dict[str, Any] = {
        "coordinator": inputs.coordinator,
        "members": member_status,
        "shards": shard_status,
        "conditions": conditions,
    }
    if inputs.generation is not None:
        status["observedGeneration"] = inputs.generation
    if inputs.catch_all_excludes is not None:
        status["catchAllExcludes"] = sorted(inputs.catch_all_excludes)
    last_rebalance = inputs.rebalance or inputs.previous.get("lastRebalance")
    if last_rebalance:
        status["lastRebalance"] = last_rebalance
    return holders, status


def _invalid_message(status: dict[str, Any]) -> str | None:
    conditions = status.get("conditions") or []
    invalid = next((c for c in conditions if c.get("type") == "Invalid" and c.get("status") == "True"), None)
    return str(invalid.get("message", "")) if invalid else None


def _log_invalid(fleet: str, previous: dict[str, Any], status: dict[str, Any]) -> None:
    """Says once, in the coordinator's log, what the Invalid condition it just wrote says."""
    message = _invalid_message(status)
    if message is not None and message != _invalid_message(previous):
        log.warning("the fleet's spec is invalid; the last valid plan keeps running",
                    extra={"fleet": fleet, "problems": message})  # fmt: skip
    elif message is None and _invalid_message(previous) is not None:
        log.info("the fleet's spec is valid again", extra={"fleet": fleet})


def _without_drift(status: dict[str, Any]) -> dict[str, Any]:
    """The status without the fields that drift on their own (objects counted, renew times): a
    shallow rebuild, never a deep copy (this runs on every tick of the coordinator)."""
    stripped = dict(status)
    for section in ("members", "shards"):
        entries = status.get(section)
        if entries:
            stripped[section] = [
                {key: value for key, value in entry.items() if key not in DRIFTING} for entry in entries
            ]
    return stripped


def _valid_spec(fleet: dict[str, Any]) -> SparkFleetSpec | None:
    """A fleet's spec, or None if it does not validate (its own coordinator reports why)."""
    try:
        return SparkFleetSpec.model_validate(fleet.get("spec") or {})
    except ValidationError:
        return None


class Coordinator:
    def __init__(self, member: FleetView, refresh_seconds: float = 30.0, reweigh_seconds: float = 60.0):
        """``reweigh_seconds``: how often the shards' weights (objects) are refreshed for planning.

        Membership changes are planned at once; load drifts slowly, and re-planning on every
        count would move shards back and forth while applications are created in bursts.
        """
        self.member = member
        self.refresh_seconds = refresh_seconds
        self.reweigh_seconds = reweigh_seconds
        self._last_write = 0.0
        self._started = time.monotonic()
        self._weights: dict[str, int] | None = None
        self._weighed_at = 0.0
        self._first_seen: dict[str, float] = {}  # member -> when this coordinator first saw it alive
        self._other_specs = ParsedByVersion(_valid_spec)  # the other fleets', validated once per version

    def _plan_weights(self, inputs: Inputs) -> dict[str, int]:
        current = _objects(inputs)
        if self._weights is None or time.monotonic() - self._weighed_at >= self.reweigh_seconds:
            self._weights, self._weighed_at = current, time.monotonic()
        return {name: self._weights.get(name, current[name]) for name in inputs.shard_names}

    def _warming_up(self, inputs: Inputs) -> bool:
        """A new fleet waits two retry periods for members started together, so they all get shards at once.

        Only while no shard has a holder: a coordinator taking over a running fleet plans at once.
        """
        fresh_fleet = not any(lease.holder for lease in inputs.shard_leases.values())
        return fresh_fleet and time.monotonic() - self._started < 2 * self.member.timing.retry_period

    def inputs(self) -> Inputs | None:
        member = self.member
        obj = member.fleet_object
        if obj is None:
            return None
        spec = member.spec
        shard_leases = member.shard_leases()
        overlaps = []
        refused: set[str] = set()  # namespaces this fleet refuses: said once, by the refusal
        for shard in spec.shards if spec is not None else []:
            if shard.name in member.refused:
                refused |= set(shard.namespaces or ()) | ({"*"} if shard.catch_all else set())
        if spec is not None:
            others = member.other_fleet_objects()
            for other, other_spec in zip(others, self._other_specs.all(others), strict=True):
                meta = other["metadata"]
                if other_spec is None:
                    continue
                both = [ns for ns in overlapping_namespaces(spec, other_spec) if ns not in refused]
                if both:
                    later = claim_order(other) > claim_order(obj)
                    where = f"{meta['namespace']}/{meta['name']}"
                    overlaps.append(
                        overlap_message(where, spec, other_spec, both)
                        + (" (this fleet claimed them first)" if later else "")
                    )
        catch_all_excludes = None
        catch_all = next((s.name for s in spec.shards if s.catch_all), None) if spec is not None else None
        if catch_all is not None and catch_all in shard_leases:
            holder = next(
                (
                    m
                    for m, alive in member.members()
                    if alive and m.identity == shard_leases[catch_all].holder
                ),
                None,
            )
            if holder is not None:
                catch_all_excludes = confirmed_excludes(member.lease_annotations(holder.name))
        request = (obj["metadata"].get("annotations") or {}).get(ANNOTATION_REBALANCE)
        previous = obj.get("status") or {}
        return Inputs(
            coordinator=member.identity,
            generation=obj["metadata"].get("generation"),
            spec=spec,
            shard_names=list(member.shard_names),
            problems=list(member.problems),
            members=[MemberView(lease, alive) for lease, alive in member.members()],
            shard_leases=shard_leases,
            previous=previous,
            overlaps=overlaps,
            refused=dict(member.refused),
            catch_all_excludes=catch_all_excludes,
            rebalance=request if request and request != previous.get("lastRebalance") else None,
            now=time.time(),
            newcomers=self._newcomers(member.members()),
            suspects=self._suspects(member.members()),
        )

    def _newcomers(self, members: list[tuple[MemberLease, bool]]) -> frozenset[str]:
        """The live members first seen less than a lease duration ago, on this coordinator's clock."""
        now = time.monotonic()
        alive = {lease.identity for lease, is_alive in members if is_alive}
        self._first_seen = {i: self._first_seen.get(i, now) for i in alive}
        duration = self.member.timing.duration
        return frozenset(i for i, seen in self._first_seen.items() if now - seen < duration)

    def _suspects(self, members: list[tuple[MemberLease, bool]]) -> frozenset[str]:
        """The live members whose Lease this coordinator has not seen change for two retry periods
        (a member renews it every retry period)."""
        patience = SUSPECT_AFTER_RETRY_PERIODS * self.member.timing.retry_period
        return frozenset(
            lease.identity
            for lease, is_alive in members
            if is_alive
            and lease.identity != self.member.identity
            and (age := self.member.lease_age(lease.name)) is not None
            and age > patience
        )

    async def tick(self) -> None:
        inputs = self.inputs()
        if inputs is None:
            return
        if self._warming_up(inputs):
            return
        inputs.plan_weights = self._plan_weights(inputs)
        await self._collect_garbage(inputs)
        _, status = decide(inputs)
        obj = self.member.fleet_object
        assert obj is not None
        previous = obj.get("status") or {}
        if status == previous:
            return
        drift_only = _without_drift(status) == _without_drift(previous)
        if drift_only and time.monotonic() - self._last_write < self.refresh_seconds:
            return
        try:
            await self.member.client.replace_status(SPARK_FLEETS, {**obj, "status": status})
        except ApiError as exc:
            if exc.is_conflict:
                return  # the cache is behind; the next pass sees the newer object
            raise
        self._last_write = time.monotonic()
        _log_invalid(self.member.fleet, previous, status)
        if inputs.rebalance:
            log.info(
                "applied a rebalance request", extra={"fleet": self.member.fleet, "request": inputs.rebalance}
            )

    async def _collect_garbage(self, inputs: Inputs) -> None:
        """Deletes member Leases expired for three durations (crashed members never delete their own)."""
        member = self.member
        for view in inputs.members:
            lease = view.lease
            age = member.lease_age(lease.name)
            if not view.alive and age is not None and age >= 3 * lease.duration:
                with ignore_not_found():
                    await member.client.delete(LEASES, lease.name, member.namespace)
                log.info("removed an expired member", extra={"fleet": member.fleet, "member": lease.identity})
