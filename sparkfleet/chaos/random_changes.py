"""A seeded random plan of changes to running fleets: a pure function, so one seed replays one plan.

The world the plan changes has three fleets (logical names; the runner, :mod:`sparkfleet.chaos.random_fleet`,
prefixes every namespace):

- ``ns``: namespace shards over ``ns00``, ``ns01``, ... (no catch-all);
- ``tier``: shards by values of the routing label ``tier`` (``gold``, ``silver``, ...), every
  application in the one namespace ``tier`` (no catch-all);
- ``second``: at times, a fleet created over some of ``ns``'s namespaces (sometimes with a
  catch-all), with one member of its own; it claimed them second, so it must serve none of them.

Each :class:`Change` is one of :data:`KINDS`. Spec edits carry the fleet's whole new spec
(:class:`FleetDef`), computed here, so the runner only writes it. The plan is valid for the
state it leaves at each step: every namespace and value is in exactly one shard, pins name
shards that exist and members that were live, every application is created where a shard
serves it, and every fleet keeps at least one live member that is not draining (a process's
liveness is judged conservatively: a second process started with a live identity never counts).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

NS_FLEET = "ns"
TIER_FLEET = "tier"
SECOND_FLEET = "second"
ROUTING_LABEL = "tier"
TIER_NAMESPACE = "tier"
MEMBER_FLEETS = (NS_FLEET, TIER_FLEET)
"""The fleets whose members the plan kills, joins, drains, pins and duplicates."""

SPEC_KINDS = ("move", "split", "merge", "add-shard", "remove-shard")
MEMBER_KINDS = ("kill", "join", "drain", "undrain", "pin", "unpin", "duplicate")
KINDS = (*SPEC_KINDS, "relabel", *MEMBER_KINDS, "second-fleet", "second-fleet-gone")
DEFAULT_WEIGHTS: dict[str, float] = {
    "move": 3, "split": 2, "merge": 2, "add-shard": 1.5, "remove-shard": 1.5,
    "relabel": 4,
    "kill": 2, "join": 2, "drain": 1.5, "undrain": 1.5, "pin": 1.5, "unpin": 1, "duplicate": 1,
    "second-fleet": 0.8, "second-fleet-gone": 0.8,
}  # fmt: skip
VALUE_NAMES = ("gold", "silver", "bronze", "iron", "copper", "tin", "lead", "zinc")


@dataclass(frozen=True, slots=True)
class PlanConfig:
    changes: int = 30
    namespaces: int = 6
    """``ns``'s namespaces at the start (``add-shard`` adds more)."""
    ns_shards: int = 3
    values: int = 4
    """``tier``'s routed values at the start (``add-shard`` adds more)."""
    tier_shards: int = 2
    members: tuple[int, int] = (3, 2)
    """Members of ``ns`` and ``tier`` at the start."""
    max_members: int = 4
    """Live members per fleet at most (``join`` waits until there is room); with duplicates, live
    processes per fleet at most one more."""
    max_shards: int = 8
    """Shards per fleet at most (``split`` and ``add-shard`` wait until there is room)."""
    apps_per_change: tuple[int, int] = (1, 2)
    """Applications created just before each change (uniform in the range)."""
    ns_run_seconds: tuple[float, float] = (2.0, 8.0)
    tier_run_seconds: tuple[float, float] = (10.0, 20.0)
    """Long enough that most ``relabel`` changes find their application running."""
    pause: tuple[float, float] = (1.0, 2.5)
    """Seconds the runner waits after each change."""
    relabel_window: int = 4
    """``relabel`` picks an application created in the last this many changes (likely running)."""
    kinds: tuple[str, ...] = KINDS
    """The kinds of change to draw from (all by default; fewer to chase one failure)."""
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"kinds: unknown kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
        if not self.kinds:
            raise ValueError("kinds: give at least one kind of change")
        if self.changes < 0:
            raise ValueError(f"changes must be at least 0; got {self.changes}")
        if not 1 <= self.ns_shards <= self.namespaces:
            raise ValueError(f"ns_shards must be 1..namespaces ({self.namespaces}); got {self.ns_shards}")
        if not 1 <= self.tier_shards <= self.values <= len(VALUE_NAMES):
            raise ValueError(
                f"tier_shards ({self.tier_shards}) must be 1..values, values ({self.values}) "
                f"at most {len(VALUE_NAMES)}"
            )
        if not all(1 <= m <= self.max_members for m in self.members):
            raise ValueError(f"members {self.members} must each be 1..max_members ({self.max_members})")


