"""Which API answers are what: a 403 from RBAC and the 403 of a namespace being terminated."""

from __future__ import annotations

import orjson

from sparkfleet.kube.client import _resource_in
from sparkfleet.kube.errors import ApiError

# the API server's answer (NamespaceLifecycle admission), as the integration test records it
TERMINATING = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "message": 'configmaps "after" is forbidden: unable to create new content in namespace team-a '
    "because it is being terminated",
    "reason": "Forbidden",
    "details": {
        "name": "after",
        "kind": "configmaps",
        "causes": [
            {
                "reason": "NamespaceTerminating",
                "message": "namespace team-a is being terminated",
                "field": "metadata.namespace",
            }
        ],
    },
    "code": 403,
}
RBAC = {
    "kind": "Status",
    "status": "Failure",
    "message": 'pods is forbidden: User "system:serviceaccount:ops:sf" cannot create resource "pods" in '
    'API group "" in the namespace "kube-system"',
    "reason": "Forbidden",
    "details": {"kind": "pods"},
    "code": 403,
}


def error(body: dict[str, object], status: int = 403) -> ApiError:
    return ApiError.from_response(status, "Forbidden", orjson.dumps(body))


def test_a_namespace_being_terminated_is_forbidden_but_not_denied() -> None:
    refused = error(TERMINATING)
    assert refused.is_forbidden
    assert refused.is_namespace_terminating
    assert not refused.is_denied


def test_the_message_alone_is_enough_when_the_causes_are_missing() -> None:
    body = {k: v for k, v in TERMINATING.items() if k != "details"}
    assert error(body).is_namespace_terminating


def test_an_rbac_403_is_denied() -> None:
    refused = error(RBAC)
    assert refused.is_forbidden
    assert refused.is_denied
    assert not refused.is_namespace_terminating


def test_only_a_403_can_be_a_terminating_namespace() -> None:
    assert not error(TERMINATING, status=409).is_namespace_terminating
    assert not error(TERMINATING, status=409).is_denied


def test_the_resource_of_a_request_path() -> None:
    assert _resource_in("/api/v1/namespaces/ns/pods/x") == "pods"
    assert _resource_in("/api/v1/namespaces/ns/pods?dryRun=All") == "pods"
    assert _resource_in("/apis/sparkoperator.k8s.io/v1beta2/namespaces/ns/sparkapplications/a/status") == (
        "sparkapplications"
    )
    assert _resource_in("/apis/coordination.k8s.io/v1/leases") == "leases"
    assert _resource_in("/api/v1/namespaces/ns") == "namespaces"
    assert _resource_in("/api/v1/namespaces") == "namespaces"
