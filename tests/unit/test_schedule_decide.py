"""The ScheduledSparkApplication's pure decision: which run to start, which to delete, the status."""

from __future__ import annotations

import dataclasses
import datetime

from hypothesis import given
from hypothesis import strategies as st

from sparkfleet.api.scheduled import ScheduledSparkApplicationStatus as Status
from sparkfleet.kube.timestamps import format_time
from sparkfleet.operator.spark.schedule import Schedule, run_name
from sparkfleet.operator.spark.schedule_decide import (
    CATCH_UP_WINDOW,
    Run,
    Snapshot,
    decide,
    failed_validation_status,
    refused_run_status,
)

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 24, 3, 0, 30, tzinfo=UTC)
EVERY_MINUTE = Schedule.parse("* * * * *")
CREATED = "2026-11-24T02:59:10Z"  # the first run was due at 03:00:00, 30 s ago
DUE = datetime.datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def snapshot(**changes: object) -> Snapshot:
    base = Snapshot(name="nightly", schedule=EVERY_MINUTE, now=NOW, created=CREATED)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def run(name: str, state: str = "RUNNING", created: str = "2026-11-24T02:00:00Z") -> Run:
    return Run(name=name, uid=f"uid-{name}", state=state, created=created)


def test_a_due_run_is_started_named_after_its_due_time() -> None:
    decision = decide(snapshot())
    assert decision.start is not None
    assert decision.start.due == DUE
    assert decision.start.name == run_name("nightly", DUE) == "nightly-1795489200000000000"
    assert decision.status.to_kube() == {
        "scheduleState": "Scheduled",
        "lastRun": "2026-11-24T03:00:00Z",
        "lastRunName": "nightly-1795489200000000000",
        "nextRun": "2026-11-24T03:01:00Z",
    }
    assert decision.requeue_after == 30.0
    assert decision.replace == decision.prune == ()
    assert decision.skipped is None


def test_the_timestamp_precision_names_the_run() -> None:
    assert decide(snapshot(timestamp_precision="seconds")).start.name == "nightly-1795489200"  # type: ignore[union-attr]


def test_no_run_is_due_before_its_time() -> None:
    decision = decide(snapshot(created="2026-11-24T03:00:10Z"))
    assert decision.start is None
    assert decision.status.to_kube() == {"scheduleState": "Scheduled", "nextRun": "2026-11-24T03:01:00Z"}
    assert decision.requeue_after == 30.0


def test_the_last_run_anchors_the_next_one() -> None:
    status = Status(
        last_run="2026-11-24T03:00:00Z", last_run_name="nightly-1", next_run="2026-11-24T03:01:00Z"
    )
    decision = decide(snapshot(status=status))
    assert decision.start is None
    assert decision.status.to_kube() == {**status.to_kube(), "scheduleState": "Scheduled"}


def test_without_a_creation_time_the_anchor_is_now() -> None:
    assert decide(snapshot(created=None)).start is None


def test_a_run_due_is_started_when_another_is_active_under_allow() -> None:
    decision = decide(snapshot(runs=(run("nightly-0"),)))
    assert decision.start is not None
    assert decision.replace == ()


def test_forbid_skips_a_due_run_while_another_is_active() -> None:
    decision = decide(snapshot(concurrency_policy="Forbid", runs=(run("nightly-0"),)))
    assert decision.start is None
    assert decision.skipped == DUE
    assert decision.status.last_run == "2026-11-24T03:00:00Z"  # skipped, not postponed
    assert decision.status.last_run_name is None
    assert decision.status.next_run == "2026-11-24T03:01:00Z"


def test_forbid_starts_a_run_once_the_previous_one_finished() -> None:
    decision = decide(snapshot(concurrency_policy="Forbid", runs=(run("nightly-0", "COMPLETED"),)))
    assert decision.start is not None
    assert decision.skipped is None


def test_replace_deletes_the_active_runs_and_starts_the_due_one() -> None:
    runs = (run("nightly-0"), run("nightly-1", "FAILED"), run("nightly-2", "SUBMITTED"))
    decision = decide(snapshot(concurrency_policy="Replace", runs=runs))
    assert decision.start is not None
    assert [r.name for r in decision.replace] == ["nightly-0", "nightly-2"]


def test_replace_deletes_nothing_when_no_run_is_due() -> None:
    decision = decide(snapshot(concurrency_policy="Replace", created=None, runs=(run("nightly-0"),)))
    assert decision.start is None
    assert decision.replace == ()


def test_suspend_starts_nothing_and_asks_for_no_requeue() -> None:
    decision = decide(snapshot(suspend=True))
    assert decision.start is None
    assert decision.requeue_after is None
    assert decision.status.next_run == "2026-11-24T03:00:00Z"  # overdue: the next run once resumed
    assert decision.status.last_run is None


