from __future__ import annotations

import re

import pytest

from sparkfleet.kube.leaderelection import LeaseTiming
from sparkfleet.kube.timestamps import format_micro_time


def test_defaults_are_client_go_and_spark_operator_defaults() -> None:
    timing = LeaseTiming()
    assert (timing.duration, timing.renew_deadline, timing.retry_period) == (15.0, 10.0, 2.0)


@pytest.mark.parametrize(
    ("duration", "deadline", "retry", "message"),
    [
        (10, 10, 2, "greater than the renew deadline"),
        (15, 2, 2, "1.2 x the retry period"),
        (15, 10, 0, "positive"),
    ],
)
def test_inconsistent_timings_are_refused(
    duration: float, deadline: float, retry: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LeaseTiming(duration, deadline, retry)


def test_micro_time_format() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", format_micro_time())
