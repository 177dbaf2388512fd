"""An in-memory fake of :class:`~sparkfleet.kube.KubeClient`, for unit tests of reconciles.

A fake of the CLIENT, not of the API server: it keeps objects by resource and key, assigns
``resourceVersion``, ``uid`` and ``creationTimestamp``, and answers what a reconcile relies on as
the API server would (an :class:`~sparkfleet.kube.ApiError` 404 NotFound, 409 AlreadyExists on a
create, 409 Conflict on a stale ``resourceVersion`` or an unmet delete precondition), with the
API server's reasons and messages. It records every request (:class:`Request`), so that a test
can count what one reconcile costs. No admission, no defaulting, no schema, no watch: integration
tests run against a real API server.

A status written through the ``status`` subresource changes the status only; a replace or a patch
of the object leaves its status alone (as for every resource with a status subresource).
"""

from __future__ import annotations

import builtins
import copy
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sparkfleet.kube.client import MERGE_PATCH, STRATEGIC_MERGE_PATCH, ClientSettings, KubeClient
from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.resources import Resource
from sparkfleet.kube.timestamps import format_time

Object = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True, slots=True)
class Request:
    """One request the fake answered (or refused): the API server's verb, the resource's plural
    (``pods``; ``sparkapplications/status`` for the status subresource) and the object's key
    (``namespace/name``; the namespace alone, or "", for a list)."""

    verb: str  # get | list | create | update | patch | delete
    resource: str
    key: str


@dataclass(slots=True)
class _Failure:
    verb: str
    resource: str
    error: ApiError
    times: int


def status_error(code: int, reason: str, message: str, resource: Resource, name: str = "") -> ApiError:
    """An :class:`ApiError` as the API server's ``Status`` answer makes it."""
    details: dict[str, Any] = {"kind": resource.plural}
    if resource.group:
        details["group"] = resource.group
    if name:
        details["name"] = name
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }
    return ApiError(code, reason, message, body)


def _not_found(resource: Resource, name: str) -> ApiError:
    return status_error(404, "NotFound", f'{resource} "{name}" not found', resource, name)


def _already_exists(resource: Resource, name: str) -> ApiError:
    return status_error(409, "AlreadyExists", f'{resource} "{name}" already exists', resource, name)


def _conflict(resource: Resource, name: str) -> ApiError:
    message = (
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    return status_error(409, "Conflict", message, resource, name)


def _precondition_failed(resource: Resource, name: str, field: str, wanted: str, actual: str) -> ApiError:
    message = f"Precondition failed: {field} in precondition: {wanted}, {field} in object meta: {actual}"
    return status_error(409, "Conflict", message, resource, name)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: ``patch`` applied to ``target`` (a new value; neither is changed)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def matches_labels(labels: dict[str, str] | None, selector: str | None) -> bool:
    """Whether ``labels`` match a label selector of equality terms: ``a=b``, ``a==b``, ``a!=b``,
    ``a`` (exists), ``!a`` (does not exist), comma-separated (all must hold)."""
    labels = labels or {}
    for term in (t.strip() for t in (selector or "").split(",")):
        if not term:
            continue
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _matches_fields(obj: Object, selector: str | None) -> bool:
    """Field selectors on ``metadata.name`` and ``metadata.namespace`` (``=``, ``==``, ``!=``)."""
    meta = obj.get("metadata") or {}
    fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}
    for term in (t.strip() for t in (selector or "").split(",")):
        if not term:
            continue
        negated = "!=" in term
        key, value = (s.strip() for s in term.replace("!=", "=").replace("==", "=").split("=", 1))
        if key not in fields:
            raise ValueError(f"the fake client selects on {sorted(fields)} only; got {key!r}")
        if (fields[key] == value) == negated:
            return False
    return True


