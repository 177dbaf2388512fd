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
    """/metrics, /healthz, /readyz (and debug routes) on ``host:port``; with ``probe_address``,
    /healthz and /readyz there too (the Spark Operator's --health-probe-bind-address, where its
    chart's probes ask)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        metrics_prefix: str = "",
        probe_address: tuple[str, int] | None = None,
    ):
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
        self.probe_address = probe_address
        self.probes = web.Application()
        self.probes.router.add_get("/healthz", self._healthz)
        self.probes.router.add_get("/readyz", self._readyz)
        self._runner: web.AppRunner | None = None
        self._probe_runner: web.AppRunner | None = None

    def add_readiness_check(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check

    def add_route(self, path: str, describe: Callable[[], Any]) -> None:
        """Serves ``describe()`` as JSON at ``path`` (GET), e.g. /debug/shards."""

        async def handler(request: web.Request) -> web.Response:
            return web.json_response(describe())

        self.app.router.add_get(path, handler)

    async def start(self) -> None:
        self._runner, self.port = await _serve(self.app, self.host, self.port)
        if self.probe_address is not None:
            host, port = self.probe_address
            self._probe_runner, port = await _serve(self.probes, host, port)
            self.probe_address = (host, port)

    async def stop(self) -> None:
        for runner in (self._probe_runner, self._runner):
            if runner is not None:
                await runner.cleanup()
        self._runner = self._probe_runner = None

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


async def _serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serves ``app`` on ``host:port``; returns its runner and the port (the OS's choice for 0)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    if port == 0:
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        port = int(sockets[0].getsockname()[1])
    return runner, port
