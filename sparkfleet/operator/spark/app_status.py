"""The SparkApplication's status, typed, and the pure edits a reconcile makes to it.

Every edit works on a copy of a :class:`SparkApplicationStatus` and returns it; what is written is
its ``to_kube()``: the keys it was read with (unknown ones kept), plus those set, minus those unset.

- :func:`next_status`: the status :func:`lifecycle.decide`'s decision leads to (the status half of
  the decision: attempts reset, previous run forgotten, state, termination time, executor states);
- :func:`fail_submission`: SUBMISSION_FAILED and its Event, the one way a submission fails;
- :func:`submitted`: the status of a submission made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sparkfleet.api.sparkapplication import ApplicationState, DriverInfo, SparkApplicationStatus
from sparkfleet.kube.timestamps import format_time
from sparkfleet.operator.spark.lifecycle import AppState, Decision, Event, Observation
from sparkfleet.operator.spark.status import executor_states

# States in which the previous run is forgotten: its executors are not tracked any more.
RUN_FORGOTTEN = frozenset(
    {AppState.INVALIDATING, AppState.PENDING_RERUN, AppState.SUSPENDED, AppState.RESUMING}
)
REASON_SUBMISSION_FAILED = "SparkApplicationSubmissionFailed"


def state_of(status: SparkApplicationStatus) -> AppState:
    return AppState((status.application_state.state if status.application_state else "") or "")


def error_message_of(status: SparkApplicationStatus) -> str:
    return (status.application_state.error_message if status.application_state else None) or ""


def refused(status: SparkApplicationStatus) -> bool:
    """Whether ``status`` is a refusal of an invalid spec: SUBMISSION_FAILED and no submissionID
    (every submission records one, as the Spark Operator's do: that is how a refusal is told apart)."""
    return state_of(status) == AppState.SUBMISSION_FAILED and not status.submission_id


def set_state(status: SparkApplicationStatus, state: AppState, error_message: str | None) -> None:
    """Sets ``applicationState`` (``error_message`` None keeps the errorMessage as it is, "" removes it)."""
    # The Spark Operator's CRD requires status.driverInfo: every status carries one, empty until a
    # driver is submitted (a SUBMISSION_FAILED status had none, and under that CRD was refused).
    if "driver_info" not in status.model_fields_set:
        status.driver_info = DriverInfo()
    current = status.application_state.model_copy() if status.application_state else ApplicationState()
    current.state = state.value
    if error_message is not None:
        if error_message:
            current.error_message = error_message
        elif "error_message" in current.model_fields_set:
            current.error_message = None
            current.model_fields_set.discard("error_message")
    status.application_state = current


def next_status(
    status: SparkApplicationStatus,
    o: Observation,
    decision: Decision,
    *,
    was_refused: bool,
    executors: list[dict[str, Any]],
    max_tracked_executors: int,
) -> SparkApplicationStatus:
    """The status ``decision`` leads to from ``status`` (before its actions run)."""
    new = status.model_copy(deep=True)
    if decision.reset_attempts or was_refused:
        new.execution_attempts = 0
        new.submission_attempts = 0
    if decision.clear_run:
        new.unset("termination_time", "executor_state", "driver_info", "spark_application_id")
    set_state(new, decision.state, decision.error_message)
    if decision.set_termination_time and not new.termination_time:
        new.termination_time = format_time(o.now)
    if decision.state not in RUN_FORGOTTEN and (executors or new.executor_state):
        states = executor_states(
            executors,
            max_tracked_executors,
            cast(dict[str, str] | None, new.executor_state),
            completed=decision.state in (AppState.SUCCEEDING, AppState.COMPLETED),
            driver_running=o.driver is not None and o.driver.phase == "Running",
        )
        new.executor_state = cast(Any, states)
    return new


@dataclass(frozen=True, slots=True)
class SubmissionFailure:
    """A failed submission: the status to write, and its Event (None: ``written`` says it already)."""

    status: SparkApplicationStatus
    event: Event | None


def fail_submission(
    status: SparkApplicationStatus,
    message: str,
    *,
    name: str,
    now: float,
    written: SparkApplicationStatus,
    submission_id: str | None = None,
) -> SubmissionFailure:
    """SUBMISSION_FAILED with ``message``, and the Spark Operator's Warning Event for it.

    With ``submission_id``: a failed attempt, whose submission ID is recorded (as the Spark
    Operator records one); the restart policy may retry it.

    Without: the spec is refused as invalid (retrying cannot fix it): no submissionID, and one
    submission attempt counted at ``now``, so that the Spark Operator, handed the application
    back, reads a failed submission it can retry or end. Said once: when ``written`` (the status
    as stored) is this refusal already, the status is ``written`` and there is no Event."""
    if submission_id is None and refused(written) and error_message_of(written) == message:
        return SubmissionFailure(written.model_copy(deep=True), None)
    new = status.model_copy(deep=True)
    if submission_id is None:
        new.unset("submission_id")
        new.submission_attempts = max(1, new.submission_attempts or 0)
        new.last_submission_attempt_time = format_time(now)
    else:
        new.submission_id = submission_id
    set_state(new, AppState.SUBMISSION_FAILED, message)
    event = Event("Warning", REASON_SUBMISSION_FAILED, f"failed to submit SparkApplication {name}: {message}")
    return SubmissionFailure(new, event)


def attempted(status: SparkApplicationStatus, now: float) -> SparkApplicationStatus:
    """One more submission attempt, at ``now``."""
    new = status.model_copy(deep=True)
    new.submission_attempts = (new.submission_attempts or 0) + 1
    new.last_submission_attempt_time = format_time(now)
    return new


def submitted(
    status: SparkApplicationStatus,
    *,
    submission_id: str,
    app_id: str,
    driver_info: dict[str, Any],
) -> SparkApplicationStatus:
    """The status of a submission made: its IDs, one more execution attempt, the driver's info
    (``podName`` and the UI's fields), SUBMITTED; the previous run's end and executors forgotten."""
    new = status.model_copy(deep=True)
    new.submission_id = submission_id
    new.spark_application_id = app_id
    new.execution_attempts = (new.execution_attempts or 0) + 1
    new.driver_info = DriverInfo.model_validate(driver_info)
    new.unset("termination_time", "executor_state")
    set_state(new, AppState.SUBMITTED, "")
    return new
