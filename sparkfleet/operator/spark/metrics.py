"""The Kubeflow Spark Operator's application and executor metrics, under its names.

Counts keep the operator's exact names (``spark_application_submit_count``,
not ``..._total``), since that is what existing dashboards query; the Python
client would append ``_total`` to a Counter, so they are exposed as
monotonically increasing gauges. The running counts are computed from the
informer caches when scraped, so they stay right across restarts and hand-offs.

Their labels are ``namespace`` and the application labels ``--metrics-labels`` names (bounded, see
:mod:`.metric_labels`); :func:`configure` sets them, and the buckets of Kubeflow's latency
histograms (``spark_application_{submit,start}_latency_seconds_histogram``), once per process
before the controllers start. As Kubeflow, the submit and start latencies (from the application's
creation) are observed on its first submission and its first run only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, Summary
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from sparkfleet.operator.spark.metric_labels import (
    KUBEFLOW_START_BUCKETS,
    KUBEFLOW_SUBMIT_BUCKETS,
    NAMESPACE,
    LabelSets,
)

log = logging.getLogger(__name__)

LABELS = (NAMESPACE,)
LATENCY_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)

STATUS_WRITES_REJECTED = Counter(
    "sparkfleet_status_writes_rejected",
    "Status writes the API server refused as invalid (422): the CRD's schema does not accept them",
    ("resource", "namespace"),
)


class SparkMetrics:
    """One configuration's metric families (registered by :func:`configure`)."""

    def __init__(
        self,
        labels: tuple[str, ...] = LABELS,
        submit_buckets: tuple[float, ...] = KUBEFLOW_SUBMIT_BUCKETS,
        start_buckets: tuple[float, ...] = KUBEFLOW_START_BUCKETS,
    ):
        self.sets = LabelSets(labels)
        self.labels = labels
        kw: dict[str, Any] = {"labelnames": labels, "registry": None}

        def gauge(name: str, text: str) -> Gauge:
            return Gauge(name, text, **kw)

        def histogram(name: str, text: str, buckets: Iterable[float]) -> Histogram:
            return Histogram(name, text, buckets=tuple(buckets), **kw)

        self.app_count = gauge("spark_application_count", "Total number of SparkApplications handled")
        self.submit_count = gauge(
            "spark_application_submit_count", "Total number of submitted SparkApplications"
        )
        self.failed_submission_count = gauge(
            "spark_application_failed_submission_count", "Total number of failed SparkApplication submissions"
        )
        self.success_count = gauge(
            "spark_application_success_count", "Total number of successful SparkApplications"
        )
        self.failure_count = gauge(
            "spark_application_failure_count", "Total number of failed SparkApplications"
        )
        self.success_execution_time = histogram(
            "spark_application_success_execution_time_seconds",
            "Execution time of successful SparkApplications",
            LATENCY_BUCKETS,
        )
        self.failure_execution_time = histogram(
            "spark_application_failure_execution_time_seconds",
            "Execution time of failed SparkApplications",
            LATENCY_BUCKETS,
        )
        self.submit_latency = Summary(
            "spark_application_submit_latency_seconds",
            "Spark App Submit Latency from creation to submitted state",
            **kw,
        )
        self.submit_latency_histogram = histogram(
            "spark_application_submit_latency_seconds_histogram",
            "Spark App Submit Latency counts in buckets from creation to submitted state",
            submit_buckets,
        )
        self.start_latency = histogram(
            "spark_application_start_latency_seconds",
            "From creation of a SparkApplication to its driver running",
            LATENCY_BUCKETS,
        )
        self.start_latency_histogram = histogram(
            "spark_application_start_latency_seconds_histogram",
            "Spark App Start Latency counts in buckets via the Operator",
            start_buckets,
        )
        self.executor_success_count = gauge(
            "spark_executor_success_count", "Total number of successful Spark executors"
        )
        self.executor_failure_count = gauge(
            "spark_executor_failure_count", "Total number of failed Spark executors"
        )

    def families(self) -> list[Any]:
        return [value for value in vars(self).values() if isinstance(value, (Gauge, Histogram, Summary))]


