"""Informers shared by the controllers of one instance: one per (resource, watch, transform).

Two controllers that watch one resource over one watch of a scope, caching it through one
transform (the same function object), share one informer: one list, one watch stream and one
cache instead of two. Each keeps its own handlers on it (see :meth:`Informer.add_handler`; a
reader that wants fewer objects filters on the client, :mod:`sparkfleet.kube.labels`). The cache
counts who holds each informer; the last :meth:`InformerCache.release` says so, and that caller
stops it. Starting is idempotent (:meth:`Informer.start`), so every holder starts what it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparkfleet.kube.client import KubeClient
from sparkfleet.kube.informer import Informer
from sparkfleet.kube.resources import Resource
from sparkfleet.kube.scope import Watch

Transform = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class InformerSpec:
    """What makes two informers the same: the resource, the watch, the transform (by identity),
    the label its cache is indexed by."""

    resource: Resource
    watch: Watch
    transform: Transform | None = None
    index_label: str | None = None


class InformerCache:
    def __init__(self, client: KubeClient):
        self.client = client
        self._informers: dict[InformerSpec, Informer] = {}
        self._holders: dict[Informer, int] = {}
        self._specs: dict[Informer, InformerSpec] = {}

    def acquire(self, spec: InformerSpec) -> Informer:
        """The informer of ``spec`` (made, not started, when no one holds it), held once more."""
        informer = self._informers.get(spec)
        if informer is None:
            informer = Informer(
                self.client,
                spec.resource,
                namespace=spec.watch.namespace,
                label_selector=spec.watch.label_selector,
                field_selector=spec.watch.field_selector,
                transform=spec.transform,
                index_label=spec.index_label,
            )
            self._informers[spec] = informer
            self._specs[informer] = spec
            self._holders[informer] = 0
        self._holders[informer] += 1
        return informer

    def release(self, informer: Informer) -> bool:
        """Holds ``informer`` once less; True when that was the last hold: the caller stops it."""
        holders = self._holders.get(informer)
        if holders is None:
            return False
        if holders > 1:
            self._holders[informer] = holders - 1
            return False
        del self._holders[informer]
        del self._informers[self._specs.pop(informer)]
        return True

    def holders(self, informer: Informer) -> int:
        return self._holders.get(informer, 0)

    @property
    def watches(self) -> int:
        """How many informers are held (each one list and one watch stream)."""
        return len(self._informers)


__all__ = ["InformerCache", "InformerSpec", "Transform"]
