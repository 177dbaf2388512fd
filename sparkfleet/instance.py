"""One sparkfleet instance: the Spark controllers, the status server, and how work is claimed.

Three ways to run:

- alone: every namespace given (or all), no Lease;
- ``--leader-elect``: as the Spark Operator, one active instance of several;
- ``--fleet NAME``: a member of a sharded fleet, serving the shards it holds.

``sparkfleet run`` builds :class:`RunOptions` from its flags and calls
:func:`run`, which returns the process exit code: 0 after a clean SIGTERM or
SIGINT (in-flight reconciles finished, shards handed off, Leases released),
1 when leadership was lost (the supervisor restarts the pod, as with client-go).

The three ways are three wirings of one :class:`~sparkfleet.manager.Manager`: its "always" group
is the status server and the wait for the API server; its "needs a Lease" group is the
controllers, after the leader elector (``--leader-elect``) or before the fleet member
(``--fleet``, which gives the controllers their scopes, one per shard it holds).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import aiohttp

from sparkfleet import modes
from sparkfleet.kube import ClientSettings, KubeClient
from sparkfleet.kube.config import load_connection
from sparkfleet.kube.leaderelection import LeaderElector
from sparkfleet.kube.scope import Scope, selected_scopes
from sparkfleet.manager import Group, Manager, Phase
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.host import SparkControllers
from sparkfleet.operator.ratelimiters import default_controller_rate_limiter
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.pod_policy import PodPolicy, parse_service_accounts
from sparkfleet.operator.spark.scheduled import ScheduledSparkApplicationController
from sparkfleet.options import ControllerOptions, RunOptions
from sparkfleet.runnables import (
    HoldsLeaderLease,
    RunsControllers,
    ServesShards,
    ServesStatus,
    WaitsForApiServer,
)
from sparkfleet.server import StatusServer
from sparkfleet.sharding.member import FleetMember
from sparkfleet.startup import ApiServerUnreachable, warn_missing_namespaces, why_unreachable

log = logging.getLogger(__name__)

# A fleet member's Lease traffic: a few requests per retry period, never held back by the operator's QPS.
LEASE_CLIENT = ClientSettings(qps=0, burst=0, request_timeout=10.0)


async def run(options: RunOptions) -> int:
    election = options.election
    conflict = modes.conflict(
        fleet=election.fleet,
        leader_elect=election.leader_elect,
        namespaces=options.controller.namespaces,
        label_selector=options.controller.label_selector,
        namespace_selector=options.controller.namespace_selector,
    )
    if conflict:
        raise ValueError(conflict)
    options.observability.configure_spark_metrics()  # --metrics-labels, the buckets: before any count
    connection = options.client.connection or await load_connection(options.client.kubeconfig)
    async with Manager(_stop_on_signals()) as manager:
        # what this machine can refuse comes first: the API server may be waited for below
        audit = _open_audit_log(options)
        if audit is not None:
            manager.closing(audit.close)
        lease_client = KubeClient(connection, LEASE_CLIENT) if election.fleet else None
        if lease_client is not None:
            manager.closing(lease_client.close)
        client = KubeClient(connection, ClientSettings(qps=options.client.qps, burst=options.client.burst))
        manager.closing(client.close)
        controllers = SparkControllers(
            *_controllers(client, options.controller, audit, fleet=bool(election.fleet))
        )
        base = _Base(options, client, controllers)
        base.wire(manager)
        if election.fleet:
            serve = _fleet_member(manager, base, lease_client)
        elif election.leader_elect:
            serve = _leader_elected(manager, base)
        else:
            serve = _alone(manager, base)
        try:
            ended = await manager.run(serve, when_up=base.up)
        except (aiohttp.ClientError, TimeoutError) as exc:  # the API server went away (a member joining, say)
            raise ApiServerUnreachable(client.host, why_unreachable(exc)) from exc
    # not reached on an error: that is said once, by the caller, with the exit code it decides
    if ended.phase is Phase.STARTING_ALWAYS:
        log.info("sparkfleet operator stopped before the API server answered", extra={"exit_code": 0})
    else:
        log.info("sparkfleet operator stopped", extra={"exit_code": ended.exit_code})
    return ended.exit_code


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _open_audit_log(options: RunOptions) -> AuditLog | None:
    path = options.observability.audit_log
    if not path:
        return None
    try:
        return AuditLog(path, options.election.identity)
    except OSError as exc:
        raise ValueError(f"--audit-log {path}: {exc.strerror or exc}") from exc


def _controllers(
    client: KubeClient, options: ControllerOptions, audit: AuditLog | None, *, fleet: bool
) -> tuple[SparkApplicationController, ScheduledSparkApplicationController]:
    """The two Spark controllers; in a fleet, serving the scopes its member adds (one per shard)."""
    scopes: list[Scope] | None = [] if fleet else None
    namespaces = list(options.namespaces) or None
    if options.namespace_selector and not fleet:
        scopes = selected_scopes(namespaces, options.namespace_selector, options.label_selector)
    return (
        SparkApplicationController(
            client,
            namespaces=namespaces,
            label_selector=options.label_selector,
            scopes=scopes,
            concurrent_syncs=options.concurrent_syncs,
            max_tracked_executors=options.max_tracked_executors,
            max_application_bytes=options.max_application_bytes,
            driver_grace=options.driver_grace,
            default_ttl=options.default_ttl,
            driver_pdb=options.driver_pdb,
            batch=options.batch,
            ui_service=options.ui_service,
            ingress=options.ingress,
            pod_policy=PodPolicy(
                options.pod_security, parse_service_accounts(options.allowed_service_accounts)
            ),
            bounds=options.bounds,
            check_quotas=options.resource_quota_check,
            rate_limiter=default_controller_rate_limiter(
                options.bucket_qps, options.bucket_size, options.max_delay
            ),
            audit=audit,
        ),
        ScheduledSparkApplicationController(
            client,
            namespaces=namespaces,
            label_selector=options.label_selector,
            scopes=scopes,
            audit=audit,
            timestamp_precision=options.timestamp_precision,
            max_application_bytes=options.max_application_bytes,
        ),
    )


class _Base:
    """What every mode runs: the status server and start-up's wait for the API server ("always"),
    and the controllers, which each mode adds to the "needs a Lease" group where it needs them."""

    def __init__(self, options: RunOptions, client: KubeClient, controllers: SparkControllers):
        seen = options.observability
        self.options = options
        self.client = client
        self.controllers = controllers
        self.runs_controllers = RunsControllers(controllers, options.controller.shutdown_timeout)
        self.server = StatusServer(
            seen.metrics_host,
            seen.metrics_port,
            metrics_prefix=seen.metrics_prefix,
            probe_address=seen.probe_address,
        )
        self.answered = asyncio.Event()  # not ready while start-up waits for the API server and checks

    def wire(self, manager: Manager) -> None:
        answered = self.answered
        self.server.add_readiness_check(
            "api-server", lambda: None if answered.is_set() else "no answer from the API server"
        )
        manager.add(ServesStatus(self.server), Group.ALWAYS)
        manager.add(WaitsForApiServer(self.client, self.options.client.startup_timeout), Group.ALWAYS)

    def check_synced(self, standing_by: Callable[[], bool] = lambda: False) -> None:
        """Ready once the caches have synced, or while standing by for the leader Lease."""
        controllers = self.controllers
        self.server.add_readiness_check(
            "informers-synced",
            lambda: None if controllers.has_synced or standing_by() else "caches not synced",
        )

    async def up(self) -> None:
        """Start-up's checks done: the namespaces' check said, ready, and the line that says so."""
        options = self.options
        await warn_missing_namespaces(self.client, options.controller.namespaces)
        self.answered.set()  # ready only once start-up's checks are done (and said)
        log.info(
            "sparkfleet operator started",
            extra={
                "metrics": self.server.url,
                "namespaces": ",".join(options.controller.namespaces)
                or ("" if options.controller.namespace_selector else "*"),
                "namespace_selector": options.controller.namespace_selector or "",
                "concurrent_syncs": options.controller.concurrent_syncs,
                "leader_elect": options.election.leader_elect,
                "fleet": options.election.fleet or "",
                "identity": options.election.identity,
            },
        )


Serve: TypeAlias = Callable[[], Awaitable[int]]
"""A mode's run once everything has started: its exit code when it ends before the stop signal."""


