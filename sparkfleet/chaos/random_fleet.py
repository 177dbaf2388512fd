"""Runs a :class:`~sparkfleet.chaos.random_changes.Plan` against real fleets while applications flow.

The fleets are real ``sparkfleet run --fleet`` processes (one log and one audit log per process,
so two processes with one identity are told apart) against a control plane the caller gives;
:class:`~sparkfleet.sim.PodSimulator` plays the kubelet and the Spark driver, ending each driver
after the run time the plan gave its application. Two informers watch the applications and their
driver pods from outside. After the last change every application must complete within
``finish_bound`` seconds; :func:`run` then judges the records (:mod:`sparkfleet.chaos.random_checks`)
and returns a :class:`RandomResult` whose ``failures`` name the seed, the change, the key, the
processes and the times.

Used by ``tests/fleet/test_randomized.py`` (short) and by ``make chaos`` (the ``random-changes``
scenario, long). ``SPARKFLEET_RANDOM_SEED`` replays a seed; ``SPARKFLEET_RANDOM_KINDS``
(comma-separated) restricts the kinds of change, to chase one failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.api.fleet import SPARK_FLEETS, SparkFleetSpec
from sparkfleet.chaos.random_changes import (
    KINDS,
    NS_FLEET,
    ROUTING_LABEL,
    SECOND_FLEET,
    TIER_FLEET,
    TIER_NAMESPACE,
    AppSpec,
    Change,
    FleetDef,
    Plan,
)
from sparkfleet.chaos.random_checks import (
    Applied,
    AppRecord,
    Reconcile,
    describe_duplicate,
    describe_lost,
    describe_overlaps,
    duplicate_submissions,
    key_overlaps,
    lost,
    reconciles,
    stamp,
)
from sparkfleet.demo.workload import application
from sparkfleet.kube import ApiError, Informer, InformerEvent, KubeClient
from sparkfleet.kube.errors import ignore_conflict
from sparkfleet.kube.informer import EventType
from sparkfleet.kube.resources import NAMESPACES, PODS, SERVICEACCOUNTS
from sparkfleet.operator.spark import naming
from sparkfleet.sim import ANNOTATION_RUN_SECONDS, PodSimulator, SimConfig
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.proc import die_with_parent, free_port

log = logging.getLogger(__name__)

SEED_ENV = "SPARKFLEET_RANDOM_SEED"
KINDS_ENV = "SPARKFLEET_RANDOM_KINDS"
WORKLOAD_LABEL = "sparkfleet.io/workload"
TERMINAL = ("COMPLETED", "FAILED", "SUBMISSION_FAILED")


def seed_from_env() -> int:
    """``$SPARKFLEET_RANDOM_SEED``, or a fresh seed (print it: it is what replays the run)."""
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return random.SystemRandom().randrange(1, 2**31)
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{SEED_ENV} must be an integer seed; got {raw!r}") from exc


def kinds_from_env() -> tuple[str, ...]:
    """``$SPARKFLEET_RANDOM_KINDS`` (comma-separated), or every kind."""
    raw = os.environ.get(KINDS_ENV, "").strip()
    return tuple(k.strip() for k in raw.split(",") if k.strip()) if raw else KINDS


@dataclass(frozen=True, slots=True)
class RunSettings:
    stem: str = "rnd"
    """Every namespace the run makes starts with this (unique per run on a shared control plane)."""
    lease: tuple[int, int, int] = (4, 3, 1)
    concurrent_syncs: int = 4
    settle_timeout: float = 120.0
    finish_bound: float = 60.0
    """Seconds after the last change within which every application must have completed."""
    cleanup: bool = True
    """Delete the run's namespaces at the end (a shared control plane); off for one of its own."""


@dataclass
class Process:
    name: str
    fleet: str
    identity: str
    log_path: Path
    audit_path: Path
    port: int
    proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode


