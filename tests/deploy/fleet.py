"""A fleet installed from the chart: its RBAC, ServiceAccount and SparkFleet applied to the local control
plane, and instances run as local processes under the chart's ServiceAccount (a TokenRequest token).

The chart's Deployment cannot run here (there is no kubelet), so the instances are what its pods would
run, with the same fleet name, namespace and identity scheme.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkfleet.kube import ApiError
from sparkfleet.testing.controlplane import Identity
from tests.deploy.chart import CHART, apply, merge, render, resource_of
from tests.fleet.harness import FleetUnderTest

NOT_APPLIED = {"Deployment", "Service", "PodDisruptionBudget"}  # inert without a kubelet; not needed here


@dataclass
class ChartFleet(FleetUnderTest):
    release: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:6]}")
    values: dict[str, Any] = field(default_factory=dict)
    docs: list[dict[str, Any]] = field(default_factory=list)
    identity: Identity | None = None
    crds: list[Path] = field(default_factory=lambda: sorted((CHART / "crds").glob("*.yaml")))
    """The chart's CRDs (a test on the Kubeflow Spark Operator's gives those)."""

    async def create(self) -> None:
        await self.control_plane.install_crds(self.crds)
        await self.control_plane.create_namespace(self.namespace)
        if not self.app_namespaces:
            self.app_namespaces = [f"{self.namespace}-ns{i:02d}" for i in range(self.shards)]
        await asyncio.gather(*(self.control_plane.create_namespace(ns) for ns in self.app_namespaces))
        duration, deadline, retry = self.lease
        values = merge(
            {
                "spark": {
                    "jobNamespaces": self.app_namespaces,
                    "serviceAccount": {"name": "spark-operator-spark"},  # what tests/examples' apps name
                },
                "fleet": {
                    "lease": {
                        "durationSeconds": duration,
                        "renewDeadlineSeconds": deadline,
                        "retryPeriodSeconds": retry,
                    }
                },
            },
            self.values,
        )
        self.docs = render(self.release, self.namespace, values=values)
        (fleet,) = [d for d in self.docs if d["kind"] == "SparkFleet"]
        self.name = fleet["metadata"]["name"]
        self.shards = len(fleet["spec"]["shards"])
        for doc in self.docs:
            if doc["kind"] not in NOT_APPLIED:
                await apply(self.kube, doc)
        (account,) = [
            d
            for d in self.docs
            if d["kind"] == "ServiceAccount" and d["metadata"]["namespace"] == self.namespace
        ]
        self.identity = await self.control_plane.mint_identity(self.namespace, account["metadata"]["name"])
        self.kubeconfig = self.identity.kubeconfig
        self._kubelet = asyncio.create_task(self._run_kubelet())

    async def close(self) -> None:
        await super().close()
        for doc in self.docs:
            if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
                try:
                    await self.kube.delete(resource_of(doc), doc["metadata"]["name"])
                except ApiError as exc:
                    if not exc.is_not_found:
                        raise

    def held(self, status: dict[str, Any]) -> dict[str, int]:
        """Shards held per member, from the fleet's status."""
        counts: dict[str, int] = {}
        for shard in status.get("shards") or []:
            if shard.get("phase") == "Held":
                counts[shard["holder"]] = counts.get(shard["holder"], 0) + 1
        return counts
