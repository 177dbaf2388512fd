"""Kubernetes Time and MicroTime: what is written parses back to the same moment."""

from __future__ import annotations

import datetime

from hypothesis import given
from hypothesis import strategies as st

from sparkfleet.kube.timestamps import format_micro_time, format_time, parse_datetime, parse_time


def test_time_is_rfc3339_seconds_in_utc() -> None:
    assert format_time(0) == "1970-01-01T00:00:00Z"
    assert format_time(1767225600.9) == "2026-01-01T00:00:00Z"
    moment = datetime.datetime(2026, 1, 1, 1, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert format_time(moment) == "2026-01-01T00:00:00Z"


def test_micro_time_keeps_microseconds() -> None:
    assert format_micro_time(1767225600.25) == "2026-01-01T00:00:00.250000Z"


def test_empty_is_none() -> None:
    assert parse_time(None) is None
    assert parse_time("") is None
    assert parse_datetime(None) is None


def test_offsets_are_understood() -> None:
    assert parse_time("2026-01-01T01:00:00+01:00") == parse_time("2026-01-01T00:00:00Z")


@given(st.floats(min_value=0, max_value=4e9))
def test_round_trips(moment: float) -> None:
    micro = parse_time(format_micro_time(moment))
    seconds = parse_time(format_time(moment))
    assert micro is not None
    assert abs(micro - moment) <= 2e-6
    assert seconds is not None
    assert abs(seconds - moment) < 1.0
