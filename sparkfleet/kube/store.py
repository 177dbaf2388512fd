"""The informer's local cache: objects by ``namespace/name``, indexed by namespace."""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Any

from sparkfleet.kube.resources import object_key

Object = dict[str, Any]


class Store:
    """A dict of objects with a namespace index. Not thread-safe; one event loop owns it."""

    def __init__(self) -> None:
        self._objects: dict[str, Object] = {}
        self._by_namespace: defaultdict[str, set[str]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, key: object) -> bool:
        return key in self._objects

    def get(self, key: str) -> Object | None:
        return self._objects.get(key)

    def get_by_name(self, namespace: str | None, name: str) -> Object | None:
        return self._objects.get(f"{namespace}/{name}" if namespace else name)

    def list_keys(self) -> list[str]:
        return list(self._objects)

    def list(self, namespace: str | None = None) -> builtins.list[Object]:
        if namespace is None:
            return list(self._objects.values())
        return [self._objects[key] for key in self._by_namespace.get(namespace, ())]

    def namespaces(self) -> builtins.list[str]:
        return [ns for ns, keys in self._by_namespace.items() if keys]

    def put(self, obj: Object) -> Object | None:
        """Stores ``obj``; returns the object it replaced, if any."""
        key = object_key(obj)
        old = self._objects.get(key)
        self._objects[key] = obj
        namespace = obj["metadata"].get("namespace")
        if namespace:
            self._by_namespace[namespace].add(key)
        return old

    def remove(self, key: str) -> Object | None:
        old = self._objects.pop(key, None)
        if old is not None:
            namespace = old["metadata"].get("namespace")
            if namespace:
                keys = self._by_namespace[namespace]
                keys.discard(key)
                if not keys:
                    del self._by_namespace[namespace]
        return old
