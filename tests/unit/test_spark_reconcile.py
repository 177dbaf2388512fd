"""The whole SparkApplication reconcile (observe -> decide -> act -> write) against the fake client.

The controller's caches are the fake client's store (as if every watch event had arrived), so each
reconcile sees what the previous one wrote; the requests counted are the reconcile's own.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import ApiError
from sparkfleet.kube.informer import EventType, InformerEvent
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import CONFIGMAPS, EVENTS, PODS, SERVICES, Resource
from sparkfleet.kube.timestamps import format_time
from sparkfleet.operator.controller import Result
from sparkfleet.operator.spark import metrics as spark_metrics
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.bounds import Bounds
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.testing.fake_client import FakeKubeClient, Request
from tests.examples import manifests

NS = "team-a"
KEY = f"{NS}/spark-pi"
NOW = 1_800_000_000.0
STATUS_WRITE = ("update", "sparkapplications/status")


class _StoreCache:
    """A cache that is the fake client's store: what ``get`` and ``list`` of informers answer.
    ``stale`` pins an older copy of an object, as a cache behind the API server holds it."""

    def __init__(self, client: FakeKubeClient, resource: Resource):
        self.client, self.resource = client, resource
        self.stale: dict[str, dict[str, Any]] = {}

    def get(self, key: NamespacedName | str) -> dict[str, Any] | None:
        key = str(key)
        if key in self.stale:
            return self.stale[key]
        namespace, name = key.split("/", 1)
        return self.client.object(self.resource, name, namespace)

    def list_labelled(self, namespace: str, value: str) -> list[dict[str, Any]]:
        """As the pods' cache, indexed by the application's name."""
        return [
            obj
            for obj in self.list(namespace)
            if (obj["metadata"].get("labels") or {}).get(naming.LABEL_APP_NAME) == value
        ]

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.client.objects(self.resource, namespace)


class _Scoped:
    def routing_keys(self, key: NamespacedName | str) -> frozenset[str]:
        return frozenset()


@dataclass
class Harness:
    client: FakeKubeClient
    controller: SparkApplicationController
    apps: _StoreCache
    now: list[float]

    async def reconcile(self) -> Result | None:
        self.client.reset_requests()
        result = await self.controller.reconcile(NamespacedName.parse(KEY))
        await self.controller.events.flush()
        return result

    def app(self) -> dict[str, Any]:
        found = self.client.object(SPARK_APPLICATIONS, "spark-pi", NS)
        assert found is not None
        return found

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.app().get("status") or {}
        return status

    def status_writes(self) -> int:
        return self.client.count(*STATUS_WRITE)

    def reasons(self) -> list[str]:
        return [e["reason"] for e in self.client.objects(EVENTS, NS)]

    def driver(self) -> dict[str, Any]:
        pods = [p for p in self.client.objects(PODS, NS) if p["metadata"]["labels"]["spark-role"] == "driver"]
        assert len(pods) == 1
        return pods[0]

    def set_driver_phase(self, phase: str) -> None:
        pod = self.driver()
        pod["status"] = {"phase": phase}
        self.client.add(PODS, pod)

    def requests(self) -> list[tuple[str, str]]:
        return [(r.verb, r.resource) for r in self.client.requests if r.resource != "events"]


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    now = [NOW]
    client = FakeKubeClient(clock=lambda: now[0])
    controller = SparkApplicationController(client, namespaces=[NS], clock=lambda: now[0])
    apps = _StoreCache(client, SPARK_APPLICATIONS)
    # The informers are not started: the reconcile reads the fake client's store instead.
    controller.apps = apps  # type: ignore[assignment]
    controller.pods = _StoreCache(client, PODS)  # type: ignore[assignment]
    controller.scoped = _Scoped()  # type: ignore[assignment]
    yield Harness(client, controller, apps, now)
    await controller.events.flush()
    spark_metrics.RUNNING.sources.remove(controller._cached_apps)


def _add_app(h: Harness, **spec: Any) -> dict[str, Any]:
    manifest = manifests.spark_pi(namespace=NS)
    manifest["spec"].update(spec)
    return h.client.add(SPARK_APPLICATIONS, manifest)


async def test_a_new_application_is_submitted_with_one_status_write(harness: Harness) -> None:
    h = harness
    _add_app(h)
    assert await h.reconcile() is None
    status = h.status()
    assert status["applicationState"] == {"state": "SUBMITTED"}
    assert status["submissionAttempts"] == 1
    assert status["executionAttempts"] == 1
    assert status["lastSubmissionAttemptTime"] == format_time(NOW)
    assert status["driverInfo"]["podName"] == "spark-pi-driver"
    assert set(status) == {
        "applicationState",
        "submissionAttempts",
        "executionAttempts",
        "lastSubmissionAttemptTime",
        "driverInfo",
        "submissionID",
        "sparkApplicationId",
    }
    driver = h.driver()
    assert driver["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == status["submissionID"]
    assert len(h.client.objects(CONFIGMAPS, NS)) == 1
    assert len(h.client.objects(SERVICES, NS)) == 2  # the driver's and the Spark UI's
    assert h.requests() == [
        ("list", "resourcequotas"),
        ("create", "pods"),
        ("create", "configmaps"),
        ("create", "services"),
        ("create", "services"),
        STATUS_WRITE,
    ]
    assert h.reasons() == ["SparkApplicationSubmitted"]


async def test_a_second_reconcile_with_nothing_new_makes_no_request(harness: Harness) -> None:
    h = harness
    _add_app(h)
    await h.reconcile()
    before = h.app()
    assert await h.reconcile() is None
    assert h.client.requests == []
    assert h.app() == before


async def test_running_then_completed(harness: Harness) -> None:
    h = harness
    _add_app(h)
    await h.reconcile()
    h.set_driver_phase("Running")
    await h.reconcile()
    assert h.status()["applicationState"] == {"state": "RUNNING"}
    assert h.requests() == [STATUS_WRITE]
    h.now[0] = NOW + 30
    h.set_driver_phase("Succeeded")
    await h.reconcile()
    status = h.status()
    assert status["applicationState"] == {"state": "COMPLETED"}
    assert status["terminationTime"] == format_time(NOW + 30)
    assert h.requests() == [STATUS_WRITE]  # SUCCEEDING and COMPLETED: one write
    assert h.reasons() == [
        "SparkApplicationSubmitted",
        "SparkDriverRunning",
        "SparkDriverCompleted",
        "SparkApplicationCompleted",
    ]


async def test_an_invalid_spec_fails_its_submission_once(harness: Harness) -> None:
    h = harness
    _add_app(h, type="Cobol")
    assert await h.reconcile() is None
    status = h.status()
    assert status["applicationState"]["state"] == "SUBMISSION_FAILED"
    assert "spec.type" in status["applicationState"]["errorMessage"]
    assert status["submissionAttempts"] == 1
    assert status["driverInfo"] == {}
    assert "submissionID" not in status
    assert h.requests() == [STATUS_WRITE]
    assert h.reasons() == ["SparkApplicationSubmissionFailed"]
    assert await h.reconcile() is None
    assert h.client.requests == []  # said once: no write, no Event
    assert h.reasons() == ["SparkApplicationSubmissionFailed"]
    assert h.client.objects(PODS, NS) == []


async def test_a_fixed_spec_is_submitted_afresh(harness: Harness) -> None:
    h = harness
    app = _add_app(h, type="Cobol")
    await h.reconcile()
    fixed = h.app()
    fixed["spec"]["type"] = "Scala"
    await h.client.replace(SPARK_APPLICATIONS, fixed)
    await h.reconcile()
    status = h.status()
    assert status["applicationState"] == {"state": "SUBMITTED"}
    assert status["submissionAttempts"] == 1  # the refusal's attempt is not counted against it
    assert status["executionAttempts"] == 1
    assert app["metadata"]["uid"] == h.driver()["metadata"]["ownerReferences"][0]["uid"]


async def test_a_refused_submission_keeps_no_submission_id(harness: Harness) -> None:
    h = harness
    _add_app(h)
    h.controller.bounds = Bounds(max_executors=1)  # the application asks for 2
    await h.reconcile()
    status = h.status()
    assert status["applicationState"]["state"] == "SUBMISSION_FAILED"
    assert "submissionID" not in status
    assert h.reasons() == ["SparkApplicationSubmissionFailed"]
    await h.reconcile()
    assert h.status_writes() == 0
    assert h.reasons() == ["SparkApplicationSubmissionFailed"]


async def test_a_failed_create_records_the_attempt(harness: Harness) -> None:
    h = harness
    _add_app(h)
    h.client.fail("create", PODS, ApiError(500, "InternalError", "etcd is sad"))
    await h.reconcile()
    status = h.status()
    assert status["applicationState"]["state"] == "SUBMISSION_FAILED"
    assert status["applicationState"]["errorMessage"].startswith("submission failed: 500 InternalError")
    assert status["submissionID"]
    assert status["submissionAttempts"] == 1
    assert h.reasons() == ["SparkApplicationSubmissionFailed"]


async def test_a_spec_change_restarts_the_application(harness: Harness) -> None:
    h = harness
    _add_app(h)
    await h.reconcile()
    h.set_driver_phase("Running")
    await h.reconcile()
    first = h.status()["submissionID"]
    changed = h.app()
    changed["spec"]["arguments"] = ["10"]
    await h.client.replace(SPARK_APPLICATIONS, changed)
    result = await h.reconcile()
    assert result == Result(requeue_after=0.5)
    assert h.status()["applicationState"] == {"state": "INVALIDATING"}
    assert h.requests() == [("delete", "pods"), STATUS_WRITE]
    assert h.client.objects(PODS, NS) == []
    await h.reconcile()
    status = h.status()
    assert status["applicationState"] == {"state": "SUBMITTED"}
    assert status["submissionID"] != first
    assert status["executionAttempts"] == 1  # a new spec: a fresh retry budget
    assert h.driver()["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == status["submissionID"]
    assert "SparkApplicationSpecUpdateProcessed" in h.reasons()


async def test_the_ttl_deletes_a_finished_application(harness: Harness) -> None:
    h = harness
    app = _add_app(h, timeToLiveSeconds=60)
    app["status"] = {
        "applicationState": {"state": "COMPLETED"},
        "terminationTime": format_time(NOW - 30),
        "driverInfo": {},
    }
    h.client.add(SPARK_APPLICATIONS, app)
    result = await h.reconcile()
    assert result is not None
    assert result.requeue_after == pytest.approx(30.0)
    assert h.client.requests == []
    h.now[0] = NOW + 31
    assert await h.reconcile() is None
    assert h.client.requests == [Request("delete", "sparkapplications", KEY)]
    assert h.client.object(SPARK_APPLICATIONS, "spark-pi", NS) is None


async def test_unknown_status_fields_are_written_back_as_they_were(harness: Harness) -> None:
    h = harness
    _add_app(h)
    await h.reconcile()
    app = h.app()
    app["status"]["someLaterKubeflowField"] = {"kept": [1, None]}
    app["status"]["applicationState"]["since"] = "kept too"
    h.client.add(SPARK_APPLICATIONS, app)
    h.set_driver_phase("Running")
    await h.reconcile()
    status = h.status()
    assert status["applicationState"] == {"state": "RUNNING", "since": "kept too"}
    assert status["someLaterKubeflowField"] == {"kept": [1, None]}
    assert h.status_writes() == 1


async def test_a_stale_cached_copy_waits_for_the_echo_of_our_write(harness: Harness) -> None:
    h = harness
    stale = _add_app(h)
    await h.reconcile()
    h.apps.stale[KEY] = copy.deepcopy(stale)  # the cache has not seen the status write yet
    assert await h.reconcile() == Result(requeue_after=1.0)
    assert h.client.requests == []
    del h.apps.stale[KEY]
    assert await h.reconcile() is None
    assert h.client.requests == []


async def test_a_driver_just_submitted_and_not_cached_is_waited_for(harness: Harness) -> None:
    h = harness
    _add_app(h)
    await h.reconcile()
    driver = h.driver()
    h.controller.pods = _EmptyCache()  # type: ignore[assignment]
    assert await h.reconcile() == Result(requeue_after=10.0)
    assert h.client.requests == []
    h.now[0] = NOW + 10
    assert await h.reconcile() is None  # after the grace period: read from the API server
    assert h.requests() == [("get", "pods")]
    assert h.client.requests[0].key == f"{NS}/{driver['metadata']['name']}"


class _EmptyCache:
    def list_labelled(self, namespace: str, value: str) -> list[dict[str, Any]]:
        return []

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return []


async def test_executor_states_only_are_batched(harness: Harness) -> None:
    h = harness
    _add_app(h)
    await h.reconcile()
    h.set_driver_phase("Running")
    await h.reconcile()
    driver = h.driver()
    labels = {**driver["metadata"]["labels"], "spark-role": "executor", naming.LABEL_EXECUTOR_ID: "1"}
    owner = {"apiVersion": "v1", "kind": "Pod", "name": driver["metadata"]["name"]}
    owner |= {"uid": driver["metadata"]["uid"], "controller": True}
    executor = {
        "metadata": {
            "name": "spark-pi-exec-1",
            "namespace": NS,
            "labels": labels,
            "ownerReferences": [owner],
        },
        "status": {"phase": "Running"},
    }
    h.client.add(PODS, executor)
    key = NamespacedName(NS, "spark-pi")
    event = InformerEvent(EventType.MODIFIED, executor, None)
    assert h.controller._executor_news_delay(event, key) is None  # nothing held: reconcile now
    result = await h.reconcile()
    assert result is not None
    assert result.requeue_after == pytest.approx(1.0, abs=0.1)  # held for the batch window
    assert h.status_writes() == 0
    # Meanwhile an executor's news waits with the held write (it changes executor states only);
    # the driver's is reconciled at once.
    assert h.controller._executor_news_delay(event, key) == pytest.approx(1.0, abs=0.1)
    assert h.controller._executor_news_delay(InformerEvent(EventType.MODIFIED, driver, None), key) is None
    h.controller.executor_state_batch = 0.0
    h.controller._executor_write_due.clear()
    await h.reconcile()
    assert h.status()["executorState"] == {"spark-pi-exec-1": "RUNNING"}
    assert h.status_writes() == 1


class _RoutedBy:
    def __init__(self, *keys: str):
        self.keys = frozenset(keys)

    def routing_keys(self, key: NamespacedName | str) -> frozenset[str]:
        return self.keys


async def test_a_pod_relabelled_away_from_its_applications_routing_is_claimed_back(harness: Harness) -> None:
    h = harness
    h.controller.scoped = _RoutedBy("tier")  # type: ignore[assignment]
    app = manifests.spark_pi(namespace=NS)
    app["metadata"]["labels"] = {"tier": "gold"}
    h.client.add(SPARK_APPLICATIONS, app)
    await h.reconcile()
    driver = h.driver()
    assert driver["metadata"]["labels"]["tier"] == "gold"  # submitted with the application's routing
    driver["metadata"]["labels"]["tier"] = "silver"
    driver["status"] = {"phase": "Running"}
    h.client.add(PODS, driver)
    await h.reconcile()
    assert h.driver()["metadata"]["labels"]["tier"] == "gold"
    assert ("update", "pods") in h.requests()
    assert h.status()["applicationState"] == {"state": "RUNNING"}


async def test_a_status_the_api_server_refuses_is_said_not_retried(harness: Harness) -> None:
    h = harness
    _add_app(h)
    invalid = ApiError(422, "Invalid", "status.driverInfo: Required value", {"details": {"causes": []}})
    h.client.fail(*STATUS_WRITE, error=invalid)
    assert await h.reconcile() is None
    assert "status" not in h.app()
    assert h.reasons() == ["StatusUpdateRejected", "SparkApplicationSubmitted"]
