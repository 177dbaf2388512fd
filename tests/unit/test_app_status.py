"""The pure status edits of a reconcile: the decision's status, one fail_submission, a submission."""

from __future__ import annotations

from sparkfleet.api.sparkapplication import SparkApplicationStatus
from sparkfleet.kube.timestamps import format_time
from sparkfleet.operator.spark.app_status import (
    attempted,
    fail_submission,
    next_status,
    refused,
    set_state,
    state_of,
    submitted,
)
from sparkfleet.operator.spark.lifecycle import AppState, Decision, Driver, Observation

NOW = 1_800_000_000.0


def _status(**fields: object) -> SparkApplicationStatus:
    return SparkApplicationStatus.from_kube(fields)


def test_set_state_gives_every_status_a_driver_info_and_keeps_or_drops_the_error() -> None:
    status = _status(applicationState={"state": "FAILING", "errorMessage": "boom"})
    set_state(status, AppState.FAILED, None)
    assert status.to_kube() == {
        "applicationState": {"state": "FAILED", "errorMessage": "boom"},
        "driverInfo": {},
    }
    set_state(status, AppState.PENDING_RERUN, "")
    assert status.to_kube()["applicationState"] == {"state": "PENDING_RERUN"}
    kept = _status(driverInfo={"podName": "d"})
    set_state(kept, AppState.RUNNING, "")
    assert kept.to_kube() == {"driverInfo": {"podName": "d"}, "applicationState": {"state": "RUNNING"}}


def test_a_refusal_is_said_once_and_records_no_submission() -> None:
    status = _status(submissionID="old", submissionAttempts=3, applicationState={"state": "FAILED"})
    first = fail_submission(status, "spec.type: bad", name="app", now=NOW, written=status)
    assert first.status.to_kube() == {
        "submissionAttempts": 3,
        "lastSubmissionAttemptTime": format_time(NOW),
        "driverInfo": {},
        "applicationState": {"state": "SUBMISSION_FAILED", "errorMessage": "spec.type: bad"},
    }
    assert first.event is not None
    assert (first.event.type, first.event.reason) == ("Warning", "SparkApplicationSubmissionFailed")
    assert first.event.message == "failed to submit SparkApplication app: spec.type: bad"
    assert refused(first.status)
    again = fail_submission(first.status, "spec.type: bad", name="app", now=NOW + 5, written=first.status)
    assert again.event is None
    assert again.status.to_kube() == first.status.to_kube()
    other = fail_submission(first.status, "spec.image: bad", name="app", now=NOW, written=first.status)
    assert other.event is not None  # another reason: said


def test_a_failed_attempt_records_its_submission() -> None:
    status = attempted(_status(), NOW)
    failure = fail_submission(status, "500", name="app", now=NOW, written=_status(), submission_id="sid")
    assert failure.status.to_kube() == {
        "submissionID": "sid",
        "submissionAttempts": 1,
        "lastSubmissionAttemptTime": format_time(NOW),
        "driverInfo": {},
        "applicationState": {"state": "SUBMISSION_FAILED", "errorMessage": "500"},
    }
    assert not refused(failure.status)
    assert failure.event is not None


def test_submitted_forgets_the_previous_run() -> None:
    status = _status(terminationTime="t", executorState={"e": "FAILED"}, executionAttempts=1)
    new = submitted(
        status, submission_id="s", app_id="spark-1", driver_info={"podName": "d", "webUIPort": 4040}
    )
    assert new.to_kube() == {
        "submissionID": "s",
        "sparkApplicationId": "spark-1",
        "executionAttempts": 2,
        "driverInfo": {"podName": "d", "webUIPort": 4040},
        "applicationState": {"state": "SUBMITTED"},
    }
    assert status.termination_time == "t"  # the original is left as it was


def test_next_status_of_a_rerun_and_of_a_terminal_step() -> None:
    running = _status(
        applicationState={"state": "SUCCEEDING"},
        driverInfo={"podName": "d"},
        executorState={"e": "RUNNING"},
        sparkApplicationId="spark-1",
        terminationTime="t",
        executionAttempts=2,
        submissionAttempts=2,
    )
    o = Observation(state=AppState.SUCCEEDING, now=NOW, driver=Driver("Succeeded", name="d"))
    rerun = next_status(
        running,
        o,
        Decision(AppState.PENDING_RERUN, error_message="", clear_run=True),
        was_refused=False,
        executors=[],
        max_tracked_executors=10,
    )
    assert rerun.to_kube() == {
        "executionAttempts": 2,
        "submissionAttempts": 2,
        "driverInfo": {},
        "applicationState": {"state": "PENDING_RERUN"},
    }
    done = next_status(
        running.model_copy(update={"termination_time": None}),
        o,
        Decision(AppState.COMPLETED, set_termination_time=True),
        was_refused=True,
        executors=[],
        max_tracked_executors=10,
    )
    written = done.to_kube()
    assert written["terminationTime"] == format_time(NOW)
    assert written["executorState"] == {"e": "COMPLETED"}  # its pod gone after the application completed
    assert (written["executionAttempts"], written["submissionAttempts"]) == (0, 0)  # was refused: afresh
    assert state_of(done) == AppState.COMPLETED
