"""The shard model: a fleet's spec as disjoint scopes, and the problems that make a spec invalid.

Pure functions. A fleet's shards take one form, plus an optional catch-all:

- ``namespaces``: namespaced watches; the catch-all is every other namespace
  (a cluster-wide watch with ``metadata.namespace!=...`` field selectors);
- ``values`` of ``spec.routingLabel``: ``key in (...)``; the catch-all is
  ``key notin (...)`` (which also matches objects without the label);
- ``labelSelector``: the selector as given; they must be provably disjoint
  (some key on which they cannot both match), and there is no catch-all,
  since the complement of several selectors is not a selector.

What the CRD schema cannot say (a namespace in two shards, overlapping
selectors, mixed forms, a pin to an unknown shard) is reported as a
:class:`Problem` naming the field; the coordinator then keeps the last valid
plan.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sparkfleet.api.fleet import LabelSelector, ShardSpec, SparkFleetSpec
from sparkfleet.kube.scope import Scope, Watch


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message  # the message names fields


@dataclass(frozen=True, slots=True)
class ShardDef:
    name: str
    scope: Scope
    weight: int | None = None
    namespaces: frozenset[str] = frozenset()

    @property
    def fingerprint(self) -> str:
        """What the shard covers, as a short stable hash: a changed definition is a changed shard."""
        return scope_fingerprint(self.scope)


def scope_fingerprint(scope: Scope) -> str:
    """A stable hash of a scope's watches (namespace, label and field selectors), order-independent."""
    watches = sorted(
        (w.namespace or "", w.label_selector or "", w.field_selector or "") for w in scope.watches
    )
    text = "\n".join("\t".join(parts) for parts in watches)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def selector_string(selector: LabelSelector) -> str:
    """A label selector in the API's query syntax (``a=b,c in (d,e),!f``)."""
    parts = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    for req in selector.match_expressions or []:
        values = ",".join(sorted(req.values or []))
        parts.append(
            {
                "In": f"{req.key} in ({values})",
                "NotIn": f"{req.key} notin ({values})",
                "Exists": req.key,
                "DoesNotExist": f"!{req.key}",
            }[req.operator]
        )
    return ",".join(parts)


# -- disjointness of label selectors --------------------------------------------------

_ANY = None  # "the key must be present, any value"


@dataclass(frozen=True, slots=True)
class _KeyRule:
    present: bool | None = None  # True: must exist, False: must not exist, None: no rule
    allowed: frozenset[str] | None = None  # values it may take (a finite set), if known
    excluded: frozenset[str] = frozenset()


def _rules(selector: LabelSelector) -> dict[str, _KeyRule]:
    rules: dict[str, _KeyRule] = {}

    def merge(
        key: str, present: bool | None, allowed: frozenset[str] | None, excluded: frozenset[str]
    ) -> None:
        old = rules.get(key, _KeyRule())
        merged_allowed = (
            old.allowed if allowed is None else (allowed if old.allowed is None else old.allowed & allowed)
        )
        rules[key] = _KeyRule(
            present=present if present is not None else old.present,
            allowed=merged_allowed,
            excluded=old.excluded | excluded,
        )

    for key, value in (selector.match_labels or {}).items():
        merge(key, True, frozenset({value}), frozenset())
    for req in selector.match_expressions or []:
        values = frozenset(req.values or [])
        if req.operator == "In":
            merge(req.key, True, values, frozenset())
        elif req.operator == "NotIn":
            merge(req.key, None, None, values)
        elif req.operator == "Exists":
            merge(req.key, True, None, frozenset())
        else:
            merge(req.key, False, None, frozenset())
    return rules


def _key_disjoint(a: _KeyRule, b: _KeyRule) -> bool:
    if (a.present is True and b.present is False) or (a.present is False and b.present is True):
        return True
    if a.allowed is not None and b.allowed is not None and not (a.allowed & b.allowed):
        return True
    if a.allowed is not None and a.allowed <= b.excluded:
        return True
    return b.allowed is not None and b.allowed <= a.excluded


