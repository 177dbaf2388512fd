"""One operator instance: the Spark controllers, the status server, optional leader election.

``sparkfleet run`` builds :class:`RunOptions` from its flags and calls
:func:`run`, which returns the process exit code: 0 after a clean SIGTERM or
SIGINT (in-flight reconciles finished, the Lease released), 1 when
leadership was lost (the supervisor restarts the pod, as with client-go).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from sparkfleet.kube import ClientSettings, connect
from sparkfleet.kube.leaderelection import LeaderElector, LeaseTiming
from sparkfleet.operator.ratelimiters import default_controller_rate_limiter
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.scheduled import ScheduledSparkApplicationController
from sparkfleet.server import StatusServer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOptions:
    kubeconfig: str | None = None
    namespaces: list[str] = field(default_factory=list)  # empty: all namespaces
    label_selector: str | None = None
    concurrent_syncs: int = 10
    kube_api_qps: float = 50.0
    kube_api_burst: int = 100
    bucket_qps: float = 50.0
    bucket_size: int = 500
    max_delay: float = 6 * 3600.0
    max_tracked_executors: int = 1000
    ui_service: bool = True
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 8080
    leader_elect: bool = False
    lease_name: str = "sparkfleet-controller-lock"
    lease_namespace: str = "default"
    lease: LeaseTiming = field(default_factory=LeaseTiming)
    identity: str = field(default_factory=lambda: os.environ.get("POD_NAME") or socket.gethostname())
    shutdown_timeout: float = 30.0


async def run(options: RunOptions) -> int:
    client = await connect(
        options.kubeconfig, settings=ClientSettings(qps=options.kube_api_qps, burst=options.kube_api_burst)
    )
    controller = SparkApplicationController(
        client,
        namespaces=options.namespaces or None,
        label_selector=options.label_selector,
        concurrent_syncs=options.concurrent_syncs,
        max_tracked_executors=options.max_tracked_executors,
        ui_service=options.ui_service,
        rate_limiter=default_controller_rate_limiter(
            options.bucket_qps, options.bucket_size, options.max_delay
        ),
    )
    scheduler = ScheduledSparkApplicationController(client, namespaces=options.namespaces or None)
    server = StatusServer(options.metrics_host, options.metrics_port)
    elector: LeaderElector | None = None
    server.add_readiness_check(
        "informers-synced",
        lambda: None if _synced(controller, scheduler) or not _leading(elector) else "caches not synced",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    log.info(
        "sparkfleet operator started",
        extra={
            "metrics": server.url,
            "namespaces": ",".join(options.namespaces) or "*",
            "concurrent_syncs": options.concurrent_syncs,
            "leader_elect": options.leader_elect,
        },
    )
    elector_task: asyncio.Task[None] | None = None
    exit_code = 0
    try:
        if options.leader_elect:
            elector = LeaderElector(
                client, options.lease_namespace, options.lease_name, options.identity, options.lease
            )
            elector_task = asyncio.create_task(elector.run())
            await _first(stop.wait(), elector.leading.wait())
            if stop.is_set():
                return 0
        await asyncio.gather(controller.start(), scheduler.start())
        waits = [stop.wait()] + ([elector.lost.wait()] if elector else [])
        await _first(*waits)
        if elector is not None and elector.lost.is_set():
            log.error("leadership lost; exiting so a fresh instance can take over")
            exit_code = 1
        return exit_code
    finally:
        await asyncio.gather(
            controller.stop(options.shutdown_timeout), scheduler.stop(options.shutdown_timeout)
        )
        if elector_task is not None:
            elector_task.cancel()  # releases the Lease when it still holds it
            with contextlib.suppress(asyncio.CancelledError):
                await elector_task
        await server.stop()
        await client.close()
        log.info("sparkfleet operator stopped", extra={"exit_code": exit_code})


def _synced(*controllers: SparkApplicationController | ScheduledSparkApplicationController) -> bool:
    return all(c.has_synced for c in controllers)


def _leading(elector: LeaderElector | None) -> bool:
    return elector is None or elector.is_leader


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Waits until the first of the coroutines finishes; cancels the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
