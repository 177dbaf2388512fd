"""One member of a fleet: it renews its Lease, claims and serves shards, and hands them off.

The rules (see the sharding protocol in DESIGN.md):

1. It serves a shard only while the shard's Lease names it *and* its own
   member Lease is fresh. If it cannot renew within the renew deadline it
   fences itself: every shard's workers and watches stop at once.
2. It takes a shard the coordinator gave it only when the shard's Lease is
   released, names it already, or names a member whose Lease has expired as
   this member judges it (its own monotonic clock since the last change).
3. Every Lease write is a compare-and-swap; a conflict means someone else
   acted first, and the next look at the cache decides again.

Hand-off: stop taking work for the shard, finish in-flight reconciles
(bounded), then write the shard's Lease naming the new holder, which claims
it (one more write), lists the shard and reconciles each object once.

The coordinator runs inside whichever member holds the coordinator Lease;
see :mod:`sparkfleet.sharding.coordinator`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import orjson
from pydantic import ValidationError

from sparkfleet.api.base import format_validation_error
from sparkfleet.api.fleet import SPARK_FLEETS, SparkFleet, SparkFleetSpec
from sparkfleet.kube import ApiError, Informer, InformerEvent, KubeClient
from sparkfleet.kube.informer import EventType
from sparkfleet.kube.leaderelection import LeaderElector, LeaseTiming
from sparkfleet.kube.resources import LEASES
from sparkfleet.kube.scope import Scope
from sparkfleet.sharding import metrics
from sparkfleet.sharding.leases import (
    ANNOTATION_CAPACITY,
    ANNOTATION_DRAINING,
    ANNOTATION_HANDOFF_REASON,
    ANNOTATION_HANDOFF_STARTED,
    ANNOTATION_IDENTITY,
    ANNOTATION_LOAD,
    LABEL_SHARD,
    ROLE_MEMBER,
    ROLE_SHARD,
    ExpiryClock,
    MemberLease,
    ShardLease,
    coordinator_lease_name,
    fleet_selector,
    is_member_lease,
    lease_object,
    member_lease_name,
    micro_time,
    shard_lease_name,
)
from sparkfleet.sharding.planner import Member, Shard, plan
from sparkfleet.sharding.shards import (
    ANNOTATION_EXCLUDES,
    FleetClaim,
    Problem,
    ShardDef,
    claim_of,
    claim_order,
    compile_shards,
    excludes_annotation,
    named_elsewhere,
    refused_shards,
    waiting_shards,
)

log = logging.getLogger(__name__)

REQUEST_ERRORS = (ApiError, aiohttp.ClientError, TimeoutError)


class FleetUnavailable(Exception):
    """The fleet cannot be joined at all (its CRD is missing, or it cannot be read); the message says why."""


class ShardHost(Protocol):
    """What a member drives: the operator's controllers, one scope per shard."""

    async def add_scope(self, scope: Scope) -> None: ...

    def prepare_scope(self, scope: Scope) -> None: ...

    async def unprepare_scope(self, name: str) -> None: ...

    async def remove_scope(self, name: str, timeout: float) -> int: ...

    def drop_all(self) -> None: ...

    def objects(self, name: str) -> int: ...

    def backlog(self, name: str) -> int: ...


