"""What the operator's owner references ask of the API server, and what a refusal of them says.

Driver pods and UI Services reference their SparkApplication, and runs their ScheduledSparkApplication,
with ``blockOwnerDeletion`` set, as the Kubeflow Spark Operator's do: a foreground deletion of the owner
(``kubectl delete --cascade=foreground``) waits until they are gone, so an application deleted that way
and created again never meets its previous driver. Under the OwnerReferencesPermissionEnforcement
admission plugin (OpenShift runs it), setting it needs update on the owner's ``finalizers``
subresource; without that grant the API server refuses the create with a 403 that does not say which
grant is missing. :func:`explain_refusal` says it.
"""

from __future__ import annotations

GROUP = "sparkoperator.k8s.io"
PLUGIN = "OwnerReferencesPermissionEnforcement"
REFUSAL = "cannot set blockOwnerDeletion"
"""How the plugin's refusal starts (k8s.io/kubernetes plugin/pkg/admission/gc)."""


def explain_refusal(message: str, owner_resource: str) -> str:
    """``message`` (what the API server answered) with the grant it lacks when it is the plugin's
    refusal of ``blockOwnerDeletion`` on a reference to an object of ``owner_resource``."""
    if REFUSAL not in message:
        return message
    return (
        f"{message} (the API server runs {PLUGIN}: the operator's ServiceAccount needs update on "
        f"{owner_resource}/finalizers in {GROUP})"
    )
