"""Bad kubeconfigs give one clear error naming the file, never a traceback from deep inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkfleet.kube import KubeConfigError
from sparkfleet.kube.client import kubeconfig_source, load_configuration
from sparkfleet.testing.kubeconfig import write_kubeconfig


async def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.kubeconfig"
    with pytest.raises(KubeConfigError, match=r"absent\.kubeconfig"):
        await load_configuration(str(path))


@pytest.mark.parametrize(
    "content",
    [
        "not: [valid: yaml",
        "apiVersion: v1\nkind: Config\n",  # no contexts at all
        "apiVersion: v1\nclusters: 7\ncontexts: []\ncurrent-context: nope\n",
    ],
)
async def test_malformed_kubeconfig_is_a_kubeconfig_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.kubeconfig"
    path.write_text(content)
    with pytest.raises(KubeConfigError, match=r"kubeconfig .*bad\.kubeconfig"):
        await load_configuration(str(path))


async def test_written_kubeconfig_loads_with_token_and_server(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("unused by loading")
    path = write_kubeconfig(
        tmp_path / "k", server="https://127.0.0.1:6443", ca_file=ca, user="robot", token="abc"
    )
    configuration = await load_configuration(str(path))
    assert configuration.host == "https://127.0.0.1:6443"
    assert configuration.api_key["BearerToken"] == "Bearer abc"


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
