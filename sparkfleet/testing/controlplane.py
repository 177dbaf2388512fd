"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager.

Every port is free and on loopback; the API server serves TLS, authenticates
client certificates and ServiceAccount tokens, and authorizes with RBAC.
``admin`` is in system:masters; :meth:`ControlPlane.mint_identity` gives
non-admin identities for least-privilege and API Priority and Fairness tests.

``podtemplates`` are served without the API server's watch cache, straight
from etcd, so a test can force 410 Gone on a watch by compacting etcd
(:meth:`ControlPlane.compact_etcd`); every other resource is served as in
production.

``admission_plugins`` turns on admission plugins beyond the API server's defaults (for example
``OwnerReferencesPermissionEnforcement``, which OpenShift runs); by default none are added.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import shutil
import ssl
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from sparkfleet.kube import ApiError, ClientSettings, KubeClient, connect
from sparkfleet.kube.client import APPLY_PATCH
from sparkfleet.kube.resources import CRDS, NAMESPACES, SERVICEACCOUNTS
from sparkfleet.testing.assets import Assets, find_assets
from sparkfleet.testing.kubeconfig import write_kubeconfig
from sparkfleet.testing.pki import CertificateAuthority, service_account_keys
from sparkfleet.testing.proc import Process, free_port

log = logging.getLogger(__name__)

ADMIN_USER = "sparkfleet-admin"
FIELD_MANAGER = "sparkfleet-testing"
# Room for a Service IP per application (each driver's UI Service) at seed scale and beyond; a /24
# ran out at 254 applications.
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
UNCACHED_RESOURCES = ("podtemplates",)
# Controllers the tests rely on: owner-reference garbage collection, namespace
# deletion, and the default ServiceAccount that pod admission requires.
CONTROLLERS = ("garbage-collector-controller", "namespace-controller", "serviceaccount-controller")
LEGACY_CONTROLLERS = ("garbagecollector", "namespace", "serviceaccount")  # before 1.28


def admission_args(plugins: Sequence[str]) -> list[str]:
    """The API server flag that enables ``plugins`` besides its default ones (none: no flag)."""
    for plugin in plugins:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", plugin):
            raise ValueError(f"admission_plugins: {plugin!r} is not an admission plugin name")
    return [f"--enable-admission-plugins={','.join(plugins)}"] if plugins else []


class ControlPlaneError(Exception):
    """A component did not start; the message carries the end of its log."""


@dataclass(frozen=True, slots=True)
class Identity:
    """A non-admin identity: a ServiceAccount and a token for it."""

    namespace: str
    name: str
    token: str
    kubeconfig: Path

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


