"""Kubeconfigs read as kubectl reads them; bad ones give one clear error naming the file and the field."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
import yaml

from sparkfleet.kube import KubeConfigError
from sparkfleet.kube.config import (
    ExecPlugin,
    StaticHeaders,
    TokenFile,
    in_cluster_connection,
    kubeconfig_source,
    load_connection,
)
from sparkfleet.testing.kubeconfig import write_kubeconfig
from sparkfleet.testing.pki import CertificateAuthority


async def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.kubeconfig"
    with pytest.raises(KubeConfigError, match=r"absent\.kubeconfig"):
        await load_connection(str(path))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not: [valid: yaml", "not YAML"),
        ("apiVersion: v1\nkind: Config\n", "no current-context"),
        ("apiVersion: v1\nclusters: 7\ncontexts: []\ncurrent-context: nope\n", "no context named 'nope'"),
        ("- a list\n", "not a kubeconfig"),
    ],
)
async def test_malformed_kubeconfig_is_a_kubeconfig_error(tmp_path: Path, content: str, says: str) -> None:
    path = tmp_path / "bad.kubeconfig"
    path.write_text(content)
    with pytest.raises(KubeConfigError, match=rf"kubeconfig .*bad\.kubeconfig: {says}"):
        await load_connection(str(path))


def config(cluster: dict[str, object], user: dict[str, object], **extra: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443/", **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "team-a"}}],
        "current-context": "ctx",
        **extra,
    }


def write(tmp_path: Path, document: dict[str, object]) -> str:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(document))
    return str(path)


async def test_written_kubeconfig_loads_with_token_and_server(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    path = write_kubeconfig(
        tmp_path / "k", server="https://127.0.0.1:6443", ca_file=ca.cert_path, user="robot", token="abc"
    )
    connection = await load_connection(str(path))
    assert connection.host == "https://127.0.0.1:6443"
    assert await connection.headers() == {"Authorization": "Bearer abc"}


async def test_relative_paths_data_fields_and_context_namespace(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    client = ca.client("alice", "alice")
    document = config(
        {"certificate-authority": "ca.crt", "tls-server-name": "kubernetes"},
        {
            "client-certificate-data": base64.b64encode(client.cert.read_bytes()).decode(),
            "client-key-data": base64.b64encode(client.key.read_bytes()).decode(),
            "as": "bob",
            "as-groups": ["g1", "g2"],
        },
    )
    connection = await load_connection(write(tmp_path, document))
    assert connection.host == "https://127.0.0.1:6443"
    assert connection.server_hostname == "kubernetes"
    assert connection.namespace == "team-a"
    headers = await connection.headers()
    assert headers.getall("Impersonate-User") == ["bob"]
    assert headers.getall("Impersonate-Group") == ["g1", "g2"]


@pytest.mark.parametrize(
    ("cluster", "user", "says"),
    [
        ({"certificate-authority": "missing.crt"}, {}, r"cluster 'c': certificate-authority .*missing\.crt"),
        ({"certificate-authority-data": "%%%"}, {}, "certificate-authority-data is not base64"),
        ({"certificate-authority-data": base64.b64encode(b"junk").decode()}, {}, "not a PEM certificate"),
        ({}, {"client-certificate-data": base64.b64encode(b"x").decode()}, "client-key go together"),
        (
            {},
            {"client-certificate": "c.crt", "client-key": "c.key"},
            r"client-certificate .*c\.crt: No such file",
        ),
        ({}, {"auth-provider": {"name": "oidc"}}, "auth-provider 'oidc' is not supported.*exec"),
        ({}, {"exec": {"args": ["x"]}}, "exec needs a command"),
        ({}, {"tokenFile": "no-such-token"}, r"token file .*no-such-token"),
        ({"server": ""}, {}, "cluster 'c' has no server"),
    ],
)
async def test_bad_fields_are_named(
    tmp_path: Path, cluster: dict[str, object], user: dict[str, object], says: str
) -> None:
    with pytest.raises(KubeConfigError, match=says):
        await load_connection(write(tmp_path, config(cluster, user)))


async def test_named_context_overrides_current(tmp_path: Path) -> None:
    document = config({}, {"token": "t"})
    document["contexts"].append({"name": "other", "context": {"cluster": "missing", "user": "u"}})  # type: ignore[attr-defined]
    with pytest.raises(KubeConfigError, match="no cluster named 'missing'"):
        await load_connection(write(tmp_path, document), context="other")


async def test_basic_auth_and_insecure(tmp_path: Path) -> None:
    connection = await load_connection(
        write(tmp_path, config({"insecure-skip-tls-verify": True}, {"username": "u", "password": "p"}))
    )
    assert await connection.headers() == {"Authorization": "Basic dTpw"}
    assert connection.ssl.check_hostname is False


async def test_token_file_is_reread(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    source = TokenFile(token, reread_seconds=0)
    assert await source.headers() == {"Authorization": "Bearer one"}
    token.write_text("two")
    assert await source.headers() == {"Authorization": "Bearer two"}
    token.unlink()  # a rotation in progress: the last token stays in use
    assert await source.headers() == {"Authorization": "Bearer two"}


PLUGIN = """
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
count_file = os.environ["COUNT_FILE"]
runs = int(open(count_file).read()) + 1 if os.path.exists(count_file) else 1
open(count_file, "w").write(str(runs))
if sys.argv[1] == "fail":
    print("no credentials for you", file=sys.stderr)
    sys.exit(3)