class FakeKubeClient(KubeClient):
    """Objects in memory, answered as :class:`KubeClient` answers; see the module's docstring.

    ``add`` puts an object in place without a request (a test's starting state); ``fail`` makes
    the next requests of a verb on a resource raise the given error; ``requests`` lists every
    request made, ``count`` counts them."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # Not KubeClient.__init__: there is no connection and no transport.
        self.settings = ClientSettings()
        self.clock = clock
        self.requests: list[Request] = []
        self._objects: dict[Resource, dict[Key, Object]] = {}
        self._versions = itertools.count(1)
        self._failures: list[_Failure] = []

    @property
    def host(self) -> str:
        return "fake://kube-apiserver"

    async def close(self) -> None:
        return None

    # -- for tests -----------------------------------------------------------------

    def add(self, resource: Resource, obj: Object) -> Object:
        """Stores ``obj`` as if created (uid, resourceVersion, creationTimestamp assigned when
        missing), without recording a request. Returns the stored copy."""
        stored = self._stamped(resource, copy.deepcopy(obj), obj["metadata"].get("namespace"))
        meta = stored["metadata"]
        self._store(resource)[(meta.get("namespace") or "", meta["name"])] = stored
        return copy.deepcopy(stored)

    def object(self, resource: Resource, name: str, namespace: str | None = None) -> Object | None:
        """A copy of the stored object, or None; not a request."""
        found = self._store(resource).get((namespace or "", name))
        return copy.deepcopy(found) if found is not None else None

    def objects(self, resource: Resource, namespace: str | None = None) -> builtins.list[Object]:
        """Copies of the stored objects of ``resource`` (in ``namespace``), oldest first; not a request."""
        return [
            copy.deepcopy(obj)
            for (ns, _), obj in self._store(resource).items()
            if namespace is None or ns == namespace
        ]

    def fail(self, verb: str, resource: Resource | str, error: ApiError, times: int = 1) -> None:
        """The next ``times`` requests of ``verb`` on ``resource`` (a plural such as
        ``sparkapplications/status`` names a subresource) raise ``error`` (recorded all the same)."""
        plural = resource.plural if isinstance(resource, Resource) else resource
        self._failures.append(_Failure(verb, plural, error, times))

    def count(self, verb: str | None = None, resource: Resource | str | None = None) -> int:
        """How many requests were made (of ``verb``, on ``resource``)."""
        plural = resource.plural if isinstance(resource, Resource) else resource
        return sum(
            1
            for r in self.requests
            if (verb is None or r.verb == verb) and (plural is None or r.resource == plural)
        )

    def reset_requests(self) -> None:
        self.requests.clear()

    # -- verbs ---------------------------------------------------------------------

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> Object:
        self._record("get", resource.plural, namespace, name)
        return copy.deepcopy(self._existing(resource, name, namespace))

    async def list(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> Object:
        """Every match in one page (``limit`` and ``continue_token`` are not paged)."""
        self._record("list", resource.plural, namespace, "")
        items = [
            copy.deepcopy(obj)
            for (ns, _), obj in self._store(resource).items()
            if (not namespace or ns == namespace)
            and matches_labels(obj["metadata"].get("labels"), label_selector)
            and _matches_fields(obj, field_selector)
        ]
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.api_version,
            "metadata": {"resourceVersion": self._current_version()},
            "items": items,
        }

    async def list_all(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[Object], str]:
        page = await self.list(
            resource, namespace, label_selector=label_selector, field_selector=field_selector
        )
        return page["items"], page["metadata"]["resourceVersion"]

    async def create(self, resource: Resource, obj: Object, namespace: str | None = None) -> Object:
        namespace = namespace or obj.get("metadata", {}).get("namespace")
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        self._record("create", resource.plural, namespace, name)
        if not name and meta.get("generateName"):
            name = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        if not name:
            raise status_error(422, "Invalid", "metadata.name: Required value", resource)
        store = self._store(resource)
        if (namespace or "", name) in store:
            raise _already_exists(resource, name)
        created = copy.deepcopy(obj)
        created["metadata"] = {**created.get("metadata", {}), "name": name}
        for server_set in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            created["metadata"].pop(server_set, None)
        stored = self._stamped(resource, created, namespace)
        store[(namespace or "", name)] = stored
        return copy.deepcopy(stored)

    async def replace(self, resource: Resource, obj: Object, *, subresource: str | None = None) -> Object:
        meta = obj["metadata"]
        name, namespace = meta["name"], meta.get("namespace")
        plural = f"{resource.plural}/{subresource}" if subresource else resource.plural
        self._record("update", plural, namespace, name)
        current = self._existing(resource, name, namespace)
        wanted = meta.get("resourceVersion")
        if wanted and wanted != current["metadata"].get("resourceVersion"):
            raise _conflict(resource, name)
        if subresource == "status":
            updated = copy.deepcopy(current)
            if "status" in obj:
                updated["status"] = copy.deepcopy(obj["status"])
            else:
                updated.pop("status", None)
        elif subresource is None:
            updated = copy.deepcopy(obj)
            updated["metadata"] = {**copy.deepcopy(meta), **_server_fields(current["metadata"])}
            if "status" in current:
                updated["status"] = copy.deepcopy(current["status"])
            else:
                updated.pop("status", None)
        else:
            raise ValueError(f"the fake client has no subresource {subresource!r}")
        return copy.deepcopy(self._updated(resource, updated))

    async def put_status(self, resource: Resource, obj: Object) -> None:
        await self.replace(resource, obj, subresource="status")

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Any,
        namespace: str | None = None,
        *,
        content_type: str = MERGE_PATCH,
        subresource: str | None = None,
        field_manager: str | None = None,
        force: bool | None = None,
    ) -> Object:
        """A merge patch (a strategic merge patch is applied as one: no list merging by key)."""
        plural = f"{resource.plural}/{subresource}" if subresource else resource.plural
        self._record("patch", plural, namespace, name)
        if content_type not in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
            raise ValueError(f"the fake client applies merge patches only; got {content_type}")
        current = self._existing(resource, name, namespace)
        wanted = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
        if wanted and wanted != current["metadata"].get("resourceVersion"):
            raise _conflict(resource, name)
        patched = merge_patch(current, patch)
        if subresource == "status":
            updated = {**copy.deepcopy(current), "status": patched.get("status")}
            if updated["status"] is None:
                updated.pop("status")
        elif subresource is None:
            updated = patched
            updated["metadata"] = {**patched.get("metadata", {}), **_server_fields(current["metadata"])}
            updated.pop("status", None)
            if "status" in current:
                updated["status"] = copy.deepcopy(current["status"])
        else:
            raise ValueError(f"the fake client has no subresource {subresource!r}")
        return copy.deepcopy(self._updated(resource, updated))

    async def delete(
        self,
        resource: Resource,
        name: str,
        namespace: str | None = None,
        *,
        propagation_policy: str | None = None,
        resource_version: str | None = None,
        uid: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> Object | None:
        """Removes the object; one with finalizers is only marked (``deletionTimestamp``) until
        they are removed. No garbage collection: what the object owns stays."""
        self._record("delete", resource.plural, namespace, name)
        current = self._existing(resource, name, namespace)
        meta = current["metadata"]
        if uid and uid != meta.get("uid"):
            raise _precondition_failed(resource, name, "UID", uid, str(meta.get("uid")))
        if resource_version and resource_version != meta.get("resourceVersion"):
            raise _precondition_failed(
                resource, name, "ResourceVersion", resource_version, str(meta.get("resourceVersion"))
            )
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                marked = copy.deepcopy(current)
                marked["metadata"]["deletionTimestamp"] = format_time(self.clock())
                current = self._updated(resource, marked)
            return copy.deepcopy(current)
        del self._store(resource)[(namespace or "", name)]
        return copy.deepcopy(current)

    async def watch(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the fake client does not watch: fill the informers' stores instead")

    async def open(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the fake client answers its verbs only, not raw requests")

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the fake client answers its verbs only, not raw requests")

    # -- the store -----------------------------------------------------------------

    def _store(self, resource: Resource) -> dict[Key, Object]:
        return self._objects.setdefault(resource, {})

    def _record(self, verb: str, plural: str, namespace: str | None, name: str) -> None:
        key = f"{namespace}/{name}" if namespace and name else (name or namespace or "")
        self.requests.append(Request(verb, plural, key))
        for failure in self._failures:
            if failure.verb == verb and failure.resource == plural and failure.times > 0:
                failure.times -= 1
                raise failure.error

    def _existing(self, resource: Resource, name: str, namespace: str | None) -> Object:
        found = self._store(resource).get((namespace or "", name))
        if found is None:
            raise _not_found(resource, name)
        return found

    def _current_version(self) -> str:
        return str(next(self._versions))

    def _stamped(self, resource: Resource, obj: Object, namespace: str | None) -> Object:
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        meta = obj.setdefault("metadata", {})
        if resource.namespaced:
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", format_time(self.clock()))
        meta["resourceVersion"] = meta.get("resourceVersion") or self._current_version()
        return obj

    def _updated(self, resource: Resource, obj: Object) -> Object:
        """Stores a changed object under a new resourceVersion; an object marked deleted whose
        last finalizer went is removed."""
        meta = obj["metadata"]
        meta["resourceVersion"] = self._current_version()
        key = (meta.get("namespace") or "", meta["name"])
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self._store(resource)[key]
        else:
            self._store(resource)[key] = obj
        return obj


def _server_fields(meta: Object) -> Object:
    """What of an object's metadata the API server keeps whatever an update says."""
    kept = ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp")
    return {k: meta[k] for k in kept if k in meta}
