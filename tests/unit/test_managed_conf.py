"""The deny-list of operator-managed Spark properties and the operator's labels: pure decisions."""

from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.api import SparkApplication
from sparkfleet.operator.spark import managed_conf, naming
from sparkfleet.operator.spark.submission import parse_properties, render
from sparkfleet.operator.spark.validation import problems
from tests.corpus import merge_patch
from tests.examples import manifests

KUBEFLOW_DENIED = [  # Kubeflow v2.5.2's internal/webhook/sparkconf_validator.go
    "spark.kubernetes.authenticate.driver.serviceAccountName",
    "spark.kubernetes.authenticate.executor.serviceAccountName",
    "spark.kubernetes.authenticate.oauthTokenFile",
    "spark.kubernetes.authenticate.oauthToken",
    "spark.kubernetes.authenticate.driver.oauthTokenFile",
    "spark.kubernetes.authenticate.driver.oauthToken",
    "spark.kubernetes.authenticate.executor.oauthTokenFile",
    "spark.kubernetes.authenticate.executor.oauthToken",
    "spark.master",
    "spark.kubernetes.driver.master",
    "spark.kubernetes.container.image",
    "spark.kubernetes.driver.container.image",
    "spark.kubernetes.executor.container.image",
]


def app(patch: dict[str, Any]) -> SparkApplication:
    manifest = merge_patch(manifests.spark_pi("app", "team-a"), patch)
    manifest["metadata"]["uid"] = "11111111-2222-3333-4444-555555555555"
    return SparkApplication.model_validate(manifest)


@pytest.mark.parametrize("key", KUBEFLOW_DENIED)
def test_every_key_kubeflow_denies_is_denied(key: str) -> None:
    assert managed_conf.denied_reason(key, "x", "team-a") is not None


@pytest.mark.parametrize("key", [
    "spark.kubernetes.executor.podNamePrefix", "spark.kubernetes.driver.podTemplateFile",
    "spark.kubernetes.executor.podTemplateFile", "spark.kubernetes.driver.podTemplateContainerName",
    "spark.kubernetes.executor.podTemplateContainerName", "spark.app.id", "spark.submit.deployMode",
    "spark.kubernetes.submitInDriver", "spark.driver.host",
    "spark.kubernetes.authenticate.driver.mounted.oauthTokenFile",
    "spark.kubernetes.authenticate.submission.clientKeyFile",
    "spark.kubernetes.executor.label.sparkoperator.k8s.io/app-name",
    "spark.kubernetes.driver.label.sparkoperator.k8s.io/submission-id",
    "spark.kubernetes.executor.annotation.sparkfleet.io/routing",
])  # fmt: skip
def test_what_the_operator_manages_is_denied(key: str) -> None:
    assert managed_conf.denied_reason(key, "x", "team-a") is not None


@pytest.mark.parametrize("key", [
    "spark.kubernetes.driver.pod.name", "spark.app.name", "spark.executor.instances",
    "spark.kubernetes.executor.label.team", "spark.kubernetes.driver.annotation.owner",
    "spark.kubernetes.memoryOverheadFactor", "spark.kubernetes.container.image.pullPolicy",
    "spark.kubernetes.authenticatex", "Spark.Master", "spark.master ",
])  # fmt: skip
def test_the_users_keys_are_allowed(key: str) -> None:
    """Keys match as Spark reads them: exactly (another case, or a stray space, is another key)."""
    assert managed_conf.denied_reason(key, "x", "team-a") is None


def test_the_namespace_may_only_name_the_applications_own() -> None:
    assert managed_conf.denied_reason("spark.kubernetes.namespace", "team-a", "team-a") is None
    reason = managed_conf.denied_reason("spark.kubernetes.namespace", "kube-system", "team-a")
    assert reason is not None
    assert "'team-a'" in reason
    assert "'kube-system'" in reason


SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
# The keys the renderer sets from the submission, whatever spec.sparkConf says.
RENDERER_SETS = {
    "spark.app.name", "spark.app.id", "spark.master", "spark.submit.deployMode",
    "spark.kubernetes.submitInDriver", "spark.kubernetes.namespace", "spark.kubernetes.driver.pod.name",
    "spark.kubernetes.executor.podNamePrefix", "spark.kubernetes.resource.type", "spark.driver.host",
    "spark.driver.port", "spark.driver.blockManager.port", "spark.kubernetes.executor.podTemplateFile",
    "spark.kubernetes.executor.podTemplateContainerName",
}  # fmt: skip
# Left to the user on purpose: the renderer's value wins (spark.kubernetes.driver.pod.name is the
# driver's name: spec.driver.podName's twin), and Kubeflow specs commonly carry spark.app.name.
LEFT_TO_USERS = {
    "spark.app.name", "spark.kubernetes.driver.pod.name", "spark.kubernetes.resource.type",
    "spark.driver.port", "spark.driver.blockManager.port",
}  # fmt: skip


def test_every_property_the_renderer_sets_is_denied_or_left_to_users_on_purpose() -> None:
    rendered = parse_properties(render(app({}), SID).config_map["data"]["spark.properties"])
    assert set(rendered) >= RENDERER_SETS
    for key in RENDERER_SETS - LEFT_TO_USERS:
        assert managed_conf.denied_reason(key, "not-the-renderers", "elsewhere") is not None, key


def test_what_is_left_to_users_the_renderer_overrides() -> None:
    users = {key: "users-value" for key in LEFT_TO_USERS - {"spark.kubernetes.driver.pod.name"}}
    submission = render(app({"spec": {"sparkConf": users}}), SID)
    rendered = parse_properties(submission.config_map["data"]["spark.properties"])
    assert all(rendered[key] != "users-value" for key in users), rendered


def test_operator_labels_and_annotations() -> None:
    for label in (naming.LABEL_APP_NAME, naming.LABEL_SUBMISSION_ID, naming.LABEL_LAUNCHED_BY_OPERATOR,
                  "sparkoperator.k8s.io/scheduled-app-name"):  # fmt: skip
        assert managed_conf.is_operator_label(label)
    assert not managed_conf.is_operator_label("team")
    assert managed_conf.is_operator_annotation(naming.ANNOTATION_SPEC_HASH)
    assert not managed_conf.is_operator_annotation("prometheus.io/scrape")


def test_problems_name_each_field_and_key() -> None:
    found = problems(app({"spec": {
        "sparkConf": {"spark.master": "k8s://x", "spark.kubernetes.namespace": "team-b"},
        "driver": {"labels": {naming.LABEL_APP_NAME: "victim"}, "annotations": {"sparkfleet.io/routing": "{}"}},
        "executor": {"template": {"metadata": {"labels": {naming.LABEL_SUBMISSION_ID: "x"}}}},
    }}))  # fmt: skip
    fields = sorted(p.split(": ", 1)[0] for p in found)
    assert fields == [
        "spec.driver.annotations[sparkfleet.io/routing]",
        "spec.driver.labels[sparkoperator.k8s.io/app-name]",
        "spec.executor.template.metadata.labels[sparkoperator.k8s.io/submission-id]",
        "spec.sparkConf[spark.kubernetes.namespace]",
        "spec.sparkConf[spark.master]",
    ]


def test_a_template_of_the_wrong_shape_is_left_to_its_own_check() -> None:
    assert list(managed_conf.template_problems("spec.driver.template", {"metadata": ["x"]})) == []
    assert list(managed_conf.label_problems("spec.driver.labels", None)) == []
