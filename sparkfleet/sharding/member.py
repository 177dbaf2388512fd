"""One member of a fleet: it renews its Lease, claims and serves shards, and hands them off.

The rules (see the sharding protocol in docs/architecture.md):

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
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import orjson
from pydantic import ValidationError

from sparkfleet.api.base import format_validation_error
from sparkfleet.api.fleet import SPARK_FLEETS, SparkFleet, SparkFleetSpec
from sparkfleet.kube import ApiError, Informer, InformerEvent, KubeClient
from sparkfleet.kube.errors import ignore_not_found
from sparkfleet.kube.informer import EventType
from sparkfleet.kube.leaderelection import LeaderElector, LeaseTiming
from sparkfleet.kube.lease import LeaseRecord, new_lease
from sparkfleet.kube.resources import LEASES
from sparkfleet.kube.scope import Scope
from sparkfleet.kube.timestamps import format_micro_time
from sparkfleet.sharding import metrics
from sparkfleet.sharding.coordinator import Coordinator
from sparkfleet.sharding.leases import (
    ANNOTATION_CAPACITY,
    ANNOTATION_DEFINITION,
    ANNOTATION_DRAINING,
    ANNOTATION_HANDOFF_REASON,
    ANNOTATION_HANDOFF_STARTED,
    ANNOTATION_IDENTITY,
    ANNOTATION_LOAD,
    ANNOTATION_NONCE,
    LABEL_ROLE,
    LABEL_SHARD,
    ROLE_COORDINATOR,
    ROLE_MEMBER,
    ROLE_SHARD,
    ExpiryClock,
    MemberLease,
    ParsedByVersion,
    ShardLease,
    coordinator_lease_name,
    fleet_labels,
    fleet_selector,
    is_member_lease,
    member_lease_name,
    renewed_only,
    shard_lease_name,
)
from sparkfleet.sharding.membercore import (
    Claim,
    Fence,
    HandOff,
    Holding,
    Rescope,
    Stop,
    Unwarm,
    View,
    Warm,
    claim_blockers,
    decide,
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

# The shard loop wakes this long after a member Lease's expiry moment, so that it is past it.
EXPIRY_MARGIN_SECONDS = 0.01

REQUEST_ERRORS = (ApiError, aiohttp.ClientError, TimeoutError)


class FleetUnavailable(Exception):
    """The fleet cannot be joined at all (its CRD is missing, or it cannot be read); the message says why."""


class IdentityInUse(Exception):
    """Another live process holds this member's identity (rule 5: one identity, one process)."""

    def __init__(self, identity: str, lease: str, holder: str, nonce: str, *, running: bool = False):
        self.identity, self.lease, self.holder, self.nonce = identity, lease, holder, nonce
        when = "took it over while this process was running" if running else "is alive"
        super().__init__(
            f"identity {identity!r} is in use: member Lease {lease} is held by {holder!r} "
            f"(process nonce {nonce or '(none)'}), and that process {when}; "
            "give each instance its own --identity"
        )


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
        """Shards not served because another fleet claimed their namespaces first: shard -> why."""
        self._claims: dict[str, tuple[str, FleetClaim | None]] = {}
        # What the last _load_spec compiled from: the fleet's and the other fleets' resourceVersions
        # and the shards served (waiting shards depend on them); the same inputs compile the same.
        self._spec_inputs: tuple[str, tuple[tuple[str, str], ...], frozenset[str]] | None = None
        self._member_parse = ParsedByVersion(MemberLease.parse)
        self._shard_parse = ParsedByVersion(ShardLease.parse)
        self.serving: dict[str, str] = {}
        """Shards served now: name -> the fingerprint of the definition served."""
        self.served_defs: dict[str, ShardDef] = {}  # the definition each served shard was claimed with
        self.warming: dict[str, str] = {}  # shards whose caches are warmed ahead of a hand-off to us
        self.nonce = secrets.token_hex(8)
        """This process: a second process with the same identity carries another nonce."""
        self.evicted: IdentityInUse | None = None
        self.failed = asyncio.Event()
        """Set when this member must stop the process (:attr:`evicted` says why)."""
        self._held_off: dict[str, float] = {}  # shard -> until when a blocked claim is not retried
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
        return self._member_parse.all([obj for obj in self.leases.store.list() if is_member_lease(obj)])

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
        Raises :class:`IdentityInUse` when another live process holds this identity.
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
        await self._claim_identity()
        await self._renew()
        if self.evicted is not None:
            await self.leases.stop()
            await self.fleets.stop()
            raise self.evicted
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
        if self.evicted is not None:  # the identity is another process's now: touch none of its Leases
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.leases.stop()
            await self.fleets.stop()
            return
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
        version = (self._member_lease or {}).get("metadata", {}).get("resourceVersion")
        with contextlib.suppress(*REQUEST_ERRORS):
            async with asyncio.timeout(self.timing.renew_deadline):  # never hang a shutdown
                # only the version we wrote: a Lease another process took over is not ours to delete
                await self.client.delete(
                    LEASES, member_lease_name(self.fleet, self.identity), self.namespace,
                    resource_version=version,
                )  # fmt: skip
        await self.leases.stop()
        await self.fleets.stop()
        metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(0)
        metrics.IS_COORDINATOR.labels(self.fleet).set(0)
        log.info("left the fleet", extra={"fleet": self.fleet, "member": self.identity})

    # -- the spec -------------------------------------------------------------------

    def _load_spec(self) -> None:
        """Validates and compiles the fleet's spec, again only when it or another fleet changed
        (this runs on every wake of the shard loop, several times per retry period)."""
        obj = self.fleet_object
        if obj is None:
            if self.spec is not None:
                log.warning("the fleet is gone; serving nothing", extra={"fleet": self.fleet})
            self.spec, self.shards, self.problems = None, {}, []
            self._spec_inputs = None
            return
        others = self._other_fleets()
        version = str(obj["metadata"].get("resourceVersion") or "")
        inputs = (
            version,
            tuple(sorted((w, v) for w, (v, _) in self._claims.items())),
            frozenset(self.serving),
        )
        if version and inputs == self._spec_inputs:
            return
        self._spec_inputs = inputs
        try:
            fleet = SparkFleet.model_validate(obj)
        except ValidationError as exc:
            self.problems = [Problem("", format_validation_error(exc))]
            return  # keep the last valid spec
        shards, problems = compile_shards(fleet.spec, named_elsewhere(others))
        self.problems = problems
        if not problems:
            self.spec = fleet.spec
            refused = {
                **waiting_shards(fleet.spec, claim_order(obj), others, set(self.serving)),
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

    async def _claim_identity(self) -> None:
        """Rule 5: refuses to start while another live process holds this identity's member Lease.

        A Lease with another nonce is watched (quorum reads, on this process's clock): if it
        changes within its duration its process is alive and :class:`IdentityInUse` is raised;
        if it does not, its process is gone (crashed) and this one takes the Lease over.
        """
        name = member_lease_name(self.fleet, self.identity)
        first_seen: float | None = None
        version = ""
        while True:
            try:
                obj = await self.client.get(LEASES, name, self.namespace)
            except ApiError as exc:
                if exc.is_not_found:
                    self._member_lease = None
                    return
                raise
            record = LeaseRecord.parse(obj)
            theirs = MemberLease.parse(obj)
            if not record.holder or theirs.nonce == self.nonce:
                self._member_lease = obj
                return
            if first_seen is None:
                first_seen, version = self.clock(), record.version
                log.warning(
                    "another process holds this identity's member Lease; watching whether it is alive",
                    extra={"fleet": self.fleet, "member": self.identity, "lease": f"{self.namespace}/{name}",
                           "nonce": theirs.nonce, "duration_s": record.duration},
                )  # fmt: skip
            elif record.version != version:
                raise IdentityInUse(self.identity, f"{self.namespace}/{name}", record.holder, theirs.nonce)
            elif self.clock() - first_seen >= record.duration:
                log.warning(
                    "taking over the member Lease of a process that stopped renewing it",
                    extra={"fleet": self.fleet, "member": self.identity, "lease": f"{self.namespace}/{name}",
                           "nonce": theirs.nonce},
                )  # fmt: skip
                self._member_lease = obj
                return
            await asyncio.sleep(self.timing.retry_period)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.timing.retry_period)
            await self._renew()

    async def _renew(self) -> None:
        async with self._renew_lock:  # the loop and shutdown both renew; one write at a time
            await self._renew_once()

    async def _renew_once(self) -> None:
        if self.evicted is not None:
            return
        started = self.clock()
        budget = self.timing.renew_deadline
        if self._last_renew is not None:
            budget = max(0.1, self._last_renew + self.timing.renew_deadline - started)
        try:
            async with asyncio.timeout(budget):
                await self._write_member_lease()
        except IdentityInUse as exc:
            self._evict(exc)
            return
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
            with ignore_not_found():
                self._member_lease = await self.client.get(LEASES, name, self.namespace)
            if self._member_lease is not None:
                theirs = MemberLease.parse(self._member_lease)
                if theirs.holder and theirs.nonce != self.nonce:
                    where = f"{self.namespace}/{name}"
                    self._member_lease = None
                    raise IdentityInUse(self.identity, where, theirs.holder, theirs.nonce, running=True)
        now = format_micro_time()
        annotations = {
            ANNOTATION_IDENTITY: self.identity,
            ANNOTATION_NONCE: self.nonce,
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
            body = new_lease(
                name, self.namespace, holder=self.identity, duration=self.timing.duration, now=now,
                labels=fleet_labels(self.fleet, ROLE_MEMBER), annotations=annotations,
            )  # fmt: skip
            self._member_lease = await self.client.create(LEASES, body)
            return
        body = LeaseRecord.parse(self._member_lease).written(
            holder=self.identity, duration=self.timing.duration, now=now, annotations=annotations
        )
        self._member_lease = await self.client.replace(LEASES, body)  # CAS on resourceVersion

    def _fence(self) -> None:
        """Could not renew in time: stop every shard at once; claim them anew once renewed.

        Their caches stay, gates closed, as if warmed for a hand-off: a member starved of CPU
        that missed its deadline would otherwise list everything again the moment it renews,
        and miss the next deadline doing so.
        """
        self.fenced = True
        self._epoch += 1
        self.host.drop_all()
        for task in self._busy.values():
            task.cancel()
        lost = sorted(self.serving)
        self.warming.update(self.serving)
        self.serving.clear()
        metrics.FENCED.inc()
        metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(0)
        log.error(
            "could not renew the member lease within the renew deadline: stopped every shard",
            extra={"fleet": self.fleet, "member": self.identity, "shards": ",".join(lost)},
        )

    def _evict(self, exc: IdentityInUse) -> None:
        """Another process holds this identity now: stop every shard at once and never serve again."""
        if not self.fenced:
            self._fence()
        self.evicted = exc
        log.error(str(exc), extra={"fleet": self.fleet, "member": self.identity, "holder_nonce": exc.nonce})
        self.failed.set()

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
        renewal = event.type is EventType.MODIFIED and renewed_only(event.old, event.obj)
        if renewal and name == coordinator_lease_name(self.fleet):
            return  # the coordinator's renewal: its elector reads the cache when it needs to
        if renewal:
            # A renewal: news for the coordinator (liveness, loads), none for the shard loop, which
            # wakes by itself when a member it has seen alive could expire (see _shard_wait). Waking
            # every member on every member's renewal cost each member N wakes per retry period.
            self.coordinator_wake.set()
            return
        self._wake_all()

    def _shard_wait(self) -> float:
        """How long the shard loop may sleep: a retry period, or less when a member Lease seen alive
        could expire sooner (a holder gone is then noticed the moment it is gone, not later)."""
        waits = [
            member.duration - age
            for member in self.member_leases()
            if member.holder
            and member.identity != self.identity
            and (age := self.expiry.age(member.name)) is not None
            and age < member.duration
        ]
        return min([self.timing.retry_period, *(wait + EXPIRY_MARGIN_SECONDS for wait in waits)])

    async def _shard_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._shard_wait()):
                    await self._shard_wake.wait()
            self._shard_wake.clear()
            self._load_spec()
            if self.evicted is None:
                self._act()

    def shard_holdings(self) -> dict[str, Holding]:
        """Every shard Lease of the fleet in the cache, by shard."""
        return self._holdings(
            [
                obj
                for obj in self.leases.store.list()
                if (obj["metadata"].get("labels") or {}).get(LABEL_ROLE) == ROLE_SHARD
            ]
        )

    def _holdings(self, shard_leases: list[dict[str, Any]]) -> dict[str, Holding]:
        """``shard_leases`` (from the cache or a quorum list) by shard."""
        return {
            lease.shard: Holding(lease.holder, lease.acquired, lease.definition)
            for lease in self._shard_parse.all(shard_leases)
        }

    def _gone(self, holders: set[str]) -> frozenset[str]:
        """The holders whose member Lease is released, or expired as this member judges it."""
        gone = set()
        for holder in holders:
            member_name = member_lease_name(self.fleet, holder)
            obj = self.leases.store.get(f"{self.namespace}/{member_name}")
            if obj is None:
                if self.expiry.age(member_name) is None:
                    self.expiry.observe_absent(member_name)  # never seen: its absence counts from now
                if self.expiry.expired(member_name, self.timing.duration):
                    gone.add(holder)
                continue
            member = self._member_parse(obj)
            if not member.holder or self.expiry.expired(member_name, member.duration):
                gone.add(holder)
        return frozenset(gone)

    def view(self) -> View:
        """What :func:`membercore.decide` decides from: the caches and this member's own state."""
        leases = self.shard_holdings()
        live = self.live_members()
        now = self.clock()
        held_off = {name for name, until in self._held_off.items() if until > now}
        spec = self.spec
        return View(
            identity=self.identity,
            fresh=self.fresh,
            shards={name: shard.fingerprint for name, shard in self.shards.items()},
            leases=leases,
            desired=self.desired_holders(),
            live={identity: m.draining for identity, m in live.items()},
            gone=self._gone({h.holder for h in leases.values() if h.holder and h.holder != self.identity}),
            serving=dict(self.serving),
            warming=dict(self.warming),
            busy=frozenset(self._busy) | held_off,
            shutting_down=self.shutting_down,
            drained=frozenset(spec.drain or []) if spec else frozenset(),
            pins=dict(spec.pins or {}) if spec else {},
        )

    def _act(self) -> None:
        """Carries out what the core decides (one task per shard at a time)."""
        view = self.view()
        for action in decide(view):
            match action:
                case Fence():
                    self._fence()
                    return
                case Claim(shard=name, reason=why):
                    self._spawn(name, self._claim(self.shards[name], why))
                case HandOff(shard=name, to=target, reason=why):
                    self._spawn(name, self._hand_off(name, target, why))
                case Rescope(shard=name, definition=definition):
                    self._spawn(name, self._rescope(name, definition))
                case Stop(shard=name, holder=holder):
                    self._spawn(name, self._lost(name, holder))
                case Warm(shard=name, definition=definition):
                    self.warming[name] = (
                        definition  # on its way to us: warm the caches while the holder drains
                    )
                    self.host.prepare_scope(self.shards[name].scope)
                case Unwarm(shard=name):
                    self.warming.pop(name, None)
                    self._spawn(name, self.host.unprepare_scope(name))
        metrics.MEMBERS.labels(self.fleet).set(len(view.live))

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

    async def _claim(self, shard: ShardDef, reason: str) -> None:
        epoch = self._epoch
        obj = self.shard_lease(shard.name)
        previous = ShardLease.parse(obj) if obj is not None else None
        if reason == "failover" and previous is not None and not await self._still_expired(previous.holder):
            return
        definition = shard.fingerprint
        try:
            await self._write_shard_lease(
                shard.name, obj, holder=self.identity, acquire=True, definition=definition
            )
        except ApiError as exc:
            if exc.is_conflict or exc.is_not_found:
                return  # someone acted first; the cache will show what happened
            raise
        if epoch != self._epoch or not self.fresh:
            return  # fenced meanwhile: claim again once renewed
        # Rule 4, confirmed with a quorum read now that our claim is written: of two members
        # claiming under different definitions, the later one sees the earlier one's Lease.
        blockers = await self._quorum_barrier(shard.name, definition)
        if blockers == [shard.name]:
            log.info(
                "not serving a claimed shard: the fleet's spec changed during the claim",
                extra={"fleet": self.fleet, "member": self.identity, "shard": shard.name},
            )
            return  # the next pass rescopes it, or hands it back if the spec has no such shard
        if blockers:
            self._held_off[shard.name] = self.clock() + self.timing.retry_period
            log.info(
                "waiting to serve a shard: other shards are still served under an old definition",
                extra={"fleet": self.fleet, "member": self.identity, "shard": shard.name,
                       "waiting_for": ",".join(blockers)},
            )  # fmt: skip
            return
        if epoch != self._epoch or not self.fresh:
            return
        await self.host.add_scope(shard.scope)
        if epoch != self._epoch or not self.fresh or self.shutting_down:
            await self.host.remove_scope(shard.name, 0)
            return
        self.serving[shard.name] = definition
        self.served_defs[shard.name] = shard
        self.warming.pop(shard.name, None)
        metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(len(self.serving))
        if reason in ("handoff", "failover"):
            metrics.HANDOFFS.labels(reason if reason == "failover" else "takeover").inc()
        extra: dict[str, Any] = {
            "fleet": self.fleet,
            "member": self.identity,
            "shard": shard.name,
            "reason": reason,
            "definition": definition,
        }
        if previous is not None and previous.handoff_started is not None and reason == "handoff":
            took = max(
                0.0, time.time() - previous.handoff_started
            )  # wall clocks of two members: a metric only
            metrics.HANDOFF_DURATION.observe(took)
            extra["handoff_s"] = round(took, 3)
        log.info("serving shard", extra=extra)

    async def _quorum_barrier(self, shard: str, definition: str) -> list[str]:
        """The shards that keep our claim of ``shard`` (under ``definition``) from being served, judged
        on a fresh (quorum) list of the Leases and the spec as it is now."""
        items, _ = await self.client.list_all(
            LEASES, self.namespace, label_selector=f"{fleet_selector(self.fleet)},{LABEL_ROLE}={ROLE_SHARD}"
        )
        leases = self._holdings(items)
        shards = {name: s.fingerprint for name, s in self.shards.items()}
        live = {identity: m.draining for identity, m in self.live_members().items()}
        return claim_blockers(self.identity, shards, leases, live, dict(self.serving), shard, definition)

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

    async def _rescope(self, shard: str, definition: str) -> None:
        """The shard's definition changed: stop the old scope (bounded), then record the new one on the Lease.

        Serving the new scope is a claim of its own, which waits for the fleet-wide barrier.
        """
        await self._stop_serving(shard, "re-scope")
        if shard in self.warming:
            self.warming.pop(shard, None)
            await self.host.unprepare_scope(shard)
        obj = self.shard_lease(shard)
        if obj is None or ShardLease.parse(obj).holder != self.identity:
            return
        try:
            await self._write_shard_lease(
                shard, obj, holder=self.identity, acquire=None, definition=definition
            )
        except ApiError as exc:
            if not exc.is_conflict:
                raise
            return
        log.info(
            "shard definition changed: stopped the old scope",
            extra={"fleet": self.fleet, "member": self.identity, "shard": shard, "definition": definition},
        )

    async def _stop_serving(self, shard: str, why: str) -> None:
        """Closes ``shard``'s scope if served: in-flight reconciles finish (bounded), then are cancelled."""
        if shard not in self.serving:
            return
        cancelled = await self.host.remove_scope(shard, self.handoff_timeout)
        self.serving.pop(shard, None)
        metrics.SHARDS_HELD.labels(self.fleet, self.identity).set(len(self.serving))
        if cancelled:
            log.warning(f"{why} cancelled in-flight reconciles", extra={"shard": shard, "count": cancelled})

    async def _hand_off(self, shard: str, target: str, reason: str) -> None:
        """Stops serving ``shard`` (in-flight reconciles finish, bounded), then names ``target`` holder."""
        started = time.time()
        await self._stop_serving(shard, "hand-off")
        obj = self.shard_lease(shard)
        if obj is None or ShardLease.parse(obj).holder != self.identity:
            return
        try:
            await self._write_shard_lease(
                shard, obj, holder=target, acquire=False, handoff={"started": started, "reason": reason}
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
        self.serving.pop(shard, None)
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
        named_us = {s for s, h in self.shard_holdings().items() if h.holder == self.identity}
        moves = [
            self._hand_off(s, holders.get(s) or "", "shutdown")
            for s in sorted(set(self.serving) | named_us)
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
        acquire: bool | None,
        definition: str | None = None,
        handoff: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = format_micro_time()
        annotations = {}
        if definition is not None:
            annotations[ANNOTATION_DEFINITION] = definition
        if handoff is not None:
            annotations[ANNOTATION_HANDOFF_STARTED] = f"{handoff['started']:.6f}"
            annotations[ANNOTATION_HANDOFF_REASON] = handoff["reason"]
        if obj is None:
            body = new_lease(
                shard_lease_name(self.fleet, shard), self.namespace, holder=holder,
                duration=self.timing.duration, now=now, acquired=acquire is not False,
                labels=fleet_labels(self.fleet, ROLE_SHARD, {LABEL_SHARD: shard}), annotations=annotations,
            )  # fmt: skip
            return await self.client.create(LEASES, body)
        body = LeaseRecord.parse(obj).written(
            holder=holder,
            duration=self.timing.duration,
            now=now,
            acquire=acquire,
            annotations=annotations,
            drop=(ANNOTATION_HANDOFF_STARTED, ANNOTATION_HANDOFF_REASON),
        )
        return await self.client.replace(LEASES, body)  # CAS on resourceVersion

    # -- the coordinator's view -----------------------------------------------------------

    @property
    def shard_names(self) -> list[str]:
        return sorted(self.shards)

    def shard_leases(self) -> dict[str, ShardLease]:
        leases = {}
        for name in self.shards:
            obj = self.shard_lease(name)
            if obj is not None:
                leases[name] = self._shard_parse(obj)
        return leases

    def members(self) -> list[tuple[MemberLease, bool]]:
        return [(m, self.is_alive(m)) for m in self.member_leases()]

    def other_fleet_objects(self) -> list[dict[str, Any]]:
        return [
            obj
            for obj in self.fleets.store.list()
            if not (
                obj["metadata"]["name"] == self.fleet and obj["metadata"].get("namespace") == self.namespace
            )
        ]

    def lease_age(self, name: str) -> float | None:
        return self.expiry.age(name)

    def lease_annotations(self, name: str) -> dict[str, str]:
        obj = self.leases.store.get(f"{self.namespace}/{name}") or {}
        return dict((obj.get("metadata") or {}).get("annotations") or {})

    def _coordinator_lease(self) -> dict[str, Any] | None:
        """The coordinator Lease as the watch last saw it (labelled, so watched, once this version
        of the member created it)."""
        return self.leases.store.get(f"{self.namespace}/{coordinator_lease_name(self.fleet)}")

    async def _coordinate_loop(self) -> None:
        while True:
            name = coordinator_lease_name(self.fleet)
            elector = LeaderElector(
                self.client,
                self.namespace,
                name,
                self.identity,
                self.timing,
                labels=fleet_labels(self.fleet, ROLE_COORDINATOR),
                cached=self._coordinator_lease,
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
