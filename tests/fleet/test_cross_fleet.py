"""Two fleets, one namespace: a catch-all hands a namespace over to the fleet that names it, and no
object is reconciled by both (DESIGN rule 7).

Fleet ``shared`` has a catch-all over its job namespaces, ``y`` among them; fleet ``team`` is created
later and names ``y``. The catch-all must leave ``y`` out before ``team`` serves it: ``team`` waits,
saying so in its Overlap condition, until ``shared``'s status confirms (``catchAllExcludes``) that the
holder of its catch-all serves a scope without ``y``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.kube import KubeClient
from sparkfleet.operator.audit import overlaps
from sparkfleet.testing import ControlPlane
from tests.fleet.harness import FleetUnderTest
from tests.support import eventually

pytestmark = pytest.mark.timeout(300)


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


async def test_a_catch_all_hands_a_namespace_over_to_the_fleet_that_names_it_later(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> None:
    stem = f"xf-{uuid.uuid4().hex[:5]}"
    own, y = f"{stem}-own", f"{stem}-y"
    shared = FleetUnderTest(control_plane, kube, tmp_path / "shared", name="shared", namespace=f"{stem}-s",
                            shard_specs=[{"name": "own", "namespaces": [own]}, {"name": "rest", "catchAll": True}],
                            app_namespaces=[own, y])  # fmt: skip
    team = FleetUnderTest(control_plane, kube, tmp_path / "team", name="team", namespace=f"{stem}-t",
                          shard_specs=[{"name": "y", "namespaces": [y]}], app_namespaces=[y], kubelet=False)  # fmt: skip
    (tmp_path / "shared").mkdir()
    (tmp_path / "team").mkdir()
    await shared.create()
    try:
        await shared.start("s1")
        await shared.wait_settled(["s1"])

        async def excludes(wanted: list[str]) -> bool:
            return (await shared.status()).get("catchAllExcludes") == wanted

        # its catch-all serves y, and its holder says it leaves out nothing (on its next renewal)
        await eventually(
            lambda: excludes([]), what="the shared fleet to say what its catch-all leaves out", timeout=60.0
        )
        shared.app_namespaces = [y]
        before = await shared.create_apps(per_namespace=2, prefix="before")
        shared.app_namespaces = [own, y]
        await shared.wait_audited(before)
        assert {line["member"] for line in shared.audit()} == {"s1"}

        await team.create()
        await team.start("t1")

        async def waiting() -> dict[str, Any] | None:
            status = await team.status()
            return status if condition(status, "Overlap").get("reason") == "WaitingForRelease" else None

        async def waiting_or_released() -> dict[str, Any] | bool | None:
            # The catch-all's definition changed (it leaves y out now): its holder may re-scope in
            # place (DESIGN rule 4) before the team fleet's coordinator wrote that it waits.
            return await waiting() or await excludes([y])

        status = await eventually(
            waiting_or_released, what="the team fleet to wait for the catch-all", timeout=60.0
        )
        if isinstance(status, dict):
            assert condition(status, "Overlap")["message"] == (
                f"shard y is waiting for fleet {shared.namespace}/shared's catch-all to release {y}"
            )
            assert not [s for s in status.get("shards") or [] if s.get("phase") == "Held"]
            assert not team.audit()  # nothing served meanwhile

        # The catch-all's holder serves the narrower scope once it claims it anew (a restart here;
        # a re-scope in place works the same way): it confirms, and only then the team fleet serves y.
        assert await shared.terminate("s1") == 0
        await shared.start("s2")

        await eventually(
            lambda: excludes([y]), what="the shared fleet to confirm it leaves y out", timeout=60.0
        )
        status = await team.wait_settled(["t1"])
        assert condition(status, "Overlap")["reason"] == "NoOverlap"

        team.app_namespaces = [y]
        after = await team.create_apps(per_namespace=2, prefix="after")
        await team.wait_audited(after)
        lines = shared.audit() + team.audit()
        assert {line["member"] for line in lines if line["key"].split("/")[1].startswith("after")} == {"t1"}
        assert not overlaps(lines), overlaps(lines)[:3]
        # the applications the catch-all reconciled before keep their holder's word: none is served twice
        assert not [
            line for line in shared.audit() if line["member"] == "s2" and line["key"].startswith(f"{y}/")
        ]
    finally:
        await team.close()
        await shared.close()
