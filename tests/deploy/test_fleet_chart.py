"""A fleet run under the chart's own ServiceAccount: no 403, nothing beyond what it serves, shards that
rebalance by themselves when the instance count changes, and metrics that the dashboard and alerts use."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS
from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import NAMESPACES, PODS, SECRETS
from sparkfleet.testing import ControlPlane
from tests.deploy.chart import CHART, exported_names, metric_names
from tests.deploy.fleet import ChartFleet
from tests.deploy.test_chart import dashboard_exprs
from tests.examples import manifests
from tests.support import eventually

FORBIDDEN = re.compile(r'^rest_client_requests_total\{[^}]*code="403"[^}]*\} (\S+)$', re.MULTILINE)
# A 403 as the logs tell it ("code": 403, or an ApiError's "403 Forbidden"); a bare "403" would
# also match a port such as 127.0.0.1:40317.
FORBIDDEN_IN_LOG = re.compile(r'"code":\s*"?403\b|\b403 Forbidden\b')


async def can(sa: KubeClient, verb: str, resource: str, namespace: str = "", **extra: str) -> bool:
    """``resource`` is ``[group/]plural[/subresource]``, e.g. ``coordination.k8s.io/leases``."""
    parts = resource.split("/")
    group = parts.pop(0) if "." in parts[0] else ""
    plural, subresource = parts[0], (parts[1] if len(parts) > 1 else "")
    review = await sa.request(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb, "group": group, "resource": plural, "subresource": subresource,
                    "namespace": namespace, **extra,
                }
            },
        },
    )  # fmt: skip
    return bool(review["status"]["allowed"])


async def test_fleet_under_the_charts_service_account(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> None:
    fleet = ChartFleet(control_plane, kube, tmp_path, shards=12)
    await fleet.create()
    other = f"{fleet.namespace}-unserved"
    await control_plane.create_namespace(other)
    try:
        for member in ("m1", "m2"):
            await fleet.start(member)
        await fleet.wait_settled(["m1", "m2"])

        # A workload through every verb the operator uses: submissions (pods, configmaps, services,
        # events), status writes, a ScheduledSparkApplication creating runs, completion.
        keys = await fleet.create_apps(per_namespace=1)
        scheduled = manifests.scheduled("every", fleet.app_namespaces[0])
        scheduled["spec"].update(schedule="@every 2s", timeZone="UTC")
        await kube.create(SCHEDULED_SPARK_APPLICATIONS, scheduled)
        fleet.finish_drivers = True

        async def completed(wanted: list[tuple[str, str]]) -> bool:
            states = await fleet.app_states()
            return all(states.get(f"{ns}/{name}") == "COMPLETED" for ns, name in wanted)

        await eventually(lambda: completed(keys), what="the applications to complete", timeout=60.0)

        async def scheduled_ran() -> bool:
            obj = await kube.get(SCHEDULED_SPARK_APPLICATIONS, "every", fleet.app_namespaces[0])
            return bool((obj.get("status") or {}).get("lastRunName"))

        await eventually(scheduled_ran, what="a scheduled run", timeout=60.0)

        # Scale up: a third instance joins and gets shards without anyone asking for a rebalance.
        await fleet.start("m3")

        async def rebalanced() -> dict[str, int] | None:
            status = await fleet.status()
            held = fleet.held(status)
            settled = sum(held.values()) == fleet.shards and set(held) == {"m1", "m2", "m3"}
            return held if settled and all(s.get("phase") == "Held" for s in status["shards"]) else None

        held = await eventually(rebalanced, what="m3 to take shards", timeout=60.0)
        fair = fleet.shards / 3
        assert max(held.values()) <= max(1.25 * fair, fair + 1), held

        exposition = {m: await fleet.instances[m].metrics() for m in ("m1", "m2", "m3")}

        # Scale down: m1 leaves (SIGTERM, as the Deployment does); its shards go to the others.
        assert await fleet.terminate("m1") == 0
        status = await fleet.wait_settled(["m2", "m3"])
        assert set(fleet.held(status)) == {"m2", "m3"}
        after = await fleet.create_apps(per_namespace=1, prefix="after")
        await eventually(
            lambda: completed(after),
            what="the applications created after scaling down to complete",
            timeout=60.0,
        )

        # No 403 anywhere: not in any instance's request metrics, not in any log.
        for member, text in exposition.items():
            forbidden = [float(v) for v in FORBIDDEN.findall(text)]
            assert sum(forbidden) == 0, f"{member} got 403s: {forbidden}"
        for member in ("m2", "m3"):  # and after the scale-down
            assert sum(float(v) for v in FORBIDDEN.findall(await fleet.instances[member].metrics())) == 0
        for instance in fleet.instances.values():
            log = instance.log_path.read_text()
            assert not FORBIDDEN_IN_LOG.search(log), f"{instance.identity}:\n{instance.log_tail()}"
            assert "forbidden" not in log.lower(), f"{instance.identity}:\n{instance.log_tail()}"
        fleet.assert_no_overlaps()

        # Every metric the dashboard and the alerts use is one a running instance exports.
        exported = exported_names(exposition["m2"])
        # (no metrics prefix here; `up` is Prometheus's own, a series of every target)
        board = json.loads((CHART / "files" / "dashboard.json").read_text().replace("${prefix}", ""))
        text = (CHART / "files" / "alerts.yaml").read_text().replace("__PREFIX__", "")
        groups = yaml.safe_load(text.replace("__SELECTOR__", 'job="j"').replace("__JOB__", 'job="j"'))
        alert_exprs = [rule["expr"] for group in groups for rule in group["rules"]]
        used = set().union(*(metric_names(e) for e in [*dashboard_exprs(board), *alert_exprs]))
        assert used - exported == {"up"}, f"used but not exported: {sorted(used - exported - {'up'})}"
        assert len(used) >= 20

        # Least privilege, asked of the API server as the chart's identity.
        job, ops = fleet.app_namespaces[0], fleet.namespace
        async with await control_plane.client(kubeconfig=fleet.kubeconfig) as sa:
            allowed = [
                ("create", "pods", job), ("delete", "pods", job), ("watch", "pods", job),
                ("update", "sparkoperator.k8s.io/sparkapplications/status", job),
                ("create", "events", job), ("create", "configmaps", job),
                ("update", "sparkoperator.k8s.io/sparkapplications/finalizers", job),
                ("update", "sparkoperator.k8s.io/scheduledsparkapplications/finalizers", job),
                ("create", "coordination.k8s.io/leases", ops), ("update", "coordination.k8s.io/leases", ops),
                ("watch", "sparkfleet.io/sparkfleets", ""),
            ]  # fmt: skip
            denied = [
                ("get", "secrets", job), ("get", "secrets", ops), ("list", "secrets", ""),
                ("create", "pods", other), ("list", "pods", other), ("list", "pods", ""),
                ("list", "sparkoperator.k8s.io/sparkapplications", other),
                ("create", "coordination.k8s.io/leases", job), ("create", "coordination.k8s.io/leases", other),
                ("update", "sparkoperator.k8s.io/sparkapplications", job),
                ("patch", "sparkoperator.k8s.io/sparkapplications", job),
                ("update", "sparkfleet.io/sparkfleets", ops), ("create", "sparkfleet.io/sparkfleets", ops),
                ("delete", "namespaces", ""), ("create", "rbac.authorization.k8s.io/roles", job),
                ("get", "configmaps", job), ("delete", "services", job), ("list", "nodes", ""),
                ("update", "pods/finalizers", job), ("update", "sparkoperator.k8s.io/sparkapplications/finalizers", other),
            ]  # fmt: skip
            for verb, resource, namespace in allowed:
                assert await can(sa, verb, resource, namespace), f"cannot {verb} {resource} in {namespace!r}"
            for verb, resource, namespace in denied:
                assert not await can(sa, verb, resource, namespace), f"may {verb} {resource} in {namespace!r}"
            assert await can(sa, "update", "sparkfleet.io/sparkfleets/status", ops, name=fleet.name)
            assert not await can(sa, "update", "sparkfleet.io/sparkfleets/status", ops, name="someone-else")
            # and real requests, not only reviews
            for attempt in (
                sa.list(SECRETS, job),
                sa.get(SECRETS, "anything", ops),
                sa.create(PODS, manifests_pod(other), other),
                sa.get(NAMESPACES, other),
            ):
                with pytest.raises(ApiError) as refused:
                    await attempt
                assert refused.value.status == 403, refused.value
    finally:
        await fleet.close()
        await kube.delete(NAMESPACES, other)


def manifests_pod(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "intruder", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), {})


async def test_two_releases_naming_one_namespace(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> None:
    """Two teams' releases both list namespace y: the fleet created second refuses it, saying so."""
    stem = f"ovl-{uuid.uuid4().hex[:5]}"
    x, y, z = f"{stem}-x", f"{stem}-y", f"{stem}-z"
    first = ChartFleet(control_plane, kube, tmp_path, namespace=f"{stem}-a", app_namespaces=[x, y])
    second = ChartFleet(control_plane, kube, tmp_path, namespace=f"{stem}-b", app_namespaces=[y, z])
    await first.create()
    await second.create()
    try:
        await first.start("a1")
        await second.start("b1")

        async def settled(fleet: ChartFleet, shards: dict[str, str], reason: str) -> dict[str, Any] | None:
            status = await fleet.status()
            held = {
                s["name"]: s.get("holder") for s in status.get("shards") or [] if s.get("phase") == "Held"
            }
            return status if held == shards and condition(status, "Overlap").get("reason") == reason else None

        status_b = await eventually(
            lambda: settled(second, {z: "b1"}, "NamespacesRefused"),
            what="the second fleet to refuse y",
            timeout=60.0,
        )
        overlap = condition(status_b, "Overlap")
        assert overlap["status"] == "True"
        assert (
            overlap["message"]
            == f"refused shard {y}: namespaces {y} are already claimed by fleet {first.namespace}/{first.name}"
        )
        status_a = await eventually(
            lambda: settled(first, {x: "a1", y: "a1"}, "NamespacesClaimedTwice"),
            what="the first fleet to keep y",
            timeout=60.0,
        )
        assert (
            f"{second.namespace}/{second.name} also names namespaces {y} (this fleet claimed them first)"
            in (condition(status_a, "Overlap")["message"])
        )

        # Work in y is done by the first fleet only.
        first.app_namespaces = [y]
        (key,) = await first.create_apps(per_namespace=1)

        async def submitted() -> bool:
            return (await first.app_states()).get(f"{y}/{key[1]}") in ("SUBMITTED", "RUNNING", "COMPLETED")

        await eventually(submitted, what="the application in y to be submitted", timeout=60.0)
        audit = await first.wait_audited([key]) + second.audit()
        members = {r["member"] for r in audit if r["key"].startswith(f"{y}/")}
        assert members == {"a1"}

        # Once the first fleet is gone, y is no longer claimed: the second fleet takes it.
        await kube.delete(SPARK_FLEETS, first.name, first.namespace)
        await eventually(
            lambda: settled(second, {y: "b1", z: "b1"}, "NoOverlap"),
            what="the second fleet to take y",
            timeout=60.0,
        )
    finally:
        await first.close()
        await second.close()


