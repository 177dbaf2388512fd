"""The instance's HTTP endpoints: /metrics, /healthz, /readyz (and more as pieces land)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

# A readiness check answers None when ready, or the reason it is not.
ReadinessCheck = Callable[[], str | None]

# The Spark Operator's --metrics-prefix applies to its application and executor metrics only.
_SPARK_METRIC = re.compile(rb"^(# (?:HELP|TYPE) )?(spark_(?:application|executor)_)", re.MULTILINE)
_PREFIX = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def with_prefix(exposition: bytes, prefix: str) -> bytes:
    """The text exposition with ``prefix`` before every ``spark_application_*``/``spark_executor_*`` name."""
    if not prefix:
        return exposition
    head = prefix.encode()
    return _SPARK_METRIC.sub(lambda m: (m.group(1) or b"") + head + m.group(2), exposition)


class StatusServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, metrics_prefix: str = ""):
        if metrics_prefix and not _PREFIX.match(metrics_prefix):
            raise ValueError(
                f"--metrics-prefix {metrics_prefix!r} is not the start of a Prometheus metric name"
            )
        self.metrics_prefix = metrics_prefix
        self.host = host
        self.port = port
        self.checks: dict[str, ReadinessCheck] = {}
        self.app = web.Application()
        self.app.router.add_get("/metrics", self._metrics)
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None

    def add_readiness_check(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check

    def add_route(self, path: str, describe: Callable[[], Any]) -> None:
        """Serves ``describe()`` as JSON at ``path`` (GET), e.g. /debug/shards."""

        async def handler(request: web.Request) -> web.Response:
            return web.json_response(describe())

        self.app.router.add_get(path, handler)

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # tell the caller which port the OS chose
            server = site._server
            assert server is not None
            sockets = getattr(server, "sockets", None) or []
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _metrics(self, request: web.Request) -> web.Response:
        body = with_prefix(generate_latest(REGISTRY), self.metrics_prefix)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        failing = {name: reason for name, check in self.checks.items() if (reason := check()) is not None}
        if failing:
            text = "\n".join(f"[-] {name}: {reason}" for name, reason in failing.items())
            return web.Response(status=503, text=text + "\nreadyz check failed\n")
        return web.Response(text="ok")
