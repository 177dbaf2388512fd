"""The SparkApplication lifecycle as a pure function: what was observed -> what to do.

States and transitions follow the Kubeflow Spark Operator (v1beta2):

    NEW -> SUBMITTED -> RUNNING -> SUCCEEDING -> COMPLETED
                           \\-> FAILING -> FAILED | PENDING_RERUN -> (resubmit)
    NEW -> SUBMISSION_FAILED -> (retry after the interval) | FAILED
    any submitted state + spec changed -> INVALIDATING -> PENDING_RERUN -> (resubmit)
    driver pod gone while active -> FAILING; driver phase Unknown -> UNKNOWN

Restart policies: ``Never`` never retries; ``OnFailure`` retries failed runs up
to ``onFailureRetries`` times and failed submissions up to
``onSubmissionFailureRetries`` times; ``Always`` retries both without limit and
reruns after success too. As the Spark Operator does, a retry waits a linear
backoff, ``interval x submission attempts`` since the last submission attempt
(``onFailureRetryInterval`` after a failed run, ``onSubmissionFailureRetryInterval``
after a failed submission).
Finished applications with ``timeToLiveSeconds`` are deleted when it expires.

Nothing here does I/O or reads a clock: the controller observes, calls
:func:`decide`, and carries out the :class:`Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class AppState(StrEnum):
    NEW = ""
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SUBMISSION_FAILED = "SUBMISSION_FAILED"
    PENDING_RERUN = "PENDING_RERUN"
    INVALIDATING = "INVALIDATING"
    SUCCEEDING = "SUCCEEDING"
    FAILING = "FAILING"
    UNKNOWN = "UNKNOWN"


ACTIVE = frozenset({AppState.SUBMITTED, AppState.RUNNING, AppState.UNKNOWN})
TERMINAL = frozenset({AppState.COMPLETED, AppState.FAILED})


class Action(StrEnum):
    SUBMIT = "submit"  # render and create the driver's objects
    DELETE_DRIVER = "delete-driver"  # delete the driver pod (its objects follow by GC)
    DELETE_APP = "delete-app"  # timeToLiveSeconds expired


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    type: str = "Never"  # Never | OnFailure | Always
    on_failure_retries: int = 0
    on_failure_retry_interval: float = 5.0
    on_submission_failure_retries: int = 0
    on_submission_failure_retry_interval: float = 5.0

    def retries_failed_run(self, execution_attempts: int) -> bool:
        if self.type == "Always":
            return True
        return self.type == "OnFailure" and execution_attempts <= self.on_failure_retries

    def retries_failed_submission(self, submission_attempts: int) -> bool:
        if self.type == "Always":
            return True
        return self.type == "OnFailure" and submission_attempts <= self.on_submission_failure_retries


@dataclass(frozen=True, slots=True)
class Driver:
    """The driver pod as observed: its phase and, when it failed, why."""

    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    error: str = ""


@dataclass(frozen=True, slots=True)
class Observation:
    state: AppState
    now: float  # seconds since the epoch
    driver: Driver | None = None  # None: no driver pod exists
    spec_changed: bool = False  # the running submission was made from another spec
    submission_attempts: int = 0
    execution_attempts: int = 0
    last_submission_attempt_time: float | None = None
    termination_time: float | None = None
    restart_policy: RestartPolicy = RestartPolicy()
    time_to_live_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Decision:
    state: AppState
    error_message: str | None = None  # None keeps the status's errorMessage as it is
    actions: tuple[Action, ...] = ()
    requeue_after: float | None = None
    reset_attempts: bool = False  # a new spec gets a fresh retry budget
    set_termination_time: bool = False
    clear_run: bool = False  # forget the previous run (driver info, executors, termination)
    events: tuple[Event, ...] = field(default=())


_DRIVER_STATE = {
    "Pending": AppState.SUBMITTED,
    "Running": AppState.RUNNING,
    "Succeeded": AppState.SUCCEEDING,
    "Failed": AppState.FAILING,
    "Unknown": AppState.UNKNOWN,
}

_EVENT_REASON = {
    AppState.SUBMITTED: ("Normal", "SparkApplicationSubmitted"),
    AppState.RUNNING: ("Normal", "SparkDriverRunning"),
    AppState.SUCCEEDING: ("Normal", "SparkDriverCompleted"),
    AppState.FAILING: ("Warning", "SparkDriverFailed"),
    AppState.UNKNOWN: ("Warning", "SparkDriverUnknownState"),
    AppState.COMPLETED: ("Normal", "SparkApplicationCompleted"),
    AppState.FAILED: ("Warning", "SparkApplicationFailed"),
    AppState.PENDING_RERUN: ("Normal", "SparkApplicationPendingRerun"),
    AppState.INVALIDATING: ("Normal", "SparkApplicationSpecUpdateProcessed"),
}


def _event(state: AppState, message: str) -> tuple[Event, ...]:
    kind, reason = _EVENT_REASON[state]
    return (Event(kind, reason, message),)


def decide(o: Observation) -> Decision:
    """The next state and the actions that get there."""
    state = o.state
    if o.spec_changed and state not in (AppState.NEW, AppState.INVALIDATING, AppState.PENDING_RERUN):
        return Decision(
            AppState.INVALIDATING,
            actions=(Action.DELETE_DRIVER,) if o.driver else (),
            events=_event(AppState.INVALIDATING, "spec changed: the application will be resubmitted"),
            requeue_after=0.5 if o.driver else None,
        )
    if state == AppState.NEW:
        return Decision(AppState.SUBMITTED, actions=(Action.SUBMIT,))
    if state in ACTIVE:
        return _follow_driver(o)
    if state == AppState.SUCCEEDING:
        if o.restart_policy.type == "Always":
            return Decision(
                AppState.PENDING_RERUN,
                events=_event(AppState.PENDING_RERUN, "restart policy Always: rerunning"),
            )
        return Decision(
            AppState.COMPLETED, set_termination_time=True, events=_event(AppState.COMPLETED, "completed")
        )
    if state == AppState.FAILING:
        if not o.restart_policy.retries_failed_run(o.execution_attempts):
            return Decision(
                AppState.FAILED,
                set_termination_time=True,
                events=_event(AppState.FAILED, f"failed after {o.execution_attempts} attempt(s)"),
            )
        wait = _backoff(o, o.restart_policy.on_failure_retry_interval)
        if wait > 0:
            return Decision(AppState.FAILING, requeue_after=wait)
        return Decision(
            AppState.PENDING_RERUN,
            events=_event(AppState.PENDING_RERUN, f"retrying after attempt {o.execution_attempts} failed"),
        )
    if state == AppState.SUBMISSION_FAILED:
        if not o.restart_policy.retries_failed_submission(o.submission_attempts):
            return Decision(
                AppState.FAILED,
                set_termination_time=True,
                events=_event(AppState.FAILED, f"submission failed {o.submission_attempts} time(s)"),
            )
        wait = _backoff(o, o.restart_policy.on_submission_failure_retry_interval)
        if wait > 0:
            return Decision(AppState.SUBMISSION_FAILED, requeue_after=wait)
        return Decision(AppState.SUBMITTED, actions=(Action.SUBMIT,))
    if state in (AppState.INVALIDATING, AppState.PENDING_RERUN):
        if o.driver is not None:  # wait for the previous run's pods to go
            return Decision(state, actions=(Action.DELETE_DRIVER,), requeue_after=0.5)
        return Decision(
            AppState.SUBMITTED,
            actions=(Action.SUBMIT,),
            reset_attempts=state == AppState.INVALIDATING,
            clear_run=True,
        )
    if state in TERMINAL:
        if o.time_to_live_seconds is None or o.termination_time is None:
            return Decision(state)
        wait = _remaining(o.termination_time, o.time_to_live_seconds, o.now)
        if wait > 0:
            return Decision(state, requeue_after=wait)
        return Decision(state, actions=(Action.DELETE_APP,))
    raise ValueError(f"unknown application state {state!r}")


def _follow_driver(o: Observation) -> Decision:
    if o.driver is None:
        return Decision(
            AppState.FAILING,
            error_message="driver pod not found",
            set_termination_time=True,
            events=(Event("Warning", "SparkDriverMissing", "driver pod not found"),),
        )
    new = _DRIVER_STATE.get(o.driver.phase, AppState.UNKNOWN)
    error = o.driver.error if new == AppState.FAILING else ""
    terminating = new in (AppState.SUCCEEDING, AppState.FAILING)
    events = _event(new, error or f"driver {o.driver.phase}") if new != o.state else ()
    decision = Decision(new, error_message=error, set_termination_time=terminating, events=events)
    if terminating:
        # Decide the terminal step in the same reconcile: one status write, not two.
        follow = decide(
            Observation(
                state=new,
                now=o.now,
                driver=o.driver,
                submission_attempts=o.submission_attempts,
                execution_attempts=o.execution_attempts,
                last_submission_attempt_time=o.last_submission_attempt_time,
                termination_time=o.now if o.termination_time is None else o.termination_time,
                restart_policy=o.restart_policy,
                time_to_live_seconds=o.time_to_live_seconds,
            )
        )
        return Decision(
            follow.state,
            error_message=error if follow.error_message is None else follow.error_message,
            actions=follow.actions,
            requeue_after=follow.requeue_after,
            set_termination_time=True,
            events=decision.events + follow.events,
        )
    return decision


def _backoff(o: Observation, interval: float) -> float:
    """Seconds until a retry is due: ``interval x attempts`` after the last submission attempt."""
    return _remaining(o.last_submission_attempt_time, interval * max(1, o.submission_attempts), o.now)


def _remaining(since: float | None, interval: float, now: float) -> float:
    if since is None:
        return 0.0
    return max(0.0, since + interval - now)
