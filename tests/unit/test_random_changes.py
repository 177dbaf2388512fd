"""The randomized fleet test's plan of changes: the same seed gives the same plan, every kind shows up,
and every change is valid for the state the plan is in (replayed here step by step)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from sparkfleet.api.fleet import SparkFleetSpec
from sparkfleet.chaos.random_changes import (
    KINDS,
    MEMBER_FLEETS,
    NS_FLEET,
    ROUTING_LABEL,
    SECOND_FLEET,
    TIER_FLEET,
    Change,
    FleetDef,
    Plan,
    PlanConfig,
    make_plan,
)
from sparkfleet.sharding.shards import compile_shards

SEEDS = range(12)
LONG = PlanConfig(changes=200)


def test_same_seed_same_plan() -> None:
    assert asdict(make_plan(7, LONG)) == asdict(make_plan(7, LONG))


def test_other_seed_other_plan() -> None:
    assert [c.summary for c in make_plan(7, LONG).changes] != [c.summary for c in make_plan(8, LONG).changes]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_kind_appears_over_a_long_plan(seed: int) -> None:
    plan = make_plan(seed, LONG)
    assert len(plan.changes) == 200
    assert set(plan.kinds()) == set(KINDS), plan.kinds()


def test_kinds_can_be_restricted() -> None:
    plan = make_plan(3, PlanConfig(changes=50, kinds=("move", "kill", "join")))
    assert set(plan.kinds()) <= {"move", "kill", "join"}
    assert len(plan.changes) == 50


def test_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"kinds: unknown kind.*teleport"):
        PlanConfig(kinds=("move", "teleport"))


def test_a_kind_that_can_never_happen_is_said_so() -> None:
    with pytest.raises(ValueError, match="no kind of change among unpin is possible now"):
        make_plan(1, PlanConfig(changes=3, kinds=("unpin",)))


def _spec(fleet: str, definition: FleetDef) -> SparkFleetSpec:
    form = "values" if fleet == TIER_FLEET else "namespaces"
    raw = {k: v for k, v in definition.spec(form, "p-").items() if v is not None}
    if fleet == TIER_FLEET:
        raw["routingLabel"] = ROUTING_LABEL
    return SparkFleetSpec.model_validate(raw)


class Replay:
    """The world as the plan leaves it after each change, rebuilt from the changes alone."""

    def __init__(self, plan: Plan):
        self.specs: dict[str, FleetDef] = dict(plan.initial)
        self.procs: dict[str, tuple[str, str, bool]] = {}  # process -> (fleet, identity, original)
        self.alive: set[str] = set()
        self.labels: dict[str, str] = {}  # tier application -> routing value now
        for fleet, procs in plan.members.items():
            for proc in procs:
                self.procs[proc] = (fleet, proc, True)
                self.alive.add(proc)

    def live(self, fleet: str) -> set[str]:
        """Identities of ``fleet`` whose first process of that identity started lives (not a duplicate)."""
        return {
            identity
            for p, (f, identity, original) in self.procs.items()
            if f == fleet and original and p in self.alive
        }

    def items(self, fleet: str) -> list[str]:
        return [i for _, items in self.specs[fleet].shards for i in items]

    def apply(self, change: Change) -> None:
        for app in change.apps:  # created where a shard serves it
            if app.fleet == NS_FLEET:
                assert app.namespace in self.items(NS_FLEET), (change, app)
                assert app.tier is None
            else:
                assert app.tier in self.items(TIER_FLEET), (change, app)
                self.labels[app.name] = app.tier
        kind = change.kind
        if change.spec is not None:
            if kind == "second-fleet":
                assert SECOND_FLEET not in self.specs, change
                named = {i for _, items in change.spec.shards for i in items}
                assert named, change
                assert named <= set(self.items(NS_FLEET)), change  # over the first's namespaces
            else:
                self._check_spec_step(change)
            self.specs[change.fleet] = change.spec
        if kind in ("join", "duplicate", "second-fleet"):
            assert change.process is not None
            assert change.identity is not None
            assert change.process not in self.procs, change
            if kind == "duplicate":
                assert change.identity in self.live(change.fleet), change
            if kind == "join":
                assert change.identity not in {i for p, (_, i, _) in self.procs.items() if p in self.alive}, (
                    change
                )
            self.procs[change.process] = (change.fleet, change.identity, kind != "duplicate")
            self.alive.add(change.process)
        if kind in ("kill", "second-fleet-gone"):
            assert change.process in self.alive, change
            self.alive.discard(change.process)
        if kind == "second-fleet-gone":
            assert SECOND_FLEET in self.specs
            del self.specs[SECOND_FLEET]
        if kind == "relabel":
            assert change.app in self.labels, change
            assert change.value in self.items(TIER_FLEET), change
            assert change.value != self.labels[change.app], change
            self.labels[change.app] = change.value
        self.check()

    def _check_spec_step(self, change: Change) -> None:
        assert change.spec is not None
        old, new = self.specs[change.fleet], change.spec
        old_items, new_items = self.items(change.fleet), [i for _, items in new.shards for i in items]
        if change.kind == "add-shard":
            assert len(new_items) == len(old_items) + 1, change
            assert set(old_items) < set(new_items), change
        else:  # nothing is ever dropped from a fleet: an application there would be stranded
            assert sorted(old_items) == sorted(new_items), change
        if change.kind in ("drain", "undrain", "pin", "unpin"):
            assert old.shards == new.shards, change
        if change.kind == "pin":
            pinned = dict(new.pins)
            changed = [s for s, m in pinned.items() if dict(old.pins).get(s) != m]
            assert len(changed) == 1, change
            assert pinned[changed[0]] in self.live(change.fleet), change
        if change.kind == "drain":
            assert set(new.drain) - set(old.drain) <= self.live(change.fleet), change

    def check(self) -> None:
        for fleet in MEMBER_FLEETS:
            spec = self.specs[fleet]
            items = self.items(fleet)
            assert len(items) == len(set(items)), spec  # in exactly one shard
            assert all(items for _, items in spec.shards), spec
            shard_names = [name for name, _ in spec.shards]
            assert len(shard_names) == len(set(shard_names)), spec
            assert {s for s, _ in spec.pins} <= set(shard_names), spec  # pins name shards that exist
            _, problems = compile_shards(_spec(fleet, spec))
            assert not problems, (spec, problems)
            serving = self.live(fleet) - set(spec.drain)
            assert serving, (fleet, spec, self.alive)  # someone can finish the applications
            assert len(self.live(fleet)) <= LONG.max_members
            processes = [p for p, (f, _, _) in self.procs.items() if f == fleet and p in self.alive]
            assert len(processes) <= LONG.max_members + 1, processes
            assert len(spec.shards) <= LONG.max_shards


@pytest.mark.parametrize("seed", SEEDS)
def test_every_change_is_valid_for_the_state_it_finds(seed: int) -> None:
    plan = make_plan(seed, LONG)
    replay = Replay(plan)
    replay.check()
    for change in plan.changes:
        replay.apply(change)


@pytest.mark.parametrize("seed", SEEDS)
def test_relabels_mostly_move_an_application_to_another_shard_while_it_likely_runs(seed: int) -> None:
    plan = make_plan(seed, LONG)
    created_at: dict[str, int] = {}
    labels: dict[str, str] = {}
    tier = plan.initial[TIER_FLEET]
    relabels = crossing = 0
    for change in plan.changes:
        for app in change.apps:
            created_at[app.name] = change.index
            if app.tier is not None:
                labels[app.name] = app.tier
        if change.kind == "relabel":
            assert change.app is not None
            assert change.value is not None
            assert change.index - created_at[change.app] <= LONG.relabel_window, change
            relabels += 1
            crossing += tier.shard_of(labels[change.app]) != tier.shard_of(change.value)
            labels[change.app] = change.value
        if change.fleet == TIER_FLEET and change.spec is not None:
            tier = change.spec
    assert relabels >= 10
    assert crossing >= relabels // 2, (crossing, relabels)


def test_the_spec_a_change_carries_is_what_the_api_takes() -> None:
    plan = make_plan(5, LONG)
    for change in plan.changes:
        if change.spec is not None:
            fleet = change.fleet if change.fleet != SECOND_FLEET else NS_FLEET
            spec = _spec(fleet, change.spec)
            assert [s.name for s in spec.shards][: len(change.spec.shards)] == [
                n for n, _ in change.spec.shards
            ]
            if change.kind == "second-fleet" and change.spec.catch_all:
                assert spec.shards[-1].catch_all


def test_pause_and_apps_stay_in_their_ranges() -> None:
    config = PlanConfig(changes=100, pause=(0.5, 1.0), apps_per_change=(0, 3))
    plan = make_plan(11, config)
    assert all(0.5 <= c.pause <= 1.0 for c in plan.changes)
    assert all(0 <= len(c.apps) <= 3 for c in plan.changes)
    names = [a.name for a in plan.apps]
    assert len(names) == len(set(names))
    namespaces = plan.namespaces()
    assert set(namespaces[: config.namespaces]) == {f"ns{i:02d}" for i in range(config.namespaces)}
    added = [c for c in plan.changes if c.kind == "add-shard" and c.fleet == NS_FLEET]
    assert len(namespaces) == config.namespaces + len(added)
