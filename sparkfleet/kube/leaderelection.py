"""Leader election on a coordination.k8s.io Lease, with client-go's rules.

- Expiry is judged on this process's monotonic clock from the moment it last
  saw the Lease change, never by comparing the Lease's timestamps with the
  local wall clock (clocks across machines disagree).
- Every write is a compare-and-swap on ``resourceVersion``; a conflict means
  someone else acted first.
- The leader renews every ``retry_period``; if it cannot renew for
  ``renew_deadline`` it steps down (before ``duration`` lets anyone else in).
- On a clean stop the leader releases the Lease, so a successor takes over at
  once instead of after ``duration``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from sparkfleet.kube.client import KubeClient
from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.resources import LEASES

log = logging.getLogger(__name__)

JITTER = 1.2


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


def micro_time(now: datetime.datetime | None = None) -> str:
    """A Kubernetes MicroTime: RFC 3339 with microseconds, UTC."""
    return (now or datetime.datetime.now(datetime.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        name: str,
        identity: str,
        timing: LeaseTiming | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing or LeaseTiming()
        self._clock = clock
        self.leading = asyncio.Event()
        self.lost = asyncio.Event()
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._lease: dict[str, Any] | None = None
        self._last_renew = 0.0

    @property
    def is_leader(self) -> bool:
        return self.leading.is_set() and not self.lost.is_set()

    async def run(self) -> None:
        """Acquires the Lease, then renews it until renewal fails (``lost`` is set) or cancelled."""
        try:
            while not await self._try_acquire_or_renew(self.timing.renew_deadline):  # noqa: ASYNC110 (polls the API)
                await asyncio.sleep(self.timing.retry_period * (1 + (JITTER - 1) * random.random()))
            self._last_renew = self._clock()
            self.leading.set()
            log.info(
                "became leader", extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity}
            )
            while True:
                await asyncio.sleep(self.timing.retry_period)
                remaining = self.timing.renew_deadline - (self._clock() - self._last_renew)
                if await self._try_acquire_or_renew(max(remaining, 0.001)):
                    self._last_renew = self._clock()
                elif self._clock() - self._last_renew >= self.timing.renew_deadline:
                    log.error(
                        "lost leadership: could not renew within the renew deadline",
                        extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity},
                    )
                    self.lost.set()
                    return
        finally:
            if self.leading.is_set() and not self.lost.is_set():
                with contextlib.suppress(ApiError, aiohttp.ClientError, TimeoutError):
                    async with asyncio.timeout(self.timing.renew_deadline):  # never hang a shutdown
                        await asyncio.shield(self.release())

    async def _try_acquire_or_renew(self, timeout: float) -> bool:
        """One attempt, bounded so a hanging connection cannot outlast the renew deadline."""
        try:
            async with asyncio.timeout(timeout):
                return await self._attempt()
        except ApiError as exc:
            if not exc.is_conflict:
                log.warning(
                    "lease request failed",
                    extra={"lease": self.name, "code": exc.status, "error": exc.message},
                )
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("lease request failed", extra={"lease": self.name, "error": repr(exc)})
            return False

    async def _attempt(self) -> bool:
        now_wall = micro_time()
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except ApiError as exc:
            if not exc.is_not_found:
                raise
            self._lease = await self.client.create(
                LEASES,
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": self._spec(now_wall, now_wall, 0),
                },
            )
            self._observe(self._lease["spec"])
            return True
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observe(spec)
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or self.timing.duration)
        if holder and holder != self.identity and self._clock() < self._observed_at + duration:
            return False  # someone else holds a lease that has not expired in our eyes
        if holder == self.identity:
            acquire, transitions = spec.get("acquireTime") or now_wall, int(spec.get("leaseTransitions") or 0)
        else:
            acquire, transitions = now_wall, int(spec.get("leaseTransitions") or 0) + 1
        lease["spec"] = self._spec(acquire, now_wall, transitions)
        self._lease = await self.client.replace(LEASES, lease)  # CAS on resourceVersion
        self._observe(self._lease["spec"])
        return True

    def _spec(self, acquire: str, renew: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.timing.duration),
            "acquireTime": acquire,
            "renewTime": renew,
            "leaseTransitions": transitions,
        }

    def _observe(self, spec: dict[str, Any]) -> None:
        self._observed_spec = dict(spec)
        self._observed_at = self._clock()

    async def release(self) -> None:
        """Gives the Lease up (empty holder, 1 s duration) so a successor need not wait it out."""
        if self._lease is None:
            return
        lease = dict(self._lease)
        spec = dict(lease.get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            return
        spec.update({"holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": micro_time()})
        lease["spec"] = spec
        self._lease = await self.client.replace(LEASES, lease)
        self.leading.clear()
        log.info(
            "released leadership", extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity}
        )
