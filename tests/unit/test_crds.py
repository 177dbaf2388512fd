"""The CRDs on disk are exactly what the models generate, and structural."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sparkfleet.api import crd

CRD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "crds"


@pytest.mark.parametrize("name", sorted(crd.generate()))
def test_files_match_the_models(name: str) -> None:
    path = CRD_DIR / name
    assert path.exists(), f"{path} is missing: run `make crds`"
    assert path.read_text() == crd.render(crd.generate()[name]), (
        f"{path} drifted from the models: run `make crds`"
    )


def test_check_mode_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crd.main([str(tmp_path)]) == 0
    assert crd.main(["--check", str(tmp_path)]) == 0
    victim = next(tmp_path.iterdir())
    victim.write_text(victim.read_text() + "# edited by hand\n")
    assert crd.main(["--check", str(tmp_path)]) == 1
    assert "make crds" in capsys.readouterr().err


def walk(node: dict[str, Any], path: str = "") -> list[str]:
    """Paths of nodes that break the structural-schema rules."""
    bad = []
    if "$ref" in node or "anyOf" in node or "$defs" in node:
        bad.append(path or "/")
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        bad.append(path or "/")
    for name, child in node.get("properties", {}).items():
        bad += walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        bad += walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        bad += walk(node["additionalProperties"], f"{path}{{}}")
    return bad


@pytest.mark.parametrize("name", sorted(crd.generate()))
def test_schemas_are_structural_and_keep_the_v1beta2_names(name: str) -> None:
    doc = yaml.safe_load((CRD_DIR / name).read_text())
    version = doc["spec"]["versions"][0]
    assert version["name"] == "v1beta2"
    assert version["subresources"] == {"status": {}}
    schema = version["schema"]["openAPIV3Schema"]
    assert walk(schema) == []
    spec = schema["properties"]["spec"]
    if "template" in spec["properties"]:  # ScheduledSparkApplication
        spec = spec["properties"]["template"]
    for field in (
        "mainApplicationFile",
        "sparkUIOptions",
        "timeToLiveSeconds",
        "dynamicAllocation",
        "driver",
    ):
        assert field in spec["properties"]
    assert spec["x-kubernetes-preserve-unknown-fields"] is True  # newer Kubeflow fields are not pruned
    assert "default" not in (CRD_DIR / name).read_text()
