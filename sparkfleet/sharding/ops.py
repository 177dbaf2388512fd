"""What ``sparkfleet shards ...`` does: read the fleet, plan, and write pins, drains and rebalance requests.

The CLI never moves a shard itself. It writes what the operator of the fleet
asks for into the SparkFleet (``spec.pins``, ``spec.drain``, the
``sparkfleet.io/rebalance`` annotation); the coordinator plans it and the
members hand the shards over. The CLI then follows the status until the
shards are where they were asked to be.

Reports are built by pure functions from the objects read, so they are the
same whatever prints them (table, JSON, YAML).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import ValidationError

from sparkfleet.api.fleet import SPARK_FLEETS, SparkFleetSpec
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import LEASES
from sparkfleet.kube.scope import Scope
from sparkfleet.kube.timestamps import format_micro_time, parse_time
from sparkfleet.sharding.leases import (
    ANNOTATION_REBALANCE,
    MemberLease,
    fleet_selector,
    is_member_lease,
)
from sparkfleet.sharding.planner import Member, Move, Shard, plan
from sparkfleet.sharding.shards import compile_shards


class FleetError(Exception):
    """A request the fleet cannot take, in words for the user."""


@dataclass(frozen=True, slots=True)
class ShardScope:
    """What a shard serves, as its watches say: some namespaces (or all but some), and a selector."""

    namespaces: list[str]
    """The namespaces it serves (empty when ``all_namespaces``)."""
    all_namespaces: bool
    except_namespaces: list[str]
    """With ``all_namespaces``: the namespaces it leaves out (other shards' and other fleets')."""
    selector: str | None
    """The label selector its objects match, in the API's syntax (``team in (gold)``), or none."""
    namespace_selector: str | None = None
    """The label selector its namespaces match (a namespaceSelector shard), or none."""


@dataclass(frozen=True, slots=True)
class ShardRow:
    name: str
    phase: str
    holder: str | None
    desired: str | None
    pin: str | None
    """The member ``spec.pins`` names for it (``shards move``), if any."""
    age_seconds: float | None
    """Since its holder took it."""
    objects: int
    queued: int
    scope: ShardScope | None
    """None when the spec does not compile (the Invalid condition says why)."""


@dataclass(frozen=True, slots=True)
class MemberRow:
    member: str
    state: str
    shards: int
    objects: int
    queued: int
    capacity: float
    coordinator: bool


@dataclass(frozen=True, slots=True)
class ConditionRow:
    type: str
    status: bool | None
    """``True``/``False`` as booleans; ``Unknown`` as None."""
    reason: str
    message: str
    age_seconds: float | None
    """Since the last transition."""


@dataclass(frozen=True, slots=True)
class FleetReport:
    fleet: str
    namespace: str
    coordinator: str | None
    ready: bool | None
    shards: list[ShardRow]
    members: list[MemberRow]
    conditions: list[ConditionRow] = field(default_factory=list)
    job_namespaces: list[str] | None = None
    """``spec.jobNamespaces``: the namespaces the fleet may serve at all (None: the whole cluster)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def condition(self, kind: str) -> ConditionRow | None:
        return next((c for c in self.conditions if c.type == kind), None)


def age_seconds(since: str | None, now: float) -> float | None:
    """Seconds from ``since`` (an API timestamp) to ``now``, to a tenth; None without a time."""
    started = parse_time(since)
    if started is None:
        return None
    return round(max(0.0, now - started), 1)


def _tristate(status: Any) -> bool | None:
    return {"True": True, "False": False}.get(str(status))


def describe_scope(scope: Scope) -> ShardScope:
    """A scope's watches as namespaces and a selector (every watch of a shard has the same selector)."""
    if scope.selection is not None:
        chosen = scope.selection
        within = sorted(chosen.within) if chosen.within is not None else []
        return ShardScope(within, chosen.within is None, sorted(chosen.excludes), None, chosen.selector)
    selector = next((w.label_selector for w in scope.watches if w.label_selector), None)
    if any(w.namespace is None for w in scope.watches):
        skipped = [
            part.removeprefix("metadata.namespace!=")
            for w in scope.watches
            for part in (w.field_selector or "").split(",")
            if part.startswith("metadata.namespace!=")
        ]
        return ShardScope([], True, sorted(set(skipped)), selector)
    return ShardScope(sorted({w.namespace for w in scope.watches if w.namespace}), False, [], selector)