def provably_disjoint(a: LabelSelector, b: LabelSelector) -> bool:
    """True when no set of labels can match both selectors (judged key by key)."""
    rules_a, rules_b = _rules(a), _rules(b)
    return any(_key_disjoint(rules_a[key], rules_b[key]) for key in rules_a.keys() & rules_b.keys())


# -- compiling a spec -------------------------------------------------------------------


def compile_shards(spec: SparkFleetSpec) -> tuple[list[ShardDef], list[Problem]]:
    """The spec's shards as scopes, and every problem found (an empty list: the spec is valid)."""
    problems: list[Problem] = []
    regular = [(i, s) for i, s in enumerate(spec.shards) if s.form != "catchAll"]
    catch_all = [(i, s) for i, s in enumerate(spec.shards) if s.form == "catchAll"]
    forms = {s.form for _, s in regular}
    if len(forms) > 1:
        _, first = regular[0]
        for i, shard in regular:
            if shard.form != first.form:
                problems.append(
                    Problem(
                        f"spec.shards[{i}]",
                        f"shard {shard.name!r} is a {shard.form} shard but shard {first.name!r} is a "
                        f"{first.form} shard: a fleet's shards take one form (plus an optional catchAll)",
                    )
                )
    seen_names: dict[str, int] = {}
    for i, shard in enumerate(spec.shards):
        if shard.name in seen_names:
            problems.append(Problem(f"spec.shards[{i}].name", f"{shard.name!r} names two shards"))
        seen_names.setdefault(shard.name, i)
    if len(catch_all) > 1:
        problems.append(
            Problem(f"spec.shards[{catch_all[1][0]}].catchAll", "at most one shard may be the catch-all")
        )
    form = next(iter(forms)) if len(forms) == 1 else None
    if catch_all and form == "labelSelector":
        problems.append(
            Problem(
                f"spec.shards[{catch_all[0][0]}].catchAll",
                "a catch-all needs namespaces or values shards "
                "(the rest of several selectors is not a selector)",
            )
        )
    if any(s.form == "values" for _, s in regular) and not spec.routing_label:
        problems.append(Problem("spec.routingLabel", "shards given as values need spec.routingLabel"))
    problems += _overlaps(regular)
    for shard_name in sorted((spec.pins or {}).keys()):
        if shard_name not in seen_names:
            problems.append(Problem(f"spec.pins.{shard_name}", f"there is no shard named {shard_name!r}"))
    if problems:
        return [], problems
    return [_define(shard, spec, regular) for shard in spec.shards], []


def _overlaps(regular: list[tuple[int, ShardSpec]]) -> list[Problem]:
    problems = []
    owner: dict[str, str] = {}
    for i, shard in regular:
        items = shard.namespaces or shard.values or []
        what = "namespace" if shard.namespaces else "value"
        for j, item in enumerate(items):
            if item in owner and owner[item] != shard.name:
                field = "namespaces" if shard.namespaces else "values"
                problems.append(
                    Problem(
                        f"spec.shards[{i}].{field}[{j}]",
                        f"{what} {item!r} is already in shard {owner[item]!r}",
                    )
                )
            owner.setdefault(item, shard.name)
    selectors = [(i, s) for i, s in regular if s.label_selector is not None]
    for n, (i, shard) in enumerate(selectors):
        for _, other in selectors[:n]:
            assert shard.label_selector is not None
            assert other.label_selector is not None
            if not provably_disjoint(shard.label_selector, other.label_selector):
                problems.append(
                    Problem(
                        f"spec.shards[{i}].labelSelector",
                        f"may select the same objects as shard {other.name!r}: label shards must differ "
                        "on some key (different values, or present vs absent); "
                        "spec.routingLabel makes that automatic",
                    )
                )
    return problems


