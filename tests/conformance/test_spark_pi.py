"""One real Spark job end to end under sparkfleet: SparkPi on Spark 4.0.2.

``sparkfleet run`` (one instance) submits a SparkApplication to the local control plane; the
kubelet stand-in (:mod:`sparkfleet.testing.kubelet`) runs the driver pod sparkfleet rendered as a
real Spark driver JVM; that driver asks the API server for its executors from sparkfleet's
executor pod template, the stand-in runs them as JVMs too, they connect back and compute Pi, and
sparkfleet follows it all to COMPLETED.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import CONFIGMAPS, ROLEBINDINGS, ROLES
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.submission import TEMPLATE_FILE, parse_properties
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.kubelet import Kubelet
from sparkfleet.testing.proc import Process, free_port
from sparkfleet.testing.spark import compile_java, find_spark, java_sources
from tests.support import spark_crds

APP = "spark-pi"
ACCOUNT = "spark"
EXECUTORS = 2
TIMEOUT = 150.0


def build_jar(classes: Path, jar: Path) -> Path:
    """The compiled SparkPi classes as a jar (a zip of the class files)."""
    with zipfile.ZipFile(jar, "w") as archive:
        for path in sorted(classes.rglob("*.class")):
            if path.name.startswith("SparkPi"):
                archive.write(path, path.relative_to(classes).as_posix())
    return jar


async def grant_driver_role(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> None:
    """The ServiceAccount the driver and executors run as, with what a Spark driver needs."""
    await control_plane.mint_identity(namespace, ACCOUNT)
    rules = [{"apiGroups": [""], "resources": ["pods", "services", "configmaps", "persistentvolumeclaims"],
              "verbs": ["*"]}]  # fmt: skip
    await kube.create(ROLES, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                              "metadata": {"name": "spark-driver", "namespace": namespace}, "rules": rules})  # fmt: skip
    await kube.create(ROLEBINDINGS, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "spark-driver", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "spark-driver"},
        "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}],
    })  # fmt: skip


async def wait_ready(url: str, process: Process, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            assert process.running, f"sparkfleet exited:\n{process.log_tail()}"
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"sparkfleet not ready at {url}:\n{process.log_tail()}")


@pytest.fixture
async def operator(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> AsyncIterator[Process]:
    """``sparkfleet run``, one instance serving the test's namespace, as a process of its own."""
    await control_plane.install_crds(spark_crds())
    port = free_port()
    argv = [sys.executable, "-m", "sparkfleet.cli", "run", "--kubeconfig", str(control_plane.kubeconfig),
            "--namespaces", namespace, "--metrics-bind-address", f"127.0.0.1:{port}"]  # fmt: skip
    process = await Process.spawn("sparkfleet", argv, tmp_path / "sparkfleet.log")
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz", process)
        yield process
    finally:
        await process.stop()


def spark_pi(namespace: str, jar: Path) -> dict[str, Any]:
    """SparkPi as a user writes it for the Kubeflow Spark Operator."""
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": APP, "namespace": namespace},
        "spec": {
            "type": "Java",
            "mode": "cluster",
            "image": "spark:4.0.2",
            "mainClass": "SparkPi",
            "mainApplicationFile": f"local://{jar}",
            "arguments": ["4"],
            "sparkVersion": "4.0.2",
            "restartPolicy": {"type": "Never"},
            "driver": {"cores": 1, "memory": "512m", "serviceAccount": ACCOUNT},
            # Kept after the driver stops (deleteOnTermination false), so each executor's exit code is
            # its own: with Spark's default the driver deletes them as it stops, and an executor then
            # exits 0 or 255 depending on which comes first (seen in CI). The status path for deleted
            # executors is tested in tests/unit/test_status.py.
            "executor": {
                "instances": EXECUTORS,
                "cores": 1,
                "memory": "512m",
                "serviceAccount": ACCOUNT,
                "deleteOnTermination": False,
            },
        },
    }


async def wait_done(
    kube: KubeClient, kubelet: Kubelet, namespace: str, timeout: float, timeline: dict[str, float]
) -> dict[str, Any]:
    """The application once COMPLETED with its executors' final states; ``timeline``: when each
    state (and executor state) was first seen."""
    started = time.monotonic()
    deadline = started + timeout
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = await kube.get(SPARK_APPLICATIONS, APP, namespace)
        status = app.get("status") or {}
        state = (status.get("applicationState") or {}).get("state")
        executors = status.get("executorState") or {}
        for seen in [state, *(f"executors {s}" for s in sorted(set(executors.values())))]:
            timeline.setdefault(str(seen), round(time.monotonic() - started, 1))
        if state in ("FAILED", "SUBMISSION_FAILED"):
            break
        if (
            state == "COMPLETED"
            and executors
            and all(s in ("COMPLETED", "FAILED") for s in executors.values())
        ):
            return app
        await asyncio.sleep(0.2)
    pytest.fail(f"{APP} did not complete; status: {app.get('status')}\n{diagnose(kubelet)}")


