"""The shard model: a fleet's spec as disjoint scopes, and the problems that make a spec invalid.

Pure functions. A fleet's shards take one form, plus an optional catch-all:

- ``namespaces``: namespaced watches; the catch-all is every other namespace
  (a cluster-wide watch with ``metadata.namespace!=...`` field selectors);
- ``values`` of ``spec.routingLabel``: ``key in (...)``; the catch-all is
  ``key notin (...)`` (which also matches objects without the label);
- ``labelSelector``: the selector as given; they must be provably disjoint
  (some key on which they cannot both match), and there is no catch-all,
  since the complement of several selectors is not a selector.
- ``namespaceSelector``: the namespaces whose labels match (the set changes as they are
  relabelled), beside namespace shards, whose namespaces it leaves out; two of them must be
  provably disjoint as label shards are, and there is no catch-all either.

Fleets never overlap (DESIGN rule 7): a catch-all also leaves out every namespace another fleet
names (``elsewhere``), and with ``spec.jobNamespaces`` every shard is bounded by them: a label
shard becomes one namespaced watch per job namespace, a catch-all the job namespaces no shard of
any fleet names. Where two fleets can still meet, :func:`overlap` says so.

What the CRD schema cannot say (a namespace in two shards, overlapping
selectors, mixed forms, a pin to an unknown shard) is reported as a
:class:`Problem` naming the field; the coordinator then keeps the last valid
plan.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from sparkfleet.api.fleet import LabelSelector, LabelSelectorRequirement, ShardSpec, SparkFleetSpec
from sparkfleet.kube.scope import (
    _REQUIREMENT,
    NamespaceSelection,
    Scope,
    Watch,
    _split_requirements,
    label_selector_problem,
)


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
    excludes: frozenset[str] = frozenset()
    """A catch-all's: the namespaces other fleets name that its scope leaves out."""
    catch_all: bool = False

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
    if scope.selection is not None:
        chosen = scope.selection
        within = "*" if chosen.within is None else ",".join(sorted(chosen.within))
        text += f"\nselection\t{chosen.selector}\t{chosen.label_selector or ''}\t"
        text += f"{','.join(sorted(chosen.excludes))}\t{within}"
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


def parse_selector(text: str) -> LabelSelector | str:
    """A selector in the API's syntax as a :class:`LabelSelector`, or why it cannot be one (the
    API server's own refusal, or ``<``/``>``, which a label selector has no operator for)."""
    problem = label_selector_problem(text)
    if problem:
        return problem
    labels: dict[str, str] = {}
    expressions: list[LabelSelectorRequirement] = []
    for part in _split_requirements(text):
        match = _REQUIREMENT.match(part)
        assert match is not None  # label_selector_problem said it is one
        if match.group("absent"):
            expressions.append(LabelSelectorRequirement(key=match.group("absent"), operator="DoesNotExist"))
            continue
        key = match.group("key")
        if match.group("compare"):
            return f"{part.strip()!r}: a namespace selector takes no < or > (no label selector does)"
        if match.group("op") in ("=", "=="):
            if labels.get(key, match.group("value")) != match.group("value"):
                return f"{key!r} is given two values"
            labels[key] = match.group("value")
        elif match.group("op") == "!=":
            expressions.append(
                LabelSelectorRequirement(key=key, operator="NotIn", values=[match.group("value")])
            )
        elif match.group("set"):
            values = sorted({v.strip() for v in match.group("values").split(",")})
            operator = "In" if match.group("set") == "in" else "NotIn"
            expressions.append(LabelSelectorRequirement(key=key, operator=operator, values=values))
        else:
            expressions.append(LabelSelectorRequirement(key=key, operator="Exists"))
    return LabelSelector(match_labels=labels or None, match_expressions=expressions or None)


def _family(form: str) -> str:
    """Forms that go together in one fleet: namespace selectors beside namespace shards."""
    return "namespaces" if form == "namespaceSelector" else form


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


