"""Declaring a scoped controller: what it is for, what it owns, what else it watches.

::

    scoped = (
        ControllerBuilder(client, "spark-application-controller")
        .for_(SPARK_APPLICATIONS, transform=application_view(max_bytes))
        .owns(PODS, "sparkoperator.k8s.io/launched-by-spark-operator=true", app_key_of_pod)
        .with_options(concurrent_syncs=10)
        .complete(reconcile)
    )

- :meth:`ControllerBuilder.for_`: the primary resource; each of its events queues the object's
  own key, and its cache says which scope a key belongs to;
- :meth:`ControllerBuilder.owns`: a resource whose objects belong to a primary object (an
  application's pods); their events queue the owner's key (``mapper``), in the urgent lane: news
  of work under way;
- :meth:`ControllerBuilder.watches`: another resource whose events queue keys (``mapper``) in
  the ordinary lane.

A ``selector`` narrows the watch on the server; with ``client_side`` it filters on the client
what the unnarrowed watch brings, so that the watch can be the one another controller holds (the
scheduled controller's runs are the application controller's SparkApplications). Watches are
shared through the :class:`~sparkfleet.operator.cache.InformerCache` given to
:meth:`ControllerBuilder.with_informers` (by default the controller has one of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Self

from sparkfleet.kube.client import KubeClient
from sparkfleet.kube.events import EventRecorder
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import Resource
from sparkfleet.kube.scope import Scope
from sparkfleet.kube.transform import strip_managed_fields
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.cache import InformerCache, Transform
from sparkfleet.operator.controller import KeyDelay, KeyMapper, Result
from sparkfleet.operator.ratelimiters import RateLimiter
from sparkfleet.operator.scoped import MOVE_SETTLE_SECONDS, ScopedController, Secondary

Reconcile = Callable[[NamespacedName], Coroutine[Any, Any, Result | None]]


class ControllerBuilder:
    def __init__(self, client: KubeClient, name: str):
        self.client = client
        self.name = name
        self._primary: Resource | None = None
        self._transform: Transform | None = strip_managed_fields
        self._urgent: Callable[[NamespacedName], bool] | None = None
        self._secondaries: list[Secondary] = []
        self._options: dict[str, Any] = {}
        self._informers: InformerCache | None = None

    def for_(
        self,
        resource: Resource,
        *,
        transform: Transform | None = strip_managed_fields,
        urgent: Callable[[NamespacedName], bool] | None = None,
    ) -> Self:
        """The primary resource, cached through ``transform``; ``urgent`` picks the keys whose
        events go in the urgent lane."""
        if self._primary is not None:
            raise ValueError(f"{self.name}: for_ is declared once (already {self._primary})")
        self._primary, self._transform, self._urgent = resource, transform, urgent
        return self

    def owns(
        self,
        resource: Resource,
        selector: str | None,
        mapper: KeyMapper[NamespacedName],
        *,
        transform: Transform | None = None,
        client_side: bool = False,
        index_label: str | None = None,
        delay: KeyDelay[NamespacedName] | None = None,
    ) -> Self:
        """Objects that belong to primary ones: their events queue ``mapper``'s keys, urgently;
        ``index_label`` (the label naming their owner) indexes their caches, for
        :meth:`~sparkfleet.operator.scopes.ScopedInformers.list_labelled`; ``delay`` may hold
        an event's key back (seconds; None: now)."""
        self._secondaries.append(
            Secondary(
                resource,
                selector,
                mapper,
                transform,
                client_side,
                urgent=True,
                index_label=index_label,
                delay=delay,
            )
        )
        return self

    def watches(
        self,
        resource: Resource,
        mapper: KeyMapper[NamespacedName],
        *,
        selector: str | None = None,
        transform: Transform | None = None,
        client_side: bool = False,
    ) -> Self:
        """Another resource whose events queue ``mapper``'s keys in the ordinary lane."""
        self._secondaries.append(Secondary(resource, selector, mapper, transform, client_side, urgent=False))
        return self

    def with_options(
        self,
        *,
        concurrent_syncs: int = 10,
        rate_limiter: RateLimiter[NamespacedName] | None = None,
        audit: AuditLog | None = None,
        move_settle: float = MOVE_SETTLE_SECONDS,
    ) -> Self:
        self._options = {
            "concurrent_syncs": concurrent_syncs,
            "rate_limiter": rate_limiter,
            "audit": audit,
            "move_settle": move_settle,
        }
        return self

    def with_informers(self, cache: InformerCache) -> Self:
        """Takes the watches from ``cache``, shared with the other controllers that use it."""
        self._informers = cache
        return self

    def complete(self, reconcile: Reconcile) -> ScopedController:
        if self._primary is None:
            raise ValueError(f"{self.name}: declare what it is for (for_) first")
        return ScopedController(
            self.client,
            self.name,
            reconcile,
            self._primary,
            secondaries=tuple(self._secondaries),
            transform=self._transform,
            urgent_primary=self._urgent,
            informers=self._informers,
            **self._options,
        )


class BuiltController:
    """What the Spark controllers have in common around their :class:`ScopedController`: they
    serve their initial scopes from :meth:`start`, and flush their Events as they stop."""

    scoped: ScopedController
    initial_scopes: list[Scope]
    events: EventRecorder

    async def start(self, sync_timeout: float | None = None) -> None:
        await self.scoped.start(self.initial_scopes, sync_timeout)

    async def stop(self, timeout: float = 30.0) -> None:
        await self.scoped.stop(timeout)
        await self.events.flush()

    @property
    def has_synced(self) -> bool:
        return self.scoped.has_synced


__all__ = ["BuiltController", "ControllerBuilder"]
