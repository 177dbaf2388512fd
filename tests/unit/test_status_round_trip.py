"""The typed SparkApplication status round-trips exactly: the keys it was read with, unknown ones
included, plus those set, minus those unset."""

from __future__ import annotations

from typing import Any

from sparkfleet.api.sparkapplication import SparkApplicationStatus

KUBEFLOW_STATUS: dict[str, Any] = {
    "applicationState": {"state": "RUNNING", "laterField": 1},
    "driverInfo": {"podName": "p-driver", "webUIPort": 4040, "webUIServiceName": "p-ui-svc"},
    "executorState": {"p-exec-1": "RUNNING"},
    "executionAttempts": 1,
    "submissionAttempts": 1,
    "lastSubmissionAttemptTime": "2026-01-01T00:00:00Z",
    "sparkApplicationId": "spark-123",
    "submissionID": "abc",
    "aNullKubeflowMayWrite": None,
    "somethingNew": {"nested": [1, 2]},
}


def test_a_status_read_and_written_untouched_is_the_same() -> None:
    assert SparkApplicationStatus.from_kube(KUBEFLOW_STATUS).to_kube() == KUBEFLOW_STATUS
    assert SparkApplicationStatus.from_kube(None).to_kube() == {}
    assert SparkApplicationStatus.from_kube({"driverInfo": {}}).to_kube() == {"driverInfo": {}}


def test_set_and_unset_fields_add_and_remove_their_keys_only() -> None:
    status = SparkApplicationStatus.from_kube(KUBEFLOW_STATUS)
    status.termination_time = "2026-01-01T00:01:00Z"
    status.unset("executor_state", "submission_id")
    written = status.to_kube()
    expected = {k: v for k, v in KUBEFLOW_STATUS.items() if k not in ("executorState", "submissionID")}
    assert written == {**expected, "terminationTime": "2026-01-01T00:01:00Z"}
    status.unset("termination_time")  # unsetting what is not there is nothing
    status.unset("termination_time")
    assert "terminationTime" not in status.to_kube()


def test_a_copy_is_independent() -> None:
    status = SparkApplicationStatus.from_kube(KUBEFLOW_STATUS)
    copied = status.model_copy(deep=True)
    copied.unset("driver_info")
    assert copied.executor_state is not None
    copied.executor_state["p-exec-1"] = "COMPLETED"
    assert status.to_kube() == KUBEFLOW_STATUS


def test_a_field_the_model_cannot_read_is_left_out_the_rest_kept() -> None:
    status = SparkApplicationStatus.from_kube({**KUBEFLOW_STATUS, "executorState": {"e": "EXPLODED"}})
    written = status.to_kube()
    assert "executorState" not in written
    assert written == {k: v for k, v in KUBEFLOW_STATUS.items() if k != "executorState"}
