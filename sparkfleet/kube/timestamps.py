"""Kubernetes time on the wire: ``Time`` (RFC 3339, seconds, UTC) and ``MicroTime`` (microseconds).

Every timestamp sparkfleet writes or reads goes through here, as seconds since the epoch
(``time.time()``) or an aware :class:`datetime.datetime`.
"""

from __future__ import annotations

import datetime

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MICRO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _utc(moment: float | datetime.datetime | None) -> datetime.datetime:
    if moment is None:
        return datetime.datetime.now(datetime.UTC)
    if isinstance(moment, datetime.datetime):
        return moment.astimezone(datetime.UTC)
    return datetime.datetime.fromtimestamp(moment, datetime.UTC)


def format_time(moment: float | datetime.datetime | None = None) -> str:
    """A ``metav1.Time``: ``2026-01-01T00:00:00Z`` (now, when ``moment`` is None)."""
    return _utc(moment).strftime(TIME_FORMAT)


def format_micro_time(moment: float | datetime.datetime | None = None) -> str:
    """A ``metav1.MicroTime``: ``2026-01-01T00:00:00.000000Z`` (now, when ``moment`` is None)."""
    return _utc(moment).strftime(MICRO_TIME_FORMAT)


def parse_datetime(value: str | None) -> datetime.datetime | None:
    """An aware datetime from a ``Time`` or ``MicroTime`` (or any RFC 3339 offset); None when empty."""
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_time(value: str | None) -> float | None:
    """Seconds since the epoch of a ``Time`` or ``MicroTime``; None when empty."""
    moment = parse_datetime(value)
    return None if moment is None else moment.timestamp()
