"""What the controller reads off pods: the driver's phase and failure, executor states."""

from __future__ import annotations

import re
from typing import Any

from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.lifecycle import Driver

_EXECUTOR_STATE = {
    "Pending": "PENDING",
    "Running": "RUNNING",
    "Succeeded": "COMPLETED",
    "Failed": "FAILED",
}


def driver_of(pod: dict[str, Any]) -> Driver:
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    return Driver(phase=phase, error=failure_message(pod) if phase == "Failed" else "")


def failure_message(pod: dict[str, Any]) -> str:
    """Why a pod failed, from its driver container's termination (or the pod's own reason)."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        terminated = (container.get("state") or {}).get("terminated")
        if terminated and terminated.get("exitCode", 0) != 0:
            reason = terminated.get("reason") or "Error"
            detail = terminated.get("message") or ""
            text = f"driver container failed with exit code {terminated.get('exitCode')}: {reason}"
            return f"{text}: {detail.strip()}" if detail.strip() else text
    reason = status.get("reason") or ""
    message = status.get("message") or ""
    return ": ".join(p for p in (reason, message) if p) or "driver pod failed"


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
