"""A manager of runnables: what an instance runs, started in order and stopped in reverse.

Two groups, as controller-runtime's manager has them: **always** (the status server, the wait for
the API server) and **needs a Lease** (the Spark controllers; before them the leader elector,
whose start returns once leading; after them the fleet member, which serves shards). The groups
are started one after the other, each runnable in the order it was added; then the run is served
(:meth:`Manager.run`'s ``serve``) until it ends or the stop signal comes.

Everything is undone through one :class:`contextlib.AsyncExitStack`: a runnable's ``stop`` is
pushed just before its ``start`` is awaited, so every runnable whose start began is stopped, in
reverse order, on every way out (a clean stop, a signal during a start, a start that fails, an
error while serving), and so are the resources the wiring handed over with :meth:`Manager.closing`
(clients, the audit log), after every runnable because they were handed over before any started.

Why ``start``/``stop`` rather than one ``run(stop)`` coroutine per runnable: the pieces have a
moment the next one waits for (leading, caches synced, shards joined) and an order of stopping
that differs from the order their coroutines would finish in (a member hands its shards off
before the controllers stop, and the elector releases its Lease after them). Two awaitables say
both plainly; with one coroutine each, each would need events to say "started" and "stop now".
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol


class Runnable(Protocol):
    async def start(self) -> None:
        """Returns once started (it may wait long: for the API server, the Lease, synced caches).
        Cancelled when the stop signal comes first; raising stops the manager."""

    async def stop(self) -> None:
        """Undoes ``start``, also a start cancelled or failed part-way. Called once."""


class Group(enum.Enum):
    ALWAYS = "always"
    NEEDS_LEASE = "needs a Lease"


class Phase(enum.Enum):
    """How far a run got before it ended."""

    STARTING_ALWAYS = "starting the always group"
    STARTING_NEEDS_LEASE = "starting the needs-a-Lease group"
    SERVING = "serving"


@dataclass(frozen=True, slots=True)
class Ended:
    exit_code: int
    phase: Phase
    """Where the run was when it ended (a stop during a start ends it with exit code 0)."""


@dataclass
class Manager:
    """Use as ``async with Manager(stop) as manager``: add runnables and hand over resources, then
    ``await manager.run(...)``; leaving the block stops and closes everything, in reverse."""

    stop_signal: asyncio.Event
    groups: dict[Group, list[Runnable]] = field(default_factory=lambda: {g: [] for g in Group})
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def __aenter__(self) -> Manager:
        await self._stack.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Stops and closes everything, in reverse; an error raised is never swallowed."""
        await self._stack.__aexit__(kind, error, trace)

    def add(self, runnable: Runnable, group: Group) -> None:
        self.groups[group].append(runnable)

    def closing(self, close: Callable[[], Awaitable[object] | object]) -> None:
        """Calls ``close()`` (a coroutine function or a plain one) when the manager exits, after
        everything added later, runnables included."""

        async def closed() -> None:
            result = close()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                await result

        self._stack.push_async_callback(closed)

    async def run(
        self,
        serve: Callable[[], Awaitable[int]],
        *,
        when_up: Callable[[], Awaitable[None]] | None = None,
    ) -> Ended:
        """Starts the always group, awaits ``when_up()`` (not cut short by the stop signal), starts
        the needs-a-Lease group, then returns ``serve()``'s exit code, or 0 as soon as the stop
        signal comes (during a start too: that start is cancelled). The runnables are stopped when
        the ``async with`` block is left."""
        if not await self._start(Group.ALWAYS):
            return Ended(0, Phase.STARTING_ALWAYS)
        if when_up is not None:
            await when_up()
        if not await self._start(Group.NEEDS_LEASE):
            return Ended(0, Phase.STARTING_NEEDS_LEASE)
        serving = asyncio.ensure_future(serve())
        await first_of(self.stop_signal.wait(), serving)
        code = serving.result() if serving.done() and not serving.cancelled() else 0
        return Ended(code, Phase.SERVING)

    async def _start(self, group: Group) -> bool:
        """Starts the group's runnables in order; False when the stop signal came first."""
        for runnable in self.groups[group]:
            if self.stop_signal.is_set():
                return False
            self._stack.push_async_callback(runnable.stop)
            await first_of(self.stop_signal.wait(), runnable.start())
        return not self.stop_signal.is_set()


async def first_of(*waits: Awaitable[Any]) -> None:
    """Waits until the first of the awaitables finishes; cancels the rest, and raises what the
    first one raised (a member that cannot join must stop the process, not leave it idle)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    for task in pending:
        task.cancel()
    for task in done:
        task.result()
