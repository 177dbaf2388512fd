"""Fleet members in one process against the real API server: fencing, takeover, invalid specs, overlap.

The members drive a recording host instead of the Spark controllers, so the
test sees exactly when each member starts and stops serving each shard; a
shared registry fails the test the moment two members serve one shard.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import LEASES
from sparkfleet.kube.scope import Scope
from sparkfleet.sharding.leases import ANNOTATION_NONCE
from sparkfleet.sharding.member import FleetMember
from sparkfleet.testing import ControlPlane, TcpProxy
from tests.support import eventually, spark_crds

LEASE = {"durationSeconds": 4, "renewDeadlineSeconds": 3, "retryPeriodSeconds": 1}


@dataclass
class Registry:
    """Who serves each shard right now, across every member of the test."""

    serving: dict[str, str] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)


class RecordingHost:
    def __init__(self, name: str, registry: Registry):
        self.name = name
        self.registry = registry
        self.serving: dict[str, float] = {}
        self.drops: list[float] = []
        self.warmed: set[str] = set()

    async def add_scope(self, scope: Scope) -> None:
        other = self.registry.serving.get(scope.name)
        if other is not None and other != self.name:
            self.registry.violations.append(f"{self.name} started {scope.name} while {other} served it")
        self.registry.serving[scope.name] = self.name
        self.serving[scope.name] = time.monotonic()

    def prepare_scope(self, scope: Scope) -> None:
        self.warmed.add(scope.name)  # caches only: serving starts at add_scope

    async def unprepare_scope(self, name: str) -> None:
        self.warmed.discard(name)

    def _stop(self, name: str) -> None:
        self.serving.pop(name, None)
        if self.registry.serving.get(name) == self.name:
            del self.registry.serving[name]

    async def remove_scope(self, name: str, timeout: float) -> int:
        self._stop(name)
        return 0

    def drop_all(self) -> None:
        self.drops.append(time.monotonic())
        for name in list(self.serving):
            self._stop(name)
            self.warmed.add(name)  # the real host keeps the caches, gates closed

    def objects(self, name: str) -> int:
        return 1

    def backlog(self, name: str) -> int:
        return 0


def fleet_object(namespace: str, name: str, shards: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": SPARK_FLEETS.api_version,
        "kind": "SparkFleet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"shards": shards, "lease": LEASE},
    }


def ns_shards(count: int, prefix: str = "team") -> list[dict[str, Any]]:
    return [{"name": f"{prefix}-{i}", "namespaces": [f"{prefix}-{i}-ns"]} for i in range(count)]


@pytest.fixture
async def fleet_crd(control_plane: ControlPlane) -> None:
    await control_plane.install_crds(spark_crds())


@pytest.fixture(autouse=True)
async def _remove_fleets(kube: KubeClient, namespace: str) -> AsyncIterator[None]:
    """Each test's fleets go when it ends, not later with its namespace: the tests reuse namespace
    names (team-0-ns, ...), and a fleet still naming them would be the earlier claim."""
    yield
    with contextlib.suppress(ApiError):
        for fleet in (await kube.list(SPARK_FLEETS, namespace)).get("items") or []:
            with contextlib.suppress(ApiError):
                await kube.delete(SPARK_FLEETS, fleet["metadata"]["name"], namespace)


async def until(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Waits for ``predicate()``; returns the seconds it took."""
    started = time.monotonic()
    await eventually(predicate, what=what, timeout=timeout, interval=0.05)
    return time.monotonic() - started


async def status_of(kube: KubeClient, namespace: str, name: str = "fleet") -> dict[str, Any]:
    return (await kube.get(SPARK_FLEETS, name, namespace)).get("status") or {}


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), {})


async def condition_becomes(
    kube: KubeClient, namespace: str, kind: str, wanted: str, timeout: float = 15.0
) -> dict[str, Any]:
    """The fleet's status once its ``kind`` condition has status ``wanted``."""
    deadline = time.monotonic() + timeout
    while condition(status := await status_of(kube, namespace), kind).get("status") != wanted:
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.1)
    return status


