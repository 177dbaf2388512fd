"""sparkfleet.manager: runnables started in order, group by group, and stopped in reverse through one
exit stack on every way out. Fake runnables that record what happens; no sleeps (a start that
blocks waits on an event the test sets)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from sparkfleet.manager import Ended, Group, Manager, Phase, first_of


class Fake:
    def __init__(self, name: str, journal: list[str], *, fails: bool = False, blocks: bool = False):
        self.name, self.journal, self.fails = name, journal, fails
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        if not blocks:
            self.release.set()

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")
        self.entered.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.journal.append(f"start {self.name} cancelled")
            raise
        if self.fails:
            raise RuntimeError(f"{self.name} cannot start")
        self.journal.append(f"started {self.name}")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


def fleet_of(journal: list[str], **special: dict[str, bool]) -> list[tuple[Fake, Group]]:
    names = [("server", Group.ALWAYS), ("api", Group.ALWAYS), ("elector", Group.NEEDS_LEASE),
             ("controllers", Group.NEEDS_LEASE)]  # fmt: skip
    return [(Fake(name, journal, **special.get(name, {})), group) for name, group in names]


async def run_all(
    runnables: list[tuple[Fake, Group]], serve: Callable[[], Awaitable[int]], journal: list[str]
) -> Ended:
    """A manager of ``runnables`` (and a client to close) run with a signal that never comes."""
    async with Manager(asyncio.Event()) as manager:
        for runnable, group in runnables:
            manager.add(runnable, group)
        manager.closing(lambda: journal.append("close client"))
        return await manager.run(serve)


async def until_stopped(journal: list[str]) -> int:
    journal.append("serving")
    await asyncio.Event().wait()
    return 0


async def test_starts_in_order_group_by_group_and_stops_in_reverse() -> None:
    journal: list[str] = []
    stop = asyncio.Event()

    async def up() -> None:
        journal.append("up")

    async def serve() -> int:
        journal.append("serving")
        return 7

    async with Manager(stop) as manager:
        for runnable, group in reversed(fleet_of(journal)[2:]):  # added out of group order: groups still rule
            manager.add(runnable, group)
        for runnable, group in fleet_of(journal)[:2]:
            manager.add(runnable, group)
        manager.closing(lambda: journal.append("close client"))
        ended = await manager.run(serve, when_up=up)
        journal.append("run returned")
    assert ended == Ended(7, Phase.SERVING)
    assert journal == [
        "start server", "started server", "start api", "started api", "up",
        "start controllers", "started controllers", "start elector", "started elector", "serving",
        "run returned", "stop elector", "stop controllers", "stop api", "stop server", "close client",
    ]  # fmt: skip


async def test_the_stop_signal_while_serving_ends_the_run_with_0() -> None:
    journal: list[str] = []
    stop = asyncio.Event()
    async with Manager(stop) as manager:
        for runnable, group in fleet_of(journal):
            manager.add(runnable, group)
        serving = asyncio.Event()

        async def serve() -> int:
            serving.set()
            return await until_stopped(journal)

        running = asyncio.ensure_future(manager.run(serve))
        await serving.wait()
        stop.set()
        ended = await running
    assert ended == Ended(0, Phase.SERVING)
    assert journal[-4:] == ["stop controllers", "stop elector", "stop api", "stop server"]


async def test_a_failed_start_stops_what_started_and_itself_in_reverse_and_raises() -> None:
    journal: list[str] = []
    with pytest.raises(RuntimeError, match="elector cannot start"):
        await run_all(fleet_of(journal, elector={"fails": True}), lambda: until_stopped(journal), journal)
    assert journal == [
        "start server", "started server", "start api", "started api", "start elector",
        "stop elector", "stop api", "stop server", "close client",
    ]  # fmt: skip


async def test_a_signal_during_a_start_cancels_it_and_stops_in_reverse() -> None:
    journal: list[str] = []
    stop = asyncio.Event()
    runnables = fleet_of(journal, elector={"blocks": True})
    async with Manager(stop) as manager:
        for runnable, group in runnables:
            manager.add(runnable, group)
        running = asyncio.ensure_future(manager.run(lambda: until_stopped(journal)))
        await runnables[2][0].entered.wait()  # waiting for the Lease
        stop.set()
        ended = await running
    assert ended == Ended(0, Phase.STARTING_NEEDS_LEASE)
    assert journal == [
        "start server",
        "started server",
        "start api",
        "started api",
        "start elector",
        "start elector cancelled",
        "stop elector",
        "stop api",
        "stop server",
    ]  # fmt: skip  (the controllers were never started, so never stopped)


async def test_a_signal_before_the_always_group_is_up_says_so_and_skips_when_up() -> None:
    journal: list[str] = []
    stop = asyncio.Event()
    runnables = fleet_of(journal, api={"blocks": True})

    async def up() -> None:
        journal.append("up")

    async with Manager(stop) as manager:
        for runnable, group in runnables:
            manager.add(runnable, group)
        running = asyncio.ensure_future(manager.run(lambda: until_stopped(journal), when_up=up))
        await runnables[1][0].entered.wait()
        stop.set()
        ended = await running
    assert ended == Ended(0, Phase.STARTING_ALWAYS)
    assert "up" not in journal
    assert journal[-3:] == ["start api cancelled", "stop api", "stop server"]


async def test_a_signal_already_given_starts_nothing() -> None:
    journal: list[str] = []
    stop = asyncio.Event()
    stop.set()
    async with Manager(stop) as manager:
        for runnable, group in fleet_of(journal):
            manager.add(runnable, group)
        assert await manager.run(lambda: until_stopped(journal)) == Ended(0, Phase.STARTING_ALWAYS)
    assert journal == []


async def test_an_error_while_serving_stops_everything_and_raises() -> None:
    journal: list[str] = []

    async def serve() -> int:
        raise LookupError("identity taken")

    with pytest.raises(LookupError, match="identity taken"):
        await run_all(fleet_of(journal), serve, journal)
    assert journal[-5:] == ["stop controllers", "stop elector", "stop api", "stop server", "close client"]


async def test_a_stop_that_fails_does_not_keep_the_others_from_stopping() -> None:
    journal: list[str] = []

    class BadStop(Fake):
        async def stop(self) -> None:
            await super().stop()
            raise OSError("stuck")

    async def serve() -> int:
        return 0

    runnables = [
        (Fake("server", journal), Group.ALWAYS),
        (BadStop("controllers", journal), Group.NEEDS_LEASE),
    ]
    with pytest.raises(OSError, match="stuck"):
        await run_all(runnables, serve, journal)
    assert journal[-3:] == ["stop controllers", "stop server", "close client"]


async def test_closing_awaits_a_coroutine_function() -> None:
    closed: list[str] = []

    async def close() -> None:
        closed.append("closed")

    async with Manager(asyncio.Event()) as manager:
        manager.closing(close)
    assert closed == ["closed"]


async def test_first_of_raises_what_the_first_finished_raised_and_cancels_the_rest() -> None:
    never = asyncio.ensure_future(asyncio.Event().wait())

    async def fails() -> None:
        raise RuntimeError("the fleet cannot be joined")

    with pytest.raises(RuntimeError, match="cannot be joined"):
        await first_of(never, fails())
    with pytest.raises(asyncio.CancelledError):
        await never
