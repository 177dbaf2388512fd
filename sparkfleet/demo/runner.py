"""One run of the main job: control plane, fleet, simulator, workload, live progress, report.

Used by ``sparkfleet demo`` (one run, shown live) and by the benchmark (runs
with 1, 2 and 4 instances, compared). Everything it starts is stopped when it
returns, raises or is cancelled (Ctrl-C).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkfleet import __version__
from sparkfleet.api import SPARK_APPLICATIONS, crd
from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.demo.ceiling import write_ceiling
from sparkfleet.demo.instances import Instance, handoff_seconds
from sparkfleet.demo.observer import Observer
from sparkfleet.demo.report import percentiles, ratio
from sparkfleet.demo.snapshot import Phase, Snapshot, all_held_by, held_counts, member_shards, unheld_shards
from sparkfleet.demo.units import duration
from sparkfleet.demo.workload import Workload
from sparkfleet.kube import ApiError, ClientSettings, KubeClient
from sparkfleet.kube.resources import SERVICEACCOUNTS
from sparkfleet.kube.retry import while_unavailable
from sparkfleet.operator.audit import overlaps
from sparkfleet.operator.audit import read as read_audit
from sparkfleet.sharding.ops import planned_moves
from sparkfleet.sim import PodSimulator, SimConfig
from sparkfleet.testing import ControlPlane

FLEET = "demo"
FLEET_NAMESPACE = "sparkfleet-system"
CEILING_NAMESPACE = "sparkfleet-ceiling"


@dataclass(frozen=True, slots=True)
class RunConfig:
    instances: int = 3
    workload: Workload = field(default_factory=Workload)
    sim: SimConfig = field(default_factory=lambda: SimConfig(run_time=(10.0, 30.0)))
    concurrent_syncs: int = 10
    lease: tuple[int, int, int] = (8, 6, 2)
    arrival_per_minute: float | None = None
    """Submit the workload at this pace; None: all at once (a burst, write-bound)."""
    kill_one_at: float | None = None
    timeout: float = 900.0
    workdir: Path | None = None
    measure_ceiling: bool = True
    profile: Path | None = None
    """Profile each instance with py-spy while the workload runs, into this directory."""


Show = Callable[[Snapshot | Phase], None]
"""Gets a snapshot every second while the workload runs, and a phase when a step begins before or after it."""


async def run(config: RunConfig, show: Show | None = None) -> dict[str, Any]:
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="sparkfleet-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    show = show or (lambda _s: None)
    show(Phase("starting the control plane (etcd, kube-apiserver)"))
    async with ControlPlane(workdir / "controlplane") as cp:
        client = await cp.client(ClientSettings(qps=0, burst=0))
        try:
            report = await _run(cp, client, config, workdir, show)
        finally:
            await client.close()
            show(Phase("stopping the control plane"))
    return report


async def _run(
    cp: ControlPlane, client: KubeClient, config: RunConfig, workdir: Path, show: Show
) -> dict[str, Any]:
    workload = config.workload
    show(Phase(f"installing the CRDs; creating {workload.namespaces} namespaces and the SparkFleet"))
    await cp.install_crds(crd.generate().values())  # the same CRDs as deploy/crds, from the models
    await create_namespaces(cp, client, workload)
    await create_fleet(client, workload, config.lease)
    observer = Observer(client)
    simulator = PodSimulator(client, config.sim, on_driver_phase=observer.driver_phase_written)
    instances = [Instance(f"member-{i + 1}", workdir) for i in range(config.instances)]
    try:
        show(Phase(f"starting {len(instances)} operator instances, the observer and the pod simulator"))
        for instance in instances:
            await instance.start(cp.kubeconfig, FLEET, FLEET_NAMESPACE, config.concurrent_syncs)
        await observer.start()
        await simulator.start()
        show(Phase(f"waiting for the fleet to settle (members active, {workload.namespaces} shards held)"))
        await until_settled(client, {i.identity for i in instances}, 120, instances)
        await asyncio.gather(*(i.scrape() for i in instances))
        for instance in instances:
            instance.mark_workload_start()
        if config.profile is not None:
            await asyncio.gather(*(i.start_profile(config.profile) for i in instances))
        started = time.monotonic()
        sim_writes_at_start = simulator.stats.writes
        submitted: tuple[float, float, float] | None = None
        submitter = asyncio.create_task(submit(client, observer, workload, config.arrival_per_minute))
        failover: float | None = None
        killed: Instance | None = None
        killed_at = killed_after = 0.0
        status: dict[str, Any] = {}
        last_scrape = 0.0
        while observer.terminal < workload.total:
            await asyncio.sleep(1.0)
            elapsed = time.monotonic() - started
            for instance in instances:
                instance.sample_usage()
            all_submitted = submitted is None and len(observer.submit_latency) >= workload.total
            if all_submitted or time.monotonic() - last_scrape > 5:
                await asyncio.gather(*(i.scrape() for i in instances))
                last_scrape = time.monotonic()
                if all_submitted:
                    writes = sum(i.writes() for i in instances)
                    others = simulator.stats.writes - sim_writes_at_start + len(observer.created)
                    submitted = (time.monotonic() - started, writes, others)
            status = await fleet_status(client)
            note = ""
            if config.kill_one_at is not None and killed is None and elapsed >= config.kill_one_at:
                killed = max(instances, key=lambda i: held_counts(status).get(i.identity, 0))
                await killed.kill()
                killed_at = time.monotonic()
                killed_after = round(killed_at - started, 1)
                note = f"killed {killed.identity} (kill -9)"
            if killed is not None and failover is None:
                alive = {i.identity for i in instances if i.running}
                if all_held_by(status, alive):
                    failover = round(time.monotonic() - killed_at, 2)
                    note = f"{killed.identity}'s shards taken over in {duration(failover)}"
            show(_snapshot(elapsed, workload, observer, status, instances, note))
            if elapsed > config.timeout:
                break
        makespan = time.monotonic() - started
        end = _snapshot(makespan, workload, observer, status, instances, "")
        show(Phase("the workload is over; waiting for the last create calls to return"))
        await submitter
        await asyncio.gather(*(i.scrape() for i in instances))
        for instance in instances:
            instance.sample_usage()
        await asyncio.gather(*(i.stop_profile() for i in instances))
        sim_cpu = simulator.cpu_seconds()
        show(Phase("stopping the pod simulator"))
        await simulator.stop()
        # After the workload, so its clean-up never competes with it; the objects stay (4,000
        # pods and more), as they were while the fleet worked.
        if config.measure_ceiling:
            show(Phase("measuring the API server's write ceiling for the report (about 6 s)"))
        ceiling = await write_ceiling(client, CEILING_NAMESPACE) if config.measure_ceiling else None
    finally:
        await asyncio.gather(*(i.stop_profile() for i in instances))
        with contextlib.suppress(Exception):
            await simulator.stop()
        with contextlib.suppress(Exception):
            await observer.stop()
        running = sum(1 for i in instances if i.running)
        if running:
            show(Phase(f"tearing down: stopping {running} instance(s) (each hands its shards off)"))
        for instance in instances:
            await instance.terminate()
    show(Phase("reading the instances' audit logs and metrics for the report"))
    kill = Kill(killed.identity, killed_after, failover) if killed is not None else None
    return build_report(
        config,
        workload,
        observer,
        instances,
        Timings(makespan, failover, submitted, kill),
        ceiling,
        sim_cpu,
        simulator.stats.writes,
        end,
    )


# -- set-up ------------------------------------------------------------------------------


async def create_namespaces(cp: ControlPlane, client: KubeClient, workload: Workload) -> None:
    slots = asyncio.Semaphore(16)

    async def one(name: str, service_account: bool) -> None:
        async with slots:
            await cp.create_namespace(name)
            if service_account:
                account = {"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": "spark-operator-spark", "namespace": name}}  # fmt: skip
                await client.create(SERVICEACCOUNTS, account)

    await asyncio.gather(
        one(FLEET_NAMESPACE, False),
        one(CEILING_NAMESPACE, True),
        *(one(ns, True) for ns in workload.namespace_names()),
    )


async def create_fleet(client: KubeClient, workload: Workload, lease: tuple[int, int, int]) -> None:
    duration, deadline, retry = lease
    await client.create(
        SPARK_FLEETS,
        {
            "apiVersion": SPARK_FLEETS.api_version,
            "kind": "SparkFleet",
            "metadata": {"name": FLEET, "namespace": FLEET_NAMESPACE},
            "spec": {
                "shards": [{"name": ns, "namespaces": [ns]} for ns in workload.namespace_names()],
                "lease": {
                    "durationSeconds": duration,
                    "renewDeadlineSeconds": deadline,
                    "retryPeriodSeconds": retry,
                },
            },
        },
    )


async def submit(
    client: KubeClient,
    observer: Observer,
    workload: Workload,
    per_minute: float | None,
    in_flight: int = 32,
) -> None:
    """Creates the applications: all at once (``in_flight`` at a time), or one every 60/``per_minute`` s."""
    slots = asyncio.Semaphore(in_flight)
    start = time.monotonic()
    interval = 60.0 / per_minute if per_minute else 0.0

    async def one(index: int, app: dict[str, Any]) -> None:
        meta = app["metadata"]
        if interval:
            await asyncio.sleep(max(0.0, start + index * interval - time.monotonic()))
        async with slots:
            observer.creating(f"{meta['namespace']}/{meta['name']}")
            await create_patiently(client, app)

    await asyncio.gather(*(one(i, app) for i, app in enumerate(workload.applications())))


async def create_patiently(client: KubeClient, app: dict[str, Any]) -> None:
    """Creates ``app``, trying again while the API server is unreachable (as a user's pipeline
    would through a control-plane restart); AlreadyExists means an earlier try got through."""
    tries = 0

    async def create() -> None:
        nonlocal tries
        tries += 1
        try:
            await client.create(SPARK_APPLICATIONS, app)
        except ApiError as exc:
            if not (exc.is_conflict and tries > 1):
                raise

    await while_unavailable(create)


# -- fleet status --------------------------------------------------------------------------


async def fleet_status(client: KubeClient) -> dict[str, Any]:
    try:
        return (await client.get(SPARK_FLEETS, FLEET, FLEET_NAMESPACE)).get("status") or {}
    except ApiError:
        return {}


async def until_settled(
    client: KubeClient, members: set[str], timeout: float, instances: list[Instance]
) -> None:
    """Until every member is active, every shard is held by one, and the coordinator plans no
    more moves: a workload started earlier would pay for the fleet's settling (shards moving
    while the last members join), which is not what a run measures."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fleet = await client.get(SPARK_FLEETS, FLEET, FLEET_NAMESPACE)
        except ApiError:
            fleet = {}
        status = fleet.get("status") or {}
        active = {m.get("identity") for m in status.get("members") or [] if m.get("state") == "Active"}
        if active == members and all_held_by(status, members) and not planned_moves(fleet, rebalance=False):
            return
        for instance in instances:
            if not instance.running:
                raise RuntimeError(f"{instance.identity} exited; see {instance.log_path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the fleet did not settle in {timeout:.0f}s; logs in {instances[0].workdir}")
        await asyncio.sleep(0.2)