async def start(member: FleetMember, members: list[FleetMember]) -> FleetMember:
    await member.start()
    members.append(member)
    return member


async def stop_all(members: list[FleetMember]) -> None:
    for member in members:
        with contextlib.suppress(Exception):
            await member.shutdown(timeout=3)


async def test_a_member_that_cannot_renew_stops_at_once_and_its_shards_move(
    fleet_crd: None, kube: KubeClient, namespace: str, proxied: tuple[KubeClient, TcpProxy]
) -> None:
    cut_client, proxy = proxied
    await kube.create(SPARK_FLEETS, fleet_object(namespace, "fleet", ns_shards(4)))
    registry = Registry()
    a_host, b_host = RecordingHost("a", registry), RecordingHost("b", registry)
    members: list[FleetMember] = []
    try:
        a = await start(
            FleetMember(cut_client, a_host, fleet="fleet", namespace=namespace, identity="a"), members
        )
        b = await start(FleetMember(kube, b_host, fleet="fleet", namespace=namespace, identity="b"), members)
        await until(
            lambda: len(a.serving) + len(b.serving) == 4 and a.serving and b.serving, 20, "both serve"
        )
        held_by_a = set(a.serving)

        proxy.cut()
        cut_at = time.monotonic()
        await until(lambda: bool(a_host.drops), 10, "a fences itself")
        fenced_after = a_host.drops[0] - cut_at
        assert fenced_after <= a.timing.renew_deadline + 0.5, fenced_after  # renewed at most a retry ago
        assert not a.serving
        assert not a_host.serving
        assert a_host.warmed >= held_by_a
        assert set(a.warming) >= held_by_a
        took = await until(lambda: set(b.serving) >= held_by_a, 15, "b takes a's shards")
        print(f"\nfenced {fenced_after:.2f}s after the cut; b served a's shards {took:.2f}s after the fence")
        assert a_host.drops[0] - cut_at + took <= a.timing.duration + 4

        proxy.heal()  # a renews, joins again, and the over-bound b hands some shards back gracefully
        await until(lambda: bool(a.serving) and len(a.serving) + len(b.serving) == 4, 20, "a serves again")
        await until(lambda: not a_host.warmed & set(b.serving), 10, "a drops the caches of b's shards")
        assert registry.violations == []
    finally:
        await stop_all(members)


async def test_an_invalid_spec_is_reported_and_the_last_valid_plan_kept(
    fleet_crd: None, kube: KubeClient, namespace: str
) -> None:
    await kube.create(SPARK_FLEETS, fleet_object(namespace, "fleet", ns_shards(3)))
    registry = Registry()
    members: list[FleetMember] = []
    try:
        member = await start(
            FleetMember(kube, RecordingHost("m", registry), fleet="fleet", namespace=namespace, identity="m"),
            members,
        )
        await until(lambda: len(member.serving) == 3, 20, "serving 3 shards")
        shards = [*ns_shards(3), {"name": "dup", "namespaces": ["team-1-ns"]}]  # already in team-1
        await kube.patch(
            SPARK_FLEETS, "fleet", {"spec": {"shards": shards}}, namespace
        )  # no CAS: status moves
        status = await condition_becomes(kube, namespace, "Invalid", "True")
        message = condition(status, "Invalid")["message"]
        assert "spec.shards[3].namespaces[0]" in message, message
        assert "team-1" in message, message
        assert len(member.serving) == 3  # nothing stopped because of a typo

        shards[3]["namespaces"] = ["elsewhere"]
        await kube.patch(SPARK_FLEETS, "fleet", {"spec": {"shards": shards}}, namespace)
        await until(lambda: len(member.serving) == 4, 20, "serving the fixed 4th shard")
        status = await condition_becomes(kube, namespace, "Invalid", "False")
        assert condition(status, "Ready")["status"] in ("True", "False")
    finally:
        await stop_all(members)


