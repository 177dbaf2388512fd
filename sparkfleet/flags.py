"""How a flag's value is read and checked, for every `sparkfleet` command: durations, addresses,
numbers, choices, and the checks of `sparkfleet run`'s names and quantities.

Each parser or check refuses a bad value with a message that names the value; click (through
:func:`checked` or ``parser=``) puts the flag's name in front. Light to import: what a check needs
of the operator (naming rules, quantities, label selectors) is imported when it runs, so the CLI
answers ``--help`` and refuses a bad flag before it loads the operator. Numbers are read here rather
than by typer's own coercion, whose messages are pydantic's ("Input should be a valid integer, unable
to parse string as an integer") and leave out the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer

LOG_LEVELS = ("debug", "info", "warning", "error")
"""--log-level's choices, for every command that logs."""

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str) -> float:
    """Seconds from a Go-style duration (``15s``, ``1m30s``, ``6h``) or a plain number of seconds."""
    text = value.strip()
    seconds = _duration_seconds(text.removeprefix("-"))
    if seconds is None:
        raise typer.BadParameter(f"{value!r} is not a duration like 15s, 1m30s or 6h")
    if text.startswith("-") and seconds:
        raise typer.BadParameter(f"{value!r} is negative: a duration must not be negative")
    return seconds


def _duration_seconds(text: str) -> float | None:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def split_host_port(value: str) -> tuple[str, int]:
    """``(host, port)`` from ``:8080``, ``127.0.0.1:8080`` or ``[::1]:8080`` (no host: 0.0.0.0)."""
    host, _, port = value.rpartition(":")
    if not port.isdigit() or int(port) > 65535 or any(c.isspace() for c in host):
        raise typer.BadParameter(f"{value!r} is not an address like :8080 or 127.0.0.1:8080 (port 0-65535)")
    return host.strip("[]") or "0.0.0.0", int(port)


def optional_host_port(value: str) -> tuple[str, int] | None:
    """:func:`split_host_port`, or None for an empty value (an address not given)."""
    return split_host_port(value) if value else None


def whole(minimum: int) -> Callable[[Any], int]:
    """A ``parser=`` for a whole-number flag of at least ``minimum``."""

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise typer.BadParameter(f"{value!r} is not a whole number")
        try:
            number = int(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a whole number") from None
        if number < minimum:
            raise typer.BadParameter(f"must be at least {minimum} (not {value!r})")
        return number

    return parse


def number(minimum: float) -> Callable[[Any], float]:
    """A ``parser=`` for a number flag (``0.5``, ``50``) of at least ``minimum``."""

    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise typer.BadParameter(f"{value!r} is not a number")
        try:
            result = float(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a number") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise typer.BadParameter(f"{value!r} is not a finite number")
        if result < minimum:
            raise typer.BadParameter(f"must be at least {minimum:g} (not {value!r})")
        return result

    return parse


def checked(check: Callable[[Any], object]) -> Callable[[Any], Any]:
    """A flag callback: ``check(value)`` refuses a bad value with a ValueError, said as click's usage
    error, which names the flag (a message's own leading ``--flag: `` is dropped, not said twice)."""

    def callback(value: Any) -> Any:
        if value is not None:
            try:
                check(value)
            except ValueError as exc:
                message = str(exc)
                head, sep, rest = message.partition(": ")
                raise typer.BadParameter(rest if sep and head.startswith("--") else message) from exc
        return value

    return callback


def one_of(*choices: str) -> Callable[[str], None]:
    """A check: the value (in any case) is one of ``choices``."""

    def check(value: str) -> None:
        if value.lower() not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")

    return check


def comma_list(values: list[str] | None) -> list[str]:
    """A repeated, comma-separated flag's items, stripped, empty ones left out."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def quantity_bound(value: str) -> None:
    """A bound of --max-*-cores or --max-*-memory: a Kubernetes quantity (empty: none)."""
    from sparkfleet.api.base import parse_quantity

    if value:
        parse_quantity(value)


def service_accounts(values: list[str]) -> None:
    """--allowed-service-accounts: each name a DNS subdomain."""
    from sparkfleet.operator.spark.naming import is_dns_subdomain

    for name in (sa.strip() for item in values for sa in item.split(",")):
        if name and not is_dns_subdomain(name):
            raise typer.BadParameter(f"{name!r} is not a ServiceAccount name (a DNS subdomain)")


def namespaces(values: list[str]) -> None:
    """--namespaces: each name a DNS label."""
    from sparkfleet.operator.spark.naming import is_dns_label

    for name in (ns.strip() for item in values for ns in item.split(",")):
        if name and not is_dns_label(name):
            raise typer.BadParameter(f"{name!r} is not a namespace name (a DNS label)")


def timestamp_precision(value: str) -> None:
    """--scheduled-spark-application-timestamp-precision: one of the schedule's units."""
    from sparkfleet.operator.spark.schedule import TIMESTAMP_PRECISIONS

    one_of(*TIMESTAMP_PRECISIONS)(value)


def namespace_selector(value: str) -> None:
    """--namespace-selector: a label selector the API server would take (empty: none, as Kubeflow)."""
    if value.strip():
        label_selector(value)


def label_selector(value: str) -> None:
    """--label-selector-filter: a label selector the API server would take."""
    from sparkfleet.kube.scope import label_selector_problem

    problem = label_selector_problem(value)
    if problem:
        raise typer.BadParameter(problem)
