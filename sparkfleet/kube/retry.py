"""When to retry a request: 429 and 5xx answers that carry Retry-After, as client-go does; and,
for callers that must ride out an outage (a control-plane restart), while the API server is
unreachable or failing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

from sparkfleet.kube.errors import ApiError

T = TypeVar("T")

DEFAULT_MAX_RETRIES = 10
UNAVAILABLE_ATTEMPTS = 40  # with a backoff from 0.2 s doubling to 5 s: about three minutes


def parse_retry_after(value: str | None) -> int | None:
    """Retry-After in whole seconds; ``None`` when absent or not a number of seconds."""
    if value is None:
        return None
    try:
        seconds = int(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def retry_delay(status: int, retry_after: str | None, attempt: int, max_retries: int) -> float | None:
    """Seconds to wait before trying again, or ``None`` to give the answer to the caller.

    ``attempt`` counts the retries already made. Like client-go, only a 429 or a
    5xx answer that says Retry-After is retried, never longer than asked.
    """
    if attempt >= max_retries:
        return None
    if status != 429 and not 500 <= status <= 599:
        return None
    seconds = parse_retry_after(retry_after)
    if seconds is None:
        return None
    return float(seconds)


def unavailable(error: BaseException) -> bool:
    """The API server could not be reached, or failed (5xx): a later try may succeed."""
    if isinstance(error, ApiError):
        return error.status >= 500
    return isinstance(error, aiohttp.ClientError | TimeoutError)


async def while_unavailable(call: Callable[[], Awaitable[T]], attempts: int = UNAVAILABLE_ATTEMPTS) -> T:
    """``call()``, tried again (0.2 s doubling to 5 s apart) while the API server is unreachable or
    failing; any other error, or the last attempt's, is raised."""
    for attempt in range(attempts):
        try:
            return await call()
        except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
            if not unavailable(exc) or attempt == attempts - 1:
                raise
        await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
    raise ValueError(f"attempts must be at least 1; got {attempts}")
