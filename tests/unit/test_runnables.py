"""sparkfleet.runnables: the adapters that make the server, elector and member runnables (fakes of
the pieces: what each adapter calls, and when)."""

from __future__ import annotations

import asyncio
import errno
from typing import Any, cast

import pytest

from sparkfleet.runnables import HoldsLeaderLease, ServesShards, ServesStatus


class FakeElector:
    def __init__(self, *, fails: bool = False) -> None:
        self.leading = asyncio.Event()
        self.is_leader = False
        self.fails = fails
        self.released = False

    async def run(self) -> None:
        if self.fails:
            raise RuntimeError("the Lease cannot be read")
        self.leading.set()
        self.is_leader = True
        try:
            await asyncio.Event().wait()
        finally:
            self.released = True  # the real one releases the Lease when cancelled


async def test_the_lease_holder_starts_once_leading_and_releases_when_stopped() -> None:
    elector = FakeElector()
    lease = HoldsLeaderLease(cast(Any, elector))
    assert not lease.standing_by
    await lease.start()
    assert elector.is_leader
    assert not lease.standing_by
    await lease.stop()
    assert elector.released


async def test_an_elector_that_fails_fails_the_start() -> None:
    lease = HoldsLeaderLease(cast(Any, FakeElector(fails=True)))
    with pytest.raises(RuntimeError, match="cannot be read"):
        await lease.start()
    await lease.stop()  # a failed start is stopped too: nothing left to cancel, no error


async def test_a_lease_holder_never_started_stops_quietly() -> None:
    await HoldsLeaderLease(cast(Any, FakeElector())).stop()


class FakeMember:
    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self.handed_off = 0

    async def start(self) -> None:
        self.ready.set()

    async def shutdown(self) -> None:
        self.handed_off += 1


async def test_the_member_hands_off_only_when_it_joined() -> None:
    member = FakeMember()
    shards = ServesShards(cast(Any, member))
    await shards.stop()
    assert member.handed_off == 0
    await shards.start()
    await shards.stop()
    assert member.handed_off == 1


class BusyServer:
    host, port = "127.0.0.1", 8080

    async def start(self) -> None:
        raise OSError(errno.EADDRINUSE, "address already in use")

    async def stop(self) -> None:
        pass


async def test_a_port_in_use_is_said_as_the_flag_s_fault() -> None:
    with pytest.raises(ValueError, match=r"^--metrics-bind-address 127.0.0.1:8080: address already in use$"):
        await ServesStatus(cast(Any, BusyServer())).start()
