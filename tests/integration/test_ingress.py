"""The Spark UI Ingress and spec.driverIngressOptions on the real API server: created with the
submission, shaped and owned as the Kubeflow Spark Operator's, the status naming them; what cannot be
an Ingress, and an Ingress of the name the application does not own, refused naming the field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import CONFIGMAPS, SERVICES
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.controller import SparkApplicationController
from sparkfleet.operator.spark.submission import parse_properties
from sparkfleet.operator.spark.web_ui import INGRESSES, IngressOptions, parse_annotations, parse_tls
from sparkfleet.testing import ControlPlane
from tests.examples import manifests
from tests.integration.test_spark_controller import prepare, state_is, stop_controller, wait_app
from tests.support import eventually

OPTIONS = IngressOptions(
    url_format="ingress.example.com/{{$appNamespace}}/{{$appName}}",
    class_name="nginx",
    tls=parse_tls('[{"hosts":["ingress.example.com"],"secretName":"ingress-tls"}]'),
    annotations=parse_annotations('{"cert-manager.io/cluster-issuer":"letsencrypt"}'),
)


@pytest.fixture
async def operator(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> AsyncIterator[SparkApplicationController]:
    await prepare(control_plane, kube, namespace)
    client = await control_plane.client()
    controller = SparkApplicationController(
        client, namespaces=[namespace], concurrent_syncs=4, ingress=OPTIONS
    )
    await controller.start(sync_timeout=10)
    yield controller
    await stop_controller(controller)


def owned_by_app(obj: dict[str, Any], app: dict[str, Any]) -> None:
    assert obj["metadata"]["ownerReferences"] == [{
        "apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
        "name": app["metadata"]["name"], "uid": app["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True,
    }]  # fmt: skip


@pytest.mark.usefixtures("operator")
async def test_ui_ingress_and_driver_ingress_options_are_created_owned_by_the_application(
    kube: KubeClient, namespace: str, control_plane: ControlPlane
) -> None:
    manifest = manifests.spark_pi("ui", namespace)
    manifest["spec"]["driverIngressOptions"] = [{
        "servicePort": 4041, "servicePortName": "extra-ui", "serviceType": "ClusterIP",
        "serviceAnnotations": {"note": "svc"}, "ingressURLFormat": "{{$appName}}-extra.example.com",
        "ingressAnnotations": {"note": "entry"},
    }]  # fmt: skip
    await kube.create(SPARK_APPLICATIONS, manifest)
    app = await wait_app(kube, namespace, "ui", state_is("SUBMITTED"))
    info = app["status"]["driverInfo"]
    assert info["webUIIngressName"] == "ui-ui-ingress"
    assert info["webUIIngressAddress"] == f"http://ingress.example.com/{namespace}/ui"

    ingress = await kube.get(INGRESSES, "ui-ui-ingress", namespace)
    owned_by_app(ingress, app)
    assert ingress["metadata"]["labels"] == {
        naming.LABEL_APP_NAME: "ui",
        naming.LABEL_SUBMISSION_ID: app["status"]["submissionID"],
    }
    assert ingress["metadata"]["annotations"] == {
        "cert-manager.io/cluster-issuer": "letsencrypt",
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
    }
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["ingress.example.com"], "secretName": "ingress-tls"}]
    assert ingress["spec"]["rules"] == [{"host": "ingress.example.com", "http": {"paths": [{
        "path": f"/{namespace}/ui(/|$)(.*)", "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": "ui-ui-svc", "port": {"number": 4040}}},
    }]}}]  # fmt: skip
    config_maps, _ = await kube.list_all(CONFIGMAPS, namespace)
    conf_map = next(c for c in config_maps if c["metadata"]["name"].endswith("-driver-conf-map"))
    properties = parse_properties(conf_map["data"]["spark.properties"])
    assert properties["spark.ui.proxyBase"] == f"/{namespace}/ui"
    assert properties["spark.ui.proxyRedirectUri"] == "/"

    service = await kube.get(SERVICES, "ui-driver-4041", namespace)
    owned_by_app(service, app)
    assert service["metadata"]["annotations"] == {"note": "svc"}
    assert service["spec"]["selector"] == {naming.LABEL_APP_NAME: "ui", naming.LABEL_SPARK_ROLE: "driver"}
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("extra-ui", 4041, 4041)
    ]
    extra = await kube.get(INGRESSES, "ui-ing-4041", namespace)
    owned_by_app(extra, app)
    assert extra["metadata"]["annotations"] == {"note": "entry"}
    assert extra["spec"]["tls"] == [{"hosts": ["ingress.example.com"], "secretName": "ingress-tls"}]
    assert extra["spec"]["rules"][0]["host"] == "ui-extra.example.com"
    assert extra["spec"]["rules"][0]["http"]["paths"][0]["backend"] == {
        "service": {"name": "ui-driver-4041", "port": {"number": 4041}}
    }

    # A spec change resubmits: the application's Ingress is brought to the new rendering (as Kubeflow
    # updates it), not created anew.
    first = app["status"]["submissionID"]
    ui_options = {"sparkUIOptions": {"ingressAnnotations": {"kubernetes.io/tls-acme": "true"}}}
    await kube.patch(SPARK_APPLICATIONS, "ui", {"spec": ui_options}, namespace)
    again = await wait_app(
        kube,
        namespace,
        "ui",
        lambda s: s.get("submissionID") not in (None, first) and state_is("SUBMITTED")(s),
    )
    updated = await kube.get(INGRESSES, "ui-ui-ingress", namespace)
    assert updated["metadata"]["uid"] == ingress["metadata"]["uid"]
    assert updated["metadata"]["labels"][naming.LABEL_SUBMISSION_ID] == again["status"]["submissionID"]
    assert updated["metadata"]["annotations"] == {
        "kubernetes.io/tls-acme": "true",
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
    }

    if "kube-controller-manager" in control_plane.processes:  # garbage collection is its job
        await kube.delete(SPARK_APPLICATIONS, "ui", namespace)
        owned = ((INGRESSES, "ui-ui-ingress"), (INGRESSES, "ui-ing-4041"), (SERVICES, "ui-driver-4041"))

        async def collected() -> bool | None:
            for resource, name in owned:
                try:
                    await kube.get(resource, name, namespace)
                except ApiError as exc:
                    if not exc.is_not_found:
                        raise
                else:
                    return None
            return True

        await eventually(
            collected, what="the Ingresses and Service collected with their application", timeout=60
        )


@pytest.mark.usefixtures("operator")
async def test_an_ingress_not_owned_by_the_application_is_left_alone_and_named(
    kube: KubeClient, namespace: str
) -> None:
    theirs = {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "taken-ui-ingress", "namespace": namespace, "labels": {"mine": "yes"}},
        "spec": {"rules": [{"host": "theirs.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "theirs", "port": {"number": 80}}}}]}}]},
    }  # fmt: skip
    await kube.create(INGRESSES, theirs)
    await kube.create(SPARK_APPLICATIONS, manifests.spark_pi("taken", namespace))
    app = await wait_app(kube, namespace, "taken", state_is("SUBMISSION_FAILED"))
    message = app["status"]["applicationState"]["errorMessage"]
    assert message.startswith(f"metadata.name: ingress {namespace}/taken-ui-ingress exists and is not owned")
    left = await kube.get(INGRESSES, "taken-ui-ingress", namespace)
    assert left["metadata"]["labels"] == {"mine": "yes"}
    assert "ownerReferences" not in left["metadata"]
    assert left["spec"]["rules"][0]["host"] == "theirs.example.com"


@pytest.mark.usefixtures("operator")
async def test_a_url_format_that_is_no_ingress_host_fails_the_submission_naming_the_field(
    kube: KubeClient, namespace: str
) -> None:
    manifest = manifests.spark_pi("badhost", namespace)
    manifest["spec"]["driverIngressOptions"] = [
        {"servicePort": 4041, "servicePortName": "x", "ingressURLFormat": "{{$appName}}.example.com:8080"}
    ]
    await kube.create(SPARK_APPLICATIONS, manifest)
    app = await wait_app(kube, namespace, "badhost", state_is("SUBMISSION_FAILED"))
    message = app["status"]["applicationState"]["errorMessage"]
    assert message.startswith("spec.driverIngressOptions[0].ingressURLFormat: ")
    with pytest.raises(ApiError):
        await kube.get(SERVICES, "badhost-driver-4041", namespace)
