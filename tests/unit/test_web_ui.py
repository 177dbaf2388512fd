"""The Spark UI Ingress and spec.driverIngressOptions, rendered as the Kubeflow Spark Operator renders
them (internal/controller/sparkapplication/driveringress.go, web_ui.go and their tests)."""

from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.api import SparkApplication
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.submission import parse_properties
from sparkfleet.operator.spark.validation import InvalidApplication
from sparkfleet.operator.spark.web_ui import (
    INGRESSES,
    IngressOptions,
    InvalidIngress,
    check_url_format,
    parse_annotations,
    parse_tls,
    refreshed,
    render_exposed,
    render_url,
    ui_ingress_name,
)
from tests.corpus import merge_patch
from tests.examples import manifests
from tests.unit.test_cli_messages import error_of

SUBMISSION = "0b0e7c6e-1b53-4e7e-9d0c-6f9d7d2d0a11"
APP_ID = "spark-0b0e7c6e1b534e7e9d0c6f9d7d2d0a11"
HOST_FORM = IngressOptions(url_format="{{$appName}}.ingress.example.com")
PATH_FORM = IngressOptions(url_format="ingress.example.com/{{$appNamespace}}/{{$appName}}")


def app(patch: dict[str, Any] | None = None, name: str = "pi") -> SparkApplication:
    manifest = merge_patch(manifests.spark_pi(name, "team-a"), {"metadata": {"uid": "u-1"}, **(patch or {})})
    return SparkApplication.model_validate(manifest)


def exposed(options: IngressOptions, patch: dict[str, Any] | None = None, *, ui: bool = True) -> Any:
    return render_exposed(app(patch), SUBMISSION, options, ui_service=ui)


def ui_ingress(options: IngressOptions, patch: dict[str, Any] | None = None) -> dict[str, Any]:
    _, exposure = exposed(options, patch)
    assert exposure.ui_ingress is not None
    ingress: dict[str, Any] = exposure.ui_ingress
    return ingress


def test_host_form_routes_the_whole_host_to_the_ui_service() -> None:
    submission, exposure = exposed(HOST_FORM)
    ingress = exposure.ui_ingress
    assert ingress["metadata"]["name"] == "pi-ui-ingress"
    assert ingress["metadata"]["namespace"] == "team-a"
    assert ingress["metadata"]["labels"] == {
        naming.LABEL_APP_NAME: "pi",
        naming.LABEL_SUBMISSION_ID: SUBMISSION,
    }
    assert ingress["metadata"]["ownerReferences"] == [{
        "apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication", "name": "pi", "uid": "u-1",
        "controller": True, "blockOwnerDeletion": True,
    }]  # fmt: skip
    assert "annotations" not in ingress["metadata"]
    assert ingress["spec"] == {
        "rules": [{"host": "pi.ingress.example.com", "http": {"paths": [{
            "pathType": "ImplementationSpecific",
            "backend": {"service": {"name": "pi-ui-svc", "port": {"number": 4040}}},
        }]}}],
    }  # fmt: skip
    assert exposure.driver_info() == {
        "webUIIngressName": "pi-ui-ingress",
        "webUIIngressAddress": "http://pi.ingress.example.com",
    }
    assert exposure.spark_conf == {}
    properties = parse_properties(submission.config_map["data"]["spark.properties"])
    assert "spark.ui.proxyBase" not in properties