class FleetMember:
    def __init__(
        self,
        client: KubeClient,
        host: ShardHost,
        *,
        fleet: str,
        namespace: str,
        identity: str,
        capacity: float = 1.0,
        lease_client: KubeClient | None = None,
        handoff_timeout: float = 10.0,
        sync_timeout: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not (math.isfinite(capacity) and capacity > 0):
            raise ValueError(f"--shard-capacity must be a positive number; got {capacity}")
        # Lease traffic goes on a client of its own, so renewals never queue behind the
        # operator's lists and watches (its QPS limit, its connections).
        self.client = lease_client or client
        self.host = host
        self.fleet = fleet
        self.namespace = namespace
        self.identity = identity
        self.capacity = capacity
        self.handoff_timeout = handoff_timeout
        self.sync_timeout = sync_timeout
        self.clock = clock
        self.timing = LeaseTiming()
        self.leases = Informer(self.client, LEASES, namespace=namespace, label_selector=fleet_selector(fleet))
        self.fleets = Informer(self.client, SPARK_FLEETS)  # every fleet: the coordinator looks for overlaps
        self.expiry = ExpiryClock(clock)
        self.leases.add_handler(self._on_lease)
        self.fleets.add_handler(lambda _event: self._wake_all())
        self.spec: SparkFleetSpec | None = None
        self.shards: dict[str, ShardDef] = {}
        self.problems: list[Problem] = []
        self.refused: dict[str, str] = {}
        self._claims: dict[str, tuple[str, FleetClaim | None]] = {}
        """Shards not served because another fleet claimed their namespaces first: shard -> why."""
        self.serving: set[str] = set()
        self.served_defs: dict[str, ShardDef] = {}  # the definition each served shard was claimed with
        self.warming: set[str] = set()  # shards whose caches are warmed ahead of a hand-off to us
        self.ready = asyncio.Event()
        self.shutting_down = False
        self.fenced = False
        self.is_coordinator = False
        self._epoch = 0  # bumped on every fence: work started before it must not resume serving
        self._member_lease: dict[str, Any] | None = None
        self._renew_lock = asyncio.Lock()
        self._last_renew: float | None = None
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._wakers: list[asyncio.Event] = []
        self._shard_wake = self._waker()
        self._progress = asyncio.Event()  # a shard task finished
        self._tasks: list[asyncio.Task[None]] = []
        self.coordinator_wake = self._waker()
        metrics.SHARDS_HELD.labels(fleet, identity).set(0)  # every series exported from the start
        metrics.SHARDS.labels(fleet).set(0)
        metrics.IS_COORDINATOR.labels(fleet).set(0)
        metrics.MEMBERS.labels(fleet).set(0)

    # -- views of the caches ------------------------------------------------------

    @property
    def fleet_object(self) -> dict[str, Any] | None:
        return self.fleets.store.get(f"{self.namespace}/{self.fleet}")

    def shard_lease(self, shard: str) -> dict[str, Any] | None:
        return self.leases.store.get(f"{self.namespace}/{shard_lease_name(self.fleet, shard)}")

    def member_leases(self) -> list[MemberLease]:
        return [MemberLease.parse(obj) for obj in self.leases.store.list() if is_member_lease(obj)]

    def is_alive(self, member: MemberLease) -> bool:
        return bool(member.holder) and not self.expiry.expired(member.name, member.duration)

    def live_members(self) -> dict[str, MemberLease]:
        return {m.identity: m for m in self.member_leases() if self.is_alive(m)}

    def desired_holders(self) -> dict[str, str | None]:
        obj = self.fleet_object
        shards = ((obj or {}).get("status") or {}).get("shards") or []
        return {s["name"]: s.get("desiredHolder") for s in shards if isinstance(s, dict) and "name" in s}

    @property
    def fresh(self) -> bool:
        return (
            not self.fenced
            and self._last_renew is not None
            and self.clock() - self._last_renew < self.timing.renew_deadline
        )

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Syncs the caches, reads the fleet, joins (creates the member Lease), starts the loops.

        Raises :class:`FleetUnavailable` when the cluster does not serve SparkFleets at all; a
        fleet that does not exist yet is waited for (it may be applied after the Deployment).
        """
        await self._preflight()
        self.leases.start()
        self.fleets.start()
        async with asyncio.timeout(self.sync_timeout):
            await asyncio.gather(self.leases.synced.wait(), self.fleets.synced.wait())
        self._load_spec()
        if self.spec is not None and self.spec.lease is not None:
            lease = self.spec.lease
            self.timing = LeaseTiming(
                lease.duration_seconds, lease.renew_deadline_seconds, lease.retry_period_seconds
            )
        await self._renew()
        self._tasks = [
            asyncio.create_task(self._renew_loop(), name="member renew"),
            asyncio.create_task(self._shard_loop(), name="member shards"),
            asyncio.create_task(self._coordinate_loop(), name="member coordinator"),
        ]
        self.ready.set()
        log.info(
            "joined fleet",
            extra={"fleet": self.fleet, "member": self.identity, "lease_duration_s": self.timing.duration},
        )

    async def _preflight(self) -> None:
        try:
            await self.client.get(SPARK_FLEETS, self.fleet, self.namespace)
        except ApiError as exc:
            if not exc.is_not_found:
                where = f"{self.namespace}/{self.fleet}"
                raise FleetUnavailable(
                    f"cannot read SparkFleet {where}: {exc.status} {exc.reason}: {exc.message}"
                ) from exc
            try:
                await self.client.request("GET", SPARK_FLEETS.base)
            except ApiError as missing:
                if missing.is_not_found:
                    raise FleetUnavailable(
                        f"the cluster does not serve {SPARK_FLEETS}: install its CRD "
                        "(kubectl apply -f deploy/crds/sparkfleet.io_sparkfleets.yaml)"
                    ) from missing
                raise
            log.warning(
                "the SparkFleet does not exist yet; waiting for it",
                extra={"fleet": f"{self.namespace}/{self.fleet}", "member": self.identity},
            )

    async def shutdown(self, timeout: float | None = None) -> None:
        """Leaves gracefully: every shard handed off, then the member Lease deleted."""
        deadline = self.clock() + (
            timeout if timeout is not None else self.handoff_timeout + 4 * self.timing.retry_period
        )
        self.shutting_down = True
        log.info(
            "leaving the fleet: handing off shards", extra={"fleet": self.fleet, "member": self.identity}
        )
        with contextlib.suppress(*REQUEST_ERRORS):
            await self._renew()  # says "draining": the coordinator plans our shards elsewhere
        self._wake_all()
        # the coordinator's plan moves them; give it a few retry periods before deciding alone
        patience = self.clock() + 3 * self.timing.retry_period
        while (self.serving or self._busy) and self.clock() < min(patience, deadline):
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(patience, deadline) - self.clock()):
                    await self._progress.wait()
        if self.fresh:
            await self._hand_off_alone(max(0.5, deadline - self.clock()))
        for task in list(self._busy.values()):
            with contextlib.suppress(asyncio.CancelledError, *REQUEST_ERRORS):
                async with asyncio.timeout(max(0.1, deadline - self.clock())):
                    await asyncio.shield(task)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.serving:
            await asyncio.gather(*(self.host.remove_scope(s, 0.5) for s in list(self.serving)))
            self.serving.clear()
        with contextlib.suppress(*REQUEST_ERRORS):
            async with asyncio.timeout(self.timing.renew_deadline):  # never hang a shutdown
                await self.client.delete(LEASES, member_lease_name(self.fleet, self.identity), self.namespace)
        await self.leases.stop()
        await self.fleets.stop()
        metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(0)
        metrics.IS_COORDINATOR.labels(self.fleet).set(0)
        log.info("left the fleet", extra={"fleet": self.fleet, "member": self.identity})

    # -- the spec -------------------------------------------------------------------

    def _load_spec(self) -> None:
        obj = self.fleet_object
        if obj is None:
            if self.spec is not None:
                log.warning("the fleet is gone; serving nothing", extra={"fleet": self.fleet})
            self.spec, self.shards, self.problems = None, {}, []
            return
        try:
            fleet = SparkFleet.model_validate(obj)
        except ValidationError as exc:
            self.problems = [Problem("", format_validation_error(exc))]
            return  # keep the last valid spec
        others = self._other_fleets()
        shards, problems = compile_shards(fleet.spec, named_elsewhere(others))
        self.problems = problems
        if not problems:
            self.spec = fleet.spec
            refused = {
                **waiting_shards(fleet.spec, claim_order(obj), others, self.serving),
                **refused_shards(fleet.spec, claim_order(obj), others),
            }
            if refused != self.refused:
                for shard, why in sorted(refused.items()):
                    log.warning(
                        "refusing a shard another fleet claimed first",
                        extra={"fleet": self.fleet, "shard": shard, "why": why},
                    )
            self.refused = refused
            self.shards = {s.name: s for s in shards if s.name not in self.refused}
        metrics.SHARDS.labels(self.fleet).set(len(self.shards))

    def _other_fleets(self) -> list[FleetClaim]:
        """The other fleets' claims, each parsed once per resourceVersion (this runs on every wake)."""
        claims = []
        cache: dict[str, tuple[str, FleetClaim | None]] = {}
        for obj in self.fleets.store.list():
            meta = obj["metadata"]
            if meta["name"] == self.fleet and meta.get("namespace") == self.namespace:
                continue
            where = f"{meta.get('namespace')}/{meta['name']}"
            version = str(meta.get("resourceVersion") or "")
            known = self._claims.get(where)
            claim = known[1] if known is not None and known[0] == version else claim_of(obj)
            cache[where] = (version, claim)
            if claim is not None:
                claims.append(claim)
        self._claims = cache
        return claims

    # -- the member Lease -------------------------------------------------------------

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.timing.retry_period)
            await self._renew()

    async def _renew(self) -> None:
        async with self._renew_lock:  # the loop and shutdown both renew; one write at a time
            await self._renew_once()

    async def _renew_once(self) -> None:
        started = self.clock()
        budget = self.timing.renew_deadline
        if self._last_renew is not None:
            budget = max(0.1, self._last_renew + self.timing.renew_deadline - started)
        try:
            async with asyncio.timeout(budget):
                await self._write_member_lease()
        except REQUEST_ERRORS as exc:
            metrics.LEASE_RENEW_FAILURES.inc()
            if isinstance(exc, ApiError) and exc.is_conflict:
                self._member_lease = None  # re-read before the next try
            log.warning(
                "member lease renewal failed",
                extra={"fleet": self.fleet, "member": self.identity, "error": str(exc) or repr(exc)},
            )
            if (
                not self.fenced
                and self._last_renew is not None
                and self.clock() - self._last_renew >= self.timing.renew_deadline
            ):
                self._fence()
            return
        was_fenced = self.fenced or self._last_renew is None
        self._last_renew = started
        if self.fenced:
            self.fenced = False
            log.warning("member lease renewed again; claiming shards anew", extra={"member": self.identity})
            # The path is back: the watches must not sit out their backoff before the member
            # can see the Leases it is to claim.
            self.leases.retry_now()
            self.fleets.retry_now()
        if was_fenced:
            self._wake_all()

    async def _write_member_lease(self) -> None:
        name = member_lease_name(self.fleet, self.identity)
        if self._member_lease is None:
            try:
                self._member_lease = await self.client.get(LEASES, name, self.namespace)
            except ApiError as exc:
                if not exc.is_not_found:
                    raise
        now = micro_time()
        annotations = {
            ANNOTATION_IDENTITY: self.identity,
            ANNOTATION_CAPACITY: f"{self.capacity:g}",
            ANNOTATION_DRAINING: "true" if self.shutting_down else "false",
            ANNOTATION_LOAD: orjson.dumps(
                {
                    s: {"objects": self.host.objects(s), "queued": self.host.backlog(s)}
                    for s in sorted(self.serving)
                }
            ).decode(),
            ANNOTATION_EXCLUDES: excludes_annotation(
                [self.served_defs[s] for s in sorted(self.serving) if s in self.served_defs]
            ),
        }
        if self._member_lease is None:
            spec = {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": round(self.timing.duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            }
            obj = lease_object(
                name, self.namespace, fleet=self.fleet, role=ROLE_MEMBER, spec=spec, annotations=annotations
            )
            self._member_lease = await self.client.create(LEASES, obj)
            return
        lease = dict(self._member_lease)
        metadata = dict(lease["metadata"])
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
        spec = dict(lease.get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
        spec.update(
            {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": round(self.timing.duration),
                "renewTime": now,
            }
        )
        lease.update({"metadata": metadata, "spec": spec})
        self._member_lease = await self.client.replace(LEASES, lease)  # CAS on resourceVersion

    def _fence(self) -> None:
        """Could not renew in time: stop every shard at once; claim them anew once renewed."""
        self.fenced = True
        self._epoch += 1
        self.host.drop_all()
        for task in self._busy.values():
            task.cancel()
        lost = sorted(self.serving)
        self.serving.clear()
        self.warming.clear()
        metrics.FENCED.inc()
        metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(0)
        log.error(
            "could not renew the member lease within the renew deadline: stopped every shard",
            extra={"fleet": self.fleet, "member": self.identity, "shards": ",".join(lost)},
        )

    # -- shards ---------------------------------------------------------------------

    def _waker(self) -> asyncio.Event:
        event = asyncio.Event()
        self._wakers.append(event)
        return event

    def _wake_all(self) -> None:
        for event in self._wakers:
            event.set()

    def _on_lease(self, event: InformerEvent) -> None:
        name = event.obj["metadata"]["name"]
        if event.type is EventType.DELETED:
            self.expiry.observe_absent(name)
        else:
            self.expiry.observe(name, event.obj["metadata"].get("resourceVersion") or "")
        self._wake_all()

    async def _shard_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timing.retry_period):
                    await self._shard_wake.wait()
            self._shard_wake.clear()
            self._load_spec()
            if self.fresh:
                self._act()

    def _act(self) -> None:
        """Starts the claims, hand-offs and releases the caches call for (one task per shard at a time)."""
        desired = self.desired_holders()
        live = self.live_members()
        for name, shard in sorted(self.shards.items()):
            if name in self._busy:
                continue
            obj = self.shard_lease(name)
            lease = ShardLease.parse(obj) if obj is not None else None
            holder = lease.holder if lease else ""
            target = desired.get(name)
            handing_to = target if target and target != self.identity and target in live else None
            if holder == self.identity:
                if handing_to and (self.shutting_down or not live[handing_to].draining):
                    self._spawn(name, self._hand_off(name, handing_to, self._reason(name, handing_to)))
                elif name not in self.serving and not self.shutting_down:
                    self._spawn(
                        name, self._claim(shard, obj, "resume" if lease and lease.acquire_time else "handoff")
                    )
            elif name in self.serving:
                self._spawn(name, self._lost(name, holder))
            elif target == self.identity and not self.shutting_down and self._takeable(name, lease):
                self._spawn(name, self._claim(shard, obj, "failover" if holder else "assigned"))
            elif target == self.identity and not self.shutting_down and name not in self.warming:
                self.warming.add(name)  # on its way to us: warm the caches while the holder drains
                self.host.prepare_scope(shard.scope)
        for name in sorted(self.warming - self.serving):
            not_coming = desired.get(name) != self.identity or self.shutting_down or name not in self.shards
            if not_coming and name not in self._busy:
                self.warming.discard(name)
                self._spawn(name, self.host.unprepare_scope(name))
        for name in sorted(self.serving - set(self.shards)):
            if name not in self._busy:
                self._spawn(name, self._hand_off(name, "", "removed"))
        metrics.MEMBERS.labels(self.fleet).set(len(live))

    def _reason(self, shard: str, target: str) -> str:
        if self.shutting_down:
            return "shutdown"
        spec = self.spec
        if spec is not None and self.identity in (spec.drain or []):
            return "drain"
        if spec is not None and (spec.pins or {}).get(shard) == target:
            return "move"
        return "rebalance"

    def _takeable(self, shard: str, lease: ShardLease | None) -> bool:
        if lease is None or not lease.holder:
            return True
        member_name = member_lease_name(self.fleet, lease.holder)
        obj = self.leases.store.get(f"{self.namespace}/{member_name}")
        if obj is None:
            if self.expiry.age(member_name) is None:
                self.expiry.observe_absent(member_name)  # never seen: its absence counts from now
            return self.expiry.expired(member_name, self.timing.duration)
        member = MemberLease.parse(obj)
        return not member.holder or self.expiry.expired(member_name, member.duration)

    def _spawn(self, shard: str, work: Any) -> None:
        task = asyncio.create_task(work, name=f"shard {shard}")
        self._busy[shard] = task

        def finished(t: asyncio.Task[None]) -> None:
            if self._busy.get(shard) is t:
                del self._busy[shard]
            if not t.cancelled() and (exc := t.exception()) is not None:
                log.error("shard work failed", exc_info=exc, extra={"shard": shard, "member": self.identity})
            self._shard_wake.set()
            self._progress.set()

        task.add_done_callback(finished)

    async def _claim(self, shard: ShardDef, obj: dict[str, Any] | None, reason: str) -> None:
        epoch = self._epoch
        previous = ShardLease.parse(obj) if obj is not None else None
        if reason == "failover" and previous is not None and not await self._still_expired(previous.holder):
            return
        try:
            await self._write_shard_lease(shard.name, obj, holder=self.identity, claim=True)
        except ApiError as exc:
            if exc.is_conflict or exc.is_not_found:
                return  # someone acted first; the cache will show what happened
            raise
        if epoch != self._epoch or not self.fresh:
            return  # fenced meanwhile: claim again once renewed
        await self.host.add_scope(shard.scope)
        if epoch != self._epoch or not self.fresh or self.shutting_down:
            await self.host.remove_scope(shard.name, 0)
            return
        self.serving.add(shard.name)
        self.served_defs[shard.name] = shard
        self.warming.discard(shard.name)
        metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(len(self.serving))
        if reason in ("handoff", "failover"):
            metrics.HANDOFFS.labels(reason if reason == "failover" else "takeover").inc()
        extra: dict[str, Any] = {
            "fleet": self.fleet,
            "member": self.identity,
            "shard": shard.name,
            "reason": reason,
        }
        if previous is not None and previous.handoff_started is not None and reason == "handoff":
            took = max(
                0.0, time.time() - previous.handoff_started
            )  # wall clocks of two members: a metric only
            metrics.HANDOFF_DURATION.observe(took)
            extra["handoff_s"] = round(took, 3)
        log.info("serving shard", extra=extra)

    async def _still_expired(self, holder: str) -> bool:
        """Confirms with a quorum read that ``holder``'s Lease really has not changed.

        Expiry is judged from the watch, which can lag; a holder renewing just now
        must not lose its shards because its renewal had not reached us yet.
        """
        name = member_lease_name(self.fleet, holder)
        try:
            current = await self.client.get(LEASES, name, self.namespace)
        except ApiError as exc:
            if exc.is_not_found:
                return True
            raise
        version = current["metadata"].get("resourceVersion") or ""
        if version != self.expiry.version(name):
            self.expiry.observe(name, version)  # it moved: the clock starts again
            return False
        return True

    async def _hand_off(self, shard: str, target: str, reason: str) -> None:
        """Stops serving ``shard`` (in-flight reconciles finish, bounded), then names ``target`` holder."""
        started = time.time()
        if shard in self.serving:
            cancelled = await self.host.remove_scope(shard, self.handoff_timeout)
            self.serving.discard(shard)
            metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(len(self.serving))
            if cancelled:
                log.warning(
                    "hand-off cancelled in-flight reconciles", extra={"shard": shard, "count": cancelled}
                )
        obj = self.shard_lease(shard)
        if obj is None or ShardLease.parse(obj).holder != self.identity:
            return
        try:
            await self._write_shard_lease(
                shard, obj, holder=target, claim=False, handoff={"started": started, "reason": reason}
            )
        except ApiError as exc:
            if not exc.is_conflict:
                raise
            return
        metrics.HANDOFFS.labels(reason).inc()
        log.info(
            "handed off shard",
            extra={
                "fleet": self.fleet,
                "member": self.identity,
                "shard": shard,
                "to": target or "(released)",
                "reason": reason,
                "duration_s": round(time.time() - started, 3),
            },
        )

    async def _lost(self, shard: str, holder: str) -> None:
        """The shard's Lease names someone else while we serve it: stop at once."""
        log.error(
            "shard taken over while serving it; stopping at once",
            extra={"fleet": self.fleet, "member": self.identity, "shard": shard, "holder": holder},
        )
        self.serving.discard(shard)
        await self.host.remove_scope(shard, 0)
        metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(len(self.serving))
        metrics.HANDOFFS.labels("lost").inc()

    async def _hand_off_alone(self, timeout: float) -> None:
        """Shutting down without a coordinator's answer: plan our shards' next holders ourselves."""
        live = self.live_members()
        members = [
            Member(m.identity, m.capacity, draining=m.draining or m.identity == self.identity)
            for m in live.values()
        ]
        shards = [Shard(s, float(self.host.objects(s))) for s in sorted(self.shards)]
        current = {**self.desired_holders(), **{s: self.identity for s in self.serving}}
        holders = plan(members, shards, current, self.spec.pins if self.spec else None).holders
        named_us = {
            s
            for s in self.shards
            if (o := self.shard_lease(s)) and ShardLease.parse(o).holder == self.identity
        }
        moves = [
            self._hand_off(s, holders.get(s) or "", "shutdown")
            for s in sorted(self.serving | named_us)
            if s not in self._busy
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*moves, return_exceptions=True)

    async def _write_shard_lease(
        self,
        shard: str,
        obj: dict[str, Any] | None,
        *,
        holder: str,
        claim: bool,
        handoff: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = micro_time()
        name = shard_lease_name(self.fleet, shard)
        spec: dict[str, Any]
        if obj is None:
            spec = {
                "holderIdentity": holder,
                "leaseDurationSeconds": round(self.timing.duration),
                "acquireTime": now,
                "renewTime": now,
                "leaseTransitions": 0,
            }
            new = lease_object(
                name,
                self.namespace,
                fleet=self.fleet,
                role=ROLE_SHARD,
                spec=spec,
                labels={LABEL_SHARD: shard},
            )
            return await self.client.create(LEASES, new)
        lease = dict(obj)
        metadata = dict(lease["metadata"])
        annotations = {
            k: v
            for k, v in (metadata.get("annotations") or {}).items()
            if k not in (ANNOTATION_HANDOFF_STARTED, ANNOTATION_HANDOFF_REASON)
        }
        if handoff is not None:
            annotations[ANNOTATION_HANDOFF_STARTED] = f"{handoff['started']:.6f}"
            annotations[ANNOTATION_HANDOFF_REASON] = handoff["reason"]
        metadata["annotations"] = annotations
        spec = dict(lease.get("spec") or {})
        if spec.get("holderIdentity") != holder:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec.update(
            {"holderIdentity": holder, "renewTime": now, "leaseDurationSeconds": round(self.timing.duration)}
        )
        if claim:
            spec["acquireTime"] = now
        else:
            spec.pop("acquireTime", None)  # named, not yet claimed
        lease.update({"metadata": metadata, "spec": spec})
        return await self.client.replace(LEASES, lease)  # CAS on resourceVersion

    # -- the coordinator ----------------------------------------------------------------

    async def _coordinate_loop(self) -> None:
        from sparkfleet.sharding.coordinator import Coordinator

        while True:
            elector = LeaderElector(
                self.client, self.namespace, coordinator_lease_name(self.fleet), self.identity, self.timing
            )
            election = asyncio.create_task(elector.run(), name="coordinator election")
            try:
                await elector.leading.wait()
                if self.shutting_down:
                    return
                self.is_coordinator = True
                metrics.IS_COORDINATOR.labels(self.fleet).set(1)
                coordinator = Coordinator(self)
                log.info(
                    "became the fleet's coordinator", extra={"fleet": self.fleet, "member": self.identity}
                )
                while elector.is_leader:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.timing.retry_period):
                            await self.coordinator_wake.wait()
                    self.coordinator_wake.clear()
                    if not elector.is_leader:
                        break
                    try:
                        await coordinator.tick()
                    except REQUEST_ERRORS as exc:
                        log.warning("coordinator pass failed", extra={"fleet": self.fleet, "error": str(exc)})
                log.warning(
                    "no longer the fleet's coordinator", extra={"fleet": self.fleet, "member": self.identity}
                )
            finally:
                self.is_coordinator = False
                metrics.IS_COORDINATOR.labels(self.fleet).set(0)
                election.cancel()  # releases the coordinator Lease if still held
                with contextlib.suppress(asyncio.CancelledError):
                    await election
