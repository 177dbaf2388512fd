"""`sparkfleet` is also installed as the kubectl plugin `kubectl-sparkfleet`, with the same commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("program", ["sparkfleet", "kubectl-sparkfleet"])
def test_both_entry_points_offer_the_shard_commands(program: str) -> None:
    path = shutil.which(program, path=str(BIN))
    assert path is not None, f"{program} is not installed next to {sys.executable}"
    result = subprocess.run(
        [path, "shards", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in ("status", "plan", "move", "drain", "undrain", "rebalance"):
        assert command in result.stdout


def test_output_formats_are_the_kubectl_ones() -> None:
    path = shutil.which("kubectl-sparkfleet", path=str(BIN))
    assert path is not None
    result = subprocess.run(
        [path, "shards", "status", "-o", "wide"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "table" in result.stderr
    assert "json" in result.stderr
