"""The SparkApplication lifecycle as a pure function: what was observed -> what to do.

States and transitions follow the Kubeflow Spark Operator (v1beta2):

    NEW -> SUBMITTED -> RUNNING -> SUCCEEDING -> COMPLETED
                           \\-> FAILING -> FAILED | PENDING_RERUN -> (resubmit)
    NEW -> SUBMISSION_FAILED -> (retry after the interval) | FAILED
    any submitted state + spec changed -> INVALIDATING -> PENDING_RERUN -> (resubmit)
    driver pod gone while active -> FAILING; driver phase Unknown -> UNKNOWN
    spec.suspend (any state but COMPLETED, FAILED) -> SUSPENDING -> SUSPENDED (driver removed)
    SUSPENDED + spec.suspend cleared -> RESUMING -> (resubmit)

Restart policies: ``Never`` never retries; ``OnFailure`` retries failed runs up
to ``onFailureRetries`` times and failed submissions up to
``onSubmissionFailureRetries`` times; ``Always`` retries both without limit and
reruns after success too. As the Spark Operator does, a retry waits a linear
backoff, ``interval x submission attempts`` since the last submission attempt
(``onFailureRetryInterval`` after a failed run, ``onSubmissionFailureRetryInterval``
after a failed submission).
Finished applications with ``timeToLiveSeconds`` are deleted when it expires; one that sets none is
deleted after the operator's default (``--default-time-to-live-seconds``), when there is one.

Events carry the Spark Operator's reasons and messages (``SparkDriverRunning``, "Driver <pod> is
running"; ``SparkApplicationFailed``, "SparkApplication <name> failed: <error>"; ...), so alerts and
dashboards written for it keep matching.

Nothing here does I/O or reads a clock: the controller observes, calls
:func:`decide`, and carries out the :class:`Decision`.
"""

from __future__ import annotations

import dataclasses
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
    SUSPENDING = "SUSPENDING"
    SUSPENDED = "SUSPENDED"
    RESUMING = "RESUMING"


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


DRIVER_CREATION_GRACE_SECONDS = 10.0
"""How long a submitted driver missing from the cache is waited for before it counts as not found
(the Spark Operator's --driver-pod-creation-grace-period, and its default)."""


@dataclass(frozen=True, slots=True)
class Driver:
    """The driver as observed: its phase as the Spark Operator reads it (the driver container's
    end decides, whatever sidecars still do), its pod's name and, when it failed, why."""

    phase: str  # Pending | Running | Succeeded | Failed | Unknown
    error: str = ""
    name: str = ""


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
    name: str = ""  # the application's, for the Events' messages
    driver_name: str = ""  # the driver pod the status records
    error_message: str = ""  # the status's errorMessage as it is
    suspend: bool = False  # spec.suspend
    driver_grace_seconds: float = DRIVER_CREATION_GRACE_SECONDS  # before a missing driver is not found
    default_time_to_live_seconds: float = 0.0  # --default-time-to-live-seconds (0: none)


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

_DRIVER_EVENT = {  # the driver's phase -> the Spark Operator's Event
    "Pending": ("Normal", "SparkDriverPending", "Driver {} is pending"),
    "Running": ("Normal", "SparkDriverRunning", "Driver {} is running"),
    "Succeeded": ("Normal", "SparkDriverCompleted", "Driver {} completed"),
    "Failed": ("Warning", "SparkDriverFailed", "Driver {} failed"),
    "Unknown": ("Warning", "SparkDriverUnknown", "Driver {} in unknown state"),
}


