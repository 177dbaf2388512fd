"""Which fleet `sparkfleet shards` / `kubectl sparkfleet` acts on, as kubectl picks its target: the
kubeconfig's current context (or --context NAME) and its namespace, -n over it, in a pod
$POD_NAMESPACE, else default; flags before the command (the group's) or after it (the command's)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sparkfleet.kube.config import KubeConfigError, in_cluster_connection, load_connection
from sparkfleet.shards_cli import Target, fleet_namespace
from sparkfleet.testing.pki import CertificateAuthority


def write_kubeconfig(folder: Path) -> Path:
    path = folder / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "dev", "cluster": {"server": "https://127.0.0.1:6443"}},
                    {"name": "prod", "cluster": {"server": "https://10.0.0.1:6443"}},
                ],
                "users": [{"name": "me", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "dev", "context": {"cluster": "dev", "user": "me", "namespace": "spark-dev"}},
                    {"name": "prod", "context": {"cluster": "prod", "user": "me", "namespace": "spark-prod"}},
                    {"name": "bare", "context": {"cluster": "dev", "user": "me"}},
                ],
                "current-context": "dev",
            }
        )
    )
    return path


async def namespace_of(kubeconfig: Path, context: str | None = None, flag: str | None = None) -> str:
    connection = await load_connection(str(kubeconfig), context)
    return fleet_namespace(flag, connection.namespace)


async def test_the_current_contexts_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "from-the-pod")  # a kubeconfig's context wins over it
    assert await namespace_of(write_kubeconfig(tmp_path)) == "spark-dev"


async def test_another_context_and_its_namespace(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path)
    connection = await load_connection(str(kubeconfig), "prod")
    assert connection.host == "https://10.0.0.1:6443"
    assert fleet_namespace(None, connection.namespace) == "spark-prod"


async def test_a_context_without_a_namespace_is_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "from-the-pod")  # not in a pod: kubectl's default
    assert await namespace_of(write_kubeconfig(tmp_path), "bare") == "default"


async def test_the_namespace_flag_wins(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path)
    assert await namespace_of(kubeconfig, flag="team-x") == "team-x"
    assert await namespace_of(kubeconfig, "prod", flag="team-x") == "team-x"


async def test_an_unknown_context_is_named_with_the_known_ones(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path)
    with pytest.raises(KubeConfigError) as caught:
        await load_connection(str(kubeconfig), "staging")
    assert (
        str(caught.value)
        == f"kubeconfig {kubeconfig}: no context named 'staging' (contexts: dev, prod, bare)"
    )


def test_in_a_pod_pod_namespace_then_the_service_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("sa-token")
    CertificateAuthority(tmp_path)  # writes ca.crt
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    assert fleet_namespace(None, in_cluster_connection(tmp_path).namespace) == "default"
    (tmp_path / "namespace").write_text("spark-system\n")
    assert fleet_namespace(None, in_cluster_connection(tmp_path).namespace) == "spark-system"
    monkeypatch.setenv("POD_NAMESPACE", "spark-operator")
    assert fleet_namespace(None, in_cluster_connection(tmp_path).namespace) == "spark-operator"
    assert fleet_namespace("team-x", in_cluster_connection(tmp_path).namespace) == "team-x"


def test_flags_after_the_command_win_over_those_before_it() -> None:
    before = Target(kubeconfig="k", context="dev", namespace="a", fleet=None)
    after = Target(kubeconfig=None, context="prod", namespace=None, fleet="f")
    assert after.over(before) == Target(kubeconfig="k", context="prod", namespace="a", fleet="f")
    assert Target().over(before) == before
