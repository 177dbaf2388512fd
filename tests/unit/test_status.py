from __future__ import annotations

from typing import Any

import pytest

from sparkfleet.operator.spark.status import driver_of, executor_events, executor_states, failure_message


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


def _ended(container: str, code: int, reason: str) -> dict[str, Any]:
    return {"name": container, "state": {"terminated": {"exitCode": code, "reason": reason}}}


def test_driver_failure_message_is_the_spark_operators() -> None:
    failed = pod("d", "Failed", containerStatuses=[_ended("spark-kubernetes-driver", 137, "OOMKilled")])
    assert driver_of(failed).error == "driver container failed with ExitCode: 137, Reason: OOMKilled"
    evicted = pod("d", "Failed", reason="Evicted", message="node ran out of memory")
    assert failure_message(evicted) == "driver container status missing: Evicted: node ran out of memory"
    assert failure_message(pod("d", "Failed")) == "driver container status missing"
    said = _ended("spark-kubernetes-driver", 1, "Error")
    said["state"]["terminated"]["message"] = "Exception in thread main: " + "x" * 5000
    told = failure_message(pod("d", "Failed", containerStatuses=[said]))
    assert told.startswith(
        "driver container failed with ExitCode: 1, Reason: Error: Exception in thread main: x"
    )
    assert len(told) < 1100  # the termination message is kept in part
    assert driver_of(pod("d", "Running")).error == ""
    assert driver_of({"metadata": {"name": "d"}}).phase == "Pending"
    assert driver_of(failed).name == "d"


@pytest.mark.parametrize(
    ("phase", "driver_container", "seen"),
    [
        ("Running", None, "Running"),
        ("Running", 0, "Succeeded"),  # a sidecar still runs; the driver has finished
        ("Running", 1, "Failed"),
        ("Failed", 0, "Succeeded"),  # the pod failed, the driver did not
        ("Failed", 1, "Failed"),
        ("Succeeded", None, "Succeeded"),
        ("Pending", None, "Pending"),
        ("Unknown", None, "Unknown"),
        ("Mystery", None, "Unknown"),
    ],
)
def test_the_driver_containers_end_decides_as_in_the_spark_operator(
    phase: str, driver_container: int | None, seen: str
) -> None:
    statuses = [{"name": "sidecar", "state": {"running": {}}}]
    if driver_container is not None:
        statuses.append(_ended("spark-kubernetes-driver", driver_container, "Completed"))
    assert driver_of(pod("d", phase, containerStatuses=statuses)).phase == seen


def test_executor_events_say_each_new_or_changed_state_in_the_spark_operators_words() -> None:
    pods = [
        pod("a-exec-1", "Running", "1"),
        pod("a-exec-2", "Failed", "2", message="The node was low on resource: memory.",
            containerStatuses=[_ended("spark-kubernetes-executor", 137, "OOMKilled")]),
        pod("a-exec-3", "Failed", "3"),
        pod("a-exec-4", "Pending", "4"),
        pod("a-exec-5", "Succeeded", "5"),
    ]  # fmt: skip
    before = {"a-exec-1": "RUNNING", "a-exec-5": "RUNNING"}
    after = executor_states(pods, 10, before)
    events = {(e.type, e.reason, e.message) for e in executor_events(pods, before, after)}
    assert events == {
        ("Warning", "SparkExecutorFailed", "Executor a-exec-2 failed with ExitCode: 137, Reason: OOMKilled, "
                                           "Pod Message: The node was low on resource: memory."),
        ("Warning", "SparkExecutorFailed",
         "Executor a-exec-3 failed with ExitCode: -1, Reason: Unknown (Container not Found), Pod Message: "),
        ("Normal", "SparkExecutorPending", "Executor a-exec-4 is pending"),
        ("Normal", "SparkExecutorCompleted", "Executor a-exec-5 completed"),
    }  # fmt: skip
    assert executor_events(pods, after, after) == []  # said once
    capped = executor_states(pods, 2)
    assert {e.message for e in executor_events(pods, {}, capped)} == {
        "Executor a-exec-1 is running",
        "Executor a-exec-2 failed with ExitCode: 137, Reason: OOMKilled, Pod Message: The node was low on "
        "resource: memory.",
    }  # untracked executors (past --max-tracked-executor-per-app) are not said either
