"""The Kubernetes layer: configuration, client (rate limit, retries, metrics), informers."""

from sparkfleet.kube.client import ClientSettings, KubeClient, connect
from sparkfleet.kube.config import KubeConfigError
from sparkfleet.kube.errors import ApiError
from sparkfleet.kube.informer import EventType, Informer, InformerEvent
from sparkfleet.kube.resources import Resource, object_key
from sparkfleet.kube.store import Store

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
