"""The faults, one scenario each: what production does to an operator, done to a running fleet.

Each scenario builds its own :class:`~sparkfleet.chaos.rig.Rig` (its own control
plane: some faults restart or reconfigure it), runs a workload through the
fault and returns a :class:`ScenarioResult`: the faults injected, how long the
fleet took to recover from each, and the :class:`~sparkfleet.chaos.rig.Outcome`
(lost, overlapping, duplicated). Sizes come from a :class:`Scale`, so the same
code is a short test in ``make test`` and a long run in ``make chaos``.
"""

from __future__ import annotations

import asyncio
import calendar
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sparkfleet.api import crd
from sparkfleet.chaos import random_fleet
from sparkfleet.chaos.random_changes import PlanConfig, make_plan
from sparkfleet.chaos.rig import Outcome, Rig, RigConfig
from sparkfleet.demo.instances import Instance
from sparkfleet.demo.report import percentiles
from sparkfleet.demo.runner import FLEET_NAMESPACE
from sparkfleet.demo.workload import Workload
from sparkfleet.kube import ClientSettings, KubeClient, Resource
from sparkfleet.kube.resources import CLUSTERROLEBINDINGS, CLUSTERROLES
from sparkfleet.sim import SimConfig
from sparkfleet.testing import ControlPlane

PRIORITY_LEVELS = Resource(
    "flowcontrol.apiserver.k8s.io", "v1", "prioritylevelconfigurations", "PriorityLevelConfiguration",
    namespaced=False,
)  # fmt: skip
FLOWSCHEMAS = Resource("flowcontrol.apiserver.k8s.io", "v1", "flowschemas", "FlowSchema", namespaced=False)
FENCED_MESSAGE = "could not renew the member lease within the renew deadline"


@dataclass(frozen=True, slots=True)
class Scale:
    """How big a run is: ``short`` for ``make test``, ``full`` for ``make chaos``."""

    name: str
    workload: Workload
    arrival_per_minute: float
    run_time: tuple[float, float]
    kills: int
    restarts: tuple[tuple[str, float], ...]
    """Control-plane restarts: ``crash`` (SIGKILL) or ``graceful`` (SIGTERM), and seconds down."""
    compactions: int
    cuts: tuple[str, ...]
    """``stall`` (traffic silently dropped) or ``cut`` (connections reset), one cut-off each."""
    latency: float
    timeout: float = 600.0
    random_changes: int = 30
    """Changes in the randomized scenario's plan (:mod:`sparkfleet.chaos.random_changes`)."""
    seed: int | None = None
    """The randomized scenario's seed (None: ``$SPARKFLEET_RANDOM_SEED``, or a fresh one, printed)."""

    @property
    def sim(self) -> SimConfig:
        return SimConfig(run_time=self.run_time)


SHORT = Scale(
    name="short",
    workload=Workload(namespaces=8, apps_per_namespace=4, executors=(1, 4), prefix="chaos"),
    arrival_per_minute=180,
    run_time=(2.0, 5.0),
    kills=3,
    restarts=(("crash", 0.0),),
    compactions=1,
    cuts=("stall",),
    latency=0.05,
    timeout=240,
    random_changes=30,
)
FULL = Scale(
    name="full",
    workload=Workload(namespaces=40, apps_per_namespace=10, executors=(1, 10), prefix="chaos"),
    arrival_per_minute=160,
    run_time=(5.0, 15.0),
    kills=24,
    restarts=(("crash", 0.0), ("graceful", 8.0)),
    compactions=3,
    cuts=("stall", "cut"),
    latency=0.1,
    timeout=900,
    random_changes=200,
)
SCALES = {s.name: s for s in (SHORT, FULL)}


