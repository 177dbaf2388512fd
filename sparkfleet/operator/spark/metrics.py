"""The Kubeflow Spark Operator's application and executor metrics, under its names.

Counts keep the operator's exact names (``spark_application_submit_count``,
not ``..._total``), since that is what existing dashboards query; the Python
client would append ``_total`` to a Counter, so they are exposed as
monotonically increasing gauges. The running counts are computed from the
informer caches when scraped, so they stay right across restarts and hand-offs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LABELS = ("namespace",)
LATENCY_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)

APP_COUNT = Gauge("spark_application_count", "Total number of SparkApplications handled", LABELS)
SUBMIT_COUNT = Gauge("spark_application_submit_count", "Total number of submitted SparkApplications", LABELS)
SUCCESS_COUNT = Gauge(
    "spark_application_success_count", "Total number of successful SparkApplications", LABELS
)
FAILURE_COUNT = Gauge("spark_application_failure_count", "Total number of failed SparkApplications", LABELS)
SUCCESS_EXECUTION_TIME = Histogram(
    "spark_application_success_execution_time_seconds",
    "Execution time of successful SparkApplications",
    LABELS,
    buckets=LATENCY_BUCKETS,
)
FAILURE_EXECUTION_TIME = Histogram(
    "spark_application_failure_execution_time_seconds",
    "Execution time of failed SparkApplications",
    LABELS,
    buckets=LATENCY_BUCKETS,
)
START_LATENCY = Histogram(
    "spark_application_start_latency_seconds",
    "From creation of a SparkApplication to its driver running",
    LABELS,
    buckets=LATENCY_BUCKETS,
)
STATUS_WRITES_REJECTED = Counter(
    "sparkfleet_status_writes_rejected",
    "Status writes the API server refused as invalid (422): the CRD's schema does not accept them",
    ("resource", "namespace"),
)
EXECUTOR_SUCCESS_COUNT = Gauge(
    "spark_executor_success_count", "Total number of successful Spark executors", LABELS
)
EXECUTOR_FAILURE_COUNT = Gauge(
    "spark_executor_failure_count", "Total number of failed Spark executors", LABELS
)


def record(
    namespace: str,
    old_state: str,
    new_state: str,
    old_executors: dict[str, str],
    new_executors: dict[str, str],
    *,
    created: float | None,
    submitted: float | None,
    now: float,
) -> None:
    """Counts what one reconcile changed."""
    if old_state == new_state and old_executors == new_executors:
        return
    if old_state == "" and new_state != "":
        APP_COUNT.labels(namespace).inc()
    if new_state == "SUBMITTED" and old_state != "SUBMITTED":
        SUBMIT_COUNT.labels(namespace).inc()
    if new_state == "RUNNING" and old_state != "RUNNING" and created is not None:
        START_LATENCY.labels(namespace).observe(max(0.0, now - created))
    if new_state == "COMPLETED" and old_state != "COMPLETED":
        SUCCESS_COUNT.labels(namespace).inc()
        if submitted is not None:
            SUCCESS_EXECUTION_TIME.labels(namespace).observe(max(0.0, now - submitted))
    if new_state == "FAILED" and old_state != "FAILED":
        FAILURE_COUNT.labels(namespace).inc()
        if submitted is not None:
            FAILURE_EXECUTION_TIME.labels(namespace).observe(max(0.0, now - submitted))
    for pod, state in new_executors.items():
        if old_executors.get(pod) == state:
            continue
        if state == "COMPLETED":
            EXECUTOR_SUCCESS_COUNT.labels(namespace).inc()
        elif state == "FAILED":
            EXECUTOR_FAILURE_COUNT.labels(namespace).inc()


class RunningCollector(Collector):
    """``spark_application_running_count`` and ``spark_executor_running_count`` from the caches."""

    def __init__(self) -> None:
        self.sources: list[Callable[[], Iterable[dict[str, Any]]]] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        apps = GaugeMetricFamily(
            "spark_application_running_count", "Running SparkApplications", labels=LABELS
        )
        executors = GaugeMetricFamily(
            "spark_executor_running_count", "Running Spark executors", labels=LABELS
        )
        running: dict[str, int] = {}
        running_executors: dict[str, int] = {}
        for source in list(self.sources):
            for app in source():
                namespace = app["metadata"]["namespace"]
                status = app.get("status") or {}
                if (status.get("applicationState") or {}).get("state") == "RUNNING":
                    running[namespace] = running.get(namespace, 0) + 1
                count = sum(1 for s in (status.get("executorState") or {}).values() if s == "RUNNING")
                if count:
                    running_executors[namespace] = running_executors.get(namespace, 0) + count
        for namespace, value in sorted(running.items()):
            apps.add_metric([namespace], value)
        for namespace, value in sorted(running_executors.items()):
            executors.add_metric([namespace], value)
        yield apps
        yield executors


RUNNING = RunningCollector()
REGISTRY.register(RUNNING)
