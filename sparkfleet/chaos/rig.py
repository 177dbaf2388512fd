"""One chaos scenario's world: a control plane of its own, a fleet, the pod simulator, the workload.

Every instance is a real ``sparkfleet run`` process with its own log and audit
log. With ``proxied`` each reaches the API server through a
:class:`~sparkfleet.testing.TcpProxy` of its own, which a scenario cuts, stalls
or slows. The simulator and the observer talk to the API server directly: a
fault hits the fleet, not the stand-ins for the kubelet and the user.

:meth:`Rig.outcome` says what a run must show whatever was done to it: every
application finished, each with one driver and a status that saw all its
executors, and no two members reconciling one shard at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yaml

from sparkfleet.api import SPARK_APPLICATIONS, crd
from sparkfleet.demo.instances import Instance
from sparkfleet.demo.observer import Observer
from sparkfleet.demo.runner import (
    FLEET,
    FLEET_NAMESPACE,
    create_fleet,
    create_namespaces,
    submit,
    until_settled,
)
from sparkfleet.demo.workload import Workload
from sparkfleet.kube import ClientSettings, KubeClient
from sparkfleet.kube.resources import LEASES
from sparkfleet.operator.audit import overlaps
from sparkfleet.operator.audit import read as read_audit
from sparkfleet.sharding.leases import LABEL_ROLE, ROLE_SHARD, fleet_selector
from sparkfleet.sim import ANNOTATION_OUTCOME, PodSimulator, SimConfig
from sparkfleet.testing import ControlPlane, TcpProxy


@dataclass(frozen=True, slots=True)
class RigConfig:
    instances: int = 3
    workload: Workload = field(
        default_factory=lambda: Workload(namespaces=12, apps_per_namespace=4, executors=(1, 4))
    )
    sim: SimConfig = field(default_factory=lambda: SimConfig(run_time=(2.0, 6.0)))
    lease: tuple[int, int, int] = (4, 3, 1)
    concurrent_syncs: int = 10
    proxied: bool = False
    """Each instance reaches the API server through a TCP proxy of its own."""
    latency: float = 0.0
    """Seconds each proxy adds to every chunk, each way."""
    apiserver_args: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    apps: int
    completed: int
    failed: int
    lost: int
    """Applications that did not end the way the simulator ended their driver, or never ended."""
    overlaps: int
    duplicate_submissions: int
    """Applications that got more than one driver pod although none of their drivers failed."""
    status_incomplete: int
    """Finished applications whose status misses executors the simulator ran, or counts a second attempt."""
    examples: list[str]

    @property
    def clean(self) -> bool:
        return not (self.lost or self.overlaps or self.duplicate_submissions or self.status_incomplete)

    def as_dict(self) -> dict[str, Any]:
        return {
            "apps": self.apps,
            "completed": self.completed,
            "failed": self.failed,
            "lost": self.lost,
            "overlaps": self.overlaps,
            "duplicate_submissions": self.duplicate_submissions,
            "status_incomplete": self.status_incomplete,
            "examples": self.examples,
        }


class Rig:
    """Use as ``async with Rig(config, workdir) as rig``; everything it started stops on exit."""

    def __init__(self, config: RigConfig, workdir: Path):
        self.config = config
        self.workdir = workdir
        self.control_plane = ControlPlane(workdir / "controlplane", apiserver_args=config.apiserver_args)
        self.instances: list[Instance] = []
        self.proxies: dict[str, TcpProxy] = {}
        self.kubeconfig: Path | None = None
        """The instances' kubeconfig when not the admin's (a throttled identity)."""
        self._client: KubeClient | None = None
        self._observer: Observer | None = None
        self._simulator: PodSimulator | None = None
        self._submitter: asyncio.Task[None] | None = None
        self._serial = 0

    @property
    def client(self) -> KubeClient:
        assert self._client is not None, "the rig is not started"
        return self._client

    @property
    def observer(self) -> Observer:
        assert self._observer is not None, "the rig is not started"
        return self._observer

    async def __aenter__(self) -> Rig:
        self.workdir.mkdir(parents=True, exist_ok=True)
        await self.control_plane.start()
        try:
            # Retries enough to ride out a control-plane restart: the observer and the simulator
            # stand for the user and the kubelet, who are not what a scenario tests.
            self._client = await self.control_plane.client(ClientSettings(qps=0, burst=0, max_retries=60))
            await self.control_plane.install_crds(crd.generate().values())
            await create_namespaces(self.control_plane, self.client, self.config.workload)
            await create_fleet(self.client, self.config.workload, self.config.lease)
            self._observer = Observer(self.client)
            self._simulator = PodSimulator(self.client, self.config.sim)
            await self.observer.start()
            await self._simulator.start()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._submitter is not None:
            self._submitter.cancel()
            with contextlib.suppress(BaseException):
                await self._submitter
        await asyncio.gather(*(i.terminate(timeout=10) for i in self.instances), return_exceptions=True)
        if self._simulator is not None:
            with contextlib.suppress(Exception):
                await self._simulator.stop()
        if self._observer is not None:
            with contextlib.suppress(Exception):
                await self._observer.stop()
        for proxy in self.proxies.values():
            await proxy.stop()
        if self._client is not None:
            await self._client.close()
        await self.control_plane.stop()

    # -- the fleet ------------------------------------------------------------------------

    async def start_instance(self, extra: list[str] | None = None) -> Instance:
        """A new member (a fresh identity, as a Deployment's replacement pod has)."""
        self._serial += 1
        instance = Instance(f"member-{self._serial}", self.workdir)
        kubeconfig = self.kubeconfig or self.control_plane.kubeconfig
        if self.config.proxied:
            target = urlsplit(self.control_plane.host)
            proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 443, latency=self.config.latency)
            self.proxies[instance.identity] = await proxy.start()
            kubeconfig = _pointed_at(kubeconfig, proxy.url, self.workdir / f"{instance.identity}.kubeconfig")
        await instance.start(kubeconfig, FLEET, FLEET_NAMESPACE, self.config.concurrent_syncs, extra)
        self.instances.append(instance)
        return instance

    async def start_fleet(self, settle_timeout: float = 120.0) -> None:
        for _ in range(self.config.instances):
            await self.start_instance()
        await self.settle(settle_timeout)

    def alive(self) -> list[Instance]:
        return [i for i in self.instances if i.running]

    async def settle(self, timeout: float = 120.0) -> None:
        """Until every live member is active and every shard is held by one of them."""
        alive = self.alive()
        await until_settled(self.client, {i.identity for i in alive}, timeout, alive)

    async def shard_holders(self) -> dict[str, str]:
        """Shard -> the member its Lease names (straight from the Leases, not the fleet's status)."""
        selector = f"{fleet_selector(FLEET)},{LABEL_ROLE}={ROLE_SHARD}"
        leases, _ = await self.client.list_all(LEASES, FLEET_NAMESPACE, label_selector=selector)
        return {
            lease["metadata"]["name"]: (lease.get("spec") or {}).get("holderIdentity") or ""
            for lease in leases
        }

    async def serving(self) -> dict[str, str]:
        """Shard -> the live member actually serving it now (its /debug/shards, while its member
        Lease is fresh). A Lease may still name a member that has fenced itself; this does not."""
        answers = await asyncio.gather(*(_debug_shards(i) for i in self.alive()))
        served: dict[str, str] = {}
        for answer in answers:
            if answer and answer.get("fresh"):
                for shard in answer.get("shards") or {}:
                    served[shard] = str(answer["member"])
        return served

    async def until_served_by(self, members: Iterable[str], timeout: float) -> float:
        """Seconds until every shard is served by one of ``members``."""
        wanted = set(members)
        shards = set(self.config.workload.namespace_names())  # one shard per namespace
        started = time.monotonic()
        while True:
            served = await self.serving()
            if set(served) == shards and all(m in wanted for m in served.values()):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                missing = sorted(shards - set(served))
                raise TimeoutError(f"after {timeout:.0f}s, shards not served by {sorted(wanted)}: {missing}")
            await asyncio.sleep(0.1)

    async def scrape(self) -> None:
        await asyncio.gather(*(i.scrape() for i in self.alive()))

    def metric(self, name: str, **labels: str) -> float:
        """The sum over every instance (the last scrape of each, the dead ones' included)."""
        return sum(i.metric(name, **labels) for i in self.instances)

    # -- the workload -----------------------------------------------------------------------

    def submit(self, per_minute: float | None = None) -> None:
        """Starts creating the workload's applications (all at once, or at a pace)."""
        self._submitter = asyncio.create_task(
            submit(self.client, self.observer, self.config.workload, per_minute)
        )

    async def wait_finished(self, timeout: float) -> float:
        """Seconds until every application is in a terminal state (or ``timeout`` passed)."""
        started = time.monotonic()
        total = self.config.workload.total
        while self.observer.terminal < total and time.monotonic() - started < timeout:
            if self._submitter is not None and self._submitter.done():
                self._submitter.result()  # a failed submission is the rig's error, not a lost app
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    async def outcome(self) -> Outcome:
        """What the run shows, from the applications' stored status (not the watchers' memory)."""
        apps, _ = await self.client.list_all(SPARK_APPLICATIONS, label_selector=self.observer.label_selector)
        by_key = {f"{a['metadata']['namespace']}/{a['metadata']['name']}": a for a in apps}
        completed = failed = lost = duplicates = incomplete = 0
        examples: list[str] = []

        def note(text: str) -> None:
            if len(examples) < 10:
                examples.append(text)

        for app in self.config.workload.applications():
            key = f"{app['metadata']['namespace']}/{app['metadata']['name']}"
            expected = (
                "FAILED"
                if ANNOTATION_OUTCOME in (app["spec"]["driver"].get("annotations") or {})
                else "COMPLETED"
            )
            live = by_key.get(key)
            status = (live or {}).get("status") or {}
            state = (status.get("applicationState") or {}).get("state") or "NEW"
            if state == "COMPLETED":
                completed += 1
            elif state in ("FAILED", "SUBMISSION_FAILED"):
                failed += 1
            if state != expected:
                lost += 1
                note(f"{key}: ended {state}, expected {expected}")
                continue
            drivers = len(self.observer.driver_uids.get(key, ()))
            if drivers > 1:
                duplicates += 1
                note(f"{key}: {drivers} driver pods")
            executors = status.get("executorState") or {}
            wanted = app["spec"]["executor"]["instances"]
            if expected == "COMPLETED" and (
                len(executors) != wanted
                or any(s != "COMPLETED" for s in executors.values())
                or status.get("submissionAttempts") != 1
            ):
                incomplete += 1
                attempts = status.get("submissionAttempts")
                note(f"{key}: executors {executors} (wanted {wanted}), submission attempts {attempts}")
        found = overlaps(read_audit(i.audit_path for i in self.instances))
        for earlier, later in found[:3]:
            note(
                f"overlap on {later['key']}: {earlier['member']} (shard {earlier['shard']}) and "
                f"{later['member']} (shard {later['shard']})"
            )
        return Outcome(
            apps=self.config.workload.total,
            completed=completed,
            failed=failed,
            lost=lost,
            overlaps=len(found),
            duplicate_submissions=duplicates,
            status_incomplete=incomplete,
            examples=examples,
        )


def _pointed_at(kubeconfig: Path, server: str, path: Path) -> Path:
    """A copy of ``kubeconfig`` whose cluster is reached at ``server`` (a proxy in front of it)."""
    config = yaml.safe_load(kubeconfig.read_text())
    for cluster in config.get("clusters") or []:
        cluster["cluster"]["server"] = server
    path.write_text(yaml.safe_dump(config))
    return path


async def _debug_shards(instance: Instance) -> dict[str, Any] | None:
    try:
        timeout = aiohttp.ClientTimeout(total=2)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://127.0.0.1:{instance.port}/debug/shards") as resp,
        ):
            if resp.status != 200:
                return None
            answer: dict[str, Any] = await resp.json()
            return answer
    except (aiohttp.ClientError, TimeoutError):
        return None