def _app_event(o: Observation, state: AppState, error: str = "") -> tuple[Event, ...]:
    """The Spark Operator's Event on entering ``state`` (its reasons and messages)."""
    name = o.name
    if state == AppState.COMPLETED:
        return (Event("Normal", "SparkApplicationCompleted", f"SparkApplication {name} completed"),)
    if state == AppState.FAILED:
        return (Event("Warning", "SparkApplicationFailed", f"SparkApplication {name} failed: {error}"),)
    if state == AppState.PENDING_RERUN:
        return (
            Event("Warning", "SparkApplicationPendingRerun", f"SparkApplication {name} is pending rerun"),
        )
    if state == AppState.INVALIDATING:
        message = f"Successfully processed spec update for SparkApplication {name}: it will be resubmitted"
        return (Event("Normal", "SparkApplicationSpecUpdateProcessed", message),)
    if state in (AppState.SUSPENDING, AppState.SUSPENDED, AppState.RESUMING):
        reason = f"SparkApplication{state.value.capitalize()}"
        return (Event("Warning", reason, f"SparkApplication {name} is {state.value.lower()}"),)
    raise ValueError(f"no Event for entering {state!r}")


def decide(o: Observation) -> Decision:
    """The next state and the actions that get there."""
    state = o.state
    if o.suspend and state not in TERMINAL and state not in (AppState.SUSPENDING, AppState.SUSPENDED):
        return Decision(AppState.SUSPENDING, events=_app_event(o, AppState.SUSPENDING))
    if (
        o.spec_changed
        and not o.suspend
        and state not in (AppState.NEW, AppState.INVALIDATING, AppState.PENDING_RERUN)
    ):
        return Decision(
            AppState.INVALIDATING,
            actions=(Action.DELETE_DRIVER,) if o.driver else (),
            events=_app_event(o, AppState.INVALIDATING),
            requeue_after=0.5 if o.driver else None,
        )
    if state == AppState.NEW:
        return Decision(AppState.SUBMITTED, actions=(Action.SUBMIT,))
    if state in ACTIVE:
        return _follow_driver(o)
    if state == AppState.SUCCEEDING:
        if o.restart_policy.type == "Always":
            return _rerun(o)
        return Decision(
            AppState.COMPLETED, set_termination_time=True, events=_app_event(o, AppState.COMPLETED)
        )
    if state == AppState.FAILING:
        if not o.restart_policy.retries_failed_run(o.execution_attempts):
            return Decision(
                AppState.FAILED,
                set_termination_time=True,
                events=_app_event(o, AppState.FAILED, o.error_message),
            )
        wait = _backoff(o, o.restart_policy.on_failure_retry_interval)
        if wait > 0:
            return Decision(AppState.FAILING, requeue_after=wait)
        return _rerun(o)
    if state == AppState.SUBMISSION_FAILED:
        if not o.restart_policy.retries_failed_submission(o.submission_attempts):
            return Decision(
                AppState.FAILED,
                set_termination_time=True,
                events=_app_event(o, AppState.FAILED, o.error_message),
            )
        wait = _backoff(o, o.restart_policy.on_submission_failure_retry_interval)
        if wait > 0:
            return Decision(AppState.SUBMISSION_FAILED, requeue_after=wait)
        return Decision(AppState.SUBMITTED, actions=(Action.SUBMIT,))
    if state in (AppState.INVALIDATING, AppState.PENDING_RERUN):
        if o.driver is not None:  # wait for the previous run's pods to go
            return _until_driver_gone(state)
        return Decision(
            AppState.SUBMITTED,
            actions=(Action.SUBMIT,),
            reset_attempts=state == AppState.INVALIDATING,
            clear_run=True,
        )
    if state == AppState.SUSPENDING:
        # The driver goes (its ConfigMap and Services follow it); the run is forgotten, its attempts kept.
        return Decision(
            AppState.SUSPENDED,
            error_message="",
            actions=(Action.DELETE_DRIVER,) if o.driver else (),
            clear_run=True,
            events=_app_event(o, AppState.SUSPENDED),
        )
    if state == AppState.SUSPENDED:
        if o.driver is not None:  # removed, or still going: no resume before it is gone
            return _until_driver_gone(state)
        if o.suspend:
            return Decision(state)
        return Decision(AppState.RESUMING, events=_app_event(o, AppState.RESUMING))
    if state == AppState.RESUMING:
        if o.driver is not None:  # the suspended run's driver, still going: never two drivers
            return _until_driver_gone(state)
        return Decision(AppState.SUBMITTED, actions=(Action.SUBMIT,), clear_run=True)
    if state in TERMINAL:
        ttl = effective_time_to_live(o.time_to_live_seconds, o.default_time_to_live_seconds)
        if ttl is None or o.termination_time is None:
            return Decision(state)
        wait = _remaining(o.termination_time, ttl, o.now)
        if wait > 0:
            return Decision(state, requeue_after=wait)
        return Decision(state, actions=(Action.DELETE_APP,))
    raise ValueError(f"unknown application state {state!r}")