status = {"token": f"run-{runs}"}
if sys.argv[1] == "expired":
    status["expirationTimestamp"] = "2000-01-01T00:00:00Z"
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}))
"""


def exec_user(tmp_path: Path, mode: str) -> dict[str, object]:
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script), mode],
            "env": [{"name": "COUNT_FILE", "value": str(tmp_path / "runs")}],
        }
    }


async def test_exec_plugin_token_is_cached_until_it_expires(tmp_path: Path) -> None:
    connection = await load_connection(write(tmp_path, config({}, exec_user(tmp_path, "ok"))))
    assert isinstance(connection.credentials, ExecPlugin)
    assert await connection.headers() == {"Authorization": "Bearer run-1"}
    assert await connection.headers() == {"Authorization": "Bearer run-1"}  # no expiry: ran once

    expiring = await load_connection(write(tmp_path, config({}, exec_user(tmp_path, "expired"))))
    first = await expiring.headers()
    assert first != await expiring.headers()  # expired: every request runs it again


async def test_exec_plugin_failure_says_what_it_printed(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="exited with 3: no credentials for you"):
        await load_connection(write(tmp_path, config({}, exec_user(tmp_path, "fail"))))


def test_in_cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("POD_NAMESPACE", raising=False)  # it would win over the namespace file
    with pytest.raises(KubeConfigError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster_connection(tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(KubeConfigError, match="token does not exist"):
        in_cluster_connection(tmp_path)
    (tmp_path / "token").write_text("sa-token")
    CertificateAuthority(tmp_path)  # writes ca.crt
    (tmp_path / "namespace").write_text("spark-system\n")
    connection = in_cluster_connection(tmp_path)
    assert connection.host == "https://[fd00::1]:443"
    assert connection.namespace == "spark-system"
    assert isinstance(connection.credentials, TokenFile)
    assert not isinstance(connection.credentials, StaticHeaders)


def test_source_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", "/from/env")
    assert kubeconfig_source("/named") == "/named"
    assert kubeconfig_source() == "/from/env"
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert kubeconfig_source() is None  # in a pod, with no kubeconfig anywhere
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("")
    assert kubeconfig_source() == str(tmp_path / ".kube" / "config")


def test_write_kubeconfig_needs_credentials(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="certificate"):
        write_kubeconfig(tmp_path / "k", server="https://x", ca_file=tmp_path / "ca", user="u")
