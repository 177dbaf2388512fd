"""Batch schedulers: Volcano, YuniKorn and the kube-scheduler's coscheduling plugin, as the Kubeflow
Spark Operator v2.5 drives them (``--enable-batch-scheduler``, ``spec.batchScheduler``).

:mod:`.plan` decides, without I/O, what a submission's pods carry and which PodGroup must exist
(one module per scheduler: :mod:`.volcano`, :mod:`.yunikorn`, :mod:`.coscheduling`; the resource
arithmetic in :mod:`.resources`); :mod:`.pod_groups` makes that PodGroup exist, owned by the
application.
"""
