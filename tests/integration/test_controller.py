"""The controller runtime against the real API server: informers feed the queue,
N workers reconcile, failures back off and retry, and stopping drains in-flight work."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter

from prometheus_client import REGISTRY

from sparkfleet.kube import Informer, InformerEvent, KubeClient
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import CONFIGMAPS
from sparkfleet.kube.scope import Scope
from sparkfleet.operator.controller import Controller, Result
from sparkfleet.operator.ratelimiters import ItemExponentialFailureRateLimiter
from sparkfleet.operator.scoped import ScopedController
from tests.support import configmap, eventually


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_reconciles_every_object_with_bounded_concurrency(kube: KubeClient, namespace: str) -> None:
    await asyncio.gather(*(kube.create(CONFIGMAPS, configmap(f"cm-{i:02d}", namespace)) for i in range(40)))
    running: set[str] = set()
    peak = 0
    seen: Counter[str] = Counter()

    async def reconcile(key: str) -> Result | None:
        nonlocal peak
        assert key not in running, f"{key} reconciled by two workers at once"
        running.add(key)
        peak = max(peak, len(running))
        await asyncio.sleep(0.01)
        seen[key] += 1
        running.discard(key)
        return None

    name = f"ctl-{namespace}"
    controller = Controller(name, reconcile, concurrent_syncs=4)
    controller.watch(Informer(kube, CONFIGMAPS, namespace=namespace))
    await controller.start(sync_timeout=10)
    try:
        assert controller.has_synced
        await eventually(lambda: len(seen) >= 40, what="40 reconciles", interval=0.02)
        assert set(seen) >= {f"{namespace}/cm-{i:02d}" for i in range(40)}
        assert peak <= 4
        # An update reaches reconcile again through the watch.
        await kube.patch(CONFIGMAPS, "cm-07", {"data": {"v": "2"}}, namespace)
        await eventually(
            lambda: seen[f"{namespace}/cm-07"] >= 2, what="cm-07 reconciled again", interval=0.02
        )
        assert sample("controller_runtime_max_concurrent_reconciles", {"controller": name}) == 4
        assert sample("controller_runtime_reconcile_total", {"controller": name, "result": "success"}) >= 41
    finally:
        await controller.stop()


async def test_errors_back_off_and_retry_until_success(kube: KubeClient, namespace: str) -> None:
    await kube.create(CONFIGMAPS, configmap("flaky", namespace))
    attempts: list[float] = []

    async def reconcile(key: str) -> Result | None:
        attempts.append(time.monotonic())
        if len(attempts) < 4:
            raise RuntimeError("transient failure")
        return None

    name = f"ctl-{namespace}"
    controller = Controller(
        name, reconcile, concurrent_syncs=2, rate_limiter=ItemExponentialFailureRateLimiter(0.05, 1.0)
    )
    controller.watch(Informer(kube, CONFIGMAPS, namespace=namespace))
    await controller.start(sync_timeout=10)
    try:
        await eventually(lambda: len(attempts) >= 4, what="4 attempts", interval=0.02)
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        # 0.05, 0.1, 0.2 s: each retry waits at least the backoff it was given.
        assert all(gap >= expected * 0.9 for gap, expected in zip(gaps, (0.05, 0.1, 0.2), strict=True))
        assert sample("controller_runtime_reconcile_errors_total", {"controller": name}) == 3
        assert sample("workqueue_retries_total", {"name": name, "controller": name}) == 3
        await asyncio.sleep(0.3)
        assert len(attempts) == 4  # success forgets the key: no more retries
    finally:
        await controller.stop()


async def test_requeue_after_looks_again_later(kube: KubeClient, namespace: str) -> None:
    await kube.create(CONFIGMAPS, configmap("periodic", namespace))
    calls: list[float] = []

    async def reconcile(key: str) -> Result | None:
        calls.append(time.monotonic())
        return Result(requeue_after=0.2) if len(calls) < 3 else None

    controller = Controller(f"ctl-{namespace}", reconcile, concurrent_syncs=1)
    controller.watch(Informer(kube, CONFIGMAPS, namespace=namespace))
    await controller.start(sync_timeout=10)
    try:
        await eventually(lambda: len(calls) >= 3, what="3 calls", interval=0.02)
        assert calls[1] - calls[0] >= 0.18
        assert calls[2] - calls[1] >= 0.18
    finally:
        await controller.stop()


async def test_stop_lets_in_flight_reconciles_finish(kube: KubeClient, namespace: str) -> None:
    await asyncio.gather(*(kube.create(CONFIGMAPS, configmap(f"slow-{i}", namespace)) for i in range(3)))
    started: set[str] = set()
    finished: set[str] = set()

    async def reconcile(key: str) -> Result | None:
        started.add(key)
        await asyncio.sleep(0.5)
        finished.add(key)
        return None

    controller = Controller(f"ctl-{namespace}", reconcile, concurrent_syncs=3)
    controller.watch(Informer(kube, CONFIGMAPS, namespace=namespace))
    await controller.start(sync_timeout=10)
    await eventually(lambda: len(started) == 3, what="3 reconciles started", interval=0.02)
    await controller.stop(timeout=5)
    assert finished == started


async def test_a_mapper_routes_events_to_the_owner_key(kube: KubeClient, namespace: str) -> None:
    """Like a pod event that maps to its application: events of one kind queue another kind's key."""
    reconciled: set[str] = set()

    async def reconcile(key: str) -> Result | None:
        reconciled.add(key)
        return None

    def to_owner(event: InformerEvent) -> list[str]:
        owner = event.obj["metadata"].get("labels", {}).get("owner")
        return [f"{event.obj['metadata']['namespace']}/{owner}"] if owner else []

    controller = Controller(f"ctl-{namespace}", reconcile, concurrent_syncs=2)
    controller.watch(Informer(kube, CONFIGMAPS, namespace=namespace), to_owner)
    await controller.start(sync_timeout=10)
    try:
        child = configmap("child", namespace)
        child["metadata"]["labels"] = {"owner": "parent-app"}
        await kube.create(CONFIGMAPS, child)
        await kube.create(CONFIGMAPS, configmap("orphan", namespace))
        await eventually(
            lambda: f"{namespace}/parent-app" in reconciled,
            what="parent-app reconciled",
            interval=0.02,
        )
        await asyncio.sleep(0.2)
        assert reconciled == {f"{namespace}/parent-app"}
    finally:
        await controller.stop()


