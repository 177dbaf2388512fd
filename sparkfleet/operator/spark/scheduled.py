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
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.scope import Scope, unsharded_scopes
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.builder import BuiltController, ControllerBuilder
from sparkfleet.operator.cache import InformerCache
from sparkfleet.operator.controller import Result
from sparkfleet.operator.spark import app_cache
from sparkfleet.operator.spark.schedule import check_precision
from sparkfleet.operator.spark.scheduled_reconcile import (
    LABEL_SCHEDULED_APP_NAME,
    ScheduleCaches,
    ScheduledReconciler,
    parse_scheduled,
)
from sparkfleet.operator.spark.views import application_view

__all__ = [
    "CONTROLLER_NAME",
    "LABEL_SCHEDULED_APP_NAME",
    "ScheduledSparkApplicationController",
    "parse_scheduled",
    "scheduled_key_of_run",
]

CONTROLLER_NAME = "scheduled-spark-application-controller"


def scheduled_key_of_run(event: InformerEvent) -> Iterable[NamespacedName]:
    """A run maps to its ScheduledSparkApplication: (its namespace, its scheduled-app-name label)."""
    meta = event.obj["metadata"]
    owner = (meta.get("labels") or {}).get(LABEL_SCHEDULED_APP_NAME)
    return (NamespacedName(meta["namespace"], owner),) if owner else ()


class ScheduledSparkApplicationController(BuiltController):
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
        informers: InformerCache | None = None,
    ):
        """Serves ``scopes``; without them, ``namespaces`` (or all) filtered by ``label_selector``;
        its watches come from ``informers`` (shared with the application controller's), else its own.

        Runs carry their ScheduledSparkApplication's labels, so a label-selected
        scope sees them in the same watch.
        """
        self.client = client
        self.clock = clock
        check_precision(timestamp_precision)  # refused at start, not at the first run
        self.timestamp_precision = timestamp_precision
        self.events = EventRecorder(client, "sparkfleet")
        self.initial_scopes = scopes if scopes is not None else unsharded_scopes(namespaces, label_selector)
        self.scoped = (
            ControllerBuilder(client, CONTROLLER_NAME)
            .for_(SCHEDULED_SPARK_APPLICATIONS, transform=app_cache.bounded_view(max_application_bytes))
            # Runs come from the application controller's watch of each scope (one watch of
            # SparkApplications, not two), filtered by their label here (see operator.cache).
            .owns(
                SPARK_APPLICATIONS,
                LABEL_SCHEDULED_APP_NAME,
                scheduled_key_of_run,
                transform=application_view(max_application_bytes),
                client_side=True,
            )
            .with_options(concurrent_syncs=concurrent_syncs, audit=audit)
            .with_informers(informers if informers is not None else InformerCache(client))
            .complete(self.reconcile)
        )
        self.controller = self.scoped.controller
        self.scheduled = self.scoped.primary
        self.runs = self.scoped.secondary(0)

    async def reconcile(self, key: NamespacedName) -> Result | None:
        return await self.reconciler.reconcile(str(key))  # its caches and logs read the store's "ns/name"

    @functools.cached_property
    def reconciler(self) -> ScheduledReconciler:
        """The reconcile (see :mod:`.scheduled_reconcile`) over this controller's caches."""
        caches = ScheduleCaches(
            scheduled=self.scheduled.get, runs=self.runs.list, routing_keys=self.scoped.routing_keys
        )
        return ScheduledReconciler(
            self.client, self.events, caches, clock=self.clock, timestamp_precision=self.timestamp_precision
        )
