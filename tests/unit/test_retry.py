from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from sparkfleet.kube import ApiError
from sparkfleet.kube.retry import parse_retry_after, retry_delay, while_unavailable


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


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("sparkfleet.kube.retry.asyncio.sleep", sleep)
    return waits


def failing(*errors: BaseException) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    """A call that raises ``errors`` one by one, then answers "ok"; and how often it was called."""
    calls = [0]

    async def call() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return "ok"

    return calls, call


async def test_while_unavailable_rides_out_refused_connections_and_5xx(no_sleep: list[float]) -> None:
    calls, call = failing(
        aiohttp.ClientConnectionError(), ApiError(503, "ServiceUnavailable", ""), TimeoutError()
    )
    assert await while_unavailable(call) == "ok"
    assert calls[0] == 4
    assert no_sleep == [0.2, 0.4, 0.8]


async def test_while_unavailable_raises_other_errors_at_once(no_sleep: list[float]) -> None:
    calls, call = failing(ApiError(409, "AlreadyExists", ""))
    with pytest.raises(ApiError):
        await while_unavailable(call)
    assert calls[0] == 1
    assert no_sleep == []


async def test_while_unavailable_gives_up_after_its_attempts(no_sleep: list[float]) -> None:
    calls, call = failing(*[aiohttp.ClientConnectionError()] * 10)
    with pytest.raises(aiohttp.ClientConnectionError):
        await while_unavailable(call, attempts=8)
    assert calls[0] == 8
    assert no_sleep == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
