"""Typed keys of namespaced objects: what the work queues hold and the controllers look up.

A :class:`NamespacedName` is a (namespace, name) pair: frozen, hashable, ordered by namespace
then name, and printed as the ``namespace/name`` string the informer stores key objects by
(:func:`~sparkfleet.kube.resources.object_key`), so logs and audit lines read as before. A
cluster-scoped object has the empty namespace and prints as its name alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class NamespacedName(NamedTuple):
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @classmethod
    def parse(cls, key: str) -> NamespacedName:
        """The key of a store's ``namespace/name`` (or a cluster-scoped ``name``)."""
        namespace, slash, name = key.partition("/")
        return cls(namespace, name) if slash else cls("", key)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> NamespacedName:
        """The key of an object, from its metadata."""
        meta = obj["metadata"]
        return cls(meta.get("namespace") or "", meta["name"])


__all__ = ["NamespacedName"]