def compile_shards(
    spec: SparkFleetSpec, elsewhere: frozenset[str] = frozenset()
) -> tuple[list[ShardDef], list[Problem]]:
    """The spec's shards as scopes, and every problem found (an empty list: the spec is valid).

    ``elsewhere``: the namespaces other fleets name (:func:`named_elsewhere`); the catch-all leaves
    them out, so its definition changes when another fleet names or drops a namespace.
    """
    problems: list[Problem] = []
    regular = [(i, s) for i, s in enumerate(spec.shards) if s.form != "catchAll"]
    catch_all = [(i, s) for i, s in enumerate(spec.shards) if s.form == "catchAll"]
    forms = {_family(s.form) for _, s in regular}
    if len(forms) > 1:
        _, first = regular[0]
        for i, shard in regular:
            if _family(shard.form) != _family(first.form):
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
    if catch_all and any(s.namespace_selector for _, s in regular):
        problems.append(
            Problem(
                f"spec.shards[{catch_all[0][0]}].catchAll",
                "a catch-all does not go with namespaceSelector shards "
                "(the rest of several selectors is not a selector)",
            )
        )
    if any(s.form == "values" for _, s in regular) and not spec.routing_label:
        problems.append(Problem("spec.routingLabel", "shards given as values need spec.routingLabel"))
    problems += _overlaps(regular)
    problems += _namespace_selector_problems(regular)
    problems += _outside_job_namespaces(spec)
    for shard_name in sorted((spec.pins or {}).keys()):
        if shard_name not in seen_names:
            problems.append(Problem(f"spec.pins.{shard_name}", f"there is no shard named {shard_name!r}"))
    if problems:
        return [], problems
    return [_define(shard, spec, regular, elsewhere) for shard in spec.shards], []


def _namespace_selector_problems(regular: list[tuple[int, ShardSpec]]) -> list[Problem]:
    """Each namespaceSelector readable, and no two that may select the same namespace."""
    problems = []
    parsed: list[tuple[int, ShardSpec, LabelSelector]] = []
    for i, shard in regular:
        if shard.namespace_selector is None:
            continue
        selector = parse_selector(shard.namespace_selector)
        if isinstance(selector, str):
            problems.append(Problem(f"spec.shards[{i}].namespaceSelector", selector))
        else:
            parsed.append((i, shard, selector))
    for n, (i, shard, selector) in enumerate(parsed):
        for _, other, other_selector in parsed[:n]:
            if not provably_disjoint(selector, other_selector):
                problems.append(
                    Problem(
                        f"spec.shards[{i}].namespaceSelector",
                        f"shards {other.name!r} and {shard.name!r} may select the same namespaces: "
                        "namespace selectors must differ on some key (different values, or present vs "
                        "absent)",
                    )
                )
    return problems


def _outside_job_namespaces(spec: SparkFleetSpec) -> list[Problem]:
    if spec.job_namespaces is None:
        return []
    bound = set(spec.job_namespaces)
    return [
        Problem(
            f"spec.shards[{i}].namespaces[{j}]",
            f"namespace {ns!r} is not in spec.jobNamespaces (the namespaces the fleet may serve at all)",
        )
        for i, shard in enumerate(spec.shards)
        for j, ns in enumerate(shard.namespaces or [])
        if ns not in bound
    ]


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


def _define(
    shard: ShardSpec, spec: SparkFleetSpec, regular: list[tuple[int, ShardSpec]], elsewhere: frozenset[str]
) -> ShardDef:
    bound = sorted(spec.job_namespaces) if spec.job_namespaces is not None else None
    if shard.namespaces:
        return ShardDef(
            shard.name,
            Scope.namespaces(shard.name, sorted(shard.namespaces)),
            shard.weight,
            frozenset(shard.namespaces),
        )
    if shard.values:
        selector = f"{spec.routing_label} in ({','.join(sorted(shard.values))})"
        return ShardDef(shard.name, _bounded(shard.name, bound, selector), shard.weight)
    if shard.label_selector:
        return ShardDef(
            shard.name, _bounded(shard.name, bound, selector_string(shard.label_selector)), shard.weight
        )
    if shard.namespace_selector:
        parsed = parse_selector(shard.namespace_selector)
        assert not isinstance(parsed, str)  # compile_shards refused it otherwise
        named = frozenset(ns for _, s in regular for ns in s.namespaces or [])
        selection = NamespaceSelection(
            selector_string(parsed),
            excludes=named,
            within=frozenset(bound) if bound is not None else None,
            moves_in=True,
        )
        return ShardDef(shard.name, Scope(shard.name, (), selection), shard.weight)
    # the catch-all: whatever no other shard takes, and no namespace another fleet names
    own = {ns for _, s in regular for ns in s.namespaces or []}
    taken_values = sorted({v for _, s in regular for v in s.values or []})
    rest = f"{spec.routing_label} notin ({','.join(taken_values)})" if taken_values else None
    if bound is not None:
        excludes = frozenset(elsewhere & set(bound)) - own
        left = [ns for ns in bound if ns not in own and ns not in excludes]
        scope = Scope(shard.name, tuple(Watch(namespace=ns, label_selector=rest) for ns in left))
    else:
        excludes = frozenset(elsewhere - own)
        skipped = sorted(own | excludes)
        fields = ",".join(f"metadata.namespace!={ns}" for ns in skipped) or None
        scope = Scope(shard.name, (Watch(label_selector=rest, field_selector=fields),))
    return ShardDef(shard.name, scope, shard.weight, excludes=excludes, catch_all=True)


