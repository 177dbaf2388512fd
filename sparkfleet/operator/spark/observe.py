"""What one SparkApplication reconcile observed: a typed snapshot, and the lifecycle's view of it.

The controller fills a :class:`Snapshot` from its caches and the few reads it needs (see
``SparkApplicationController.observe``); everything after works from the snapshot alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkfleet.api import SparkApplication
from sparkfleet.api.sparkapplication import SparkApplicationStatus
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.timestamps import parse_time
from sparkfleet.operator.spark import lifecycle, naming
from sparkfleet.operator.spark.app_status import error_message_of
from sparkfleet.operator.spark.lifecycle import AppState, Observation
from sparkfleet.operator.spark.status import driver_of

DEFAULT_RETRY_INTERVAL = 5  # seconds, when the restart policy names none (the Spark Operator's)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One application as a reconcile found it."""

    key: NamespacedName
    raw: dict[str, Any]  # the cached object, as written (statuses are compare-and-swapped on it)
    app: SparkApplication  # the application, parsed and valid
    status: SparkApplicationStatus  # its status as written
    was_refused: bool  # the status refuses an earlier, invalid spec (see app_status.refused)
    pods: list[dict[str, Any]]  # the recorded submission's pods the application owns
    driver_pod: dict[str, Any] | None
    routing_keys: frozenset[str]  # the scope's routing labels (see routing)
    look_again: float | None  # seconds until astray executors are looked for again
    observation: Observation  # what lifecycle.decide is given

    @property
    def namespace(self) -> str:
        return str(self.raw["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.raw["metadata"]["name"])

    @property
    def uid(self) -> str | None:
        uid: str | None = self.raw["metadata"].get("uid")
        return uid

    @property
    def executors(self) -> list[dict[str, Any]]:
        return [p for p in self.pods if p["metadata"]["labels"].get(naming.LABEL_SPARK_ROLE) == "executor"]


def submitted_hash(driver_pod: dict[str, Any]) -> str | None:
    """The spec the running submission was made from (the driver pod's annotation)."""
    annotations: dict[str, str] = driver_pod["metadata"].get("annotations") or {}
    return annotations.get(naming.ANNOTATION_SPEC_HASH)


def driver_among(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((p for p in pods if p["metadata"]["labels"].get(naming.LABEL_SPARK_ROLE) == "driver"), None)


def observation_of(
    app: SparkApplication,
    status: SparkApplicationStatus,
    state: AppState,
    driver_pod: dict[str, Any] | None,
    current_hash: str,
    *,
    now: float,
    driver_grace: float,
    default_ttl: float = 0.0,
) -> Observation:
    """What :func:`lifecycle.decide` is given: the application's state and spec, its driver."""
    restart = app.spec.restart_policy
    ttl = app.spec.time_to_live_seconds
    return Observation(
        state=state,
        now=now,
        driver=driver_of(driver_pod) if driver_pod else None,
        spec_changed=driver_pod is not None and submitted_hash(driver_pod) not in (None, current_hash),
        submission_attempts=int(status.submission_attempts or 0),
        execution_attempts=int(status.execution_attempts or 0),
        last_submission_attempt_time=parse_time(status.last_submission_attempt_time),
        termination_time=parse_time(status.termination_time),
        restart_policy=lifecycle.RestartPolicy(
            type=restart.type if restart else "Never",
            on_failure_retries=(restart.on_failure_retries or 0) if restart else 0,
            on_failure_retry_interval=float(
                (restart.on_failure_retry_interval or DEFAULT_RETRY_INTERVAL)
                if restart
                else DEFAULT_RETRY_INTERVAL
            ),
            on_submission_failure_retries=(restart.on_submission_failure_retries or 0) if restart else 0,
            on_submission_failure_retry_interval=float(
                (restart.on_submission_failure_retry_interval or DEFAULT_RETRY_INTERVAL)
                if restart
                else DEFAULT_RETRY_INTERVAL
            ),
        ),
        time_to_live_seconds=float(ttl) if ttl is not None else None,
        name=str(app.metadata["name"]),
        driver_name=(status.driver_info.pod_name if status.driver_info else None) or "",
        error_message=error_message_of(status),
        suspend=bool(app.spec.suspend),
        driver_grace_seconds=driver_grace,
        default_time_to_live_seconds=default_ttl,
    )
