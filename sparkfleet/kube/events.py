"""Kubernetes Events about an object, as `kubectl describe` shows them."""

from __future__ import annotations

import asyncio
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
from sparkfleet.kube.timestamps import format_time

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

    TERMINATING_SECONDS = 60.0
    """How long a namespace that answered "being terminated" gets no Events at all."""

    def __init__(
        self,
        client: KubeClient,
        component: str,
        in_flight: int = 16,
        spam: SpamFilter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.component = component
        self.spam = spam or SpamFilter()
        self.clock = clock
        self._slots = asyncio.Semaphore(in_flight)
        self._pending: set[asyncio.Task[None]] = set()
        self._terminating: dict[str, float] = {}  # namespace -> when it answered "being terminated"

    def terminating(self, namespace: str) -> bool:
        """Whether ``namespace`` refused an Event lately because it is being deleted."""
        seen = self._terminating.get(namespace)
        if seen is None:
            return False
        if self.clock() - seen >= self.TERMINATING_SECONDS:
            del self._terminating[namespace]
            return False
        return True

    def emit(
        self, obj: dict[str, Any], event_type: str, reason: str, message: str, *, limited: bool = False
    ) -> None:
        """Records the Event without waiting for it (a ``limited`` one only if the spam filter allows)."""
        meta = obj["metadata"]
        if self.terminating(str(meta.get("namespace") or "")):
            return  # the namespace is being deleted: it refuses every Event
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
        """Best effort: an Event that cannot be written is logged, never fatal.

        A namespace being terminated refuses it (403 NamespaceTerminating): that is said once, at
        info, and no Event is written into the namespace for :attr:`TERMINATING_SECONDS`.
        """
        namespace = str(obj["metadata"].get("namespace") or "")
        if self.terminating(namespace):
            return
        try:
            await self.client.create(EVENTS, event_about(obj, event_type, reason, message, self.component))
        except ApiError as exc:
            if not exc.is_namespace_terminating:
                self._failed(obj, reason, exc)
                return
            self._terminating[namespace] = self.clock()
            log.info(
                "not recording events in a namespace being terminated",
                extra={"namespace": namespace, "reason": reason, "object": obj["metadata"]["name"]},
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._failed(obj, reason, exc)

    @staticmethod
    def _failed(obj: dict[str, Any], reason: str, exc: BaseException) -> None:
        log.warning(
            "could not record event",
            extra={"reason": reason, "object": obj["metadata"]["name"], "error": str(exc)},
        )


def event_about(
    obj: dict[str, Any], event_type: str, reason: str, message: str, component: str
) -> dict[str, Any]:
    """A core/v1 Event about ``obj``, as `kubectl describe` shows it."""
    meta = obj["metadata"]
    now = format_time()
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