@dataclass
class RandomResult:
    seed: int
    changes: Counter[str]
    apps: int
    completed: int
    failed: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    overlaps: list[str] = field(default_factory=list)
    """One sentence per key and pair of processes."""
    overlap_pairs: int = 0
    """Overlapping pairs of reconciles of one key (what the chaos report counts)."""
    exits: dict[str, int | None] = field(default_factory=dict)
    """Process -> exit code at the end (None: still running; -9: killed by the plan)."""
    relabels_on_running: int = 0
    conditions: dict[str, list[str]] = field(default_factory=dict)
    """Fleet -> its status conditions at the end (``type=status: reason``), to tell a bad spec apart."""
    finished_after_last_change: float | None = None
    workdir: str = ""

    @property
    def failures(self) -> list[str]:
        return self.lost + self.duplicates + self.overlaps

    def report(self, limit: int = 12) -> str:
        """The failures, each with the seed, for an assertion message."""
        lines = [
            f"randomized fleet run, seed {self.seed} (replay: {SEED_ENV}={self.seed}); "
            f"logs in {self.workdir}",
            f"{self.apps} applications, {len(self.lost)} lost, {len(self.duplicates)} submitted twice, "
            f"{self.overlap_pairs} per-object overlaps ({len(self.overlaps)} keys x pairs of processes); "
            f"changes {dict(sorted(self.changes.items()))}",
        ]
        for what, found in (("lost", self.lost), ("duplicate", self.duplicates), ("overlap", self.overlaps)):
            lines += [f"  {what}: {text}" for text in found[:limit]]
            if len(found) > limit:
                lines.append(f"  ... and {len(found) - limit} more {what}")
        lines.append(f"  fleet conditions at the end: {self.conditions}")
        odd = {p: c for p, c in self.exits.items() if c not in (None, 0, -9)}
        if odd:
            lines.append(f"  processes that exited by themselves: {odd}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "changes_by_kind": dict(sorted(self.changes.items())),
            "changes": sum(self.changes.values()),
            "applications": self.apps,
            "completed": self.completed,
            "failed": self.failed,
            "lost": len(self.lost),
            "duplicate_submissions": len(self.duplicates),
            "per_object_overlaps": self.overlap_pairs,
            "overlapping_keys": len({text.split(" ", 1)[0] for text in self.overlaps}),
            "relabels_on_running": self.relabels_on_running,
            "finished_after_last_change_seconds": self.finished_after_last_change,
            "exits": self.exits,
            "conditions": self.conditions,
            "examples": self.failures[:10],
        }