@dataclass
class ScenarioResult:
    name: str
    fault: str
    faults: int = 0
    recovery_seconds: list[float] = field(default_factory=list)
    """Per fault: how long until the fleet was whole again (what that means is the scenario's)."""
    details: dict[str, Any] = field(default_factory=dict)
    outcome: Outcome | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.outcome is not None and self.outcome.clean

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fault": self.fault,
            "faults": self.faults,
            "passed": self.passed,
            "recovery_seconds": percentiles(self.recovery_seconds) if self.recovery_seconds else None,
            "recovery_samples": [round(s, 2) for s in self.recovery_seconds],
            **({"outcome": self.outcome.as_dict()} if self.outcome else {}),
            "details": self.details,
            "seconds": round(self.seconds, 1),
            **({"error": self.error} if self.error else {}),
        }


Scenario = Callable[[Scale, Path], Coroutine[Any, Any, ScenarioResult]]


async def _finish(rig: Rig, result: ScenarioResult, scale: Scale) -> ScenarioResult:
    """Waits for the workload, then records what the run shows."""
    result.details["workload_done_after_faults_seconds"] = round(await rig.wait_finished(scale.timeout), 1)
    await rig.scrape()
    result.details["rest_client_429"] = int(rig.metric("rest_client_requests_total", code="429"))
    result.details["informer_relists"] = int(rig.metric("sparkfleet_informer_relists_total"))
    result.details["fenced"] = int(rig.metric("sparkfleet_fenced_total"))
    result.outcome = await rig.outcome()
    return result


def _rig(scale: Scale, workdir: Path, **overrides: Any) -> Rig:
    return Rig(RigConfig(workload=scale.workload, sim=scale.sim, **overrides), workdir)


# -- kill -9 ---------------------------------------------------------------------------------


async def kill_storm(scale: Scale, workdir: Path) -> ScenarioResult:
    """Random members are killed with SIGKILL, one after another, and replaced (as a
    Deployment would); recovery is kill -> no shard held by the dead member any more."""
    result = ScenarioResult("kill-storm", "kill -9")
    rng = random.Random(20261130)
    async with _rig(scale, workdir) as rig:
        await rig.start_fleet()
        rig.submit(scale.arrival_per_minute)
        duration = rig.config.lease[0]
        for _ in range(scale.kills):
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            victim = rng.choice(rig.alive())
            await victim.kill()
            killed = time.monotonic()
            result.faults += 1
            await rig.start_instance()
            await rig.until_served_by([i.identity for i in rig.alive()], timeout=duration * 4 + 30)
            result.recovery_seconds.append(time.monotonic() - killed)
        result.details["lease_duration_seconds"] = duration
        result.details["within_lease_plus_3s"] = sum(1 for s in result.recovery_seconds if s <= duration + 3)
        return await _finish(rig, result, scale)


# -- the control plane restarts ------------------------------------------------------------


async def controlplane_restart(scale: Scale, workdir: Path) -> ScenarioResult:
    """etcd and the API server crash (or stop gracefully) and start again on the same data;
    recovery is API server ready -> every shard served by a live member. An outage shorter than
    the renew deadline leaves every member serving; a longer one fences every member, which then
    claims its shards again."""
    result = ScenarioResult("controlplane-restart", "control-plane restart")
    async with _rig(scale, workdir, lease=(8, 6, 2)) as rig:
        await rig.start_fleet()
        rig.submit(scale.arrival_per_minute)
        restarts = []
        for mode, down in scale.restarts:
            await asyncio.sleep(4.0)
            before = await rig.shard_holders()
            fenced = await _fenced_total(rig)
            outage = await rig.control_plane.restart(
                ("etcd", "kube-apiserver"), down_seconds=down, crash=mode == "crash"
            )
            ready = time.monotonic()
            result.faults += 1
            await rig.until_served_by([i.identity for i in rig.alive()], timeout=60)
            result.recovery_seconds.append(time.monotonic() - ready)
            after = await rig.shard_holders()
            restarts.append(
                {
                    "mode": mode,
                    "outage_seconds": round(outage, 1),
                    "members_fenced": int(await _fenced_total(rig) - fenced),
                    "shards_kept": sum(1 for s, h in after.items() if before.get(s) == h),
                    "shards_moved": sum(1 for s, h in after.items() if before.get(s) != h),
                }
            )
        result.details["restarts"] = restarts
        return await _finish(rig, result, scale)