@dataclass(frozen=True, slots=True)
class FleetDef:
    """A fleet's spec as the plan sets it: shards (name -> namespaces or values), pins, drains."""

    shards: tuple[tuple[str, tuple[str, ...]], ...]
    pins: tuple[tuple[str, str], ...] = ()
    drain: tuple[str, ...] = ()
    catch_all: str | None = None
    """The catch-all shard's name, if the fleet has one."""

    def items(self) -> list[str]:
        """Every namespace (or value) the shards name, shard by shard."""
        return [item for _, items in self.shards for item in items]

    def shard_of(self, item: str) -> str | None:
        return next((name for name, items in self.shards if item in items), None)

    def spec(self, form: str, prefix: str = "") -> dict[str, Any]:
        """The SparkFleet spec's shards, pins and drain (``form``: namespaces or values; ``prefix``
        goes before every namespace). The Lease timing and routingLabel are the runner's."""
        shards: list[dict[str, Any]] = [
            {"name": name, form: [f"{prefix}{i}" if form == "namespaces" else i for i in items]}
            for name, items in self.shards
        ]
        if self.catch_all:
            shards.append({"name": self.catch_all, "catchAll": True})
        spec: dict[str, Any] = {"shards": shards}
        spec["pins"] = dict(self.pins) or None
        spec["drain"] = list(self.drain) or None
        return spec


@dataclass(frozen=True, slots=True)
class AppSpec:
    name: str
    fleet: str
    namespace: str
    """Logical: ``ns03``, or ``tier``."""
    tier: str | None
    run_seconds: float


@dataclass(frozen=True, slots=True)
class Change:
    index: int
    kind: str
    fleet: str
    summary: str
    """What the change does, in words (for logs and failure messages)."""
    apps: tuple[AppSpec, ...] = ()
    """Created just before the change."""
    spec: FleetDef | None = None
    """The fleet's spec after the change (spec edits, drains, pins, the second fleet's creation)."""
    process: str | None = None
    """The process started (join, duplicate, second-fleet) or stopped (kill, second-fleet-gone)."""
    identity: str | None = None
    app: str | None = None
    """relabel: the application (its name; it lives in ``tier``)."""
    value: str | None = None
    """relabel: the routing label's new value."""
    touches: tuple[str, ...] = ()
    """The namespaces, values and shards the change concerns."""
    pause: float = 0.0


@dataclass(frozen=True, slots=True)
class Plan:
    seed: int
    config: PlanConfig
    initial: dict[str, FleetDef]
    """``ns`` and ``tier`` at the start."""
    members: dict[str, tuple[str, ...]]
    """Fleet -> the processes (named by identity) started before the first change."""
    changes: tuple[Change, ...]

    @property
    def apps(self) -> list[AppSpec]:
        return [app for change in self.changes for app in change.apps]

    def namespaces(self) -> list[str]:
        """Every namespace of ``ns`` the plan ever uses (logical names), in order of appearance."""
        seen = dict.fromkeys(ns for _, items in self.initial[NS_FLEET].shards for ns in items)
        for change in self.changes:
            if change.fleet == NS_FLEET and change.spec is not None:
                seen.update(dict.fromkeys(ns for _, items in change.spec.shards for ns in items))
        return list(seen)

    def kinds(self) -> Counter[str]:
        return Counter(c.kind for c in self.changes)


# -- the state the generator walks -------------------------------------------------------------


@dataclass
class _Proc:
    name: str
    identity: str
    original: bool
    """False for a second process started with an identity already in use."""
    alive: bool = True


