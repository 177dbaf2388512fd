"""The README's "Try it by hand", as written: the CRDs, docs/examples/fleet.yaml, two `sparkfleet run --fleet`
members, `sparkfleet sim`, docs/examples/spark-pi.yaml, `sparkfleet shards status`. The examples' namespaces
are renamed for the test (the session's control plane is shared); nothing else of them changes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import LEASES, NAMESPACES, SERVICEACCOUNTS, Resource
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.proc import free_port
from tests.support import eventually, spark_crds

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
RESOURCES = {"Namespace": NAMESPACES, "ServiceAccount": SERVICEACCOUNTS, "SparkFleet": SPARK_FLEETS,
             "SparkApplication": SPARK_APPLICATIONS}  # fmt: skip


def example(name: str, renames: dict[str, str]) -> list[dict[str, Any]]:
    text = (EXAMPLES / name).read_text()
    for old, new in renames.items():
        text = text.replace(old, new)
    return [doc for doc in yaml.safe_load_all(text) if doc]


async def apply(kube: KubeClient, docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        resource: Resource = RESOURCES[doc["kind"]]
        await kube.create(resource, doc)


async def until(what: str, check: Any, procs: list[asyncio.subprocess.Process], timeout: float) -> Any:
    """``eventually``, failing at once if one of ``procs`` exits meanwhile."""

    async def while_running() -> Any:
        found = await check()
        assert found or all(p.returncode is None for p in procs), f"a process exited while waiting for {what}"
        return found

    return await eventually(while_running, what=what, timeout=timeout)


async def test_the_readme_walkthrough(control_plane: ControlPlane, kube: KubeClient, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    renames = {name: f"{name}-{suffix}" for name in ("spark-operator", "team-a", "team-b")}
    operator_ns, team_a = renames["spark-operator"], renames["team-a"]
    await control_plane.install_crds(spark_crds())  # kubectl apply -f deploy/crds/
    await apply(kube, example("fleet.yaml", renames))
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)}
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("m1", "m2", "sim")}
    cli = (sys.executable, "-m", "sparkfleet.cli")
    procs = [
        await asyncio.create_subprocess_exec(
            *cli,
            "run",
            "--fleet",
            "spark",
            "--fleet-namespace",
            operator_ns,
            "--identity",
            member,
            "--metrics-bind-address",
            f"127.0.0.1:{free_port()}",
            stdout=logs[member],
            stderr=logs[member],
            env=env,
        )
        for member in ("m1", "m2")
    ]
    procs.append(
        await asyncio.create_subprocess_exec(*cli, "sim", stdout=logs["sim"], stderr=logs["sim"], env=env)
    )
    try:

        async def both_shards_held() -> bool:
            items, _ = await kube.list_all(LEASES, operator_ns, label_selector="sparkfleet.io/role=shard")
            holders = [(i["spec"].get("holderIdentity") or "") for i in items]
            return len(holders) == 2 and all(h in ("m1", "m2") for h in holders)

        await until("had both shards held", both_shards_held, procs, 60)
        await apply(kube, example("spark-pi.yaml", renames))

        async def completed() -> dict[str, Any] | None:
            app = await kube.get(SPARK_APPLICATIONS, "spark-pi", team_a)
            state = ((app.get("status") or {}).get("applicationState") or {}).get("state")
            assert state not in ("FAILED", "SUBMISSION_FAILED"), app.get("status")
            return app["status"] if state == "COMPLETED" else None

        status = await until("saw spark-pi COMPLETED", completed, procs, 90)
        assert sorted(status["executorState"].values()) == ["COMPLETED", "COMPLETED"], status

        shards = await asyncio.create_subprocess_exec(
            *cli, "shards", "status", "-n", operator_ns, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(shards.communicate(), 60)
        assert shards.returncode == 0, err.decode()
        table = out.decode()
        for word in ("team-a", "team-b", "m1", "m2"):
            assert word in table, table
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        codes = [await asyncio.wait_for(proc.wait(), 60) for proc in procs]
        for log in logs.values():
            log.close()
    texts = {name: (tmp_path / f"{name}.log").read_text() for name in logs}
    assert codes == [0, 0, 0], texts
