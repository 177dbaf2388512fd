"""What a ScheduledSparkApplication's reconcile does, as a pure function: snapshot -> decision.

From the schedule, its status and its runs at one moment, :func:`decide` says which run to start
(and its name), which runs to delete (the active ones a ``Replace`` run replaces; the finished
ones beyond the history limits, oldest first), the status to write and when to look again.

- A run is due at the schedule's first time after the last run (after the creation of the
  ScheduledSparkApplication, before any). While ``spec.suspend`` is set nothing is started.
- ``concurrencyPolicy`` (``Allow`` by default), when a run is due while another is active:
  ``Allow`` starts it anyway, ``Forbid`` skips it (``lastRun`` moves on: skipped, not postponed),
  ``Replace`` deletes the active runs, then starts it.
- After a run (started or skipped), ``nextRun`` is the schedule's first time after it; after a run
  missed by more than a minute, the first after now. The run due is still the first after
  ``lastRun``: each later reconcile starts the next missed one (as sparkfleet has always done).
- ``successfulRunHistoryLimit`` and ``failedRunHistoryLimit`` (1 each by default) bound the
  finished runs kept; ``pastSuccessfulRunNames``/``pastFailedRunNames`` name them, newest first.

Nothing here does I/O or reads a clock: the controller observes, calls :func:`decide`, and
carries out the :class:`Decision`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from sparkfleet.api.scheduled import ConcurrencyPolicy, ScheduledSparkApplicationStatus
from sparkfleet.kube.timestamps import format_time, parse_datetime
from sparkfleet.operator.spark.schedule import Schedule, run_name

FINISHED = {"COMPLETED": "success", "FAILED": "failure"}
"""A run's terminal ``applicationState.state`` -> the history it counts in."""

DEFAULT_HISTORY_LIMIT = 1
CATCH_UP_WINDOW = datetime.timedelta(minutes=1)
"""A run missed by less than this is followed by the next in the schedule, even if already due."""
MIN_REQUEUE_SECONDS = 0.05

SCHEDULED = "Scheduled"
FAILED_VALIDATION = "FailedValidation"


@dataclass(frozen=True, slots=True)
class Run:
    """One run (a SparkApplication the ScheduledSparkApplication owns), as the decision needs it."""

    name: str
    uid: str | None = None
    state: str = ""  # its status.applicationState.state ("" before it has one)
    created: str = ""  # its metadata.creationTimestamp: runs are ordered by it

    @property
    def outcome(self) -> str | None:
        """``success`` or ``failure`` once finished; None while active."""
        return FINISHED.get(self.state)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A valid ScheduledSparkApplication, its runs and the time, as observed."""

    name: str
    schedule: Schedule
    now: datetime.datetime  # aware
    status: ScheduledSparkApplicationStatus = field(default_factory=ScheduledSparkApplicationStatus)
    runs: tuple[Run, ...] = ()
    created: str | None = None  # its metadata.creationTimestamp
    suspend: bool = False
    concurrency_policy: ConcurrencyPolicy = "Allow"
    successful_run_history_limit: int = DEFAULT_HISTORY_LIMIT
    failed_run_history_limit: int = DEFAULT_HISTORY_LIMIT
    timestamp_precision: str = "nanos"


@dataclass(frozen=True, slots=True)
class StartRun:
    """The run to create: due at ``due``, named after it (a retry creates the same name: 409)."""

    name: str
    due: datetime.datetime


@dataclass(frozen=True, slots=True)
class Decision:
    status: ScheduledSparkApplicationStatus  # to write (once :attr:`start` is started, if any)
    next_run: datetime.datetime  # when the next run is due (past while suspended and overdue)
    start: StartRun | None = None
    status_if_name_taken: ScheduledSparkApplicationStatus | None = None  # with :attr:`start` only
    replace: tuple[Run, ...] = ()  # active runs to delete before :attr:`start` (Replace)
    prune: tuple[Run, ...] = ()  # finished runs beyond the history limits, oldest first
    skipped: datetime.datetime | None = None  # a run due then was skipped: Forbid, another is active
    requeue_after: float | None = None  # None: nothing to wait for (suspended)


def decide(snapshot: Snapshot) -> Decision:
    """The runs to start and delete, the status to write, and when to look again."""
    s = snapshot
    runs = sorted(s.runs, key=lambda r: r.created)
    active = tuple(r for r in runs if r.outcome is None)
    status = s.status.changed(schedule_state=SCHEDULED, reason=None)
    due = s.schedule.next_after(_anchor(s))
    start: StartRun | None = None
    name_taken: ScheduledSparkApplicationStatus | None = None
    replace: tuple[Run, ...] = ()
    skipped: datetime.datetime | None = None
    if not s.suspend and due <= s.now:
        status = status.changed(last_run=format_time(due))
        if active and s.concurrency_policy == "Forbid":
            skipped = due
        else:
            if s.concurrency_policy == "Replace":
                replace = active
            start = StartRun(run_name(s.name, due, s.timestamp_precision), due)
            name_taken = status  # a run whose name is taken is skipped, as Forbid skips
            status = status.changed(last_run_name=start.name)
        due = s.schedule.next_after(due if due > s.now - CATCH_UP_WINDOW else s.now)
    status = status.changed(next_run=format_time(due))
    prune: list[Run] = []
    history: dict[str, list[str] | None] = {}
    for outcome, names, limit in (
        ("success", "past_successful_run_names", s.successful_run_history_limit),
        ("failure", "past_failed_run_names", s.failed_run_history_limit),
    ):
        finished = [r for r in runs if r.outcome == outcome]
        kept = finished[len(finished) - limit :] if limit else []
        prune.extend(finished[: len(finished) - len(kept)])
        history[names] = [r.name for r in reversed(kept)] or None  # newest first
    status = status.changed(**history)
    if name_taken is not None:
        name_taken = name_taken.changed(next_run=format_time(due), **history)
    return Decision(
        status=status,
        next_run=due,
        start=start,
        status_if_name_taken=name_taken,
        replace=replace,
        prune=tuple(prune),
        skipped=skipped,
        requeue_after=None if s.suspend else max(MIN_REQUEUE_SECONDS, (due - s.now).total_seconds()),
    )


def _anchor(s: Snapshot) -> datetime.datetime:
    """What the next run follows: the last run, else the creation, else now."""
    return parse_datetime(s.status.last_run) or parse_datetime(s.created) or s.now


def refused_run_status(
    status: ScheduledSparkApplicationStatus, reason: str
) -> ScheduledSparkApplicationStatus:
    """The status when the API server refuses to create the run (a permission the operator lacks):
    scheduled, with the refusal as its reason; nothing else moves (the retry starts the same run)."""
    return status.changed(schedule_state=SCHEDULED, reason=reason)


def failed_validation_status(status: dict[str, Any], reason: str) -> dict[str, Any]:
    """The status of a ScheduledSparkApplication that does not validate (its status may be what is
    wrong: it is kept as a mapping, as stored): ``FailedValidation`` and the reason."""
    return {**status, "scheduleState": FAILED_VALIDATION, "reason": reason}
