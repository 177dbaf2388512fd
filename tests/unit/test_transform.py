"""What the caches keep of an object: enough for the controllers, without managedFields or a pod's spec."""

from __future__ import annotations

import copy
from typing import Any

from sparkfleet.kube.transform import pod_status_view, strip_managed_fields

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "app-driver",
        "namespace": "ns",
        "uid": "u1",
        "resourceVersion": "7",
        "labels": {"spark-role": "driver"},
        "annotations": {"sparkfleet.io/spec-hash": "abc"},
        "ownerReferences": [{"kind": "SparkApplication", "name": "app", "uid": "u0"}],
        "managedFields": [{"manager": "sparkfleet", "fieldsV1": {"f:spec": {}}}],
    },
    "spec": {
        "nodeName": "node-1",
        "containers": [{"name": "spark-kubernetes-driver", "env": [{"name": "A"}]}],
    },
    "status": {"phase": "Running", "containerStatuses": [{"name": "spark-kubernetes-driver", "ready": True}]},
}


def test_managed_fields_go_and_the_original_is_untouched() -> None:
    original = copy.deepcopy(POD)
    stripped = strip_managed_fields(POD)
    assert "managedFields" not in stripped["metadata"]
    assert stripped["metadata"]["labels"] == POD["metadata"]["labels"]
    assert original == POD  # the watch event's object is not mutated
    no_fields = {"metadata": {"name": "x"}}
    assert strip_managed_fields(no_fields) is no_fields  # nothing to strip: no copy


def test_pod_view_keeps_metadata_status_and_node_only() -> None:
    view = pod_status_view(POD)
    assert view["spec"] == {"nodeName": "node-1"}
    assert view["status"] == POD["status"]
    assert view["metadata"]["annotations"] == POD["metadata"]["annotations"]
    assert view["metadata"]["ownerReferences"] == POD["metadata"]["ownerReferences"]
    assert "managedFields" not in view["metadata"]
    assert (view["apiVersion"], view["kind"]) == ("v1", "Pod")
