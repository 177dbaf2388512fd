"""What a tenant may not set: the Spark properties and pod labels the operator manages itself.

A SparkApplication says what to run; where it runs, as whom, and how the operator tells its
pods apart are the operator's. A spec that sets any of these is refused (SUBMISSION_FAILED,
naming the field and key), never silently overridden:

- :data:`DENIED_KEYS` and :data:`DENIED_PREFIXES` in ``spec.sparkConf``: Kubeflow's webhook
  deny-list (authentication, the API server's address, the images) and the properties the
  renderer sets from the spec and the submission (namespace, application id, executor pod
  names, pod templates, deploy mode, the driver's address);
  ``spark.kubernetes.namespace`` is allowed when it names the application's own namespace,
  as Kubeflow allows it;
- the operator's pod labels (:func:`is_operator_label`) in ``spec.driver.labels``,
  ``spec.executor.labels``, the pod templates' ``metadata.labels`` and
  ``spark.kubernetes.{driver,executor}.label.*``;
- the annotations the operator reads back from a driver pod (:data:`OPERATOR_ANNOTATIONS`:
  the spec hash and the routing) in ``spec.{driver,executor}.annotations``, the templates'
  ``metadata.annotations`` and ``spark.kubernetes.{driver,executor}.annotation.*``.

Keys are compared as Spark reads them: exactly, case and all (a key with a stray space or
another case is another property to Spark, which it ignores).

``spark.kubernetes.driver.pod.name`` (and ``spec.driver.podName``) stay the user's, as in
Kubeflow: the operator only ever deletes or follows a pod the application owns.
``spark.app.name`` stays allowed too (Kubeflow manifests commonly carry it); the renderer
names the application after ``metadata.name`` whatever it says.

Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sparkfleet.api.base import brief, key_path
from sparkfleet.operator.spark.naming import ANNOTATION_SPEC_HASH
from sparkfleet.operator.spark.routing import ANNOTATION_ROUTING

_SPEC = "use the CRD's field instead"
_AUTH = "authentication is the operator's: the driver and executors use their pods' ServiceAccounts"
_MANAGED = "this value is managed by the operator"

NAMESPACE_KEY = "spark.kubernetes.namespace"

DENIED_KEYS: Mapping[str, str] = {
    # Kubeflow v2.5's webhook (internal/webhook/sparkconf_validator.go)
    "spark.master": _MANAGED,
    "spark.kubernetes.driver.master": f"{_MANAGED} (spec.driver.kubernetesMaster sets it)",
    "spark.kubernetes.container.image": f"{_SPEC} (spec.image)",
    "spark.kubernetes.driver.container.image": f"{_SPEC} (spec.driver.image)",
    "spark.kubernetes.executor.container.image": f"{_SPEC} (spec.executor.image)",
    # what the renderer sets from the submission: ids, names and places of its objects
    "spark.app.id": f"{_MANAGED}: it is the submission's id and labels its pods (spark-app-selector)",
    "spark.submit.deployMode": f"{_MANAGED} (spec.mode)",
    "spark.kubernetes.submitInDriver": _MANAGED,
    "spark.driver.host": f"{_MANAGED}: executors reach the driver by its Service",
    "spark.kubernetes.executor.podNamePrefix": f"{_MANAGED}: executor pods are named after the submission",
    "spark.kubernetes.driver.podTemplateFile": f"{_MANAGED}: use spec.driver.template",
    "spark.kubernetes.executor.podTemplateFile": f"{_MANAGED}: use spec.executor.template",
    "spark.kubernetes.driver.podTemplateContainerName": f"{_MANAGED}: use spec.driver.template",
    "spark.kubernetes.executor.podTemplateContainerName": f"{_MANAGED}: use spec.executor.template",
}
"""Denied ``spec.sparkConf`` keys, each with why."""

DENIED_PREFIXES: Mapping[str, str] = {
    # service accounts (spec.driver.serviceAccount, spec.executor.serviceAccount), OAuth tokens and
    # their files, client certificates, CA files: Kubeflow denies the service account and token keys
    "spark.kubernetes.authenticate.": f"{_AUTH} (spec.driver.serviceAccount, spec.executor.serviceAccount)",
}
"""Denied ``spec.sparkConf`` key prefixes, each with why."""

OPERATOR_LABEL_PREFIX = "sparkoperator.k8s.io/"
"""The Spark Operator's label domain: app-name, submission-id, launched-by-spark-operator,
scheduled-app-name, mutated-by-spark-operator; the operator finds an application's pods by them."""

OPERATOR_ANNOTATIONS = frozenset({ANNOTATION_SPEC_HASH, ANNOTATION_ROUTING})
"""The annotations the operator sets on a driver pod and reads back (which spec it runs, the
routing its executors are born with). Other ``sparkfleet.io/`` annotations are the user's (the
simulator's ``sim-outcome``, for one)."""

_ROLES = ("driver", "executor")


def is_operator_label(key: str) -> bool:
    """Whether a pod label key is the operator's, which no spec may set."""
    return key.startswith(OPERATOR_LABEL_PREFIX)


def is_operator_annotation(key: str) -> bool:
    """Whether a pod annotation key is the operator's, which no spec may set."""
    return key in OPERATOR_ANNOTATIONS


def denied_reason(key: str, value: str, namespace: str) -> str | None:
    """Why ``spec.sparkConf`` may not hold ``key`` (set to ``value`` in an application of
    ``namespace``), or None."""
    if key == NAMESPACE_KEY:
        if value == namespace:
            return None
        return f"must be the application's namespace {brief(namespace)} (or left out), not {brief(value)}"
    reason = DENIED_KEYS.get(key)
    if reason is not None:
        return reason
    for prefix, why in DENIED_PREFIXES.items():
        if key.startswith(prefix):
            return why
    for role in _ROLES:
        label = key.removeprefix(f"spark.kubernetes.{role}.label.")
        if label != key and is_operator_label(label):
            return f"{label} is the operator's label: it tells the operator whose pod this is"
        annotation = key.removeprefix(f"spark.kubernetes.{role}.annotation.")
        if annotation != key and is_operator_annotation(annotation):
            return f"{annotation} is the operator's annotation"
    return None


def conf_problems(spark_conf: Mapping[str, str] | None, namespace: str) -> Iterator[str]:
    """``spec.sparkConf[<key>]: ...`` for every key the operator manages, in key order."""
    for key in sorted(spark_conf or {}):
        value = (spark_conf or {})[key]
        reason = denied_reason(key, value if isinstance(value, str) else str(value), namespace)
        if reason is not None:
            yield f"spec.sparkConf{key_path(key)}: {key} is not allowed: {reason}"


def label_problems(field: str, labels: Any, *, annotations: bool = False) -> Iterator[str]:
    """``<field>[<key>]: ...`` for every operator label (or annotation) key of a map at ``field``."""
    if not isinstance(labels, Mapping):
        return
    owned = is_operator_annotation if annotations else is_operator_label
    what = "annotation" if annotations else "label"
    for key in sorted(k for k in labels if isinstance(k, str) and owned(k)):
        yield f"{field}{key_path(key)}: {key} is the operator's {what}; a spec may not set it"


def template_problems(field: str, template: Any) -> Iterator[str]:
    """Operator labels and annotations in a pod template's metadata (``<field>.metadata...``)."""
    metadata = template.get("metadata") if isinstance(template, Mapping) else None
    if not isinstance(metadata, Mapping):
        return
    yield from label_problems(f"{field}.metadata.labels", metadata.get("labels"))
    yield from label_problems(f"{field}.metadata.annotations", metadata.get("annotations"), annotations=True)
