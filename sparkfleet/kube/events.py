"""Kubernetes Events about an object, as `kubectl describe` shows them."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import aiohttp

from sparkfleet.kube.client import KubeClient
from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.resources import EVENTS

log = logging.getLogger(__name__)


class SpamFilter:
    """client-go's per-object Event spam filter: a token bucket per involved object (``burst``
    Events at once, then one per ``refill_seconds``), the least recently seen objects forgotten
    past ``objects``. Pure: the clock is given."""

    def __init__(
        self,
        burst: int = 25,
        refill_seconds: float = 300.0,
        objects: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.objects = objects
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, when)

    def allow(self, key: str) -> bool:
        now = self.clock()
        tokens, when = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) / self.refill_seconds)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.objects:
            self._buckets.popitem(last=False)
        return allowed


class EventRecorder:
    """Writes Events; :meth:`emit` does it in the background, as client-go's broadcaster does, so a
    reconcile never waits for an Event (nor fails because of one). Events emitted ``limited`` (one
    per executor, say) pass client-go's per-object spam filter: an application with a thousand
    executors cannot write thousands of Events."""

    def __init__(
        self, client: KubeClient, component: str, in_flight: int = 16, spam: SpamFilter | None = None
    ):
        self.client = client
        self.component = component
        self.spam = spam or SpamFilter()
        self._slots = asyncio.Semaphore(in_flight)
        self._pending: set[asyncio.Task[None]] = set()

    def emit(
        self, obj: dict[str, Any], event_type: str, reason: str, message: str, *, limited: bool = False
    ) -> None:
        """Records the Event without waiting for it (a ``limited`` one only if the spam filter allows)."""
        meta = obj["metadata"]
        if limited and not self.spam.allow(meta.get("uid") or f"{meta.get('namespace')}/{meta['name']}"):
            return

        async def send() -> None:
            async with self._slots:
                await self.record(obj, event_type, reason, message)

        task = asyncio.get_running_loop().create_task(send())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self, timeout: float = 5.0) -> None:
        """Waits (bounded) for the Events still being written."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=timeout)

    async def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """Best effort: an Event that cannot be written is logged, never fatal."""
        try:
            await self.client.create(EVENTS, event_about(obj, event_type, reason, message, self.component))
        except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "could not record event",
                extra={"reason": reason, "object": obj["metadata"]["name"], "error": str(exc)},
            )


def event_about(
    obj: dict[str, Any], event_type: str, reason: str, message: str, component: str
) -> dict[str, Any]:
    """A core/v1 Event about ``obj``, as `kubectl describe` shows it."""
    meta = obj["metadata"]
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": event_type,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
