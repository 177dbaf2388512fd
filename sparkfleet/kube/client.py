"""The client every sparkfleet component talks to the API server through.

Plain aiohttp with what an operator at scale needs:

- a client-side QPS/burst limit and Retry-After handling (429 and 5xx), for
  every request;
- request timeouts;
- ``rest_client_*`` metrics under client-go's names;
- JSON in and out as plain dicts decoded with orjson, because decoding into
  generated models costs far more CPU (see ``bench/decode.py``).

Where the server is and who we are come from :mod:`sparkfleet.kube.config`.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from time import perf_counter
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson
from multidict import CIMultiDict

from sparkfleet import __version__
from sparkfleet.kube import metrics
from sparkfleet.kube.config import Connection, load_connection
from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.ratelimit import TokenBucket
from sparkfleet.kube.resources import Resource
from sparkfleet.kube.retry import DEFAULT_MAX_RETRIES, retry_delay

log = logging.getLogger(__name__)

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
ANSWER_CHUNK = 64 * 1024  # how an answer that is not needed is read and dropped

Query = dict[str, str | int | bool | None]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """How one process talks to the API server (``--kube-api-qps``, ``--kube-api-burst``, ...)."""

    qps: float = 50.0
    burst: int = 100
    pool_size: int = 0
    """Connections to the API server at once; 0: no limit. Over HTTP/1.1 every watch holds one
    connection for its whole life, so a limit below the number of watches starves every other request."""
    connect_timeout: float = 10.0
    request_timeout: float = 60.0
    max_retries: int = DEFAULT_MAX_RETRIES
    user_agent: str = f"sparkfleet/{__version__}"

    def __post_init__(self) -> None:
        if self.qps > 0 and self.burst < 1:
            raise ValueError(
                f"--kube-api-burst must be at least 1 when --kube-api-qps is set; got {self.burst}"
            )
        if self.pool_size < 0:
            raise ValueError(f"pool_size must not be negative; got {self.pool_size}")
        if self.request_timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("request and connect timeouts must be positive")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must not be negative; got {self.max_retries}")


class Transport:
    """The HTTP side of a client: one connection pool, the rate limiter, retries, timeouts, metrics."""

    def __init__(self, connection: Connection, settings: ClientSettings):
        self.connection = connection
        self.settings = settings
        self.bucket = TokenBucket(settings.qps, settings.burst)
        self.default_timeout = aiohttp.ClientTimeout(
            total=settings.request_timeout, connect=settings.connect_timeout
        )
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=settings.pool_size, ssl=connection.ssl),
            headers={"User-Agent": settings.user_agent},
        )

    @property
    def host(self) -> str:
        """The metrics' host label; follows the connection (tests re-point it through proxies)."""
        return urlsplit(self.connection.host).netloc

    async def close(self) -> None:
        await self.session.close()

    async def send(
        self,
        method: str,
        url: str,
        headers: CIMultiDict[str],
        data: bytes | None,
        timeout: aiohttp.ClientTimeout | None,
    ) -> aiohttp.ClientResponse:
        """Sends through the rate limiter, records metrics, and honours Retry-After."""
        kwargs: dict[str, Any] = {
            "headers": headers,
            "data": data,
            "timeout": timeout or self.default_timeout,
            "proxy": self.connection.proxy,
        }
        if self.connection.server_hostname:
            kwargs["server_hostname"] = self.connection.server_hostname
        verb, host = method, self.host
        attempt = 0
        while True:
            waited = await self.bucket.acquire()
            metrics.RATE_LIMITER_DURATION.labels(verb, host).observe(waited)
            start = perf_counter()
            try:
                resp = await self.session.request(method, url, **kwargs)
            except (aiohttp.ClientError, TimeoutError):
                metrics.REQUESTS.labels(metrics.ERROR_CODE, verb, host).inc()
                metrics.REQUEST_DURATION.labels(verb, host).observe(perf_counter() - start)
                raise
            metrics.REQUEST_DURATION.labels(verb, host).observe(perf_counter() - start)
            metrics.REQUESTS.labels(str(resp.status), verb, host).inc()
            delay = retry_delay(
                resp.status, resp.headers.get("Retry-After"), attempt, self.settings.max_retries
            )
            if delay is None:
                return resp
            metrics.RETRIES.labels(str(resp.status), verb, host).inc()
            log.info(
                "retrying after Retry-After",
                extra={"verb": verb, "url": str(resp.url), "code": resp.status, "delay_s": delay},
            )
            resp.release()
            await asyncio.sleep(delay)
            attempt += 1


