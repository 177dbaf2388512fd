"""The SparkApplication reconcile's three timing heuristics, as named pure policies.

Each is given what the reconcile observed and the time (``now``: the clock the reconcile reads for
it) and returns a verdict the reconcile acts on; none reads a clock, a cache or the API itself.

- :class:`EchoWait`: a cached copy older than our own last status write is not decided from;
- :class:`DriverGrace`: a driver submitted a moment ago and missing from the cache is waited for,
  not yet looked up nor taken for lost;
- :class:`ExecutorBatching`: a status change of executor states only is held back for a window, so
  that the changes of many executors make one write; the executors' events in that window wait for
  it too, instead of each reconciling only to hold the write again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkfleet.operator.spark.lifecycle import DRIVER_CREATION_GRACE_SECONDS

STALE_RECHECK_SECONDS = 1.0  # a fallback only: the watch event of our own write normally comes first
EXECUTOR_STATE_BATCH_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class EchoWait:
    """Our last status write replaced ``replaced_version``; while the cache still holds that very
    version, the write's echo has not arrived, and deciding from the older copy could submit twice.
    The watch event of the write brings the key back; ``recheck_seconds`` is the fallback."""

    recheck_seconds: float = STALE_RECHECK_SECONDS

    def wait(self, replaced_version: str | None, cached_version: str | None) -> float | None:
        """Seconds to wait before reconciling the cached copy; None: it is not older than our write."""
        return self.recheck_seconds if replaced_version == cached_version else None


@dataclass(frozen=True, slots=True)
class DriverGrace:
    """A driver submitted less than ``grace_seconds`` ago that the cache does not have is on its way
    (its watch event brings the key back): waited for, neither read from the API server nor taken
    for lost (the Spark Operator's --driver-pod-creation-grace-period)."""

    grace_seconds: float = DRIVER_CREATION_GRACE_SECONDS

    def wait(self, submitted_at: float | None, now: float) -> float | None:
        """Seconds to wait for a driver missing from the cache; None: look it up now."""
        if submitted_at is not None and now - submitted_at < self.grace_seconds:
            return self.grace_seconds
        return None


@dataclass(frozen=True, slots=True)
class Batch:
    """The verdict on a status write: ``hold`` seconds more (None: write now), and when the held
    executor states fall due (None: nothing held)."""

    hold: float | None
    due: float | None


@dataclass(frozen=True, slots=True)
class ExecutorBatching:
    """Executors start and finish one after another; a write that changes executor states only is
    held until ``window_seconds`` after the first such change, so that one write carries a window's
    changes. Any other change (or an action) is written at once, the held states with it."""

    window_seconds: float = EXECUTOR_STATE_BATCH_SECONDS

    def verdict(self, executors_only: bool, due: float | None, now: float) -> Batch:
        """``executors_only``: the write changes executor states only (:func:`executors_only_change`);
        ``due``: when the states held so far fall due, if any."""
        if not executors_only:
            return Batch(hold=None, due=None)
        due = now + self.window_seconds if due is None else due
        if now >= due:
            return Batch(hold=None, due=None)
        return Batch(hold=due - now, due=due)

    @staticmethod
    def news_delay(due: float | None, now: float) -> float | None:
        """Seconds to hold back an executor pod's event while executor states are held until
        ``due``: it can change executor states only, which the held write carries, and the hold
        already brings the application back then. None: no states held, or they are due now."""
        return due - now if due is not None and due > now else None


def executors_only_change(old: dict[str, Any], new: dict[str, Any], acted: bool) -> bool:
    """Whether going from status ``old`` to ``new`` changes ``executorState`` and nothing else, with
    no action nor Event in the reconcile (``acted``)."""
    return not acted and new != old and _without_executors(new) == _without_executors(old)


def _without_executors(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "executorState"}
