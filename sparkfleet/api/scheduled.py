"""ScheduledSparkApplication, ``sparkoperator.k8s.io/v1beta2``: a SparkApplication on a cron schedule."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field

from sparkfleet.api.base import KubeModel, KubeObject
from sparkfleet.api.resource import Resource
from sparkfleet.api.sparkapplication import API_VERSION, GROUP, VERSION, SparkApplicationSpec

SCHEDULED_SPARK_APPLICATIONS = Resource(
    GROUP, VERSION, "scheduledsparkapplications", "ScheduledSparkApplication"
)

ConcurrencyPolicy = Literal["Allow", "Forbid", "Replace"]
ScheduleState = Literal["", "ValidatingSchedule", "Scheduled", "FailedValidation"]


class ScheduledSparkApplicationSpec(KubeModel):
    schedule: str
    time_zone: str | None = None
    template: SparkApplicationSpec
    suspend: bool | None = None
    concurrency_policy: ConcurrencyPolicy | None = None
    successful_run_history_limit: int | None = Field(default=None, ge=0)
    failed_run_history_limit: int | None = Field(default=None, ge=0)


class ScheduledSparkApplicationStatus(KubeModel):
    # The status as stored: the wire's strings, unknown fields kept. (A comment, not a docstring:
    # a docstring would become the CRD's description.)
    last_run: str | None = None
    next_run: str | None = None
    last_run_name: str | None = None
    past_successful_run_names: list[str] | None = None
    past_failed_run_names: list[str] | None = None
    schedule_state: ScheduleState | None = None
    reason: str | None = None

    def changed(self, **fields: str | list[str] | None) -> Self:
        """A copy with ``fields`` (by their Python names) set; a None removes the field, as if it
        had never been written (no ``null`` on the wire). The other fields are kept as they are."""
        wire = self.to_kube()
        for name, value in fields.items():
            alias = type(self).model_fields[name].alias or name
            if value is None:
                wire.pop(alias, None)
            else:
                wire[alias] = value
        return self.model_validate(wire)


class ScheduledSparkApplication(KubeModel):
    api_version: str = API_VERSION
    kind: str = "ScheduledSparkApplication"
    metadata: KubeObject
    spec: ScheduledSparkApplicationSpec
    status: ScheduledSparkApplicationStatus | None = None
