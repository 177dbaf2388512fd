"""Large objects: what a tenant's 1 MB SparkApplications cost a fleet member (issue 16, item 4).

One member (a separate process, as deployed) serves a fleet of 10 namespace shards on a fresh
control plane. A tenant creates 500 SparkApplications of about 1 MB each (over the default
``--max-application-bytes``, 512 KiB, so each is refused), in the costliest shape once decoded:
many short arguments. Measured, from /proc:

- the member's peak RSS (VmHWM) while they arrive through its watches, and its RSS once all are
  refused;
- then the member is stopped and a new one started, as when shards move: it reads all 500 by its
  first lists. Its peak RSS is measured the same way.

Target (docs/benchmarks.md, issue 16): under 150 MiB peak RSS per member. Writes
``bench/results/large-objects.{json,md}``. Run: ``python -m bench.large_objects`` (part of ``make bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop

from sparkfleet.api import SPARK_APPLICATIONS, crd
from sparkfleet.demo.instances import Instance
from sparkfleet.demo.report import markdown_table
from sparkfleet.demo.runner import FLEET, FLEET_NAMESPACE, create_fleet, create_namespaces, until_settled
from sparkfleet.demo.workload import Workload, application
from sparkfleet.kube import ClientSettings, Informer, KubeClient
from sparkfleet.logs import configure_logging
from sparkfleet.operator.spark.app_cache import status_view
from sparkfleet.testing import ControlPlane

RESULTS = Path(__file__).resolve().parent / "results"
NAME = "large-objects"
LABEL = "sparkfleet.io/workload"
TARGET_MIB = 150.0
COLUMNS = [
    ("phase", "phase"),
    ("apps", "apps"),
    ("app bytes", "app_bytes"),
    ("refused", "refused"),
    ("RSS before MiB", "rss_before_mib"),
    ("peak RSS MiB", "peak_rss_mib"),
    ("RSS after MiB", "rss_after_mib"),
    ("held per app KiB", "held_per_app_kib"),
    ("seconds", "seconds"),
]


def large_application(name: str, namespace: str, target_bytes: int) -> dict[str, Any]:
    """A SparkApplication of about ``target_bytes``: arguments of 24 bytes each (serialized)."""
    app = application(name, namespace, 1)
    app["metadata"]["labels"][LABEL] = NAME
    app["spec"]["arguments"] = [f"payload-{i:013d}" for i in range(target_bytes // 24)]
    return app


def rss_mib(pid: int, field: str = "VmRSS:") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return round(int(line.split()[1]) / 1024, 1)
    raise ValueError(f"no {field} in /proc/{pid}/status")


async def until_refused(apps: Informer, total: int, member: Instance, timeout: float) -> int:
    """Until every application has a state (sampling the member meanwhile); how many were refused."""
    deadline = time.monotonic() + timeout
    while True:
        member.sample_usage()
        states = [
            ((a.get("status") or {}).get("applicationState") or {}).get("state") for a in apps.store.list()
        ]
        if len(states) >= total and all(states):
            return sum(1 for s in states if s == "SUBMISSION_FAILED")
        if not member.running:
            raise RuntimeError(f"{member.identity} exited; see {member.log_path}")
        if time.monotonic() > deadline:
            decided = sum(1 for s in states if s)
            raise RuntimeError(f"{decided} of {total} decided in {timeout:.0f}s; see {member.log_path}")
        await asyncio.sleep(0.25)


async def start_member(identity: str, workdir: Path, cp: ControlPlane, client: KubeClient) -> Instance:
    member = Instance(identity, workdir)
    await member.start(cp.kubeconfig, FLEET, FLEET_NAMESPACE, 10)
    await until_settled(client, {identity}, 180, [member])
    return member


async def bench(apps_total: int, app_bytes: int, namespaces: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sparkfleet-large-"))
    workload = Workload(namespaces, apps_total // namespaces, prefix="large")
    phases: list[dict[str, Any]] = []
    async with ControlPlane(workdir / "controlplane") as cp:
        client = await cp.client(ClientSettings(qps=0, burst=0))
        try:
            await cp.install_crds(crd.generate().values())
            await create_namespaces(cp, client, workload)
            await create_fleet(client, workload, (8, 6, 2))
            # The bench's own view of the applications: their status only (it lists 500 MB too).
            apps = Informer(
                client, SPARK_APPLICATIONS, label_selector=f"{LABEL}={NAME}", transform=status_view
            )
            apps.start()
            await apps.wait_synced(60)
            member = await start_member("member-1", workdir, cp, client)
            assert member.proc is not None
            before = rss_mib(member.proc.pid)
            started = time.monotonic()
            slots = asyncio.Semaphore(8)

            async def create(app: dict[str, Any]) -> None:
                async with slots:
                    await client.create(SPARK_APPLICATIONS, app)

            sample = large_application("sample", "x", app_bytes)
            size = len(orjson.dumps(sample["spec"]))
            await asyncio.gather(
                *(
                    create(large_application(f"big-{i:03d}", ns, app_bytes))
                    for ns in workload.namespace_names()
                    for i in range(workload.apps_per_namespace)
                )
            )
            refused = await until_refused(apps, workload.total, member, 600)
            member.sample_usage()
            after = rss_mib(member.proc.pid)
            phases.append(
                _phase(
                    f"watch: {workload.total} arrive",
                    workload.total,
                    size,
                    refused,
                    before,
                    member,
                    after,
                    started,
                )
            )
            await member.terminate()

            started = time.monotonic()
            second = await start_member("member-2", workdir, cp, client)  # its first lists read them all
            assert second.proc is not None
            await asyncio.sleep(2.0)  # its first reconciles of them (each refusal already written: no writes)
            second.sample_usage()
            after = rss_mib(second.proc.pid)
            phases.append(_phase("list: a new member takes the shards", workload.total, size, refused, None,
                                 second, after, started))  # fmt: skip
            await second.terminate()
            await apps.stop()
        finally:
            await client.close()
    return {
        "name": NAME,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "target_peak_rss_mib": TARGET_MIB,
        "max_peak_rss_mib": max(p["peak_rss_mib"] for p in phases),
        "phases": phases,
    }


def _phase(
    phase: str,
    apps: int,
    size: int,
    refused: int,
    before: float | None,
    member: Instance,
    after: float,
    t0: float,
) -> dict[str, Any]:
    return {
        "phase": phase,
        "apps": apps,
        "app_bytes": size,
        "refused": refused,
        "rss_before_mib": before,
        "peak_rss_mib": member.usage.peak_rss_mib,
        "rss_after_mib": after,
        "held_per_app_kib": round((after - before) * 1024 / apps, 1) if before is not None else None,
        "seconds": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--app-bytes", type=int, default=1_000_000, help="each application's size")
    parser.add_argument("--namespaces", type=int, default=10)
    args = parser.parse_args()
    configure_logging("text", "error")
    result = uvloop.run(bench(args.apps, args.app_bytes, args.namespaces))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{NAME}.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    verdict = "met" if result["max_peak_rss_mib"] < TARGET_MIB else "MISSED"
    text = (
        f"# {NAME}: {args.apps} SparkApplications of {args.app_bytes:,} bytes, one member\n\n"
        f"{markdown_table(result['phases'], COLUMNS)}\n\n"
        f"Peak RSS of the member: {result['max_peak_rss_mib']} MiB; "
        f"target < {TARGET_MIB:.0f} MiB ({verdict}). "
        "Each application is over --max-application-bytes (512 KiB) and refused; the caches hold its "
        "metadata and status, not its spec (sparkfleet/operator/spark/app_cache.py).\n"
    )
    (RESULTS / f"{NAME}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
