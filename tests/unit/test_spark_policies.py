"""The reconcile's timing heuristics: each a pure verdict on what was observed and the time."""

from __future__ import annotations

import pytest

from sparkfleet.operator.spark.lifecycle import DRIVER_CREATION_GRACE_SECONDS
from sparkfleet.operator.spark.policies import (
    EXECUTOR_STATE_BATCH_SECONDS,
    STALE_RECHECK_SECONDS,
    Batch,
    DriverGrace,
    EchoWait,
    ExecutorBatching,
    executors_only_change,
)


def test_the_constants_are_todays() -> None:
    assert STALE_RECHECK_SECONDS == 1.0
    assert EXECUTOR_STATE_BATCH_SECONDS == 1.0
    assert DriverGrace().grace_seconds == DRIVER_CREATION_GRACE_SECONDS == 10.0


def test_echo_wait_holds_only_the_copy_our_write_replaced() -> None:
    echo = EchoWait()
    assert echo.wait("41", "41") == STALE_RECHECK_SECONDS  # the cache has not seen our write
    assert echo.wait("41", "42") is None  # our write (or a later one) arrived
    assert echo.wait(None, "42") is None  # no write of ours awaited
    assert EchoWait(recheck_seconds=3.0).wait("7", "7") == 3.0


def test_driver_grace_waits_for_a_driver_submitted_a_moment_ago() -> None:
    grace = DriverGrace(grace_seconds=10.0)
    assert grace.wait(submitted_at=100.0, now=100.0) == 10.0
    assert grace.wait(submitted_at=100.0, now=109.9) == 10.0
    assert grace.wait(submitted_at=100.0, now=110.0) is None  # over: look it up
    assert grace.wait(submitted_at=None, now=100.0) is None  # never submitted: look it up


def test_executor_batching_holds_executor_only_changes_for_one_window() -> None:
    batching = ExecutorBatching(window_seconds=1.0)
    first = batching.verdict(True, None, now=50.0)
    assert first == Batch(hold=1.0, due=51.0)
    held = batching.verdict(True, first.due, now=50.4)
    assert held.due == 51.0
    assert held.hold == pytest.approx(0.6)
    assert batching.verdict(True, first.due, now=51.0) == Batch(hold=None, due=None)  # due: written
    assert batching.verdict(False, first.due, now=50.5) == Batch(hold=None, due=None)  # written at once
    assert ExecutorBatching(window_seconds=0.0).verdict(True, None, now=1.0) == Batch(None, None)


def test_executor_news_waits_for_the_held_write() -> None:
    assert ExecutorBatching.news_delay(51.0, now=50.4) == pytest.approx(0.6)  # held: wait with it
    assert ExecutorBatching.news_delay(51.0, now=51.0) is None  # due now: reconcile at once
    assert ExecutorBatching.news_delay(51.0, now=52.0) is None  # overdue (a reconcile was deferred)
    assert ExecutorBatching.news_delay(None, now=50.0) is None  # nothing held: the first change


def test_executors_only_change() -> None:
    old = {"applicationState": {"state": "RUNNING"}, "executorState": {"e1": "PENDING"}}
    executors = {**old, "executorState": {"e1": "RUNNING"}}
    assert executors_only_change(old, executors, acted=False)
    assert not executors_only_change(old, executors, acted=True)  # an action or Event: write now
    assert not executors_only_change(old, old, acted=False)  # nothing changed
    state = {**executors, "applicationState": {"state": "SUCCEEDING"}}
    assert not executors_only_change(old, state, acted=False)
    assert executors_only_change({"a": 1}, {"a": 1, "executorState": {}}, acted=False)
