"""What a fleet costs when there is nothing to do: CPU per member per minute, 1 instance against N.

The seed benchmark's "CPU vs 1" mixes two costs: work (pods, applications, status writes), which
sharding divides between members, and the fleet's own upkeep (Lease renewals, the coordinator, the
fleet's watches and timers), which every member pays. This benchmark measures the second alone:
the same fleet (40 namespace shards by default) settled with 1 and then N instances, and no
application, for ``--seconds``. Each member's CPU comes from /proc, counted from the moment the
fleet settled.

Run: ``python -m bench.idle`` (``--instances 1,4 --seconds 120``); writes
``bench/results/<name>.{json,md}``.
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

from sparkfleet.api import crd
from sparkfleet.demo.instances import Instance
from sparkfleet.demo.report import markdown_table, ratio
from sparkfleet.demo.runner import FLEET, FLEET_NAMESPACE, create_fleet, create_namespaces, until_settled
from sparkfleet.demo.workload import Workload
from sparkfleet.kube import ClientSettings
from sparkfleet.logs import configure_logging
from sparkfleet.testing import ControlPlane

RESULTS = Path(__file__).resolve().parent / "results"

COLUMNS = [
    ("instances", "instances"),
    ("shards", "shards"),
    ("seconds", "seconds"),
    ("fleet CPU s", "cpu_seconds_total"),
    ("CPU s / member / min", "cpu_per_member_minute"),
    ("API requests / member / min", "requests_per_member_minute"),
    ("CPU vs 1", "cpu_vs_one"),
]


async def until_quiet(members: list[Instance], timeout: float = 120.0) -> None:
    """Until no member has sent a GET for three seconds: the shards are assigned before their
    caches are listed and watched, and that start-up is not upkeep."""
    deadline, last, still = time.monotonic() + timeout, None, 0
    while still < 3 and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        await asyncio.gather(*(m.scrape() for m in members))
        gets = [m.requests_by_verb().get("GET", 0.0) for m in members]
        still = still + 1 if gets == last else 0
        last = gets


async def one_run(
    instances: int, namespaces: int, seconds: float, lease: tuple[int, int, int]
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="sparkfleet-idle-"))
    workload = Workload(namespaces=namespaces)  # only its namespaces are used: no application is made
    async with ControlPlane(workdir / "controlplane") as cp:
        client = await cp.client(ClientSettings(qps=0, burst=0))
        members = [Instance(f"member-{i + 1}", workdir) for i in range(instances)]
        try:
            await cp.install_crds(crd.generate().values())
            await create_namespaces(cp, client, workload)
            await create_fleet(client, workload, lease)
            for member in members:
                await member.start(cp.kubeconfig, FLEET, FLEET_NAMESPACE, 10)
            await until_settled(client, {m.identity for m in members}, 120, members)
            await until_quiet(members)
            for member in members:
                member.mark_workload_start()
            started = time.monotonic()
            while time.monotonic() - started < seconds:
                await asyncio.sleep(1.0)
                for member in members:
                    member.sample_usage()
            elapsed = time.monotonic() - started
            await asyncio.gather(*(m.scrape() for m in members))
            for member in members:
                member.sample_usage()
        finally:
            for member in members:
                await member.terminate()
            await client.close()
    cpu = {m.identity: round(m.usage.workload_cpu_seconds, 3) for m in members}
    by_verb = {m.identity: {v: n for v, n in sorted(m.requests_by_verb().items()) if n} for m in members}
    requests = {identity: sum(verbs.values()) for identity, verbs in by_verb.items()}
    total = sum(cpu.values())
    return {
        "instances": instances,
        "shards": namespaces,
        "seconds": round(elapsed, 1),
        "per_instance": {
            m: {"cpu_seconds": cpu[m], "api_requests": requests[m], "requests_by_verb": by_verb[m]}
            for m in cpu
        },
        "cpu_seconds_total": round(total, 2),
        "cpu_per_member_minute": round(total / instances / elapsed * 60, 3),
        "requests_per_member_minute": round(sum(requests.values()) / instances / elapsed * 60, 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    duration, deadline, retry = (int(x) for x in args.lease.split(","))
    lease = (duration, deadline, retry)
    runs = []
    for n in (int(x) for x in args.instances.split(",")):
        print(f"{n} instance(s), {args.namespaces} shards, {args.seconds:.0f} s idle ...", flush=True)
        runs.append(await one_run(n, args.namespaces, args.seconds, lease))
    single = next((r["cpu_seconds_total"] for r in runs if r["instances"] == 1), None)
    for r in runs:
        r["cpu_vs_one"] = ratio(r["cpu_seconds_total"], single) if single else None
    return {
        "benchmark": "idle",
        "host": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "lease": {"duration_s": lease[0], "renew_deadline_s": lease[1], "retry_period_s": lease[2]},
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="idle")
    parser.add_argument("--instances", default="1,4", help="fleet sizes to run, comma-separated")
    parser.add_argument("--namespaces", type=int, default=40, help="namespace shards in the fleet")
    parser.add_argument("--seconds", type=float, default=120.0, help="idle time measured per run")
    parser.add_argument("--lease", default="8,6,2", help="duration,renew-deadline,retry-period (s)")
    args = parser.parse_args()
    configure_logging("text", "warning")
    result = uvloop.run(main_async(args))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    table = markdown_table(result["runs"], COLUMNS)
    (RESULTS / f"{args.name}.md").write_text(f"# Idle fleet\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
