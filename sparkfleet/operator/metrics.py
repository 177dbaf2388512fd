"""Controller metrics under the names Kubernetes users already graph.

Work-queue metrics follow client-go / controller-runtime (labels ``name`` and
``controller``); reconcile metrics follow controller-runtime. The two gauges
about work in progress are computed when scraped, so they are never stale.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Protocol

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# client-go's workqueue buckets: 10 ns .. 1000 s, by factors of 10.
QUEUE_BUCKETS = tuple(1e-8 * 10**i for i in range(12))
# controller-runtime's reconcile time buckets.
RECONCILE_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
    1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
)  # fmt: skip

QUEUE_LABELS = ("name", "controller")

DEPTH = Gauge("workqueue_depth", "Current depth of workqueue", QUEUE_LABELS)
ADDS = Counter("workqueue_adds", "Total number of adds handled by workqueue", QUEUE_LABELS)
QUEUE_DURATION = Histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested",
    QUEUE_LABELS,
    buckets=QUEUE_BUCKETS,
)
WORK_DURATION = Histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes.",
    QUEUE_LABELS,
    buckets=QUEUE_BUCKETS,
)
RETRIES = Counter("workqueue_retries", "Total number of retries handled by workqueue", QUEUE_LABELS)

RECONCILE_TOTAL = Counter(
    "controller_runtime_reconcile", "Total number of reconciliations per controller", ("controller", "result")
)
RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors",
    "Total number of reconciliation errors per controller",
    ("controller",),
)
RECONCILE_TIME = Histogram(
    "controller_runtime_reconcile_time_seconds",
    "Length of time per reconciliation per controller",
    ("controller",),
    buckets=RECONCILE_BUCKETS,
)
MAX_CONCURRENT_RECONCILES = Gauge(
    "controller_runtime_max_concurrent_reconciles",
    "Maximum number of concurrent reconciles per controller",
    ("controller",),
)
ACTIVE_WORKERS = Gauge(
    "controller_runtime_active_workers", "Number of currently used workers per controller", ("controller",)
)


class WorkInProgress(Protocol):
    """A queue as the in-progress gauges see it."""

    @property
    def name(self) -> str: ...

    @property
    def controller(self) -> str: ...

    def processing_ages(self) -> list[float]:
        """Seconds each item being processed has been processed for."""
        ...


class _InProgressCollector(Collector):
    """``workqueue_unfinished_work_seconds`` and ``workqueue_longest_running_processor_seconds``."""

    def __init__(self) -> None:
        self.queues: weakref.WeakSet[WorkInProgress] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has been done that is in progress and hasn't been observed by "
            "work_duration. Large values indicate stuck threads.",
            labels=QUEUE_LABELS,
        )
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            labels=QUEUE_LABELS,
        )
        for queue in list(self.queues):
            ages = queue.processing_ages()
            labels = [queue.name, queue.controller]
            unfinished.add_metric(labels, sum(ages))
            longest.add_metric(labels, max(ages, default=0.0))
        yield unfinished
        yield longest


IN_PROGRESS = _InProgressCollector()
REGISTRY.register(IN_PROGRESS)


class QueueMetrics(Protocol):
    """What a work queue reports about itself.

    :class:`PrometheusQueueMetrics` for the operator's queues, :data:`NO_QUEUE_METRICS` for none.
    """

    def watch(self, queue: WorkInProgress) -> None:
        """Reports ``queue``'s work in progress when scraped (it is held weakly)."""
        ...

    def added(self) -> None: ...

    def depth(self, depth: int) -> None: ...

    def waited(self, seconds: float) -> None:
        """An item waited ``seconds`` in the queue before a worker took it."""
        ...

    def worked(self, seconds: float) -> None:
        """A worker spent ``seconds`` on an item."""
        ...

    def retried(self) -> None: ...


class PrometheusQueueMetrics:
    """The ``workqueue_*`` series of one queue, labelled ``name`` and ``controller``."""

    def __init__(self, name: str, controller: str) -> None:
        labels = (name, controller)
        self._depth = DEPTH.labels(*labels)
        self._adds = ADDS.labels(*labels)
        self._queue_duration = QUEUE_DURATION.labels(*labels)
        self._work_duration = WORK_DURATION.labels(*labels)
        self._retries = RETRIES.labels(*labels)

    def watch(self, queue: WorkInProgress) -> None:
        IN_PROGRESS.queues.add(queue)

    def added(self) -> None:
        self._adds.inc()

    def depth(self, depth: int) -> None:
        self._depth.set(depth)

    def waited(self, seconds: float) -> None:
        self._queue_duration.observe(seconds)

    def worked(self, seconds: float) -> None:
        self._work_duration.observe(seconds)

    def retried(self) -> None:
        self._retries.inc()


class NoQueueMetrics:
    """Reports nothing: for queues that are not the operator's (and tests)."""

    def watch(self, queue: WorkInProgress) -> None:
        pass

    def added(self) -> None:
        pass

    def depth(self, depth: int) -> None:
        pass

    def waited(self, seconds: float) -> None:
        pass

    def worked(self, seconds: float) -> None:
        pass

    def retried(self) -> None:
        pass


NO_QUEUE_METRICS = NoQueueMetrics()
