"""The work queue's guarantees: dedup, one worker per key, dirty re-delivery, FIFO,
delays without polling, shutdown and drain, discard.

Time is a :class:`ManualClock` the tests move: nothing here waits on the wall clock."""

from __future__ import annotations

import asyncio
import random

import pytest
from prometheus_client import REGISTRY

from sparkfleet.operator.metrics import NO_QUEUE_METRICS
from sparkfleet.operator.ratelimiters import ItemExponentialFailureRateLimiter
from sparkfleet.operator.workqueue import ShutDown, WorkQueue
from sparkfleet.testing.clock import ManualClock

STEP = 0.001  # how far advance_until moves the clock at a time


def queue(name: str = "test", clock: ManualClock | None = None) -> WorkQueue[str]:
    return WorkQueue(
        name,
        ItemExponentialFailureRateLimiter(0.01, 0.1),
        clock=clock or ManualClock(),
        metrics=NO_QUEUE_METRICS,
    )


def advance_until_queued(clock: ManualClock, q: WorkQueue[str], limit: float = 10.0) -> None:
    """Moves the clock on in small steps until an item is queued (at most ``limit`` seconds)."""
    start = clock.now()
    while not len(q):
        assert clock.now() - start < limit, "nothing was queued"
        clock.advance(STEP)


async def yield_to_other_tasks(times: int) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


async def test_adds_are_deduplicated_and_fifo() -> None:
    q = queue()
    for item in ["a", "b", "a", "c", "b"]:
        q.add(item)
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]


async def test_an_item_added_while_processing_comes_back_once_after_done() -> None:
    q = queue()
    q.add("a")
    item = await q.get()
    q.add("a")
    q.add("a")
    assert len(q) == 0  # not handed out while it is processing
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_a_waiting_getter_is_woken_by_add() -> None:
    q = queue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("x")
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_add_after_delivers_on_time_and_keeps_the_earliest_deadline() -> None:
    clock = ManualClock()
    q = queue(clock=clock)
    start = clock.now()
    q.add_after("late", 1.0)
    q.add_after("late", 0.05)  # earlier deadline wins
    q.add_after("late", 2.0)  # later one is ignored
    assert q.delayed == 1
    advance_until_queued(clock, q)
    assert await asyncio.wait_for(q.get(), 3) == "late"
    assert 0.04 <= clock.now() - start < 0.9


async def test_add_rate_limited_backs_off_and_forget_resets() -> None:
    clock = ManualClock()
    q = queue(clock=clock)
    waits = []
    for _ in range(3):
        start = clock.now()
        q.add_rate_limited("k")
        advance_until_queued(clock, q)
        item = await asyncio.wait_for(q.get(), 1)
        waits.append(clock.now() - start)
        q.done(item)
    assert q.num_requeues("k") == 3
    assert waits[0] >= 0.009
    assert waits[1] >= 0.019
    assert waits[2] >= 0.039
    q.forget("k")
    assert q.num_requeues("k") == 0


async def test_shutdown_drops_queued_work_and_stops_workers() -> None:
    clock = ManualClock()
    q = queue(clock=clock)
    q.add("a")
    q.add("b")
    q.add_after("c", 10)
    first = await q.get()
    q.shutdown()
    q.add("d")  # ignored
    assert len(q) == 0
    assert q.delayed == 0
    with pytest.raises(ShutDown):
        await q.get()
    assert q.processing == 1
    draining = asyncio.create_task(q.drain(timeout=0.05))
    await yield_to_other_tasks(2)
    clock.advance(0.05)
    assert not await draining
    q.done(first)
    assert await q.drain(timeout=1)


async def test_shutdown_releases_waiting_workers() -> None:
    q = queue()
    workers = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    for worker in workers:
        with pytest.raises(ShutDown):
            await worker


async def test_discard_removes_queued_and_delayed_items_of_a_shard() -> None:
    q = queue()
    for item in ["team-a/x", "team-b/y", "team-a/z"]:
        q.add(item)
    q.add_after("team-a/later", 10)
    processing = await q.get()  # team-a/x
    q.add(processing)  # dirty while processing
    removed = q.discard(lambda key: key.startswith("team-a/"))
    assert removed == 2  # team-a/z queued, team-a/later delayed
    q.done(processing)
    assert len(q) == 1  # the dirty team-a/x is not queued again
    assert await q.get() == "team-b/y"


async def test_many_workers_never_share_a_key_and_every_add_is_processed() -> None:
    q = queue()
    keys = [f"k{i}" for i in range(50)]
    in_flight: set[str] = set()
    last_added: dict[str, int] = {}
    last_processed_after: dict[str, int] = {}
    tick = 0

    async def worker() -> None:
        nonlocal tick
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            assert key not in in_flight, f"{key} handed to two workers"
            in_flight.add(key)
            tick += 1
            seen_at = tick
            await yield_to_other_tasks(random.randrange(4))
            last_processed_after[key] = seen_at
            in_flight.discard(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(16)]
    rng = random.Random(7)
    for _ in range(3000):
        key = rng.choice(keys)
        tick += 1
        last_added[key] = tick
        q.add(key)
        if rng.random() < 0.3:
            await asyncio.sleep(0)
    for _ in range(100_000):
        if not len(q) and not q.processing:
            break
        await asyncio.sleep(0)
    q.shutdown()
    await asyncio.gather(*workers)
    # Every key was processed by a get that happened after its last add.
    for key, added in last_added.items():
        assert last_processed_after[key] > added, key


