"""The Kubernetes layer: configuration, client (rate limit, retries, metrics), informers.

Names are imported on first use, so that reading a kubeconfig (``sparkfleet.kube.config``) does
not load the HTTP client: the CLI refuses a bad one in a fraction of a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkfleet.lazy import exports

if TYPE_CHECKING:
    from sparkfleet.kube.client import ClientSettings, KubeClient, connect
    from sparkfleet.kube.config import KubeConfigError
    from sparkfleet.kube.errors import ApiError
    from sparkfleet.kube.informer import EventType, Informer, InformerEvent
    from sparkfleet.kube.resources import Resource, object_key
    from sparkfleet.kube.store import Store

_HOMES = {
    "ApiError": "sparkfleet.kube.errors",
    "ClientSettings": "sparkfleet.kube.client",
    "EventType": "sparkfleet.kube.informer",
    "Informer": "sparkfleet.kube.informer",
    "InformerEvent": "sparkfleet.kube.informer",
    "KubeClient": "sparkfleet.kube.client",
    "KubeConfigError": "sparkfleet.kube.config",
    "Resource": "sparkfleet.kube.resources",
    "Store": "sparkfleet.kube.store",
    "connect": "sparkfleet.kube.client",
    "object_key": "sparkfleet.kube.resources",
}

__getattr__ = exports(__name__, _HOMES)


__all__ = [
    "ApiError",
    "ClientSettings",
    "EventType",
    "Informer",
    "InformerEvent",
    "KubeClient",
    "KubeConfigError",
    "Resource",
    "Store",
    "connect",
    "object_key",
]
