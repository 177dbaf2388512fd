from __future__ import annotations

import datetime

import pytest

from sparkfleet.operator.spark.schedule import InvalidSchedule, Schedule, run_name

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


@pytest.mark.parametrize(
    ("precision", "suffix"),
    [
        ("nanos", "1795489200123456000"),
        ("micros", "1795489200123456"),
        ("millis", "1795489200123"),
        ("seconds", "1795489200"),
        ("minutes", "29924820"),
    ],
)
def test_run_names_follow_the_spark_operators_timestamp_precision(precision: str, suffix: str) -> None:
    due = datetime.datetime(2026, 11, 24, 3, 0, 0, 123456, tzinfo=datetime.UTC)
    assert run_name("nightly", due, precision) == f"nightly-{suffix}"


def test_an_unknown_precision_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="nanos, micros, millis, seconds, minutes"):
        run_name("nightly", datetime.datetime.now(datetime.UTC), "hours")
