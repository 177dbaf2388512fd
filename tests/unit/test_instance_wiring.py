"""instance.run's three modes as wirings of one manager: which runnables go in which group, in
which order, and which readiness checks /readyz asks. Nothing is started (no cluster)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import pytest

from sparkfleet import instance
from sparkfleet.kube import ClientSettings, KubeClient
from sparkfleet.kube.config import Connection
from sparkfleet.manager import Group, Manager
from sparkfleet.operator.host import SparkControllers
from sparkfleet.options import ElectionOptions, RunOptions
from sparkfleet.runnables import HoldsLeaderLease


@pytest.fixture
async def client() -> AsyncIterator[KubeClient]:
    made = KubeClient(Connection("https://127.0.0.1:1", ssl.create_default_context()), ClientSettings())
    yield made
    await made.close()


async def wired(client: KubeClient, election: ElectionOptions) -> tuple[Manager, instance._Base]:
    options = RunOptions(election=election)
    fleet = bool(election.fleet)
    controllers = SparkControllers(*instance._controllers(client, options.controller, None, fleet=fleet))
    base = instance._Base(options, client, controllers)
    async with Manager(asyncio.Event()) as manager:
        base.wire(manager)
        if fleet:
            instance._fleet_member(manager, base, None)
        elif election.leader_elect:
            instance._leader_elected(manager, base)
        else:
            instance._alone(manager, base)
    return manager, base


def kinds(manager: Manager) -> dict[Group, list[str]]:
    return {group: [type(r).__name__ for r in runnables] for group, runnables in manager.groups.items()}


ALWAYS = ["ServesStatus", "WaitsForApiServer"]


async def test_alone_runs_the_controllers_once_the_api_server_answered(client: KubeClient) -> None:
    manager, base = await wired(client, ElectionOptions())
    assert kinds(manager) == {Group.ALWAYS: ALWAYS, Group.NEEDS_LEASE: ["RunsControllers"]}
    assert list(base.server.checks) == ["api-server", "informers-synced"]
    assert base.server.checks["api-server"]() == "no answer from the API server"
    base.answered.set()
    assert base.server.checks["api-server"]() is None


async def test_leader_elected_starts_the_controllers_after_the_lease(client: KubeClient) -> None:
    manager, base = await wired(client, ElectionOptions(leader_elect=True))
    assert kinds(manager) == {
        Group.ALWAYS: ALWAYS,
        Group.NEEDS_LEASE: ["HoldsLeaderLease", "RunsControllers"],
    }
    assert list(base.server.checks) == ["api-server", "informers-synced"]
    [lease, _] = manager.groups[Group.NEEDS_LEASE]
    assert isinstance(lease, HoldsLeaderLease)
    assert not lease.standing_by  # not started: not a standby (ready only once the caches have synced)


async def test_a_fleet_member_joins_after_the_controllers_workers_start(client: KubeClient) -> None:
    manager, base = await wired(client, ElectionOptions(fleet="fleet", identity="me"))
    assert kinds(manager) == {Group.ALWAYS: ALWAYS, Group.NEEDS_LEASE: ["RunsControllers", "ServesShards"]}
    assert list(base.server.checks) == ["api-server", "fleet-member"]
    assert base.server.checks["fleet-member"]() == "member lease not fresh"
    assert base.controllers.applications.scoped is not None
