"""Where the API server is and who we are to it: kubeconfig files and the pod's in-cluster identity.

Read here rather than through kubernetes-asyncio's loader because that loader
imports the library's whole generated client (about 860 modules, 70 MiB of
RSS and 3 s of start-up) for what is a YAML file, an SSL context and a token.

Supported, as kubectl reads them: contexts (``current-context`` or a named
one), ``server``, ``certificate-authority[-data]``, ``insecure-skip-tls-verify``,
``tls-server-name``, ``proxy-url``; users with ``client-certificate[-data]`` and
``client-key[-data]``, ``token``, ``tokenFile``, ``username``/``password``,
``exec`` credential plugins (``client.authentication.k8s.io``) and impersonation
(``as``, ``as-groups``). Paths are relative to the kubeconfig's folder. The
legacy ``auth-provider`` plugins are refused with the exec plugin to use instead.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import re
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import yaml
from multidict import CIMultiDict

from sparkfleet.kube.timestamps import parse_time


class KubeConfigError(Exception):
    """The kubeconfig (or in-cluster environment) cannot be used; the message says why."""


IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_FILE_REREAD_SECONDS = 60.0
"""client-go re-reads a token file (a projected ServiceAccount token rotates) once a minute."""
EXEC_REFRESH_MARGIN_SECONDS = 10.0


class Credentials(Protocol):
    async def headers(self) -> dict[str, str]:
        """The headers that authenticate one request."""
        ...


@dataclass(frozen=True, slots=True)
class NoCredentials:
    """Client certificates (in the SSL context) or anonymous."""

    async def headers(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True, slots=True)
class StaticHeaders:
    """A fixed bearer token or basic-auth pair."""

    values: Mapping[str, str]

    async def headers(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(slots=True)
class TokenFile:
    """A bearer token in a file that may be rotated underneath us (projected ServiceAccount tokens)."""

    path: Path
    reread_seconds: float = TOKEN_FILE_REREAD_SECONDS
    _token: str = ""
    _read_at: float = float("-inf")

    async def headers(self) -> dict[str, str]:
        now = time.monotonic()
        if now - self._read_at >= self.reread_seconds:
            try:
                self._token = self.path.read_text().strip()
            except OSError as exc:
                if not self._token:
                    raise KubeConfigError(f"token file {self.path}: {exc.strerror}") from exc
                # Keep the last token; the next request tries the file again.
            else:
                self._read_at = now
        return {"Authorization": f"Bearer {self._token}"}


@dataclass(slots=True)
class ExecPlugin:
    """A ``client.authentication.k8s.io`` credential plugin: run it, use its token until it expires."""

    command: str
    args: list[str]
    env: dict[str, str]
    api_version: str
    where: str
    _token: str | None = None
    _expires: float | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def run(self) -> dict[str, Any]:
        """The plugin's ``status`` (token, or client certificate and key, and an expiry)."""
        info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": orjson.dumps(info).decode()}
        try:
            proc = await asyncio.create_subprocess_exec(
                self.command,
                *self.args,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise KubeConfigError(f"{self.where}: exec plugin {self.command!r}: {exc.strerror}") from exc
        out, err = await proc.communicate()
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip()[-500:]
            raise KubeConfigError(
                f"{self.where}: exec plugin {self.command!r} exited with {proc.returncode}: {detail}"
            )
        try:
            credential = orjson.loads(out)
            status = credential["status"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise KubeConfigError(
                f"{self.where}: exec plugin {self.command!r} did not print an ExecCredential with a status"
            ) from exc
        if not isinstance(status, dict):
            raise KubeConfigError(f"{self.where}: exec plugin {self.command!r}: status is not an object")
        self._token = status.get("token") or None
        self._expires = _expiry(status.get("expirationTimestamp"), self.where)
        return status

    async def headers(self) -> dict[str, str]:
        async with self._lock:
            stale = self._expires is not None and time.time() >= self._expires - EXEC_REFRESH_MARGIN_SECONDS
            if self._token is None or stale:
                await self.run()
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}


def _expiry(value: Any, where: str) -> float | None:
    if not value:
        return None
    try:
        return parse_time(str(value))
    except ValueError as exc:
        raise KubeConfigError(f"{where}: expirationTimestamp {value!r} is not a timestamp") from exc


@dataclass(slots=True)
class Connection:
    """One API server and one identity: what every request of a client needs."""

    host: str
    """``https://host:port``; tests re-point it through proxies."""
    ssl: ssl.SSLContext
    credentials: Credentials = field(default_factory=NoCredentials)
    server_hostname: str | None = None
    proxy: str | None = None
    impersonation: dict[str, list[str]] = field(default_factory=dict)
    namespace: str = "default"

    async def headers(self) -> CIMultiDict[str]:
        """Credentials and impersonation; a header given several times (groups) repeats."""
        headers = CIMultiDict(await self.credentials.headers())
        for name, values in self.impersonation.items():
            for value in values:
                headers.add(name, value)
        return headers


def kubeconfig_source(kubeconfig: str | None = None) -> str | None:
    """The kubeconfig file to read, or ``None`` for the pod's in-cluster configuration.

    Precedence as kubectl's: the named file, ``$KUBECONFIG``, ``~/.kube/config``;
    in a pod with none of them, in-cluster.
    """
    explicit = kubeconfig or os.environ.get("KUBECONFIG")
    if explicit:
        return explicit.split(os.pathsep)[0]
    default_file = os.path.expanduser("~/.kube/config")
    if os.environ.get(IN_CLUSTER_ENV) and not os.path.exists(default_file):
        return None
    return default_file


async def load_connection(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """A connection from a kubeconfig (see :func:`kubeconfig_source`) or in-cluster."""
    path = kubeconfig_source(kubeconfig)
    if path is None:
        return in_cluster_connection()
    where = f"kubeconfig {path}"
    document = _read_yaml(Path(path), where)
    return await from_kubeconfig(document, Path(path).parent, where, context)


def _read_yaml(path: Path, where: str) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise KubeConfigError(f"{where}: no such file") from exc
    except OSError as exc:
        raise KubeConfigError(f"{where}: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"{where}: not YAML ({_yaml_problem(exc)})") from exc


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's error on one line: where, and what."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {error.problem}"
    return " ".join(str(error).split())


def in_cluster_connection(directory: Path = SERVICE_ACCOUNT_DIR) -> Connection:
    """The pod's ServiceAccount: the ``kubernetes`` Service's address, its token and CA."""
    host, port = os.environ.get(IN_CLUSTER_ENV, ""), os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise KubeConfigError(
            "in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set"
        )
    token, ca = directory / "token", directory / "ca.crt"
    for needed in (token, ca):
        if not needed.is_file():
            raise KubeConfigError(f"in-cluster configuration: {needed} does not exist")
    namespace_file = directory / "namespace"
    namespace = os.environ.get("POD_NAMESPACE") or (  # the Downward API's, as the charts set it
        namespace_file.read_text().strip() if namespace_file.is_file() else ""
    )
    return Connection(
        host=f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}",
        ssl=ssl.create_default_context(cafile=str(ca)),
        credentials=TokenFile(token),
        namespace=namespace or "default",
    )


async def from_kubeconfig(document: Any, base: Path, where: str, context: str | None = None) -> Connection:
    """A connection from a parsed kubeconfig; relative paths are taken from ``base``."""
    if not isinstance(document, dict):
        raise KubeConfigError(f"{where}: not a kubeconfig (a mapping with clusters, users and contexts)")
    name = context or document.get("current-context")
    if not name:
        raise KubeConfigError(f"{where}: no current-context and no context named")
    ctx = _named(document, "contexts", "context", name, where)
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if not cluster_name:
        raise KubeConfigError(f"{where}: context {name!r} names no cluster")
    cluster = _named(document, "clusters", "cluster", cluster_name, where)
    user = _named(document, "users", "user", user_name, where) if user_name else {}
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeConfigError(f"{where}: cluster {cluster_name!r} has no server")
    server = _server_url(server, f"{where}: cluster {cluster_name!r}")
    reader = _Reader(base, where)
    context_ssl = _ssl_context(cluster, reader, f"cluster {cluster_name!r}")
    credentials = await _credentials(user, reader, context_ssl, f"user {user_name!r}", where)
    impersonation: dict[str, list[str]] = {}
    if user.get("as"):
        impersonation["Impersonate-User"] = [str(user["as"])]
    if user.get("as-groups"):
        impersonation["Impersonate-Group"] = [str(group) for group in user["as-groups"]]
    return Connection(
        host=server.rstrip("/"),
        ssl=context_ssl,
        credentials=credentials,
        server_hostname=cluster.get("tls-server-name") or None,
        proxy=cluster.get("proxy-url") or None,
        impersonation=impersonation,
        namespace=ctx.get("namespace") or "default",
    )


def _server_url(server: str, where: str) -> str:
    """``server`` as a URL; a bare ``host:port`` means https, as client-go reads it."""
    url = server.strip()
    if "://" not in url:
        url = f"https://{url}"
    problem = None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number in range)
    except ValueError as exc:
        problem = str(exc)
    else:
        if parts.scheme not in ("https", "http"):
            problem = f"the scheme must be https or http, not {parts.scheme!r}"
        elif not parts.hostname:
            problem = "no host"
        elif not re.fullmatch(r"[A-Za-z0-9.\-]+|[0-9A-Fa-f:.]+", parts.hostname):
            problem = f"{parts.hostname!r} is not a host name or address"
    if problem:
        shown = server if len(server) <= 100 else server[:97] + "..."
        raise KubeConfigError(f"{where}: server {shown!r} is not a URL like https://host:6443 ({problem})")
    return url


def _named(document: dict[str, Any], section: str, key: str, name: str, where: str) -> dict[str, Any]:
    entries = document.get(section) or []
    if not isinstance(entries, list):
        raise KubeConfigError(f"{where}: {section} must be a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(key) or {}
            if not isinstance(value, dict):
                raise KubeConfigError(f"{where}: {section}[{name!r}].{key} must be a mapping")
            return value
    known = ", ".join(str(e.get("name")) for e in entries if isinstance(e, dict)) or "none"
    raise KubeConfigError(f"{where}: no {key} named {name!r} ({section}: {known})")


@dataclass(frozen=True, slots=True)
class _Reader:
    """Reads ``<field>`` (a path) or ``<field>-data`` (base64) of a kubeconfig entry."""

    base: Path
    where: str

    def read(self, entry: dict[str, Any], name: str, owner: str) -> bytes | None:
        data = entry.get(f"{name}-data")
        if data:
            try:
                return base64.b64decode(str(data), validate=True)
            except binascii.Error as exc:
                raise KubeConfigError(f"{self.where}: {owner}: {name}-data is not base64") from exc
        path = entry.get(name)
        if not path:
            return None
        full = self.path(str(path))
        try:
            return full.read_bytes()
        except OSError as exc:
            raise KubeConfigError(f"{self.where}: {owner}: {name} {full}: {exc.strerror}") from exc

    def path(self, value: str) -> Path:
        path = Path(os.path.expanduser(value))
        return path if path.is_absolute() else self.base / path


def _ssl_context(cluster: dict[str, Any], reader: _Reader, owner: str) -> ssl.SSLContext:
    ca = reader.read(cluster, "certificate-authority", owner)
    try:
        context = ssl.create_default_context(cadata=ca.decode() if ca else None)
    except (ssl.SSLError, ValueError, UnicodeDecodeError) as exc:
        raise KubeConfigError(
            f"{reader.where}: {owner}: certificate-authority is not a PEM certificate"
        ) from exc
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _load_client_certificate(context: ssl.SSLContext, cert: bytes, key: bytes, where: str) -> None:
    """``load_cert_chain`` reads files only: write both to a private folder, load, remove."""
    with tempfile.TemporaryDirectory(prefix="sparkfleet-tls-") as folder:
        cert_path, key_path = Path(folder, "tls.crt"), Path(folder, "tls.key")
        for path, content in ((cert_path, cert), (key_path, key)):
            path.touch(mode=0o600)
            path.write_bytes(content)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            detail = exc.reason or " ".join(str(exc).split())
            raise KubeConfigError(
                f"{where}: client-certificate and client-key do not load as a PEM certificate and its "
                f"private key ({detail})"
            ) from exc


async def _credentials(
    user: dict[str, Any], reader: _Reader, context: ssl.SSLContext, owner: str, where: str
) -> Credentials:
    label = f"{where}: {owner}"
    if user.get("auth-provider"):
        provider = (user["auth-provider"] or {}).get("name", "?")
        raise KubeConfigError(
            f"{label}: auth-provider {provider!r} is not supported (kubectl deprecated these); "
            "use an exec credential plugin instead (kubelogin for oidc, gke-gcloud-auth-plugin, ...)"
        )
    cert = reader.read(user, "client-certificate", owner)
    key = reader.read(user, "client-key", owner)
    if bool(cert) != bool(key):
        raise KubeConfigError(f"{label}: client-certificate and client-key go together; one is missing")
    if cert and key:
        _load_client_certificate(context, cert, key, label)
    if user.get("token"):
        return StaticHeaders({"Authorization": f"Bearer {user['token']}"})
    if user.get("tokenFile"):
        token_file = TokenFile(reader.path(str(user["tokenFile"])))
        try:
            await token_file.headers()  # fails now, naming the file, if it cannot be read
        except KubeConfigError as exc:
            raise KubeConfigError(f"{label}: {exc}") from exc
        return token_file
    if user.get("username") is not None and user.get("password") is not None:
        pair = f"{user['username']}:{user['password']}".encode()
        return StaticHeaders({"Authorization": "Basic " + base64.b64encode(pair).decode()})
    if user.get("exec"):
        return await _exec_plugin(user["exec"], reader, context, label)
    return NoCredentials()


async def _exec_plugin(spec: Any, reader: _Reader, context: ssl.SSLContext, label: str) -> ExecPlugin:
    if not isinstance(spec, dict) or not spec.get("command"):
        raise KubeConfigError(f"{label}: exec needs a command")
    env_entries = spec.get("env") or []
    plugin = ExecPlugin(
        command=str(spec["command"]),
        args=[str(arg) for arg in spec.get("args") or []],
        env={
            str(e["name"]): str(e.get("value", ""))
            for e in env_entries
            if isinstance(e, dict) and "name" in e
        },
        api_version=str(spec.get("apiVersion") or "client.authentication.k8s.io/v1"),
        where=label,
    )
    status = await plugin.run()
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    if cert and key:
        _load_client_certificate(context, str(cert).encode(), str(key).encode(), label)
    elif not status.get("token"):
        raise KubeConfigError(
            f"{label}: exec plugin {plugin.command!r} gave neither a token nor a certificate"
        )
    return plugin