def _bounded(name: str, bound: list[str] | None, selector: str) -> Scope:
    """A label shard's scope: one watch per job namespace, or one cluster-wide watch when unbounded."""
    if bound is None:
        return Scope(name, (Watch(label_selector=selector),))
    return Scope(name, tuple(Watch(namespace=ns, label_selector=selector) for ns in bound))


# -- fleets side by side ---------------------------------------------------------------------

EVERY_NAMESPACE = "*"
"""What :func:`overlapping_namespaces` says when two unbounded fleets may meet in any namespace."""


def fleet_namespaces(spec: SparkFleetSpec) -> tuple[frozenset[str], bool]:
    """The namespaces a fleet names, and whether it also takes every other one (a namespace catch-all)."""
    named = frozenset(ns for s in spec.shards for ns in s.namespaces or [])
    rest = any(s.form == "catchAll" for s in spec.shards) and not _label_routed(spec)
    return named, rest


def claimed_namespaces(spec: SparkFleetSpec) -> frozenset[str]:
    """The namespaces a fleet claims by name: its namespace shards', and a bounded label fleet's job
    namespaces (it serves them by labels). Another fleet's catch-all leaves these out."""
    named, _ = fleet_namespaces(spec)
    if _label_routed(spec) and spec.job_namespaces is not None:
        return named | frozenset(spec.job_namespaces)
    return named


def _label_routed(spec: SparkFleetSpec) -> bool:
    """Whether the fleet serves by labels, its objects' or (namespaceSelector) their namespaces':
    beside other fleets, what it serves is then known only up to its job namespaces."""
    return any(s.values or s.label_selector or s.namespace_selector for s in spec.shards)


def _selectors(spec: SparkFleetSpec) -> list[LabelSelector]:
    """A label fleet's shards as selectors (its catch-all as ``key notin (every value)``)."""
    taken = sorted({v for s in spec.shards for v in s.values or []})
    selectors = []
    for shard in spec.shards:
        if shard.label_selector is not None:
            selectors.append(shard.label_selector)
        elif shard.values or (shard.catch_all and taken):
            operator = "In" if shard.values else "NotIn"
            values = sorted(shard.values or taken)
            requirement = LabelSelectorRequirement(
                key=spec.routing_label or "", operator=operator, values=values
            )
            selectors.append(LabelSelector(match_expressions=[requirement]))
    return selectors


@dataclass(frozen=True, slots=True)
class _Region:
    """Namespaces a part of a fleet may serve: ``include`` (None: every namespace) minus ``exclude``."""

    include: frozenset[str] | None
    exclude: frozenset[str] = frozenset()
    labels: bool = False  # routed by labels inside those namespaces

    def meet(self, other: _Region) -> _Region:
        if self.include is None or other.include is None:
            include = other.include if self.include is None else self.include
        else:
            include = self.include & other.include
        return _Region(include, self.exclude | other.exclude)

    def namespaces(self) -> list[str]:
        if self.include is None:
            return [EVERY_NAMESPACE]
        return sorted(self.include - self.exclude)


def _regions(spec: SparkFleetSpec, other: SparkFleetSpec) -> list[_Region]:
    """Where ``spec``'s fleet may serve, beside ``other``'s (whose named namespaces its catch-all leaves)."""
    bound = frozenset(spec.job_namespaces) if spec.job_namespaces is not None else None
    named, rest = fleet_namespaces(spec)
    other_named = claimed_namespaces(other)
    if _label_routed(spec):
        return [_Region(bound, labels=True)]
    regions = [_Region(named)] if named else []
    if rest:
        regions.append(_Region(bound, named | other_named))
    return regions


