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
- The leader renews what it wrote last (client-go's fast path: one request per
  renewal, not a read and a write); a conflict sends it back to reading.
- A candidate given ``cached`` (a watch's copy of the Lease) reads that instead
  of asking the API server every retry period while someone else holds it; it
  asks, or writes, only once the holder looks gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from sparkfleet.kube.client import KubeClient
from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.lease import JITTER, ExpiryClock, LeaseRecord, LeaseTiming, new_lease
from sparkfleet.kube.resources import LEASES
from sparkfleet.kube.timestamps import format_micro_time

__all__ = ["JITTER", "LeaderElector", "LeaseTiming"]

log = logging.getLogger(__name__)


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
        labels: Mapping[str, str] | None = None,
        cached: Callable[[], Mapping[str, Any] | None] | None = None,
    ):
        """``labels`` go on the Lease when this elector creates it (so that a watch selecting
        them sees it, and can be ``cached``). ``cached`` returns the Lease as a watch last saw
        it, or None when it has not (then the API server is asked)."""
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.timing = timing or LeaseTiming()
        self._clock = clock
        self.leading = asyncio.Event()
        self.lost = asyncio.Event()
        self._expiry = ExpiryClock(clock)
        self._lease: LeaseRecord | None = None
        self._last_renew = 0.0
        self._labels = dict(labels or {})
        self._cached = cached

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
        now = format_micro_time()
        mine = self._lease
        if mine is not None and mine.holder == self.identity and mine.version:
            try:  # the fast path: what this elector wrote last, if no one has written since
                return self._renewed(await self.client.replace(LEASES, self._claim(mine, now)))
            except ApiError as exc:
                if not (exc.is_conflict or exc.is_not_found):
                    raise  # else someone wrote, or deleted, the Lease since: read it
        current = self._from_cache()
        if current is not None and self._held_by_another(current):
            return False  # no request: the watch shows a holder that has not expired in our eyes
        try:
            current = LeaseRecord.parse(await self.client.get(LEASES, self.name, self.namespace))
        except ApiError as exc:
            if not exc.is_not_found:
                raise
            body = new_lease(
                self.name,
                self.namespace,
                holder=self.identity,
                duration=self.timing.duration,
                now=now,
                labels=self._labels,
            )
            return self._renewed(await self.client.create(LEASES, body))
        if self._held_by_another(current):
            return False  # someone else holds a lease that has not expired in our eyes
        return self._renewed(await self.client.replace(LEASES, self._claim(current, now)))  # CAS

    def _from_cache(self) -> LeaseRecord | None:
        obj = self._cached() if self._cached is not None else None
        return LeaseRecord.parse(obj) if obj else None

    def _held_by_another(self, current: LeaseRecord) -> bool:
        self._expiry.observe(self.name, current.version)
        return (
            bool(current.holder)
            and current.holder != self.identity
            and not self._expiry.expired(self.name, current.duration)
        )

    def _claim(self, current: LeaseRecord, now: str) -> dict[str, Any]:
        body = current.written(holder=self.identity, duration=self.timing.duration, now=now)
        if self._labels:  # a Lease made before it had them gets them with the next write
            body["metadata"]["labels"] = {**(body["metadata"].get("labels") or {}), **self._labels}
        return body

    def _renewed(self, written: dict[str, Any]) -> bool:
        self._lease = self._observe(written)
        return True

    def _observe(self, obj: dict[str, Any]) -> LeaseRecord:
        record = LeaseRecord.parse(obj)
        self._expiry.observe(self.name, record.version)
        return record

    async def release(self) -> None:
        """Gives the Lease up (empty holder, 1 s duration) so a successor need not wait it out."""
        if self._lease is None or self._lease.holder != self.identity:
            return
        body = self._lease.written(holder="", duration=1, now=format_micro_time(), acquire=False)
        self._lease = LeaseRecord.parse(await self.client.replace(LEASES, body))
        self.leading.clear()
        log.info(
            "released leadership", extra={"lease": f"{self.namespace}/{self.name}", "identity": self.identity}
        )
