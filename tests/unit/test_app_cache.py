"""The bounded application cache's views (sparkfleet.operator.spark.app_cache), and list page sizing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sparkfleet.demo.workload import application
from sparkfleet.kube.informer import FIRST_PAGE, PAGE_BYTES, next_page_size
from sparkfleet.operator.spark import app_cache
from sparkfleet.operator.spark.app_cache import (
    CachedObject,
    bounded_view,
    cached_bytes,
    status_view,
    unpacked,
)
from sparkfleet.operator.spark.validation import InvalidApplication, parse


def app(**spec: Any) -> dict[str, Any]:
    obj = application("etl", "team-a", 2)
    obj["spec"].update(spec)
    obj["metadata"].update(
        {
            "uid": "u-1",
            "resourceVersion": "7",
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
        }
    )
    obj["status"] = {"applicationState": {"state": "RUNNING"}}
    return obj


def test_a_spec_is_packed_and_unpacked_unchanged() -> None:
    original = app(arguments=["--day", "2026-12-01"])
    cached = bounded_view(1024 * 1024)(original)
    assert "spec" not in cached  # packed: a status write sends no spec
    assert "managedFields" not in cached["metadata"]
    assert cached["status"] == original["status"]
    full = unpacked(cached)
    assert full["spec"] == original["spec"]
    assert parse(full).spec.arguments == ["--day", "2026-12-01"]


def test_a_packed_spec_costs_less_than_its_json() -> None:
    original = app(sparkConf={f"spark.tenant.{i}": "value" for i in range(2000)})
    cached = bounded_view()(original)
    assert cached_bytes(cached) < len(orjson.dumps(original["spec"])) / 4


def test_the_size_counts_spec_labels_and_annotations_not_status_or_managed_fields() -> None:
    obj = app()
    obj["metadata"]["annotations"] = {"note": "n" * 100}
    expected = sum(
        len(orjson.dumps(obj[k] if k == "spec" else obj["metadata"][k]))
        for k in ("spec", "labels", "annotations")
    )
    assert app_cache.application_bytes(obj) == expected
    obj["status"]["applicationState"]["errorMessage"] = "e" * 10_000
    assert app_cache.application_bytes(obj) == expected


def test_an_application_over_the_bound_keeps_no_spec_and_is_refused_naming_size_and_bound() -> None:
    obj = app(arguments=["secret-payload"] * 2000)
    obj["metadata"]["labels"].update({f"team-{i}": "x" for i in range(100)})
    obj["metadata"]["labels"]["sparkoperator.k8s.io/scheduled-app-name"] = "nightly"
    obj["metadata"]["annotations"] = {"blob": "b" * 5000}
    size = app_cache.application_bytes(obj)
    cached = bounded_view(10_000)(obj)
    assert isinstance(cached, CachedObject)
    assert cached.packed == b""
    assert cached["metadata"]["labels"] == {  # the operator's own only
        "sparkfleet.io/workload": "seed",
        "sparkoperator.k8s.io/scheduled-app-name": "nightly",
    }
    assert "annotations" not in cached["metadata"]
    assert cached["metadata"]["uid"] == "u-1"
    assert cached["status"] == obj["status"]  # what the refusal compares with
    assert cached_bytes(cached) < 1024
    with pytest.raises(InvalidApplication) as refused:
        unpacked(cached)
    message = str(refused.value)
    assert message.startswith("spec.arguments: ")  # the largest field
    assert f"{len(orjson.dumps(obj['spec']['arguments']))} of them in spec.arguments" in message
    assert f"{size} bytes" in message
    assert "at most 10000 (--max-application-bytes)" in message
    assert "secret-payload" not in message


def test_an_application_at_the_bound_is_accepted() -> None:
    obj = app()
    cached = bounded_view(app_cache.application_bytes(obj))(obj)
    assert unpacked(cached)["spec"] == obj["spec"]


def test_owner_references_and_finalizers_of_an_over_bound_application_are_cut() -> None:
    obj = app(arguments=["a"] * 1000)
    obj["metadata"]["ownerReferences"] = [{"uid": f"o-{i}"} for i in range(100)]
    obj["metadata"]["finalizers"] = [f"f/{i}" for i in range(100)]
    cached = bounded_view(100)(obj)
    assert len(cached["metadata"]["ownerReferences"]) == app_cache.MAX_LIST_KEPT
    assert len(cached["metadata"]["finalizers"]) == app_cache.MAX_LIST_KEPT


def test_the_bound_must_be_positive() -> None:
    with pytest.raises(ValueError, match="--max-application-bytes"):
        bounded_view(0)


def test_an_object_from_elsewhere_is_unpacked_as_it_is() -> None:
    obj = app()
    assert unpacked(obj) == obj


def test_a_runs_view_has_metadata_and_status_only() -> None:
    view = status_view(app(arguments=["x"] * 100))
    assert set(view) == {"apiVersion", "kind", "metadata", "status"}
    assert "managedFields" not in view["metadata"]


def test_pages_are_sized_to_the_byte_budget() -> None:
    small = [{"metadata": {"name": f"a{i}"}, "spec": {"x": "y" * 100}} for i in range(FIRST_PAGE)]
    assert next_page_size(small, 500) == 500  # small objects: the usual page size from the second page
    large = [{"spec": {"x": "y" * 1_400_000}} for _ in range(FIRST_PAGE)]
    assert next_page_size(large, 500) == PAGE_BYTES * FIRST_PAGE // len(orjson.dumps(large)) == 2
    assert next_page_size([{"spec": {"x": "y" * 10 * PAGE_BYTES}}], 500) == 1  # never less than one
    assert next_page_size([], 500) == 500
