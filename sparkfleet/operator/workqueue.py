"""A rate-limiting, delaying work queue with client-go's guarantees, for one asyncio loop.

- An item added while it waits is not queued twice.
- An item is never handed to two workers at once: added while being processed,
  it is marked dirty and queued again when the worker calls :meth:`done`.
- Items come out in the order they were first queued, urgent ones first:
  ``add(item, urgent=True)`` is for news about work already running (a pod of
  a submitted application changed), which should not wait behind a burst of
  new objects; an urgent add of an item already queued moves it up.
- :meth:`add_after` holds an item back until a deadline (the earliest one
  asked for wins) on the queue's clock's timers, without polling. That clock
  (:class:`sparkfleet.clock.Clock`; the event loop's by default) drives every
  wait of the queue: delays, rate-limited re-adds, the drain timeout, and the
  durations it reports.
- :meth:`shutdown` stops taking work: nothing new is accepted, queued and
  delayed items are dropped (their objects are listed again by whoever runs
  next), workers get :class:`ShutDown`, and :meth:`drain` waits for the items
  already being processed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sparkfleet.clock import LOOP_CLOCK, Clock, Timer
from sparkfleet.operator.metrics import PrometheusQueueMetrics, QueueMetrics
from sparkfleet.operator.ratelimiters import RateLimiter, default_controller_rate_limiter

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """The queue is shut down and empty: the worker should exit."""


class WorkQueue(Generic[T]):
    def __init__(
        self,
        name: str,
        rate_limiter: RateLimiter[T] | None = None,
        *,
        controller: str | None = None,
        clock: Clock = LOOP_CLOCK,
        metrics: QueueMetrics | None = None,
    ):
        """``metrics``: where the queue reports; by default the ``workqueue_*`` series labelled
        with ``name`` and ``controller`` (pass :data:`~sparkfleet.operator.metrics.NO_QUEUE_METRICS`
        for none)."""
        self.name = name
        self.controller = controller or name
        self.rate_limiter: RateLimiter[T] = rate_limiter or default_controller_rate_limiter()
        self._clock = clock
        self._queue: deque[T] = deque()
        self._urgent: deque[T] = deque()  # served before _queue
        self._urgent_items: set[T] = set()  # in _urgent, or to go there when done() queues them again
        self._dirty: set[T] = set()
        self._processing: dict[T, float] = {}  # item -> when its processing started
        self._queued_at: dict[T, float] = {}
        self._delayed: dict[T, tuple[float, Timer]] = {}  # item -> (deadline, timer)
        self._getters: deque[asyncio.Future[None]] = deque()
        self._idle = asyncio.Event()
        self._idle.set()
        self._shutting_down = False
        self._metrics: QueueMetrics = (
            PrometheusQueueMetrics(name, self.controller) if metrics is None else metrics
        )
        self._metrics.watch(self)

    # -- adding --------------------------------------------------------------------

    def add(self, item: T, *, urgent: bool = False) -> None:
        if self._shutting_down:
            return
        if item in self._dirty:
            if urgent and item not in self._urgent_items:
                self._urgent_items.add(item)
                if item not in self._processing:  # queued in the normal lane: move it up
                    self._queue.remove(item)
                    self._urgent.append(item)
            return
        self._metrics.added()
        self._dirty.add(item)
        if urgent:
            self._urgent_items.add(item)
        if item in self._processing:
            return  # queued again by done()
        self._enqueue(item)

    def _enqueue(self, item: T) -> None:
        (self._urgent if item in self._urgent_items else self._queue).append(item)
        self._queued_at[item] = self._clock.now()
        self._metrics.depth(len(self))
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                break

    def add_after(self, item: T, delay: float) -> None:
        """Adds ``item`` once ``delay`` seconds have passed; an earlier pending deadline is kept."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        deadline = self._clock.now() + delay
        pending = self._delayed.get(item)
        if pending is not None:
            if pending[0] <= deadline:
                return
            pending[1].cancel()
        self._delayed[item] = (deadline, self._clock.call_later(delay, lambda: self._fire(item)))

    def _fire(self, item: T) -> None:
        self._delayed.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: T) -> None:
        """Adds ``item`` after the rate limiter's backoff for it; counts a retry."""
        if self._shutting_down:
            return
        self._metrics.retried()
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)

    # -- processing ----------------------------------------------------------------

    async def get(self) -> T:
        """The next item, marked as being processed; raises :class:`ShutDown` when done for good."""
        while not self._queue and not self._urgent:
            if self._shutting_down:
                raise ShutDown
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter.done() and not getter.cancelled() and len(self):
                    self._wake_one()  # pass the wake-up on to another worker
                raise
        item = self._urgent.popleft() if self._urgent else self._queue.popleft()
        now = self._clock.now()
        self._dirty.discard(item)
        self._urgent_items.discard(item)
        self._processing[item] = now
        self._idle.clear()
        self._metrics.depth(len(self))
        self._metrics.waited(now - self._queued_at.pop(item, now))
        return item

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def done(self, item: T) -> None:
        started = self._processing.pop(item, None)
        if started is not None:
            self._metrics.worked(self._clock.now() - started)
        if item in self._dirty and not self._shutting_down:
            self._enqueue(item)
        if not self._processing:
            self._idle.set()

    def discard(self, predicate: Callable[[T], bool]) -> int:
        """Removes queued and delayed items matching ``predicate`` (a shard given away).

        Items being processed finish, but are not queued again afterwards.
        """
        removed = 0
        for lane in (self._queue, self._urgent):
            kept = []
            for item in lane:
                if predicate(item):
                    removed += 1
                    self._dirty.discard(item)
                    self._urgent_items.discard(item)
                    self._queued_at.pop(item, None)
                else:
                    kept.append(item)
            lane.clear()
            lane.extend(kept)
        for item in [i for i in self._delayed if predicate(i)]:
            self._delayed.pop(item)[1].cancel()
            removed += 1
        for item in self._processing:
            if item in self._dirty and predicate(item):
                self._dirty.discard(item)
                self._urgent_items.discard(item)
        self._metrics.depth(len(self))
        return removed

    def count(self, predicate: Callable[[T], bool]) -> int:
        """Queued and delayed items matching ``predicate`` (a shard's backlog)."""
        queued = sum(1 for lane in (self._urgent, self._queue) for item in lane if predicate(item))
        return queued + sum(1 for item in self._delayed if predicate(item))

    # -- shutting down -------------------------------------------------------------

    def shutdown(self) -> None:
        self._shutting_down = True
        self._queue.clear()
        self._urgent.clear()
        self._urgent_items.clear()
        self._queued_at.clear()
        self._dirty.clear()
        self._metrics.depth(0)
        for _, timer in self._delayed.values():
            timer.cancel()
        self._delayed.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    async def drain(self, timeout: float | None = None) -> bool:
        """Waits until no item is being processed; ``False`` if ``timeout`` (on the queue's clock)
        passed first."""
        if self._idle.is_set():
            return True
        if timeout is None:
            await self._idle.wait()
            return True
        expired: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def expire() -> None:
            if not expired.done():
                expired.set_result(None)

        timer = self._clock.call_later(timeout, expire)
        idle = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait((idle, expired), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            idle.cancel()
            expired.cancel()
        return self._idle.is_set()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def processing(self) -> int:
        return len(self._processing)

    @property
    def delayed(self) -> int:
        return len(self._delayed)

    def __len__(self) -> int:
        return len(self._queue) + len(self._urgent)

    def processing_ages(self) -> list[float]:
        now = self._clock.now()
        return [now - started for started in self._processing.values()]
