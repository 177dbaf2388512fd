from __future__ import annotations

import pytest

from sparkfleet.kube.retry import parse_retry_after, retry_delay


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (429, "1", 1.0),
        (429, "7", 7.0),
        (503, "2", 2.0),
        (500, "0", 0.0),
        (429, None, None),  # client-go retries only when the server says when
        (503, None, None),
        (409, "1", None),  # not a throttle or server error
        (404, "3", None),
        (200, "1", None),
        (429, "soon", None),
        (429, "-4", None),
        (429, "Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_retry_delay_follows_status_and_retry_after(
    status: int, header: str | None, expected: float | None
) -> None:
    assert retry_delay(status, header, attempt=0, max_retries=10) == expected


def test_retries_are_bounded() -> None:
    assert retry_delay(429, "1", attempt=9, max_retries=10) == 1.0
    assert retry_delay(429, "1", attempt=10, max_retries=10) is None
    assert retry_delay(429, "1", attempt=0, max_retries=0) is None


def test_parse_retry_after_trims_whitespace() -> None:
    assert parse_retry_after(" 5 ") == 5
    assert parse_retry_after("") is None