class ControlPlane:
    """Starts and stops one local control plane. Use as ``async with ControlPlane() as cp``."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        assets: Assets | None = None,
        controller_manager: bool = True,
        apiserver_args: Sequence[str] = (),
        admission_plugins: Sequence[str] = (),
        keep_workdir: bool = False,
        start_timeout: float = 60.0,
    ):
        self._admission_args = admission_args(admission_plugins)  # refused before anything is made
        self._owns_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="sparkfleet-cp-"))
        self.assets = assets
        self.want_controller_manager = controller_manager
        self.apiserver_args = tuple(apiserver_args)
        self.admission_plugins = tuple(admission_plugins)
        self.keep_workdir = keep_workdir
        self.start_timeout = start_timeout
        self.processes: dict[str, Process] = {}
        self.etcd_url = ""
        self.host = ""
        self.kubeconfig = self.workdir / "admin.kubeconfig"
        self.startup_seconds = 0.0
        self._ca: CertificateAuthority | None = None
        self._admin_ssl: ssl.SSLContext | None = None

    async def __aenter__(self) -> ControlPlane:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        started = time.monotonic()
        if self.assets is None:
            self.assets = await asyncio.to_thread(find_assets)
        try:
            await self._start(self.assets)
        except BaseException:
            await self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        log.info(
            "control plane ready",
            extra={
                "host": self.host,
                "kubeconfig": str(self.kubeconfig),
                "seconds": round(self.startup_seconds, 2),
            },
        )

    async def _start(self, assets: Assets) -> None:
        pki = self.workdir / "pki"
        logs = self.workdir / "logs"
        for directory in (pki, logs, self.workdir / "etcd"):
            directory.mkdir(parents=True, exist_ok=True)
        ca = self._ca = CertificateAuthority(pki)
        serving = ca.serving()
        admin = ca.client("admin", ADMIN_USER, ("system:masters",))
        kcm = ca.client("kube-controller-manager", "system:kube-controller-manager")
        sa = service_account_keys(pki)

        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        self.host = f"https://127.0.0.1:{api_port}"

        await self._spawn(
            "etcd",
            [
                str(assets.etcd),
                "--name=sparkfleet",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=sparkfleet=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync=true",
                "--quota-backend-bytes=4294967296",
                "--log-level=warn",
            ],
        )
        await self._wait_http("etcd", f"{self.etcd_url}/health", ssl_context=True)

        # Server-side shard selectors for lists and watches (alpha since 1.36).
        feature_gates = ["--feature-gates=ShardedListAndWatch=true"] if assets.version >= (1, 36) else []
        args = [
            str(assets.kube_apiserver),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={pki}",
            f"--tls-cert-file={serving.cert}",
            f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={ca.cert_path}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={sa.cert}",
            f"--service-account-signing-key-file={sa.key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=true",
            "--profiling=false",
            "--watch-cache-sizes=" + ",".join(f"{r}#0" for r in UNCACHED_RESOURCES),
            *feature_gates,
            *self._admission_args,
            *self.apiserver_args,
        ]
        await self._spawn("kube-apiserver", args)
        self._admin_ssl = ssl.create_default_context(cafile=str(ca.cert_path))
        self._admin_ssl.load_cert_chain(str(admin.cert), str(admin.key))
        await self._wait_http("kube-apiserver", f"{self.host}/readyz", ssl_context=self._admin_ssl)

        write_kubeconfig(
            self.kubeconfig,
            server=self.host,
            ca_file=ca.cert_path,
            user=ADMIN_USER,
            client_cert=admin.cert,
            client_key=admin.key,
        )
        if self.want_controller_manager and assets.kube_controller_manager is not None:
            kcm_kubeconfig = write_kubeconfig(
                self.workdir / "kube-controller-manager.kubeconfig",
                server=self.host,
                ca_file=ca.cert_path,
                user="system:kube-controller-manager",
                client_cert=kcm.cert,
                client_key=kcm.key,
            )
            controllers = CONTROLLERS if assets.version >= (1, 28) else LEGACY_CONTROLLERS
            kcm_port = free_port()
            await self._spawn(
                "kube-controller-manager",
                [
                    str(assets.kube_controller_manager),
                    f"--kubeconfig={kcm_kubeconfig}",
                    f"--authentication-kubeconfig={kcm_kubeconfig}",
                    f"--authorization-kubeconfig={kcm_kubeconfig}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={kcm_port}",
                    f"--cert-dir={pki / 'kcm'}",
                    f"--controllers={','.join(controllers)}",
                    "--leader-elect=false",
                    "--use-service-account-credentials=true",
                    "--authentication-skip-lookup=true",
                    f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                ],
            )
            await self._wait_http(
                "kube-controller-manager", f"https://127.0.0.1:{kcm_port}/healthz", ssl_context=False
            )

    async def _spawn(self, name: str, argv: list[str]) -> None:
        self.processes[name] = await Process.spawn(name, argv, self.workdir / "logs" / f"{name}.log")

    async def _wait_http(self, name: str, url: str, *, ssl_context: ssl.SSLContext | bool) -> None:
        """Polls ``url`` until it answers 200 ok, the process dies, or time runs out."""
        process = self.processes[name]
        deadline = time.monotonic() + self.start_timeout
        last = ""
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while time.monotonic() < deadline:
                if not process.running:
                    raise ControlPlaneError(
                        f"{name} exited with code {process.proc.returncode}:\n{process.log_tail()}"
                    )
                try:
                    async with session.get(url, ssl=ssl_context) as resp:
                        if resp.status == 200:
                            return
                        last = f"{resp.status} {(await resp.text())[:300]}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = repr(exc)
                await asyncio.sleep(0.1)
        raise ControlPlaneError(
            f"{name} not ready after {self.start_timeout:.0f}s ({url}: {last}):\n{process.log_tail()}"
        )

    async def stop(self) -> None:
        """Stops every component (newest first) and removes the work folder it created."""
        for name in reversed(list(self.processes)):
            await self.processes.pop(name).stop()
        if self._owns_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def restart(
        self,
        components: Sequence[str] = ("kube-apiserver",),
        down_seconds: float = 0.0,
        *,
        crash: bool = False,
    ) -> float:
        """Stops ``components`` (newest first; with ``crash``, by SIGKILL), waits ``down_seconds``,
        starts them again with the same flags, ports and etcd data. Returns the outage: seconds
        from the stop until the API server is ready again (a graceful stop takes several).

        Clients see what they would in a real control-plane restart: connections reset, requests
        refused, then watches that must resume (or relist) on a fresh watch cache."""
        order = [name for name in self.processes if name in components]
        unknown = set(components) - set(order)
        if unknown:
            raise ValueError(f"no such component running: {', '.join(sorted(unknown))}")
        started = time.monotonic()
        for name in reversed(order):
            await (self.processes[name].kill() if crash else self.processes[name].stop())
        await asyncio.sleep(down_seconds)
        for name in order:
            self.processes[name] = await self.processes[name].respawn()
            if name == "etcd":
                await self._wait_http("etcd", f"{self.etcd_url}/health", ssl_context=True)
            elif name == "kube-apiserver":
                assert self._admin_ssl is not None
                await self._wait_http("kube-apiserver", f"{self.host}/readyz", ssl_context=self._admin_ssl)
        return time.monotonic() - started

    @property
    def running(self) -> bool:
        return bool(self.processes) and all(p.running for p in self.processes.values())

    # -- using it ------------------------------------------------------------------

    async def client(
        self, settings: ClientSettings | None = None, kubeconfig: Path | None = None
    ) -> KubeClient:
        """A client as admin (or as the identity whose kubeconfig is given)."""
        return await connect(str(kubeconfig or self.kubeconfig), settings=settings)

    async def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        async with await self.client() as kube:
            body = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": labels or {}},
            }
            try:
                return await kube.create(NAMESPACES, body)
            except ApiError as exc:
                if exc.status != 409:
                    raise
                return await kube.get(NAMESPACES, name)

    async def install_crds(self, crds: Iterable[dict[str, Any] | Path], timeout: float = 60.0) -> None:
        """Applies CRDs (objects or YAML files) and waits until each is served: in discovery, and
        listed from a ready watch cache (until then the API server answers lists of a new resource
        with 429 "storage is (re)initializing", which clients wait out for a second)."""
        documents: list[dict[str, Any]] = []
        for crd in crds:
            if isinstance(crd, Path):
                documents.extend(d for d in yaml.safe_load_all(crd.read_text()) if d)
            else:
                documents.append(crd)
        async with await self.client(ClientSettings(max_retries=0)) as kube:
            for doc in documents:
                await kube.patch(
                    CRDS,
                    doc["metadata"]["name"],
                    doc,
                    content_type=APPLY_PATCH,
                    field_manager=FIELD_MANAGER,
                    force=True,
                )
            deadline = time.monotonic() + timeout
            for doc in documents:
                await self._wait_served(kube, doc, deadline)

    async def _wait_served(self, kube: KubeClient, crd: dict[str, Any], deadline: float) -> None:
        spec = crd["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        versions = [v["name"] for v in spec["versions"] if v.get("served", True)]
        while True:
            try:
                live = await kube.get(CRDS, crd["metadata"]["name"])
                established = any(
                    c.get("type") == "Established" and c.get("status") == "True"
                    for c in (live.get("status") or {}).get("conditions") or []
                )
                served = established
                for version in versions if established else []:
                    discovery = await kube.request("GET", f"/apis/{group}/{version}")
                    served = served and any(r.get("name") == plural for r in discovery.get("resources") or [])
                if served:
                    for version in versions:
                        await kube.request("GET", f"/apis/{group}/{version}/{plural}", query={"limit": 1})
                    return
            except ApiError as exc:
                if exc.status not in (404, 429):
                    raise
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"CRD {plural}.{group} is not served after waiting")
            await asyncio.sleep(0.1)

    async def mint_identity(self, namespace: str, name: str, expiration_seconds: int = 86400) -> Identity:
        """A ServiceAccount with a token and a kubeconfig; it has no permissions until RBAC grants some."""
        await self.create_namespace(namespace)
        async with await self.client() as kube:
            with contextlib.suppress(ApiError):
                await kube.create(
                    SERVICEACCOUNTS,
                    {
                        "apiVersion": "v1",
                        "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": namespace},
                    },
                )
            answer = await kube.request(
                "POST",
                SERVICEACCOUNTS.path(namespace, name, "token"),
                body={
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {"expirationSeconds": expiration_seconds},
                },
            )
        token = answer["status"]["token"]
        assert self._ca is not None
        kubeconfig = write_kubeconfig(
            self.workdir / f"{namespace}.{name}.kubeconfig",
            server=self.host,
            ca_file=self._ca.cert_path,
            user=f"{namespace}-{name}",
            token=token,
        )
        return Identity(namespace=namespace, name=name, token=token, kubeconfig=kubeconfig)

    async def etcd_revision(self) -> int:
        answer = await self._etcd("/v3/kv/range", {"key": base64.b64encode(b"\0").decode()})
        return int(answer["header"]["revision"])

    async def compact_etcd(self) -> int:
        """Compacts etcd's history up to now (as the API server does every few minutes)."""
        revision = await self.etcd_revision()
        await self._etcd("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    async def _etcd(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.post(self.etcd_url + path, json=body) as resp:
            resp.raise_for_status()
            answer: dict[str, Any] = await resp.json()
            return answer
