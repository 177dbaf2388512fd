"""Namespaces chosen by their labels: which ones a :class:`~sparkfleet.kube.scope.NamespaceSelection`
takes now, and what changed since the last look.

The decisions are pure (:func:`chosen`, :func:`changes`); :class:`NamespaceFollower` applies them to
one scope as a shared Namespaces informer reports label changes, calling back to add a namespace's
watches or to let one go. A namespace being deleted still matches until it is gone (its objects are
finished by their holder as the namespace's own deletion removes them).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Gauge

from sparkfleet.kube.informer import Informer, InformerEvent
from sparkfleet.kube.labels import selector_matcher
from sparkfleet.kube.scope import NamespaceSelection

log = logging.getLogger(__name__)

SELECTED = Gauge(
    "sparkfleet_namespace_selector_namespaces",
    "Namespaces a scope's namespace selector takes now (0: it serves nothing)",
    ("controller", "scope"),
)


def matcher(selection: NamespaceSelection) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a Namespace object is one ``selection`` takes (its labels, ``excludes``, ``within``)."""
    matches = selector_matcher(selection.selector)

    def takes(namespace: Mapping[str, Any]) -> bool:
        name = str((namespace.get("metadata") or {}).get("name") or "")
        if not name or name in selection.excludes:
            return False
        if selection.within is not None and name not in selection.within:
            return False
        return matches(namespace)

    return takes


def chosen(selection: NamespaceSelection, namespaces: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The names of the Namespace objects ``selection`` takes."""
    takes = matcher(selection)
    return frozenset(str(ns["metadata"]["name"]) for ns in namespaces if takes(ns))


@dataclass(frozen=True, slots=True)
class Changes:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def changes(served: frozenset[str], wanted: frozenset[str]) -> Changes:
    """What to start (``added``) and let go (``removed``) to serve ``wanted`` instead of ``served``,
    each in name order (the same order on every machine)."""
    return Changes(tuple(sorted(wanted - served)), tuple(sorted(served - wanted)))


class NamespaceFollower:
    """One scope's namespaces, kept in step with the Namespaces informer it is attached to.

    ``add(namespace)`` and ``drop(namespace)`` are called from the informer's events (no await);
    a namespace is added once and dropped once. A selection that matches nothing is said in a log
    line (once each time it comes to match nothing), and so is each namespace taken and let go; the
    gauge :data:`SELECTED` says how many it takes.
    """

    def __init__(
        self,
        scope: str,
        selection: NamespaceSelection,
        informer: Informer,
        add: Callable[[str], None],
        drop: Callable[[str], None],
        controller: str = "",
    ):
        self.controller = controller
        self.scope = scope
        self.selection = selection
        self.informer = informer
        self._add = add
        self._drop = drop
        self.served: frozenset[str] = frozenset()
        self._said_empty = False

    def handler(self, _event: InformerEvent) -> None:
        if self.informer.has_synced:
            self.refresh()

    def refresh(self) -> Changes:
        """Serves what the informer's cache says the selection takes now."""
        wanted = chosen(self.selection, self.informer.store.list())
        found = changes(self.served, wanted)
        for namespace in found.removed:
            self.served -= {namespace}
            self._drop(namespace)
            log.info(
                "namespace no longer matches the namespace selector; let go",
                extra={"scope": self.scope, "namespace": namespace, "selector": self.selection.selector},
            )
        for namespace in found.added:
            self.served |= {namespace}
            self._add(namespace)
            log.info(
                "namespace matches the namespace selector; served",
                extra={"scope": self.scope, "namespace": namespace, "selector": self.selection.selector},
            )
        if not self.served and not self._said_empty:
            log.warning(
                "the namespace selector matches no namespace: nothing is served by it",
                extra={"scope": self.scope, "selector": self.selection.selector},
            )
        self._said_empty = not self.served
        SELECTED.labels(self.controller, self.scope).set(len(self.served))
        return found

    def let_go(self) -> None:
        """Forgets every namespace (the scope is going: its watches are stopped by its owner)."""
        self.served = frozenset()
        with contextlib.suppress(KeyError):  # never refreshed
            SELECTED.remove(self.controller, self.scope)


__all__ = ["Changes", "NamespaceFollower", "changes", "chosen", "matcher"]