async def test_a_fenced_scope_keeps_its_caches_and_serves_again_without_listing_anew(
    kube: KubeClient, namespace: str
) -> None:
    """A member that missed its renew deadline fences (drop_all): nothing is reconciled, but the
    watches stay, so serving the shard again opens its gate instead of listing it all again."""
    await kube.create(CONFIGMAPS, configmap("before", namespace))
    seen: Counter[NamespacedName] = Counter()

    async def reconcile(key: NamespacedName) -> Result | None:
        seen[key] += 1
        return None

    scoped = ScopedController(kube, f"fence-{namespace}", reconcile, CONFIGMAPS)
    scope = Scope.namespaces("s", [namespace])
    await scoped.start()
    try:
        await scoped.add_scope(scope, sync_timeout=10)
        before, during = NamespacedName(namespace, "before"), NamespacedName(namespace, "during")
        await eventually(lambda: seen[before] >= 1, what="served", interval=0.02)
        informers = scoped._informers_of("s")

        scoped.drop_all()
        assert scoped.scopes == []
        await kube.create(CONFIGMAPS, configmap("during", namespace))
        await eventually(lambda: scoped.primary.keys("s") and during in scoped.primary.keys("s"),
                         what="the kept watch sees a new object", interval=0.02)  # fmt: skip
        assert scoped.controller.queue.count(lambda _key: True) == 0  # gate closed: seen, never queued
        assert seen[during] == 0

        await scoped.add_scope(scope, sync_timeout=10)
        assert scoped._informers_of("s") == informers  # the same watches: no list
        await eventually(lambda: seen[during] >= 1, what="served again", interval=0.02)

        scoped.drop_all()
        await scoped.unprepare_scope("s")  # not coming back: the caches go
        assert scoped._informers_of("s") == []
        assert all(informer._task is None for informer in informers)  # stopped
    finally:
        await scoped.stop()
