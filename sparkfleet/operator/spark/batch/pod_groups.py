"""The PodGroup a plan asks for, made to exist before the driver (the I/O of :mod:`.plan`).

Create is idempotent across runs and fleet hand-offs: AlreadyExists reads the PodGroup, and one the
application controls is adopted (its spec brought to the plan's when they differ); one left by an
earlier application of the same name (whose UID is gone) is deleted and made anew, as the garbage
collector would; any other fails the submission naming its owner. A PodGroup API the API server does
not serve (the scheduler's CRD is not installed) fails it naming the scheduler, the field and the CRD.
"""

from __future__ import annotations

from typing import Any

from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.errors import ignore_not_found
from sparkfleet.operator.spark import ownership
from sparkfleet.operator.spark.batch.model import FIELD, PodGroup


class PodGroupFailure(Exception):
    """The PodGroup cannot be made: the message the submission fails with."""


def _where(group: PodGroup) -> str:
    meta = group.obj["metadata"]
    return f"{meta['namespace']}/{meta['name']}"


def _owner_text(obj: dict[str, Any]) -> str:
    refs = obj["metadata"].get("ownerReferences") or []
    if not refs:
        return "no owner"
    return ", ".join(f"{ref.get('kind', '?')} {ref.get('name', '?')}" for ref in refs)


async def ensure(client: KubeClient, group: PodGroup, owner_uid: str | None) -> dict[str, Any]:
    """The application's PodGroup as it is in the cluster once it exists; :class:`PodGroupFailure`
    says why it cannot."""
    try:
        return await _create_or_adopt(client, group, owner_uid)
    except ApiError as exc:
        if exc.is_namespace_terminating:
            raise
        if exc.is_not_found:
            raise PodGroupFailure(
                f"{FIELD}: {group.scheduler}: the API server does not serve {group.resource.api_version} "
                f"PodGroups: the CustomResourceDefinition {group.crd} is not installed"
            ) from None
        raise PodGroupFailure(
            f"{FIELD}: {group.scheduler}: cannot make PodGroup {_where(group)}: "
            f"{exc.status} {exc.reason}: {exc.message}"
        ) from None


async def _create_or_adopt(client: KubeClient, group: PodGroup, owner_uid: str | None) -> dict[str, Any]:
    resource, obj = group.resource, group.obj
    namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    for _ in range(2):
        try:
            created: dict[str, Any] = await client.create(resource, obj)
            return created
        except ApiError as exc:
            if not exc.is_conflict:
                raise
        try:
            existing: dict[str, Any] = await client.get(resource, name, namespace)
        except ApiError as exc:
            if exc.is_not_found:
                continue  # gone meanwhile: create it again
            raise
        if ownership.owned_by(existing, owner_uid):
            wanted = {**existing.get("spec", {}), **obj["spec"]}  # the plan's fields over what is there
            if existing.get("spec", {}) == wanted:
                return existing
            updated: dict[str, Any] = await client.replace(resource, {**existing, "spec": wanted})
            return updated
        app_name = next(ref["name"] for ref in obj["metadata"]["ownerReferences"])
        if ownership.orphan_of(existing, "SparkApplication", app_name, owner_uid):
            with ignore_not_found():
                await client.delete(resource, name, namespace, uid=existing["metadata"].get("uid"))
            continue
        raise PodGroupFailure(
            f"{FIELD}: {group.scheduler}: PodGroup {namespace}/{name} exists and is not owned by this "
            f"application (owned by {_owner_text(existing)})"
        )
    raise PodGroupFailure(f"{FIELD}: {group.scheduler}: PodGroup {namespace}/{name} keeps being replaced")
