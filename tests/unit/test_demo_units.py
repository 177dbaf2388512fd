"""Durations in the demo's and the benchmark's text: readable units, never "114339 ms"."""

from __future__ import annotations

import pytest

from sparkfleet.demo.units import duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0 ms"),
        (0.0004, "0.4 ms"),
        (0.0042, "4.2 ms"),
        (0.019, "19 ms"),
        (0.324, "324 ms"),
        (0.9996, "1.0 s"),
        (1.8, "1.8 s"),
        (9.96, "10 s"),
        (42.4, "42 s"),
        (59.6, "1 min"),
        (114.339, "1 min 54 s"),
        (3599.6, "1 h"),
        (7500, "2 h 5 min"),
        (-1.5, "-1.5 s"),
    ],
)
def test_durations_read_as_a_person_writes_them(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize("seconds", [1.0, 59.0, 114.339, 999.9, 86400.0])
def test_a_second_or_more_is_never_in_milliseconds(seconds: float) -> None:
    assert "ms" not in duration(seconds)
