"""The fleet's Leases: names, labels, what they say, and expiry as an observer judges it.

All live in the fleet's namespace, labelled ``sparkfleet.io/fleet=<fleet>``:

- ``<fleet>-member-<identity>``: one per instance, renewed every retry
  period; its annotations carry the member's capacity, whether it is
  draining, and its load (objects and queued keys per shard held);
- ``<fleet>-shard-<shard>``: ``holderIdentity`` is the member that reconciles
  the shard; written only when the shard changes hands;
- ``<fleet>-coordinator``: the elected coordinator (leader election).

Expiry is judged on the observer's monotonic clock from the moment it last
saw the Lease change (:class:`ExpiryClock`), never from the timestamps in
the Lease, so clocks of different machines never need to agree.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from sparkfleet.kube.lease import ExpiryClock, LeaseRecord

__all__ = ["ExpiryClock", "LeaseRecord"]  # the shared record and clock, re-exported for the fleet's users

LABEL_FLEET = "sparkfleet.io/fleet"
LABEL_ROLE = "sparkfleet.io/role"
LABEL_SHARD = "sparkfleet.io/shard"
ANNOTATION_IDENTITY = "sparkfleet.io/identity"
ANNOTATION_CAPACITY = "sparkfleet.io/capacity"
ANNOTATION_DRAINING = "sparkfleet.io/draining"
ANNOTATION_LOAD = "sparkfleet.io/load"
ANNOTATION_HANDOFF_STARTED = "sparkfleet.io/handoff-started"
ANNOTATION_HANDOFF_REASON = "sparkfleet.io/handoff-reason"
ANNOTATION_NONCE = "sparkfleet.io/nonce"  # on a member Lease: the process that holds the identity
ANNOTATION_DEFINITION = "sparkfleet.io/definition"  # on a shard Lease: the fingerprint its holder serves
ANNOTATION_REBALANCE = "sparkfleet.io/rebalance"  # on the SparkFleet: a rebalance request

ROLE_MEMBER = "member"
ROLE_SHARD = "shard"
ROLE_COORDINATOR = "coordinator"

_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def dns_part(text: str, limit: int = 63) -> str:
    """``text`` as a DNS label fragment; long or altered names keep a short hash so they stay distinct."""
    clean = _NOT_DNS.sub("-", text.lower()).strip("-")
    if clean and clean == text and len(clean) <= limit:
        return clean
    digest = hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
    prefix = clean[: limit - 9].strip("-")
    return f"{prefix}-{digest}" if prefix else digest


def is_member_lease(lease: dict[str, Any]) -> bool:
    return (lease["metadata"].get("labels") or {}).get(LABEL_ROLE) == ROLE_MEMBER


def member_lease_name(fleet: str, identity: str) -> str:
    return f"{fleet}-member-{dns_part(identity)}"


def shard_lease_name(fleet: str, shard: str) -> str:
    return f"{fleet}-shard-{shard}"


def coordinator_lease_name(fleet: str) -> str:
    return f"{fleet}-coordinator"


def fleet_selector(fleet: str) -> str:
    return f"{LABEL_FLEET}={fleet}"


T = TypeVar("T")


class ParsedByVersion(Generic[T]):
    """Parses each object (a Lease, a SparkFleet) once per resourceVersion.

    A member looks at every Lease of its fleet on every wake, and each member renews every retry
    period, so most wakes change one Lease of many: parsing them all again each time was a sixth
    of an idle member's CPU. :meth:`all` parses a whole listing and keeps only its objects, so the
    cache stays the size of what it is given.
    """

    def __init__(self, parse: Callable[[dict[str, Any]], T]) -> None:
        self._parse = parse
        self._parsed: dict[str, tuple[str, T]] = {}

    @staticmethod
    def _key(obj: dict[str, Any]) -> str:
        meta = obj.get("metadata") or {}
        return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"

    def __call__(self, obj: dict[str, Any]) -> T:
        key, version = self._key(obj), (obj.get("metadata") or {}).get("resourceVersion")
        hit = self._parsed.get(key)
        if hit is not None and version and hit[0] == version:
            return hit[1]
        value = self._parse(obj)
        if version:
            self._parsed[key] = (version, value)
        return value

    def all(self, objs: list[dict[str, Any]]) -> list[T]:
        """``objs`` parsed, in order; the cache keeps these objects only."""
        values = [self(obj) for obj in objs]
        if len(self._parsed) > len(objs):
            keys = {self._key(obj) for obj in objs}
            self._parsed = {key: hit for key, hit in self._parsed.items() if key in keys}
        return values


@dataclass(frozen=True, slots=True)
class ShardLoad:
    objects: int = 0
    queued: int = 0


@dataclass(frozen=True, slots=True)
class MemberLease:
    """A member as its Lease describes it."""

    name: str
    identity: str
    holder: str
    capacity: float
    draining: bool
    load: dict[str, ShardLoad]
    renew_time: str | None
    duration: float
    nonce: str = ""

    @classmethod
    def parse(cls, lease: dict[str, Any]) -> MemberLease:
        record = LeaseRecord.parse(lease)
        annotations = record.annotations
        try:
            capacity = float(annotations.get(ANNOTATION_CAPACITY) or 1.0)
        except ValueError:
            capacity = 1.0
        try:
            raw_load = orjson.loads(annotations.get(ANNOTATION_LOAD) or "{}")
            load = {
                str(k): ShardLoad(int(v.get("objects", 0)), int(v.get("queued", 0)))
                for k, v in raw_load.items()
            }
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            load = {}
        return cls(
            name=record.name,
            identity=annotations.get(ANNOTATION_IDENTITY) or record.holder or record.name,
            holder=record.holder,
            capacity=capacity if math.isfinite(capacity) and capacity > 0 else 1.0,
            draining=annotations.get(ANNOTATION_DRAINING) == "true",
            load=load,
            renew_time=record.renew_time,
            duration=record.duration,
            nonce=annotations.get(ANNOTATION_NONCE) or "",
        )


@dataclass(frozen=True, slots=True)
class ShardLease:
    name: str
    shard: str
    holder: str
    acquire_time: str | None
    transitions: int
    handoff_started: float | None
    definition: str = ""
    """The fingerprint of the shard definition its holder serves (or claimed it for)."""

    @classmethod
    def parse(cls, lease: dict[str, Any]) -> ShardLease:
        record = LeaseRecord.parse(lease)
        annotations = record.annotations
        try:
            started: float | None = float(annotations.get(ANNOTATION_HANDOFF_STARTED) or "")
        except ValueError:
            started = None  # absent, or edited by hand: the hand-off is just not timed
        return cls(
            name=record.name,
            shard=record.labels.get(LABEL_SHARD) or record.name,
            holder=record.holder,
            acquire_time=record.acquire_time,
            transitions=record.transitions,
            handoff_started=started if started is not None and math.isfinite(started) else None,
            definition=annotations.get(ANNOTATION_DEFINITION) or "",
        )

    @property
    def acquired(self) -> bool:
        return bool(self.holder) and self.acquire_time is not None


def fleet_labels(fleet: str, role: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The labels of a fleet's Lease: its fleet, its role, and ``extra``."""
    return {LABEL_FLEET: fleet, LABEL_ROLE: role, **(extra or {})}


def lease_object(
    name: str,
    namespace: str,
    *,
    fleet: str,
    role: str,
    spec: dict[str, Any],
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": fleet_labels(fleet, role, labels),
            **({"annotations": annotations} if annotations else {}),
        },
        "spec": spec,
    }


def renewed_only(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    """Whether a Lease's change is a renewal and nothing else: only ``spec.renewTime`` moved (and,
    on a member Lease, the load it reports). Holder, duration, transitions, labels, the nonce and
    the draining and capacity annotations are unchanged: no decision of a member's shard loop can
    depend on it (expiry is judged on time, by the observer's clock)."""
    if old is None:
        return False
    if _without(old.get("spec"), "renewTime") != _without(new.get("spec"), "renewTime"):
        return False
    before, after = old["metadata"], new["metadata"]
    if (before.get("labels") or {}) != (after.get("labels") or {}):
        return False
    return _without(before.get("annotations"), ANNOTATION_LOAD) == _without(
        after.get("annotations"), ANNOTATION_LOAD
    )


def _without(fields: dict[str, Any] | None, key: str) -> dict[str, Any]:
    return {k: v for k, v in (fields or {}).items() if k != key}