def _define(shard: ShardSpec, spec: SparkFleetSpec, regular: list[tuple[int, ShardSpec]]) -> ShardDef:
    if shard.namespaces:
        return ShardDef(
            shard.name,
            Scope.namespaces(shard.name, sorted(shard.namespaces)),
            shard.weight,
            frozenset(shard.namespaces),
        )
    if shard.values:
        selector = f"{spec.routing_label} in ({','.join(sorted(shard.values))})"
        return ShardDef(shard.name, Scope(shard.name, (Watch(label_selector=selector),)), shard.weight)
    if shard.label_selector:
        return ShardDef(
            shard.name,
            Scope(shard.name, (Watch(label_selector=selector_string(shard.label_selector)),)),
            shard.weight,
        )
    # the catch-all: whatever no other shard takes
    taken_namespaces = sorted({ns for _, s in regular for ns in s.namespaces or []})
    taken_values = sorted({v for _, s in regular for v in s.values or []})
    if taken_values:
        watch = Watch(label_selector=f"{spec.routing_label} notin ({','.join(taken_values)})")
    elif taken_namespaces:
        watch = Watch(field_selector=",".join(f"metadata.namespace!={ns}" for ns in taken_namespaces))
    else:
        watch = Watch()
    return ShardDef(shard.name, Scope(shard.name, (watch,)), shard.weight)


def fleet_namespaces(spec: SparkFleetSpec) -> tuple[frozenset[str], bool]:
    """The namespaces a fleet names, and whether it also takes every other one (a namespace catch-all)."""
    named = frozenset(ns for s in spec.shards for ns in s.namespaces or [])
    rest = any(s.form == "catchAll" for s in spec.shards) and not any(s.values for s in spec.shards)
    return named, rest


def overlapping_namespaces(mine: SparkFleetSpec, other: SparkFleetSpec) -> list[str]:
    """Namespaces both fleets serve (namespace shards and namespace catch-alls; label fleets are not judged).

    Two catch-alls always overlap; that is reported as ``*``.
    """
    if any(s.values or s.label_selector for s in (*mine.shards, *other.shards)):
        return []
    (named_a, rest_a), (named_b, rest_b) = fleet_namespaces(mine), fleet_namespaces(other)
    if rest_a and rest_b:
        return ["*"]
    both = set(named_a & named_b)
    if rest_a:
        both |= named_b - named_a
    if rest_b:
        both |= named_a - named_b
    return sorted(both)


@dataclass(frozen=True, slots=True)
class FleetClaim:
    """Another fleet as this one weighs it: who claimed first is decided by ``order``."""

    order: tuple[str, str, str]
    """(creationTimestamp, namespace, name): the same order on every machine; earlier claims first."""
    where: str
    spec: SparkFleetSpec


def claim_order(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("namespace") or ""), str(meta["name"]))


def refused_shards(
    mine: SparkFleetSpec, order: tuple[str, str, str], others: list[FleetClaim]
) -> dict[str, str]:
    """The shards this fleet must not serve, each with why: another fleet claimed their namespaces first.

    A namespace shard is refused when a fleet created earlier names one of its namespaces; a namespace
    catch-all when an earlier fleet has one too. A namespace named by one fleet and left to another's
    catch-all is not refused (an explicit name is the stronger claim). Label fleets are not judged.
    """
    if any(s.values or s.label_selector for s in mine.shards):
        return {}
    refused: dict[str, str] = {}
    for other in sorted(others, key=lambda c: c.order):
        if other.order >= order or any(s.values or s.label_selector for s in other.spec.shards):
            continue
        named, rest = fleet_namespaces(other.spec)
        for shard in mine.shards:
            if shard.name in refused:
                continue
            taken = sorted(set(shard.namespaces or ()) & named)
            if taken:
                refused[shard.name] = (
                    f"namespaces {', '.join(taken)} are already claimed by fleet {other.where}"
                )
            elif shard.catch_all and rest:
                refused[shard.name] = f"fleet {other.where} already has a catch-all"
    return refused