@dataclass
class _Fleet:
    name: str
    shards: dict[str, list[str]]
    pins: dict[str, str] = field(default_factory=dict)
    drain: list[str] = field(default_factory=list)
    procs: list[_Proc] = field(default_factory=list)
    catch_all: str | None = None
    removed_names: list[str] = field(default_factory=list)
    serial: int = 0
    member_serial: int = 0

    def definition(self) -> FleetDef:
        return FleetDef(
            shards=tuple((name, tuple(items)) for name, items in self.shards.items()),
            pins=tuple(sorted(self.pins.items())),
            drain=tuple(self.drain),
            catch_all=self.catch_all,
        )

    def live(self) -> list[str]:
        """Identities whose original process lives (a duplicate never counts)."""
        return [p.identity for p in self.procs if p.original and p.alive]

    def serving(self) -> list[str]:
        return [m for m in self.live() if m not in self.drain]

    def live_procs(self) -> list[_Proc]:
        return [p for p in self.procs if p.alive]

    def new_shard_name(self, rng: random.Random) -> str:
        reusable = [n for n in self.removed_names if n not in self.shards]
        if reusable and rng.random() < 0.3:  # a name back with another definition
            return rng.choice(reusable)
        self.serial += 1
        return f"s{self.serial}"

    def drop_shard(self, name: str) -> None:
        del self.shards[name]
        self.pins.pop(name, None)
        self.removed_names.append(name)


