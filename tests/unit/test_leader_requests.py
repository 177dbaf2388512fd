"""What leader election costs in requests: a leader renews with one write (client-go's fast path), a
candidate that has a watch's copy of the Lease reads that while the holder is alive, and both fall
back to reading the API server when what they hold is stale (a conflict, a deleted Lease, a holder
gone). Against the fake client (it answers 404/409 as the API server does); the real election is
tested on a real API server in tests/integration/test_leaderelection.py."""

from __future__ import annotations

from typing import Any

from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.leaderelection import LeaderElector, LeaseTiming
from sparkfleet.kube.lease import new_lease
from sparkfleet.kube.resources import LEASES
from sparkfleet.testing.clock import ManualClock
from sparkfleet.testing.fake_client import FakeKubeClient

TIMING = LeaseTiming(duration=8.0, renew_deadline=6.0, retry_period=2.0)
NS = "fleet"
LABELS = {"sparkfleet.io/fleet": "demo", "sparkfleet.io/role": "coordinator"}


def elector(client: FakeKubeClient, identity: str, clock: ManualClock, cached: Any = None) -> LeaderElector:
    return LeaderElector(client, NS, "coord", identity, TIMING, clock=clock, labels=LABELS, cached=cached)


def held_by(client: FakeKubeClient, holder: str) -> dict[str, Any]:
    body = new_lease("coord", NS, holder=holder, duration=TIMING.duration, now="2026-12-02T00:00:00.000000Z")
    return client.add(LEASES, body)


def verbs(client: FakeKubeClient) -> list[str]:
    return [r.verb for r in client.requests]


async def test_the_leader_renews_with_one_write_per_renewal() -> None:
    client, clock = FakeKubeClient(), ManualClock()
    leader = elector(client, "a", clock)
    assert await leader._attempt()
    assert verbs(client) == ["get", "create"]  # no Lease yet: made, with the labels
    assert client.object(LEASES, "coord", NS)["metadata"]["labels"] == LABELS  # type: ignore[index]
    client.reset_requests()
    for _ in range(3):
        clock.advance(TIMING.retry_period)
        assert await leader._attempt()
    assert verbs(client) == ["update", "update", "update"]


async def test_a_leader_whose_lease_was_written_by_another_reads_it_and_steps_back() -> None:
    client, clock = FakeKubeClient(), ManualClock()
    leader = elector(client, "a", clock)
    assert await leader._attempt()
    other = client.object(LEASES, "coord", NS)
    assert other is not None
    other["spec"]["holderIdentity"] = "b"
    await client.replace(LEASES, other)  # b took it (say, after a's Lease looked expired to b)
    client.reset_requests()
    assert not await leader._attempt()  # the fast path's compare-and-swap fails: read, not leader
    assert verbs(client) == ["update", "get"]


async def test_a_deleted_lease_is_made_again_by_its_leader() -> None:
    client, clock = FakeKubeClient(), ManualClock()
    leader = elector(client, "a", clock)
    assert await leader._attempt()
    await client.delete(LEASES, "coord", NS)
    client.reset_requests()
    assert await leader._attempt()
    assert verbs(client) == ["update", "get", "create"]


async def test_a_candidate_with_a_cached_lease_asks_nothing_while_the_holder_is_alive() -> None:
    client, clock = FakeKubeClient(), ManualClock()
    held_by(client, "a")
    candidate = elector(client, "b", clock, cached=lambda: client.object(LEASES, "coord", NS))
    for _ in range(3):  # a renews nothing here, but the lease is young in b's eyes
        assert not await candidate._attempt()
        clock.advance(TIMING.retry_period)
    assert client.requests == []


async def test_a_candidate_takes_the_lease_once_it_has_not_changed_for_its_duration() -> None:
    client, clock = FakeKubeClient(), ManualClock()
    held_by(client, "a")
    candidate = elector(client, "b", clock, cached=lambda: client.object(LEASES, "coord", NS))
    assert not await candidate._attempt()
    clock.advance(TIMING.duration + 0.1)  # a stopped renewing
    assert await candidate._attempt()
    assert verbs(client) == ["get", "update"]  # read fresh before the compare-and-swap
    lease = client.object(LEASES, "coord", NS)
    assert lease is not None
    assert lease["spec"]["holderIdentity"] == "b"
    assert lease["metadata"]["labels"] == LABELS  # a Lease made without them gets them


async def test_without_a_cached_copy_a_candidate_reads_the_api_server() -> None:
    client, clock = FakeKubeClient(), ManualClock()
    held_by(client, "a")
    candidate = elector(client, "b", clock, cached=lambda: None)  # the watch has not seen it
    assert not await candidate._attempt()
    assert verbs(client) == ["get"]


async def test_a_refused_write_is_raised_not_retried_as_a_conflict() -> None:
    client, clock = FakeKubeClient(), ManualClock()
    leader = elector(client, "a", clock)
    assert await leader._attempt()
    client.fail("update", LEASES, ApiError(403, "Forbidden", "leases is forbidden", {}))
    client.reset_requests()
    assert not await leader._try_acquire_or_renew(1.0)
    assert verbs(client) == ["update"]
