"""The seed workload: N namespaces x M SparkApplications, each with a number of executors in a range."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from sparkfleet.api import API_VERSION
from sparkfleet.sim import ANNOTATION_OUTCOME

N = TypeVar("N")


@dataclass(frozen=True, slots=True)
class Workload:
    namespaces: int = 40
    apps_per_namespace: int = 10
    executors: tuple[int, int] = (1, 10)
    prefix: str = "seed"
    failures: int = 0
    """How many applications (spread over the namespaces) are told to fail."""
    seed: int = 42

    def __post_init__(self) -> None:
        low, high = self.executors
        if not 0 <= low <= high:
            raise ValueError(f"--executors must be a range like 1-10; got {low}-{high}")
        if self.namespaces < 1 or self.apps_per_namespace < 1:
            raise ValueError("--namespaces and --apps-per-namespace must be at least 1")

    @property
    def total(self) -> int:
        return self.namespaces * self.apps_per_namespace

    def namespace_names(self) -> list[str]:
        return [f"{self.prefix}-{i:02d}" for i in range(self.namespaces)]

    def applications(self) -> list[dict[str, Any]]:
        """Every application, namespace by namespace, with a deterministic executor count."""
        rng = random.Random(self.seed)
        apps = []
        fail_every = self.total // self.failures if self.failures else 0
        for n, namespace in enumerate(self.namespace_names()):
            for i in range(self.apps_per_namespace):
                index = n * self.apps_per_namespace + i
                failing = bool(fail_every) and index % fail_every == 0
                apps.append(application(f"app-{i:03d}", namespace, rng.randint(*self.executors), failing))
        return apps


def application(name: str, namespace: str, executors: int, failing: bool = False) -> dict[str, Any]:
    driver: dict[str, Any] = {"cores": 1, "memory": "512m", "serviceAccount": "spark-operator-spark"}
    if failing:
        driver["annotations"] = {ANNOTATION_OUTCOME: "Failed"}
    return {
        "apiVersion": API_VERSION,
        "kind": "SparkApplication",
        "metadata": {"name": name, "namespace": namespace, "labels": {"sparkfleet.io/workload": "seed"}},
        "spec": {
            "type": "Scala",
            "mode": "cluster",
            "image": "spark:3.5.5",
            "mainClass": "org.apache.spark.examples.SparkPi",
            "mainApplicationFile": "local:///opt/spark/examples/jars/spark-examples.jar",
            "sparkVersion": "3.5.5",
            "restartPolicy": {"type": "Never"},
            "driver": driver,
            "executor": {"instances": executors, "cores": 1, "memory": "512m"},
        },
    }


@overload
def parse_range(text: str) -> tuple[int, int]: ...
@overload
def parse_range(text: str, number: Callable[[str], N]) -> tuple[N, N]: ...
def parse_range(text: str, number: Callable[[str], Any] = int) -> tuple[Any, Any]:
    """``1-10`` or ``3`` as an inclusive range: of ints, or of ``number`` (``0.1-0.3`` with float)."""
    low, _, high = text.partition("-")
    try:
        return (number(low), number(high or low))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a range like 1-10") from exc