def test_a_run_missed_by_more_than_the_catch_up_window_is_followed_by_the_first_after_now() -> None:
    decision = decide(snapshot(created="2026-11-24T01:00:10Z"))
    assert decision.start is not None
    assert decision.start.due == datetime.datetime(2026, 11, 24, 1, 1, tzinfo=UTC)  # the first missed
    assert decision.status.next_run == "2026-11-24T03:01:00Z"


def test_runs_missed_long_ago_are_started_one_decision_after_another() -> None:
    first = decide(snapshot(created="2026-11-24T01:00:10Z"))
    second = decide(snapshot(created="2026-11-24T01:00:10Z", status=first.status))
    assert second.start is not None
    assert second.start.due == datetime.datetime(2026, 11, 24, 1, 2, tzinfo=UTC)
    assert second.requeue_after == 30.0  # nextRun: the first after now


def test_a_run_missed_within_the_catch_up_window_is_followed_by_the_next_in_line() -> None:
    every = Schedule.parse("@every 10s")
    decision = decide(snapshot(schedule=every, status=Status(last_run="2026-11-24T03:00:00Z")))
    assert decision.start is not None
    assert decision.start.due == datetime.datetime(2026, 11, 24, 3, 0, 10, tzinfo=UTC)
    assert decision.status.next_run == "2026-11-24T03:00:20Z"  # already due: caught up at once
    assert decision.requeue_after == 0.05


def test_history_keeps_the_newest_finished_runs_within_their_limits() -> None:
    runs = (
        run("s1", "COMPLETED", "2026-11-24T00:01:00Z"),
        run("f1", "FAILED", "2026-11-24T00:02:00Z"),
        run("s2", "COMPLETED", "2026-11-24T00:03:00Z"),
        run("f2", "FAILED", "2026-11-24T00:04:00Z"),
        run("s3", "COMPLETED", "2026-11-24T00:05:00Z"),
        run("a1", "RUNNING", "2026-11-24T00:00:00Z"),
    )
    decision = decide(snapshot(runs=runs[::-1], successful_run_history_limit=2))
    assert [r.name for r in decision.prune] == ["s1", "f1"]  # oldest first
    assert decision.status.past_successful_run_names == ["s3", "s2"]  # newest first
    assert decision.status.past_failed_run_names == ["f2"]


def test_a_history_limit_of_zero_keeps_no_run_and_no_field() -> None:
    runs = (run("s1", "COMPLETED"),)
    status = Status(past_successful_run_names=["s0"])
    decision = decide(snapshot(runs=runs, status=status, successful_run_history_limit=0))
    assert [r.name for r in decision.prune] == ["s1"]
    assert "pastSuccessfulRunNames" not in decision.status.to_kube()


def test_unknown_status_fields_are_kept_and_a_reason_is_dropped() -> None:
    status = Status.model_validate(
        {"reason": "old", "scheduleState": "FailedValidation", "extra": {"a": [1]}}
    )
    wire = decide(snapshot(status=status)).status.to_kube()
    assert wire["extra"] == {"a": [1]}
    assert "reason" not in wire
    assert wire["scheduleState"] == "Scheduled"


def test_a_run_whose_name_is_taken_passes_its_due_time_but_not_the_last_run_name() -> None:
    status = Status(last_run_name="nightly-0")
    decision = decide(snapshot(status=status, runs=(run("s1", "COMPLETED"),)))
    assert decision.status_if_name_taken is not None
    assert decision.status_if_name_taken.to_kube() == {
        **decision.status.to_kube(),
        "lastRunName": "nightly-0",
    }
    assert decide(snapshot(status=Status())).status_if_name_taken.to_kube().get("lastRunName") is None  # type: ignore[union-attr]


def test_a_refused_run_says_why_and_moves_nothing_else() -> None:
    status = Status(last_run="2026-11-24T02:00:00Z", next_run="2026-11-24T02:01:00Z", reason="old")
    refused = refused_run_status(status, "cannot start a run: 403 Forbidden")
    assert refused.to_kube() == {
        "lastRun": "2026-11-24T02:00:00Z",
        "nextRun": "2026-11-24T02:01:00Z",
        "scheduleState": "Scheduled",
        "reason": "cannot start a run: 403 Forbidden",
    }


def test_an_invalid_schedule_keeps_its_status_as_stored() -> None:
    stored = {"lastRun": 12, "other": True}  # not even a valid status
    assert failed_validation_status(stored, "spec.schedule: bad") == {
        "lastRun": 12,
        "other": True,
        "scheduleState": "FailedValidation",
        "reason": "spec.schedule: bad",
    }


# -- properties -------------------------------------------------------------------------------------

STATES = st.sampled_from(["", "SUBMITTED", "RUNNING", "COMPLETED", "FAILED", "PENDING_RERUN", "UNKNOWN"])
SECONDS = st.integers(min_value=0, max_value=7200)
BASE = datetime.datetime(2026, 11, 24, tzinfo=UTC)


