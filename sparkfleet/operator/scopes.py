"""Informers of one resource for the scopes an instance serves; scopes come and go at run time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sparkfleet.kube import Informer, KubeClient
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import Resource
from sparkfleet.kube.scope import Scope


class ScopedInformers:
    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        *,
        label_selector: str | None = None,
        transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ):
        """``label_selector`` narrows every watch (e.g. to the pods the operator launched);
        ``transform`` trims what is cached (see :mod:`sparkfleet.kube.transform`)."""
        self.client = client
        self.resource = resource
        self.label_selector = label_selector
        self.transform = transform
        self._by_scope: dict[str, list[Informer]] = {}

    def add(self, scope: Scope) -> list[Informer]:
        """Informers (not started) for the watches of ``scope``."""
        if scope.name in self._by_scope:
            raise ValueError(f"scope {scope.name!r} is already served")
        informers = []
        for watch in scope.watches:
            narrowed = watch.narrowed(self.label_selector)
            informers.append(
                Informer(
                    self.client,
                    self.resource,
                    namespace=narrowed.namespace,
                    label_selector=narrowed.label_selector,
                    field_selector=narrowed.field_selector,
                    transform=self.transform,
                )
            )
        self._by_scope[scope.name] = informers
        return informers

    def remove(self, name: str) -> list[Informer]:
        """Forgets the scope; returns its informers for the caller to stop."""
        return self._by_scope.pop(name, [])

    def __iter__(self) -> Iterator[Informer]:
        for informers in list(self._by_scope.values()):
            yield from informers

    def scopes(self) -> list[str]:
        return list(self._by_scope)

    def of_scope(self, name: str) -> list[Informer]:
        return list(self._by_scope.get(name, ()))

    def scope_of(self, key: NamespacedName) -> str | None:
        """The scope whose caches hold ``key`` (scopes are disjoint), if any."""
        namespace, stored = key.namespace, str(key)
        for name, informers in self._by_scope.items():
            for informer in informers:
                if informer.namespace in (None, namespace) and stored in informer.store:
                    return name
        return None

    def count(self, name: str) -> int:
        """Objects cached for scope ``name``."""
        return sum(len(i.store) for i in self._by_scope.get(name, ()))

    def get(self, key: NamespacedName | str) -> dict[str, Any] | None:
        """An object by its key (or its store key, ``namespace/name``)."""
        if isinstance(key, str):
            key = NamespacedName.parse(key)
        namespace, stored = key.namespace, str(key)
        for informer in self:
            if informer.namespace is None or informer.namespace == namespace:
                obj = informer.store.get(stored)
                if obj is not None:
                    return obj
        return None

    def list(self, namespace: str) -> list[dict[str, Any]]:
        return [
            obj
            for informer in self
            if informer.namespace is None or informer.namespace == namespace
            for obj in informer.store.list(namespace)
        ]
