"""`sparkfleet sim`'s run: the pod simulator on its own against a cluster, until told to stop.

One :class:`~sparkfleet.sim.pods.PodSimulator` per namespace served (one for every namespace when
none is named), sharing one client. It logs each driver phase it writes, a line of counts when they
changed (every ``stats_every`` seconds), and its totals when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import NAMESPACES
from sparkfleet.sim.pods import PodSimulator, SimConfig, SimStats

log = logging.getLogger("sparkfleet.sim")

COUNTS = (
    "drivers_started", "executors_created", "drivers_succeeded", "drivers_failed", "executors_refused",
    "pods_stopped", "writes", "write_errors",
)  # fmt: skip


def totals(simulators: Sequence[PodSimulator]) -> dict[str, Any]:
    """The counts of every simulator, summed (CPU once: they share one process)."""
    summed = {name: sum(getattr(s.stats, name) for s in simulators) for name in COUNTS}
    summed["cpu_seconds"] = round(max((s.cpu_seconds() for s in simulators), default=0.0), 2)
    return summed


def driver_phase(app: str, phase: str, _wall_time: float) -> None:
    log.info(f"driver {phase}", extra={"app": app})


async def _warn_missing(client: KubeClient, namespaces: Sequence[str]) -> None:
    """A namespace named that does not exist is said once: its pods are simulated once it exists."""
    for namespace in namespaces:
        try:
            await client.get(NAMESPACES, namespace)
        except ApiError as exc:
            if exc.is_not_found:
                log.warning(
                    "namespace does not exist (yet): its pods are simulated once it is created",
                    extra={"namespace": namespace},
                )
            elif not exc.is_forbidden:  # not allowed to read namespaces: nothing to say
                raise


async def _report(simulators: Sequence[PodSimulator], every: float) -> None:
    last: dict[str, Any] = {}
    while True:
        await asyncio.sleep(every)
        now = totals(simulators)
        counts = {k: now[k] for k in COUNTS}
        if counts != last:
            log.info("simulated so far", extra=counts)
            last = counts


async def serve(
    client: KubeClient,
    config: SimConfig,
    namespaces: Sequence[str],
    stop: asyncio.Event,
    *,
    stats_every: float = 10.0,
) -> SimStats:
    """Simulates until ``stop`` is set; returns the totals. Start-up errors (the API server
    unreachable, a 403) are raised; a stop during start-up just stops."""
    scopes: list[str | None] = [*namespaces] if namespaces else [None]
    simulators = [
        PodSimulator(client, config, namespace=namespace, on_driver_phase=driver_phase)
        for namespace in scopes
    ]
    await _warn_missing(client, namespaces)
    starting: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(s.start() for s in simulators)))
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([starting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # raises what start-up met
            log.info(
                "pod simulator started",
                extra={
                    "server": client.host,
                    "namespaces": ",".join(namespaces) or "all",
                    "nodes": config.nodes,
                    "run_time_s": "-".join(f"{t:g}" for t in config.run_time),
                    "failure_rate": config.failure_rate,
                },
            )
            reporter = asyncio.ensure_future(_report(simulators, stats_every)) if stats_every > 0 else None
            await stopping
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
    finally:
        for task in (starting, stopping):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        summed = totals(simulators)
        await asyncio.gather(*(s.stop() for s in simulators), return_exceptions=True)
    log.info("pod simulator stopped", extra=summed)
    fields = {f.name for f in dataclasses.fields(SimStats)}
    return SimStats(**{k: v for k, v in summed.items() if k in fields})