def children_cpu() -> float:
    """User and system CPU of the child processes that ended so far (the JVMs, once reaped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User and system CPU a running process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def diagnose(kubelet: Kubelet) -> str:
    lines = []
    for run in kubelet.runs.values():
        lines.append(f"--- {run.name} ({run.role or '?'}): exit {run.exit_code} {run.error}")
        lines.extend(run.log().splitlines()[-40:])
    return "\n".join(lines)


async def test_spark_pi_runs_on_real_spark(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, operator: Process, tmp_path: Path
) -> None:
    started, cpu_at_start, children_at_start = time.monotonic(), time.process_time(), children_cpu()
    timeline: dict[str, float] = {}
    spark = find_spark()
    jar = build_jar(compile_java(spark, [java_sources() / "SparkPi.java"]), tmp_path / "spark-pi.jar")
    await grant_driver_role(control_plane, kube, namespace)
    kubelet = Kubelet.for_control_plane(control_plane, kube, namespace, tmp_path / "kubelet", spark)
    try:
        await kubelet.start()
        await kube.create(SPARK_APPLICATIONS, spark_pi(namespace, jar))
        app = await wait_done(kube, kubelet, namespace, TIMEOUT, timeline)
        status = app["status"]
        assert status["applicationState"]["state"] == "COMPLETED", diagnose(kubelet)

        # The driver: the pod sparkfleet rendered, run as `spark-submit --deploy-mode client`.
        driver = kubelet.by_name(status["driverInfo"]["podName"])
        assert driver.role == "driver", diagnose(kubelet)
        assert driver.exit_code == 0, diagnose(kubelet)
        assert "Pi is roughly 3.1" in driver.log(), diagnose(kubelet)
        # Nothing of what sparkfleet rendered was changed but the environment adaptations the
        # stand-in documents: the API address, the token and CA paths, DNS, the pod IP to bind
        # to, and the one rendered property that is a path into a mounted volume.
        assert driver.launch is not None
        assert {a.setting for a in driver.launch.adaptations} == {
            "-Djdk.net.hosts.file", "SPARK_LOCAL_IP", "spark.kubernetes.driver.master",
            "spark.kubernetes.authenticate.driver.mounted.oauthTokenFile",
            "spark.kubernetes.authenticate.driver.mounted.caCertFile",
            "spark.kubernetes.executor.podTemplateFile",
        }  # fmt: skip

        # The executors: created by the real driver through the API server from sparkfleet's
        # template, named <prefix>-exec-N, run as JVMs that registered with the driver.
        submission_id = status["submissionID"]
        prefix = naming.resource_prefix(APP, submission_id)
        config_map = await kube.get(CONFIGMAPS, f"{prefix}-driver-conf-map", namespace)
        template = yaml.safe_load(config_map["data"][TEMPLATE_FILE])
        properties = parse_properties(config_map["data"]["spark.properties"])
        names = [f"{prefix}-exec-{i}" for i in range(1, EXECUTORS + 1)]
        assert sorted(n for n in kubelet.names() if "-exec-" in n) == names, diagnose(kubelet)
        for name in names:
            run = kubelet.by_name(name)
            labels = run.pod["metadata"]["labels"]
            assert labels.items() >= template["metadata"]["labels"].items(), labels
            assert labels[naming.LABEL_SPARK_ROLE] == "executor"
            assert labels[naming.LABEL_SPARK_APP_SELECTOR] == status["sparkApplicationId"]
            assert labels[naming.LABEL_SUBMISSION_ID] == submission_id
            assert labels[naming.LABEL_EXECUTOR_ID] == name.rsplit("-", 1)[1]
            owner = run.pod["metadata"]["ownerReferences"][0]
            assert (owner["kind"], owner["name"]) == ("Pod", driver.name)
            container = run.pod["spec"]["containers"][0]
            assert container["name"] == properties["spark.kubernetes.executor.podTemplateContainerName"]
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["SPARK_DRIVER_URL"].startswith(
                f"spark://CoarseGrainedScheduler@{properties['spark.driver.host']}:"
            )
            assert run.role == "executor", diagnose(kubelet)
            assert run.launch is not None
            assert [a.setting for a in run.launch.adaptations] == ["-Djdk.net.hosts.file", "SPARK_LOCAL_IP"]
            assert "Successfully registered with driver" in run.log(), diagnose(kubelet)
            assert run.exit_code == 0, diagnose(kubelet)
        assert status["executorState"] == {name: "COMPLETED" for name in names}, diagnose(kubelet)
        assert not kubelet.processes()
    finally:
        await kubelet.stop()
        print(f"SparkPi end to end: {time.monotonic() - started:.1f}s wall; CPU: "
              f"{children_cpu() - children_at_start:.1f}s in the JVMs (and javac, if it ran), "
              f"{cpu_seconds(operator.proc.pid):.1f}s in sparkfleet, "
              f"{time.process_time() - cpu_at_start:.1f}s in the test process; "
              f"seconds from the submission: {timeline}")  # fmt: skip
