"""The Spark controllers of one instance, serving a changing set of scopes.

An unsharded instance serves its ``--namespaces`` (or the whole cluster) from
the start; a fleet member adds and removes one scope per shard it holds. This
is the whole surface the sharding layer sees (its ``ShardHost``).
"""

from __future__ import annotations

import asyncio

from sparkfleet.kube.scope import Scope
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.scheduled import ScheduledSparkApplicationController


class SparkControllers:
    def __init__(
        self,
        applications: SparkApplicationController,
        scheduled: ScheduledSparkApplicationController,
        sync_timeout: float = 120.0,
    ):
        self.applications = applications
        self.scheduled = scheduled
        self.sync_timeout = sync_timeout
        # One informer cache for both: each scope's SparkApplications are watched once, for the
        # applications and for the schedules' runs (see sparkfleet.operator.cache).
        scheduled.scoped.share_informers(applications.scoped.cache)

    async def start(self) -> None:
        await asyncio.gather(self.applications.start(), self.scheduled.start())

    async def stop(self, timeout: float) -> None:
        await asyncio.gather(self.applications.stop(timeout), self.scheduled.stop(timeout))

    @property
    def has_synced(self) -> bool:
        return self.applications.has_synced and self.scheduled.has_synced

    async def add_scope(self, scope: Scope) -> None:
        await asyncio.gather(
            self.applications.scoped.add_scope(scope, self.sync_timeout),
            self.scheduled.scoped.add_scope(scope, self.sync_timeout),
        )

    def prepare_scope(self, scope: Scope) -> None:
        self.applications.scoped.prepare_scope(scope)
        self.scheduled.scoped.prepare_scope(scope)

    async def unprepare_scope(self, name: str) -> None:
        await asyncio.gather(
            self.applications.scoped.unprepare_scope(name), self.scheduled.scoped.unprepare_scope(name)
        )

    async def remove_scope(self, name: str, timeout: float) -> int:
        cancelled = await asyncio.gather(
            self.applications.scoped.remove_scope(name, timeout),
            self.scheduled.scoped.remove_scope(name, timeout),
        )
        return sum(cancelled)

    def drop_all(self) -> None:
        self.applications.scoped.drop_all()
        self.scheduled.scoped.drop_all()

    def objects(self, name: str) -> int:
        return self.applications.scoped.objects(name) + self.scheduled.scoped.objects(name)

    def backlog(self, name: str) -> int:
        return self.applications.scoped.backlog(name) + self.scheduled.scoped.backlog(name)
