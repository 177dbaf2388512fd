"""ScheduledSparkApplication on a real API server: runs on schedule, Forbid holds back
while a run is active, history limits delete old runs, a bad schedule is reported."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.kube import KubeClient
from sparkfleet.kube.scope import Scope, Watch
from sparkfleet.operator.spark.scheduled import LABEL_SCHEDULED_APP_NAME, ScheduledSparkApplicationController
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.support import eventually, spark_crds


@pytest.fixture
async def scheduler(control_plane: ControlPlane, namespace: str) -> AsyncIterator[None]:
    await control_plane.install_crds(spark_crds())
    client = await control_plane.client()
    controller = ScheduledSparkApplicationController(client, namespaces=[namespace])
    await controller.start(sync_timeout=10)
    yield
    await controller.stop()
    await client.close()


async def runs(kube: KubeClient, namespace: str, name: str) -> list[str]:
    items, _ = await kube.list_all(
        SPARK_APPLICATIONS, namespace, label_selector=f"{LABEL_SCHEDULED_APP_NAME}={name}"
    )
    return sorted(i["metadata"]["name"] for i in items)


async def scheduled_status_with(
    kube: KubeClient, namespace: str, name: str, field: str
) -> dict[str, Any] | None:
    """The ScheduledSparkApplication's status once it has ``field``."""
    status = (await kube.get(SCHEDULED_SPARK_APPLICATIONS, name, namespace)).get("status") or {}
    return status if field in status else None


async def finish(kube: KubeClient, namespace: str, run: str, state: str = "COMPLETED") -> None:
    await kube.patch(
        SPARK_APPLICATIONS,
        run,
        {
            "status": {"applicationState": {"state": state}, "driverInfo": {}}
        },  # Kubeflow's CRD requires driverInfo
        namespace,
        subresource="status",
    )


@pytest.mark.usefixtures("scheduler")
async def test_runs_on_schedule_forbid_and_history(kube: KubeClient, namespace: str) -> None:
    scheduled = manifests.scheduled("every2s", namespace)
    scheduled["spec"].update(
        schedule="@every 2s", timeZone="UTC", concurrencyPolicy="Forbid", successfulRunHistoryLimit=1
    )
    await kube.create(SCHEDULED_SPARK_APPLICATIONS, scheduled)

    first = (
        await eventually(lambda: runs(kube, namespace, "every2s"), what="a run of every2s", interval=0.1)
    )[0]
    nanos = int(first.removeprefix("every2s-"))  # named as the Spark Operator names runs by default
    assert nanos % 10**9 == 0  # the due time's, not the clock's: a retried reconcile makes the same run
    assert abs(nanos / 10**9 - time.time()) < 60
    run = await kube.get(SPARK_APPLICATIONS, first, namespace)
    assert run["spec"] == scheduled["spec"]["template"]
    assert run["metadata"]["ownerReferences"][0]["kind"] == "ScheduledSparkApplication"
    status = await eventually(
        lambda: scheduled_status_with(kube, namespace, "every2s", "lastRunName"),
        what="every2s's lastRunName",
        interval=0.1,
    )  # written after the run
    assert status["scheduleState"] == "Scheduled"
    assert status["lastRunName"] == first
    assert status["nextRun"] > status["lastRun"]

    await asyncio.sleep(3)  # a run is due, but the first is still active: Forbid
    assert await runs(kube, namespace, "every2s") == [first]

    await finish(kube, namespace, first)
    second = await eventually(lambda: _newer(kube, namespace, first), what="a newer run", interval=0.1)
    await finish(kube, namespace, second)

    async def trimmed() -> bool:
        names = await runs(kube, namespace, "every2s")
        status = (await kube.get(SCHEDULED_SPARK_APPLICATIONS, "every2s", namespace))["status"]
        return first not in names and status.get("pastSuccessfulRunNames") == [second]

    await eventually(trimmed, what="the history trimmed", interval=0.1)


async def _newer(kube: KubeClient, namespace: str, first: str) -> str | None:
    later = [n for n in await runs(kube, namespace, "every2s") if n != first]
    return later[0] if later else None


