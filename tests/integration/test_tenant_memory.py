"""A tenant's large objects cannot grow a member's memory (issue 16, item 4).

A tenant allowed to create SparkApplications in its namespace creates many of about 1.2 MB each
(etcd takes up to 1.5 MiB), some before the operator starts (its first list) and some after (its
watch), and a ScheduledSparkApplication as large. Each is refused once, with SUBMISSION_FAILED (or
FailedValidation) naming its size and the bound and a Warning Event, neither echoing its content;
and what the caches hold of each is measured in bytes (the serialized object, a packed spec counted
as packed): a few KiB per refused application, never the object. An application just under the
bound is accepted and costs at most the bound. Memory in RSS is the benchmark's
(``bench/large_objects.py``), not this test's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.demo.workload import application
from sparkfleet.kube import KubeClient
from sparkfleet.kube.resources import EVENTS, SERVICEACCOUNTS
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.scheduled import ScheduledSparkApplicationController
from sparkfleet.testing import ControlPlane
from tests.support import client_as, eventually, spark_application_rules, spark_crds

BOUND = 512 * 1024  # the default of --max-application-bytes
REFUSED_CACHED_MAX = 8 * 1024  # what a refused application may hold in the cache, serialized
BEFORE, AFTER = 8, 8  # oversized applications created before the operator starts, and after
SECRET = "tenant-payload-"  # the content of the large fields: never echoed back


def oversized(name: str, namespace: str) -> dict[str, Any]:
    """About 1.2 MB, valid under the CRD: many short arguments (the costliest shape once decoded)."""
    app = application(name, namespace, 1)
    app["spec"]["arguments"] = [f"{SECRET}{i:08d}" for i in range(50_000)]
    return app


def under_the_bound(name: str, namespace: str) -> dict[str, Any]:
    app = application(name, namespace, 1)
    app["spec"]["sparkConf"] = {f"spark.tenant.{i}": "v" * 10_000 for i in range(30)}  # ~300 KB
    return app


def cached_bytes(obj: Mapping[str, Any]) -> int:
    """What a cache holds of ``obj``, serialized; a packed spec (``packed``) counted as packed."""
    return len(orjson.dumps(dict(obj))) + len(getattr(obj, "packed", b""))


def state(obj: Mapping[str, Any]) -> dict[str, Any]:
    return (obj.get("status") or {}).get("applicationState") or {}


@pytest.fixture
async def tenant(control_plane: ControlPlane, namespace: str) -> AsyncIterator[KubeClient]:
    """A client of a ServiceAccount that may create and read Spark applications in ``namespace``."""
    async with await control_plane.client() as admin:
        await admin.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                             "metadata": {"name": "spark-operator-spark", "namespace": namespace}})  # fmt: skip
        verbs = ("create", "get", "list", "watch", "update", "patch", "delete")
        client = await client_as(control_plane, admin, namespace, "tenant",
                                 spark_application_rules(*verbs, scheduled=True))  # fmt: skip
    yield client
    await client.close()


async def test_large_applications_are_refused_and_cost_a_bounded_cache(
    control_plane: ControlPlane, kube: KubeClient, tenant: KubeClient, namespace: str
) -> None:
    await control_plane.install_crds(spark_crds())
    names = [f"big-{i:02d}" for i in range(BEFORE + AFTER)]
    for name in names[:BEFORE]:  # read by the operator's first list
        await tenant.create(SPARK_APPLICATIONS, oversized(name, namespace))
    operator = await control_plane.client()
    controller = SparkApplicationController(operator, namespaces=[namespace], concurrent_syncs=4)
    await controller.start(sync_timeout=30)
    try:
        for name in names[BEFORE:]:  # read from the operator's watch
            await tenant.create(SPARK_APPLICATIONS, oversized(name, namespace))
        await tenant.create(SPARK_APPLICATIONS, under_the_bound("just-under", namespace))

        async def all_decided() -> list[dict[str, Any]] | None:
            listed, _ = await tenant.list_all(SPARK_APPLICATIONS, namespace)
            return listed if all(state(app).get("state") for app in listed) else None

        apps = {
            app["metadata"]["name"]: app
            for app in await eventually(all_decided, what="every application decided", timeout=60.0)
        }
        for name in names:
            app = apps[name]
            size = len(orjson.dumps(app["spec"])) + len(orjson.dumps(app["metadata"]["labels"]))
            assert size > 1_000_000
            assert state(app)["state"] == "SUBMISSION_FAILED", (name, state(app))
            cached = controller.apps.get(f"{namespace}/{name}")
            assert cached is not None
            assert cached_bytes(cached) <= REFUSED_CACHED_MAX, (name, cached_bytes(cached))
            message = state(app)["errorMessage"]
            assert "--max-application-bytes" in message, message
            assert str(BOUND) in message, message
            assert f"{size} bytes" in message, message
            assert SECRET not in message
            assert app["status"]["submissionAttempts"] == 1  # refused once: not a submission retried
        accepted = apps["just-under"]
        assert state(accepted)["state"] in ("SUBMITTED", "RUNNING"), state(accepted)
        cached = controller.apps.get(f"{namespace}/just-under")
        assert cached is not None
        assert cached_bytes(cached) <= BOUND + REFUSED_CACHED_MAX

        async def refusal_events() -> list[dict[str, Any]] | None:
            events, _ = await kube.list_all(
                EVENTS, namespace, field_selector="reason=SparkApplicationSubmissionFailed"
            )
            return events if len({e["involvedObject"]["name"] for e in events}) == len(names) else None

        for event in await eventually(refusal_events, what="an Event for each refusal", timeout=60.0):
            assert event["type"] == "Warning"
            assert "--max-application-bytes" in event["message"], event["message"]
            assert SECRET not in event["message"]
            assert event.get("count", 1) == 1, event  # said once, not in a loop
    finally:
        await controller.stop()
        await operator.close()


async def test_a_large_schedule_is_refused_and_its_cache_is_bounded(
    control_plane: ControlPlane, tenant: KubeClient, namespace: str
) -> None:
    await control_plane.install_crds(spark_crds())
    template = oversized("x", namespace)["spec"]
    await tenant.create(SCHEDULED_SPARK_APPLICATIONS, {
        "apiVersion": SCHEDULED_SPARK_APPLICATIONS.api_version, "kind": "ScheduledSparkApplication",
        "metadata": {"name": "nightly", "namespace": namespace},
        "spec": {"schedule": "@every 1m", "concurrencyPolicy": "Allow", "template": template},
    })  # fmt: skip
    operator = await control_plane.client()
    controller = ScheduledSparkApplicationController(operator, namespaces=[namespace])
    await controller.start(sync_timeout=30)
    try:

        async def refused() -> dict[str, Any] | None:
            obj = await tenant.get(SCHEDULED_SPARK_APPLICATIONS, "nightly", namespace)
            return obj if (obj.get("status") or {}).get("scheduleState") else None

        scheduled = await eventually(refused, what="the schedule decided", timeout=60.0)
        assert scheduled["status"]["scheduleState"] == "FailedValidation"
        reason = scheduled["status"]["reason"]
        assert "--max-application-bytes" in reason, reason
        assert SECRET not in reason
        cached = controller.scheduled.get(f"{namespace}/nightly")
        assert cached is not None
        assert cached_bytes(cached) <= REFUSED_CACHED_MAX, cached_bytes(cached)
        runs, _ = await tenant.list_all(SPARK_APPLICATIONS, namespace)
        assert runs == []  # no run of a refused schedule
    finally:
        await controller.stop()
        await operator.close()
