"""The flags of `sparkfleet sim`, read into a :class:`~sparkfleet.sim.pods.SimConfig` (pure: no I/O).

Every refusal is a ``ValueError`` whose message names the flag, so the command says it in one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sparkfleet.sim.pods import SimConfig

_SECONDS = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m)?")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


def seconds(text: str, flag: str) -> float:
    """``1.5``, ``1.5s``, ``200ms`` or ``2m`` as seconds (a plain number is seconds)."""
    match = _SECONDS.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{flag}: {text.strip()!r} is not a number of seconds like 5, 0.5s, 200ms or 2m")
    return float(match.group(1)) * _SCALE[match.group(2)]


def seconds_range(text: str, flag: str) -> tuple[float, float]:
    """``5-10`` (seconds), ``200ms-1s`` or a single value ``3`` as an inclusive range low..high."""
    low, dash, high = text.strip().partition("-")
    if dash and not high.strip():
        raise ValueError(f"{flag}: {text.strip()!r} is not a range like 5-10 (seconds) or 200ms-1s")
    try:
        bounds = (seconds(low, flag), seconds(high if dash else low, flag))
    except ValueError:
        raise ValueError(f"{flag}: {text.strip()!r} is not a range like 5-10 (seconds) or 200ms-1s") from None
    if bounds[0] > bounds[1]:
        raise ValueError(f"{flag}: {text.strip()!r} starts above where it ends")
    return bounds


def namespace_list(values: Iterable[str]) -> list[str]:
    """Repeated or comma-separated namespaces, in order, each once (empty: every namespace)."""
    seen: dict[str, None] = {}
    for item in values:
        for name in item.split(","):
            if name.strip():
                seen[name.strip()] = None
    return list(seen)


def sim_config(
    *,
    nodes: int,
    start_delay: str,
    run_time: str,
    stop_delay: str,
    failure_rate: float,
    concurrency: int,
    seed: int | None,
) -> SimConfig:
    """The simulator's configuration from the flags' values, or a ValueError naming the flag."""
    if nodes < 1:
        raise ValueError(f"--nodes: must be at least 1; got {nodes}")
    if concurrency < 1:
        raise ValueError(f"--concurrency: must be at least 1; got {concurrency}")
    if not 0 <= failure_rate <= 1:
        raise ValueError(f"--failure-rate: must be between 0 and 1; got {failure_rate}")
    return SimConfig(
        nodes=nodes,
        start_delay=seconds_range(start_delay, "--start-delay"),
        run_time=seconds_range(run_time, "--run-time"),
        stop_delay=seconds_range(stop_delay, "--stop-delay"),
        failure_rate=failure_rate,
        concurrency=concurrency,
        seed=seed,
    )
