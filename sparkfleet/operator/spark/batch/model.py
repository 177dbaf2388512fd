"""What a batch-scheduling plan is made of (see :mod:`.plan`): options, plan, PodGroup; pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sparkfleet.api.resource import Resource
from sparkfleet.operator.spark.validation import InvalidApplication

if TYPE_CHECKING:
    from sparkfleet.api.sparkapplication import SparkApplication

VOLCANO = "volcano"
YUNIKORN = "yunikorn"
BUILT_IN = (VOLCANO, YUNIKORN)
FIELD = "spec.batchScheduler"

Obj = dict[str, Any]


class BatchRefused(InvalidApplication):
    """The application names a batch scheduler this operator does not run with (a spec error)."""


@dataclass(frozen=True, slots=True)
class BatchOptions:
    """``--enable-batch-scheduler``, ``--default-batch-scheduler``, ``--kube-scheduler-names``."""

    enabled: bool = False
    default: str = ""
    kube_scheduler_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.enabled and self.default and self.default not in self.names:
            raise ValueError(
                f"--default-batch-scheduler: {self.default!r} is not a batch scheduler: one of "
                f"{', '.join(self.names)} (kube-scheduler profiles are named by --kube-scheduler-names)"
            )

    @property
    def names(self) -> tuple[str, ...]:
        """The schedulers an application may name, when enabled."""
        return (*BUILT_IN, *(n for n in self.kube_scheduler_names if n not in BUILT_IN))


@dataclass(frozen=True, slots=True)
class PodGroup:
    """The PodGroup a scheduler needs before the pods: its API, and the object to create."""

    resource: Resource
    crd: str  # the CustomResourceDefinition's name, said when it is absent
    obj: Obj
    scheduler: str

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """What a submission's pods get for their batch scheduler."""

    scheduler_name: str | None = None
    driver_labels: Mapping[str, str] = field(default_factory=dict)
    executor_labels: Mapping[str, str] = field(default_factory=dict)
    driver_annotations: Mapping[str, str] = field(default_factory=dict)
    executor_annotations: Mapping[str, str] = field(default_factory=dict)
    pod_group: PodGroup | None = None

    def applied_to(self, app: SparkApplication) -> SparkApplication:
        """``app`` as its pods are rendered under this plan (a copy: the application is not changed):
        the plan's labels and annotations added to the driver's and executors' own, its scheduler
        their schedulerName (over ``spec.batchScheduler`` and the pods' own)."""
        spec = app.spec
        roles = {}
        for role, pod, labels, notes in (
            ("driver", spec.driver, self.driver_labels, self.driver_annotations),
            ("executor", spec.executor, self.executor_labels, self.executor_annotations),
        ):
            update: dict[str, Any] = {}
            if labels:
                update["labels"] = {**(pod.labels or {}), **labels}
            if notes:
                update["annotations"] = {**(pod.annotations or {}), **notes}
            if self.scheduler_name:
                update["scheduler_name"] = self.scheduler_name
            roles[role] = pod.model_copy(update=update)
        update_spec: dict[str, Any] = {**roles}
        if self.scheduler_name:
            update_spec["batch_scheduler"] = None
        return app.model_copy(update={"spec": spec.model_copy(update=update_spec)})
