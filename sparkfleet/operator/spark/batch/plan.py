"""The batch-scheduling plan of one submission: pure, no I/O.

Given an application and the operator's ``--enable-batch-scheduler``, ``--default-batch-scheduler`` and
``--kube-scheduler-names``, :func:`plan_for` says which scheduler places the application's pods, the
labels and annotations its driver and executors carry for it, and the PodGroup (if the scheduler has
one) that must exist before the driver is created. It follows the Kubeflow Spark Operator v2.5's
choice of scheduler: the application's ``spec.batchScheduler``, else the default; Volcano, YuniKorn,
or a kube-scheduler profile running the coscheduling plugin (one of ``--kube-scheduler-names``).
"""

from __future__ import annotations

from sparkfleet.api.sparkapplication import SparkApplication
from sparkfleet.operator.spark.batch import coscheduling, volcano, yunikorn
from sparkfleet.operator.spark.batch.model import (
    FIELD,
    VOLCANO,
    YUNIKORN,
    BatchOptions,
    BatchPlan,
    BatchRefused,
)


def scheduler_of(app: SparkApplication, options: BatchOptions) -> str | None:
    """The batch scheduler that places ``app``'s pods (None: none, the pods' own schedulerName).
    :class:`BatchRefused` when it names one the operator does not run with."""
    if not options.enabled:
        return None
    name = app.spec.batch_scheduler or options.default
    if not name:
        return None
    if name not in options.names:
        raise BatchRefused(
            f"{FIELD}: batch scheduler {name!r} is not enabled in this operator "
            f"(enabled: {', '.join(options.names)}; kube-scheduler profiles come from --kube-scheduler-names)"
        )
    return name


def plan_for(app: SparkApplication, options: BatchOptions) -> BatchPlan | None:
    """The plan of ``app``'s next submission, or None when batch scheduling does not apply (then, as
    in Kubeflow, ``spec.batchScheduler`` alone becomes the pods' schedulerName).
    :class:`BatchRefused` when the scheduler it names is not enabled."""
    name = scheduler_of(app, options)
    if name is None:
        return None
    if name == VOLCANO:
        return volcano.plan(app)
    if name == YUNIKORN:
        return yunikorn.plan(app)
    return coscheduling.plan(app, name)