class RandomRun:
    def __init__(
        self,
        plan: Plan,
        control_plane: ControlPlane,
        client: KubeClient,
        workdir: Path,
        settings: RunSettings,
    ):
        self.plan = plan
        self.control_plane = control_plane
        self.client = client
        self.workdir = workdir
        self.settings = settings
        self.fleet_namespace = f"{settings.stem}-system"
        self.workload = f"random-{settings.stem}"
        self.processes: dict[str, Process] = {}
        self.applied: list[Applied] = []
        self.apps: dict[str, AppRecord] = {}
        self.app_of_name: dict[str, AppSpec] = {}
        self.made_namespaces: set[str] = set()
        self.relabels_on_running = 0
        self.started_by: dict[str, str] = {}
        """Process -> the change that started it."""
        self._simulator: PodSimulator | None = None
        self._informers: list[Informer] = []
        self._done = asyncio.Event()
        """Set when every application created so far is in a terminal state."""

    # -- names ------------------------------------------------------------------------------

    def namespace(self, logical: str) -> str:
        return f"{self.settings.stem}-{logical}"

    def key(self, app: AppSpec) -> str:
        return f"{self.namespace(app.namespace)}/{app.name}"

    # -- the world ---------------------------------------------------------------------------

    async def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self.control_plane.create_namespace(self.fleet_namespace)
        await asyncio.gather(
            *(self._app_namespace(ns) for ns in [*self.plan.initial[NS_FLEET].items(), TIER_NAMESPACE])
        )
        for fleet, definition in self.plan.initial.items():
            await self.client.create(SPARK_FLEETS, self._fleet_object(fleet, definition))
        apps = Informer(self.client, SPARK_APPLICATIONS, label_selector=f"{WORKLOAD_LABEL}={self.workload}")
        drivers = Informer(
            self.client,
            PODS,
            label_selector=f"{WORKLOAD_LABEL}={self.workload},{naming.LABEL_SPARK_ROLE}=driver",
        )
        apps.add_handler(self._on_app)
        drivers.add_handler(self._on_driver)
        self._informers = [apps, drivers]
        for informer in self._informers:
            informer.start()
        self._simulator = PodSimulator(self.client, SimConfig(seed=self.plan.seed))
        await self._simulator.start()
        for informer in self._informers:
            await informer.wait_synced(60)
        for fleet, names in self.plan.members.items():
            for name in names:
                await self.start(name, fleet, name)
        await asyncio.gather(*(self.until_held(f, self.settings.settle_timeout) for f in self.plan.members))

    async def _app_namespace(self, logical: str) -> None:
        name = self.namespace(logical)
        if name in self.made_namespaces:
            return
        self.made_namespaces.add(name)
        await self.control_plane.create_namespace(name)
        account = {"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": "spark-operator-spark", "namespace": name}}  # fmt: skip
        await self.client.create(SERVICEACCOUNTS, account)

    def _fleet_spec(self, fleet: str, definition: FleetDef) -> dict[str, Any]:
        form = "values" if fleet == TIER_FLEET else "namespaces"
        spec = {k: v for k, v in definition.spec(form, f"{self.settings.stem}-").items() if v is not None}
        duration, deadline, retry = self.settings.lease
        spec["lease"] = {
            "durationSeconds": duration,
            "renewDeadlineSeconds": deadline,
            "retryPeriodSeconds": retry,
        }
        if fleet == TIER_FLEET:
            spec["routingLabel"] = ROUTING_LABEL
            if "job_namespaces" in SparkFleetSpec.model_fields:
                # Bounded as the chart bounds a label fleet (spark.jobNamespaces), where the fleet
                # has the field: its label shards then watch its one namespace, not the cluster.
                spec["jobNamespaces"] = [self.namespace(TIER_NAMESPACE)]
        return spec

    def _fleet_object(self, fleet: str, definition: FleetDef) -> dict[str, Any]:
        return {
            "apiVersion": SPARK_FLEETS.api_version,
            "kind": "SparkFleet",
            "metadata": {"name": fleet, "namespace": self.fleet_namespace},
            "spec": self._fleet_spec(fleet, definition),
        }

    async def until_held(self, fleet: str, timeout: float) -> None:
        """Until every shard of ``fleet`` is Held by one of its live processes' identities."""
        deadline = time.monotonic() + timeout
        while True:
            live = {p.identity for p in self.processes.values() if p.fleet == fleet and p.running}
            try:
                status = (await self.client.get(SPARK_FLEETS, fleet, self.fleet_namespace)).get(
                    "status"
                ) or {}
            except ApiError:
                status = {}
            shards = status.get("shards") or []
            if shards and all(s.get("phase") == "Held" and s.get("holder") in live for s in shards):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"fleet {fleet} did not settle in {timeout:.0f}s (seed {self.plan.seed}): {status}; "
                    f"logs in {self.workdir}"
                )
            await asyncio.sleep(0.2)

    # -- processes ---------------------------------------------------------------------------

    async def start(self, name: str, fleet: str, identity: str) -> Process:
        process = Process(
            name,
            fleet,
            identity,
            self.workdir / f"{name}.log",
            self.workdir / f"{name}.audit.jsonl",
            free_port(),
        )
        duration = self.settings.lease[0]
        with process.log_path.open("ab") as out:
            process.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sparkfleet.cli", "run",
                "--kubeconfig", str(self.control_plane.kubeconfig),
                "--fleet", fleet, "--fleet-namespace", self.fleet_namespace, "--identity", identity,
                "--concurrent-syncs", str(self.settings.concurrent_syncs),
                "--handoff-timeout", f"{duration // 2}s",
                "--kube-api-qps", "0", "--metrics-bind-address", f"127.0.0.1:{process.port}",
                "--audit-log", str(process.audit_path), "--log-format", "json",
                stdout=out, stderr=out, preexec_fn=die_with_parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )  # fmt: skip
        self.processes[name] = process
        return process

    async def kill(self, name: str) -> None:
        process = self.processes[name]
        if process.running and process.proc is not None:
            process.proc.send_signal(signal.SIGKILL)
            await process.proc.wait()

    # -- the workload ------------------------------------------------------------------------

    async def create_app(self, app: AppSpec) -> None:
        key = self.key(app)
        manifest = application(app.name, self.namespace(app.namespace), 1)
        labels = {WORKLOAD_LABEL: self.workload}
        if app.tier is not None:
            labels[ROUTING_LABEL] = app.tier
        manifest["metadata"]["labels"] = labels
        manifest["spec"]["driver"]["annotations"] = {ANNOTATION_RUN_SECONDS: str(app.run_seconds)}
        record = self.apps.setdefault(key, AppRecord(key, app.fleet))
        record.created = time.time()
        if app.tier is not None:
            record.labels.append((record.created, app.tier))
        self.app_of_name[app.name] = app
        await self.client.create(SPARK_APPLICATIONS, manifest)

    def _on_app(self, event: InformerEvent) -> None:
        if event.type is EventType.DELETED:
            return
        record = self.apps.get(event.key)
        if record is None:
            return
        status = event.obj.get("status") or {}
        record.state = (status.get("applicationState") or {}).get("state") or "NEW"
        if status.get("submissionID"):
            record.submission_ids.add(str(status["submissionID"]))
        if status.get("submissionAttempts") is not None:
            record.attempts = int(status["submissionAttempts"])
        if record.state in TERMINAL and record.finished is None:
            record.finished = time.time()
        if self._all_terminal():
            self._done.set()

    def _all_terminal(self) -> bool:
        return all(r.state in TERMINAL for r in self.apps.values())

    def _on_driver(self, event: InformerEvent) -> None:
        if event.type is EventType.DELETED:
            return
        key = naming.app_key_of(event.obj)
        if key in self.apps:
            self.apps[key].driver_uids.add(str(event.obj["metadata"].get("uid")))

    # -- changes -----------------------------------------------------------------------------

    async def apply(self, change: Change) -> None:
        await asyncio.gather(*(self._app_namespace(a.namespace) for a in change.apps if a.fleet == NS_FLEET))
        await asyncio.gather(*(self.create_app(app) for app in change.apps))
        started = time.time()
        log.info(
            "random change", extra={"index": change.index, "kind": change.kind, "summary": change.summary}
        )
        kind = change.kind
        if kind == "second-fleet":
            assert change.spec is not None
            assert change.process is not None
            assert change.identity is not None
            await self.client.create(SPARK_FLEETS, self._fleet_object(SECOND_FLEET, change.spec))
            await self.start(change.process, SECOND_FLEET, change.identity)
            self.started_by[change.process] = f"started by change #{change.index} {kind}"
        elif kind == "second-fleet-gone":
            assert change.process is not None
            await self.client.delete(SPARK_FLEETS, SECOND_FLEET, self.fleet_namespace)
            await self.kill(change.process)
        elif change.spec is not None:
            if kind == "add-shard" and change.fleet == NS_FLEET:
                await asyncio.gather(*(self._app_namespace(ns) for ns in change.spec.items()))
            await self._write_spec(change.fleet, change.spec)
        elif kind in ("join", "duplicate"):
            assert change.process is not None
            assert change.identity is not None
            await self.start(change.process, change.fleet, change.identity)
            self.started_by[change.process] = f"started by change #{change.index} {kind}"
        elif kind == "kill":
            assert change.process is not None
            await self.kill(change.process)
        elif kind == "relabel":
            assert change.app is not None
            assert change.value is not None
            key = self.key(self.app_of_name[change.app])
            record = self.apps[key]
            self.relabels_on_running += record.state == "RUNNING"
            record.labels.append((time.time(), change.value))
            patch = {"metadata": {"labels": {ROUTING_LABEL: change.value}}}
            await self.client.patch(SPARK_APPLICATIONS, change.app, patch, self.namespace(TIER_NAMESPACE))
        else:
            raise AssertionError(f"change #{change.index}: nothing applies {kind}")
        self.applied.append(
            Applied(change.index, kind, change.fleet, change.summary, started, time.time(), change.touches)
        )
        # on record (a failed test shows it, a chaos run shows its progress)
        print(
            f"{stamp(started)} change #{change.index} {kind} of fleet {change.fleet}: {change.summary}",
            flush=True,
        )

    async def _write_spec(self, fleet: str, definition: FleetDef) -> None:
        """Replaces the fleet's shards, pins and drain (a compare-and-swap: the status writes race it)."""
        for _ in range(20):
            obj = await self.client.get(SPARK_FLEETS, fleet, self.fleet_namespace)
            obj["spec"] = self._fleet_spec(fleet, definition)
            with ignore_conflict():
                await self.client.replace(SPARK_FLEETS, obj)
                return
        raise RuntimeError(f"could not write fleet {fleet}'s spec: 20 conflicts in a row")

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> RandomResult:
        for change in self.plan.changes:
            await self.apply(change)
            await asyncio.sleep(change.pause)
        last_change = time.monotonic()
        deadline = last_change + self.settings.finish_bound
        finished = None
        if not self._all_terminal():
            self._done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._done.wait(), max(0.0, deadline - time.monotonic()))
        if self._all_terminal():
            finished = round(time.monotonic() - last_change, 1)
        result = self.judge(finished)
        result.conditions = await self.conditions()
        return result

    async def conditions(self) -> dict[str, list[str]]:
        found = {}
        for fleet in (NS_FLEET, TIER_FLEET, SECOND_FLEET):
            try:
                status = (await self.client.get(SPARK_FLEETS, fleet, self.fleet_namespace)).get(
                    "status"
                ) or {}
            except ApiError:
                continue
            found[fleet] = [
                f"{c.get('type')}={c.get('status')}: {c.get('reason')}"
                for c in status.get("conditions") or []
            ]
        return found

    def audit(self) -> list[Reconcile]:
        lines = {}
        for name, process in self.processes.items():
            if process.audit_path.exists():
                lines[name] = [orjson.loads(x) for x in process.audit_path.read_bytes().splitlines() if x]
        return reconciles(lines)

    def _routes(self, record: AppRecord) -> tuple[str, ...]:
        app = self.app_of_name[record.key.split("/", 1)[1]]
        return (app.namespace, app.name, *(value for _, value in record.labels))

    def judge(self, finished: float | None) -> RandomResult:
        found = self.audit()
        ours = set(self.apps)
        overlaps = [o for o in key_overlaps(found) if o.key in ours]
        records = list(self.apps.values())
        return RandomResult(
            seed=self.plan.seed,
            changes=self.plan.kinds(),
            apps=len(records),
            completed=sum(1 for r in records if r.state == "COMPLETED"),
            failed=sum(1 for r in records if r.state in ("FAILED", "SUBMISSION_FAILED")),
            lost=[describe_lost(r, found, self.applied, self._routes(r)) for r in lost(records)],
            duplicates=[describe_duplicate(r, found) for r in duplicate_submissions(records)],
            overlaps=describe_overlaps(
                overlaps, self.applied, self.started_by, {n: p.fleet for n, p in self.processes.items()}
            ),
            overlap_pairs=len(overlaps),
            exits={name: p.returncode for name, p in sorted(self.processes.items())},
            relabels_on_running=self.relabels_on_running,
            finished_after_last_change=finished,
            workdir=str(self.workdir),
        )

    async def close(self) -> None:
        for process in self.processes.values():
            if process.running and process.proc is not None:
                process.proc.kill()
                with contextlib.suppress(Exception):
                    await process.proc.wait()
        if self._simulator is not None:
            with contextlib.suppress(Exception):
                await self._simulator.stop()
        for informer in self._informers:
            with contextlib.suppress(Exception):
                await informer.stop()
        if self.settings.cleanup:
            for namespace in sorted({self.fleet_namespace, *self.made_namespaces}):
                with contextlib.suppress(ApiError):
                    await self.client.delete(NAMESPACES, namespace)


async def run(
    plan: Plan,
    control_plane: ControlPlane,
    client: KubeClient,
    workdir: Path,
    settings: RunSettings | None = None,
) -> RandomResult:
    """Sets up the plan's world on ``control_plane`` (whose CRDs are installed), runs every change
    while applications flow, waits for them and judges the run. Everything it started stops."""
    world = RandomRun(plan, control_plane, client, workdir, settings or RunSettings())
    print(
        f"randomized fleet run: seed {plan.seed} ({SEED_ENV}={plan.seed} replays it); logs in {workdir}",
        flush=True,
    )
    try:
        await world.setup()
        return await world.run()
    finally:
        await world.close()


__all__ = ["KINDS_ENV", "SEED_ENV", "RandomResult", "RunSettings", "kinds_from_env", "run", "seed_from_env"]