def overlapping_namespaces(mine: SparkFleetSpec, other: SparkFleetSpec) -> list[str]:
    """Namespaces both fleets may serve, for every pair of forms (``*``: any, both being unbounded).

    - a namespace named by both;
    - a namespace named by one and left to the other's catch-all: never (the catch-all leaves out what
      other fleets name; while it still serves it, the naming fleet waits, see :func:`waiting_shards`);
    - two catch-alls: the namespaces both may serve that neither fleet names;
    - a label fleet and a namespace fleet: the named namespaces the label fleet may serve (its label
      shards are not bounded by another fleet's names), and what both may serve beside a catch-all;
    - two label fleets in common namespaces: none only when every shard of one provably selects
      other objects than every shard of the other (:func:`provably_disjoint`).
    """
    found: set[str] = set()
    for a in _regions(mine, other):
        for b in _regions(other, mine):
            if a.labels and b.labels and _labels_disjoint(mine, other):
                continue
            found.update(a.meet(b).namespaces())
    if EVERY_NAMESPACE in found:
        return [EVERY_NAMESPACE]
    return sorted(found)


def _labels_disjoint(a: SparkFleetSpec, b: SparkFleetSpec) -> bool:
    if any(s.namespace_selector for s in (*a.shards, *b.shards)):
        return False  # namespaces by their labels beside objects by theirs: nothing to prove it by
    return all(provably_disjoint(x, y) for x in _selectors(a) for y in _selectors(b))


def overlap_message(where: str, mine: SparkFleetSpec, other: SparkFleetSpec, namespaces: list[str]) -> str:
    """What the Overlap condition says of fleet ``where`` (``namespaces``: :func:`overlapping_namespaces`)."""
    listed = "every namespace" if namespaces == [EVERY_NAMESPACE] else f"namespaces {', '.join(namespaces)}"
    if _label_routed(mine) and _label_routed(other):
        return (
            f"fleet {where} may select the same objects in {listed}: their label shards cannot be "
            "proven disjoint"
        )
    if _label_routed(mine) or _label_routed(other):
        return f"fleet {where} also serves {listed}, this fleet by labels and the other by namespace"
    return f"fleet {where} also names {listed}"


def named_elsewhere(others: list[FleetClaim]) -> frozenset[str]:
    """Every namespace another fleet names: a catch-all leaves them out (:func:`compile_shards`)."""
    return frozenset(ns for other in others for ns in claimed_namespaces(other.spec))


@dataclass(frozen=True, slots=True)
class FleetClaim:
    """Another fleet as this one weighs it: who claimed first is decided by ``order``."""

    order: tuple[str, str, str]
    """(creationTimestamp, namespace, name): the same order on every machine; earlier claims first."""
    where: str
    spec: SparkFleetSpec
    released: frozenset[str] = frozenset()
    """Its ``status.catchAllExcludes``: the namespaces its catch-all's holder confirms it leaves out."""


def claim_order(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("namespace") or ""), str(meta["name"]))


def claim_of(obj: dict[str, Any]) -> FleetClaim | None:
    """A SparkFleet object as a claim (None: its spec is invalid, and an invalid fleet claims nothing)."""
    meta = obj["metadata"]
    try:
        spec = SparkFleetSpec.model_validate(obj.get("spec") or {})
    except ValidationError:
        return None
    released = (obj.get("status") or {}).get("catchAllExcludes") or []
    where = f"{meta.get('namespace')}/{meta['name']}"
    return FleetClaim(claim_order(obj), where, spec, frozenset(str(ns) for ns in released))


def refused_shards(
    mine: SparkFleetSpec, order: tuple[str, str, str], others: list[FleetClaim]
) -> dict[str, str]:
    """The shards this fleet must not serve, each with why: a fleet created earlier serves their objects.

    Between namespace fleets: a namespace shard is refused when an earlier fleet names one of its
    namespaces; a namespace catch-all when an earlier fleet has one too that may serve the same
    namespaces (job namespaces that do not meet keep two catch-alls apart). A namespace named by one
    fleet and left to another's catch-all is not refused (an explicit name is the stronger claim: the
    catch-all leaves it out). Where a label fleet is one of the two, the shards of the later fleet that
    may serve objects the earlier one serves (:func:`overlapping_namespaces`) are refused: every shard
    of a later label fleet, or the namespace shards and catch-all of a later namespace fleet that meet it.
    """
    refused: dict[str, str] = {}
    for other in sorted(others, key=lambda c: c.order):
        if other.order >= order:
            continue
        if _label_routed(mine) or _label_routed(other.spec):
            met = overlapping_namespaces(mine, other.spec)
            if met:
                why = f"{_listed(met)} are already served by fleet {other.where}"
                for shard in mine.shards:
                    if shard.name not in refused and _shard_meets(mine, shard, met):
                        refused[shard.name] = why
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
            elif shard.catch_all and rest and _catch_alls_meet(mine, other.spec):
                refused[shard.name] = f"fleet {other.where} already has a catch-all"
    return refused


