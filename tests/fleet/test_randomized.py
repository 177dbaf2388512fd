"""The randomized fleet test: a seeded random plan of changes (spec edits, routing-label changes on
running applications, members killed, joined, drained, pinned, started twice with one identity, a
second fleet over the first) while applications flow; every application must complete, none be
submitted twice, and no object be reconciled by two processes at once.

The seed is printed and named in every failure; ``SPARKFLEET_RANDOM_SEED=<seed>`` replays the
plan exactly (the timing of the processes is theirs). ``SPARKFLEET_RANDOM_KINDS=move,kill`` draws
from fewer kinds of change, to chase one failure; the default is every kind. ``make chaos`` runs
the same thing long (the ``random-changes`` scenario).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkfleet.api import crd
from sparkfleet.chaos.random_changes import PlanConfig, make_plan
from sparkfleet.chaos.random_fleet import RunSettings, kinds_from_env, run, seed_from_env
from sparkfleet.kube import ClientSettings
from sparkfleet.testing import ControlPlane

pytestmark = pytest.mark.timeout(420)

SHORT = PlanConfig(changes=30)


async def test_random_changes_lose_nothing_submit_once_and_never_overlap(tmp_path: Path) -> None:
    seed = seed_from_env()
    plan = make_plan(seed, PlanConfig(changes=SHORT.changes, kinds=kinds_from_env()))
    print(f"\nseed {seed}: {dict(sorted(plan.kinds().items()))}, {len(plan.apps)} applications")
    # A control plane of its own (as the chaos scenarios have): the second fleet's catch-all and the
    # pod simulator see the whole cluster, and no other test's objects may be in it.
    async with ControlPlane(tmp_path / "controlplane") as control_plane:
        await control_plane.install_crds(crd.generate().values())
        async with await control_plane.client(ClientSettings(qps=0, burst=0)) as client:
            result = await run(plan, control_plane, client, tmp_path / "run", RunSettings(cleanup=False))
    print(result.report())
    assert result.apps == len(plan.apps)
    assert not result.failures, result.report()
    assert result.completed == result.apps, result.report()
