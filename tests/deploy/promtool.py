"""Running Prometheus's promtool, the judge of the chart's alert rules and of the dashboard's PromQL.

promtool is the pinned one `make promtool` builds into bin/; a missing promtool fails the tests (never
a skip).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import ROOT

PROMTOOL = ROOT / "bin" / "promtool"


def promtool(*args: str | Path) -> str:
    """promtool's output for ``args``; the test fails, with what promtool said, when it does not exit 0."""
    if not PROMTOOL.exists():
        pytest.fail(f"promtool is not installed at {PROMTOOL.relative_to(ROOT)}: run `make promtool`")
    command = [str(PROMTOOL), *(str(a) for a in args)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(
            f"promtool {' '.join(command[1:])} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def write_rules(path: Path, groups: list[dict[str, Any]]) -> Path:
    """A Prometheus rules file of ``groups`` at ``path``."""
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def check_rules(path: Path) -> str:
    """``promtool check rules`` with every lint, lint findings fatal."""
    return promtool("check", "rules", "--lint=all", "--lint-fatal", path)