def _listed(namespaces: list[str]) -> str:
    return (
        "objects in every namespace"
        if namespaces == [EVERY_NAMESPACE]
        else (f"namespaces {', '.join(namespaces)}")
    )


def _shard_meets(spec: SparkFleetSpec, shard: ShardSpec, met: list[str]) -> bool:
    """Whether ``shard`` of ``spec`` may serve objects in ``met`` (namespaces another fleet serves too)."""
    if _label_routed(spec) or met == [EVERY_NAMESPACE]:
        return True
    if shard.namespaces:
        return bool(set(shard.namespaces) & set(met))
    named, _ = fleet_namespaces(spec)
    return bool(shard.catch_all) and any(ns not in named for ns in met)


def _catch_alls_meet(a: SparkFleetSpec, b: SparkFleetSpec) -> bool:
    (named_a, _), (named_b, _) = fleet_namespaces(a), fleet_namespaces(b)
    bound_a = frozenset(a.job_namespaces) if a.job_namespaces is not None else None
    bound_b = frozenset(b.job_namespaces) if b.job_namespaces is not None else None
    met = _Region(bound_a, named_a | named_b).meet(_Region(bound_b))
    return bool(met.namespaces())


WAITING = "waiting for fleet"


def is_waiting(why: str) -> bool:
    """Whether a refusal (:func:`refused_shards`, :func:`waiting_shards`) is only a wait for a release."""
    return why.startswith(WAITING)


def waiting_shards(
    mine: SparkFleetSpec, order: tuple[str, str, str], others: list[FleetClaim], serving: set[str]
) -> dict[str, str]:
    """Namespace shards not to claim yet, each with why: another fleet's catch-all may still serve them.

    A catch-all leaves out what other fleets name, but its holder learns of a new name only when it
    sees it; until it serves the narrower scope it may still reconcile there. So a shard naming such
    a namespace waits until that fleet's status lists it in ``catchAllExcludes`` (its coordinator
    writes what the catch-all's holder confirms it leaves out), or the fleet is gone, or its catch-all
    is refused (:func:`refused_shards`: it serves nothing). A shard being served keeps being served:
    the other catch-all left its namespaces out before it was claimed, and cannot take them back while
    this fleet names them.
    """
    me = FleetClaim(order, "", mine)
    catch_alls = []  # (fleet, the namespaces its catch-all may serve that it has not released)
    for other in sorted(others, key=lambda c: c.order):
        catch_all = next((s.name for s in other.spec.shards if s.catch_all), None)
        if catch_all is None:
            continue
        rivals = [me, *(c for c in others if c is not other)]
        if catch_all in refused_shards(other.spec, other.order, rivals):
            continue  # it serves nothing
        catch_alls.append((other, fleet_namespaces(other.spec)[0] | other.released))
    waiting: dict[str, str] = {}
    by_labels = mine.job_namespaces if _label_routed(mine) else None
    for shard in mine.shards:
        claimed = shard.namespaces or by_labels
        if not claimed or shard.name in serving:
            continue
        for other, settled in catch_alls:
            bound = other.spec.job_namespaces
            pending = sorted(ns for ns in claimed if (bound is None or ns in bound) and ns not in settled)
            if pending:
                waiting[shard.name] = f"{WAITING} {other.where}'s catch-all to release {', '.join(pending)}"
                break
    return waiting


ANNOTATION_EXCLUDES = "sparkfleet.io/catch-all-excludes"
"""On a member Lease: the namespaces the catch-all it serves leaves out (JSON list), as it serves it."""


def excludes_annotation(served: list[ShardDef]) -> str:
    """What a member publishes of the catch-all it serves (``served``: the definitions it serves)."""
    for shard in served:
        if shard.catch_all:
            return orjson.dumps(sorted(shard.excludes)).decode()
    return ""


def confirmed_excludes(annotations: dict[str, str]) -> frozenset[str] | None:
    """The namespaces a member confirms its catch-all leaves out (None: it says nothing)."""
    raw = annotations.get(ANNOTATION_EXCLUDES)
    if not raw:
        return None
    try:
        listed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return frozenset(str(ns) for ns in listed) if isinstance(listed, list) else None