@st.composite
def runs_of(draw: st.DrawFn) -> tuple[Run, ...]:
    count = draw(st.integers(min_value=0, max_value=8))
    return tuple(
        Run(
            name=f"nightly-{i}",
            uid=f"u{i}",
            state=draw(STATES),
            created=format_time(BASE + datetime.timedelta(seconds=draw(SECONDS))),
        )
        for i in range(count)
    )


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    now = BASE + datetime.timedelta(seconds=draw(st.integers(min_value=3600, max_value=4 * 3600)))
    last = draw(st.none() | st.integers(min_value=0, max_value=4 * 3600))
    expression = draw(st.sampled_from(["* * * * *", "*/5 * * * *", "@hourly", "@every 7s", "@every 2m30s"]))
    return Snapshot(
        name="nightly",
        schedule=Schedule.parse(expression, draw(st.sampled_from([None, "Europe/Paris"]))),
        now=now,
        status=Status(
            last_run=None if last is None else format_time(BASE + datetime.timedelta(seconds=last))
        ),
        runs=draw(runs_of()),
        created=format_time(BASE),
        suspend=draw(st.booleans()),
        concurrency_policy=draw(st.sampled_from(["Allow", "Forbid", "Replace"])),
        successful_run_history_limit=draw(st.integers(min_value=0, max_value=4)),
        failed_run_history_limit=draw(st.integers(min_value=0, max_value=4)),
    )


def _active_after(s: Snapshot) -> int:
    decision = decide(s)
    left = [r for r in s.runs if r.outcome is None and r not in decision.replace and r not in decision.prune]
    return len(left) + (decision.start is not None)


@given(snapshots())
def test_forbid_never_adds_a_second_active_run(s: Snapshot) -> None:
    s = dataclasses.replace(s, concurrency_policy="Forbid")
    before = sum(r.outcome is None for r in s.runs)
    assert _active_after(s) <= max(before, 1)
    if before:
        assert decide(s).start is None


@given(snapshots())
def test_replace_leaves_the_new_run_alone_active(s: Snapshot) -> None:
    s = dataclasses.replace(s, concurrency_policy="Replace")
    if decide(s).start is not None:
        assert _active_after(s) == 1


@given(snapshots())
def test_history_never_exceeds_its_limits_and_only_finished_runs_are_pruned(s: Snapshot) -> None:
    decision = decide(s)
    status = decision.status
    assert len(status.past_successful_run_names or []) <= s.successful_run_history_limit
    assert len(status.past_failed_run_names or []) <= s.failed_run_history_limit
    assert all(r.outcome is not None for r in decision.prune)
    kept = {*(status.past_successful_run_names or []), *(status.past_failed_run_names or [])}
    finished = {r.name for r in s.runs if r.outcome is not None}
    assert kept | {r.name for r in decision.prune} == finished
    assert not kept & {r.name for r in decision.prune}
    for pruned in decision.prune:  # the oldest go: every run kept of its outcome is no older
        assert all(
            r.created >= pruned.created for r in s.runs if r.name in kept and r.outcome == pruned.outcome
        )


@given(snapshots())
def test_the_next_run_follows_the_last_and_only_a_recent_miss_is_caught_up(s: Snapshot) -> None:
    decision = decide(s)
    assert decision.status.next_run == format_time(decision.next_run)
    if decision.start is not None or decision.skipped is not None:
        due = decision.start.due if decision.start else decision.skipped
        assert due is not None
        assert due <= s.now
        assert decision.next_run > due
        assert decision.status.last_run == format_time(due)
        if due <= s.now - datetime.timedelta(minutes=1):
            assert decision.next_run > s.now  # a run missed long ago is not caught up on
    elif not s.suspend:
        assert decision.next_run > s.now
    if s.suspend:
        assert decision.start is None
        assert decision.requeue_after is None
    else:
        assert decision.requeue_after is not None
        assert decision.requeue_after >= 0.05


@given(snapshots())
def test_a_second_decision_after_the_run_starts_nothing(s: Snapshot) -> None:
    """When the run started was the last one due (the next is later than now): a run missed by more
    than the catch-up window is followed by the others missed since, one decision each."""
    first = decide(s)
    if first.start is None or first.next_run <= s.now or first.start.due <= s.now - CATCH_UP_WINDOW:
        return
    started = Run(
        name=first.start.name, uid="new", created=format_time(s.now + datetime.timedelta(seconds=1))
    )
    survivors = tuple(r for r in s.runs if r not in first.replace and r not in first.prune)
    second = decide(dataclasses.replace(s, status=first.status, runs=(*survivors, started)))
    assert second.start is None
    assert second.skipped is None
    assert second.replace == second.prune == ()
    assert second.status == first.status


@given(
    st.dictionaries(
        st.sampled_from(["lastRun", "nextRun", "lastRunName", "reason", "x-unknown", "scheduleState"]),
        st.text(max_size=5),
    )
)
def test_the_status_model_round_trips_what_is_stored(stored: dict[str, str]) -> None:
    if "scheduleState" in stored:
        stored["scheduleState"] = "Scheduled"
    assert Status.model_validate(stored).to_kube() == stored
    assert Status.model_validate(stored).changed().to_kube() == stored
