"""A fleet under test: a SparkFleet, its instances as separate processes, and a stand-in for the kubelet.

Instances are real `sparkfleet run --fleet` processes against the test
session's control plane, each with its own metrics port, log and audit log.
The kubelet stand-in moves driver pods to Running and, when asked, to
Succeeded, so applications complete as they would on a cluster.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.demo.instances import handoff_seconds
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import NAMESPACES, PODS, SERVICEACCOUNTS
from sparkfleet.operator.audit import overlaps
from sparkfleet.operator.audit import read as read_audit
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.proc import free_port
from tests.examples import manifests
from tests.support import eventually, spark_crds

DRIVERS = "spark-role=driver"


def key_handovers(lines: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per object key, the members that reconciled it in time order, consecutive repeats folded."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_key.setdefault(str(line["key"]), []).append(line)
    sequence = {}
    for key, entries in by_key.items():
        members: list[str] = []
        for entry in sorted(entries, key=lambda e: float(e["t0"])):
            if not members or members[-1] != entry["member"]:
                members.append(str(entry["member"]))
        sequence[key] = members
    return sequence


@dataclass
class Instance:
    identity: str
    port: int
    log_path: Path
    audit_path: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def metrics(self) -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.port}/metrics") as r,
        ):
            return await r.text()

    async def metric(self, name: str) -> float:
        total = 0.0
        for line in (await self.metrics()).splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class FleetUnderTest:
    control_plane: ControlPlane
    kube: KubeClient
    workdir: Path
    shards: int = 40
    lease: tuple[int, int, int] = (4, 3, 1)
    name: str = "fleet"
    routing_label: str | None = None
    """With a routing label: one application namespace, shards by the label's values (and a catch-all)."""
    routing_values: list[str] = field(default_factory=list)
    namespace: str = field(default_factory=lambda: f"fleet-{uuid.uuid4().hex[:6]}")
    app_namespaces: list[str] = field(default_factory=list)
    instances: dict[str, Instance] = field(default_factory=dict)
    _kubelet: asyncio.Task[None] | None = None
    finish_drivers: bool = False
    kubeconfig: Path | None = None
    """The instances' identity (default: the control plane's admin)."""
    crds: list[Path] = field(default_factory=spark_crds)
    """The CRDs installed (default: the suite's, :func:`tests.support.spark_crds`)."""
    kubelet: bool = True
    """Run the kubelet stand-in; without it pods keep the phases the test gives them."""
    shard_specs: list[dict[str, Any]] | None = None
    """Shards as given (with :attr:`app_namespaces` to create); default: one per namespace, or by label."""

    # -- set-up ---------------------------------------------------------------------

    async def create(self) -> None:
        await self.control_plane.install_crds(self.crds)
        await self.control_plane.create_namespace(self.namespace)
        stem = self.namespace
        shards: list[dict[str, Any]]
        if self.shard_specs is not None:
            shards = self.shard_specs
            self.shards = len(shards)
        elif self.routing_label:
            self.app_namespaces = [f"{stem}-apps"]
            shards = [{"name": v, "values": [v]} for v in self.routing_values]
            shards.append({"name": "rest", "catchAll": True})
            self.shards = len(shards)
        else:
            self.app_namespaces = [f"{stem}-ns{i:02d}" for i in range(self.shards)]
            shards = [{"name": ns.removeprefix(f"{stem}-"), "namespaces": [ns]} for ns in self.app_namespaces]
        await asyncio.gather(*(self._app_namespace(ns) for ns in self.app_namespaces))
        duration, deadline, retry = self.lease
        spec: dict[str, Any] = {
            "shards": shards,
            "lease": {
                "durationSeconds": duration,
                "renewDeadlineSeconds": deadline,
                "retryPeriodSeconds": retry,
            },
        }
        if self.routing_label:
            spec["routingLabel"] = self.routing_label
        # bounded by its own namespaces: a label shard or a catch-all never serves another test's
        spec["jobNamespaces"] = sorted(self.app_namespaces)
        await self.kube.create(
            SPARK_FLEETS,
            {
                "apiVersion": SPARK_FLEETS.api_version,
                "kind": "SparkFleet",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": spec,
            },
        )
        if self.kubelet:
            self._kubelet = asyncio.create_task(self._run_kubelet())

    async def _app_namespace(self, namespace: str) -> None:
        await self.control_plane.create_namespace(namespace)
        try:  # another fleet of the test may share the namespace
            await self.kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                     "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
        except ApiError as exc:
            if not exc.is_conflict:
                raise

    async def close(self) -> None:
        for instance in self.instances.values():
            if instance.running:
                assert instance.proc is not None
                instance.proc.kill()
                await instance.proc.wait()
        if self._kubelet is not None:
            self._kubelet.cancel()
        for namespace in [self.namespace, *self.app_namespaces]:
            try:
                await self.kube.delete(NAMESPACES, namespace)
            except ApiError as exc:
                if not exc.is_not_found:
                    raise

    # -- instances ------------------------------------------------------------------------

    async def start(self, identity: str, *, process: str | None = None) -> Instance:
        """Starts ``sparkfleet run --fleet --identity IDENTITY``, known as ``process`` (default: the identity).

        A second process with one identity needs a ``process`` name of its own (its log and audit log).
        """
        key = process or identity
        instance = Instance(
            identity,
            free_port(),
            self.workdir / f"{key}.log",
            self.workdir / f"{key}.audit.jsonl",
        )
        log = instance.log_path.open("ab")
        instance.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sparkfleet.cli", "run",
            "--kubeconfig", str(self.kubeconfig or self.control_plane.kubeconfig),
            "--fleet", self.name, "--fleet-namespace", self.namespace, "--identity", identity,
            "--concurrent-syncs", "4", "--handoff-timeout", "2s",
            "--metrics-bind-address", f"127.0.0.1:{instance.port}",
            "--audit-log", str(instance.audit_path), "--log-format", "json",
            stdout=log, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.instances[key] = instance
        return instance

    async def terminate(self, identity: str, timeout: float = 30.0) -> int:
        instance = self.instances[identity]
        assert instance.proc is not None
        instance.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(instance.proc.wait(), timeout)

    async def kill(self, identity: str) -> None:
        instance = self.instances[identity]
        assert instance.proc is not None
        instance.proc.send_signal(signal.SIGKILL)
        await instance.proc.wait()

    def live(self) -> list[str]:
        return sorted(i.identity for i in self.instances.values() if i.running)

    def logs(self) -> str:
        return "\n".join(f"--- {i.identity}:\n{i.log_tail()}" for i in self.instances.values())

    # -- observing ------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        obj = await self.kube.get(SPARK_FLEETS, self.name, self.namespace)
        return obj.get("status") or {}

    async def wait_settled(self, members: list[str], timeout: float = 60.0) -> dict[str, Any]:
        """Until every shard is Held by one of ``members`` (and the status lists exactly them as alive)."""
        last: dict[str, Any] = {}

        async def settled() -> dict[str, Any] | None:
            for instance in self.instances.values():
                if instance.proc is not None and instance.proc.returncode not in (None, 0, -9):
                    raise AssertionError(
                        f"{instance.identity} exited {instance.proc.returncode}\n{self.logs()}"
                    )
            last["status"] = status = await self.status()
            shards = status.get("shards") or []
            alive = sorted(m["identity"] for m in status.get("members") or [] if m.get("state") == "Active")
            if (
                len(shards) == self.shards
                and all(s.get("phase") == "Held" and s.get("holder") in members for s in shards)
                and alive == sorted(members)
            ):
                return status
            return None

        return await eventually(
            settled,
            what=f"the fleet settled on {members}",
            seen=lambda: f"{last.get('status')}\n{self.logs()}",
            timeout=timeout,
            interval=0.1,
        )

    def handoff_seconds(self) -> list[float]:
        return handoff_seconds(i.log_path for i in self.instances.values())

    def audit(self) -> list[dict[str, Any]]:
        return read_audit(i.audit_path for i in self.instances.values())

    async def wait_audited(self, keys: list[tuple[str, str]], timeout: float = 20.0) -> list[dict[str, Any]]:
        """The audit once every key has a finished reconcile on record.

        A member writes an audit line when a reconcile returns, which is after the
        status it wrote is visible: a test that saw the status must wait for the line.
        """
        wanted = {f"{ns}/{name}" for ns, name in keys}

        def missing() -> list[str]:
            return sorted(wanted - {line["key"] for line in self.audit()})

        def audited() -> list[dict[str, Any]] | None:
            lines = self.audit()
            return lines if wanted <= {line["key"] for line in lines} else None

        return await eventually(
            audited, what="a reconcile on record for every key", seen=missing, timeout=timeout, interval=0.05
        )

    def assert_no_overlaps(self) -> None:
        """No object key reconciled by two members at overlapping times, whatever shard they named."""
        found = overlaps(self.audit())
        assert not found, f"two members reconciled one object at overlapping times: {found[:3]}"

    # -- the workload ---------------------------------------------------------------------

    async def create_apps(
        self, per_namespace: int = 1, prefix: str = "app", labels: dict[str, str] | None = None
    ) -> list[tuple[str, str]]:
        keys = [(ns, f"{prefix}-{i}") for ns in self.app_namespaces for i in range(per_namespace)]

        def app(name: str, namespace: str) -> dict[str, Any]:
            manifest = manifests.spark_pi(name, namespace)
            manifest["metadata"]["labels"] = {**(manifest["metadata"].get("labels") or {}), **(labels or {})}
            return manifest

        await asyncio.gather(*(self.kube.create(SPARK_APPLICATIONS, app(n, ns)) for ns, n in keys))
        return keys

    async def cli(self, *args: str) -> tuple[int, str]:
        """``sparkfleet shards ARGS`` against this fleet: exit code and output."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sparkfleet.cli", "shards", *args,
            "--kubeconfig", str(self.control_plane.kubeconfig), "-n", self.namespace,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode()

    async def app_states(self) -> dict[str, str]:
        states = {}
        for namespace in self.app_namespaces:
            items, _ = await self.kube.list_all(SPARK_APPLICATIONS, namespace)
            for app in items:
                state = ((app.get("status") or {}).get("applicationState") or {}).get("state") or ""
                states[f"{namespace}/{app['metadata']['name']}"] = state
        return states

    async def wait_states(self, wanted: set[str], count: int, timeout: float = 60.0) -> dict[str, str]:
        last: dict[str, str] = {}

        def stuck() -> str:
            others = {k: v for k, v in last.items() if v not in wanted}
            return (
                f"{len(last)} applications, {len(others)} not in {wanted}: {dict(list(others.items())[:5])}"
            )

        async def in_wanted() -> dict[str, str] | None:
            last.clear()
            last.update(await self.app_states())
            return dict(last) if len(last) == count and all(s in wanted for s in last.values()) else None

        return await eventually(
            in_wanted, what=f"{count} applications in {wanted}", seen=stuck, timeout=timeout, interval=0.2
        )

    async def _run_kubelet(self) -> None:
        """Driver pods go Running once created, and Succeeded once :attr:`finish_drivers` is set."""
        while True:
            try:
                pods, _ = await self.kube.list_all(PODS, label_selector=DRIVERS)
                for pod in pods:
                    meta = pod["metadata"]
                    if not meta["namespace"].startswith(self.namespace):
                        continue
                    phase = (pod.get("status") or {}).get("phase") or "Pending"
                    target = "Succeeded" if self.finish_drivers else "Running"
                    if phase != target and phase != "Succeeded":
                        await self.kube.patch(
                            PODS,
                            meta["name"],
                            {"status": {"phase": target}},
                            meta["namespace"],
                            subresource="status",
                        )
            except ApiError:
                pass
            await asyncio.sleep(0.3)
