"""The informer's local cache: objects by ``namespace/name``, indexed by namespace and, when asked,
by the value of one label within their namespace (an application's pods by its name)."""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Any

from sparkfleet.kube.resources import object_key

Object = dict[str, Any]


class Store:
    """A dict of objects with a namespace index, and an index by the value of the label
    ``index_label`` (per namespace) when one is given. Not thread-safe; one event loop owns it."""

    def __init__(self, index_label: str | None = None) -> None:
        self.index_label = index_label
        self._objects: dict[str, Object] = {}
        self._by_namespace: defaultdict[str, set[str]] = defaultdict(set)
        self._by_label: dict[tuple[str | None, str], set[str]] = {}  # (namespace, value) -> keys

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

    def list_labelled(self, namespace: str | None, value: str) -> builtins.list[Object]:
        """The objects of ``namespace`` whose label ``index_label`` is ``value``."""
        if self.index_label is None:
            raise ValueError("this store indexes no label")
        return [self._objects[key] for key in self._by_label.get((namespace, value), ())]

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
        if self.index_label is not None:
            value, was = self._label(obj), self._label(old)
            if value != was:
                if was is not None:
                    self._unindex(namespace, was, key)
                if value is not None:
                    self._by_label.setdefault((namespace, value), set()).add(key)
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
            value = self._label(old)
            if value is not None:
                self._unindex(namespace, value, key)
        return old

    def _label(self, obj: Object | None) -> str | None:
        if obj is None or self.index_label is None:
            return None
        value: str | None = (obj["metadata"].get("labels") or {}).get(self.index_label)
        return value

    def _unindex(self, namespace: str | None, value: str, key: str) -> None:
        keys = self._by_label.get((namespace, value))
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_label[(namespace, value)]