def effective_time_to_live(spec_seconds: float | None, default_seconds: float) -> float | None:
    """The TTL a finished application is deleted after, as the Spark Operator resolves it: its own
    ``spec.timeToLiveSeconds`` whenever set (0 or less: at once), else the operator's default when
    above 0, else none (it stays). The spec is never changed."""
    if spec_seconds is not None:
        return spec_seconds
    return default_seconds if default_seconds > 0 else None


def _until_driver_gone(state: AppState) -> Decision:
    """Stays in ``state``, the previous run's driver deleted, until it is gone."""
    return Decision(state, actions=(Action.DELETE_DRIVER,), requeue_after=0.5)


def _rerun(o: Observation) -> Decision:
    """PENDING_RERUN, the finished run forgotten as the Spark Operator forgets it (its driver info,
    executors, application id, termination time and error): what Kubeflow would find is then what it
    leaves itself, so either operator reruns it."""
    return Decision(
        AppState.PENDING_RERUN, error_message="", clear_run=True, events=_app_event(o, AppState.PENDING_RERUN)
    )


def _follow_driver(o: Observation) -> Decision:
    if o.driver is None:
        grace = f"{o.driver_grace_seconds:g}s"
        message = (
            f"Driver pod {o.driver_name} not found after grace period {grace}, marking application as Failing"
        )
        decision = Decision(
            AppState.FAILING,
            error_message="driver pod not found",
            set_termination_time=True,
            events=(Event("Warning", "SparkDriverNotFound", message),),
        )
        return _then(o, decision, "driver pod not found")
    new = _DRIVER_STATE.get(o.driver.phase, AppState.UNKNOWN)
    error = o.driver.error if new == AppState.FAILING else ""
    terminating = new in (AppState.SUCCEEDING, AppState.FAILING)
    events: tuple[Event, ...] = ()
    if new != o.state:
        kind, reason, message = _DRIVER_EVENT.get(o.driver.phase, _DRIVER_EVENT["Unknown"])
        events = (Event(kind, reason, message.format(o.driver.name)),)
    decision = Decision(new, error_message=error, set_termination_time=terminating, events=events)
    return _then(o, decision, error) if terminating else decision


def _then(o: Observation, decision: Decision, error: str) -> Decision:
    """A driver that ended: the terminal step is decided in the same reconcile (one status write)."""
    # The same observation in the state the driver's end leads to (neither a spec change nor
    # spec.suspend reach here: both are decided before the driver is followed).
    follow = decide(
        dataclasses.replace(
            o,
            state=decision.state,
            termination_time=o.now if o.termination_time is None else o.termination_time,
            error_message=error,
        )
    )
    return Decision(
        follow.state,
        error_message=error if follow.error_message is None else follow.error_message,
        actions=follow.actions,
        requeue_after=follow.requeue_after,
        set_termination_time=not follow.clear_run,
        clear_run=follow.clear_run,
        events=decision.events + follow.events,
    )


def _backoff(o: Observation, interval: float) -> float:
    """Seconds until a retry is due: ``interval x attempts`` after the last submission attempt."""
    return _remaining(o.last_submission_attempt_time, interval * max(1, o.submission_attempts), o.now)


def _remaining(since: float | None, interval: float, now: float) -> float:
    if since is None:
        return 0.0
    return max(0.0, since + interval - now)
