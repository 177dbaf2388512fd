"""client-go's per-object Event spam filter, without a cluster or a real clock."""

from __future__ import annotations

from sparkfleet.kube.events import SpamFilter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_per_object_then_one_per_refill_period() -> None:
    clock = Clock()
    spam = SpamFilter(burst=3, refill_seconds=300, clock=clock)
    assert [spam.allow("app-a") for _ in range(5)] == [True, True, True, False, False]
    assert spam.allow("app-b")  # each object has its own bucket
    clock.now += 299
    assert not spam.allow("app-a")
    clock.now += 1
    assert spam.allow("app-a")
    assert not spam.allow("app-a")
    clock.now += 10 * 300
    assert [spam.allow("app-a") for _ in range(4)] == [True, True, True, False]  # refilled to the burst only


def test_memory_is_bounded_by_the_objects_remembered() -> None:
    clock = Clock()
    spam = SpamFilter(burst=1, objects=2, clock=clock)
    assert [spam.allow(key) for key in "abc"] == [True, True, True]
    assert len(spam._buckets) == 2
    assert spam.allow("a")  # forgotten, so a fresh bucket
    assert not spam.allow("c")
