"""One sparkfleet instance: the Spark controllers, the status server, and how work is claimed.

Three ways to run:

- alone: every namespace given (or all), no Lease;
- ``--leader-elect``: as the Spark Operator, one active instance of several;
- ``--fleet NAME``: a member of a sharded fleet, serving the shards it holds.

``sparkfleet run`` builds :class:`RunOptions` from its flags and calls
:func:`run`, which returns the process exit code: 0 after a clean SIGTERM or
SIGINT (in-flight reconciles finished, shards handed off, Leases released),
1 when leadership was lost (the supervisor restarts the pod, as with client-go).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

import aiohttp

from sparkfleet import modes
from sparkfleet.kube import ClientSettings, KubeClient
from sparkfleet.kube.config import load_connection
from sparkfleet.kube.leaderelection import LeaderElector
from sparkfleet.kube.scope import Scope
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.host import SparkControllers
from sparkfleet.operator.ratelimiters import default_controller_rate_limiter
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.pod_policy import PodPolicy, parse_service_accounts
from sparkfleet.operator.spark.scheduled import ScheduledSparkApplicationController
from sparkfleet.options import RunOptions
from sparkfleet.server import StatusServer
from sparkfleet.sharding.member import FleetMember
from sparkfleet.startup import (
    ApiServerUnreachable,
    wait_for_api_server,
    warn_missing_namespaces,
    why_unreachable,
)

log = logging.getLogger(__name__)

# A fleet member's Lease traffic: a few requests per retry period, never held back by the operator's QPS.
LEASE_CLIENT = ClientSettings(qps=0, burst=0, request_timeout=10.0)


async def run(options: RunOptions) -> int:
    client_options, controller_options = options.client, options.controller
    election, observability = options.election, options.observability
    conflict = modes.conflict(
        fleet=election.fleet,
        leader_elect=election.leader_elect,
        namespaces=controller_options.namespaces,
        label_selector=controller_options.label_selector,
    )
    if conflict:
        raise ValueError(conflict)
    connection = client_options.connection or await load_connection(client_options.kubeconfig)
    client = KubeClient(connection, ClientSettings(qps=client_options.qps, burst=client_options.burst))
    try:  # what this machine can refuse comes first: the API server may be waited for below
        audit = AuditLog(observability.audit_log, election.identity) if observability.audit_log else None
    except OSError as exc:
        await client.close()
        raise ValueError(f"--audit-log {observability.audit_log}: {exc.strerror or exc}") from exc
    scopes: list[Scope] | None = [] if election.fleet else None  # a member adds one scope per shard it holds
    controllers = SparkControllers(
        SparkApplicationController(
            client,
            namespaces=list(controller_options.namespaces) or None,
            label_selector=controller_options.label_selector,
            scopes=scopes,
            concurrent_syncs=controller_options.concurrent_syncs,
            max_tracked_executors=controller_options.max_tracked_executors,
            max_application_bytes=controller_options.max_application_bytes,
            driver_grace=controller_options.driver_grace,
            ui_service=controller_options.ui_service,
            pod_policy=PodPolicy(
                controller_options.pod_security,
                parse_service_accounts(controller_options.allowed_service_accounts),
            ),
            bounds=controller_options.bounds,
            check_quotas=controller_options.resource_quota_check,
            rate_limiter=default_controller_rate_limiter(
                controller_options.bucket_qps, controller_options.bucket_size, controller_options.max_delay
            ),
            audit=audit,
        ),
        ScheduledSparkApplicationController(
            client,
            namespaces=list(controller_options.namespaces) or None,
            label_selector=controller_options.label_selector,
            scopes=scopes,
            audit=audit,
            timestamp_precision=controller_options.timestamp_precision,
            max_application_bytes=controller_options.max_application_bytes,
        ),
    )
    lease_client = KubeClient(connection, LEASE_CLIENT) if election.fleet else None
    member = (
        FleetMember(
            client,
            controllers,
            lease_client=lease_client,
            fleet=election.fleet,
            namespace=election.fleet_namespace,
            identity=election.identity,
            capacity=election.shard_capacity,
            handoff_timeout=election.handoff_timeout,
        )
        if election.fleet
        else None
    )
    server = StatusServer(
        observability.metrics_host,
        observability.metrics_port,
        metrics_prefix=observability.metrics_prefix,
        probe_address=observability.probe_address,
    )
    elector: LeaderElector | None = None
    answered = asyncio.Event()  # not ready while start-up waits for the API server and checks
    server.add_readiness_check(
        "api-server", lambda: None if answered.is_set() else "no answer from the API server"
    )
    if member is not None:
        server.add_readiness_check("fleet-member", lambda: None if member.fresh else "member lease not fresh")
        server.add_route("/debug/shards", lambda: _shards_debug(member))
    else:
        server.add_readiness_check(
            "informers-synced",
            lambda: None if controllers.has_synced or not _leading(elector) else "caches not synced",
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except OSError as exc:
        for opened in (client, lease_client):
            if opened is not None:
                await opened.close()
        if audit is not None:
            audit.close()
        where = f"{observability.metrics_host}:{observability.metrics_port}"
        raise ValueError(f"--metrics-bind-address {where}: {exc.strerror or exc}") from exc
    try:
        await _first(stop.wait(), wait_for_api_server(client, client_options.startup_timeout))
    except BaseException:
        await _close(client, lease_client, server, audit)
        raise
    if stop.is_set():
        await _close(client, lease_client, server, audit)
        log.info("sparkfleet operator stopped before the API server answered", extra={"exit_code": 0})
        return 0
    await warn_missing_namespaces(client, controller_options.namespaces)
    answered.set()  # ready only once start-up's checks are done (and said)
    log.info(
        "sparkfleet operator started",
        extra={
            "metrics": server.url,
            "namespaces": ",".join(controller_options.namespaces) or "*",
            "concurrent_syncs": controller_options.concurrent_syncs,
            "leader_elect": election.leader_elect,
            "fleet": election.fleet or "",
            "identity": election.identity,
        },
    )
    elector_task: asyncio.Task[None] | None = None
    exit_code = 0
    failed = False
    try:
        if election.leader_elect:
            elector = LeaderElector(
                client, election.lease_namespace, election.lease_name, election.identity, election.lease
            )
            elector_task = asyncio.create_task(elector.run())
            await _first(stop.wait(), elector.leading.wait())
            if stop.is_set():
                return 0
        await _first(stop.wait(), controllers.start())  # a signal while the caches sync stops it too
        if stop.is_set():
            return 0
        if member is not None:
            await _first(stop.wait(), member.start())
            if stop.is_set():
                return 0
        waits = [stop.wait()] + ([elector.lost.wait()] if elector else [])
        waits += [member.failed.wait()] if member is not None else []
        await _first(*waits)
        if member is not None and member.evicted is not None:
            raise member.evicted  # another process took this identity: stop, and say so
        if elector is not None and elector.lost.is_set():
            log.error("leadership lost; exiting so a fresh instance can take over")
            exit_code = 1
        return exit_code
    except (aiohttp.ClientError, TimeoutError) as exc:  # the API server went away (a member joining, say)
        failed = True
        raise ApiServerUnreachable(client.host, why_unreachable(exc)) from exc
    except BaseException:
        failed = True
        raise
    finally:
        if member is not None and member.ready.is_set():
            await member.shutdown()
        await controllers.stop(controller_options.shutdown_timeout)
        if elector_task is not None:
            elector_task.cancel()  # releases the Lease when it still holds it
            with contextlib.suppress(asyncio.CancelledError):
                await elector_task
        await _close(client, lease_client, server, audit)
        if not failed:  # an error is said once, by the caller, with the exit code it decides
            log.info("sparkfleet operator stopped", extra={"exit_code": exit_code})


async def _close(
    client: KubeClient, lease_client: KubeClient | None, server: StatusServer, audit: AuditLog | None
) -> None:
    await server.stop()
    await client.close()
    if lease_client is not None:
        await lease_client.close()
    if audit is not None:
        audit.close()


def _shards_debug(member: FleetMember) -> dict[str, Any]:
    host = member.host
    return {
        "fleet": member.fleet,
        "member": member.identity,
        "coordinator": member.is_coordinator,
        "fresh": member.fresh,
        "fenced": member.fenced,
        "shards": {
            name: {"objects": host.objects(name), "queued": host.backlog(name)}
            for name in sorted(member.serving)
        },
        "problems": [str(p) for p in member.problems],
    }


def _leading(elector: LeaderElector | None) -> bool:
    return elector is None or elector.is_leader


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Waits until the first of the coroutines finishes; cancels the rest, and raises what the
    first one raised (a member that cannot join must stop the process, not leave it idle)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        task.result()
