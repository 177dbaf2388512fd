from __future__ import annotations

from typing import Any

from sparkfleet.operator.spark.status import driver_of, executor_states, failure_message


def pod(name: str, phase: str, executor_id: str | None = None, **status: Any) -> dict[str, Any]:
    labels = {"spark-exec-id": executor_id} if executor_id else {}
    return {"metadata": {"name": name, "labels": labels}, "status": {"phase": phase, **status}}


def test_executor_states_follow_phases_and_are_capped_by_executor_id() -> None:
    pods = [
        pod(f"e-{i}", phase, str(i))
        for i, phase in [(3, "Failed"), (1, "Running"), (2, "Succeeded"), (10, "Pending")]
    ]
    assert executor_states(pods, limit=10) == {
        "e-1": "RUNNING",
        "e-2": "COMPLETED",
        "e-3": "FAILED",
        "e-10": "PENDING",
    }
    assert list(executor_states(pods, limit=2)) == ["e-1", "e-2"]
    assert executor_states([pod("odd", "Unknown")], limit=5) == {"odd": "UNKNOWN"}


def test_executors_whose_pods_are_gone_keep_a_state_as_the_spark_operator_gives_them() -> None:
    """A Spark driver deletes its executors when it stops: their last states must not stay RUNNING."""
    before = {"a-exec-1": "RUNNING", "a-exec-2": "COMPLETED", "a-exec-3": "PENDING"}
    running = [pod("a-exec-1", "Running", "1")]
    assert executor_states(running, 10, before) == {"a-exec-1": "RUNNING", "a-exec-2": "COMPLETED",
                                                    "a-exec-3": "UNKNOWN"}  # fmt: skip
    assert executor_states([], 10, before, completed=True) == dict.fromkeys(before, "COMPLETED")
    assert executor_states([], 10, before, driver_running=False) == {
        "a-exec-1": "FAILED", "a-exec-2": "COMPLETED", "a-exec-3": "FAILED",
    }  # fmt: skip
    many = {f"a-exec-{i}": "RUNNING" for i in range(1, 13)}
    assert list(executor_states([], 10, many, completed=True)) == [f"a-exec-{i}" for i in range(1, 11)]


def test_driver_failure_message_comes_from_the_container() -> None:
    failed = pod(
        "d", "Failed", containerStatuses=[{"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]
    )
    assert driver_of(failed).error == "driver container failed with exit code 137: OOMKilled"
    evicted = pod("d", "Failed", reason="Evicted", message="node ran out of memory")
    assert failure_message(evicted) == "Evicted: node ran out of memory"
    assert driver_of(pod("d", "Running")).error == ""
    assert driver_of({"metadata": {"name": "d"}}).phase == "Pending"
