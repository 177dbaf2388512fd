"""A controller whose scopes come and go: shards are added, handed off, or dropped at once.

Each key belongs to the scope whose cache holds its object. A key is
reconciled only while its scope is served: the gate is checked as the
reconcile starts, so once a scope is closed nothing new starts for it.

- :meth:`ScopedController.add_scope` starts the scope's watches, waits for
  their caches, then lets its keys in (each object is reconciled once).
- :meth:`ScopedController.remove_scope` is the graceful hand-off: close the
  gate, drop the scope's queued keys, let in-flight reconciles finish
  (bounded; then they are cancelled), stop the watches.
- :meth:`ScopedController.drop_all` is the fence: every gate closes and every
  in-flight reconcile is cancelled in the same instant, without waiting.

An object can also move between scopes on its own (a label-routed fleet: its routing label
was edited), and then two members' watches learn it apart by their watch lag. The member it
leaves cancels the object's reconcile in flight when its cache drops it; the member it joins
waits :data:`MOVE_SETTLE_SECONDS` before its first reconcile of any object that arrives in a live
watch event of a label-routed scope, so the two do not overlap unless the old holder's watch lags
the new one's by more than that. Whether the object has a status does not matter: one relabelled
moments after it was created may be in its first reconcile (its submission) at the old holder. The
price is that a new application in a label-routed fleet is first reconciled after the delay;
namespace scopes are not delayed (an object never changes namespace: nothing moves in).

The informers come from an :class:`~sparkfleet.operator.cache.InformerCache`, which may be shared
with other controllers (the application and scheduled controllers share the SparkApplications
watch of each scope): this controller attaches its handlers to them and detaches them as a scope
goes, and stops an informer only when it held it last.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from sparkfleet.kube import Informer, InformerEvent, KubeClient
from sparkfleet.kube.informer import EventType, Handler
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.labels import selector_matcher
from sparkfleet.kube.resources import NAMESPACES, Resource
from sparkfleet.kube.scope import Scope, Watch
from sparkfleet.kube.transform import strip_managed_fields
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.cache import InformerCache, InformerSpec
from sparkfleet.operator.controller import Controller, KeyDelay, KeyMapper, Result, own_name
from sparkfleet.operator.ratelimiters import RateLimiter
from sparkfleet.operator.scopes import ScopedInformers
from sparkfleet.operator.selection import NamespaceFollower

log = logging.getLogger(__name__)

Transform = Callable[[dict[str, Any]], dict[str, Any]]
MOVE_SETTLE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Secondary:
    """A resource watched for the keys it maps to (pods -> their application).

    ``label_selector`` narrows the watch on the server, or (``client_side``) filters on the client
    what an unnarrowed watch brings, which is then the one other controllers may share; ``urgent``
    puts its keys ahead of the others; ``index_label`` indexes its caches by that label;
    ``delay`` may hold an event's key back (see :meth:`Controller.handler`)."""

    resource: Resource
    label_selector: str | None
    mapper: KeyMapper[NamespacedName]
    transform: Transform | None = None
    client_side: bool = False
    urgent: bool = True
    index_label: str | None = None
    delay: KeyDelay[NamespacedName] | None = None

    def view(self, cache: InformerCache) -> ScopedInformers:
        if self.client_side and self.label_selector:
            accepts = selector_matcher(self.label_selector)
            return ScopedInformers(
                cache, self.resource, transform=self.transform, accepts=accepts, index_label=self.index_label
            )
        return ScopedInformers(
            cache,
            self.resource,
            label_selector=self.label_selector,
            transform=self.transform,
            index_label=self.index_label,
        )