async def _fenced_total(rig: Rig) -> float:
    await rig.scrape()
    return rig.metric("sparkfleet_fenced_total")


# -- etcd compaction: 410 Gone ---------------------------------------------------------------


async def compaction(scale: Scale, workdir: Path) -> ScenarioResult:
    """etcd compacts its history, then every watch is dropped (a blip at each member's proxy):
    the watches resume from compacted revisions, get 410 Gone and must list again. The API
    server runs without its watch cache, so the watches reach etcd as on a cache miss."""
    result = ScenarioResult("etcd-compaction", "etcd compaction (410 Gone)")
    async with _rig(scale, workdir, proxied=True, apiserver_args=("--watch-cache=false",)) as rig:
        await rig.start_fleet()
        rig.submit(scale.arrival_per_minute)
        for _ in range(scale.compactions):
            await asyncio.sleep(5.0)
            await rig.scrape()
            relists = rig.metric("sparkfleet_informer_relists_total")
            revision = await rig.control_plane.compact_etcd()
            blipped = time.monotonic()
            for proxy in rig.proxies.values():
                proxy.cut()
                proxy.heal()
            result.faults += 1
            while True:  # recovered: the members listed again
                await asyncio.sleep(0.2)
                await rig.scrape()
                if (
                    rig.metric("sparkfleet_informer_relists_total") > relists
                    or time.monotonic() - blipped > 30
                ):
                    break
            result.recovery_seconds.append(time.monotonic() - blipped)
            result.details.setdefault("compacted_revisions", []).append(revision)
        result = await _finish(rig, result, scale)
        if result.details["informer_relists"] == 0:
            result.error = "no informer listed again: the compaction never reached a watch"
        return result


# -- API Priority and Fairness ---------------------------------------------------------------


OPERATOR_RULES = [
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
    {"apiGroups": ["sparkoperator.k8s.io"], "resources": ["*"], "verbs": ["*"]},
    {"apiGroups": ["sparkfleet.io"], "resources": ["sparkfleets"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["sparkfleet.io"], "resources": ["sparkfleets/status"], "verbs": ["get", "update"]},
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps"], "verbs": ["*"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
]


async def throttled(scale: Scale, workdir: Path) -> ScenarioResult:
    """The members run as a ServiceAccount (not exempt from API Priority and Fairness) whose
    requests land in a priority level of a few seats and a short queue, rejecting the rest; their
    Lease traffic has a FlowSchema of its own, as it should in production. The work must
    finish anyway, by waiting out each 429's Retry-After."""
    result = ScenarioResult("apf-throttled", "API Priority and Fairness 429")
    async with _rig(scale, workdir) as rig:
        identity = await rig.control_plane.mint_identity(FLEET_NAMESPACE, "sparkfleet-operator")
        await _grant(rig.client, identity.namespace, identity.name)
        level_uid = await _throttle(rig.client, identity.namespace, identity.name)
        async with await rig.control_plane.client(kubeconfig=identity.kubeconfig) as probe:
            await _until_classified(probe, level_uid)
        rig.kubeconfig = identity.kubeconfig
        await rig.start_fleet()
        rig.submit()  # all at once: the most the level has to turn away
        result.faults = 1
        result = await _finish(rig, result, scale)
        result.details["identity"] = identity.username
        if result.details["rest_client_429"] == 0:
            result.error = "no request was throttled: the priority level had room for everything"
        return result


async def _grant(client: KubeClient, namespace: str, name: str) -> None:
    role = f"sparkfleet-chaos-{name}"
    await client.create(CLUSTERROLES, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": role}, "rules": OPERATOR_RULES,
    })  # fmt: skip
    await client.create(CLUSTERROLEBINDINGS, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": role},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    })  # fmt: skip


async def _throttle(client: KubeClient, namespace: str, name: str) -> str:
    """A priority level of two shares and one short queue, for everything but the identity's Leases
    (those go to the built-in ``leader-election`` level). Returns the tight level's uid."""
    level = await client.create(PRIORITY_LEVELS, {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
        "metadata": {"name": "sparkfleet-tight"},
        "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 2, "lendablePercent": 0, "borrowingLimitPercent": 0,
            "limitResponse": {
                "type": "Queue", "queuing": {"queues": 1, "handSize": 1, "queueLengthLimit": 4},
            },
        }},
    })  # fmt: skip
    subject = {"kind": "ServiceAccount", "serviceAccount": {"name": name, "namespace": namespace}}

    def schema(schema_name: str, level_name: str, precedence: int, rule: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": schema_name},
            "spec": {
                "priorityLevelConfiguration": {"name": level_name}, "matchingPrecedence": precedence,
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [{"subjects": [subject], "resourceRules": [rule]}],
            },
        }  # fmt: skip

    leases = {
        "verbs": ["*"],
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "namespaces": ["*"],
    }
    everything = {
        "verbs": ["*"],
        "apiGroups": ["*"],
        "resources": ["*"],
        "namespaces": ["*"],
        "clusterScope": True,
    }
    await client.create(FLOWSCHEMAS, schema("sparkfleet-leases", "leader-election", 400, leases))
    await client.create(FLOWSCHEMAS, schema("sparkfleet-tight", "sparkfleet-tight", 500, everything))
    return str(level["metadata"]["uid"])