def shard_scopes(spec: dict[str, Any], excludes: list[str]) -> dict[str, ShardScope]:
    """Each shard's scope as its holder serves it (``excludes``: the status's catchAllExcludes);
    empty when the spec does not compile."""
    try:
        model = SparkFleetSpec.model_validate(spec)
    except ValidationError:
        return {}
    defs, problems = compile_shards(model, frozenset(excludes))
    return {} if problems else {d.name: describe_scope(d.scope) for d in defs}


def report(fleet_obj: dict[str, Any], leases: list[dict[str, Any]], now: float) -> FleetReport:
    """The fleet as its spec, its status and the members' Leases describe it.

    Every shard of the spec is a row, with those the status does not list yet (no coordinator has
    run, or the shard is new) as Unassigned; a shard only the status lists (removed from the spec,
    not yet from the status) is a row too.
    """
    spec = fleet_obj.get("spec") or {}
    status = fleet_obj.get("status") or {}
    loads = {m.identity: m.load for m in (MemberLease.parse(obj) for obj in leases if is_member_lease(obj))}
    listed = {e["name"]: e for e in status.get("shards") or [] if isinstance(e, dict) and "name" in e}
    in_spec = {s["name"]: s for s in spec.get("shards") or [] if isinstance(s, dict) and "name" in s}
    pins = spec.get("pins") or {}
    scopes = shard_scopes(spec, list(status.get("catchAllExcludes") or []))
    shards = []
    for name in sorted(listed.keys() | in_spec.keys()):
        entry = listed.get(name, {})
        holder = entry.get("holder") or None
        load = loads.get(holder or "", {}).get(name)
        shards.append(
            ShardRow(
                name=name,
                phase=entry.get("phase") or "Unassigned",
                holder=holder,
                desired=entry.get("desiredHolder") or None,
                pin=pins.get(name) or None,
                age_seconds=age_seconds(entry.get("since"), now),
                objects=load.objects if load else int(entry.get("objects") or 0),
                queued=load.queued if load else 0,
                scope=scopes.get(name),
            )
        )
    coordinator = status.get("coordinator") or None
    members = []
    for entry in status.get("members") or []:
        identity = entry["identity"]
        member_load = loads.get(identity, {})
        members.append(
            MemberRow(
                member=identity,
                state=entry.get("state") or "Unknown",
                shards=int(entry.get("shards") or 0),
                objects=sum(x.objects for x in member_load.values())
                if identity in loads
                else int(entry.get("objects") or 0),
                queued=sum(x.queued for x in member_load.values()),
                capacity=float(entry.get("capacity") or 1.0),
                coordinator=identity == coordinator,
            )
        )
    conditions = [
        ConditionRow(
            type=str(c.get("type") or ""),
            status=_tristate(c.get("status")),
            reason=str(c.get("reason") or ""),
            message=str(c.get("message") or ""),
            age_seconds=age_seconds(c.get("lastTransitionTime"), now),
        )
        for c in status.get("conditions") or []
        if isinstance(c, dict)
    ]
    ready = next((c.status for c in conditions if c.type == "Ready"), None)
    return FleetReport(
        fleet=fleet_obj["metadata"]["name"],
        namespace=fleet_obj["metadata"]["namespace"],
        coordinator=coordinator,
        ready=ready,
        shards=shards,
        members=members,
        conditions=conditions,
        job_namespaces=sorted(spec["jobNamespaces"]) if spec.get("jobNamespaces") is not None else None,
    )


def planned_moves(fleet_obj: dict[str, Any], *, rebalance: bool) -> list[Move]:
    """The moves the coordinator would make now (``rebalance``: the full rebalance a request asks for).

    Members count as alive as the coordinator last judged them (status.members).
    """
    status = fleet_obj.get("status") or {}
    spec = fleet_obj.get("spec") or {}
    drained = set(spec.get("drain") or [])
    members = [
        Member(
            m["identity"],
            float(m.get("capacity") or 1.0),
            m.get("state") == "Draining" or m["identity"] in drained,
        )
        for m in status.get("members") or []
        if m.get("state") in ("Active", "Draining")
    ]
    weights = {s["name"]: s.get("weight") for s in spec.get("shards") or []}
    shards = [
        Shard(s["name"], float(weights.get(s["name"]) or s.get("objects") or 0))
        for s in status.get("shards") or []
    ]
    current = {s["name"]: s.get("desiredHolder") for s in status.get("shards") or []}
    return plan(members, shards, current, spec.get("pins") or {}, rebalance=rebalance).moves


