"""Handing back to the Kubeflow Spark Operator: nothing sparkfleet writes is foreign to Kubeflow.

sparkfleet (`sparkfleet run`, as a Deployment whose image was swapped runs it) drives applications,
with the pod simulator playing the kubelet and Spark, into every state it can reach, under Kubeflow's
CRDs and Kubeflow's controller RBAC. It is stopped, and Kubeflow's own controller (v2.5.2, built from
its Go module by `make kubeflow`) starts on the same objects under the same identity. Kubeflow must
read every status without an error, resubmit nothing, delete no driver, and follow what runs: pods
that move on move their applications on. Kubeflow submits with a `spark-submit` this machine does
not have, so an application only Kubeflow submits ends in SUBMISSION_FAILED: the scheduled
application's next run does, and so does the suspended application once it is resumed, deliberately.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import PODS, SERVICEACCOUNTS, SERVICES
from sparkfleet.operator.spark.scheduled import LABEL_SCHEDULED_APP_NAME
from sparkfleet.sim import ANNOTATION_OUTCOME, ANNOTATION_RUN_SECONDS, PodSimulator, SimConfig
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.proc import Process, free_port
from tests.examples import manifests
from tests.kubeflow import (
    EXECUTOR_CONTAINER,
    kubeflow_binary,
    kubeflow_controller_identity,
    pods_of,
    set_phase,
    state_of,
)
from tests.support import eventually

pytestmark = pytest.mark.timeout(180)

SERVICE_ACCOUNT = "spark-operator-spark"
RUNS_ON = {ANNOTATION_RUN_SECONDS: "3600"}  # runs until the test moves its pods
ENDS = {ANNOTATION_RUN_SECONDS: "0.5"}
FAILS = {**ENDS, ANNOTATION_OUTCOME: "Failed"}
HOUR = 3600


@dataclass
class Case:
    """An application sparkfleet leaves in ``sparkfleet``'s state; Kubeflow keeps it in ``kubeflow``'s
    (until the test moves a pod). ``idle``: in the namespace where no kubelet runs (drivers stay
    Pending)."""

    name: str
    sparkfleet: str
    kubeflow: str
    annotations: dict[str, str] = field(default_factory=dict)
    restart_policy: dict[str, Any] = field(default_factory=lambda: {"type": "Never"})
    service_account: str = SERVICE_ACCOUNT
    invalid: bool = False
    idle: bool = False
    executors: dict[str, str] = field(default_factory=dict)  # the executor states sparkfleet writes


TWO_RUNNING = {"1": "RUNNING", "2": "RUNNING"}
TWO_COMPLETED = {"1": "COMPLETED", "2": "COMPLETED"}
CASES = [
    Case("hb-submitted", "SUBMITTED", "SUBMITTED", idle=True),
    Case("hb-running", "RUNNING", "RUNNING", RUNS_ON, executors=TWO_RUNNING),
    Case("hb-completed", "COMPLETED", "COMPLETED", ENDS, executors=TWO_COMPLETED),
    Case("hb-failed", "FAILED", "FAILED", FAILS, executors=TWO_COMPLETED),
    # A failed run with a retry due in an hour, and a failed submission with one.
    Case("hb-failing-retry", "FAILING", "FAILING", FAILS, executors=TWO_COMPLETED,
         restart_policy={"type": "OnFailure", "onFailureRetries": 1, "onFailureRetryInterval": HOUR}),
    Case("hb-no-account", "FAILED", "FAILED", service_account="missing"),
    Case("hb-no-account-retry", "SUBMISSION_FAILED", "SUBMISSION_FAILED", service_account="missing",
         restart_policy={"type": "OnFailure", "onSubmissionFailureRetries": 1,
                         "onSubmissionFailureRetryInterval": HOUR}),
    # sparkfleet keeps an invalid application in SUBMISSION_FAILED until its spec is fixed; Kubeflow
    # ends a failed submission with no retries left in FAILED (reconcileFailedSubmissionSparkApplication)
    # and submits nothing.
    Case("hb-invalid", "SUBMISSION_FAILED", "FAILED", invalid=True),
    # With submission retries, Kubeflow waits for the retry as after any failed submission (sparkfleet
    # counts the refusal as an attempt: with none, Kubeflow's retry arithmetic failed, in a loop).
    Case("hb-invalid-retry", "SUBMISSION_FAILED", "SUBMISSION_FAILED", invalid=True,
         restart_policy={"type": "OnFailure", "onSubmissionFailureRetries": 1,
                         "onSubmissionFailureRetryInterval": HOUR}),
    # A failed run whose retry is due, its old driver still terminating (a finalizer holds it, as a slow
    # kubelet would): neither operator submits again while it exists; once it is gone, Kubeflow reruns
    # it (sparkfleet forgot the run as Kubeflow does: no driverInfo naming a UI Service to wait for).
    Case("hb-pending-rerun", "PENDING_RERUN", "PENDING_RERUN", RUNS_ON,
         restart_policy={"type": "OnFailure", "onFailureRetries": 1, "onFailureRetryInterval": 1}),
    # Suspended while it ran: its driver and executors gone, the run forgotten.
    Case("hb-suspended", "SUSPENDED", "SUSPENDED", RUNS_ON),
]  # fmt: skip
HOLD = "sparkfleet.io/test-hold"  # the finalizer that keeps hb-pending-rerun's old driver


def _manifest(case: Case, namespace: str) -> dict[str, Any]:
    manifest = manifests.spark_pi(case.name, namespace)
    spec = manifest["spec"]
    spec["restartPolicy"] = case.restart_policy
    spec["driver"]["serviceAccount"] = case.service_account
    spec["driver"]["annotations"] = case.annotations
    if case.invalid:
        spec["driver"]["labels"] = {"spark-app-name": "mine"}  # Spark's own label: sparkfleet refuses it
    return manifest


def _scheduled(namespace: str) -> dict[str, Any]:
    scheduled = manifests.scheduled("hb-nightly", namespace)
    template = manifests.spark_pi("ignored", namespace)["spec"]
    template["driver"]["annotations"] = RUNS_ON
    scheduled["spec"].update(schedule="@every 2s", timeZone="UTC", concurrencyPolicy="Forbid",
                             successfulRunHistoryLimit=1, template=template)  # fmt: skip
    return scheduled


async def _ready(url: str, proc: Process, deadline: float) -> None:
    """Until ``url`` answers 200 (the process must stay up meanwhile)."""
    while True:
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        assert proc.running, f"{proc.name} exited {proc.proc.returncode}:\n{proc.log_tail()}"
        assert time.monotonic() < deadline, f"{proc.name} never became ready:\n{proc.log_tail()}"
        await asyncio.sleep(0.1)


@pytest.fixture
async def kube(kubeflow_plane: ControlPlane) -> AsyncIterator[KubeClient]:
    client = await kubeflow_plane.client()
    yield client
    await client.close()


def kubeflow_log(path: Path) -> list[dict[str, Any]]:
    """Kubeflow's log: its JSON lines, and client-go's klog lines as ``{"klog": line}``."""
    lines: list[dict[str, Any]] = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
        elif raw[:1] in "IWEF" and raw[1:5].isdigit():
            lines.append({"klog": raw})
    return lines


def first_states(lines: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(namespace, name) -> the state Kubeflow read off each application's status the first time it
    reconciled it (its "Reconciling SparkApplication" line). A status it could not decode would have
    failed the whole list, and no application would be there."""
    seen: dict[tuple[str, str], str] = {}
    for line in lines:
        ref = line.get("SparkApplication")
        if line.get("msg") == "Reconciling SparkApplication" and isinstance(ref, dict):
            seen.setdefault((ref["namespace"], ref["name"]), line.get("state") or "")
    return seen


