"""--default-time-to-live-seconds: the TTL of finished applications that set none (Kubeflow's
util.EffectiveTimeToLiveSeconds), decided by the lifecycle's one TTL path."""

from __future__ import annotations

import pytest

from sparkfleet.kubeflow_flags import DROPPED, translate
from sparkfleet.operator.spark.lifecycle import (
    Action,
    AppState,
    Observation,
    decide,
    effective_time_to_live,
)
from sparkfleet.options import RunOptions

NOW = 1_800_000_000.0


def finished(state: AppState = AppState.COMPLETED, **kwargs: object) -> Observation:
    return Observation(state=state, now=NOW, termination_time=NOW - 30, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "default", "effective"),
    [
        (None, 0.0, None),  # neither: kept
        (None, 60.0, 60.0),  # the default
        (10.0, 60.0, 10.0),  # the spec's wins
        (0.0, 60.0, 0.0),  # an explicit 0 (at once) wins too
        (-5.0, 60.0, -5.0),
        (None, -1.0, None),  # a default of 0 or less is none
    ],
)
def test_the_spec_wins_and_the_default_applies_only_above_zero(
    spec: float | None, default: float, effective: float | None
) -> None:
    assert effective_time_to_live(spec, default) == effective


def test_a_finished_application_without_ttl_is_deleted_after_the_default() -> None:
    for state in (AppState.COMPLETED, AppState.FAILED):
        assert decide(finished(state)).actions == ()  # no default: kept
        early = decide(finished(state, default_time_to_live_seconds=100))
        assert early.actions == ()
        assert early.requeue_after == pytest.approx(70)
        expired = decide(finished(state, default_time_to_live_seconds=30))
        assert expired.actions == (Action.DELETE_APP,)
        assert expired.state == state


def test_the_default_never_shortens_nor_lengthens_a_ttl_the_spec_sets() -> None:
    kept = decide(finished(time_to_live_seconds=100, default_time_to_live_seconds=1))
    assert kept.actions == ()
    assert kept.requeue_after == pytest.approx(70)
    gone = decide(finished(time_to_live_seconds=1, default_time_to_live_seconds=1000))
    assert gone.actions == (Action.DELETE_APP,)


def test_the_default_does_not_touch_running_applications() -> None:
    running = Observation(state=AppState.RUNNING, now=NOW, default_time_to_live_seconds=1)
    assert Action.DELETE_APP not in decide(running).actions


def test_the_flag_is_read_and_a_kubeflow_deployment_passes_it_through() -> None:
    assert "--default-time-to-live-seconds" not in DROPPED
    translated = translate(["--default-time-to-live-seconds=3600"])
    assert translated.argv == ["--default-time-to-live-seconds=3600"]
    assert not translated.warnings
    options = RunOptions.from_flags({"default_time_to_live_seconds": 3600})
    assert options.controller.default_ttl == 3600
    assert RunOptions().controller.default_ttl == 0  # Kubeflow's default: off