def test_path_form_rewrites_with_nginx_and_tells_the_driver_its_path() -> None:
    submission, exposure = exposed(PATH_FORM)
    ingress = exposure.ui_ingress
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert ingress["spec"]["rules"][0]["host"] == "ingress.example.com"
    assert path["path"] == "/team-a/pi(/|$)(.*)"
    assert ingress["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}
    assert exposure.driver_info()["webUIIngressAddress"] == "http://ingress.example.com/team-a/pi"
    properties = parse_properties(submission.config_map["data"]["spark.properties"])
    assert properties["spark.ui.proxyBase"] == "/team-a/pi"
    assert properties["spark.ui.proxyRedirectUri"] == "/"


def test_the_specs_own_proxy_properties_win_and_the_spec_hash_is_the_specs() -> None:
    patch = {"spec": {"sparkConf": {"spark.ui.proxyBase": "/mine"}}}
    submission, _ = exposed(PATH_FORM, patch)
    properties = parse_properties(submission.config_map["data"]["spark.properties"])
    assert properties["spark.ui.proxyBase"] == "/mine"
    assert properties["spark.ui.proxyRedirectUri"] == "/"
    plain, _ = render_exposed(app(patch), SUBMISSION, IngressOptions(), ui_service=True)
    hash_key = naming.ANNOTATION_SPEC_HASH
    assert (
        submission.driver_pod["metadata"]["annotations"][hash_key]
        == (plain.driver_pod["metadata"]["annotations"][hash_key])
    )


@pytest.mark.parametrize(
    ("url_format", "host", "path", "address"),
    [
        ("{{ $appName }}-{{$appNamespace}}.example.com", "pi-team-a.example.com", "", None),
        ("https://spark.example.com/{{$appName}}", "spark.example.com", "/pi", "https://spark.example.com/pi"),
        ("spark.example.com/", "spark.example.com", "/", None),
        ("/ui/{{$appId}}", "", f"/ui/{APP_ID}", f"http:///ui/{APP_ID}"),
        ("*.example.com/{{$appName}}", "*.example.com", "/pi", None),
    ],
)  # fmt: skip
def test_url_formats_read_as_the_spark_operator_reads_them(
    url_format: str, host: str, path: str, address: str | None
) -> None:
    url = render_url(url_format, "pi", "team-a", APP_ID, "--ingress-url-format")
    assert (url.host, url.path) == (host, path)
    if address:
        assert url.address == address


def test_root_path_is_routed_without_a_rewrite() -> None:
    ingress = ui_ingress(IngressOptions(url_format="spark.example.com/"))
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/"
    assert "annotations" not in ingress["metadata"]


def test_class_tls_and_annotations_come_from_the_flags() -> None:
    options = IngressOptions(
        url_format=HOST_FORM.url_format,
        class_name="nginx",
        tls=({"hosts": ["*.ingress.example.com"], "secretName": "wild"},),
        annotations={"cert-manager.io/cluster-issuer": "letsencrypt"},
    )
    ingress = ui_ingress(options)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["*.ingress.example.com"], "secretName": "wild"}]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}


def test_spark_ui_options_override_the_flags_whole_not_merged() -> None:
    options = IngressOptions(
        url_format=PATH_FORM.url_format,
        tls=({"hosts": ["a.example.com"], "secretName": "a"},),
        annotations={"cert-manager.io/cluster-issuer": "letsencrypt", "x": "y"},
    )
    patch = {"spec": {"sparkUIOptions": {
        "ingressAnnotations": {"kubernetes.io/ingress.class": "nginx"},
        "ingressTLS": [{"hosts": ["ui.example.com"], "secretName": "ui-tls", "extra": "dropped"}],
    }}}  # fmt: skip
    ingress = ui_ingress(options, patch)
    assert ingress["spec"]["tls"] == [{"hosts": ["ui.example.com"], "secretName": "ui-tls"}]
    assert ingress["metadata"]["annotations"] == {
        "kubernetes.io/ingress.class": "nginx",
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",  # the path form's, whatever is given
    }


