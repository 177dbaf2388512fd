"""Which informer events go in the work queue's urgent lane: all of a watch marked urgent, or the
keys a predicate picks (the echo of the controller's own status write)."""

from __future__ import annotations

from typing import Any

from sparkfleet.kube import Informer
from sparkfleet.kube.resources import PODS
from sparkfleet.operator.controller import Controller, Result


async def nothing(key: str) -> Result | None:
    return None


def event(name: str) -> dict[str, Any]:
    return {
        "type": "ADDED",
        "object": {"metadata": {"name": name, "namespace": "ns", "resourceVersion": "1"}},
    }


def informer() -> Informer:
    return Informer(None, PODS, namespace="ns")  # type: ignore[arg-type]  # events are fed by hand


async def test_a_predicate_picks_the_urgent_keys() -> None:
    controller = Controller("urgent-test", nothing)
    watched = informer()
    controller.watch(watched, urgent=lambda key: key == "ns/echo")
    for name in ["new-1", "new-2", "echo", "new-3"]:
        watched.apply(event(name))
    queue = controller.queue
    assert [await queue.get() for _ in range(4)] == ["ns/echo", "ns/new-1", "ns/new-2", "ns/new-3"]


async def test_an_urgent_watch_goes_ahead_of_a_plain_one() -> None:
    controller = Controller("urgent-test-2", nothing)
    apps, pods = informer(), informer()
    controller.watch(apps)
    controller.watch(pods, urgent=True)
    apps.apply(event("app-1"))
    apps.apply(event("app-2"))
    pods.apply(event("app-2"))  # news about app-2's pods: it moves up
    queue = controller.queue
    assert [await queue.get() for _ in range(2)] == ["ns/app-2", "ns/app-1"]