@pytest.mark.usefixtures("scheduler")
async def test_an_invalid_schedule_is_reported(kube: KubeClient, namespace: str) -> None:
    scheduled = manifests.scheduled("broken", namespace)
    scheduled["spec"]["schedule"] = "every full moon"
    await kube.create(SCHEDULED_SPARK_APPLICATIONS, scheduled)

    async def failed() -> dict[str, Any] | None:
        status = (await kube.get(SCHEDULED_SPARK_APPLICATIONS, "broken", namespace)).get("status") or {}
        return status if status.get("scheduleState") == "FailedValidation" else None

    status = await eventually(failed, what="the schedule failed", interval=0.1)
    assert status["reason"].startswith("spec.schedule: ")
    assert await runs(kube, namespace, "broken") == []


@pytest.mark.usefixtures("scheduler")
async def test_replace_deletes_the_active_run_and_suspend_stops_new_ones(
    kube: KubeClient, namespace: str
) -> None:
    scheduled = manifests.scheduled("replacer", namespace)
    scheduled["spec"].update(schedule="@every 2s", concurrencyPolicy="Replace")
    await kube.create(SCHEDULED_SPARK_APPLICATIONS, scheduled)
    first = (
        await eventually(lambda: runs(kube, namespace, "replacer"), what="a run of replacer", interval=0.1)
    )[0]

    async def replaced() -> list[str] | None:
        names = await runs(kube, namespace, "replacer")
        return names if names and first not in names else None

    later = await eventually(
        replaced, what="the first run replaced", interval=0.1
    )  # the active first run was deleted for the next one
    await kube.patch(SCHEDULED_SPARK_APPLICATIONS, "replacer", {"spec": {"suspend": True}}, namespace)
    await asyncio.sleep(0.5)
    suspended = await runs(kube, namespace, "replacer")
    await asyncio.sleep(3)
    assert await runs(kube, namespace, "replacer") == suspended  # nothing new while suspended
    assert later


async def test_runs_move_with_their_schedule_when_its_routing_label_changes(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """Two members of a fleet routed by a label's values, each holding one value: a schedule moved from
    one to the other takes its active run along (relabelled), so Forbid still holds back the next."""
    await control_plane.install_crds(spark_crds())
    key = f"tier-{uuid.uuid4().hex[:6]}"  # label scopes are cluster-wide: a key of this test's own
    members = []
    for tier in ("gold", "silver"):
        client = await control_plane.client()
        scope = Scope(tier, (Watch(label_selector=f"{key} in ({tier})"),))
        members.append(ScheduledSparkApplicationController(client, scopes=[scope]))
    try:
        for member in members:
            await member.start(sync_timeout=10)
        scheduled = manifests.scheduled("moving", namespace)
        scheduled["metadata"]["labels"] = {key: "gold"}
        scheduled["spec"].update(schedule="@every 2s", timeZone="UTC", concurrencyPolicy="Forbid")
        await kube.create(SCHEDULED_SPARK_APPLICATIONS, scheduled)
        first = (
            await eventually(lambda: runs(kube, namespace, "moving"), what="a run of moving", interval=0.1)
        )[0]
        assert (await kube.get(SPARK_APPLICATIONS, first, namespace))["metadata"]["labels"][key] == "gold"
        await eventually(
            lambda: scheduled_status_with(kube, namespace, "moving", "lastRunName"),
            what="moving's lastRunName",
            interval=0.1,
        )

        await kube.patch(
            SCHEDULED_SPARK_APPLICATIONS, "moving", {"metadata": {"labels": {key: "silver"}}}, namespace
        )

        async def run_moved() -> bool:
            labels = (await kube.get(SPARK_APPLICATIONS, first, namespace))["metadata"]["labels"]
            return bool(labels.get(key) == "silver")

        await eventually(run_moved, what="the run moved", interval=0.1)
        await asyncio.sleep(3)  # runs are due, but the first is still active, and its new holder sees it
        assert await runs(kube, namespace, "moving") == [first]
        await finish(kube, namespace, first)
        second = await eventually(
            lambda: _newer_of(kube, namespace, "moving", first),
            what="a newer run of moving",
            interval=0.1,
        )
        assert (await kube.get(SPARK_APPLICATIONS, second, namespace))["metadata"]["labels"][key] == "silver"
    finally:
        for member in members:
            await member.stop()
            await member.client.close()


async def _newer_of(kube: KubeClient, namespace: str, name: str, first: str) -> str | None:
    later = [n for n in await runs(kube, namespace, name) if n != first]
    return later[0] if later else None