class FleetOps:
    def __init__(self, client: KubeClient, namespace: str, fleet: str):
        self.client = client
        self.namespace = namespace
        self.fleet = fleet

    async def get(self) -> dict[str, Any]:
        try:
            return await self.client.get(SPARK_FLEETS, self.fleet, self.namespace)
        except ApiError as exc:
            if exc.is_not_found:
                raise FleetError(
                    f'SparkFleet "{self.fleet}" not found in namespace "{self.namespace}"'
                ) from exc
            raise

    async def status(self) -> FleetReport:
        fleet_obj = await self.get()
        leases, _ = await self.client.list_all(
            LEASES, self.namespace, label_selector=fleet_selector(self.fleet)
        )
        return report(fleet_obj, leases, time.time())

    async def move(self, shard: str, member: str) -> None:
        fleet_obj = await self.get()
        self._known_shard(fleet_obj, shard)
        self._known_member(fleet_obj, member)
        if member in ((fleet_obj.get("spec") or {}).get("drain") or []):
            raise FleetError(f'member "{member}" is draining; undrain it before moving shards to it')
        await self._patch({"spec": {"pins": {shard: member}}})

    async def unpin(self, shard: str) -> None:
        fleet_obj = await self.get()
        self._known_shard(fleet_obj, shard)
        await self._patch({"spec": {"pins": {shard: None}}})

    async def drain(self, member: str, *, undo: bool = False, attempts: int = 5) -> None:
        """Adds ``member`` to (or removes it from) spec.drain: a compare-and-swap, retried on conflict
        (the coordinator's status writes move the resourceVersion too)."""
        for attempt in range(attempts):
            fleet_obj = await self.get()
            if not undo:
                self._known_member(fleet_obj, member)
            drained = list((fleet_obj.get("spec") or {}).get("drain") or [])
            if undo:
                if member not in drained:
                    raise FleetError(f'member "{member}" is not draining')
                drained.remove(member)
            elif member in drained:
                return
            else:
                drained.append(member)
            patch = {
                "metadata": {"resourceVersion": fleet_obj["metadata"]["resourceVersion"]},
                "spec": {"drain": drained or None},
            }
            try:
                await self._patch(patch)
                return
            except ApiError as exc:
                if not exc.is_conflict or attempt == attempts - 1:
                    raise

    async def request_rebalance(self) -> str:
        token = format_micro_time()
        await self._patch({"metadata": {"annotations": {ANNOTATION_REBALANCE: token}}})
        return token

    async def follow(
        self,
        done: Callable[[dict[str, Any]], bool],
        progress: Callable[[dict[str, Any]], None],
        timeout: float,
        interval: float = 0.5,
    ) -> bool:
        """Polls the fleet until ``done`` says so (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while True:
            fleet_obj = await self.get()
            progress(fleet_obj)
            if done(fleet_obj):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(interval)

    async def _patch(self, patch: dict[str, Any]) -> None:
        await self.client.patch(SPARK_FLEETS, self.fleet, patch, self.namespace)

    @staticmethod
    def _known_shard(fleet_obj: dict[str, Any], shard: str) -> None:
        names = [s.get("name") for s in (fleet_obj.get("spec") or {}).get("shards") or []]
        if shard not in names:
            raise FleetError(f'shard "{shard}" is not in the fleet (shards: {", ".join(map(str, names))})')

    @staticmethod
    def _known_member(fleet_obj: dict[str, Any], member: str) -> None:
        members = [m.get("identity") for m in ((fleet_obj.get("status") or {}).get("members") or [])]
        if member not in members:
            raise FleetError(
                f'member "{member}" is not in the fleet (members: {", ".join(map(str, members)) or "none"})'
            )


def all_held(fleet_obj: dict[str, Any]) -> bool:
    shards = (fleet_obj.get("status") or {}).get("shards") or []
    return bool(shards) and all(s.get("phase") == "Held" for s in shards)


def shard_on(shard: str, member: str) -> Callable[[dict[str, Any]], bool]:
    def done(fleet_obj: dict[str, Any]) -> bool:
        shards: list[dict[str, Any]] = (fleet_obj.get("status") or {}).get("shards") or []
        entry: dict[str, Any] = next((s for s in shards if s["name"] == shard), {})
        return entry.get("holder") == member and entry.get("phase") == "Held"

    return done


def member_empty(member: str) -> Callable[[dict[str, Any]], bool]:
    def done(fleet_obj: dict[str, Any]) -> bool:
        shards = (fleet_obj.get("status") or {}).get("shards") or []
        return all_held(fleet_obj) and not any(s.get("holder") == member for s in shards)

    return done


def rebalanced(token: str) -> Callable[[dict[str, Any]], bool]:
    def done(fleet_obj: dict[str, Any]) -> bool:
        return (fleet_obj.get("status") or {}).get("lastRebalance") == token and all_held(fleet_obj)

    return done