def test_ui_service_port_options_are_the_backend() -> None:
    patch = {"spec": {"sparkUIOptions": {"servicePort": 8080}}}
    backend = ui_ingress(HOST_FORM, patch)["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend == {"service": {"name": "pi-ui-svc", "port": {"number": 8080}}}


def test_no_ui_ingress_without_a_format_or_without_the_ui_service() -> None:
    assert exposed(IngressOptions())[1].ui_ingress is None
    _, exposure = exposed(HOST_FORM, ui=False)
    assert exposure.ui_ingress is None
    assert exposure.driver_info() == {}


def test_long_names_are_cut_with_a_hash_as_the_spark_operators() -> None:
    name = "a" * 60
    ingress_name = ui_ingress_name(name)
    assert len(ingress_name) == 63
    assert ingress_name.startswith("a" * 43 + "-")
    assert ingress_name.endswith("-ui-ingress")
    assert ui_ingress_name("pi") == "pi-ui-ingress"


DRIVER_INGRESS = {
    "servicePort": 4041,
    "servicePortName": "jupyter",
    "serviceType": "NodePort",
    "serviceAnnotations": {"svc": "note"},
    "serviceLabels": {"team": "a"},
    "ingressURLFormat": "{{$appName}}-jupyter.example.com",
    "ingressAnnotations": {"entry": "yes"},
    "ingressTLS": [{"hosts": ["pi-jupyter.example.com"], "secretName": "j"}],
}


def test_driver_ingress_options_get_a_service_and_an_ingress_each() -> None:
    plain = {"servicePort": 7000, "servicePortName": "metrics", "ingressURLFormat": ""}
    options = IngressOptions(class_name="nginx", annotations={"default": "a"})
    _, exposure = exposed(options, {"spec": {"driverIngressOptions": [DRIVER_INGRESS, plain]}}, ui=False)
    by_name = {item.obj["metadata"]["name"]: item for item in exposure.objects}
    assert set(by_name) == {"pi-driver-4041", "pi-ing-4041", "pi-driver-7000"}
    service = by_name["pi-driver-4041"].obj
    assert service["metadata"]["labels"] == {"team": "a"}  # the entry's labels replace the operator's
    assert service["metadata"]["annotations"] == {"svc": "note"}
    assert service["spec"] == {
        "type": "NodePort",
        "selector": {naming.LABEL_APP_NAME: "pi", naming.LABEL_SPARK_ROLE: "driver"},
        "ports": [{"name": "jupyter", "port": 4041, "targetPort": 4041, "protocol": "TCP"}],
    }
    assert by_name["pi-driver-7000"].obj["spec"]["type"] == "ClusterIP"
    assert by_name["pi-driver-7000"].obj["metadata"]["labels"] == {
        naming.LABEL_APP_NAME: "pi",
        naming.LABEL_SUBMISSION_ID: SUBMISSION,
    }
    ingress = by_name["pi-ing-4041"]
    assert ingress.resource == INGRESSES
    assert ingress.field == "spec.driverIngressOptions[0].servicePort"
    assert ingress.obj["metadata"]["annotations"] == {"entry": "yes"}
    assert ingress.obj["spec"]["tls"] == [{"hosts": ["pi-jupyter.example.com"], "secretName": "j"}]
    assert ingress.obj["spec"]["ingressClassName"] == "nginx"
    assert ingress.obj["spec"]["rules"][0] == {"host": "pi-jupyter.example.com", "http": {"paths": [{
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": "pi-driver-4041", "port": {"number": 4041}}},
    }]}}  # fmt: skip
    assert ingress.obj["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_driver_ingress_falls_back_to_the_flags_tls_and_annotations() -> None:
    entry = {"servicePort": 4041, "servicePortName": "p", "ingressURLFormat": "x.example.com/{{$appName}}"}
    options = IngressOptions(tls=({"secretName": "t"},), annotations={"default": "a"})
    _, exposure = exposed(options, {"spec": {"driverIngressOptions": [entry]}})
    ingress = next(item.obj for item in exposure.objects if item.resource == INGRESSES)
    assert ingress["spec"]["tls"] == [{"secretName": "t"}]
    assert ingress["metadata"]["annotations"] == {
        "default": "a",
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
    }
    assert exposure.spark_conf == {}  # only the UI Ingress's path is the driver's UI proxy base


@pytest.mark.parametrize(
    ("options", "patch", "field"),
    [
        (IngressOptions(url_format="{{$appName}}.Example.com"), {}, "--ingress-url-format"),
        (IngressOptions(url_format="{{$appName}}.example.com:8080"), {}, "--ingress-url-format"),
        (IngressOptions(url_format="10.0.0.1/{{$appName}}"), {}, "--ingress-url-format"),
        (IngressOptions(url_format="http://[::1]/{{$appName}}"), {}, "--ingress-url-format"),
        (IngressOptions(url_format="{{$appName}}_ui.example.com"), {}, "--ingress-url-format"),
        (HOST_FORM, {"spec": {"sparkUIOptions": {"ingressTLS": [{"hosts": "x"}]}}},
         r"spec\.sparkUIOptions\.ingressTLS\[0\]\.hosts"),
        (HOST_FORM, {"spec": {"sparkUIOptions": {"ingressTLS": [{"secretName": ["x"]}]}}},
         r"spec\.sparkUIOptions\.ingressTLS\[0\]\.secretName"),
        (HOST_FORM, {"spec": {"sparkUIOptions": {"ingressTLS": [{"hosts": ["A.example.com"]}]}}},
         r"spec\.sparkUIOptions\.ingressTLS\[0\]\.hosts\[0\]"),
        (IngressOptions(), {"spec": {"driverIngressOptions": [{**DRIVER_INGRESS, "ingressURLFormat": "a b"}]}},
         r"spec\.driverIngressOptions\[0\]\.ingressURLFormat"),
        (IngressOptions(), {"spec": {"driverIngressOptions": [DRIVER_INGRESS, DRIVER_INGRESS]}},
         r"spec\.driverIngressOptions\[1\]\.servicePort"),
    ],
)  # fmt: skip
def test_what_cannot_be_an_ingress_is_refused_naming_the_field(
    options: IngressOptions, patch: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidApplication, match=rf"^{field}: "):
        exposed(options, patch)


def test_a_name_too_long_for_the_driver_ingress_service_is_refused() -> None:
    entry = {"servicePort": 4041, "servicePortName": "p", "ingressURLFormat": ""}
    long = app({"spec": {"driverIngressOptions": [entry]}}, name="a" * 60)
    with pytest.raises(InvalidApplication, match=r"^spec\.driverIngressOptions\[0\]\.servicePort: .*over 63"):
        render_exposed(long, SUBMISSION, IngressOptions(), ui_service=True)


def test_flags_are_read_and_refused_naming_the_flag() -> None:
    assert parse_tls('[{"hosts":["*.example.com"],"secretName":"example-secret"}]') == (
        {"hosts": ["*.example.com"], "secretName": "example-secret"},
    )
    assert parse_tls("") == ()
    assert parse_annotations('{"cert-manager.io/cluster-issuer": "letsencrypt"}') == {
        "cert-manager.io/cluster-issuer": "letsencrypt"
    }
    assert parse_annotations("") == {}
    for bad in ("[{", '{"hosts": []}', '[{"secretName": 1}]'):
        with pytest.raises(ValueError, match=r"^--ingress-tls"):
            parse_tls(bad)
    # Kubeflow's own help shows a list here; its parser (a map of strings) refuses one, as this does.
    for bad in ('[{"a": "b"}]', '{"a": 1}', "{"):
        with pytest.raises(ValueError, match=r"^--ingress-annotations"):
            parse_annotations(bad)
    check_url_format("{{$appName}}.ingress.example.com")
    check_url_format("")
    for bad in ("host:8080/{{$appName}}", "{{$appName}} .example.com", "UPPER.example.com"):
        with pytest.raises(InvalidIngress, match=r"^--ingress-url-format: "):
            check_url_format(bad)


def test_an_owned_ingress_of_an_earlier_run_is_refreshed_only_when_it_differs() -> None:
    desired = ui_ingress(PATH_FORM)
    server = {**desired, "metadata": {**desired["metadata"], "uid": "i-1", "resourceVersion": "7"},
              "status": {"loadBalancer": {}}}  # fmt: skip
    assert refreshed(server, desired) is None
    earlier = {**server, "metadata": {**server["metadata"], "labels": {naming.LABEL_APP_NAME: "pi"},
               "annotations": {"old": "x"}}, "spec": {"rules": []}}  # fmt: skip
    update = refreshed(earlier, desired)
    assert update is not None
    assert update["spec"] == desired["spec"]
    assert update["metadata"]["labels"] == desired["metadata"]["labels"]
    assert update["metadata"]["annotations"] == desired["metadata"]["annotations"]
    assert (update["metadata"]["uid"], update["metadata"]["resourceVersion"]) == ("i-1", "7")  # a CAS
    assert update["status"] == {"loadBalancer": {}}
    no_notes = {**desired, "metadata": {k: v for k, v in desired["metadata"].items() if k != "annotations"}}
    cleared = refreshed(earlier, no_notes)
    assert cleared is not None
    assert "annotations" not in cleared["metadata"]


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [("--ingress-url-format", "UI.example.com", "'UI.example.com': the host 'UI.example.com' must be lower case"),
     ("--ingress-url-format", "{{$appName}}.example.com:80", "(an Ingress rule has no port)"),
     ("--ingress-tls", "[{", "not JSON"),
     ("--ingress-tls", '{"hosts": []}', "must be a list of {hosts, secretName}"),
     ("--ingress-annotations", '{"a": 1}', "must be a JSON object of strings")],
)  # fmt: skip
def test_run_refuses_bad_ingress_flags_at_start_up_naming_the_flag(flag: str, value: str, said: str) -> None:
    message = error_of("run", flag, value)
    assert message.startswith(f"error: Invalid value for '{flag}': ")
    assert said in message
    assert f"{flag}: {flag}" not in message  # named once
