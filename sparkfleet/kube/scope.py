"""Scopes: a named slice of the cluster an instance serves, as the watches that cover it.

A scope is what the sharding layer hands the operator and takes back: one
shard of a fleet, or (unsharded) one namespace or the whole cluster. It is
expressed the way the API server filters: a namespace, a label selector and a
field selector per watch, so that each instance lists and watches only its
own objects.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Watch:
    """One list+watch: a namespace (or all) with optional server-side selectors."""

    namespace: str | None = None
    label_selector: str | None = None
    field_selector: str | None = None

    def narrowed(self, label_selector: str | None) -> Watch:
        """This watch, with ``label_selector`` ANDed to its own."""
        if not label_selector:
            return self
        joined = f"{self.label_selector},{label_selector}" if self.label_selector else label_selector
        return Watch(self.namespace, joined, self.field_selector)

    def may_hold(self, namespace: str) -> bool:
        """Whether objects of ``namespace`` can be in this watch (ignoring the selectors)."""
        return self.namespace is None or self.namespace == namespace


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    watches: tuple[Watch, ...]

    @classmethod
    def namespaces(cls, name: str, namespaces: list[str] | tuple[str, ...]) -> Scope:
        return cls(name, tuple(Watch(namespace=ns) for ns in namespaces))

    @classmethod
    def cluster(cls, name: str = "*", label_selector: str | None = None) -> Scope:
        return cls(name, (Watch(label_selector=label_selector),))

    def may_hold(self, namespace: str) -> bool:
        return any(w.may_hold(namespace) for w in self.watches)


def unsharded_scopes(namespaces: list[str] | None, label_selector: str | None = None) -> list[Scope]:
    """What an unsharded instance serves: each of ``namespaces``, or the whole cluster."""
    if namespaces:
        return [Scope(ns, (Watch(namespace=ns, label_selector=label_selector),)) for ns in namespaces]
    return [Scope.cluster("*", label_selector)]


__all__ = ["Scope", "Watch", "unsharded_scopes"]
