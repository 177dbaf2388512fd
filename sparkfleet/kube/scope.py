"""Scopes: a named slice of the cluster an instance serves, as the watches that cover it.

A scope is what the sharding layer hands the operator and takes back: one
shard of a fleet, or (unsharded) one namespace or the whole cluster. It is
expressed the way the API server filters: a namespace, a label selector and a
field selector per watch, so that each instance lists and watches only its
own objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sparkfleet.api.fleet import LABEL_KEY, LABEL_VALUE


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
class NamespaceSelection:
    """Namespaces chosen by their own labels (``--namespace-selector``, a fleet's
    ``namespaceSelector`` shard): the scope watches each namespace that matches, as it matches.

    ``label_selector`` narrows each namespace's watches (``--label-selector-filter``); ``excludes``
    are namespaces served otherwise (``--namespaces``); ``within`` bounds the choice (a fleet's
    ``spec.jobNamespaces``; None: any namespace); ``moves_in``: another scope (a fleet member)
    may hold a namespace's objects until it sees the namespace's labels change, so objects that
    arrive with a namespace newly matched wait before their first reconcile here."""

    selector: str
    label_selector: str | None = None
    excludes: frozenset[str] = frozenset()
    within: frozenset[str] | None = None
    moves_in: bool = False

    def watch(self, namespace: str) -> Watch:
        return Watch(namespace=namespace, label_selector=self.label_selector)


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    watches: tuple[Watch, ...]
    selection: NamespaceSelection | None = None
    """Namespaces added to ``watches`` by their labels, as they change (see NamespaceSelection)."""

    @classmethod
    def namespaces(cls, name: str, namespaces: list[str] | tuple[str, ...]) -> Scope:
        return cls(name, tuple(Watch(namespace=ns) for ns in namespaces))

    @classmethod
    def cluster(cls, name: str = "*", label_selector: str | None = None) -> Scope:
        return cls(name, (Watch(label_selector=label_selector),))

    def may_hold(self, namespace: str) -> bool:
        return any(w.may_hold(namespace) for w in self.watches) or self.selection is not None

    @property
    def routing_keys(self) -> frozenset[str]:
        """The label keys its watches select on: an object is in this scope by its values of them.

        An application's pods must carry the application's values of these keys (or lack them
        as it does), or they fall into another scope's watch than their application."""
        return frozenset(
            key for w in self.watches if w.label_selector for key in selector_keys(w.label_selector)
        )


def unsharded_scopes(namespaces: list[str] | None, label_selector: str | None = None) -> list[Scope]:
    """What an unsharded instance serves: each of ``namespaces``, or the whole cluster."""
    if namespaces:
        return [Scope(ns, (Watch(namespace=ns, label_selector=label_selector),)) for ns in namespaces]
    return [Scope.cluster("*", label_selector)]


def selected_scopes(
    namespaces: list[str] | None, namespace_selector: str, label_selector: str | None = None
) -> list[Scope]:
    """What an unsharded instance with ``--namespace-selector`` serves, as the Spark Operator does:
    each of ``namespaces``, and besides them every namespace whose labels match (one scope that
    follows them). Without ``namespaces``, only the namespaces that match."""
    explicit = unsharded_scopes(namespaces, label_selector) if namespaces else []
    selection = NamespaceSelection(namespace_selector, label_selector, excludes=frozenset(namespaces or ()))
    return [*explicit, Scope(SELECTED_SCOPE, (), selection)]


SELECTED_SCOPE = "(namespace-selector)"
"""The scope of the namespaces ``--namespace-selector`` chooses: not a namespace's name (those are
DNS labels), so never the name of an explicit namespace's scope."""


__all__ = [
    "SELECTED_SCOPE",
    "NamespaceSelection",
    "Scope",
    "Watch",
    "selected_scopes",
    "selector_keys",
    "unsharded_scopes",
]


# -- label selectors as the API's query syntax -------------------------------------------------

_KEY = re.compile(LABEL_KEY)
_VALUE = re.compile(LABEL_VALUE)
_REQUIREMENT = re.compile(
    r"^\s*(?:!\s*(?P<absent>[^\s!=<>(),]+)"
    r"|(?P<key>[^\s!=<>(),]+)\s*(?:(?P<op>==|!=|=)\s*(?P<value>[^\s!=<>(),]*)"
    r"|(?P<compare>[<>])\s*(?P<number>-?\d+)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^()]*)\))?)\s*$"
)


def label_selector_problem(selector: str) -> str | None:
    """Why the API server would refuse ``selector`` (``a=b,c in (d,e),!f``), or None."""
    if not selector.strip():
        return "an empty selector"
    for requirement in _split_requirements(selector):
        match = _REQUIREMENT.match(requirement)
        if not match:
            return (
                f"{requirement.strip()!r} is not a requirement like key, !key, key=value, key!=value, "
                "key in (a,b) or key notin (a,b)"
            )
        key = match.group("absent") or match.group("key")
        if not (_KEY.match(key) and len(key.rpartition("/")[2]) <= 63):
            return f"{key!r} is not a label key"
        values = [match.group("value")] if match.group("op") else []
        if match.group("set"):
            values = [v.strip() for v in match.group("values").split(",")]
            if values == [""]:
                return f"{requirement.strip()!r}: {match.group('set')} needs at least one value"
        for value in values:
            if len(value) > 63 or not _VALUE.match(value):
                return f"{value!r} is not a label value"
    return None


def selector_keys(selector: str) -> frozenset[str]:
    """The label keys a selector in the API's syntax names (``a=b,c in (d),!e``: a, c and e)."""
    keys = set()
    for requirement in _split_requirements(selector):
        match = _REQUIREMENT.match(requirement)
        if match is None:
            raise ValueError(f"label selector {selector!r}: {requirement.strip()!r} is not a requirement")
        keys.add(match.group("absent") or match.group("key"))
    return frozenset(keys)


def _split_requirements(selector: str) -> list[str]:
    """The comma-separated requirements (commas inside ``(...)`` separate values, not requirements)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(selector):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(selector[start:i])
            start = i + 1
    parts.append(selector[start:])
    return parts
