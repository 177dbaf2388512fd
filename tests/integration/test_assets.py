"""KUBEBUILDER_ASSETS (envtest's convention) is honoured instead of our own build."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkfleet.kube.resources import NAMESPACES
from sparkfleet.testing import AssetsNotFound, ControlPlane, find_assets


@pytest.fixture
def envtest_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A KUBEBUILDER_ASSETS folder with etcd and kube-apiserver only, as envtest ships them."""
    ours = find_assets()
    folder = tmp_path / "envtest"
    folder.mkdir()
    (folder / "etcd").symlink_to(ours.etcd.resolve())
    (folder / "kube-apiserver").symlink_to(ours.kube_apiserver.resolve())
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(folder))
    return folder


def test_kubebuilder_assets_are_preferred(envtest_assets: Path) -> None:
    assets = find_assets()
    assert assets.directory == envtest_assets
    assert assets.kube_controller_manager is None
    assert assets.version >= (1, 36)


def test_kubebuilder_assets_missing_binaries_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    with pytest.raises(AssetsNotFound, match="make controlplane"):
        find_assets()


async def test_control_plane_runs_from_kubebuilder_assets(envtest_assets: Path, tmp_path: Path) -> None:
    async with ControlPlane(tmp_path / "cp") as cp:
        assert cp.assets is not None
        assert cp.assets.directory == envtest_assets
        assert set(cp.processes) == {"etcd", "kube-apiserver"}
        async with await cp.client() as kube:
            items, _ = await kube.list_all(NAMESPACES)
            assert "default" in {i["metadata"]["name"] for i in items}
    assert not cp.processes
