"""What the controller reads off pods: the driver's phase and failure, executor states."""

from __future__ import annotations

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


def executor_states(pods: list[dict[str, Any]], limit: int) -> dict[str, str]:
    """Executor pod name -> state, for at most ``limit`` executors (lowest executor ids first)."""

    def executor_id(pod: dict[str, Any]) -> tuple[int, str]:
        raw = (pod["metadata"].get("labels") or {}).get(naming.LABEL_EXECUTOR_ID, "")
        return (int(raw) if raw.isdigit() else 1 << 30, pod["metadata"]["name"])

    states = {}
    for pod in sorted(pods, key=executor_id)[:limit]:
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        states[pod["metadata"]["name"]] = _EXECUTOR_STATE.get(phase, "UNKNOWN")
    return states
