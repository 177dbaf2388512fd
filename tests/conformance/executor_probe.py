"""Runs Spark's own executor pod builder (tests/spark/java/ExecutorPodProbe.java) on renderings.

:func:`build_with_spark` writes one case directory per rendering (the driver pod as the API
server returns it, and the files its ConfigMap volumes put in the driver container), runs the
probe once for all of them (one JVM per SPARK_USER the drivers have: Spark reads that one from the
process environment), and returns what Spark built or threw for each.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sparkfleet.sim.driver import driver_env, mounted_files
from sparkfleet.testing.spark import compile_java, find_spark, java_sources, run_java

Obj = dict[str, Any]
PROBE = "ExecutorPodProbe"


@dataclass(frozen=True, slots=True)
class ProbeCase:
    id: str
    driver_pod: Obj
    """As the API server returns it: with metadata.uid and status.podIP."""
    config_maps: Mapping[str, Mapping[str, str]]
    """The ConfigMaps the driver mounts (name -> data)."""
    executor_ids: Sequence[int] = (1, 2)


@dataclass(frozen=True, slots=True)
class SparkResult:
    pods: dict[int, Obj]
    """Executor id -> the pod Spark creates (empty when Spark refused)."""
    error: Obj | None
    """What Spark threw: {"class", "message", "causes", "trace"}."""
    config_map: Obj | None = None
    """The executor ConfigMap the driver creates (None when Spark refused)."""


async def build_with_spark(cases: Sequence[ProbeCase], workdir: Path) -> dict[str, SparkResult]:
    spark = find_spark()
    sources = java_sources()
    classes = compile_java(spark, [sources / f"{PROBE}.java"])
    dirs: dict[str, Path] = {}
    for case in cases:
        directory = workdir / case.id
        for path, content in mounted_files(case.driver_pod, case.config_maps).items():
            target = directory / "files" / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "driver-pod.json").write_bytes(orjson.dumps(case.driver_pod))
        (directory / "executor-ids").write_text("".join(f"{i}\n" for i in case.executor_ids))
        dirs[case.id] = directory

    def user_of(case: ProbeCase) -> str:
        return driver_env(case.driver_pod).get("SPARK_USER", "")

    runs: list[Coroutine[Any, Any, tuple[int, str, str]]] = []
    for user, group in itertools.groupby(sorted(cases, key=user_of), key=user_of):
        listing = workdir / f"cases-{len(runs)}.txt"
        listing.write_text("".join(f"{dirs[c.id]}\n" for c in group))
        env = {"SPARK_USER": user} if user else {}
        runs.append(run_java(spark, PROBE, [str(listing)], classes=[classes], env=env))
    for code, _, stderr in await asyncio.gather(*runs):
        if code not in (0, 1):  # 1: Spark refused some cases, each result says why
            raise AssertionError(f"{PROBE} failed ({code}):\n{stderr[-6000:]}")
    results = {}
    for case in cases:
        result = json.loads((dirs[case.id] / "result.json").read_text())
        pods = {int(e["id"]): e["pod"] for e in result.get("executors") or []}
        results[case.id] = SparkResult(
            pods=pods, error=result.get("error"), config_map=result.get("configMap")
        )
    return results