async def test_two_fleets_claiming_one_namespace_are_flagged(
    fleet_crd: None, kube: KubeClient, namespace: str
) -> None:
    await kube.create(SPARK_FLEETS, fleet_object(namespace, "fleet", ns_shards(2)))
    await kube.create(
        SPARK_FLEETS, fleet_object(namespace, "other", [{"name": "x", "namespaces": ["team-0-ns"]}])
    )
    members: list[FleetMember] = []
    try:
        await start(
            FleetMember(
                kube, RecordingHost("m", Registry()), fleet="fleet", namespace=namespace, identity="m"
            ),
            members,
        )
        status = await condition_becomes(kube, namespace, "Overlap", "True")
        assert "team-0-ns" in condition(status, "Overlap")["message"]
        assert "other" in condition(status, "Overlap")["message"]
    finally:
        await stop_all(members)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"shards": [{"name": "a", "namespaces": ["x"], "values": ["y"]}], "routingLabel": "team"},
            "exactly one of",
        ),
        ({"shards": [{"name": "a"}]}, "exactly one of"),
        (
            {
                "shards": [{"name": "a", "namespaces": ["x"]}],
                "lease": {"durationSeconds": 10, "renewDeadlineSeconds": 10},
            },
            "durationSeconds must be greater than renewDeadlineSeconds",
        ),
        (
            {
                "shards": [{"name": "a", "namespaces": ["x"]}],
                "lease": {"renewDeadlineSeconds": 2, "retryPeriodSeconds": 2},
            },
            "1.2 x retryPeriodSeconds",
        ),
        ({"shards": [{"name": "a", "values": ["x"]}]}, "need spec.routingLabel"),
        (
            {"shards": [{"name": "a", "namespaces": ["x"]}, {"name": "a", "namespaces": ["y"]}]},
            "Duplicate value",
        ),
        ({"shards": [{"name": "A_b", "namespaces": ["x"]}]}, "spec.shards[0].name"),
        ({"shards": [{"name": "a", "namespace": ["x"]}]}, 'unknown field "spec.shards[0].namespace"'),
    ],
)
async def test_the_api_server_refuses_bad_fleets_naming_the_field(
    fleet_crd: None, kube: KubeClient, namespace: str, spec: dict[str, Any], expected: str
) -> None:
    body = {"apiVersion": SPARK_FLEETS.api_version, "kind": "SparkFleet",
            "metadata": {"name": "bad", "namespace": namespace}, "spec": spec}  # fmt: skip
    with pytest.raises(ApiError) as caught:  # as kubectl sends it: unknown fields are errors
        await kube.request(
            "POST", SPARK_FLEETS.path(namespace), body=body, query={"fieldValidation": "Strict"}
        )
    assert caught.value.status in (400, 422)
    assert expected in caught.value.message, caught.value.message


class NamespaceHost(RecordingHost):
    """A recording host that also fails the test when two members serve one namespace at once."""

    def __init__(self, name: str, registry: Registry, namespaces: dict[str, str]):
        super().__init__(name, registry)
        self.namespaces = namespaces  # namespace -> member serving it, across every member
        self.scopes: dict[str, Scope] = {}

    async def add_scope(self, scope: Scope) -> None:
        await super().add_scope(scope)
        self.scopes[scope.name] = scope
        for watch in scope.watches:
            assert watch.namespace is not None
            other = self.namespaces.get(watch.namespace)
            if other is not None and other != self.name:
                self.registry.violations.append(
                    f"{self.name} started {watch.namespace} while {other} served it"
                )
            self.namespaces[watch.namespace] = self.name

    def _stop(self, name: str) -> None:
        scope = self.scopes.pop(name, None)
        for watch in scope.watches if scope is not None else ():
            if self.namespaces.get(watch.namespace or "") == self.name:
                del self.namespaces[watch.namespace or ""]
        super()._stop(name)

    def serves(self, namespace: str) -> bool:
        return any(w.namespace == namespace for s in self.scopes.values() for w in s.watches)


