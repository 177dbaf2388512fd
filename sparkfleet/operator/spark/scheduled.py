"""The ScheduledSparkApplication controller: runs a SparkApplication template on a cron schedule.

Each run is a SparkApplication named ``<scheduled>-<unix time of the run>``,
owned by the ScheduledSparkApplication and labelled with its name. The
concurrency policy decides what happens when a run is due while another is
still active: ``Allow`` starts it anyway, ``Forbid`` skips it, ``Replace``
deletes the active runs first. Finished runs beyond the history limits
(one successful, one failed by default) are deleted, oldest first.
The reconcile is :mod:`.scheduled_reconcile`, its decision :mod:`.schedule_decide`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.kube import InformerEvent, KubeClient
from sparkfleet.kube.events import EventRecorder
from sparkfleet.kube.scope import Scope, unsharded_scopes
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.controller import Result
from sparkfleet.operator.scoped import ScopedController, Secondary
from sparkfleet.operator.spark import app_cache
from sparkfleet.operator.spark.schedule import check_precision
from sparkfleet.operator.spark.scheduled_reconcile import (
    LABEL_SCHEDULED_APP_NAME,
    ScheduleCaches,
    ScheduledReconciler,
    parse_scheduled,
)

__all__ = [
    "CONTROLLER_NAME",
    "LABEL_SCHEDULED_APP_NAME",
    "ScheduledSparkApplicationController",
    "parse_scheduled",
    "scheduled_key_of_run",
]

CONTROLLER_NAME = "scheduled-spark-application-controller"


def scheduled_key_of_run(event: InformerEvent) -> Iterable[str]:
    meta = event.obj["metadata"]
    owner = (meta.get("labels") or {}).get(LABEL_SCHEDULED_APP_NAME)
    return (f"{meta['namespace']}/{owner}",) if owner else ()


class ScheduledSparkApplicationController:
    def __init__(
        self,
        client: KubeClient,
        *,
        namespaces: list[str] | None = None,
        label_selector: str | None = None,
        scopes: list[Scope] | None = None,
        concurrent_syncs: int = 2,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
        timestamp_precision: str = "nanos",
        max_application_bytes: int = app_cache.DEFAULT_MAX_APPLICATION_BYTES,
    ):
        """Serves ``scopes``; without them, ``namespaces`` (or all) filtered by ``label_selector``.

        Runs carry their ScheduledSparkApplication's labels, so a label-selected
        scope sees them in the same watch.
        """
        self.client = client
        self.clock = clock
        check_precision(timestamp_precision)  # refused at start, not at the first run
        self.timestamp_precision = timestamp_precision
        self.events = EventRecorder(client, "sparkfleet")
        self.initial_scopes = scopes if scopes is not None else unsharded_scopes(namespaces, label_selector)
        self.scoped = ScopedController(
            client,
            CONTROLLER_NAME,
            self.reconcile,
            SCHEDULED_SPARK_APPLICATIONS,
            secondaries=(
                # Runs are read for their metadata and status only: no spec is cached (see app_cache).
                Secondary(
                    SPARK_APPLICATIONS, LABEL_SCHEDULED_APP_NAME, scheduled_key_of_run, app_cache.status_view
                ),
            ),
            transform=app_cache.bounded_view(max_application_bytes),
            concurrent_syncs=concurrent_syncs,
            audit=audit,
        )
        self.controller = self.scoped.controller
        self.scheduled = self.scoped.primary
        self.runs = self.scoped.secondary(0)

    async def start(self, sync_timeout: float | None = None) -> None:
        await self.scoped.start(self.initial_scopes, sync_timeout)

    async def stop(self, timeout: float = 30.0) -> None:
        await self.scoped.stop(timeout)
        await self.events.flush()

    @property
    def has_synced(self) -> bool:
        return self.scoped.has_synced

    async def reconcile(self, key: str) -> Result | None:
        return await self.reconciler.reconcile(key)

    @functools.cached_property
    def reconciler(self) -> ScheduledReconciler:
        """The reconcile (see :mod:`.scheduled_reconcile`) over this controller's caches."""
        caches = ScheduleCaches(
            scheduled=self.scheduled.get, runs=self.runs.list, routing_keys=self.scoped.routing_keys
        )
        return ScheduledReconciler(
            self.client, self.events, caches, clock=self.clock, timestamp_precision=self.timestamp_precision
        )
