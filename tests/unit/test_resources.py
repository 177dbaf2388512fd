from __future__ import annotations

import pytest

from sparkfleet.kube.resources import CRDS, LEASES, NAMESPACES, PODS, Resource, object_key


def test_core_paths() -> None:
    assert PODS.path() == "/api/v1/pods"
    assert PODS.path("spark") == "/api/v1/namespaces/spark/pods"
    assert PODS.path("spark", "driver") == "/api/v1/namespaces/spark/pods/driver"
    assert PODS.path("spark", "driver", "status") == "/api/v1/namespaces/spark/pods/driver/status"


def test_group_paths() -> None:
    assert LEASES.path("fleet", "shard-a") == "/apis/coordination.k8s.io/v1/namespaces/fleet/leases/shard-a"
    apps = Resource("sparkoperator.k8s.io", "v1beta2", "sparkapplications", "SparkApplication")
    assert apps.path("team") == "/apis/sparkoperator.k8s.io/v1beta2/namespaces/team/sparkapplications"
    assert apps.api_version == "sparkoperator.k8s.io/v1beta2"
    assert str(apps) == "sparkapplications.sparkoperator.k8s.io"


def test_cluster_scoped_paths_refuse_a_namespace() -> None:
    assert NAMESPACES.path(name="x") == "/api/v1/namespaces/x"
    assert CRDS.path() == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    with pytest.raises(ValueError, match="cluster-scoped"):
        NAMESPACES.path("default")


def test_subresource_needs_a_name() -> None:
    with pytest.raises(ValueError, match="subresource"):
        PODS.path("ns", None, "status")


def test_object_key() -> None:
    assert object_key({"metadata": {"namespace": "a", "name": "b"}}) == "a/b"
    assert object_key({"metadata": {"name": "node-1"}}) == "node-1"