async def test_label_routed_fleet_is_bounded_by_its_job_namespaces(
    control_plane: ControlPlane, kube: KubeClient, tmp_path: Path
) -> None:
    """The routed example's shape: shards by a label's values and a catch-all, bounded by
    spark.jobNamespaces: namespaced watches and namespaced Roles, nothing outside them (DESIGN rule 7).

    It shares the suite's control plane: bounded, it never sees another test's namespaces."""
    fleet = ChartFleet(control_plane, kube, tmp_path, shards=0)
    fleet.app_namespaces = [f"{fleet.namespace}-apps"]
    outside = f"{fleet.namespace}-outside"  # a namespace of the cluster the release does not list
    fleet.values = {
        "fleet": {
            "routingLabel": "tier",
            "shards": [{"name": "gold", "values": ["gold"]}, {"name": "rest", "catchAll": True}],
        }
    }
    await fleet.create()
    await control_plane.create_namespace(outside)
    assert {d["metadata"]["name"] for d in fleet.docs if d["kind"] == "ClusterRole"} == {
        f"{fleet.release}-sparkfleet-fleets"
    }
    (spec,) = [d["spec"] for d in fleet.docs if d["kind"] == "SparkFleet"]
    assert spec["jobNamespaces"] == fleet.app_namespaces
    try:
        for member in ("r1", "r2"):
            await fleet.start(member)
        await fleet.wait_settled(["r1", "r2"])
        stray = [manifests.spark_pi(f"stray-{tier}", outside) for tier in ("gold", "plain")]
        stray[0]["metadata"]["labels"] = {"tier": "gold"}
        for app in stray:
            await kube.create(SPARK_APPLICATIONS, app)
        gold = await fleet.create_apps(per_namespace=2, prefix="gold", labels={"tier": "gold"})
        rest = await fleet.create_apps(per_namespace=2, prefix="plain")
        fleet.finish_drivers = True

        async def completed() -> bool:
            states = await fleet.app_states()
            return all(states.get(f"{ns}/{name}") == "COMPLETED" for ns, name in gold + rest)

        await eventually(completed, what="the routed applications to complete", timeout=60.0)
        shard_of = {r["key"]: r["shard"] for r in fleet.audit()}
        assert {shard_of[f"{ns}/{name}"] for ns, name in gold} == {"gold"}
        assert {shard_of[f"{ns}/{name}"] for ns, name in rest} == {"rest"}
        # the applications outside the job namespaces were never seen: no reconcile, no status
        assert not [r for r in fleet.audit() if r["key"].startswith(f"{outside}/")]
        for app in stray:
            got = await kube.get(SPARK_APPLICATIONS, app["metadata"]["name"], outside)
            assert not got.get("status"), got["status"]
        for member in ("r1", "r2"):
            assert sum(float(v) for v in FORBIDDEN.findall(await fleet.instances[member].metrics())) == 0
            assert not FORBIDDEN_IN_LOG.search(fleet.instances[member].log_path.read_text())
        async with await control_plane.client(kubeconfig=fleet.kubeconfig) as sa:
            inside = fleet.app_namespaces[0]
            assert await can(sa, "create", "pods", inside)
            assert await can(sa, "list", "sparkoperator.k8s.io/sparkapplications", inside)
            assert not await can(sa, "list", "pods", "")  # no cluster-wide watch of pods
            for elsewhere in (outside, "kube-system"):
                assert not await can(sa, "create", "pods", elsewhere)
                assert not await can(sa, "list", "sparkoperator.k8s.io/sparkapplications", elsewhere)
            assert not await can(sa, "list", "secrets", "")
            assert not await can(sa, "get", "secrets", inside)
            assert not await can(sa, "update", "sparkoperator.k8s.io/sparkapplications", inside)
            with pytest.raises(ApiError) as refused:  # and the API server really refuses it
                await sa.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                       "metadata": {"name": "intruder", "namespace": "kube-system"},
                                       "spec": {"containers": [{"name": "c", "image": "busybox"}]}})  # fmt: skip
            assert refused.value.is_denied, refused.value
    finally:
        await fleet.close()
        await kube.delete(NAMESPACES, outside)
