"""A controller's view of one resource over the scopes it serves; scopes come and go at run time.

The informers come from an :class:`~sparkfleet.operator.cache.InformerCache`, so a watch another
controller already holds is shared, not opened twice. A view may want fewer objects than the
shared watch brings (``accepts``: a label selector evaluated on the client); what it lists, gets
and indexes is only those.

An indexed view (a controller's primary resource) keeps which of its scopes holds each object,
maintained from the informers' events: :meth:`ScopedInformers.scope_of`, :meth:`count` and
:meth:`keys` are lookups, not a scan of every store (they run for each queued key on every
Lease renewal).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sparkfleet.kube.informer import EventType, Handler, Informer, InformerEvent
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import Resource
from sparkfleet.kube.scope import Scope, Watch
from sparkfleet.operator.cache import InformerCache, InformerSpec, Transform

Accepts = Callable[[Mapping[str, Any]], bool]


class ScopedInformers:
    def __init__(
        self,
        cache: InformerCache,
        resource: Resource,
        *,
        label_selector: str | None = None,
        transform: Transform | None = None,
        accepts: Accepts | None = None,
        indexed: bool = False,
        index_label: str | None = None,
    ):
        """``label_selector`` narrows every watch on the server (e.g. to the pods the operator
        launched); ``accepts`` filters on the client what a shared watch brings; ``transform``
        trims what is cached (see :mod:`sparkfleet.kube.transform`); ``indexed`` keeps the scope
        of each object (see the module's docstring); ``index_label`` indexes the caches by that
        label (see :meth:`list_labelled`)."""
        self.cache = cache
        self.resource = resource
        self.label_selector = label_selector
        self.transform = transform
        self.accepts = accepts
        self.indexed = indexed
        self.index_label = index_label
        self._by_scope: dict[str, list[Informer]] = {}
        self._handlers: dict[str, list[tuple[Informer, Handler]]] = {}
        self._keys: dict[str, dict[NamespacedName, None]] = {}  # scope -> its objects, in arrival order
        self._holders: dict[NamespacedName, list[str]] = {}  # object -> the scopes holding it
        self._of_namespace: dict[str, builtins.list[Informer]] = {}  # namespace -> informers that may hold it

    # -- scopes --------------------------------------------------------------------

    def add(self, scope: Scope) -> list[Informer]:
        """The informers (held from the cache, maybe not started) for the watches of ``scope``."""
        if scope.name in self._by_scope:
            raise ValueError(f"scope {scope.name!r} is already served")
        informers = [self.cache.acquire(self._spec(watch)) for watch in scope.watches]
        self._by_scope[scope.name] = informers
        self._of_namespace.clear()
        self._handlers[scope.name] = []
        if self.indexed:
            self._keys[scope.name] = {}
            for informer in informers:
                self.attach(scope.name, informer, self._indexer(scope.name))
        return informers

    def add_watch(self, name: str, watch: Watch) -> Informer:
        """One more watch of scope ``name`` (a namespace its selection took); returns its informer."""
        informer = self.cache.acquire(self._spec(watch))
        self._by_scope[name].append(informer)
        self._of_namespace.clear()
        if self.indexed:
            self.attach(name, informer, self._indexer(name))
        return informer

    def remove_watch(self, name: str, namespace: str) -> list[Informer]:
        """Drops scope ``name``'s watches of ``namespace`` (its selection let it go): their handlers,
        and their objects from the index; returns their informers for the caller to release."""
        gone = [i for i in self._by_scope.get(name, ()) if i.namespace == namespace]
        if not gone:
            return []
        self._by_scope[name] = [i for i in self._by_scope[name] if i not in gone]
        kept = []
        for informer, handler in self._handlers.get(name, ()):
            if informer in gone:
                informer.remove_handler(handler)
            else:
                kept.append((informer, handler))
        self._handlers[name] = kept
        keys = self._keys.get(name, {})
        for key in [key for key in keys if key.namespace == namespace]:
            del keys[key]
            self._unhold(key, name)
        self._of_namespace.clear()
        return gone

    def attach(self, name: str, informer: Informer, handler: Handler) -> None:
        """Adds ``handler`` to ``informer`` until scope ``name`` is removed."""
        self._handlers[name].append((informer, handler))
        informer.add_handler(handler)

    def remove(self, name: str) -> list[Informer]:
        """Forgets the scope and detaches its handlers; returns its informers for the caller to
        release (and stop those it held last)."""
        for informer, handler in self._handlers.pop(name, ()):
            informer.remove_handler(handler)
        for key in self._keys.pop(name, {}):
            self._unhold(key, name)
        self._of_namespace.clear()
        return self._by_scope.pop(name, [])

    def __iter__(self) -> Iterator[Informer]:
        for informers in list(self._by_scope.values()):
            yield from informers

    def scopes(self) -> list[str]:
        return list(self._by_scope)

    def of_scope(self, name: str) -> list[Informer]:
        return list(self._by_scope.get(name, ()))

    # -- the index -----------------------------------------------------------------

    def _indexer(self, scope: str) -> Handler:
        keys = self._keys[scope]

        def index(event: InformerEvent) -> None:
            key = NamespacedName.of(event.obj)
            if event.type is EventType.DELETED or (self.accepts is not None and not self.accepts(event.obj)):
                if key in keys:
                    del keys[key]
                    self._unhold(key, scope)
            elif key not in keys:
                keys[key] = None
                self._holders.setdefault(key, []).append(scope)

        return index

    def _unhold(self, key: NamespacedName, scope: str) -> None:
        holders = self._holders.get(key)
        if holders is not None:
            holders.remove(scope)
            if not holders:
                del self._holders[key]

    def scope_of(self, key: NamespacedName) -> str | None:
        """The scope whose caches hold ``key`` (scopes are disjoint), if any."""
        if self.indexed:
            holders = self._holders.get(key)
            return holders[0] if holders else None
        stored = str(key)
        for name, informers in self._by_scope.items():
            for informer in informers:
                if informer.namespace in (None, key.namespace) and self._accepted(informer.store.get(stored)):
                    return name
        return None

    def count(self, name: str) -> int:
        """Objects cached for scope ``name``."""
        if self.indexed:
            return len(self._keys.get(name, ()))
        return sum(len(self._listed(i.store.list())) for i in self._by_scope.get(name, ()))

    def keys(self, name: str) -> builtins.list[NamespacedName]:
        """The keys of the objects cached for scope ``name``."""
        if self.indexed:
            return list(self._keys.get(name, ()))
        return [
            NamespacedName.of(obj)
            for i in self._by_scope.get(name, ())
            for obj in self._listed(i.store.list())
        ]

    # -- reads ---------------------------------------------------------------------

    def get(self, key: NamespacedName | str) -> dict[str, Any] | None:
        """An object by its key (or its store key, ``namespace/name``)."""
        if isinstance(key, str):
            key = NamespacedName.parse(key)
        stored = str(key)
        for informer in self._may_hold(key.namespace):
            obj = informer.store.get(stored)
            if obj is not None and self._accepted(obj):
                return obj
        return None

    def list(self, namespace: str) -> list[dict[str, Any]]:
        return [
            obj
            for informer in self._may_hold(namespace)
            for obj in self._listed(informer.store.list(namespace))
        ]

    def list_labelled(self, namespace: str, value: str) -> builtins.list[dict[str, Any]]:
        """The objects of ``namespace`` whose label ``index_label`` is ``value``, from the index."""
        return [
            obj
            for informer in self._may_hold(namespace)
            for obj in self._listed(informer.store.list_labelled(namespace, value))
        ]

    def _spec(self, watch: Watch) -> InformerSpec:
        return InformerSpec(
            self.resource, watch.narrowed(self.label_selector), self.transform, self.index_label
        )

    def _may_hold(self, namespace: str) -> builtins.list[Informer]:
        """The informers whose watch covers ``namespace`` (remembered until the scopes change)."""
        found = self._of_namespace.get(namespace)
        if found is None:
            found = [i for i in self if i.namespace is None or i.namespace == namespace]
            self._of_namespace[namespace] = found
        return found

    def _accepted(self, obj: Mapping[str, Any] | None) -> bool:
        return obj is not None and (self.accepts is None or self.accepts(obj))

    def _listed(self, objects: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, Any]]:
        return objects if self.accepts is None else [obj for obj in objects if self.accepts(obj)]
