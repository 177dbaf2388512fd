"""An informer: list, then watch from the list's resourceVersion, into a local cache.

The semantics follow client-go's reflector:

- the first list is a consistent, paginated read; the watch starts at its
  resourceVersion with bookmarks, so a quiet stream still advances the
  resourceVersion and a reconnect rarely needs a re-list;
- a watch that ends (server timeout) is re-opened from the last resourceVersion
  seen; one that drops (connection reset, payload error, read timeout) is
  re-opened after a jittered exponential backoff;
- 410 Gone (as an HTTP answer or as an ERROR event) means the resourceVersion
  was compacted: re-list, and tell the handlers what changed meanwhile,
  deletions included, so nothing is missed.

Handlers are plain callables that receive an :class:`InformerEvent`; they must
not block (a controller turns the event into a work-queue key). One informer may
serve several controllers (see :mod:`sparkfleet.operator.cache`): a handler added
late first receives the cached objects as ADDED events marked ``replay``, and is
removed again with :meth:`Informer.remove_handler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp
import orjson

from sparkfleet.kube.client import KubeClient
from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.metrics import INFORMER_RELISTS
from sparkfleet.kube.resources import Resource, object_key
from sparkfleet.kube.store import Object, Store

log = logging.getLogger(__name__)

# A list is read page by page, each page trimmed (``transform``) before the next is asked for, and
# the pages sized to about PAGE_BYTES: the first asks for FIRST_PAGE objects, the next for as many
# as fit by the sizes seen (at most ``page_size``). A namespace of a few hundred objects of 1.5 MiB
# each (etcd's limit) is then never held decoded at once; a list of more than FIRST_PAGE small
# objects takes one request more than with pages of ``page_size`` from the start.
PAGE_BYTES = 4 * 1024 * 1024
FIRST_PAGE = 4


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class InformerEvent:
    type: EventType
    obj: Object
    old: Object | None = None  # the cached object before a MODIFIED
    replay: bool = False  # an ADDED of an object already cached, to a handler added late

    @property
    def key(self) -> str:
        return object_key(self.obj)


Handler = Callable[[InformerEvent], None]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Jittered exponential backoff between failed watch attempts (client-go: 800ms .. 30s)."""

    initial: float = 0.8
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    def delay(self, failures: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, failures - 1))
        return base * (1 + self.jitter * random.random())


class _Relist(Exception):
    """The watch's resourceVersion is gone; the informer must list again."""