async def _until_classified(probe: KubeClient, level_uid: str, timeout: float = 30.0) -> None:
    """The API server applies new APF objects within a moment; wait until it does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await probe.open(
            "GET", "/apis/sparkoperator.k8s.io/v1beta2/sparkapplications", query={"limit": 1}
        )
        classified = resp.headers.get("X-Kubernetes-PF-PriorityLevel-UID") == level_uid
        resp.release()
        if classified:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the API server never put the identity's requests in the tight priority level")


# -- a member cut off from the API server ---------------------------------------------------


async def cut_off(scale: Scale, workdir: Path) -> ScenarioResult:
    """The path between the busiest member and the API server breaks (dropped traffic, or
    reset connections), then heals. The member must stop within its renew deadline, the
    others take its shards, and it rejoins and gets shards back; recovery is break -> every
    shard served by another member."""
    result = ScenarioResult("cut-off", "member cut off from the API server")
    async with _rig(scale, workdir, proxied=True) as rig:
        await rig.start_fleet()
        rig.submit(scale.arrival_per_minute)
        duration, deadline, _ = rig.config.lease
        cuts: list[dict[str, Any]] = []
        for mode in scale.cuts:
            await asyncio.sleep(3.0)
            holders = await rig.serving()
            victim = max(rig.alive(), key=lambda i: sum(1 for h in holders.values() if h == i.identity))
            others = [i.identity for i in rig.alive() if i is not victim]
            proxy = rig.proxies[victim.identity]
            broken_wall, broken = time.time(), time.monotonic()
            proxy.stall() if mode == "stall" else proxy.cut()
            result.faults += 1
            await rig.until_served_by(others, timeout=duration * 4 + 30)
            result.recovery_seconds.append(time.monotonic() - broken)
            fenced_at = _fenced_at(victim, after=broken_wall)
            await asyncio.sleep(2.0)
            proxy.heal()
            healed = time.monotonic()
            rejoined = await _holds_again(rig, victim.identity, timeout=60)
            cuts.append(
                {
                    "mode": mode,
                    "shards_lost": sum(1 for h in holders.values() if h == victim.identity),
                    "stopped_after_seconds": round(fenced_at - broken_wall, 2) if fenced_at else None,
                    "renew_deadline_seconds": deadline,
                    "rejoined_after_heal_seconds": round(rejoined - healed, 2) if rejoined else None,
                }
            )
        result.details["cuts"] = cuts
        result = await _finish(rig, result, scale)
        late = [
            c for c in cuts if c["stopped_after_seconds"] is None or c["stopped_after_seconds"] > deadline + 1
        ]
        if late:
            result.error = f"a cut-off member did not stop within its renew deadline: {late}"
        elif any(c["rejoined_after_heal_seconds"] is None for c in cuts):
            result.error = f"a member did not get shards back after the path healed: {cuts}"
        return result


def _fenced_at(instance: Instance, after: float) -> float | None:
    """When (epoch seconds) the instance logged that it stopped every shard, after ``after``."""
    if not instance.log_path.exists():
        return None
    for line in instance.log_path.read_bytes().splitlines():
        if FENCED_MESSAGE.encode() not in line:
            continue
        entry = orjson.loads(line)
        stamp = str(entry["ts"]).rstrip("Z")
        seconds, _, millis = stamp.partition(".")
        when = calendar.timegm(time.strptime(seconds, "%Y-%m-%dT%H:%M:%S")) + int(millis or 0) / 1000
        if when >= after - 0.01:
            return when
    return None


async def _holds_again(rig: Rig, identity: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if identity in (await rig.serving()).values():
            return time.monotonic()
        await asyncio.sleep(0.2)
    return None


# -- a slow API server -------------------------------------------------------------------------


async def slow_api(scale: Scale, workdir: Path) -> ScenarioResult:
    """Every member's requests and watch events arrive late (added latency both ways): no
    application may be submitted twice and no status may be lost."""
    result = ScenarioResult("slow-api", "API server latency")
    async with _rig(scale, workdir, proxied=True, latency=scale.latency) as rig:
        await rig.start_fleet()
        rig.submit()  # all at once: the most requests in flight behind the latency
        result.faults = 1
        result.details["added_latency_seconds_each_way"] = scale.latency
        return await _finish(rig, result, scale)


# -- random changes ----------------------------------------------------------------------------


async def random_changes(scale: Scale, workdir: Path) -> ScenarioResult:
    """A seeded random plan of changes while applications flow: SparkFleet spec edits (namespaces and
    values moved, shards split, merged, added, removed), routing-label changes on running
    applications, members killed, joined, drained, pinned and started twice with one identity, a
    second fleet over the first's namespaces. Every application must complete, none be submitted
    twice, and no object be reconciled by two processes at once; the seed replays the plan."""
    seed = scale.seed if scale.seed is not None else random_fleet.seed_from_env()
    plan = make_plan(seed, PlanConfig(changes=scale.random_changes, kinds=random_fleet.kinds_from_env()))
    result = ScenarioResult("random-changes", f"random changes (seed {seed})", faults=len(plan.changes))
    async with ControlPlane(workdir / "controlplane") as control_plane:
        await control_plane.install_crds(crd.generate().values())
        async with await control_plane.client(ClientSettings(qps=0, burst=0)) as client:
            settings = random_fleet.RunSettings(cleanup=False, finish_bound=min(scale.timeout, 180.0))
            found = await random_fleet.run(plan, control_plane, client, workdir / "run", settings)
    result.details = found.as_dict()
    result.outcome = Outcome(
        apps=found.apps,
        completed=found.completed,
        failed=found.failed,
        lost=len(found.lost),
        overlaps=found.overlap_pairs,
        duplicate_submissions=len(found.duplicates),
        status_incomplete=0,
        examples=found.failures[:10],
    )
    if found.failures:
        print(found.report(), flush=True)
    return result


SCENARIOS: dict[str, Scenario] = {
    "kill-storm": kill_storm,
    "controlplane-restart": controlplane_restart,
    "etcd-compaction": compaction,
    "apf-throttled": throttled,
    "cut-off": cut_off,
    "slow-api": slow_api,
    "random-changes": random_changes,
}