async def test_a_changed_shard_definition_is_never_served_by_two_members(
    fleet_crd: None, kube: KubeClient, namespace: str
) -> None:
    registry, namespaces = Registry(), dict[str, str]()
    one, two = NamespaceHost("m1", registry, namespaces), NamespaceHost("m2", registry, namespaces)
    shards = [{"name": "a", "namespaces": ["x1", "x2"]}, {"name": "b", "namespaces": ["y1"]}]
    fleet = fleet_object(namespace, "fleet", shards)
    fleet["spec"]["pins"] = {"a": "m1", "b": "m2"}
    await kube.create(SPARK_FLEETS, fleet)
    members: list[FleetMember] = []
    try:
        m1 = await start(FleetMember(kube, one, fleet="fleet", namespace=namespace, identity="m1"), members)
        m2 = await start(FleetMember(kube, two, fleet="fleet", namespace=namespace, identity="m2"), members)
        await until(lambda: one.serves("x2") and two.serves("y1"), 20, "a on m1, b on m2")

        async def edit(spec: dict[str, Any]) -> None:
            await kube.patch(SPARK_FLEETS, "fleet", {"spec": spec}, namespace)

        await edit(
            {"shards": [{"name": "a", "namespaces": ["x1"]}, {"name": "b", "namespaces": ["y1", "x2"]}]}
        )
        await until(
            lambda: two.serves("x2") and one.serves("x1") and not one.serves("x2"), 20, "x2 moved to b"
        )
        await edit({"pins": {"a": "m1", "b": "m1"}})
        await until(lambda: one.serves("x2") and one.serves("y1") and not two.scopes, 20, "b pinned to m1")
        # renamed and merged: one shard "all" replaces a and b, pinned to m2 (a merge patch: None unpins)
        await edit(
            {
                "shards": [{"name": "all", "namespaces": ["x1", "x2", "y1"]}],
                "pins": {"a": None, "b": None, "all": "m2"},
            }
        )
        await until(lambda: two.serves("x1") and two.serves("y1") and not one.scopes, 20, "all on m2")
        # split again, across both
        await edit({"shards": [{"name": "p", "namespaces": ["x1", "y1"]}, {"name": "q", "namespaces": ["x2"]}],
                    "pins": {"all": None, "p": "m1", "q": "m2"}})  # fmt: skip
        await until(lambda: one.serves("y1") and two.serves("x2") and not two.serves("x1"), 20, "split")
        assert not registry.violations, registry.violations
        assert not m1.fenced
        assert not m2.fenced
    finally:
        await stop_all(members)


async def test_a_member_whose_identity_another_process_took_fences_and_stops(
    fleet_crd: None, kube: KubeClient, namespace: str
) -> None:
    registry = Registry()
    host = RecordingHost("m", registry)
    await kube.create(SPARK_FLEETS, fleet_object(namespace, "fleet", ns_shards(2)))
    members: list[FleetMember] = []
    try:
        member = await start(
            FleetMember(kube, host, fleet="fleet", namespace=namespace, identity="m"), members
        )
        await until(lambda: len(member.serving) == 2, 20, "serving 2 shards")
        lease = await kube.get(LEASES, "fleet-member-m", namespace)
        lease["metadata"]["annotations"][ANNOTATION_NONCE] = "another-process"
        await kube.replace(LEASES, lease)  # another process with the same identity took it over
        took = await until(member.failed.is_set, 10, "the member gives the identity up")
        assert took < LEASE["durationSeconds"]
        assert not member.serving
        assert not host.serving  # stopped at once (fenced)
        assert member.evicted is not None
        assert f"member Lease {namespace}/fleet-member-m" in str(member.evicted)
        await member.shutdown(timeout=3)
        members.clear()
        kept = await kube.get(LEASES, "fleet-member-m", namespace)  # the new owner's Lease is left alone
        assert kept["metadata"]["annotations"][ANNOTATION_NONCE] == "another-process"
    finally:
        await stop_all(members)
