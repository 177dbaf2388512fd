"""Informers for the namespaces an instance serves: one per namespace, or one for all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sparkfleet.kube import Informer, KubeClient
from sparkfleet.kube.resources import Resource


class ScopedInformers:
    def __init__(
        self,
        client: KubeClient,
        resource: Resource,
        namespaces: list[str] | None = None,
        *,
        label_selector: str | None = None,
    ):
        scopes: list[str | None] = list(namespaces) if namespaces else [None]
        self._informers = {
            ns: Informer(client, resource, namespace=ns, label_selector=label_selector) for ns in scopes
        }

    def __iter__(self) -> Iterator[Informer]:
        return iter(self._informers.values())

    def for_namespace(self, namespace: str) -> Informer | None:
        """The informer whose cache holds ``namespace``'s objects, if it is served."""
        return self._informers.get(namespace) or self._informers.get(None)

    def get(self, key: str) -> dict[str, Any] | None:
        """An object by ``namespace/name``."""
        informer = self.for_namespace(key.split("/", 1)[0])
        return informer.store.get(key) if informer else None

    def list(self, namespace: str) -> list[dict[str, Any]]:
        informer = self.for_namespace(namespace)
        return informer.store.list(namespace) if informer else []
