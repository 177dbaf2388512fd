"""The informer against the real API server: sync, events, scoping, and
recovery from dropped streams and from 410 Gone after etcd compaction."""

from __future__ import annotations

import asyncio
from typing import Any

from sparkfleet.kube import ApiError, EventType, Informer, InformerEvent, KubeClient
from sparkfleet.kube.informer import Backoff
from sparkfleet.kube.resources import CONFIGMAPS, PODTEMPLATES, Resource
from sparkfleet.testing import ControlPlane, TcpProxy
from tests.support import configmap, eventually

FAST_BACKOFF = Backoff(initial=0.05, maximum=0.5)


def podtemplate(name: str, namespace: str, image: str = "spark:3.5.5") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "template": {"spec": {"containers": [{"name": "main", "image": image}]}},
    }


async def names_on_server(kube: KubeClient, resource: Resource, namespace: str) -> set[str]:
    items, _ = await kube.list_all(resource, namespace)
    return {i["metadata"]["name"] for i in items}


def names_in(informer: Informer) -> set[str]:
    return {o["metadata"]["name"] for o in informer.store.list()}


async def test_lists_then_watches_into_the_cache(kube: KubeClient, namespace: str) -> None:
    await kube.create(CONFIGMAPS, configmap("before", namespace))
    informer = Informer(kube, CONFIGMAPS, namespace=namespace)
    events: list[InformerEvent] = []
    informer.add_handler(events.append)
    informer.start()
    try:
        await informer.wait_synced(10)
        assert "before" in names_in(informer)

        await kube.create(CONFIGMAPS, configmap("after", namespace, v="1"))
        await kube.patch(CONFIGMAPS, "after", {"data": {"v": "2"}}, namespace)
        await kube.delete(CONFIGMAPS, "before", namespace)
        await eventually(
            lambda: names_in(informer) >= {"after"} and "before" not in names_in(informer),
            what="the cache to hold after and not before",
            interval=0.02,
        )
        await eventually(
            lambda: (informer.store.get(f"{namespace}/after") or {}).get("data") == {"v": "2"},
            what="the cache to hold after's update",
            interval=0.02,
        )
        kinds = [(e.type, e.obj["metadata"]["name"]) for e in events]
        assert (EventType.ADDED, "before") in kinds
        assert (EventType.ADDED, "after") in kinds
        assert (EventType.MODIFIED, "after") in kinds
        assert (EventType.DELETED, "before") in kinds
        assert informer.relists == 0
    finally:
        await informer.stop()


async def test_scoped_by_label_and_field_selector(
    kube: KubeClient, namespace: str, control_plane: ControlPlane
) -> None:
    other = f"{namespace}-other"
    await control_plane.create_namespace(other)
    await kube.create(CONFIGMAPS, configmap("gold-1", namespace, {"tier": "gold"}))
    await kube.create(CONFIGMAPS, configmap("silver-1", namespace, {"tier": "silver"}))
    await kube.create(CONFIGMAPS, configmap("gold-elsewhere", other, {"tier": "gold"}))
    by_label = Informer(kube, CONFIGMAPS, namespace=namespace, label_selector="tier=gold")
    by_field = Informer(kube, CONFIGMAPS, field_selector=f"metadata.namespace={other}")
    for informer in (by_label, by_field):
        informer.start()
    try:
        await asyncio.gather(by_label.wait_synced(10), by_field.wait_synced(10))
        await kube.create(CONFIGMAPS, configmap("gold-2", namespace, {"tier": "gold"}))
        await kube.create(CONFIGMAPS, configmap("silver-2", namespace, {"tier": "silver"}))
        await eventually(
            lambda: names_in(by_label) == {"gold-1", "gold-2"},
            what="the label-selected cache to hold gold-1 and gold-2",
            interval=0.02,
        )
        assert names_in(by_field) == {"gold-elsewhere"}
        # A label change moves an object out of the selector: the watch reports it deleted.
        await kube.patch(CONFIGMAPS, "gold-1", {"metadata": {"labels": {"tier": "silver"}}}, namespace)
        await eventually(
            lambda: names_in(by_label) == {"gold-2"},
            what="gold-1 to leave the label-selected cache",
            interval=0.02,
        )
    finally:
        await by_label.stop()
        await by_field.stop()


