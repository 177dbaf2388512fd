"""controller.uiIngress.* (Kubeflow's value names) become the --ingress-* flags, read back as the
operator reads them; the operator may touch ingresses only when the UI Ingress is enabled."""

from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.operator.spark.web_ui import parse_annotations, parse_tls
from tests.deploy.chart import render
from tests.support import run_params

INGRESS_RULE = {
    "apiGroups": ["networking.k8s.io"],
    "resources": ["ingresses"],
    "verbs": ["get", "create", "update", "delete"],
}
UI_INGRESS: dict[str, Any] = {
    "enable": True,
    "urlFormat": "spark.example.com/{{$appNamespace}}/{{$appName}}",
    "ingressClassName": "nginx",
    "tls": [{"hosts": ["spark.example.com"], "secretName": "spark-tls"}],
    "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt", "a b": "c: d # e"},
}


def rendered(ui_ingress: dict[str, Any] | None, **spark: Any) -> list[dict[str, Any]]:
    values: dict[str, Any] = {"spark": spark} if spark else {}
    if ui_ingress is not None:
        values["controller"] = {"uiIngress": ui_ingress}
    return render("rel", "ops", values=values)


def args_of(docs: list[dict[str, Any]]) -> list[str]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])


def granted(docs: list[dict[str, Any]]) -> list[str]:
    return [d["kind"] for d in docs if d["kind"] in ("Role", "ClusterRole") and INGRESS_RULE in d["rules"]]


@pytest.mark.parametrize(
    "spark", [{"jobNamespaces": []}, {"jobNamespaces": ["a", "b"]}], ids=["cluster-wide", "namespaced"]
)
def test_ui_ingress_values_become_flags_and_grant_ingresses(spark: dict[str, Any]) -> None:
    docs = rendered(UI_INGRESS, **spark)
    params = run_params([a for a in args_of(docs) if a.startswith("--ingress-")])
    assert params["ingress_url_format"] == UI_INGRESS["urlFormat"]
    assert params["ingress_class_name"] == "nginx"
    assert parse_tls(params["ingress_tls"]) == tuple(UI_INGRESS["tls"])
    assert parse_annotations(params["ingress_annotations"]) == UI_INGRESS["annotations"]
    assert granted(docs) == (["Role", "Role"] if spark["jobNamespaces"] else ["ClusterRole"])


def test_no_ingress_flags_nor_grant_unless_enabled() -> None:
    for docs in (rendered(None), rendered({**UI_INGRESS, "enable": False})):
        assert not any(a.startswith("--ingress-") for a in args_of(docs))
        assert granted(docs) == []


def test_enable_without_a_url_format_is_refused_naming_it() -> None:
    with pytest.raises(AssertionError, match=r"controller\.uiIngress\.urlFormat is required"):
        rendered({"enable": True})
