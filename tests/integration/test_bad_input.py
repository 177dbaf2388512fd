"""The bad-input corpus against a real API server: who refuses each case, and that the message names
the field; invalid applications next to valid ones, with the real Spark controller; an instance
given an invalid fleet."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import EVENTS, PODS, SERVICEACCOUNTS, Resource
from sparkfleet.operator.spark.app_cache import DEFAULT_MAX_APPLICATION_BYTES, application_bytes
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.scheduled import ScheduledSparkApplicationController
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.proc import free_port
from tests.corpus import applications, fleets
from tests.support import eventually, on_kubeflow_crds, spark_crds

STRICT: dict[str, str | int | bool | None] = {"fieldValidation": "Strict"}  # as kubectl sends it


@pytest.fixture
async def operator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[SparkApplicationController]:
    await control_plane.install_crds(spark_crds())
    await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
    client = await control_plane.client()
    controller = SparkApplicationController(client, namespaces=[namespace], concurrent_syncs=4)
    await controller.start(sync_timeout=10)
    yield controller
    await controller.stop()
    await client.close()


async def create(
    kube: KubeClient, resource: Resource, obj: dict[str, Any], namespace: str
) -> ApiError | None:
    """Creates ``obj`` as kubectl would; the API server's refusal, if it refuses."""
    try:
        await kube.request("POST", resource.path(namespace), body=obj, query=STRICT)
    except ApiError as exc:
        return exc
    return None


def state(app: dict[str, Any]) -> dict[str, Any]:
    return (app.get("status") or {}).get("applicationState") or {}


def assert_names(message: str, field: str) -> None:
    """``field`` is named as a field: followed by ':' or a deeper part of the path."""
    assert any(f"{field}{sep}" in message for sep in (":", ".", "[", '"')), f"{field} not named in: {message}"


def admitted_unless_refused(case_id: str, refused_by_api: bool, refusal: ApiError | None, field: str) -> bool:
    """Checks the API server's answer to one case: a 400/422 naming ``field`` where the schema
    refuses it, nothing otherwise. True when the object was stored.

    On the Kubeflow Spark Operator's CRDs (``SPARKFLEET_TEST_CRDS=kubeflow``), whose schema is not
    sparkfleet's, either answer is right as long as a refusal names the field: what its schema lets
    through, the operator must refuse by the same field (the callers check that)."""
    if on_kubeflow_crds():
        if refusal is not None:
            assert refusal.status in (400, 422), (case_id, refusal.status, refusal.message)
            assert_names(refusal.message, field)
        return refusal is None
    if refused_by_api:
        assert refusal is not None, f"{case_id}: the API server admitted it"
        assert refusal.status in (400, 422), (case_id, refusal.status, refusal.message)
        assert_names(refusal.message, field)
        return False
    assert refusal is None, f"{case_id}: {refusal}"
    return True


@pytest.mark.usefixtures("operator")
async def test_invalid_applications_next_to_valid_ones(
    kube: KubeClient, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    admitted: dict[str, applications.AppCase] = {}
    for case in applications.CASES:
        refusal = await create(kube, SPARK_APPLICATIONS, case.manifest(namespace), namespace)
        if admitted_unless_refused(case.id, case.refused_by == "api", refusal, case.api_field or case.field):
            # Stored though sparkfleet's schema refuses it (Kubeflow's CRDs): the operator refuses it.
            admitted[case.name] = replace(case, refused_by="operator") if case.refused_by == "api" else case
    valid = [{**m, "metadata": {**m["metadata"], "namespace": namespace}} for m in applications.VALID]
    for manifest in valid:
        assert await create(kube, SPARK_APPLICATIONS, manifest, namespace) is None
    running = {m["metadata"]["name"] for m in valid} | {
        name for name, case in admitted.items() if case.refused_by == "warning"
    }
    failed = {name for name, case in admitted.items() if case.refused_by == "operator"}

    last: dict[str, dict[str, Any]] = {}

    async def settled() -> dict[str, dict[str, Any]] | None:
        apps, _ = await kube.list_all(SPARK_APPLICATIONS, namespace)
        last.update({a["metadata"]["name"]: state(a) for a in apps})
        expected = {n: "SUBMISSION_FAILED" for n in failed} | {n: "SUBMITTED" for n in running}
        return last if all(last.get(n, {}).get("state") == s for n, s in expected.items()) else None

    try:
        states = await eventually(settled, what="every application submitted or refused")
    except AssertionError:
        pytest.fail(f"not settled: { ({n: s for n, s in last.items() if n in failed | running}) }")
    for name in failed:
        case = admitted[name]
        message = states[name].get("errorMessage", "")
        assert f"{case.field}: " in message, (case.id, message)
        # An application over --max-application-bytes is refused for its size, naming its largest field.
        over = application_bytes(case.manifest()) > DEFAULT_MAX_APPLICATION_BYTES
        assert ("--max-application-bytes" if over else case.says) in message, (case.id, message)

    async def events() -> dict[tuple[str, str], str] | None:
        items, _ = await kube.list_all(EVENTS, namespace)
        seen = {
            (e["involvedObject"]["name"], e["reason"]): e["message"] for e in items if e["type"] == "Warning"
        }
        wanted = {(n, "SparkApplicationSubmissionFailed") for n in failed} | {
            (n, "SparkApplicationUnknownFields") for n, c in admitted.items() if c.refused_by == "warning"
        }
        return seen if wanted <= set(seen) else None

    warnings = await eventually(events, what="a Warning Event for each")
    for name, case in admitted.items():
        reason = (
            "SparkApplicationSubmissionFailed"
            if case.refused_by == "operator"
            else "SparkApplicationUnknownFields"
        )
        assert case.field in warnings[(name, reason)], (case.id, warnings[(name, reason)])
    assert not {n for n, _ in warnings} & {m["metadata"]["name"] for m in valid}  # the valid ones: no warning

    # Nothing was created for the refused ones; the others run to completion.
    pods, _ = await kube.list_all(PODS, namespace)
    drivers = {p["metadata"]["labels"]["sparkoperator.k8s.io/app-name"]: p["metadata"]["name"] for p in pods}
    assert set(drivers) == running
    for pod in drivers.values():
        await kube.patch(PODS, pod, {"status": {"phase": "Succeeded"}}, namespace, subresource="status")

    async def completed() -> bool:
        apps, _ = await kube.list_all(SPARK_APPLICATIONS, namespace)
        return all(state(a).get("state") == "COMPLETED" for a in apps if a["metadata"]["name"] in running)

    await eventually(completed, what="the valid applications completed")
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.getMessage() == "reconcile failed"]


