"""One coordination.k8s.io Lease record: parse, spec, compare-and-swap write body, expiry.

Every Lease the project writes (the leader elector's, and a fleet's member,
shard and coordinator Leases) goes through :class:`LeaseRecord`:

- :meth:`LeaseRecord.parse` reads what a Lease says;
- :func:`new_lease` is the body of a create, :meth:`LeaseRecord.written` the
  body of a replace that keeps ``metadata.resourceVersion``, so the write is a
  compare-and-swap (409 when someone else wrote first: re-read, never
  overwrite);
- :class:`ExpiryClock` judges expiry on the observer's monotonic clock from
  the moment it last saw the Lease change, never from the timestamps in it.

Pure (no I/O); the clock is injected.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_DURATION = 15.0


def lease_spec(
    holder: str, duration: float, acquire: str | None, renew: str, transitions: int
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "holderIdentity": holder,
        "leaseDurationSeconds": max(1, round(duration)),
        "renewTime": renew,
        "leaseTransitions": transitions,
    }
    if acquire is not None:
        spec["acquireTime"] = acquire
    return spec


def new_lease(
    name: str,
    namespace: str,
    *,
    holder: str,
    duration: float,
    now: str,
    acquired: bool = True,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The body of a create: a Lease naming ``holder`` (acquired now unless ``acquired`` is False)."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": lease_spec(holder, duration, now if acquired else None, now, 0),
    }


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """What one Lease says, with the object it was read from (for the next compare-and-swap)."""

    name: str
    namespace: str
    version: str
    """``metadata.resourceVersion`` ("" for a body never written)."""
    holder: str
    duration: float
    acquire_time: str | None
    renew_time: str | None
    transitions: int
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    obj: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, obj: Mapping[str, Any], default_duration: float = DEFAULT_DURATION) -> LeaseRecord:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        try:
            duration = float(spec.get("leaseDurationSeconds") or default_duration)
        except (TypeError, ValueError):
            duration = default_duration
        try:
            transitions = int(spec.get("leaseTransitions") or 0)
        except (TypeError, ValueError):
            transitions = 0
        return cls(
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
            version=str(meta.get("resourceVersion") or ""),
            holder=str(spec.get("holderIdentity") or ""),
            duration=duration if duration > 0 else default_duration,
            acquire_time=spec.get("acquireTime") or None,
            renew_time=spec.get("renewTime") or None,
            transitions=transitions,
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            obj=obj,
        )

    @property
    def acquired(self) -> bool:
        """Held and claimed: a Lease named to a holder that has not claimed it yet has no acquireTime."""
        return bool(self.holder) and self.acquire_time is not None

    def written(
        self,
        *,
        holder: str,
        duration: float,
        now: str,
        acquire: bool | None = None,
        annotations: Mapping[str, str] | None = None,
        drop: Iterable[str] = (),
    ) -> dict[str, Any]:
        """The body of a compare-and-swap replace: this record's object, now naming ``holder``.

        ``acquire``: True stamps ``acquireTime`` now, False removes it (named, not claimed),
        None keeps it unless the holder changes (then it is stamped now). A new holder
        (not a release) counts one more transition. ``annotations`` are merged in after ``drop``
        removed the listed keys.
        """
        body = copy.deepcopy(dict(self.obj))
        metadata = dict(body.get("metadata") or {})
        merged = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in set(drop)}
        merged.update(annotations or {})
        metadata["annotations"] = merged
        changed = holder != self.holder
        taken = changed and bool(holder)  # a release is not a transition; the next holder's take is
        if acquire is True or (acquire is None and changed):
            acquire_time: str | None = now
        elif acquire is False:
            acquire_time = None
        else:
            acquire_time = self.acquire_time
        body["metadata"] = metadata
        body["spec"] = lease_spec(holder, duration, acquire_time, now, self.transitions + (1 if taken else 0))
        return body


class ExpiryClock:
    """When each Lease was last seen to change, on this process's monotonic clock.

    :meth:`observe` is called with every version seen; :meth:`expired` says
    whether ``duration`` has passed since the last change. A Lease seen to
    vanish is tracked from the moment it vanished.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._seen: dict[str, tuple[str, float]] = {}  # name -> (resourceVersion, when it changed)

    def observe(self, name: str, version: str) -> None:
        current = self._seen.get(name)
        if current is None or current[0] != version:
            self._seen[name] = (version, self._clock())

    def observe_absent(self, name: str) -> None:
        self.observe(name, "")

    def age(self, name: str) -> float | None:
        """Seconds since ``name`` last changed; None if never seen."""
        current = self._seen.get(name)
        return None if current is None else self._clock() - current[1]

    def version(self, name: str) -> str | None:
        """The version last observed ("" for absent), or None if never seen."""
        current = self._seen.get(name)
        return None if current is None else current[0]

    def expired(self, name: str, duration: float) -> bool:
        age = self.age(name)
        return age is not None and age >= duration

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)


JITTER = 1.2  # a retry waits up to this many retry periods (client-go's jitter factor)


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """``--leader-election-lease-duration`` / ``-renew-deadline`` / ``-retry-period`` (15/10/2 s)."""

    duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.duration > self.renew_deadline:
            raise ValueError(
                f"lease duration ({self.duration}s) must be greater than the renew deadline "
                f"({self.renew_deadline}s)"
            )
        if not self.renew_deadline > JITTER * self.retry_period:
            raise ValueError(
                f"renew deadline ({self.renew_deadline}s) must be greater than {JITTER} x the retry period "
                f"({self.retry_period}s)"
            )
        if self.retry_period <= 0:
            raise ValueError("retry period must be positive")