def _alone(manager: Manager, base: _Base) -> Serve:
    """Every namespace given (or all), no Lease: the controllers run until the stop signal."""
    base.check_synced()
    manager.add(base.runs_controllers, Group.NEEDS_LEASE)

    async def serve() -> int:
        await asyncio.Event().wait()
        return 0

    return serve


def _leader_elected(manager: Manager, base: _Base) -> Serve:
    """The controllers start once this instance holds the leader Lease; losing it ends the run (1)."""
    election = base.options.election
    elector = LeaderElector(
        base.client, election.lease_namespace, election.lease_name, election.identity, election.lease
    )
    lease = HoldsLeaderLease(elector)
    base.check_synced(lambda: lease.standing_by)
    manager.add(lease, Group.NEEDS_LEASE)
    manager.add(base.runs_controllers, Group.NEEDS_LEASE)

    async def serve() -> int:
        await elector.lost.wait()
        log.error("leadership lost; exiting so a fresh instance can take over")
        return 1

    return serve


def _fleet_member(manager: Manager, base: _Base, lease_client: KubeClient | None) -> Serve:
    """The controllers' workers start at once; the member joins after them and gives them their
    scopes (one per shard it holds). Another process taking this identity ends the run."""
    election = base.options.election
    member = FleetMember(
        base.client,
        base.controllers,
        lease_client=lease_client,
        fleet=election.fleet or "",
        namespace=election.fleet_namespace,
        identity=election.identity,
        capacity=election.shard_capacity,
        handoff_timeout=election.handoff_timeout,
    )
    base.server.add_readiness_check(
        "fleet-member", lambda: None if member.fresh else "member lease not fresh"
    )
    base.server.add_route("/debug/shards", lambda: _shards_debug(member))
    manager.add(base.runs_controllers, Group.NEEDS_LEASE)
    manager.add(ServesShards(member), Group.NEEDS_LEASE)

    async def serve() -> int:
        await member.failed.wait()
        if member.evicted is not None:
            raise member.evicted  # another process took this identity: stop, and say so
        return 0

    return serve


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
