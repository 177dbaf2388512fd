"""Starting and stopping leaves nothing behind, even when the parent is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            children.append(int(entry.name))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
async def test_cli_control_plane_leaves_nothing_running(sig: signal.Signals) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sparkfleet.cli", "controlplane",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert b"control plane ready" in first, first
    children = _children_of(proc.pid)
    assert len(children) == 3  # etcd, kube-apiserver, kube-controller-manager
    os.kill(proc.pid, sig)
    await asyncio.wait_for(proc.wait(), 30)
    for _ in range(100):
        if not any(_alive(pid) for pid in children):
            break
        await asyncio.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]
