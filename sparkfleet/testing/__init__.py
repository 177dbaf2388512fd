"""A real local Kubernetes control plane for tests, the demo and benchmarks."""

from sparkfleet.testing.assets import Assets, AssetsNotFound, find_assets
from sparkfleet.testing.controlplane import ControlPlane, ControlPlaneError, Identity
from sparkfleet.testing.proxy import TcpProxy

__all__ = [
    "Assets",
    "AssetsNotFound",
    "ControlPlane",
    "ControlPlaneError",
    "Identity",
    "TcpProxy",
    "find_assets",
]