def scheduled_reconciled(lines: list[dict[str, Any]], namespace: str, name: str) -> bool:
    return any(
        line.get("msg") == "Reconciling ScheduledSparkApplication"
        and (line.get("namespace"), line.get("name")) == (namespace, name)
        for line in lines
    )


CONFLICT = "the object has been modified"
"""A status update of Kubeflow's that lost a compare-and-swap to its own earlier write (its cache was
behind, a few retries did not catch up): a race inside Kubeflow under load, retried, and about no
object's content. It is left out of :func:`trouble`."""


def trouble(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines that say something went wrong: errors, refused requests, objects Kubeflow cannot read."""
    words = ("forbidden", "unable to decode", "cannot unmarshal", "failed to list", "failed to update")
    return [
        line
        for line in lines
        if (
            line.get("level") in ("ERROR", "DPANIC", "PANIC", "FATAL")
            or str(line.get("klog", "")).startswith(("E", "F"))
            or any(word in json.dumps(line).lower() for word in words)
        )
        and CONFLICT not in str(line.get("error", ""))
    ]


def executor_ids(app: dict[str, Any]) -> dict[str, str]:
    """Executor id -> state, from the names Spark gives executors (``<prefix>-exec-<id>``)."""
    states = (app.get("status") or {}).get("executorState") or {}
    return {name.rsplit("-", 1)[-1]: state for name, state in states.items()}


def executor_named(app: dict[str, Any], executor_id: str) -> str:
    states: dict[str, str] = (app.get("status") or {}).get("executorState") or {}
    return next(name for name in states if name.endswith(f"-exec-{executor_id}"))


async def runs_of(kube: KubeClient, namespace: str, scheduled: str) -> dict[str, dict[str, Any]]:
    runs, _ = await kube.list_all(
        SPARK_APPLICATIONS, namespace, label_selector=f"{LABEL_SCHEDULED_APP_NAME}={scheduled}"
    )
    return {r["metadata"]["name"]: r for r in runs}


async def until_running(kube: KubeClient, namespace: str, app: str) -> dict[str, Any]:
    """``app`` once it runs with both its executors."""
    seen: dict[str, Any] = {}

    async def both_executors() -> bool:
        seen.update(await kube.get(SPARK_APPLICATIONS, app, namespace))
        return state_of(seen) == "RUNNING" and executor_ids(seen) == TWO_RUNNING

    await eventually(
        both_executors,
        what=f"{app} running with both its executors",
        seen=lambda: seen.get("status"),
        timeout=60,
    )
    return seen


async def hold_a_failed_driver(kube: KubeClient, namespace: str, app: str) -> None:
    """Once ``app`` runs, its driver gets a finalizer and fails: its deletion for the retry then stays
    pending, and the application in PENDING_RERUN."""
    driver = (await until_running(kube, namespace, app))["status"]["driverInfo"]["podName"]
    await kube.patch(PODS, driver, {"metadata": {"finalizers": [HOLD]}}, namespace)
    await set_phase(kube, namespace, driver, "Failed")


async def suspend(kube: KubeClient, namespace: str, app: str, suspended: bool) -> None:
    await kube.patch(SPARK_APPLICATIONS, app, {"spec": {"suspend": suspended}}, namespace)


async def metric(port: int, name: str) -> float:
    """The sum of a metric's samples on a sparkfleet instance's /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        text = await resp.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name} ", f"{name}{{"))
    )


async def release(kube: KubeClient, namespace: str, pod: str) -> None:
    try:
        await kube.patch(PODS, pod, {"metadata": {"finalizers": None}}, namespace)
    except ApiError as exc:
        if not exc.is_not_found:
            raise


async def test_kubeflow_picks_up_what_sparkfleet_leaves(
    kubeflow_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> None:
    binary = kubeflow_binary()
    stem = f"handback-{uuid.uuid4().hex[:6]}"
    live, idle = stem, f"{stem}-idle"  # the simulated kubelet runs in the first only
    for namespace in (live, idle):
        await kubeflow_plane.create_namespace(namespace)
        await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                            "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace}})  # fmt: skip
    # One identity for both operators: Kubeflow's Deployment, its image swapped and swapped back.
    identity = await kubeflow_controller_identity(kubeflow_plane, kube, f"{stem}-operator", [live, idle])
    where = {c.name: idle if c.idle else live for c in CASES}
    held = "hb-pending-rerun-driver"

    # -- sparkfleet drives them ---------------------------------------------------------------
    sim = PodSimulator(
        kube, SimConfig(nodes=1, start_delay=(0.05, 0.1), stop_delay=(0.05, 0.1)), namespace=live
    )
    await sim.start()
    port = free_port()
    sparkfleet = await Process.spawn("sparkfleet", [
        sys.executable, "-m", "sparkfleet.cli", "run", "--kubeconfig", str(identity.kubeconfig),
        "--namespaces", f"{live},{idle}", "--controller-threads", "4",
        "--metrics-bind-address", f"127.0.0.1:{port}", "--log-format", "json",
    ], tmp_path / "sparkfleet.log")  # fmt: skip
    kubeflow: Process | None = None
    try:
        try:
            await _ready(f"http://127.0.0.1:{port}/readyz", sparkfleet, time.monotonic() + 30)
            for case in CASES:
                await kube.create(SPARK_APPLICATIONS, _manifest(case, where[case.name]))
            await kube.create(SCHEDULED_SPARK_APPLICATIONS, _scheduled(live))
            await hold_a_failed_driver(kube, live, "hb-pending-rerun")
            await until_running(kube, live, "hb-suspended")
            await suspend(kube, live, "hb-suspended", True)
            apps: dict[str, dict[str, Any]] = {}
            runs: dict[str, dict[str, Any]] = {}

            async def left_as_wanted() -> bool:
                for case in CASES:
                    apps[case.name] = await kube.get(SPARK_APPLICATIONS, case.name, where[case.name])
                runs.clear()
                runs.update(await runs_of(kube, live, "hb-nightly"))
                # The rerun's old driver is deleted (the finalizer keeps it): sparkfleet waits for it.
                rerun = (await kube.get(PODS, held, live))["metadata"].get("deletionTimestamp")
                suspended = await pods_of(kube, live, "hb-suspended")  # its driver and executors go
                return (
                    all(
                        state_of(apps[c.name]) == c.sparkfleet and executor_ids(apps[c.name]) == c.executors
                        for c in CASES
                    )
                    and [(state_of(r), executor_ids(r)) for r in runs.values()] == [("RUNNING", TWO_RUNNING)]
                    and bool(rerun)
                    and not suspended
                )

            def left() -> object:
                return {
                    **{n: a.get("status") for n, a in apps.items()},
                    "runs": {n: state_of(r) for n, r in runs.items()},
                }

            await eventually(left_as_wanted, what="the applications left as wanted", seen=left, timeout=60)
            assert await metric(port, "sparkfleet_status_writes_rejected_total") == 0, (
                "refused by Kubeflow's CRD"
            )
        finally:
            await sparkfleet.stop(30)
            await sim.stop()
        assert sparkfleet.proc.returncode == 0, sparkfleet.log_tail()
        assert await left_as_wanted(), left()  # as it was left once nothing moves any more

        # What sparkfleet left: each application's status and pods (by UID), the UI Service it made.
        (first_run,) = runs
        where[first_run] = live
        handed = {name: (await kube.get(SPARK_APPLICATIONS, name, where[name]))["status"] for name in where}
        pods = {name: await pods_of(kube, where[name], name) for name in where}
        ui_service = await kube.get(SERVICES, "hb-submitted-ui-svc", idle)

        # -- Kubeflow takes them back -------------------------------------------------------
        probe = free_port()
        kubeflow = await Process.spawn("kubeflow", [
            str(binary), "controller", "start", f"--kubeconfig={identity.kubeconfig}",
            f"--namespaces={live},{idle}", "--leader-election=false", "--controller-threads=4",
            "--enable-ui-service=true", "--metrics-bind-address=0",
            f"--health-probe-bind-address=127.0.0.1:{probe}", "--zap-log-level=info", "--zap-encoder=json",
        ], tmp_path / "kubeflow.log")  # fmt: skip
        await _ready(f"http://127.0.0.1:{probe}/readyz", kubeflow, time.monotonic() + 30)

        async def reconciled_all() -> bool:
            lines = kubeflow_log(kubeflow.log_path)
            done = {
                (ref["namespace"], ref["name"])
                for line in lines
                if line.get("msg") == "Finished reconciling SparkApplication"
                and isinstance(ref := line.get("SparkApplication"), dict)
            }
            return {(where[n], n) for n in where} <= done and scheduled_reconciled(lines, live, "hb-nightly")

        await eventually(
            reconciled_all,
            what="Kubeflow to reconcile every application",
            seen=kubeflow.log_tail,
            timeout=30.0,
        )
        # (4) Kubeflow read every status sparkfleet wrote: the state it saw first is the one written.
        written = {(where[n], n): state_of({"status": status}) for n, status in handed.items()}
        read = first_states(kubeflow_log(kubeflow.log_path))
        assert {key: read.get(key) for key in written} == written

        async def kubeflows_states() -> bool:
            for case in CASES:
                apps[case.name] = await kube.get(SPARK_APPLICATIONS, case.name, where[case.name])
            return all(state_of(apps[c.name]) == c.kubeflow for c in CASES)

        await eventually(
            kubeflows_states,
            what="Kubeflow's states",
            seen=lambda: {n: a.get("status") for n, a in apps.items()},
            timeout=30.0,
        )
        invalid = apps["hb-invalid"]["status"]["applicationState"]
        assert invalid["errorMessage"] == handed["hb-invalid"]["applicationState"]["errorMessage"]

        async def resubmitted_nothing() -> None:
            """(2) The same submission for each application, and the very pods sparkfleet left."""
            for name in handed:
                status = (await kube.get(SPARK_APPLICATIONS, name, where[name]))["status"]
                for key in ("submissionID", "submissionAttempts", "executionAttempts", "sparkApplicationId"):
                    assert status.get(key) == handed[name].get(key), f"{name}: {key} {status.get(key)!r}"
                assert set(await pods_of(kube, where[name], name)) == set(pods[name]), f"{name}: pods changed"

        await resubmitted_nothing()
        # Kubeflow updates the UI Service of a SUBMITTED application to what it would have created:
        # sparkfleet's is that already.
        assert any(
            line.get("msg") == "Updated service for SparkApplication"
            and line.get("SparkApplication") == {"name": "hb-submitted", "namespace": idle}
            for line in kubeflow_log(kubeflow.log_path)
        )
        service = await kube.get(SERVICES, "hb-submitted-ui-svc", idle)
        for field_ in ("labels", "ownerReferences", "annotations"):
            assert service["metadata"].get(field_) == ui_service["metadata"].get(field_), field_
        assert service["spec"] == ui_service["spec"]
        assert apps["hb-submitted"]["status"]["driverInfo"] == handed["hb-submitted"]["driverInfo"]
        assert any(  # the old driver still exists: Kubeflow waits
            line.get("msg") == "Resources associated with SparkApplication still exist"
            and line.get("SparkApplication") == {"name": "hb-pending-rerun", "namespace": live}
            for line in kubeflow_log(kubeflow.log_path)
        )

        # -- (3) Kubeflow follows what runs -----------------------------------------------------
        seen: dict[str, Any] = {}

        async def state(name: str, wanted: str, executors: dict[str, str] | None = None) -> None:
            async def reached() -> bool:
                seen[name] = await kube.get(SPARK_APPLICATIONS, name, where[name])
                return state_of(seen[name]) == wanted and (
                    executors is None or executor_ids(seen[name]) == executors
                )

            await eventually(
                reached,
                what=f"{name} to be {wanted}",
                seen=lambda: (seen[name].get("status"), kubeflow.log_tail()) if name in seen else None,
                timeout=30.0,
            )

        await set_phase(kube, idle, "hb-submitted-driver", "Running")
        await state("hb-submitted", "RUNNING")
        await set_phase(kube, idle, "hb-submitted-driver", "Succeeded")
        await state("hb-submitted", "COMPLETED")

        running = apps["hb-running"]
        await set_phase(kube, live, executor_named(running, "2"), "Failed", EXECUTOR_CONTAINER)
        await state("hb-running", "RUNNING", {"1": "RUNNING", "2": "FAILED"})
        await set_phase(kube, live, executor_named(running, "1"), "Succeeded", EXECUTOR_CONTAINER)
        await set_phase(kube, live, "hb-running-driver", "Succeeded")
        await state("hb-running", "COMPLETED", {"1": "COMPLETED", "2": "FAILED"})
        assert seen["hb-running"]["status"]["terminationTime"]

        # The scheduled application goes on: its run finishes, and Kubeflow starts the next one (which
        # fails to submit here: there is no spark-submit).
        run = runs[first_run]
        for executor_id in ("1", "2"):
            await set_phase(kube, live, executor_named(run, executor_id), "Succeeded", EXECUTOR_CONTAINER)
        await set_phase(kube, live, f"{first_run}-driver", "Succeeded")
        await state(first_run, "COMPLETED")
        later: dict[str, Any] = {}

        async def next_run_started() -> bool:
            later["runs"] = await runs_of(kube, live, "hb-nightly")
            later["status"] = (await kube.get(SCHEDULED_SPARK_APPLICATIONS, "hb-nightly", live)).get(
                "status"
            ) or {}
            started = [r for n, r in later["runs"].items() if n != first_run and state_of(r) == "FAILED"]
            return bool(started) and later["status"].get("pastSuccessfulRunNames") == [first_run]

        await eventually(
            next_run_started,
            what="next run started",
            seen=lambda: (
                {n: r.get("status") for n, r in later.get("runs", {}).items()},
                later.get("status"),
            ),
            timeout=30.0,
        )
        kubeflows = next(r for n, r in later["runs"].items() if n != first_run and state_of(r) == "FAILED")
        assert re.fullmatch(
            r"hb-nightly-\d{19}", kubeflows["metadata"]["name"]
        )  # Kubeflow's name: nanoseconds
        assert kubeflows["status"]["applicationState"]["errorMessage"].startswith(
            "failed to submit spark application"
        )
        assert any(  # by way of SUBMISSION_FAILED (no retries: then FAILED)
            line.get("msg") == "SparkApplication updated"
            and line.get("name") == kubeflows["metadata"]["name"]
            and line.get("newState") == "SUBMISSION_FAILED"
            for line in kubeflow_log(kubeflow.log_path)
        )
        await resubmitted_nothing()  # still: the runs that finished are as they were, and nothing else moved

        # Resumed under Kubeflow, the suspended application is submitted again (and fails to be, here).
        await suspend(kube, live, "hb-suspended", False)
        await state("hb-suspended", "FAILED")
        resumed = seen["hb-suspended"]["status"]
        assert resumed["applicationState"]["errorMessage"].startswith("failed to submit spark application")
        assert resumed["submissionAttempts"] == handed["hb-suspended"]["submissionAttempts"] + 1
        passed = [
            line["newState"]
            for line in kubeflow_log(kubeflow.log_path)
            if line.get("msg") == "SparkApplication updated" and line.get("name") == "hb-suspended"
        ]
        assert [s for s in passed if s in ("RESUMING", "SUBMISSION_FAILED")] == [
            "RESUMING",
            "SUBMISSION_FAILED",
        ]
        # Once the rerun's old driver is gone, Kubeflow reruns it (and fails to submit it, here).
        await release(kube, live, held)
        await state("hb-pending-rerun", "FAILED")
        rerun = seen["hb-pending-rerun"]["status"]
        assert rerun["applicationState"]["errorMessage"].startswith("failed to submit spark application")
        assert rerun["submissionAttempts"] == handed["hb-pending-rerun"]["submissionAttempts"] + 1
        lines = kubeflow_log(kubeflow.log_path)
    finally:
        if kubeflow is not None:
            await kubeflow.stop(30)
        await release(kube, live, held)
    assert not trouble(lines), "\n".join(json.dumps(line) for line in trouble(lines))
    print(
        f"\nKubeflow: {sum(CONFLICT in str(line.get('error', '')) for line in lines)} lost compare-and-swaps"
    )
    submitted = {
        line["SparkApplication"]["name"] for line in lines if line.get("msg") == "Submitting SparkApplication"
    }
    assert "hb-suspended" in submitted, "Kubeflow never submitted the resumed application"
    assert "hb-pending-rerun" in submitted, "Kubeflow never reran the application sparkfleet left pending"
    runs_submitted = submitted - {"hb-suspended", "hb-pending-rerun"}
    assert runs_submitted, "Kubeflow never submitted the scheduled application's next run"
    assert all(name.startswith("hb-nightly-") and name != first_run for name in runs_submitted), submitted