class ScopedController:
    def __init__(
        self,
        client: KubeClient,
        name: str,
        reconcile: Callable[[NamespacedName], Coroutine[Any, Any, Result | None]],
        primary: Resource,
        *,
        secondaries: tuple[Secondary, ...] = (),
        concurrent_syncs: int = 10,
        rate_limiter: RateLimiter[NamespacedName] | None = None,
        audit: AuditLog | None = None,
        transform: Transform | None = strip_managed_fields,
        urgent_primary: Callable[[NamespacedName], bool] | None = None,
        move_settle: float = MOVE_SETTLE_SECONDS,
        informers: InformerCache | None = None,
    ):
        """``urgent_primary`` picks the primary objects' keys whose events go in the urgent lane;
        ``move_settle``: how long an object that moved in from another scope waits (see above);
        ``informers``: the cache to take informers from (shared with other controllers), else
        one of this controller's own."""
        self.name = name
        self.move_settle = move_settle
        # key -> the monotonic time its first reconcile here may start
        self._not_before: dict[NamespacedName, float] = {}
        self._routing_keys: dict[str, frozenset[str]] = {}  # scope -> the label keys that route to it
        self._urgent_primary = urgent_primary
        self._reconcile = reconcile
        self.audit = audit
        self.controller: Controller[NamespacedName] = Controller(
            name, self._gated, concurrent_syncs=concurrent_syncs, rate_limiter=rate_limiter
        )
        self.cache = informers if informers is not None else InformerCache(client)
        self.primary = ScopedInformers(self.cache, primary, transform=transform, indexed=True)
        self._secondaries = [(s.view(self.cache), s) for s in secondaries]
        self._open: set[str] = set()
        self._running: dict[str, dict[NamespacedName, asyncio.Task[Result | None]]] = {}
        self._started = False
        # scopes whose namespaces are chosen by their labels (see sparkfleet.operator.selection)
        self._followers: dict[str, NamespaceFollower] = {}
        # (scope, namespace) -> the monotonic time its objects' first reconcile may start (moved in)
        self._namespace_not_before: dict[tuple[str, str], float] = {}
        self._background: set[asyncio.Task[None]] = set()

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, scopes: list[Scope] | None = None, sync_timeout: float | None = None) -> None:
        """Starts the workers, and serves ``scopes`` (their caches synced first)."""
        if self._started:
            return
        informers: list[Informer] = []
        for scope in scopes or []:
            informers += self._register(scope)
            self._open.add(scope.name)  # keys wait in the queue: workers start once the caches synced
        for informer in informers:
            informer.start()
        async with asyncio.timeout(sync_timeout):
            await asyncio.gather(*(i.synced.wait() for i in informers))
            for scope in scopes or []:
                await self._sync_selected(scope.name)
        await self.controller.start(managed_informers=len(informers))
        self._started = True

    async def stop(self, timeout: float = 30.0) -> None:
        self._open.clear()
        await self.controller.stop(timeout)
        await self._stop([informer for name in self.primary.scopes() for informer in self._forget(name)])
        self._started = False

    @property
    def has_synced(self) -> bool:
        return all(informer.has_synced for informer in self._registered())

    def share_informers(self, cache: InformerCache) -> None:
        """Takes informers from ``cache`` (another controller's) from now on; before any is held."""
        if self._registered():
            raise RuntimeError(f"{self.name}: informers are already held; share the cache before start")
        self.cache = cache
        self.primary.cache = cache
        for view, _ in self._secondaries:
            view.cache = cache

    @property
    def scopes(self) -> list[str]:
        return sorted(self._open)

    # -- scopes --------------------------------------------------------------------

    def prepare_scope(self, scope: Scope) -> None:
        """Starts listing and watching ``scope`` with its gate closed (nothing is reconciled).

        A member about to receive a shard warms its caches while the old holder
        drains, so :meth:`add_scope` only has to open the gate.
        """
        if scope.name in self._open or scope.name in self.primary.scopes() or not self._started:
            return
        for informer in self._register(scope):
            informer.start()

    async def unprepare_scope(self, name: str) -> None:
        """Drops caches warmed by :meth:`prepare_scope` for a shard that is not coming after all."""
        if name not in self._open:
            await self._stop_informers(name)

    async def add_scope(self, scope: Scope, sync_timeout: float | None = None) -> None:
        """Serves ``scope``: lists and watches it; once synced, each of its objects is reconciled."""
        if scope.name in self._open:
            return
        informers = self._informers_of(scope.name) or self._register(scope)
        if self._started:
            for informer in informers:
                informer.start()  # no-op for the ones prepare_scope started
            try:
                async with asyncio.timeout(sync_timeout):
                    await asyncio.gather(*(i.synced.wait() for i in informers))
                    await self._sync_selected(scope.name)
            except BaseException:
                await self._stop_informers(scope.name)
                raise
            self._open.add(scope.name)
            for key in self.primary_keys(scope.name):  # the initial list, once more now that the gate is open
                self.controller.queue.add(key)

    async def remove_scope(self, name: str, timeout: float = 10.0) -> int:
        """Gracefully stops serving ``name``; returns how many in-flight reconciles had to be cancelled."""
        self._open.discard(name)
        self.controller.queue.discard(lambda key: self.primary.scope_of(key) in (name, None))
        await asyncio.sleep(0)  # reconciles already handed out run up to the gate (which now says no)
        running = list(self._running.get(name, {}).values())
        cancelled = 0
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            cancelled = len(pending)
            if pending:
                await asyncio.wait(pending)
                log.warning(
                    "in-flight reconciles did not finish in time; cancelled",
                    extra={"controller": self.name, "scope": name, "count": cancelled},
                )
        await self._stop_informers(name)
        now = time.monotonic()
        self._not_before = {key: t for key, t in self._not_before.items() if t > now}
        return cancelled

    def drop_all(self) -> None:
        """Fences this controller now: no reconcile starts, every running one is cancelled.

        The caches stay, every gate closed, as :meth:`prepare_scope` leaves them: serving a scope
        again only opens its gate, and :meth:`unprepare_scope` drops one that is not coming back.
        Nothing here waits.
        """
        self._open.clear()
        for tasks in self._running.values():
            for task in tasks.values():
                task.cancel()
        self.controller.queue.discard(lambda _key: True)
        self._not_before.clear()

    def secondary(self, index: int) -> ScopedInformers:
        return self._secondaries[index][0]

    def objects(self, name: str) -> int:
        return self.primary.count(name)

    def backlog(self, name: str) -> int:
        """Keys of scope ``name`` waiting in the queue."""
        scope_of = self.primary.scope_of
        return self.controller.queue.count(lambda key: scope_of(key) == name)

    def primary_keys(self, name: str) -> list[NamespacedName]:
        return self.primary.keys(name)

    def routing_keys(self, key: NamespacedName | str) -> frozenset[str]:
        """The label keys that route objects to the scope holding ``key`` (none: not a label scope)."""
        if not any(self._routing_keys.values()):
            return frozenset()  # namespaces, or the whole cluster: no label routes anything
        if isinstance(key, str):
            key = NamespacedName.parse(key)
        return self._routing_keys.get(self.primary.scope_of(key) or "", frozenset())

    # -- internals -----------------------------------------------------------------

    def _register(self, scope: Scope) -> list[Informer]:
        informers = []
        self._routing_keys[scope.name] = scope.routing_keys
        for informer in self.primary.add(scope):  # its index first: a queued key has its scope
            self.primary.attach(scope.name, informer, self._arrivals(scope.name, informer))  # before queueing
            queue = self.controller.handler(
                self._gate_mapper(scope.name, own_name), urgent=self._urgent_primary or False
            )
            self.primary.attach(scope.name, informer, queue)
            informers.append(informer)
        for view, secondary in self._secondaries:
            mapper = self._gate_mapper(scope.name, secondary.mapper, view.accepts)
            for informer in view.add(scope):
                # What an object owns changed (a pod of a running application): news of work
                # under way, queued ahead of objects not yet started so status stays fresh in a burst.
                view.attach(scope.name, informer, self._handler(mapper, secondary))
                informers.append(informer)
        if scope.selection is not None:  # last: its namespaces' watches join the scope's views
            informers.append(self._follow(scope))
        return informers

    def _registered(self) -> list[Informer]:
        return [
            *self.primary,
            *(informer for view, _ in self._secondaries for informer in view),
            *(follower.informer for follower in self._followers.values()),
        ]

    # -- namespaces chosen by their labels -------------------------------------------

    def _follow(self, scope: Scope) -> Informer:
        """Follows the namespaces ``scope``'s selection takes (their watches come and go with their
        labels); returns the Namespaces informer (shared through the cache) it follows them by."""
        assert scope.selection is not None
        name = scope.name
        informer = self.cache.acquire(InformerSpec(NAMESPACES, Watch(), strip_managed_fields))
        follower = NamespaceFollower(
            name,
            scope.selection,
            informer,
            add=lambda namespace: self._add_namespace(name, namespace),
            drop=lambda namespace: self._drop_namespace(name, namespace),
            controller=self.name,
        )
        self._followers[name] = follower
        informer.add_handler(follower.handler)
        return informer

    def _add_namespace(self, name: str, namespace: str) -> None:
        """Watches ``namespace`` for scope ``name`` from now on (its labels match)."""
        follower = self._followers[name]
        if follower.selection.moves_in:
            # another member may hold its objects until it sees the labels change: as an object
            # routed here by its labels, the first reconcile here waits (see the module's docstring)
            self._namespace_not_before[(name, namespace)] = time.monotonic() + self.move_settle
        watch = follower.selection.watch(namespace)
        informers = [self.primary.add_watch(name, watch)]
        queue = self.controller.handler(
            self._gate_mapper(name, own_name), urgent=self._urgent_primary or False
        )
        self.primary.attach(name, informers[0], self._arrivals(name, informers[0]))
        self.primary.attach(name, informers[0], queue)
        for view, secondary in self._secondaries:
            informer = view.add_watch(name, watch)
            mapper = self._gate_mapper(name, secondary.mapper, view.accepts)
            view.attach(name, informer, self._handler(mapper, secondary))
            informers.append(informer)
        for informer in informers:
            informer.start()  # only called once the Namespaces informer runs: the scope is started

    def _drop_namespace(self, name: str, namespace: str) -> None:
        """Lets ``namespace`` go from scope ``name`` (its labels no longer match): nothing of it starts
        here any more, its reconciles in flight are cancelled (as an object routed away by its labels
        is: its next holder decides), its watches stop. Nothing is deleted."""
        self._namespace_not_before.pop((name, namespace), None)
        informers = self.primary.remove_watch(name, namespace)
        for view, _ in self._secondaries:
            informers += view.remove_watch(name, namespace)
        for key, task in list(self._running.get(name, {}).items()):
            if key.namespace == namespace and not task.done():
                task.cancel()
        scope_of = self.primary.scope_of
        self.controller.queue.discard(lambda key: key.namespace == namespace and scope_of(key) is None)
        stopping = [informer for informer in informers if self.cache.release(informer)]
        if stopping:
            self._in_background(self._stop(stopping))

    def _unfollow(self, name: str) -> list[Informer]:
        follower = self._followers.pop(name, None)
        self._namespace_not_before = {k: t for k, t in self._namespace_not_before.items() if k[0] != name}
        if follower is None:
            return []
        follower.informer.remove_handler(follower.handler)
        follower.let_go()
        return [follower.informer]

    async def _sync_selected(self, name: str) -> None:
        """Waits for the watches of the namespaces scope ``name``'s selection takes, once the
        Namespaces informer has synced (its last listed namespace may have come before it said so)."""
        follower = self._followers.get(name)
        if follower is None:
            return
        follower.refresh()
        while pending := [i for i in self._informers_of(name) if not i.has_synced]:
            # a namespace let go meanwhile stops its informers, which then never sync: look again
            waits = [asyncio.ensure_future(i.synced.wait()) for i in pending]
            try:
                await asyncio.wait(waits, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _handler(self, mapper: KeyMapper[NamespacedName], secondary: Secondary) -> Handler:
        return self.controller.handler(mapper, urgent=secondary.urgent, delay=secondary.delay)

    def _gate_mapper(
        self,
        scope: str,
        mapper: KeyMapper[NamespacedName],
        accepts: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> KeyMapper[NamespacedName]:
        """``mapper`` while ``scope`` is open; of a shared watch, for the objects ``accepts`` takes
        (or took before this event: one that stops matching is news too, as a server-side watch
        would say with a DELETED)."""

        def mapped(event: InformerEvent) -> list[NamespacedName]:
            if scope not in self._open:
                return []
            if accepts is not None and not (
                accepts(event.obj) or (event.old is not None and accepts(event.old))
            ):
                return []
            return list(mapper(event))

        return mapped

    def _arrivals(self, scope: str, informer: Informer) -> Callable[[InformerEvent], None]:
        """Objects moving in and out of ``scope`` by their labels (see the module's docstring)."""

        def handler(event: InformerEvent) -> None:
            key = NamespacedName.of(event.obj)
            if event.type is EventType.DELETED:
                self._not_before.pop(key, None)
                task = self._running.get(scope, {}).get(key)
                if task is not None and not task.done():
                    # It left this scope (moved away, or deleted): what it does next is its new
                    # holder's to decide, not a reconcile started from what this cache held.
                    task.cancel()
                    log.info(
                        "object left the scope mid-reconcile; reconcile cancelled",
                        extra={"controller": self.name, "scope": scope, "key": str(key)},
                    )
            elif (
                event.type is EventType.ADDED
                and not event.replay
                and informer.has_synced
                and self._routing_keys.get(scope)
            ):
                self._not_before[key] = time.monotonic() + self.move_settle

        return handler

    def _informers_of(self, name: str) -> list[Informer]:
        follower = self._followers.get(name)
        return (
            self.primary.of_scope(name)
            + [i for view, _ in self._secondaries for i in view.of_scope(name)]
            + ([follower.informer] if follower is not None else [])
        )

    async def _stop_informers(self, name: str) -> None:
        await self._stop(self._forget(name))

    @staticmethod
    async def _stop(informers: list[Informer]) -> None:
        await asyncio.gather(*(i.stop() for i in informers))

    def _forget(self, name: str) -> list[Informer]:
        """Drops scope ``name``'s handlers and holds; returns the informers no one holds any more
        (for the caller to stop)."""
        self._routing_keys.pop(name, None)
        informers = self._unfollow(name)
        informers += self.primary.remove(name)
        for view, _ in self._secondaries:
            informers += view.remove(name)
        return [informer for informer in informers if self.cache.release(informer)]

    async def _gated(self, key: NamespacedName) -> Result | None:
        scope = self.primary.scope_of(key)
        if scope is None or scope not in self._open:
            return None  # not ours (any more), or deleted: nothing to do
        not_before = self._not_before.get(key)
        if not_before is not None:
            wait = not_before - time.monotonic()
            if wait > 0:  # moved in just now: its old holder may not have heard yet
                return Result(requeue_after=wait)
            del self._not_before[key]
        if self._namespace_not_before:
            moved_in = self._namespace_not_before.get((scope, key.namespace))
            if moved_in is not None:
                wait = moved_in - time.monotonic()
                if wait > 0:  # its namespace's labels chose this scope just now
                    return Result(requeue_after=wait)
                del self._namespace_not_before[(scope, key.namespace)]
        t0 = time.time()
        task: asyncio.Task[Result | None] = asyncio.create_task(self._reconcile(key))
        running = self._running.setdefault(scope, {})
        running[key] = task
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                task.cancel()
                raise  # the worker itself is being stopped
            return None  # the scope was taken away mid-reconcile: the new holder starts afresh
        finally:
            running.pop(key, None)
            if self.audit is not None:
                self.audit.record(t0, time.time(), scope, str(key))
