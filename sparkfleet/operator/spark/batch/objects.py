"""The PodGroup object of a plan, the same shape for Volcano and the coscheduling plugin; pure."""

from __future__ import annotations

from sparkfleet.api.resource import Resource
from sparkfleet.api.sparkapplication import SparkApplication
from sparkfleet.operator.spark.batch.model import Obj, PodGroup
from sparkfleet.operator.spark.submission import owner_reference


def pod_group(
    resource: Resource, crd: str, scheduler: str, app: SparkApplication, name: str, spec: Obj
) -> PodGroup:
    """PodGroup ``name`` in the application's namespace, controlled by the application."""
    obj: Obj = {
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {
            "name": name,
            "namespace": app.metadata["namespace"],
            "ownerReferences": [owner_reference(app)],
        },
        "spec": spec,
    }
    return PodGroup(resource, crd, obj, scheduler)
