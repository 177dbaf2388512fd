"""The manual clock tests move by hand, and the real one on the event loop."""

from __future__ import annotations

import asyncio

import pytest

from sparkfleet.clock import LOOP_CLOCK
from sparkfleet.testing.clock import ManualClock


def test_time_stands_still_until_advanced() -> None:
    clock = ManualClock(now=5.0)
    assert clock.now() == clock() == 5.0
    clock.advance(1.5)
    assert clock.now() == 6.5


def test_timers_fire_in_deadline_order_at_their_own_deadline() -> None:
    clock = ManualClock(now=0.0)
    fired: list[tuple[str, float]] = []
    clock.call_later(2.0, lambda: fired.append(("two", clock.now())))
    clock.call_later(1.0, lambda: fired.append(("one", clock.now())))
    clock.call_later(1.0, lambda: fired.append(("one-again", clock.now())))
    clock.advance(0.5)
    assert fired == []
    assert clock.next_deadline() == 1.0
    clock.advance(10.0)
    assert fired == [("one", 1.0), ("one-again", 1.0), ("two", 2.0)]
    assert clock.now() == 10.5
    assert clock.pending == 0


def test_a_cancelled_timer_never_fires() -> None:
    clock = ManualClock()
    fired: list[str] = []
    timer = clock.call_later(1.0, lambda: fired.append("x"))
    assert clock.pending == 1
    timer.cancel()
    assert clock.pending == 0
    clock.advance(5.0)
    assert fired == []
    assert clock.next_deadline() is None


def test_a_timer_scheduled_by_a_callback_fires_within_the_same_advance() -> None:
    clock = ManualClock(now=0.0)
    fired: list[float] = []

    def first() -> None:
        fired.append(clock.now())
        clock.call_later(1.0, lambda: fired.append(clock.now()))

    clock.call_later(1.0, first)
    clock.advance(3.0)
    assert fired == [1.0, 2.0]


def test_time_does_not_go_back() -> None:
    with pytest.raises(ValueError, match="does not go back"):
        ManualClock().advance(-1.0)


async def test_the_loop_clock_calls_back_on_the_event_loop() -> None:
    done = asyncio.Event()
    before = LOOP_CLOCK.now()
    LOOP_CLOCK.call_later(0, done.set)
    await asyncio.wait_for(done.wait(), 5)
    assert LOOP_CLOCK.now() >= before
