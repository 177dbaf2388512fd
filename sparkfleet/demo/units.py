"""Durations as a person reads them: "19 ms", "1.8 s", "42 s", "1 min 54 s", "2 h 5 min"."""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """``seconds`` in the largest unit that keeps it short; "-" for None (nothing measured)."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "-" + duration(-seconds)
    tenths_of_ms = round(seconds * 1000, 1)
    if tenths_of_ms == 0:
        return "0 ms"
    if tenths_of_ms < 10:
        return f"{tenths_of_ms:.1f} ms"
    millis = round(seconds * 1000)
    if millis < 1000:
        return f"{millis} ms"
    tenths = round(seconds, 1)
    if tenths < 10:
        return f"{tenths:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min" if rest == 0 else f"{minutes} min {rest} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes} min"
