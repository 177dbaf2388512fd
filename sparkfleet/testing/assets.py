"""Where the control plane's binaries are: ``$KUBEBUILDER_ASSETS``, or our own build in ``bin/``."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

ASSETS_ENV = "KUBEBUILDER_ASSETS"
BIN_ENV = "SPARKFLEET_CONTROLPLANE_BIN"


class AssetsNotFound(Exception):
    """No control plane binaries; the message says how to get them."""


@dataclass(frozen=True, slots=True)
class Assets:
    directory: Path
    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path | None
    version: tuple[int, int]  # kube-apiserver's (major, minor)

    @property
    def source(self) -> str:
        return f"{self.directory}"


def repo_root() -> Path | None:
    """The sparkfleet checkout this package runs from, if it runs from one."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "tests" / "controlplane" / "go.mod").exists():
            return parent
    return None


def _version(binary: Path) -> tuple[int, int]:
    out = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    match = re.search(r"v(\d+)\.(\d+)", out)
    if not match:
        raise AssetsNotFound(f"{binary} --version printed no Kubernetes version: {out.strip()!r}")
    return int(match.group(1)), int(match.group(2))


def find_assets() -> Assets:
    """The binaries to run, preferring ``$KUBEBUILDER_ASSETS`` (envtest's convention)."""
    candidates: list[tuple[str, Path]] = []
    if os.environ.get(ASSETS_ENV):
        candidates.append((ASSETS_ENV, Path(os.environ[ASSETS_ENV])))
    elif os.environ.get(BIN_ENV):
        candidates.append((BIN_ENV, Path(os.environ[BIN_ENV])))
    else:
        root = repo_root()
        if root is not None:
            candidates.append(("the repository's bin/", root / "bin"))
    for origin, directory in candidates:
        etcd, apiserver = directory / "etcd", directory / "kube-apiserver"
        missing = [p.name for p in (etcd, apiserver) if not os.access(p, os.X_OK)]
        if missing:
            raise AssetsNotFound(
                f"{origin} ({directory}) has no executable {', '.join(missing)}; "
                "run `make controlplane` to build the local control plane"
            )
        kcm = directory / "kube-controller-manager"
        return Assets(
            directory=directory,
            etcd=etcd,
            kube_apiserver=apiserver,
            kube_controller_manager=kcm if os.access(kcm, os.X_OK) else None,
            version=_version(apiserver),
        )
    raise AssetsNotFound(
        "no control plane binaries: run `make controlplane` in a sparkfleet checkout, "
        f"or set {ASSETS_ENV} to a folder holding etcd and kube-apiserver"
    )
