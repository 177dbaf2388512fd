"""Leader election against real Leases: one leader, fast hand-off on release,
takeover after expiry when the leader vanishes, step-down when renewal fails."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from sparkfleet.kube import KubeClient
from sparkfleet.kube.leaderelection import LeaderElector, LeaseTiming
from sparkfleet.kube.resources import LEASES
from sparkfleet.testing import ControlPlane, TcpProxy

FAST = LeaseTiming(duration=2.0, renew_deadline=1.5, retry_period=0.2)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_one_leader_and_a_fast_hand_off_on_release(kube: KubeClient, namespace: str) -> None:
    first = LeaderElector(kube, namespace, "op", "member-a", FAST)
    second = LeaderElector(kube, namespace, "op", "member-b", FAST)
    task_a = asyncio.create_task(first.run())
    await asyncio.wait_for(first.leading.wait(), 5)
    task_b = asyncio.create_task(second.run())
    await asyncio.sleep(FAST.duration * 1.5)  # b keeps trying while a renews
    assert first.is_leader
    assert not second.leading.is_set()
    lease = await kube.get(LEASES, "op", namespace)
    assert lease["spec"]["holderIdentity"] == "member-a"

    loop = asyncio.get_running_loop()
    released_at = loop.time()
    await stop(task_a)  # a clean stop releases the Lease
    await asyncio.wait_for(second.leading.wait(), 5)
    assert loop.time() - released_at < FAST.duration  # did not wait the lease out
    lease = await kube.get(LEASES, "op", namespace)
    assert lease["spec"]["holderIdentity"] == "member-b"
    assert lease["spec"]["leaseTransitions"] == 1
    await stop(task_b)


async def test_a_vanished_leader_is_replaced_after_the_lease_duration(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    target = urlsplit(control_plane.host)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 443) as proxy:
        cut_off = await control_plane.client()
        cut_off.connection.host = proxy.url
        first = LeaderElector(cut_off, namespace, "op", "member-a", FAST)
        second = LeaderElector(kube, namespace, "op", "member-b", FAST)
        task_a = asyncio.create_task(first.run())
        await asyncio.wait_for(first.leading.wait(), 5)
        task_b = asyncio.create_task(second.run())

        loop = asyncio.get_running_loop()
        proxy.cut()  # a partition: a can no longer renew, b can no longer see renewals
        cut_at = loop.time()
        await asyncio.wait_for(first.lost.wait(), 5)
        stepped_down = loop.time() - cut_at
        await asyncio.wait_for(second.leading.wait(), 10)
        taken_over = loop.time() - cut_at
        # a steps down within its renew deadline; b takes over only after the lease duration,
        # so the two never lead at the same time.
        assert stepped_down <= FAST.renew_deadline + FAST.retry_period + 0.5
        assert taken_over >= FAST.duration - FAST.retry_period
        assert stepped_down < taken_over
        await stop(task_a)
        await stop(task_b)
        await cut_off.close()
