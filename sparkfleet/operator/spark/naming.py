"""Names and labels of what a submission creates, as Kubernetes and the Spark Operator expect."""

from __future__ import annotations

import re

LABEL_APP_NAME = "sparkoperator.k8s.io/app-name"
LABEL_LAUNCHED_BY_OPERATOR = "sparkoperator.k8s.io/launched-by-spark-operator"
LABEL_SUBMISSION_ID = "sparkoperator.k8s.io/submission-id"
LABEL_SPARK_ROLE = "spark-role"
LABEL_SPARK_APP_SELECTOR = "spark-app-selector"
LABEL_SPARK_APP_NAME = "spark-app-name"
LABEL_SPARK_VERSION = "spark-version"
LABEL_EXECUTOR_ID = "spark-exec-id"
ANNOTATION_SPEC_HASH = "sparkfleet.io/spec-hash"

DNS_LABEL_MAX = 63
EXECUTOR_PREFIX_MAX = 47  # Spark's limit: "<prefix>-exec-<id>" must stay a valid host name

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def app_key_of(pod: dict[str, object]) -> str | None:
    """``namespace/<app-name label>`` of a pod the operator launched (None if it has no such label)."""
    meta = pod["metadata"]
    assert isinstance(meta, dict)
    app = (meta.get("labels") or {}).get(LABEL_APP_NAME)
    return f"{meta['namespace']}/{app}" if app else None


def is_dns_label(name: str) -> bool:
    return len(name) <= DNS_LABEL_MAX and bool(_DNS_LABEL.match(name))


def sanitize(name: str, limit: int) -> str:
    """Lower-case, only ``[a-z0-9-]``, no leading/trailing dash, at most ``limit`` characters."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    cleaned = re.sub(r"-+", "-", cleaned)[:limit]
    return cleaned.strip("-") or "spark"


def resource_prefix(app_name: str, submission_id: str) -> str:
    """``<app>-<8 hex of the submission>``: unique per submission, short enough for executor names."""
    suffix = submission_id.replace("-", "")[:8]
    return f"{sanitize(app_name, EXECUTOR_PREFIX_MAX - len(suffix) - 1)}-{suffix}"


def driver_pod_name(app_name: str, pod_name: str | None, spark_conf: dict[str, str] | None) -> str:
    return pod_name or (spark_conf or {}).get("spark.kubernetes.driver.pod.name") or f"{app_name}-driver"


def ui_service_name(app_name: str) -> str:
    return f"{app_name}-ui-svc"
