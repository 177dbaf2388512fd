"""The refusal of blockOwnerDeletion, said with the grant that is missing."""

from __future__ import annotations

from sparkfleet.operator.spark.owner_refs import explain_refusal

PLUGINS_403 = (
    'pods "app-0-driver" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a '
    "resource you can't set finalizers on: , <nil>"
)


def test_the_plugins_refusal_names_the_missing_grant() -> None:
    assert explain_refusal(PLUGINS_403, "sparkapplications") == (
        f"{PLUGINS_403} (the API server runs OwnerReferencesPermissionEnforcement: the operator's "
        "ServiceAccount needs update on sparkapplications/finalizers in sparkoperator.k8s.io)"
    )


def test_any_other_refusal_is_left_as_it_is() -> None:
    rbac = 'pods is forbidden: User "system:serviceaccount:ops:op" cannot create resource "pods"'
    assert explain_refusal(rbac, "sparkapplications") == rbac
