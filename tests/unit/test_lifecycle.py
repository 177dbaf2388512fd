"""Every transition of the SparkApplication lifecycle, without a cluster."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparkfleet.operator.spark.lifecycle import (
    Action,
    AppState,
    Decision,
    Driver,
    Observation,
    RestartPolicy,
    decide,
)

NOW = 1_800_000_000.0
ON_FAILURE = RestartPolicy(
    "OnFailure",
    on_failure_retries=2,
    on_failure_retry_interval=10,
    on_submission_failure_retries=1,
    on_submission_failure_retry_interval=20,
)


def obs(state: AppState, **kwargs: object) -> Observation:
    return Observation(state=state, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_new_applications_are_submitted() -> None:
    decision = decide(obs(AppState.NEW))
    assert decision.state == AppState.SUBMITTED
    assert decision.actions == (Action.SUBMIT,)


@pytest.mark.parametrize(
    ("phase", "state"),
    [("Pending", AppState.SUBMITTED), ("Running", AppState.RUNNING), ("Unknown", AppState.UNKNOWN)],
)
def test_active_states_follow_the_driver_phase(phase: str, state: AppState) -> None:
    for current in (AppState.SUBMITTED, AppState.RUNNING, AppState.UNKNOWN):
        decision = decide(obs(current, driver=Driver(phase), execution_attempts=1))
        assert decision.state == state
        assert decision.actions == ()
        assert bool(decision.events) == (current != state)  # an Event only on a transition


def test_driver_success_completes_in_one_step() -> None:
    decision = decide(obs(AppState.RUNNING, driver=Driver("Succeeded"), execution_attempts=1))
    assert decision.state == AppState.COMPLETED
    assert decision.set_termination_time
    assert [e.reason for e in decision.events] == ["SparkDriverCompleted", "SparkApplicationCompleted"]


def test_succeeding_with_restart_always_reruns() -> None:
    always = RestartPolicy("Always")
    assert decide(obs(AppState.SUCCEEDING, restart_policy=always)).state == AppState.PENDING_RERUN
    running = decide(obs(AppState.RUNNING, driver=Driver("Succeeded"), restart_policy=always))
    assert running.state == AppState.PENDING_RERUN
    # The finished run is forgotten as the Spark Operator forgets it, so that it reruns it too.
    assert running.clear_run
    assert running.error_message == ""
    assert not running.set_termination_time


def test_driver_failure_without_retries_fails_with_the_drivers_error() -> None:
    error = "driver container failed with ExitCode: 137, Reason: OOMKilled"
    decision = decide(
        obs(AppState.RUNNING, driver=Driver("Failed", error, "pi-driver"), execution_attempts=1, name="pi")
    )
    assert decision.state == AppState.FAILED
    assert decision.error_message == error
    assert decision.set_termination_time
    assert [(e.type, e.reason, e.message) for e in decision.events] == [
        ("Warning", "SparkDriverFailed", "Driver pi-driver failed"),
        ("Warning", "SparkApplicationFailed", f"SparkApplication pi failed: {error}"),
    ]


def test_driver_failure_with_on_failure_waits_the_interval_then_reruns() -> None:
    # The wait is counted from the last submission attempt, as the Spark Operator counts it.
    first = decide(
        obs(AppState.RUNNING, driver=Driver("Failed", "boom"), execution_attempts=1, submission_attempts=1,
            last_submission_attempt_time=NOW, restart_policy=ON_FAILURE)
    )  # fmt: skip
    assert first.state == AppState.FAILING
    assert first.error_message == "boom"
    assert first.requeue_after == pytest.approx(10)
    waiting = decide(
        obs(AppState.FAILING, execution_attempts=1, submission_attempts=1, last_submission_attempt_time=NOW - 4,
            restart_policy=ON_FAILURE)
    )  # fmt: skip
    assert waiting.state == AppState.FAILING
    assert waiting.requeue_after == pytest.approx(6)
    assert waiting.error_message is None  # the failure's message is kept
    due = decide(
        obs(AppState.FAILING, execution_attempts=1, submission_attempts=1, last_submission_attempt_time=NOW - 10,
            restart_policy=ON_FAILURE)
    )  # fmt: skip
    assert due.state == AppState.PENDING_RERUN


@pytest.mark.parametrize(("state", "interval"), [(AppState.FAILING, 10), (AppState.SUBMISSION_FAILED, 20)])
def test_retries_back_off_linearly_with_the_attempts(state: AppState, interval: float) -> None:
    """The Spark Operator waits ``interval x submission attempts`` before each retry."""
    policy = RestartPolicy("OnFailure", on_failure_retries=5, on_failure_retry_interval=10,
                           on_submission_failure_retries=5, on_submission_failure_retry_interval=20)  # fmt: skip
    for attempts in (1, 2, 3):
        waiting = decide(obs(state, execution_attempts=attempts, submission_attempts=attempts,
                             last_submission_attempt_time=NOW, restart_policy=policy))  # fmt: skip
        assert waiting.state == state
        assert waiting.requeue_after == pytest.approx(interval * attempts)
        due = decide(obs(state, execution_attempts=attempts, submission_attempts=attempts,
                         last_submission_attempt_time=NOW - interval * attempts, restart_policy=policy))  # fmt: skip
        assert due.state != state


def test_on_failure_retries_are_bounded() -> None:
    retry = decide(
        obs(AppState.FAILING, execution_attempts=2, submission_attempts=2, last_submission_attempt_time=NOW - 60,
            restart_policy=ON_FAILURE)
    )  # fmt: skip
    assert retry.state == AppState.PENDING_RERUN
    exhausted = decide(
        obs(AppState.FAILING, execution_attempts=3, termination_time=NOW, restart_policy=ON_FAILURE)
    )
    assert exhausted.state == AppState.FAILED


def test_never_does_not_retry_and_always_retries_failures_forever() -> None:
    never = decide(obs(AppState.FAILING, execution_attempts=1, termination_time=NOW))
    assert never.state == AppState.FAILED
    always = RestartPolicy("Always", on_failure_retry_interval=5, on_submission_failure_retry_interval=5)
    run = decide(obs(AppState.FAILING, execution_attempts=50, submission_attempts=50,
                     last_submission_attempt_time=NOW - 250, restart_policy=always))  # fmt: skip
    assert run.state == AppState.PENDING_RERUN
    submission = decide(obs(AppState.SUBMISSION_FAILED, submission_attempts=50,
                            last_submission_attempt_time=NOW - 250, restart_policy=always))  # fmt: skip
    assert submission.state == AppState.SUBMITTED  # Always retries failed submissions without limit too


def test_submission_failures_retry_after_their_interval_then_fail() -> None:
    waiting = decide(
        obs(AppState.SUBMISSION_FAILED, submission_attempts=1, last_submission_attempt_time=NOW - 5,
            restart_policy=ON_FAILURE)
    )  # fmt: skip
    assert waiting.state == AppState.SUBMISSION_FAILED
    assert waiting.requeue_after == pytest.approx(15)
    due = decide(obs(AppState.SUBMISSION_FAILED, submission_attempts=1, last_submission_attempt_time=NOW - 20,
                     restart_policy=ON_FAILURE))  # fmt: skip
    assert due.state == AppState.SUBMITTED
    assert due.actions == (Action.SUBMIT,)
    exhausted = decide(obs(AppState.SUBMISSION_FAILED, submission_attempts=2, restart_policy=ON_FAILURE))
    assert exhausted.state == AppState.FAILED
    assert decide(obs(AppState.SUBMISSION_FAILED, submission_attempts=1)).state == AppState.FAILED  # Never


def test_pending_rerun_deletes_the_old_driver_then_resubmits() -> None:
    deleting = decide(obs(AppState.PENDING_RERUN, driver=Driver("Failed")))
    assert deleting.state == AppState.PENDING_RERUN
    assert deleting.actions == (Action.DELETE_DRIVER,)
    assert deleting.requeue_after
    resubmit = decide(obs(AppState.PENDING_RERUN))
    assert resubmit.state == AppState.SUBMITTED
    assert resubmit.actions == (Action.SUBMIT,)
    assert resubmit.clear_run
    assert not resubmit.reset_attempts  # retries keep counting


@pytest.mark.parametrize(
    "state",
    [
        AppState.SUBMITTED,
        AppState.RUNNING,
        AppState.UNKNOWN,
        AppState.COMPLETED,
        AppState.FAILED,
        AppState.FAILING,
    ],
)
def test_a_spec_change_invalidates_then_resubmits_with_a_fresh_budget(state: AppState) -> None:
    invalidating = decide(obs(state, driver=Driver("Running"), spec_changed=True))
    assert invalidating.state == AppState.INVALIDATING
    assert invalidating.actions == (Action.DELETE_DRIVER,)
    assert invalidating.events[0].reason == "SparkApplicationSpecUpdateProcessed"
    still_deleting = decide(obs(AppState.INVALIDATING, driver=Driver("Running"), spec_changed=True))
    assert still_deleting.actions == (Action.DELETE_DRIVER,)
    resubmit = decide(obs(AppState.INVALIDATING, spec_changed=True))
    assert resubmit.state == AppState.SUBMITTED
    assert resubmit.actions == (Action.SUBMIT,)
    assert resubmit.reset_attempts
    assert resubmit.clear_run


def test_a_lost_driver_fails_the_run() -> None:
    decision = decide(
        obs(AppState.RUNNING, driver=None, execution_attempts=1, name="pi", driver_name="pi-driver")
    )
    assert decision.state == AppState.FAILED  # no retries: the terminal step in the same write
    assert decision.error_message == "driver pod not found"
    assert [(e.type, e.reason, e.message) for e in decision.events] == [
        ("Warning", "SparkDriverNotFound",
         "Driver pod pi-driver not found after grace period 10s, marking application as Failing"),
        ("Warning", "SparkApplicationFailed", "SparkApplication pi failed: driver pod not found"),
    ]  # fmt: skip
    retried = decide(
        obs(AppState.RUNNING, driver=None, execution_attempts=1, submission_attempts=1,
            last_submission_attempt_time=NOW, restart_policy=ON_FAILURE)
    )  # fmt: skip
    assert retried.state == AppState.FAILING
    assert retried.requeue_after == pytest.approx(10)


def test_ttl_deletes_finished_applications_when_it_expires() -> None:
    for state in (AppState.COMPLETED, AppState.FAILED):
        assert decide(obs(state)).actions == ()  # no TTL: kept forever
        early = decide(obs(state, termination_time=NOW - 30, time_to_live_seconds=100))
        assert early.requeue_after == pytest.approx(70)
        assert early.actions == ()
        expired = decide(obs(state, termination_time=NOW - 100, time_to_live_seconds=100))
        assert expired.actions == (Action.DELETE_APP,)
        assert expired.state == state


_STATES = st.sampled_from(list(AppState))
_DRIVERS = st.one_of(
    st.none(), st.builds(Driver, st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Unknown"]))
)
_POLICIES = st.builds(
    RestartPolicy,
    st.sampled_from(["Never", "OnFailure", "Always"]),
    st.integers(0, 5),
    st.floats(0, 100),
    st.integers(0, 5),
    st.floats(0, 100),
)


@given(
    state=_STATES,
    driver=_DRIVERS,
    spec_changed=st.booleans(),
    submissions=st.integers(0, 10),
    executions=st.integers(0, 10),
    policy=_POLICIES,
    ttl=st.one_of(st.none(), st.floats(0, 1000)),
    since=st.one_of(st.none(), st.floats(0, 1000)),
    suspend=st.booleans(),
)
def test_every_observation_has_a_consistent_decision(
    state: AppState, driver: Driver | None, spec_changed: bool, submissions: int, executions: int,
    policy: RestartPolicy, ttl: float | None, since: float | None, suspend: bool,
) -> None:  # fmt: skip
    decision: Decision = decide(
        Observation(
            state=state, now=NOW, driver=driver, spec_changed=spec_changed, submission_attempts=submissions,
            execution_attempts=executions,
            last_submission_attempt_time=None if since is None else NOW - since,
            termination_time=None if since is None else NOW - since, restart_policy=policy,
            time_to_live_seconds=ttl, suspend=suspend,
        )
    )  # fmt: skip
    # Submitting is only ever paired with the SUBMITTED state, deleting the app only with a finished one,
    # and a driver is only deleted when one exists.
    if Action.SUBMIT in decision.actions:
        assert decision.state == AppState.SUBMITTED
        assert driver is None or state in (AppState.NEW, AppState.SUBMISSION_FAILED)
    if Action.DELETE_APP in decision.actions:
        assert decision.state in (AppState.COMPLETED, AppState.FAILED)
    if Action.DELETE_DRIVER in decision.actions:
        assert driver is not None
    if decision.requeue_after is not None:
        assert decision.requeue_after >= 0
    if suspend and state not in (AppState.COMPLETED, AppState.FAILED):  # suspended: no new pods, ever
        assert Action.SUBMIT not in decision.actions
        assert decision.state in (AppState.SUSPENDING, AppState.SUSPENDED)
    assert len(decision.actions) <= 1


@pytest.mark.parametrize(
    ("phase", "kind", "reason", "message"),
    [
        ("Running", "Normal", "SparkDriverRunning", "Driver pi-driver is running"),
        ("Succeeded", "Normal", "SparkDriverCompleted", "Driver pi-driver completed"),
        ("Failed", "Warning", "SparkDriverFailed", "Driver pi-driver failed"),
        ("Unknown", "Warning", "SparkDriverUnknown", "Driver pi-driver in unknown state"),
    ],
)
def test_driver_events_are_the_spark_operators(phase: str, kind: str, reason: str, message: str) -> None:
    decision = decide(obs(AppState.SUBMITTED, driver=Driver(phase, "", "pi-driver"), name="pi"))
    assert (decision.events[0].type, decision.events[0].reason, decision.events[0].message) == (
        kind, reason, message
    )  # fmt: skip
    back = decide(obs(AppState.RUNNING, driver=Driver("Pending", "", "pi-driver"), name="pi"))
    assert [(e.reason, e.message) for e in back.events] == [
        ("SparkDriverPending", "Driver pi-driver is pending")
    ]


def test_application_events_are_the_spark_operators() -> None:
    done = decide(obs(AppState.SUCCEEDING, name="pi"))
    assert [(e.type, e.reason, e.message) for e in done.events] == [
        ("Normal", "SparkApplicationCompleted", "SparkApplication pi completed")
    ]
    rerun = decide(obs(AppState.SUCCEEDING, name="pi", restart_policy=RestartPolicy("Always")))
    assert [(e.type, e.reason, e.message) for e in rerun.events] == [
        ("Warning", "SparkApplicationPendingRerun", "SparkApplication pi is pending rerun")
    ]
    gave_up = decide(obs(AppState.SUBMISSION_FAILED, name="pi", submission_attempts=1,
                         error_message="serviceaccounts \"spark\" not found"))  # fmt: skip
    assert gave_up.state == AppState.FAILED
    assert gave_up.events[0].message == 'SparkApplication pi failed: serviceaccounts "spark" not found'


SUSPENDABLE = [s for s in AppState if s not in (AppState.COMPLETED, AppState.FAILED, AppState.SUSPENDED,
                                                AppState.SUSPENDING)]  # fmt: skip


@pytest.mark.parametrize("state", SUSPENDABLE)
def test_suspend_moves_every_unfinished_state_to_suspending(state: AppState) -> None:
    for driver in (None, Driver("Running", "", "pi-driver")):
        decision = decide(obs(state, driver=driver, suspend=True, spec_changed=True, name="pi"))
        assert decision.state == AppState.SUSPENDING
        assert decision.actions == ()
        assert [(e.type, e.reason, e.message) for e in decision.events] == [
            ("Warning", "SparkApplicationSuspending", "SparkApplication pi is suspending")
        ]


@pytest.mark.parametrize("state", [AppState.COMPLETED, AppState.FAILED])
def test_suspend_leaves_finished_applications_alone(state: AppState) -> None:
    assert decide(obs(state, suspend=True)) == Decision(state)


def test_suspending_removes_the_driver_and_forgets_the_run() -> None:
    decision = decide(obs(AppState.SUSPENDING, driver=Driver("Running"), suspend=True, name="pi"))
    assert decision.state == AppState.SUSPENDED
    assert decision.actions == (Action.DELETE_DRIVER,)
    assert decision.clear_run
    assert decision.error_message == ""
    assert not decision.reset_attempts  # the retry budget is kept, as the Spark Operator keeps it
    assert [e.reason for e in decision.events] == ["SparkApplicationSuspended"]
    assert decide(obs(AppState.SUSPENDING, suspend=True)).actions == ()  # never submitted: nothing to remove


def test_suspended_waits_for_unsuspend_and_for_the_driver_to_be_gone_then_resumes() -> None:
    assert decide(obs(AppState.SUSPENDED, suspend=True)) == Decision(AppState.SUSPENDED)
    going = decide(obs(AppState.SUSPENDED, driver=Driver("Running"), suspend=False))
    assert going.state == AppState.SUSPENDED
    assert going.actions == (Action.DELETE_DRIVER,)
    resuming = decide(obs(AppState.SUSPENDED, suspend=False, name="pi"))
    assert resuming.state == AppState.RESUMING
    assert resuming.actions == ()
    assert [(e.reason, e.message) for e in resuming.events] == [
        ("SparkApplicationResuming", "SparkApplication pi is resuming")
    ]
    resubmit = decide(obs(AppState.RESUMING, name="pi"))
    assert resubmit.state == AppState.SUBMITTED
    assert resubmit.actions == (Action.SUBMIT,)
    assert decide(obs(AppState.RESUMING, suspend=True)).state == AppState.SUSPENDING  # suspended again
