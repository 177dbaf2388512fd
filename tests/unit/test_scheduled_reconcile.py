"""The whole ScheduledSparkApplication reconcile against the in-memory fake of the client: what it
creates, deletes and writes, the Events it records, and how many requests one reconcile costs."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.kube import ApiError
from sparkfleet.kube.events import EventRecorder
from sparkfleet.kube.resources import EVENTS
from sparkfleet.operator.controller import Result
from sparkfleet.operator.spark import app_cache
from sparkfleet.operator.spark.schedule import run_name
from sparkfleet.operator.spark.scheduled_reconcile import (
    LABEL_SCHEDULED_APP_NAME,
    ScheduleCaches,
    ScheduledReconciler,
)
from sparkfleet.testing.fake_client import FakeKubeClient, Request, status_error
from tests.examples import manifests

NS = "team"
KEY = f"{NS}/nightly"
UTC = datetime.UTC
T0 = datetime.datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # the schedule's creation
FIRST_DUE = datetime.datetime(2026, 11, 24, 3, 1, tzinfo=UTC)
FIRST_RUN = run_name("nightly", FIRST_DUE)
STATUS = "scheduledsparkapplications/status"


class World:
    """A ScheduledSparkApplication in the fake, caches that always see the fake's objects (the
    runs as the controller caches them: no spec), a clock the test moves."""

    def __init__(self, routing: frozenset[str] = frozenset(), **spec: Any) -> None:
        self.now = T0.timestamp()
        self.made: list[Request] = []
        self.client = FakeKubeClient(clock=lambda: self.now)
        scheduled = manifests.scheduled("nightly", NS)
        scheduled["spec"].update({"schedule": "* * * * *", "timeZone": "UTC", **spec})
        self.scheduled = self.client.add(SCHEDULED_SPARK_APPLICATIONS, scheduled)
        self.uid = self.scheduled["metadata"]["uid"]
        self.events = EventRecorder(self.client, "sparkfleet")
        caches = ScheduleCaches(
            scheduled=lambda key: self.client.object(SCHEDULED_SPARK_APPLICATIONS, *reversed(key.split("/"))),
            runs=lambda namespace: [
                app_cache.status_view(o) for o in self.client.objects(SPARK_APPLICATIONS, namespace)
            ],
            routing_keys=lambda key: routing,
        )
        self.reconciler = ScheduledReconciler(self.client, self.events, caches, clock=lambda: self.now)

    def at(self, moment: datetime.datetime) -> World:
        self.now = moment.timestamp()
        return self

    async def reconcile(self) -> Result | None:
        """One reconcile; the requests it made (Events apart) are in :attr:`made`."""
        self.client.reset_requests()
        try:
            return await self.reconciler.reconcile(KEY)
        finally:
            self.made = [r for r in self.client.requests if r.resource != EVENTS.plural]

    def add_run(
        self, name: str, state: str = "RUNNING", created: str = "2026-11-24T02:00:00Z", **labels: str
    ) -> dict[str, Any]:
        return self.client.add(
            SPARK_APPLICATIONS,
            {
                "metadata": {
                    "name": name,
                    "namespace": NS,
                    "creationTimestamp": created,
                    "labels": {LABEL_SCHEDULED_APP_NAME: "nightly", **labels},
                    "ownerReferences": [
                        {
                            "apiVersion": SCHEDULED_SPARK_APPLICATIONS.api_version,
                            "kind": "ScheduledSparkApplication",
                            "name": "nightly",
                            "uid": self.uid,
                            "controller": True,
                        }
                    ],
                },
                "spec": {},
                "status": {"applicationState": {"state": state}},
            },
        )

    def status(self) -> dict[str, Any]:
        stored = self.client.object(SCHEDULED_SPARK_APPLICATIONS, "nightly", NS)
        assert stored is not None
        return dict(stored.get("status") or {})

    def runs(self) -> list[str]:
        return sorted(o["metadata"]["name"] for o in self.client.objects(SPARK_APPLICATIONS, NS))

    async def event_reasons(self) -> list[str]:
        await self.events.flush()
        return [e["reason"] for e in self.client.objects(EVENTS, NS)]


def request(verb: str, resource: str, name: str) -> Request:
    return Request(verb, resource, f"{NS}/{name}")


async def test_a_due_run_is_created_once_with_two_requests() -> None:
    world = World().at(FIRST_DUE + datetime.timedelta(seconds=20))
    result = await world.reconcile()
    assert world.made == [
        request("create", "sparkapplications", FIRST_RUN),
        request("update", STATUS, "nightly"),
    ]
    assert result == Result(requeue_after=40.0)
    assert world.runs() == [FIRST_RUN]
    run = world.client.object(SPARK_APPLICATIONS, FIRST_RUN, NS)
    assert run is not None
    assert run["spec"] == world.scheduled["spec"]["template"]
    assert run["metadata"]["labels"] == {LABEL_SCHEDULED_APP_NAME: "nightly"}
    assert run["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "sparkoperator.k8s.io/v1beta2",
            "kind": "ScheduledSparkApplication",
            "name": "nightly",
            "uid": world.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert world.status() == {
        "scheduleState": "Scheduled",
        "lastRun": "2026-11-24T03:01:00Z",
        "lastRunName": FIRST_RUN,
        "nextRun": "2026-11-24T03:02:00Z",
    }
    assert await world.event_reasons() == ["ScheduledSparkApplicationRun"]

    assert await world.reconcile() == Result(requeue_after=40.0)  # again: nothing to do, no request
    assert world.made == []
    assert world.runs() == [FIRST_RUN]
    assert await world.event_reasons() == ["ScheduledSparkApplicationRun"]


async def test_before_the_first_run_is_due_only_the_status_is_written_once() -> None:
    world = World().at(T0 + datetime.timedelta(seconds=15))
    assert await world.reconcile() == Result(requeue_after=45.0)
    assert world.made == [request("update", STATUS, "nightly")]
    assert world.status() == {"scheduleState": "Scheduled", "nextRun": "2026-11-24T03:01:00Z"}
    await world.reconcile()
    assert world.made == []


async def test_forbid_skips_the_due_run_while_another_is_active() -> None:
    world = World(concurrencyPolicy="Forbid").at(FIRST_DUE + datetime.timedelta(seconds=1))
    world.add_run("nightly-0")
    await world.reconcile()
    assert world.made == [request("update", STATUS, "nightly")]
    assert world.runs() == ["nightly-0"]
    assert world.status()["lastRun"] == "2026-11-24T03:01:00Z"  # skipped, not postponed
    assert "lastRunName" not in world.status()
    assert await world.event_reasons() == []


async def test_allow_starts_the_due_run_beside_an_active_one() -> None:
    world = World(concurrencyPolicy="Allow").at(FIRST_DUE)
    world.add_run("nightly-0")
    await world.reconcile()
    assert world.runs() == sorted(["nightly-0", FIRST_RUN])


async def test_replace_deletes_the_active_run_by_its_uid_then_starts_the_due_one() -> None:
    world = World(concurrencyPolicy="Replace").at(FIRST_DUE)
    world.add_run("nightly-0")
    world.add_run("nightly-done", "COMPLETED")
    await world.reconcile()
    assert world.made == [
        request("delete", "sparkapplications", "nightly-0"),
        request("create", "sparkapplications", FIRST_RUN),
        request("update", STATUS, "nightly"),
    ]
    assert world.runs() == sorted(["nightly-done", FIRST_RUN])
    assert world.status()["pastSuccessfulRunNames"] == ["nightly-done"]


async def test_finished_runs_beyond_the_history_limits_are_deleted_oldest_first() -> None:
    world = World(successfulRunHistoryLimit=2, failedRunHistoryLimit=1).at(T0)
    for i, state in enumerate(["COMPLETED", "FAILED", "COMPLETED", "FAILED", "COMPLETED"]):
        world.add_run(f"nightly-{i}", state, created=f"2026-11-24T02:0{i}:00Z")
    await world.reconcile()
    assert world.made == [
        request("delete", "sparkapplications", "nightly-0"),
        request("delete", "sparkapplications", "nightly-1"),
        request("update", STATUS, "nightly"),
    ]
    assert world.runs() == ["nightly-2", "nightly-3", "nightly-4"]
    assert world.status()["pastSuccessfulRunNames"] == ["nightly-4", "nightly-2"]
    assert world.status()["pastFailedRunNames"] == ["nightly-3"]


async def test_an_application_bearing_the_label_but_not_owned_is_no_run() -> None:
    world = World(successfulRunHistoryLimit=0, concurrencyPolicy="Forbid").at(FIRST_DUE)
    world.client.add(
        SPARK_APPLICATIONS,
        {"metadata": {"name": "intruder", "namespace": NS, "labels": {LABEL_SCHEDULED_APP_NAME: "nightly"}},
         "spec": {}, "status": {"applicationState": {"state": "COMPLETED"}}},
    )  # fmt: skip
    world.client.add(SPARK_APPLICATIONS, {"metadata": {"name": "active-intruder", "namespace": NS,
                     "labels": {LABEL_SCHEDULED_APP_NAME: "nightly"}}, "spec": {}})  # fmt: skip
    await world.reconcile()
    assert world.runs() == sorted(["intruder", "active-intruder", FIRST_RUN])  # not deleted, not counted


async def test_suspend_starts_nothing_and_asks_for_no_requeue() -> None:
    world = World(suspend=True).at(FIRST_DUE + datetime.timedelta(minutes=5))
    assert await world.reconcile() is None
    assert world.runs() == []
    assert world.status() == {"scheduleState": "Scheduled", "nextRun": "2026-11-24T03:01:00Z"}
    assert await world.reconcile() is None
    assert world.made == []


async def test_an_invalid_schedule_is_refused_once_with_its_reason() -> None:
    world = World(schedule="every full moon").at(FIRST_DUE)
    assert await world.reconcile() is None
    assert world.made == [request("update", STATUS, "nightly")]
    assert world.status()["scheduleState"] == "FailedValidation"
    assert world.status()["reason"].startswith("spec.schedule: ")
    assert world.runs() == []
    assert await world.event_reasons() == ["ScheduledSparkApplicationFailedValidation"]

    assert await world.reconcile() is None
    assert world.made == []
    assert await world.event_reasons() == ["ScheduledSparkApplicationFailedValidation"]


async def test_a_refused_run_says_why_once_and_fails_the_reconcile() -> None:
    world = World().at(FIRST_DUE)
    denied = status_error(403, "Forbidden", "sparkapplications is forbidden: no", SPARK_APPLICATIONS)
    world.client.fail("create", SPARK_APPLICATIONS, denied, times=2)
    with pytest.raises(ApiError):
        await world.reconcile()
    assert world.made == [
        request("create", "sparkapplications", FIRST_RUN),
        request("update", STATUS, "nightly"),
    ]
    status = world.status()
    assert status["scheduleState"] == "Scheduled"
    assert status["reason"].startswith("cannot start a run: 403 Forbidden: sparkapplications is forbidden")
    assert "lastRun" not in status  # the retry starts the same run
    with pytest.raises(ApiError):
        await world.reconcile()
    assert world.made == [request("create", "sparkapplications", FIRST_RUN)]  # said once
    assert await world.event_reasons() == ["ScheduledSparkApplicationRunRefused"]

    await world.reconcile()  # granted: the run starts, the reason goes
    assert world.runs() == [FIRST_RUN]
    assert "reason" not in world.status()


async def test_a_run_already_started_by_a_retried_reconcile_is_taken_as_started() -> None:
    world = World().at(FIRST_DUE)
    world.add_run(FIRST_RUN)
    # the cache has not seen it yet: the reconcile tries to create it
    world.reconciler.caches = ScheduleCaches(
        scheduled=world.reconciler.caches.scheduled,
        runs=lambda namespace: [],
        routing_keys=lambda key: frozenset(),
    )
    await world.reconcile()
    assert world.made == [
        request("create", "sparkapplications", FIRST_RUN),
        request("get", "sparkapplications", FIRST_RUN),
        request("update", STATUS, "nightly"),
    ]
    assert world.status()["lastRunName"] == FIRST_RUN
    assert await world.event_reasons() == []


async def test_a_run_whose_name_is_taken_is_skipped_and_said() -> None:
    world = World().at(FIRST_DUE)
    world.client.add(SPARK_APPLICATIONS, {"metadata": {"name": FIRST_RUN, "namespace": NS}, "spec": {}})
    await world.reconcile()
    status = world.status()
    assert status["lastRun"] == "2026-11-24T03:01:00Z"
    assert "lastRunName" not in status
    assert await world.event_reasons() == ["ScheduledSparkApplicationRunNameTaken"]


async def test_unknown_status_fields_are_kept_and_a_stale_reason_dropped() -> None:
    world = World().at(T0)
    await world.client.put_status(
        SCHEDULED_SPARK_APPLICATIONS,
        {
            **world.scheduled,
            "status": {"reason": "old", "fromKubeflow": {"x": 1}, "nextRun": "2026-11-24T03:01:00Z"},
        },
    )
    await world.reconcile()
    assert world.status() == {
        "fromKubeflow": {"x": 1},
        "nextRun": "2026-11-24T03:01:00Z",
        "scheduleState": "Scheduled",
    }


async def test_a_run_is_relabelled_to_its_schedules_routing() -> None:
    world = World(routing=frozenset({"tier"})).at(T0)
    stored = world.client.object(SCHEDULED_SPARK_APPLICATIONS, "nightly", NS)
    assert stored is not None
    stored["metadata"]["labels"] = {"tier": "silver"}
    world.client.add(SCHEDULED_SPARK_APPLICATIONS, stored)
    world.add_run("nightly-0", tier="gold")
    await world.reconcile()
    assert world.made[:2] == [
        request("get", "sparkapplications", "nightly-0"),  # the cache's view has no spec
        request("update", "sparkapplications", "nightly-0"),
    ]
    run = world.client.object(SPARK_APPLICATIONS, "nightly-0", NS)
    assert run is not None
    assert run["metadata"]["labels"]["tier"] == "silver"


async def test_a_schedule_gone_or_being_deleted_costs_nothing() -> None:
    world = World().at(FIRST_DUE)
    world.client.add(
        SCHEDULED_SPARK_APPLICATIONS,
        {
            **world.scheduled,
            "metadata": {**world.scheduled["metadata"], "deletionTimestamp": "2026-11-24T03:00:30Z"},
        },
    )
    assert await world.reconcile() is None
    assert world.made == []
    assert world.runs() == []
    assert await world.reconciler.reconcile(f"{NS}/missing") is None
