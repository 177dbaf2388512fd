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
import datetime
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import LEASES
from sparkfleet.sharding.leases import (
    ANNOTATION_REBALANCE,
    MemberLease,
    fleet_selector,
    is_member_lease,
    parse_time,
)
from sparkfleet.sharding.planner import Member, Move, Shard, plan


class FleetError(Exception):
    """A request the fleet cannot take, in words for the user."""


@dataclass(frozen=True, slots=True)
class ShardRow:
    name: str
    holder: str
    desired: str
    phase: str
    age: str
    objects: int
    queued: int


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
class FleetReport:
    fleet: str
    namespace: str
    coordinator: str
    ready: str
    shards: list[ShardRow]
    members: list[MemberRow]
    conditions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def age(since: str | None, now: float) -> str:
    """kubectl's short age: 45s, 3m12s, 5h, 2d."""
    started = parse_time(since)
    if started is None:
        return "-"
    seconds = max(0, int(now - started))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 600:
        return f"{seconds // 60}m{seconds % 60}s"
    if seconds < 3 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def report(fleet_obj: dict[str, Any], leases: list[dict[str, Any]], now: float) -> FleetReport:
    """The fleet as its status and the members' Leases describe it."""
    status = fleet_obj.get("status") or {}
    loads = {m.identity: m.load for m in (MemberLease.parse(obj) for obj in leases if is_member_lease(obj))}
    shards = []
    for entry in status.get("shards") or []:
        holder = entry.get("holder") or ""
        load = loads.get(holder, {}).get(entry["name"])
        shards.append(
            ShardRow(
                name=entry["name"],
                holder=holder or "<none>",
                desired=entry.get("desiredHolder") or "<none>",
                phase=entry.get("phase") or "Unknown",
                age=age(entry.get("since"), now),
                objects=load.objects if load else int(entry.get("objects") or 0),
                queued=load.queued if load else 0,
            )
        )
    coordinator = status.get("coordinator") or ""
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
    conditions = list(status.get("conditions") or [])
    ready = next((c.get("status", "Unknown") for c in conditions if c.get("type") == "Ready"), "Unknown")
    return FleetReport(
        fleet=fleet_obj["metadata"]["name"],
        namespace=fleet_obj["metadata"]["namespace"],
        coordinator=coordinator or "<none>",
        ready=ready,
        shards=shards,
        members=members,
        conditions=conditions,
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
        token = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
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
