"""When to retry a request: 429 and 5xx answers that carry Retry-After, as client-go does."""

from __future__ import annotations

DEFAULT_MAX_RETRIES = 10


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
