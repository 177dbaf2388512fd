"""Names and labels of what a submission creates, as Kubernetes and the Spark Operator expect."""

from __future__ import annotations

import hashlib
import re

from sparkfleet.api.base import brief

LABEL_APP_NAME = "sparkoperator.k8s.io/app-name"
LABEL_LAUNCHED_BY_OPERATOR = "sparkoperator.k8s.io/launched-by-spark-operator"
LABEL_SUBMISSION_ID = "sparkoperator.k8s.io/submission-id"
LABEL_SPARK_ROLE = "spark-role"
LABEL_SPARK_APP_SELECTOR = "spark-app-selector"
LABEL_SPARK_APP_NAME = "spark-app-name"
LABEL_SPARK_VERSION = "spark-version"
LABEL_EXECUTOR_ID = "spark-exec-id"
LABEL_RESOURCE_PROFILE_ID = "spark-exec-resourceprofile-id"
# The labels Spark sets on its pods itself. Its executor builder refuses any of them among
# spark.kubernetes.executor.label.* ("Custom executor labels cannot contain ... as it is reserved
# for Spark"), and its driver builder among spark.kubernetes.driver.label.*.
SPARK_RESERVED_LABELS = frozenset({
    LABEL_SPARK_VERSION, LABEL_SPARK_APP_SELECTOR, LABEL_SPARK_APP_NAME, LABEL_EXECUTOR_ID,
    LABEL_RESOURCE_PROFILE_ID, LABEL_SPARK_ROLE,
})  # fmt: skip
ANNOTATION_SPEC_HASH = "sparkfleet.io/spec-hash"

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
LABEL_NAME_MAX = 63  # the part of a label key after the optional "<prefix>/"
EXECUTOR_PREFIX_MAX = 47  # Spark's limit: "<prefix>-exec-<id>" must stay a valid host name
UI_SERVICE_SUFFIX = "ui-svc"

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def app_key_of(pod: dict[str, object]) -> str | None:
    """``namespace/<app-name label>`` of a pod the operator launched (None if it has no such label)."""
    meta = pod["metadata"]
    assert isinstance(meta, dict)
    app = (meta.get("labels") or {}).get(LABEL_APP_NAME)
    return f"{meta['namespace']}/{app}" if app else None


def is_dns_label(name: str) -> bool:
    """RFC 1123 label: what most object names, and every host name, must be."""
    return len(name) <= DNS_LABEL_MAX and bool(_DNS_LABEL.match(name))


def is_dns_1035_label(name: str) -> bool:
    """RFC 1035 label (a lower-case letter first): what a Service name must be."""
    return len(name) <= DNS_LABEL_MAX and bool(_DNS_1035_LABEL.match(name))


def is_dns_subdomain(name: str) -> bool:
    """RFC 1123 subdomain: what a Pod or ConfigMap name must be."""
    return len(name) <= DNS_SUBDOMAIN_MAX and bool(_DNS_SUBDOMAIN.match(name))


def label_key_problem(key: str, what: str = "label key") -> str | None:
    """Why ``key`` cannot be a label (or annotation) key, or None: ``[<DNS subdomain>/]<name>``."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not is_dns_subdomain(prefix):
        return f"the prefix {brief(prefix)} of {what} {brief(key)} must be a DNS subdomain"
    if not name or len(name) > LABEL_NAME_MAX or not _LABEL_NAME.match(name):
        return (
            f"{what} {brief(key)} must be at most {LABEL_NAME_MAX} characters of letters, digits, '-', '_' "
            "and '.' (letters or digits at both ends), after an optional DNS-subdomain prefix and '/'"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a label value, or None."""
    if value and (len(value) > LABEL_VALUE_MAX or not _LABEL_NAME.match(value)):
        return (
            f"label value {brief(value)} must be at most {LABEL_VALUE_MAX} characters of letters, digits, "
            "'-', '_' and '.' (letters or digits at both ends)"
        )
    return None


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
    """``<app>-ui-svc``; when that is over 63 characters, the name cut short and a hash of the full
    name inserted (``<app[:47]>-<8 hex>-ui-svc``), as the Spark Operator names it."""
    preferred = f"{app_name}-{UI_SERVICE_SUFFIX}"
    if len(preferred) <= DNS_LABEL_MAX:
        return preferred
    keep = DNS_LABEL_MAX - len(UI_SERVICE_SUFFIX) - 10  # 8 hex digits and two dashes
    digest = hashlib.md5(preferred.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{app_name[:keep]}-{digest}-{UI_SERVICE_SUFFIX}"
