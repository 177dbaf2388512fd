"""A controller: informers -> event handlers -> a work queue -> N concurrent workers -> reconcile.

The semantics are controller-runtime's. Event handlers map an informer event
to work-queue keys (a pod event maps to the application that owns it); the
queue collapses repeated keys and never hands one key to two workers; each
worker calls ``reconcile(key)``, which answers done, requeue, requeue after a
delay, or raises, and the controller requeues with the rate limiter's
backoff. Stopping stops taking new work and lets in-flight reconciles finish,
bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Generic, TypeVar

from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.informer import Informer, InformerEvent
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.operator import metrics
from sparkfleet.operator.ratelimiters import RateLimiter, default_controller_rate_limiter
from sparkfleet.operator.workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Result:
    """What a reconcile asks for next: nothing, a rate-limited retry, or another look later."""

    requeue: bool = False
    requeue_after: float | None = None


DONE = Result()

K = TypeVar("K", bound=Hashable)  # a work-queue key: ``namespace/name``, or a NamespacedName
Reconcile = Callable[[K], Awaitable[Result | None]]
KeyMapper = Callable[[InformerEvent], Iterable[K]]
# Seconds to hold back the key an event maps to (None: queue it now); see Controller.handler.
KeyDelay = Callable[[InformerEvent, K], float | None]


def own_key(event: InformerEvent) -> Iterable[str]:
    """The event's own object: ``namespace/name``."""
    return (event.key,)


def own_name(event: InformerEvent) -> Iterable[NamespacedName]:
    """The event's own object, as a typed key."""
    return (NamespacedName.of(event.obj),)


class Controller(Generic[K]):
    def __init__(
        self,
        name: str,
        reconcile: Reconcile[K],
        *,
        concurrent_syncs: int = 10,
        rate_limiter: RateLimiter[Any] | None = None,  # keyed by any hashable (see ratelimiters)
        slow_reconcile_seconds: float = 1.0,
    ):
        if concurrent_syncs < 1:
            raise ValueError(f"--concurrent-syncs must be at least 1; got {concurrent_syncs}")
        self.name = name
        self.reconcile = reconcile
        self.concurrent_syncs = concurrent_syncs
        self.slow_reconcile_seconds = slow_reconcile_seconds
        self.queue: WorkQueue[K] = WorkQueue(
            name, rate_limiter or default_controller_rate_limiter(), controller=name
        )
        self.informers: list[Informer] = []
        self._workers: list[asyncio.Task[None]] = []
        self._started = False
        metrics.MAX_CONCURRENT_RECONCILES.labels(name).set(concurrent_syncs)
        metrics.ACTIVE_WORKERS.labels(name).set(0)

    def watch(
        self,
        informer: Informer,
        mapper: KeyMapper[K] = own_key,  # type: ignore[assignment]  # the default for string keys
        *,
        urgent: bool | Callable[[K], bool] = False,
    ) -> None:
        """Queues the keys ``mapper`` derives from each event of ``informer``; ``urgent`` (for every
        key, or those it says yes to) puts them ahead of the others (see :meth:`WorkQueue.add`).
        The informer is started and stopped with the controller."""
        informer.add_handler(self.handler(mapper, urgent=urgent))
        if informer not in self.informers:
            self.informers.append(informer)

    def handler(
        self,
        mapper: KeyMapper[K],
        *,
        urgent: bool | Callable[[K], bool] = False,
        delay: KeyDelay[K] | None = None,
    ) -> Callable[[InformerEvent], None]:
        """The event handler that queues what ``mapper`` derives (as :meth:`watch`), for an informer
        whose life the caller manages (one shared by several controllers). ``delay`` may hold a
        key's event back: seconds, or None to queue it now."""

        def handler(event: InformerEvent) -> None:
            for key in mapper(event):
                wait = delay(event, key) if delay is not None else None
                if wait is not None and wait > 0:
                    self.queue.add_after(key, wait)
                else:
                    self.queue.add(key, urgent=urgent(key) if callable(urgent) else urgent)

        return handler

    @property
    def has_synced(self) -> bool:
        return all(i.has_synced for i in self.informers)

    async def start(self, sync_timeout: float | None = None, *, managed_informers: int = 0) -> None:
        """Starts the informers, waits for their caches, then starts the workers; the caller's own
        ``managed_informers`` (started and synced by it) are counted in the log line."""
        if self._started:
            return
        self._started = True
        for informer in self.informers:
            informer.start()
        async with asyncio.timeout(sync_timeout):
            await asyncio.gather(*(i.synced.wait() for i in self.informers))
        self._workers = [
            asyncio.create_task(self._work(), name=f"{self.name} worker {i}")
            for i in range(self.concurrent_syncs)
        ]
        log.info(
            "controller started",
            extra={
                "controller": self.name,
                "workers": self.concurrent_syncs,
                "informers": len(self.informers) + managed_informers,
            },
        )

    async def stop(self, timeout: float = 30.0) -> None:
        """Stops taking work, lets in-flight reconciles finish (up to ``timeout``), stops informers."""
        self.queue.shutdown()
        if not await self.queue.drain(timeout):
            log.warning(
                "in-flight reconciles did not finish in time; cancelling",
                extra={"controller": self.name, "timeout_s": timeout},
            )
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers.clear()
        for informer in self.informers:
            await informer.stop()
        self._started = False

    async def _work(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            await self._process(key)

    def _failed(self, key: K, exc: Exception) -> str:
        metrics.RECONCILE_ERRORS.labels(self.name).inc()
        log.error(
            "reconcile failed",
            exc_info=not isinstance(exc, ApiError),  # an API answer's message says it all
            extra={"controller": self.name, "key": str(key), "error": str(exc)},
        )
        self.queue.add_rate_limited(key)
        return "error"

    async def _process(self, key: K) -> None:
        metrics.ACTIVE_WORKERS.labels(self.name).inc()
        started = perf_counter()
        outcome = "success"
        try:
            result = await self.reconcile(key) or DONE
        except asyncio.CancelledError:
            raise
        except ApiError as exc:
            if not exc.is_namespace_terminating:
                outcome = self._failed(key, exc)
            else:  # the namespace and the object are going away: nothing to retry, no error
                outcome = "namespace_terminating"
                self.queue.forget(key)
                log.info(
                    "not retried: its namespace is being terminated",
                    extra={"controller": self.name, "key": str(key), "error": exc.message},
                )
        except Exception as exc:
            outcome = self._failed(key, exc)
        else:
            if result.requeue_after is not None and result.requeue_after > 0:
                outcome = "requeue_after"
                self.queue.forget(key)
                self.queue.add_after(key, result.requeue_after)
            elif result.requeue:
                outcome = "requeue"
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
        finally:
            elapsed = perf_counter() - started
            metrics.RECONCILE_TIME.labels(self.name).observe(elapsed)
            metrics.RECONCILE_TOTAL.labels(self.name, outcome).inc()
            metrics.ACTIVE_WORKERS.labels(self.name).dec()
            self.queue.done(key)
            if elapsed >= self.slow_reconcile_seconds:
                log.warning(
                    "slow reconcile",
                    extra={"controller": self.name, "key": str(key), "duration_s": round(elapsed, 3)},
                )


__all__ = ["DONE", "Controller", "KeyMapper", "Reconcile", "Result", "own_key", "own_name"]
