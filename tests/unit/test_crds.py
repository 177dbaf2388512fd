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


SPARK_CRDS = sorted(n for n in crd.generate() if n.startswith("sparkoperator.k8s.io_"))


@pytest.mark.parametrize("name", SPARK_CRDS)
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


def test_the_fleet_crd_is_structural_strict_and_carries_the_cel_rules() -> None:
    doc = yaml.safe_load((CRD_DIR / "sparkfleet.io_sparkfleets.yaml").read_text())
    version = doc["spec"]["versions"][0]
    assert (doc["spec"]["group"], version["name"]) == ("sparkfleet.io", "v1alpha1")
    assert "annotations" not in doc["metadata"]  # only *.k8s.io groups need api-approved
    schema = version["schema"]["openAPIV3Schema"]
    assert walk(schema) == []
    assert "x-kubernetes-preserve-unknown-fields" not in str(schema)  # a typo is refused, not kept
    spec = schema["properties"]["spec"]
    shards = spec["properties"]["shards"]
    assert shards["x-kubernetes-list-type"] == "map"
    assert shards["x-kubernetes-list-map-keys"] == ["name"]
    assert "exactly one of" in shards["items"]["x-kubernetes-validations"][0]["message"]
    rules = [r["message"] for r in spec["properties"]["lease"]["x-kubernetes-validations"]]
    assert any("greater than renewDeadlineSeconds" in m for m in rules)