class _Generator:
    def __init__(self, seed: int, config: PlanConfig):
        self.rng = random.Random(seed)
        self.config = config
        namespaces = [f"ns{i:02d}" for i in range(config.namespaces)]
        values = list(VALUE_NAMES[: config.values])
        self.fleets = {
            NS_FLEET: _Fleet(NS_FLEET, _split_evenly(namespaces, config.ns_shards)),
            TIER_FLEET: _Fleet(TIER_FLEET, _split_evenly(values, config.tier_shards)),
        }
        for fleet in self.fleets.values():
            fleet.serial = len(fleet.shards)
        for fleet_name, count in zip(MEMBER_FLEETS, config.members, strict=True):
            for _ in range(count):
                self._new_member(self.fleets[fleet_name])
        self.second: _Fleet | None = None
        self.second_serial = 0
        self.next_namespace = config.namespaces
        self.next_value = config.values
        self.app_serial = 0
        self.tier_apps: list[tuple[int, str, str]] = []  # (created at change, name, value now)
        self.index = 0

    def _new_member(self, fleet: _Fleet) -> _Proc:
        fleet.member_serial += 1
        proc = _Proc(f"{fleet.name}-m{fleet.member_serial}", f"{fleet.name}-m{fleet.member_serial}", True)
        fleet.procs.append(proc)
        return proc

    # -- feasibility and the draw --------------------------------------------------------------

    def feasible(self, kind: str, fleet: _Fleet) -> bool:
        splittable = any(len(items) >= 2 for items in fleet.shards.values())
        many = len(fleet.shards) >= 2
        room = len(fleet.shards) < self.config.max_shards
        live, serving = fleet.live(), fleet.serving()
        if kind == "move":
            return splittable and many
        if kind == "split":
            return splittable and room
        if kind in ("merge", "remove-shard"):
            return many
        if kind == "add-shard":
            return room
        if kind == "relabel":
            recent = self._recent_tier_apps()
            return (
                fleet.name == TIER_FLEET and bool(recent) and sum(len(i) for i in fleet.shards.values()) >= 2
            )
        if kind == "kill":
            return len(serving) >= 2 or any(
                not p.original or p.identity not in serving for p in fleet.live_procs()
            )
        crowded = len(fleet.live_procs()) > self.config.max_members  # duplicates included
        if kind == "join":
            return len(live) < self.config.max_members and not crowded
        if kind == "drain":
            return len(serving) >= 2
        if kind == "undrain":
            return bool(fleet.drain)
        if kind == "pin":
            return bool(self._new_pins(fleet))
        if kind == "unpin":
            return bool(fleet.pins)
        if kind == "duplicate":
            doubled = {p.identity for p in fleet.live_procs() if not p.original}
            return any(m not in doubled for m in live) and not crowded
        if kind == "second-fleet":
            return self.second is None and fleet.name == NS_FLEET
        if kind == "second-fleet-gone":
            return self.second is not None and fleet.name == NS_FLEET
        raise AssertionError(kind)

    def draw(self) -> tuple[str, _Fleet]:
        options: list[tuple[str, _Fleet]] = []
        weights: list[float] = []
        for kind in self.config.kinds:
            for fleet_name in MEMBER_FLEETS:
                fleet = self.fleets[fleet_name]
                weight = self.config.weights.get(kind, 0.0)
                if kind == "relabel" and fleet_name == NS_FLEET:
                    continue
                if weight > 0 and self.feasible(kind, fleet):
                    options.append((kind, fleet))
                    # relabel and the second fleet exist for one fleet only: the same share in all
                    weights.append(
                        weight * (2 if kind in ("relabel", "second-fleet", "second-fleet-gone") else 1)
                    )
        if not options:
            raise ValueError(f"no kind of change among {', '.join(self.config.kinds)} is possible now")
        return self.rng.choices(options, weights=weights)[0]

    def _recent_tier_apps(self) -> list[tuple[int, str, str]]:
        horizon = self.index - self.config.relabel_window
        return [a for a in self.tier_apps if a[0] >= horizon]

    # -- the plan ---------------------------------------------------------------------------

    def plan(self, seed: int) -> Plan:
        initial = {name: fleet.definition() for name, fleet in self.fleets.items()}
        members = {name: tuple(p.name for p in fleet.procs) for name, fleet in self.fleets.items()}
        changes = []
        for index in range(self.config.changes):
            self.index = index
            apps = self._apps()
            kind, fleet = self.draw()
            change = getattr(self, "_" + kind.replace("-", "_"))(fleet)
            pause = round(self.rng.uniform(*self.config.pause), 2)
            changes.append(replace(change, index=self.index, apps=apps, pause=pause))
        return Plan(seed, self.config, initial, members, tuple(changes))

    def _apps(self) -> tuple[AppSpec, ...]:
        apps = []
        for _ in range(self.rng.randint(*self.config.apps_per_change)):
            self.app_serial += 1
            name = f"app-{self.app_serial:04d}"
            if self.rng.random() < 0.5:
                ns = self.rng.choice(
                    sorted(i for items in self.fleets[NS_FLEET].shards.values() for i in items)
                )
                run = round(self.rng.uniform(*self.config.ns_run_seconds), 1)
                apps.append(AppSpec(name, NS_FLEET, ns, None, run))
            else:
                values = sorted(i for items in self.fleets[TIER_FLEET].shards.values() for i in items)
                value = self.rng.choice(values)
                run = round(self.rng.uniform(*self.config.tier_run_seconds), 1)
                apps.append(AppSpec(name, TIER_FLEET, TIER_NAMESPACE, value, run))
                self.tier_apps.append((self.index, name, value))
        return tuple(apps)

    def _spec_change(self, kind: str, fleet: _Fleet, summary: str, touches: tuple[str, ...]) -> Change:
        return Change(self.index, kind, fleet.name, summary, spec=fleet.definition(), touches=touches)

    # -- spec edits ---------------------------------------------------------------------------

    def _move(self, fleet: _Fleet) -> Change:
        source = self.rng.choice(sorted(n for n, items in fleet.shards.items() if len(items) >= 2))
        target = self.rng.choice(sorted(n for n in fleet.shards if n != source))
        item = self.rng.choice(fleet.shards[source])
        fleet.shards[source].remove(item)
        fleet.shards[target].append(item)
        what = "namespace" if fleet.name == NS_FLEET else "value"
        return self._spec_change(
            "move", fleet, f"move {what} {item} from shard {source} to {target}", (item, source, target)
        )

    def _split(self, fleet: _Fleet) -> Change:
        source = self.rng.choice(sorted(n for n, items in fleet.shards.items() if len(items) >= 2))
        items = fleet.shards[source]
        cut = self.rng.randint(1, len(items) - 1)
        moved = items[cut:]
        fleet.shards[source] = items[:cut]
        name = fleet.new_shard_name(self.rng)
        fleet.shards[name] = moved
        return self._spec_change(
            "split",
            fleet,
            f"split shard {source}: {', '.join(moved)} to new shard {name}",
            (source, name, *moved),
        )

    def _merge(self, fleet: _Fleet) -> Change:
        keep, gone = self.rng.sample(sorted(fleet.shards), 2)
        moved = fleet.shards[gone]
        fleet.shards[keep] = fleet.shards[keep] + moved
        fleet.drop_shard(gone)
        return self._spec_change(
            "merge", fleet, f"merge shard {gone} ({', '.join(moved)}) into {keep}", (keep, gone, *moved)
        )

    def _add_shard(self, fleet: _Fleet) -> Change:
        if fleet.name == NS_FLEET:
            item = f"ns{self.next_namespace:02d}"
            self.next_namespace += 1
        else:
            item = f"t{self.next_value:02d}"
            self.next_value += 1
        name = fleet.new_shard_name(self.rng)
        fleet.shards[name] = [item]
        return self._spec_change("add-shard", fleet, f"add shard {name} with new {item}", (name, item))

    def _remove_shard(self, fleet: _Fleet) -> Change:
        gone = self.rng.choice(sorted(fleet.shards))
        items = fleet.shards[gone]
        fleet.drop_shard(gone)
        spread = []
        for item in items:
            target = self.rng.choice(sorted(fleet.shards))
            fleet.shards[target].append(item)
            spread.append(f"{item} to {target}")
        return self._spec_change(
            "remove-shard", fleet, f"remove shard {gone}: {', '.join(spread)}", (gone, *items)
        )

    # -- applications -------------------------------------------------------------------------

    def _relabel(self, fleet: _Fleet) -> Change:
        recent = self._recent_tier_apps()
        index, name, value = self.rng.choice(recent)
        here = fleet.definition().shard_of(value)
        elsewhere = sorted(i for n, items in fleet.shards.items() if n != here for i in items)
        values = elsewhere or sorted(i for items in fleet.shards.values() for i in items if i != value)
        new = self.rng.choice(values)  # to another shard, whenever there is one
        position = self.tier_apps.index((index, name, value))
        self.tier_apps[position] = (index, name, new)
        return Change(
            self.index, "relabel", fleet.name,
            f"relabel application {name}: {ROUTING_LABEL} {value} -> {new} "
            f"(shard {fleet.definition().shard_of(value)} -> {fleet.definition().shard_of(new)})",
            app=name, value=new, touches=(name, value, new),
        )  # fmt: skip

    # -- members ------------------------------------------------------------------------------

    def _kill(self, fleet: _Fleet) -> Change:
        serving = fleet.serving()
        victims = [
            p for p in fleet.live_procs() if not p.original or len(serving) >= 2 or p.identity not in serving
        ]
        victim = self.rng.choice(victims)
        victim.alive = False  # a duplicate of a killed member may serve on: the plan does not count on it
        what = f"kill -9 {victim.name}" + ("" if victim.original else " (a duplicate)")
        return Change(
            self.index, "kill", fleet.name, what,
            process=victim.name, identity=victim.identity, touches=(victim.identity,),
        )  # fmt: skip

    def _join(self, fleet: _Fleet) -> Change:
        busy = {p.identity for p in fleet.procs if p.alive}
        dead = sorted({p.identity for p in fleet.procs if p.original} - busy)
        if dead and self.rng.random() < 0.3:  # a replacement with the same name (a StatefulSet's)
            identity = self.rng.choice(dead)
            count = sum(1 for p in fleet.procs if p.identity == identity)
            proc = _Proc(f"{identity}.{count + 1}", identity, True)
            fleet.procs.append(proc)
        else:
            proc = self._new_member(fleet)
        return Change(
            self.index, "join", fleet.name, f"start {proc.name} (identity {proc.identity})",
            process=proc.name, identity=proc.identity, touches=(proc.identity,),
        )  # fmt: skip

    def _drain(self, fleet: _Fleet) -> Change:
        member = self.rng.choice(fleet.serving())
        fleet.drain.append(member)
        return self._spec_change("drain", fleet, f"drain {member}", (member,))

    def _undrain(self, fleet: _Fleet) -> Change:
        member = self.rng.choice(fleet.drain)
        fleet.drain.remove(member)
        return self._spec_change("undrain", fleet, f"undrain {member}", (member,))

    def _pin(self, fleet: _Fleet) -> Change:
        shard, member = self.rng.choice(self._new_pins(fleet))
        fleet.pins[shard] = member
        return self._spec_change("pin", fleet, f"pin shard {shard} to {member}", (shard, member))

    @staticmethod
    def _new_pins(fleet: _Fleet) -> list[tuple[str, str]]:
        """(shard, live member) pairs not pinned already."""
        return [(s, m) for s in sorted(fleet.shards) for m in fleet.live() if fleet.pins.get(s) != m]

    def _unpin(self, fleet: _Fleet) -> Change:
        shard = self.rng.choice(sorted(fleet.pins))
        member = fleet.pins.pop(shard)
        return self._spec_change("unpin", fleet, f"unpin shard {shard} (from {member})", (shard, member))

    def _duplicate(self, fleet: _Fleet) -> Change:
        doubled = {p.identity for p in fleet.live_procs() if not p.original}
        identity = self.rng.choice([m for m in fleet.live() if m not in doubled])
        count = sum(1 for p in fleet.procs if p.identity == identity)
        proc = _Proc(f"{identity}.{count + 1}", identity, False)
        fleet.procs.append(proc)
        return Change(
            self.index, "duplicate", fleet.name,
            f"start {proc.name}: a second process with identity {identity}, already in use",
            process=proc.name, identity=identity, touches=(identity,),
        )  # fmt: skip

    # -- the second fleet ---------------------------------------------------------------------

    def _second_fleet(self, fleet: _Fleet) -> Change:
        namespaces = sorted(i for items in fleet.shards.values() for i in items)
        taken = self.rng.sample(namespaces, self.rng.randint(1, min(3, len(namespaces))))
        self.second_serial += 1
        shards = {f"x{n}": [ns] for n, ns in enumerate(taken)}
        catch_all = "rest" if self.rng.random() < 0.5 else None
        self.second = _Fleet(SECOND_FLEET, shards, catch_all=catch_all)
        identity = f"{SECOND_FLEET}-m{self.second_serial}"
        self.second.procs.append(_Proc(identity, identity, True))
        return Change(
            self.index, "second-fleet", SECOND_FLEET,
            f"create fleet {SECOND_FLEET} over {', '.join(taken)}"
            + (" with a catch-all" if catch_all else "") + f", and its member {identity}",
            spec=self.second.definition(), process=identity, identity=identity, touches=tuple(taken),
        )  # fmt: skip

    def _second_fleet_gone(self, fleet: _Fleet) -> Change:
        assert self.second is not None
        proc = self.second.procs[0]
        self.second = None
        return Change(
            self.index, "second-fleet-gone", SECOND_FLEET,
            f"delete fleet {SECOND_FLEET} and kill -9 its member {proc.name}",
            process=proc.name, identity=proc.identity,
        )  # fmt: skip


def _split_evenly(items: list[str], parts: int) -> dict[str, list[str]]:
    return {f"s{p + 1}": items[p::parts] for p in range(parts)}


def make_plan(seed: int, config: PlanConfig | None = None) -> Plan:
    """The whole plan of changes for ``seed``: the same seed and config give the same plan."""
    config = config or PlanConfig()
    return _Generator(seed, config).plan(seed)


__all__ = [
    "KINDS",
    "AppSpec",
    "Change",
    "FleetDef",
    "Plan",
    "PlanConfig",
    "make_plan",
]
