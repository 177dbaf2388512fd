"""What the controller reads off pods: the driver's phase and failure, executor states."""

from __future__ import annotations

import re
from typing import Any

from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.lifecycle import Driver, Event

_EXECUTOR_STATE = {
    "Pending": "PENDING",
    "Running": "RUNNING",
    "Succeeded": "COMPLETED",
    "Failed": "FAILED",
}


DRIVER_CONTAINER = "spark-kubernetes-driver"
EXECUTOR_CONTAINERS = ("spark-kubernetes-executor", "executor")  # Spark 3+'s name, then Spark 2's
TERMINATION_MESSAGE_KEPT = 1024  # of the kubelet's 4 KiB, in status and Events


def driver_of(pod: dict[str, Any]) -> Driver:
    """The driver as the Spark Operator reads it: the driver container's end decides (a pod still
    Running with a sidecar has finished when its driver container has; a Failed pod whose driver
    container exited 0 completed)."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    terminated = _terminated(pod, (DRIVER_CONTAINER,))
    if phase in ("Running", "Failed") and terminated is not None:
        phase = "Succeeded" if terminated.get("exitCode", 0) == 0 else "Failed"
    elif phase not in ("Pending", "Running", "Succeeded", "Failed"):
        phase = "Unknown"
    error = failure_message(pod) if phase == "Failed" else ""
    return Driver(phase=phase, error=error, name=pod["metadata"]["name"])


def failure_message(pod: dict[str, Any]) -> str:
    """Why a driver failed, in the Spark Operator's words (its alerts match them): "driver
    container failed with ExitCode: N, Reason: R" (then the container's termination message, when
    it left one), or "driver container status missing" (then the pod's own reason and message,
    when it has them: an eviction says why)."""
    terminated = _terminated(pod, (DRIVER_CONTAINER,))
    if terminated is not None:
        reason = terminated.get("reason") or ""
        text = f"driver container failed with ExitCode: {terminated.get('exitCode', 0)}, Reason: {reason}"
        said = (terminated.get("message") or "").strip()  # the container's termination message
        return f"{text}: {said[:TERMINATION_MESSAGE_KEPT]}" if said else text
    status = pod.get("status") or {}
    why = ": ".join(p for p in (status.get("reason") or "", (status.get("message") or "").strip()) if p)
    return f"driver container status missing: {why}" if why else "driver container status missing"


def _terminated(pod: dict[str, Any], containers: tuple[str, ...]) -> dict[str, Any] | None:
    """The terminated state of the first of ``containers`` the pod reports, if it has ended."""
    statuses = {c.get("name"): c for c in (pod.get("status") or {}).get("containerStatuses") or []}
    for name in containers:
        if name in statuses:
            terminated: dict[str, Any] | None = (statuses[name].get("state") or {}).get("terminated")
            return terminated
    return None


_EXECUTOR_EVENT = {
    "PENDING": ("Normal", "SparkExecutorPending", "Executor {} is pending"),
    "RUNNING": ("Normal", "SparkExecutorRunning", "Executor {} is running"),
    "COMPLETED": ("Normal", "SparkExecutorCompleted", "Executor {} completed"),
    "UNKNOWN": ("Warning", "SparkExecutorUnknown", "Executor {} in unknown state"),
}


def executor_events(pods: list[dict[str, Any]], before: dict[str, str], after: dict[str, str]) -> list[Event]:
    """The Spark Operator's Event for each executor pod whose tracked state is new or changed
    from ``before`` to ``after`` (a failed one says its exit code, reason and the pod's message)."""
    events = []
    for pod in pods:
        name = pod["metadata"]["name"]
        state = after.get(name)
        if state is None or before.get(name) == state:
            continue
        if state == "FAILED":
            terminated = _terminated(pod, EXECUTOR_CONTAINERS)
            code, reason = (
                (terminated.get("exitCode", 0), terminated.get("reason") or "")
                if terminated is not None
                else (-1, "Unknown (Container not Found)")
            )
            message = (pod.get("status") or {}).get("message") or ""
            text = f"Executor {name} failed with ExitCode: {code}, Reason: {reason}, Pod Message: {message}"
            events.append(Event("Warning", "SparkExecutorFailed", text))
        else:
            kind, reason, text = _EXECUTOR_EVENT[state]
            events.append(Event(kind, reason, text.format(name)))
    return events


TERMINATED = frozenset({"COMPLETED", "FAILED"})
_EXECUTOR_SUFFIX = re.compile(r"-exec-(\d+)$")


def executor_states(
    pods: list[dict[str, Any]],
    limit: int,
    previous: dict[str, str] | None = None,
    *,
    completed: bool = False,
    driver_running: bool = True,
) -> dict[str, str]:
    """Executor pod name -> state, for at most ``limit`` executors (lowest executor ids first).

    The states in ``previous`` are kept for executors whose pods are gone, as the Spark Operator
    keeps them: a Spark driver deletes its executors when it stops, so an executor that ended
    with its pod removed is COMPLETED once the application completed, FAILED when the driver is
    not running otherwise, and UNKNOWN while it runs.
    """
    observed = {pod["metadata"]["name"]: _state(pod) for pod in pods}
    ids = {pod["metadata"]["name"]: _executor_id(pod) for pod in pods}
    merged = {**(previous or {}), **observed}
    for name, state in merged.items():
        if name not in observed and state not in TERMINATED:
            merged[name] = "COMPLETED" if completed else "UNKNOWN" if driver_running else "FAILED"

    def order(name: str) -> tuple[int, str]:
        if name in ids:
            return ids[name], name
        match = _EXECUTOR_SUFFIX.search(name)
        return (int(match.group(1)) if match else 1 << 30), name

    return {name: merged[name] for name in sorted(merged, key=order)[:limit]}


def _state(pod: dict[str, Any]) -> str:
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    return _EXECUTOR_STATE.get(phase, "UNKNOWN")


def _executor_id(pod: dict[str, Any]) -> int:
    raw = (pod["metadata"].get("labels") or {}).get(naming.LABEL_EXECUTOR_ID, "")
    return int(raw) if raw.isdigit() else 1 << 30