def _snapshot(
    elapsed: float,
    workload: Workload,
    observer: Observer,
    status: dict[str, Any],
    instances: list[Instance],
    note: str,
) -> Snapshot:
    return Snapshot(
        elapsed=elapsed,
        total=workload.total,
        states=observer.count_by_state(),
        submitted=len(observer.submit_latency),
        submit=percentiles(list(observer.submit_latency.values())),
        status=percentiles(observer.status_latency),
        members=member_shards(status, (i.identity for i in instances)),
        gone={i.identity for i in instances if not i.running},
        shards=len(status.get("shards") or []),
        unheld=unheld_shards(status),
        note=note,
    )


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kill:
    member: str
    after_seconds: float
    """Into the workload."""
    takeover_seconds: float | None
    """From the kill until every shard was held by a live member; None if that never happened."""


@dataclass(frozen=True, slots=True)
class Timings:
    makespan: float
    failover: float | None
    submitted: tuple[float, float, float] | None
    """When every application had its driver: seconds into the run, and the writes by then of the
    fleet and of the others (the simulator, and the workload's creates)."""
    kill: Kill | None = None


def build_report(
    config: RunConfig,
    workload: Workload,
    observer: Observer,
    instances: list[Instance],
    timings: Timings,
    ceiling: float | None,
    sim_cpu: float,
    sim_writes: int,
    end: Snapshot | None = None,
) -> dict[str, Any]:
    """The run's report; ``end`` is the last snapshot of the workload (the fleet as it ended)."""
    makespan = timings.makespan
    states = observer.states
    completed = sum(1 for s in states.values() if s == "COMPLETED")
    failed = sum(1 for s in states.values() if s in ("FAILED", "SUBMISSION_FAILED"))
    audit = read_audit(i.audit_path for i in instances)
    handoffs = handoff_seconds(i.log_path for i in instances)
    by_verb: dict[str, float] = {}  # since the workload started: start-up lists and watches apart
    for instance in instances:
        for verb, n in instance.requests_by_verb().items():
            by_verb[verb] = by_verb.get(verb, 0.0) + n
    requests_total = sum(by_verb.values())
    writes = sum(i.writes() for i in instances)
    cpu_total = sum(i.usage.workload_cpu_seconds for i in instances)
    submission_phase = None
    if timings.submitted is not None:
        seconds, fleet_writes, other_writes = timings.submitted
        rate = fleet_writes / seconds if seconds > 0 else None
        all_rate = (fleet_writes + other_writes) / seconds if seconds > 0 else None
        submission_phase = {
            "seconds": round(seconds, 1),
            "fleet_writes_per_s": round(rate, 1) if rate is not None else None,
            "vs_ceiling": ratio(rate, ceiling),
            "all_writes_per_s": round(all_rate, 1) if all_rate is not None else None,
            "all_vs_ceiling": ratio(all_rate, ceiling),
        }
    submissions = [
        observer.created[k] + v for k, v in observer.submit_latency.items() if k in observer.created
    ]
    throughput = None
    if len(submissions) > 1:
        span = max(submissions) - min(observer.created.values())
        throughput = round(len(submissions) / span * 60, 1) if span > 0 else None
    return {
        "sparkfleet": __version__,
        "instances": config.instances,
        "workload": {
            "namespaces": workload.namespaces,
            "apps_per_namespace": workload.apps_per_namespace,
            "executors": list(workload.executors),
            "app_run_time_seconds": list(config.sim.run_time),
            "arrival_per_minute": config.arrival_per_minute,
        },
        "apps_total": workload.total,
        "apps_completed": completed,
        "apps_failed": failed,
        "apps_lost": workload.total - completed - failed,
        "apps_by_state": dict(sorted(observer.count_by_state().items())),
        "overlaps": len(overlaps(audit)),
        # Since the instances started: a member that missed its renew deadline, and shards that moved
        # (taken over from a live holder, or from one that was gone): each move lists the shard anew.
        "fences": int(sum(i.metric("sparkfleet_fenced_total") for i in instances)),
        "shard_moves": int(sum(i.metric("sparkfleet_shard_handoffs_total") for i in instances)),
        # Every latency from per-application observations (see observer.py), never histogram buckets.
        "submit_latency_seconds": percentiles(list(observer.submit_latency.values())),
        "first_status_latency_seconds": percentiles(list(observer.first_status_latency.values())),
        "submissions_per_minute": throughput,
        "status_latency_seconds": percentiles(observer.status_latency),
        "makespan_seconds": round(makespan, 1),
        "api_requests_total": int(requests_total),
        "api_requests_per_app": {verb: round(n / workload.total, 2) for verb, n in sorted(by_verb.items())},
        "fleet_write_rate_per_s": round(writes / makespan, 1) if makespan else None,
        "apiserver_write_ceiling_per_s": ceiling,
        "write_rate_vs_ceiling": ratio(writes / makespan if makespan else None, ceiling),
        "submission_phase": submission_phase,
        "per_instance": {
            i.identity: {
                "cpu_seconds": round(i.usage.workload_cpu_seconds, 2),
                "system_cpu_seconds": round(i.usage.workload_system_cpu_seconds, 2),
                "startup_cpu_seconds": round(i.usage.startup_cpu_seconds, 2),
                "wakeups": i.usage.workload_wakeups,
                "peak_rss_mib": i.usage.peak_rss_mib,
                "reconciles": int(i.metric("controller_runtime_reconcile_total")),
                # success / requeue_after (a wait: our write's echo, a driver on its way, executor
                # states held for their batch) / requeue / error, of both controllers
                "reconciles_by_result": {
                    result: int(i.metric("controller_runtime_reconcile_total", result=result))
                    for result in ("success", "requeue_after", "requeue", "error")
                },
            }
            for i in instances
        },
        "cpu_seconds_total": round(cpu_total, 2),
        "sharding_cpu_overhead": None,
        "simulator": {"cpu_seconds": round(sim_cpu, 2), "writes": sim_writes},
        "failover_seconds": timings.failover,
        "failover": None
        if timings.kill is None
        else {
            "killed": timings.kill.member,
            "killed_after_seconds": timings.kill.after_seconds,
            "takeover_seconds": timings.kill.takeover_seconds,
        },
        "handoff_seconds": percentiles(handoffs) if handoffs else None,
        "fleet_at_end": None if end is None else fleet_at_end(end),
    }


def fleet_at_end(end: Snapshot) -> dict[str, Any]:
    """The fleet as the workload ended: each member's shards and whether it was gone; unheld shards."""
    return {
        "members": [
            {"identity": member, "shards": shards, "gone": member in end.gone}
            for member, shards in end.members.items()
        ],
        "shards": end.shards,
        "unheld_shards": end.unheld,
    }