class Informer:
    """Keeps :attr:`store` in step with one resource, scoped by namespace and selectors."""

    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        watch_timeout_seconds: tuple[int, int] = (300, 600),
        backoff: Backoff = Backoff(),
        name: str | None = None,
        transform: Callable[[Object], Object] | None = None,
        index_label: str | None = None,
    ):
        """``transform`` trims each object before it is cached and handed to the handlers;
        ``index_label`` indexes the cache by that label's value (see :meth:`Store.list_labelled`)."""
        self.client = client
        self.transform = transform
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.watch_timeout_seconds = watch_timeout_seconds
        self.backoff = backoff
        self.name = name or self._describe()
        self.store = Store(index_label)
        self.synced = asyncio.Event()
        self.resource_version = ""
        self.relists = 0
        self._handlers: tuple[Handler, ...] = ()  # replaced, not mutated: a handler may remove itself
        self._task: asyncio.Task[None] | None = None
        self._retry_now = asyncio.Event()

    def _describe(self) -> str:
        scope = [str(self.resource)]
        if self.namespace:
            scope.append(f"ns={self.namespace}")
        if self.label_selector:
            scope.append(f"labels={self.label_selector}")
        if self.field_selector:
            scope.append(f"fields={self.field_selector}")
        return " ".join(scope)

    @property
    def has_synced(self) -> bool:
        return self.synced.is_set()

    def add_handler(self, handler: Handler) -> None:
        """Registers a handler; it first receives ADDED (``replay``) for every object already cached."""
        self._handlers = (*self._handlers, handler)
        for obj in self.store.list():
            self._call(handler, InformerEvent(EventType.ADDED, obj, replay=True))

    def remove_handler(self, handler: Handler) -> None:
        """Unregisters a handler (one not registered is ignored)."""
        self._handlers = tuple(h for h in self._handlers if h is not handler)

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"informer {self.name}")
        return self._task

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def retry_now(self) -> None:
        """Ends a backoff wait at once: the caller knows the API server is reachable again (the
        backoff after many failures reaches 30 s, which would hold a healed member back)."""
        self._retry_now.set()

    async def _back_off(self, failures: int) -> None:
        self._retry_now.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.backoff.delay(failures)):
                await self._retry_now.wait()

    async def wait_synced(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            await self.synced.wait()

    # -- the loop ------------------------------------------------------------------

    async def run(self) -> None:
        failures = 0
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list_and_replace()
                    need_list = False
                await self._watch_once()
                failures = 0
            except _Relist:
                need_list = True
                self.relists += 1
                INFORMER_RELISTS.labels(self.resource.plural).inc()
                log.info("watch expired (410 Gone), listing again", extra={"informer": self.name})
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                failures += 1
                log.warning(
                    "informer request failed",
                    extra={"informer": self.name, "code": exc.status, "error": exc.message},
                )
                await self._back_off(failures)
            except (aiohttp.ClientError, ConnectionError, TimeoutError, ValueError) as exc:
                # A dropped or stalled stream, or a torn line; resume from the last resourceVersion.
                failures += 1
                log.info(
                    "watch interrupted, reconnecting",
                    extra={"informer": self.name, "error": repr(exc), "failures": failures},
                )
                await self._back_off(failures)

    async def _list_and_replace(self) -> None:
        items: list[Object] = []
        token: str | None = None
        limit = min(self.page_size, FIRST_PAGE)
        try:
            while True:
                page = await self.client.list(
                    self.resource,
                    self.namespace,
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                    limit=limit,
                    continue_token=token,
                )
                found: list[Object] = page.get("items") or []
                limit = next_page_size(found, self.page_size)
                items.extend(self._trimmed(found))
                del found
                meta = page.get("metadata") or {}
                token = meta.get("continue") or None
                if not token:
                    break
                del page
        except ApiError as exc:
            if exc.is_gone:  # a continue token expired mid-list
                raise _Relist from exc
            raise
        self.replace(items, str(meta.get("resourceVersion", "")), trimmed=True)

    def _trimmed(self, items: list[Object]) -> list[Object]:
        return items if self.transform is None else [self.transform(obj) for obj in items]

    def replace(self, items: list[Object], resource_version: str, *, trimmed: bool = False) -> None:
        """Makes the cache equal to a fresh list, telling handlers only what differs (``items``
        already passed through the transform when ``trimmed``)."""
        if not trimmed:
            items = self._trimmed(items)
        fresh = {object_key(obj): obj for obj in items}
        for key in self.store.list_keys():  # a copy: removing while iterating is safe
            if key not in fresh:
                old = self.store.remove(key)
                assert old is not None
                self._emit(InformerEvent(EventType.DELETED, old))
        for obj in fresh.values():
            old = self.store.put(obj)
            if old is None:
                self._emit(InformerEvent(EventType.ADDED, obj))
            elif _rv(old) != _rv(obj):
                self._emit(InformerEvent(EventType.MODIFIED, obj, old))
        self.resource_version = resource_version
        if not self.synced.is_set():
            log.debug("informer synced", extra={"informer": self.name, "objects": len(self.store)})
            self.synced.set()

    async def _watch_once(self) -> None:
        low, high = self.watch_timeout_seconds
        try:
            events = await self.client.watch(
                self.resource,
                self.namespace,
                resource_version=self.resource_version,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
                timeout_seconds=random.randint(low, high),
            )
        except ApiError as exc:
            if exc.is_gone:
                raise _Relist from exc
            raise
        async with contextlib.aclosing(events) as stream:
            async for event in stream:
                self.apply(event)

    def apply(self, event: dict[str, Any]) -> None:
        """Applies one watch event to the cache and tells the handlers."""
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410:
                raise _Relist
            raise ApiError(int(code or 500), str(obj.get("reason", "")), str(obj.get("message", "")), obj)
        rv = _rv(obj)
        if kind == "BOOKMARK":
            self.resource_version = rv or self.resource_version
            return
        if self.transform is not None:
            obj = self.transform(obj)
        if kind in ("ADDED", "MODIFIED"):
            old = self.store.put(obj)
            if old is None:
                self._emit(InformerEvent(EventType.ADDED, obj))
            else:
                self._emit(InformerEvent(EventType.MODIFIED, obj, old))
        elif kind == "DELETED":
            self.store.remove(object_key(obj))
            self._emit(InformerEvent(EventType.DELETED, obj))
        else:
            log.warning("unknown watch event type", extra={"informer": self.name, "type": kind})
            return
        self.resource_version = rv or self.resource_version

    def _emit(self, event: InformerEvent) -> None:
        for handler in self._handlers:
            self._call(handler, event)

    def _call(self, handler: Handler, event: InformerEvent) -> None:
        try:
            handler(event)
        except Exception:
            log.exception("informer handler failed", extra={"informer": self.name, "key": event.key})


def next_page_size(page: list[Object], page_size: int, page_bytes: int = PAGE_BYTES) -> int:
    """How many objects to ask for next: as many as fit ``page_bytes`` at the sizes of ``page``."""
    if not page:
        return page_size
    size = len(orjson.dumps(page))
    return max(1, min(page_size, page_bytes * len(page) // max(1, size)))


def _rv(obj: Object) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion", ""))
