from __future__ import annotations

import datetime

import pytest

from sparkfleet.operator.spark.schedule import InvalidSchedule, Schedule

UTC = datetime.UTC
T0 = datetime.datetime(2026, 11, 24, 3, 7, 30, tzinfo=UTC)


def test_five_field_cron_in_utc() -> None:
    assert Schedule.parse("*/15 * * * *").next_after(T0) == datetime.datetime(2026, 11, 24, 3, 15, tzinfo=UTC)


def test_descriptors_and_time_zones() -> None:
    paris_midnight = Schedule.parse("@daily", "Europe/Paris").next_after(T0)
    assert paris_midnight == datetime.datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 00:00 CET
    assert Schedule.parse("@hourly").next_after(T0) == datetime.datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


def test_every() -> None:
    schedule = Schedule.parse("@every 1m30s")
    assert schedule.next_after(T0) == T0 + datetime.timedelta(seconds=90)


@pytest.mark.parametrize(
    ("expression", "zone", "field"),
    [
        ("every day", None, "spec.schedule"),
        ("61 * * * *", None, "spec.schedule"),
        ("@every 0s", None, "spec.schedule"),
        ("@hourly", "Mars/Olympus", "spec.timeZone"),
    ],
)
def test_invalid_schedules_name_the_field(expression: str, zone: str | None, field: str) -> None:
    with pytest.raises(InvalidSchedule, match=f"^{field}: "):
        Schedule.parse(expression, zone)