_current = SparkMetrics()


def current() -> SparkMetrics:
    return _current


def configure(
    labels: tuple[str, ...] = LABELS,
    submit_buckets: tuple[float, ...] = KUBEFLOW_SUBMIT_BUCKETS,
    start_buckets: tuple[float, ...] = KUBEFLOW_START_BUCKETS,
) -> SparkMetrics:
    """Replaces the registered families with ones of these labels and buckets (what was counted so
    far is dropped): once, at start-up, before any reconcile."""
    global _current
    for family in _current.families():
        REGISTRY.unregister(family)
    _current = SparkMetrics(labels, submit_buckets, start_buckets)
    for family in _current.families():
        REGISTRY.register(family)
    return _current


for _family in _current.families():
    REGISTRY.register(_family)


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
    labels: Mapping[str, str] | None = None,
    submission_attempts: int = 1,
    execution_attempts: int = 1,
) -> None:
    """Counts what one reconcile changed (``labels``: the application's)."""
    if old_state == new_state and old_executors == new_executors:
        return
    m = _current
    values = m.sets.values(namespace, labels)
    if old_state == "" and new_state != "":
        m.app_count.labels(*values).inc()
    if new_state == "SUBMITTED" and old_state != "SUBMITTED":
        m.submit_count.labels(*values).inc()
        if submission_attempts == 1 and created is not None:  # the first submission only, as Kubeflow
            latency = max(0.0, now - created)
            m.submit_latency.labels(*values).observe(latency)
            m.submit_latency_histogram.labels(*values).observe(latency)
    if new_state == "SUBMISSION_FAILED" and old_state != "SUBMISSION_FAILED":
        m.failed_submission_count.labels(*values).inc()
    if new_state == "RUNNING" and old_state != "RUNNING" and created is not None and execution_attempts == 1:
        latency = max(0.0, now - created)
        m.start_latency.labels(*values).observe(latency)
        m.start_latency_histogram.labels(*values).observe(latency)
    if new_state == "COMPLETED" and old_state != "COMPLETED":
        m.success_count.labels(*values).inc()
        if submitted is not None:
            m.success_execution_time.labels(*values).observe(max(0.0, now - submitted))
    if new_state == "FAILED" and old_state != "FAILED":
        m.failure_count.labels(*values).inc()
        if submitted is not None:
            m.failure_execution_time.labels(*values).observe(max(0.0, now - submitted))
    for pod, state in new_executors.items():
        if old_executors.get(pod) == state:
            continue
        if state == "COMPLETED":
            m.executor_success_count.labels(*values).inc()
        elif state == "FAILED":
            m.executor_failure_count.labels(*values).inc()


class RunningCollector(Collector):
    """``spark_application_running_count`` and ``spark_executor_running_count`` from the caches."""

    def __init__(self) -> None:
        self.sources: list[Callable[[], Iterable[dict[str, Any]]]] = []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        m = _current
        apps = GaugeMetricFamily(
            "spark_application_running_count", "Running SparkApplications", labels=m.labels
        )
        executors = GaugeMetricFamily(
            "spark_executor_running_count", "Running Spark executors", labels=m.labels
        )
        running: dict[tuple[str, ...], int] = {}
        running_executors: dict[tuple[str, ...], int] = {}
        for source in list(self.sources):
            for app in source():
                meta = app["metadata"]
                status = app.get("status") or {}
                is_running = (status.get("applicationState") or {}).get("state") == "RUNNING"
                count = sum(1 for s in (status.get("executorState") or {}).values() if s == "RUNNING")
                if not (is_running or count):
                    continue
                values = m.sets.values(meta["namespace"], meta.get("labels"))
                if is_running:
                    running[values] = running.get(values, 0) + 1
                if count:
                    running_executors[values] = running_executors.get(values, 0) + count
        for values, value in sorted(running.items()):
            apps.add_metric(list(values), value)
        for values, value in sorted(running_executors.items()):
            executors.add_metric(list(values), value)
        yield apps
        yield executors


RUNNING = RunningCollector()
REGISTRY.register(RUNNING)
