"""Cron schedules as the Spark Operator reads them: five-field cron, ``@hourly``-style
descriptors, ``@every <duration>``, evaluated in an IANA time zone (UTC by default)."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass

from croniter import croniter

from sparkfleet.api.base import brief

_EVERY = re.compile(r"^@every\s+((?:\d+(?:\.\d+)?(?:ms|s|m|h))+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


_NANOS_PER = {"nanos": 1, "micros": 10**3, "millis": 10**6, "seconds": 10**9, "minutes": 60 * 10**9}
TIMESTAMP_PRECISIONS = tuple(_NANOS_PER)


def run_name(scheduled: str, due: datetime.datetime, precision: str = "nanos") -> str:
    """A run's name as the Spark Operator names it, ``<scheduled>-<due time since the epoch>`` in
    ``precision`` (its --scheduled-spark-application-timestamp-precision; nanoseconds by default).

    The due time, not the clock, makes the name: a retried reconcile creates the same run (409),
    never a second one."""
    check_precision(precision)
    since = due - datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    nanos = since // datetime.timedelta(microseconds=1) * 1000
    return f"{scheduled}-{nanos // _NANOS_PER[precision]}"


def check_precision(precision: str) -> None:
    """Raises ValueError naming the choices unless ``precision`` is one of them."""
    if precision not in _NANOS_PER:
        raise ValueError(f"timestamp precision {precision!r} is not one of {', '.join(TIMESTAMP_PRECISIONS)}")


class InvalidSchedule(ValueError):
    """The schedule or time zone cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class Schedule:
    expression: str
    zone: datetime.tzinfo
    every: datetime.timedelta | None = None

    @classmethod
    def parse(cls, expression: str, time_zone: str | None = None) -> Schedule:
        try:
            zone: datetime.tzinfo = zoneinfo.ZoneInfo(time_zone) if time_zone else datetime.UTC
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise InvalidSchedule(f"spec.timeZone: unknown time zone {brief(time_zone)}") from exc
        text = expression.strip()
        every = _EVERY.match(text)
        if every:
            seconds = sum(float(n) * _SCALE[u] for n, u in _PART.findall(every.group(1)))
            if seconds < 1:
                raise InvalidSchedule(f"spec.schedule: {brief(expression)} is shorter than one second")
            return cls(text, zone, datetime.timedelta(seconds=seconds))
        if not croniter.is_valid(text):
            raise InvalidSchedule(
                f"spec.schedule: {brief(expression)} is not a cron schedule "
                "(5 fields, @hourly, or @every 10m)"
            )
        return cls(text, zone)

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first run strictly after ``moment`` (an aware datetime), in UTC."""
        if self.every is not None:
            return (moment + self.every).astimezone(datetime.UTC)
        local = moment.astimezone(self.zone)
        following: datetime.datetime = croniter(self.expression, local).get_next(datetime.datetime)
        return following.astimezone(datetime.UTC)
