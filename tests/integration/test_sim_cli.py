"""`sparkfleet sim` as a process of its own: it drives the pods an operator launches on a cluster without
nodes (Running, then Succeeded or Failed, executors included), logs what it does, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import Informer, InformerEvent, KubeClient
from sparkfleet.kube.resources import PODS, SERVICEACCOUNTS
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.sim import ANNOTATION_OUTCOME
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.support import eventually, spark_crds


def read(log: Path) -> str:
    return log.read_text()


async def until_logged(log: Path, text: str, proc: asyncio.subprocess.Process, timeout: float) -> None:
    """``eventually`` the log has ``text``, failing at once if the simulator exits meanwhile."""

    def logged() -> bool:
        seen = read(log)
        assert text in seen or proc.returncode is None, (
            f"sparkfleet sim exited with {proc.returncode}:\n{seen}"
        )
        return text in seen

    await eventually(
        logged, what=f"the log to say {text!r}", seen=lambda: read(log), timeout=timeout, interval=0.1
    )


async def final_state(kube: KubeClient, name: str, namespace: str, timeout: float) -> dict[str, Any]:
    last: dict[str, Any] = {}

    async def ended() -> dict[str, Any] | None:
        last["status"] = status = (await kube.get(SPARK_APPLICATIONS, name, namespace)).get("status") or {}
        done = (status.get("applicationState") or {}).get("state") in ("COMPLETED", "FAILED")
        return status if done else None

    return await eventually(
        ended, what=f"{name} COMPLETED or FAILED", seen=lambda: last.get("status"), timeout=timeout
    )


async def test_sim_command_drives_an_operators_pods_and_stops_on_sigterm(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    await control_plane.install_crds(spark_crds())
    await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
    log_path = tmp_path / "sim.log"
    log = log_path.open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sparkfleet.cli", "sim",
        "--namespaces", namespace, "--nodes", "2",
        "--start-delay", "50ms-100ms", "--run-time", "0.5-1", "--seed", "3", "--stats-every", "200ms",
        stdout=log, stderr=log, env={**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)},
    )  # fmt: skip
    phases: dict[str, list[str]] = {}

    def heard(event: InformerEvent) -> None:
        seen = phases.setdefault(event.obj["metadata"]["name"], [])
        phase = (event.obj.get("status") or {}).get("phase") or "Pending"
        if not seen or seen[-1] != phase:
            seen.append(phase)

    pods = Informer(kube, PODS, namespace=namespace)
    pods.add_handler(heard)
    pods.start()
    client = await control_plane.client()
    controller = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=2)
    try:
        await until_logged(log_path, "pod simulator started", proc, 30)
        await pods.wait_synced(10)
        await controller.start(sync_timeout=10)
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("pi", namespace))
        doomed = manifests.spark_pi("doomed", namespace)
        doomed["spec"]["executor"]["instances"] = 1
        doomed["spec"]["driver"]["annotations"] = {ANNOTATION_OUTCOME: "Failed"}
        await kube.create(SPARK_APPLICATIONS, doomed)

        pi = await final_state(kube, "pi", namespace, 60)
        assert pi["applicationState"]["state"] == "COMPLETED", pi
        assert sorted(pi["executorState"].values()) == ["COMPLETED", "COMPLETED"], pi
        failed = await final_state(kube, "doomed", namespace, 60)
        assert failed["applicationState"]["state"] == "FAILED", failed
        assert phases["pi-driver"] == ["Pending", "Running", "Succeeded"], phases
        assert phases["doomed-driver"] == ["Pending", "Running", "Failed"], phases
        executors = [name for name in phases if name.startswith("pi-") and name != "pi-driver"]
        assert len(executors) == 2, phases
        assert all(phases[name][-1] == "Succeeded" for name in executors), phases
        await until_logged(log_path, "simulated so far", proc, 10)
    finally:
        await controller.stop()
        await client.close()
        await pods.stop()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
        log.close()
    text = read(log_path)
    assert code == 0, text
    assert f"driver Running  app={namespace}/pi" in text, text
    assert f"driver Succeeded  app={namespace}/pi" in text, text
    assert f"driver Failed  app={namespace}/doomed" in text, text
    stopped = next(line for line in text.splitlines() if "pod simulator stopped" in line)
    assert "drivers_succeeded=1" in stopped, stopped
    assert "drivers_failed=1" in stopped, stopped
    assert "executors_created=3" in stopped, stopped
    assert "Traceback" not in text, text
