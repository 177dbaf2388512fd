"""`kubectl sparkfleet` on the real control plane, as a kubectl user runs it: the kubeconfig's current
context names the fleet's namespace, no -n. A fleet no member has served yet shows every shard
Unassigned, with its pin and scope; --context picks another context and its namespace."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkfleet.api.fleet import SPARK_FLEETS
from sparkfleet.kube import KubeClient
from sparkfleet.testing import ControlPlane
from tests.support import spark_crds

BIN = Path(sys.executable).parent


async def run(*argv: str, kubeconfig: Path) -> tuple[int, str, str]:
    """An installed program (``kubectl-sparkfleet``, ``sparkfleet``), with KUBECONFIG as kubectl passes it."""
    program = shutil.which(argv[0], path=str(BIN))
    assert program is not None, f"{argv[0]} is not installed next to {sys.executable}"
    env = {k: v for k, v in os.environ.items() if k != "POD_NAMESPACE"}
    proc = await asyncio.create_subprocess_exec(
        program, *argv[1:], env={**env, "KUBECONFIG": str(kubeconfig), "COLUMNS": "80"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def kubeconfig_with_namespaces(admin: Path, folder: Path, current: str, other: str) -> Path:
    """The control plane's admin kubeconfig with two contexts: the current one in ``current``, and
    ``other`` (named so) in the namespace ``other``."""
    document: dict[str, Any] = yaml.safe_load(admin.read_text())
    (context,) = [c for c in document["contexts"] if c["name"] == document["current-context"]]
    context["context"]["namespace"] = current
    document["contexts"].append({"name": "other", "context": {**context["context"], "namespace": other}})
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
async def unserved_fleet(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> str:
    """A SparkFleet with a pinned shard, another, and a catch-all, that no member runs for."""
    await control_plane.install_crds(spark_crds())
    await kube.create(
        SPARK_FLEETS,
        {
            "apiVersion": SPARK_FLEETS.api_version,
            "kind": "SparkFleet",
            "metadata": {"name": "fleet", "namespace": namespace},
            "spec": {
                "shards": [
                    {"name": "gold", "namespaces": ["team-gold"]},
                    {"name": "silver", "namespaces": ["team-silver-1", "team-silver-2"]},
                    {"name": "rest", "catchAll": True},
                ],
                "pins": {"gold": "member-0"},
            },
        },
    )
    return namespace


async def test_the_plugin_takes_the_namespace_of_the_current_context(
    control_plane: ControlPlane, unserved_fleet: str, tmp_path: Path
) -> None:
    ns = unserved_fleet
    kubeconfig = kubeconfig_with_namespaces(control_plane.kubeconfig, tmp_path, ns, f"{ns}-none")

    code, out, err = await run("kubectl-sparkfleet", "status", kubeconfig=kubeconfig)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"fleet {ns}/fleet   coordinator <none>   ready Unknown"
    assert lines[2].split() == ["SHARD", "PHASE", "HOLDER", "AGE", "OBJECTS", "QUEUED", "PIN"]
    assert [line.split() for line in lines[3:6]] == [
        ["gold", "Unassigned", "<none>", "-", "0", "0", "member-0"],
        ["rest", "Unassigned", "<none>", "-", "0", "0", "<none>"],
        ["silver", "Unassigned", "<none>", "-", "0", "0", "<none>"],
    ]
    scopes = {line.split()[0]: line.split(None, 1)[1] for line in lines[8:11]}
    assert scopes == {
        "gold": "ns team-gold",
        "rest": "all ns but team-gold,team-silver-1,team-silver-2",
        "silver": "ns team-silver-1,team-silver-2",
    }
    assert lines[-1] == "no members"
    assert max(len(line) for line in lines[1:]) <= 80  # the headline has the test namespace's long name

    code, out, err = await run("kubectl-sparkfleet", "status", "-o", "json", kubeconfig=kubeconfig)
    assert code == 0, err
    report = json.loads(out)
    assert (report["namespace"], report["fleet"], report["ready"], report["coordinator"]) == (
        ns,
        "fleet",
        None,
        None,
    )
    gold = next(s for s in report["shards"] if s["name"] == "gold")
    assert gold == {
        "name": "gold", "phase": "Unassigned", "holder": None, "desired": None, "pin": "member-0",
        "age_seconds": None, "objects": 0, "queued": 0,
        "scope": {
            "namespaces": ["team-gold"], "all_namespaces": False, "except_namespaces": [], "selector": None,
            "namespace_selector": None,
        },
    }  # fmt: skip

    # `sparkfleet shards` reads the context's namespace too
    code, out, err = await run("sparkfleet", "shards", "status", "-o", "yaml", kubeconfig=kubeconfig)
    assert code == 0, err
    assert yaml.safe_load(out)["shards"] == report["shards"]


async def test_another_context_and_the_namespace_flag(
    control_plane: ControlPlane, unserved_fleet: str, tmp_path: Path
) -> None:
    ns = unserved_fleet
    kubeconfig = kubeconfig_with_namespaces(control_plane.kubeconfig, tmp_path, ns, f"{ns}-none")

    code, out, err = await run("kubectl-sparkfleet", "status", "--context", "other", kubeconfig=kubeconfig)
    assert (code, out) == (1, "")
    assert err == f'error: no SparkFleet in namespace "{ns}-none" (name its namespace with -n)\n'

    for argv in (
        ("kubectl-sparkfleet", "--context", "other", "-n", ns, "plan"),  # before the command, as kubectl's
        ("kubectl-sparkfleet", "plan", "--context", "other", "--namespace", ns),
        ("sparkfleet", "shards", "plan", "--context", "other", "-n", ns),
    ):
        code, out, err = await run(*argv, kubeconfig=kubeconfig)
        assert code == 0, (argv, err)
        assert out == "no moves: every shard is where the plan wants it\n"  # no members: nothing to plan

    code, out, err = await run("kubectl-sparkfleet", "status", "--context", "staging", kubeconfig=kubeconfig)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: kubeconfig {kubeconfig}: no context named 'staging' (contexts: ")
    assert err.count("\n") == 1