async def test_invalid_schedules_fail_validation_and_start_no_run(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    await control_plane.install_crds(spark_crds())
    client = await control_plane.client()
    controller = ScheduledSparkApplicationController(client, namespaces=[namespace])
    await controller.start(sync_timeout=10)
    try:
        stored = {}
        for case in applications.SCHEDULED_CASES:
            manifest = case.manifest(namespace)
            if "schedule" not in case.patch.get("spec", {}):
                manifest["spec"]["schedule"] = "@every 1s"  # a run would start at once, if any could
            refusal = await create(kube, SCHEDULED_SPARK_APPLICATIONS, manifest, namespace)
            if admitted_unless_refused(case.id, case.refused_by == "api", refusal, case.field):
                stored[manifest["metadata"]["name"]] = case  # refused by the operator, whatever the schema

        async def failed() -> dict[str, str] | None:
            items, _ = await kube.list_all(SCHEDULED_SPARK_APPLICATIONS, namespace)
            reasons = {
                i["metadata"]["name"]: (i.get("status") or {}).get("reason", "")
                for i in items
                if (i.get("status") or {}).get("scheduleState") == "FailedValidation"
            }
            return reasons if set(reasons) == set(stored) else None

        reasons = await eventually(failed, what="every stored schedule failed validation")
        for name, case in stored.items():
            assert f"{case.field}: " in reasons[name], (case.id, reasons[name])
            assert case.says in reasons[name], (case.id, reasons[name])
        await asyncio.sleep(1.5)
        runs, _ = await kube.list_all(SPARK_APPLICATIONS, namespace)
        assert runs == []  # an impossible template starts no run
    finally:
        await controller.stop()
        await client.close()


async def test_invalid_fleets_are_refused_by_the_api_server_or_stored(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    await control_plane.install_crds(spark_crds())
    for i, case in enumerate(fleets.CASES):
        body = {"apiVersion": SPARK_FLEETS.api_version, "kind": "SparkFleet",
                "metadata": {"name": f"f{i}", "namespace": namespace}, "spec": case.spec}  # fmt: skip
        refusal = await create(kube, SPARK_FLEETS, body, namespace)
        admitted_unless_refused(case.id, case.refused_by == "api", refusal, case.field)


async def test_an_instance_on_an_invalid_fleet_says_why_and_keeps_running(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    """The API server stores what a schema cannot judge; an instance started on it (or on a later
    change to it) reports Invalid=True naming the field, serves nothing it cannot, never crashes."""
    await control_plane.install_crds(spark_crds())
    stored = [c for c in fleets.CASES if c.refused_by == "coordinator"]
    body = {"apiVersion": SPARK_FLEETS.api_version, "kind": "SparkFleet",
            "metadata": {"name": "bad", "namespace": namespace}, "spec": stored[0].spec}  # fmt: skip
    await kube.create(SPARK_FLEETS, body)
    log = tmp_path / "instance.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sparkfleet.cli", "run", "--kubeconfig", str(control_plane.kubeconfig),
            "--fleet", "bad", "--fleet-namespace", namespace, "--identity", "member-0",
            "--metrics-bind-address", f"127.0.0.1:{free_port()}", stdout=out, stderr=out,
        )  # fmt: skip
    try:
        for case in stored:
            fleet = await kube.get(SPARK_FLEETS, "bad", namespace)
            if fleet["spec"] != case.spec:
                await kube.replace(SPARK_FLEETS, {**fleet, "spec": case.spec})

            async def reported(case: fleets.FleetCase = case) -> dict[str, Any] | None:
                assert proc.returncode is None, log.read_text()
                fleet = await kube.get(SPARK_FLEETS, "bad", namespace)
                status = fleet.get("status") or {}
                if status.get("observedGeneration") != fleet["metadata"]["generation"]:
                    return None  # not yet about this spec
                conditions = {c["type"]: c for c in status.get("conditions") or []}
                invalid = conditions.get("Invalid") or {}
                return conditions if invalid.get("status") == "True" else None

            conditions = await eventually(reported, what=f"{case.id} reported", timeout=15)
            assert_names(conditions["Invalid"]["message"], case.field)
            assert case.says in conditions["Invalid"]["message"]
            assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "InvalidSpec")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 20)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text
    assert "the fleet's spec is invalid; the last valid plan keeps running" in text