async def test_watch_from_a_compacted_resource_version_is_gone(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    _, old_version = await kube.list_all(PODTEMPLATES, namespace)
    for i in range(5):
        await kube.create(PODTEMPLATES, podtemplate(f"t{i}", namespace))
    await control_plane.compact_etcd()
    # The API server answers either 410 outright or with a 410 ERROR event first.
    code: int | None = None
    try:
        events = await kube.watch(PODTEMPLATES, namespace, resource_version=old_version, timeout_seconds=5)
    except ApiError as exc:
        code = exc.status
    else:
        first = await anext(events)
        await events.aclose()
        assert first["type"] == "ERROR"
        code = first["object"]["code"]
    assert code == 410


async def test_reconnects_after_the_stream_drops_without_relisting(
    proxied: tuple[KubeClient, TcpProxy], kube: KubeClient, namespace: str
) -> None:
    client, proxy = proxied
    informer = Informer(client, CONFIGMAPS, namespace=namespace, backoff=FAST_BACKOFF)
    informer.start()
    try:
        await informer.wait_synced(10)
        proxy.cut()
        await kube.create(CONFIGMAPS, configmap("while-cut", namespace))
        await asyncio.sleep(0.3)
        proxy.heal()
        await eventually(
            lambda: "while-cut" in names_in(informer),
            what="the object created while the watch was cut",
            interval=0.02,
        )
        assert informer.relists == 0  # resumed from its resourceVersion: nothing was missed
        assert proxy.connections_accepted >= 2
    finally:
        await informer.stop()


async def test_relists_after_410_and_misses_nothing(
    proxied: tuple[KubeClient, TcpProxy], control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """Cut off while objects are created, changed and deleted and etcd compacts:
    on reconnect the watch gets 410 Gone, the informer re-lists, and its cache
    and handlers end up exactly in step with the server."""
    client, proxy = proxied
    for name in ("keep", "change", "remove"):
        await kube.create(PODTEMPLATES, podtemplate(name, namespace))
    informer = Informer(client, PODTEMPLATES, namespace=namespace, backoff=FAST_BACKOFF)
    events: list[InformerEvent] = []
    informer.add_handler(events.append)
    informer.start()
    try:
        await informer.wait_synced(10)
        assert names_in(informer) == {"keep", "change", "remove"}
        events.clear()

        proxy.cut()
        await kube.patch(PODTEMPLATES, "change", {"metadata": {"labels": {"changed": "yes"}}}, namespace)
        await kube.delete(PODTEMPLATES, "remove", namespace)
        for i in range(20):
            await kube.create(PODTEMPLATES, podtemplate(f"new-{i:02d}", namespace))
        await control_plane.compact_etcd()
        proxy.heal()

        expected = await names_on_server(kube, PODTEMPLATES, namespace)
        await eventually(
            lambda: names_in(informer) == expected,
            what="the relisted cache to hold what the server has",
            timeout=20,
            interval=0.02,
        )
        assert informer.relists >= 1
        changed = informer.store.get(f"{namespace}/change")
        assert changed is not None
        assert changed["metadata"]["labels"] == {"changed": "yes"}
        seen = {(e.type, e.obj["metadata"]["name"]) for e in events}
        assert (EventType.DELETED, "remove") in seen
        assert (EventType.MODIFIED, "change") in seen
        assert {(EventType.ADDED, f"new-{i:02d}") for i in range(20)} <= seen
        assert (EventType.ADDED, "keep") not in seen  # unchanged objects are not re-announced

        # And it keeps watching afterwards.
        await kube.create(PODTEMPLATES, podtemplate("after-recovery", namespace))
        await eventually(
            lambda: "after-recovery" in names_in(informer),
            what="the object created after recovery",
            interval=0.02,
        )
    finally:
        await informer.stop()


async def test_retry_now_cuts_a_backoff_short(
    proxied: tuple[KubeClient, TcpProxy], kube: KubeClient, namespace: str
) -> None:
    """A member that renews its Lease again knows the path is back; its informers must not sit out
    a backoff of up to 30 s before they watch again."""
    client, proxy = proxied
    informer = Informer(client, CONFIGMAPS, namespace=namespace, backoff=Backoff(initial=30, maximum=30))
    informer.start()
    try:
        await informer.wait_synced(10)
        proxy.cut()
        await asyncio.sleep(0.5)  # the stream broke: the informer waits 30 s before trying again
        proxy.heal()
        await kube.create(CONFIGMAPS, configmap("after-heal", namespace))
        informer.retry_now()
        await eventually(
            lambda: "after-heal" in names_in(informer),
            what="the object created after the cut healed",
            timeout=5,
            interval=0.02,
        )
    finally:
        await informer.stop()
