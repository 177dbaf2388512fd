"""`sparkfleet run` as a process: flags, readiness, metrics, leader Lease, clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.errors import ignore_not_found
from sparkfleet.kube.resources import LEASES, SERVICEACCOUNTS
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.proc import free_port
from tests.examples import manifests
from tests.examples.kubeflow_chart_args import DEFAULT
from tests.support import eventually, spark_crds


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


async def until_leading(
    kube: KubeClient,
    lease_name: str,
    namespace: str,
    holder: str,
    proc: asyncio.subprocess.Process,
    deadline: float,
) -> None:
    """Until ``holder`` holds the leader Lease (the process must stay up meanwhile)."""

    async def leading() -> bool:
        with ignore_not_found():
            lease = await kube.get(LEASES, lease_name, namespace)
            if lease["spec"].get("holderIdentity") == holder:
                return True
        assert proc.returncode is None, f"the operator exited with {proc.returncode}"
        return False

    await eventually(
        leading,
        what=f"{holder} to take the leader Lease {lease_name}",
        timeout=deadline - time.monotonic(),
        interval=0.1,
    )


async def test_run_serves_reconciles_and_stops_cleanly(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    await control_plane.install_crds(spark_crds())
    await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
    port = free_port()
    log = (tmp_path / "operator.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sparkfleet.cli", "run",
        "--kubeconfig", str(control_plane.kubeconfig),
        "--namespaces", namespace,
        "--controller-threads", "4",
        "--metrics-bind-address", f"127.0.0.1:{port}",
        "--leader-elect", "--leader-election-lock-namespace", namespace,
        "--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "3s",
        "--leader-election-retry-period", "500ms",
        "--log-format", "json",
        stdout=log, stderr=log, env={**os.environ, "POD_NAME": "operator-0"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                code, _ = await get(f"http://127.0.0.1:{port}/readyz")
                if code == 200:
                    break
            except aiohttp.ClientError:
                pass
            assert proc.returncode is None, (tmp_path / "operator.log").read_text()
            assert time.monotonic() < deadline, "operator never became ready"
            await asyncio.sleep(0.1)
        # Ready means serving (a standby is ready too); leading follows within the retry period.
        await until_leading(kube, "sparkfleet-controller-lock", namespace, "operator-0", proc, deadline)

        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=namespace))
        while ((await kube.get(SPARK_APPLICATIONS, "spark-pi", namespace)).get("status") or {}).get(
            "applicationState", {}
        ).get("state") != "SUBMITTED":
            assert time.monotonic() < deadline + 30
            await asyncio.sleep(0.1)

        code, metrics = await get(f"http://127.0.0.1:{port}/metrics")
        assert code == 200
        for name in ('workqueue_depth{controller="spark-application-controller"',
                     'controller_runtime_reconcile_total{controller="spark-application-controller",result="success"}',
                     "controller_runtime_max_concurrent_reconciles", "rest_client_requests_total",
                     "workqueue_longest_running_processor_seconds"):  # fmt: skip
            assert name in metrics
        assert (
            'controller_runtime_max_concurrent_reconciles{controller="spark-application-controller"} 4.0'
            in metrics
        )
        assert 'workqueue_depth{controller="scheduled-spark-application-controller"' in metrics
        assert (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
        log.close()
    assert code == 0, (tmp_path / "operator.log").read_text()
    lease = await kube.get(LEASES, "sparkfleet-controller-lock", namespace)
    assert lease["spec"]["holderIdentity"] == ""  # released on the way out
    assert '"msg": "sparkfleet operator stopped"' in (tmp_path / "operator.log").read_text().replace(
        '":"', '": "'
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--leader-election-lease-duration", "5s", "--leader-election-renew-deadline", "9s"],
            "renew deadline",
        ),
        (["--workqueue-ratelimiter-max-delay", "soon"], "not a duration"),
        (["--concurrent-syncs", "0"], "concurrent-syncs"),
        (["--kubeconfig", "/nonexistent/kubeconfig"], "/nonexistent/kubeconfig"),
        (["--fleet", "spark", "--leader-elect"], "--fleet and --leader-elect exclude each other"),
        (["--fleet", "spark", "--namespaces", "a"], "--fleet takes its namespaces"),
        (["--fleet", "spark", "--shard-capacity", "0"], "shard-capacity"),
        (["--fleet", "spark", "--handoff-timeout", "later"], "not a duration"),
    ],
)
async def test_bad_flags_are_named_without_a_traceback(args: list[str], message: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sparkfleet.cli", "run", "--metrics-bind-address", f"127.0.0.1:{free_port()}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    text = out.decode()
    assert proc.returncode == 2, text
    assert message in text
    assert "Traceback" not in text


async def test_a_member_that_cannot_read_its_fleet_exits_naming_why(
    control_plane: ControlPlane, namespace: str
) -> None:
    """Without RBAC to read the SparkFleet, joining fails: the process must say so and exit, not
    sit idle with its error swallowed (what it did before)."""
    await control_plane.install_crds(spark_crds())
    nobody = await control_plane.mint_identity(namespace, "no-rights")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sparkfleet.cli", "run", "--kubeconfig", str(nobody.kubeconfig),
        "--fleet", "missing-rights", "--fleet-namespace", namespace, "--identity", "member-0",
        "--metrics-bind-address", f"127.0.0.1:{free_port()}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 2, text
    assert "error: cannot read SparkFleet" in text, text
    assert "403" in text, text
    assert "Traceback" not in text, text


async def test_a_kubeflow_deployments_arguments_start_sparkfleet(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    """The Spark Operator's image runs ``controller start`` with its chart's flags; swapping the image
    for sparkfleet's must be enough: the same arguments start a leader-elected instance that serves."""
    await control_plane.install_crds(spark_crds())
    await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
    port, probe_port = free_port(), free_port()
    local = {  # the chart's values for this cluster: its namespace, free ports
        "--namespaces=default": f"--namespaces={namespace}",
        "--metrics-bind-address=:8080": f"--metrics-bind-address=127.0.0.1:{port}",
        "--leader-election-lock-namespace=spark-operator": f"--leader-election-lock-namespace={namespace}",
    }
    args = [local.get(arg, arg) for arg in DEFAULT] + [f"--health-probe-bind-address=127.0.0.1:{probe_port}"]
    log_path = tmp_path / "operator.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sparkfleet.cli", "controller", "start", *args, stdout=log, stderr=log,
            env={**os.environ, "POD_NAME": "spark-operator-controller-0", "KUBECONFIG": str(control_plane.kubeconfig)},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        await until_leading(
            kube, "spark-operator-controller-lock", namespace, "spark-operator-controller-0", proc, deadline
        )
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=namespace))
        while ((await kube.get(SPARK_APPLICATIONS, "spark-pi", namespace)).get("status") or {}).get(
            "applicationState", {}
        ).get("state") != "SUBMITTED":
            assert time.monotonic() < deadline + 30, log_path.read_text()
            await asyncio.sleep(0.1)
        code, _ = await get(f"http://127.0.0.1:{port}/metrics")
        assert code == 200
        for path in ("/healthz", "/readyz"):  # where the Spark Operator's probes ask (:8081 by default)
            code, _ = await get(f"http://127.0.0.1:{probe_port}{path}")
            assert code == 200, path
        code, _ = await get(f"http://127.0.0.1:{probe_port}/metrics")
        assert code == 404  # probes only there
    finally:
        proc.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(proc.wait(), 30)
    text = log_path.read_text()
    assert returncode == 0, text
    assert "--feature-gates: accepted and ignored:" in text
    assert "Traceback" not in text