async def test_metrics_count_adds_depth_and_durations() -> None:
    clock = ManualClock(now=0.0)  # durations from 0 are exact in floating point
    q: WorkQueue[str] = WorkQueue("metrics-q", controller="metrics-ctl", clock=clock)
    labels = {"name": "metrics-q", "controller": "metrics-ctl"}
    q.add("a")
    q.add("b")
    q.add("a")
    assert REGISTRY.get_sample_value("workqueue_adds_total", labels) == 2
    assert REGISTRY.get_sample_value("workqueue_depth", labels) == 2
    item = await q.get()
    clock.advance(0.02)
    assert (REGISTRY.get_sample_value("workqueue_unfinished_work_seconds", labels) or 0) >= 0.02
    assert (REGISTRY.get_sample_value("workqueue_longest_running_processor_seconds", labels) or 0) >= 0.02
    q.done(item)
    assert REGISTRY.get_sample_value("workqueue_work_duration_seconds_count", labels) == 1
    assert REGISTRY.get_sample_value("workqueue_queue_duration_seconds_count", labels) == 1
    assert REGISTRY.get_sample_value("workqueue_unfinished_work_seconds", labels) == 0
    q.add_rate_limited("c")
    assert REGISTRY.get_sample_value("workqueue_retries_total", labels) == 1


async def test_urgent_items_come_first_in_their_own_order() -> None:
    q = queue()
    for item in ["new-1", "new-2", "new-3"]:
        q.add(item)
    q.add("running-1", urgent=True)
    q.add("running-2", urgent=True)
    assert len(q) == 5
    assert [await q.get() for _ in range(5)] == ["running-1", "running-2", "new-1", "new-2", "new-3"]


async def test_an_urgent_add_moves_a_queued_item_up_once() -> None:
    q = queue()
    for item in ["a", "b", "c"]:
        q.add(item)
    q.add("c", urgent=True)
    q.add("c", urgent=True)
    q.add("c")  # a plain add does not move it back
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["c", "a", "b"]


async def test_urgent_while_processing_comes_back_urgent() -> None:
    q = queue()
    q.add("a")
    q.add("b")
    item = await q.get()
    assert item == "a"
    q.add("a", urgent=True)  # news while "a" is being processed
    q.done("a")
    assert [await q.get() for _ in range(2)] == ["a", "b"]


async def test_discard_and_count_see_both_lanes() -> None:
    q = queue()
    q.add("shard-1/x")
    q.add("shard-1/y", urgent=True)
    q.add("shard-2/z", urgent=True)
    assert q.count(lambda k: k.startswith("shard-1/")) == 2
    assert q.discard(lambda k: k.startswith("shard-1/")) == 2
    assert len(q) == 1
    assert await q.get() == "shard-2/z"
    q.add("shard-2/z")  # being processed: comes back later, not urgent any more
    q.done("shard-2/z")
    assert await q.get() == "shard-2/z"


async def test_add_after_waits_for_the_queue_clock_not_the_event_loop() -> None:
    clock = ManualClock()
    q = queue(clock=clock)
    q.add_after("x", 0.5)
    await yield_to_other_tasks(3)
    assert len(q) == 0  # the event loop ran; the queue's clock did not move
    clock.advance(0.499)
    assert len(q) == 0
    clock.advance(0.001)
    assert len(q) == 1
    assert q.delayed == 0


async def test_discarded_and_shut_down_delays_leave_no_timer_behind() -> None:
    clock = ManualClock()
    q = queue(clock=clock)
    q.add_after("a", 1.0)
    q.add_after("b", 1.0)
    q.add_after("a", 0.5)  # replaces the later timer
    assert clock.pending == 2
    q.discard(lambda key: key == "b")
    assert clock.pending == 1
    q.shutdown()
    assert clock.pending == 0


async def test_drain_returns_as_soon_as_the_last_item_is_done() -> None:
    clock = ManualClock()
    q = queue(clock=clock)
    q.add("a")
    item = await q.get()
    draining = asyncio.create_task(q.drain(timeout=10))
    await yield_to_other_tasks(2)
    assert not draining.done()
    q.done(item)
    assert await asyncio.wait_for(draining, 1)
    assert clock.pending == 0  # its timeout's timer was called off


async def test_a_queue_without_metrics_reports_none() -> None:
    labels = {"name": "quiet-q", "controller": "quiet-q"}
    q = queue("quiet-q")
    q.add("a")
    await q.get()
    q.done("a")
    q.add_rate_limited("b")
    assert REGISTRY.get_sample_value("workqueue_adds_total", labels) is None
    assert REGISTRY.get_sample_value("workqueue_retries_total", labels) is None