def _clean_query(query: Query | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in (query or {}).items():
        if value is None:
            continue
        out.append((key, ("true" if value else "false") if isinstance(value, bool) else str(value)))
    return out


def _count_forbidden(error: ApiError, verb: str, path: str) -> None:
    """A 403 is counted as denied (what the SparkfleetApiForbidden alert watches) unless its namespace is
    being terminated: the API server refuses creates there with 403 too, and no RBAC can change that."""
    resource = str((error.body.get("details") or {}).get("kind") or _resource_in(path))
    counter = metrics.NAMESPACE_TERMINATING if error.is_namespace_terminating else metrics.DENIED
    counter.labels(verb, resource).inc()


def _resource_in(path: str) -> str:
    """The resource a request path names (``/api/v1/namespaces/ns/pods/x`` -> ``pods``)."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    start = 2 if parts[:1] == ["api"] else 3  # past /api/v1 or /apis/<group>/<version>
    rest = parts[start:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    return rest[0] if rest else ""


def _namespace_of(obj: dict[str, Any], namespace: str | None) -> str | None:
    return namespace or obj.get("metadata", {}).get("namespace")


class KubeClient:
    """Raw-JSON access to the API server. Create with :func:`connect`; close when done."""

    def __init__(self, connection: Connection, settings: ClientSettings):
        self.connection = connection
        self.settings = settings
        self.transport = Transport(connection, settings)

    @property
    def host(self) -> str:
        return self.connection.host

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- transport -----------------------------------------------------------------

    async def open(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> aiohttp.ClientResponse:
        """Sends a request and returns the open response; raises :class:`ApiError` on non-2xx."""
        headers = await self.connection.headers()
        headers["Accept"] = JSON
        headers["Content-Type"] = content_type
        query_list = _clean_query(query)
        url = self.host + path + ("?" + urlencode(query_list) if query_list else "")
        data = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        resp = await self.transport.send(method, url, headers, data, timeout)
        if not 200 <= resp.status <= 299:
            raw = await resp.read()
            resp.release()
            error = ApiError.from_response(resp.status, resp.reason, raw)
            if error.is_forbidden:
                _count_forbidden(error, method, path)
            raise error
        return resp

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> Any:
        """Sends a request and returns the decoded JSON answer (``None`` when empty)."""
        resp = await self.open(
            method, path, query=query, body=body, content_type=content_type, timeout=timeout
        )
        try:
            raw = await resp.read()
        finally:
            resp.release()
        return orjson.loads(raw) if raw else None

    # -- verbs ---------------------------------------------------------------------

    async def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("GET", resource.path(namespace, name))
        return result

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
    ) -> dict[str, Any]:
        """One page of a list; see :meth:`list_all` for every page."""
        result: dict[str, Any] = await self.request(
            "GET",
            resource.path(namespace),
            query={
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "limit": limit,
                "continue": continue_token,
                "resourceVersion": resource_version,
            },
        )
        return result

    async def list_all(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every object (a consistent read, paginated) and the list's resourceVersion."""
        items: builtins.list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = await self.list(
                resource,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=page_size,
                continue_token=token,
            )
            items.extend(page.get("items") or [])
            token = page.get("metadata", {}).get("continue") or None
            if not token:
                return items, str(page.get("metadata", {}).get("resourceVersion", ""))

    async def create(
        self, resource: Resource, obj: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "POST", resource.path(_namespace_of(obj, namespace)), body=obj
        )
        return result

    async def replace(
        self, resource: Resource, obj: dict[str, Any], *, subresource: str | None = None
    ) -> dict[str, Any]:
        """PUT; with ``metadata.resourceVersion`` set this is a compare-and-swap (409 on conflict)."""
        meta = obj["metadata"]
        path = resource.path(meta.get("namespace"), meta["name"], subresource)
        result: dict[str, Any] = await self.request("PUT", path, body=obj)
        return result

    async def replace_status(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        return await self.replace(resource, obj, subresource="status")

    async def put_status(self, resource: Resource, obj: dict[str, Any]) -> None:
        """:meth:`replace_status` without its answer: the whole object, which a tenant can make
        1.5 MiB, is read in chunks and dropped, never held or decoded."""
        meta = obj["metadata"]
        resp = await self.open("PUT", resource.path(meta.get("namespace"), meta["name"], "status"), body=obj)
        try:
            async for _chunk in resp.content.iter_chunked(ANSWER_CHUNK):
                pass
        finally:
            resp.release()

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
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "PATCH",
            resource.path(namespace, name, subresource),
            body=patch,
            content_type=content_type,
            query={"fieldManager": field_manager, "force": force},
        )
        return result

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
    ) -> dict[str, Any] | None:
        """Deletes ``name``; ``resource_version`` and ``uid`` are preconditions (409 when unmet)."""
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        preconditions = {"resourceVersion": resource_version, "uid": uid}
        if any(preconditions.values()):
            body["preconditions"] = {k: v for k, v in preconditions.items() if v}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        result: dict[str, Any] | None = await self.request(
            "DELETE", resource.path(namespace, name), body=body
        )
        return result

    async def watch(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        allow_bookmarks: bool = True,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Watch events as dicts (``type``, ``object``), until the server ends the stream.

        A non-2xx answer raises :class:`ApiError`; a dropped connection raises
        the aiohttp or timeout error, which the caller (the informer) handles.
        """
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self.settings.connect_timeout,
            sock_read=timeout_seconds + self.settings.request_timeout,
        )
        resp = await self.open(
            "GET",
            resource.path(namespace),
            query={
                "watch": True,
                "resourceVersion": resource_version,
                "labelSelector": label_selector,
                "fieldSelector": field_selector,
                "timeoutSeconds": timeout_seconds,
                "allowWatchBookmarks": allow_bookmarks,
            },
            timeout=timeout,
        )
        return _watch_events(resp)


async def _watch_events(resp: aiohttp.ClientResponse) -> AsyncGenerator[dict[str, Any], None]:
    """Splits a watch stream into events. Lines can be larger than aiohttp's line limit (an object
    of 1.5 MiB): they grow in one buffer, searched from where the last chunk began, not copied
    whole at each chunk."""
    buffer = bytearray()
    try:
        async for chunk in resp.content.iter_any():
            start = len(buffer)
            buffer += chunk
            while (end := buffer.find(b"\n", start)) >= 0:
                line = buffer[:end]
                del buffer[: end + 1]
                start = 0
                if line.strip():
                    yield orjson.loads(line)
                del line
        if buffer.strip():
            yield orjson.loads(buffer)
    finally:
        resp.close()


async def connect(
    kubeconfig: str | None = None,
    *,
    context: str | None = None,
    settings: ClientSettings | None = None,
) -> KubeClient:
    """A client from a kubeconfig (or in-cluster), with the given limits."""
    connection = await load_connection(kubeconfig, context)
    return KubeClient(connection, settings or ClientSettings())
