"""The instance's pieces as :class:`~sparkfleet.manager.Runnable`s: thin adapters, so that the
status server, the leader elector, the controllers and the fleet member keep their own APIs."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from sparkfleet.kube import KubeClient
from sparkfleet.kube.leaderelection import LeaderElector
from sparkfleet.manager import first_of
from sparkfleet.operator.host import SparkControllers
from sparkfleet.server import StatusServer
from sparkfleet.sharding.member import FleetMember
from sparkfleet.startup import wait_for_api_server


@dataclass
class ServesStatus:
    """The status server (/metrics, /healthz, /readyz): a port it cannot bind is a flag's fault."""

    server: StatusServer

    async def start(self) -> None:
        try:
            await self.server.start()
        except OSError as exc:
            where = f"{self.server.host}:{self.server.port}"
            raise ValueError(f"--metrics-bind-address {where}: {exc.strerror or exc}") from exc

    async def stop(self) -> None:
        await self.server.stop()


@dataclass
class WaitsForApiServer:
    """Start-up's wait for the API server to answer (``timeout`` 0: as long as it takes)."""

    client: KubeClient
    timeout: float

    async def start(self) -> None:
        await wait_for_api_server(self.client, self.timeout)

    async def stop(self) -> None:
        pass


@dataclass
class HoldsLeaderLease:
    """The leader elector: started once leading; stopped by cancelling it, which releases the
    Lease when it still holds it."""

    elector: LeaderElector
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    @property
    def standing_by(self) -> bool:
        """Started, and not leading (a standby: ready without synced caches)."""
        return self._task is not None and not self.elector.is_leader

    async def start(self) -> None:
        task = self._task = asyncio.create_task(self.elector.run())
        try:
            await first_of(self.elector.leading.wait(), asyncio.shield(task))
        except BaseException:
            if task.done():  # the elector's own failure, raised here: not again by stop
                self._task = None
            raise

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class RunsControllers:
    """The Spark controllers: started once their caches have synced; a stop lets in-flight
    reconciles finish for up to ``shutdown_timeout``."""

    controllers: SparkControllers
    shutdown_timeout: float

    async def start(self) -> None:
        await self.controllers.start()

    async def stop(self) -> None:
        await self.controllers.stop(self.shutdown_timeout)


@dataclass
class ServesShards:
    """The fleet member: started once it has joined; a stop hands its shards off (when it joined)."""

    member: FleetMember

    async def start(self) -> None:
        await self.member.start()

    async def stop(self) -> None:
        if self.member.ready.is_set():
            await self.member.shutdown()
