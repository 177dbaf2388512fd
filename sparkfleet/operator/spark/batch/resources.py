"""The resources a batch scheduler reserves for an application, by the Kubeflow Spark Operator v2.5's rules.

Two rules, as Kubeflow has them:

- :func:`group_min_resources`, the PodGroup's ``minResources`` (Volcano, coscheduling): the driver's
  plus the initial executors' requests. A pod's CPU is its ``cores`` (for executors ``coreRequest``
  first), else its ``coreLimit``; its memory is ``memory`` plus ``memoryOverhead`` when both are set
  (no overhead is computed from a factor), nothing when ``memory`` is not set.
- :func:`pod_requests`, a YuniKorn task group's ``minResource``: CPU from ``coreRequest``, else
  ``cores``, else 1; memory as Spark sizes the pod (the heap plus the given overhead, else
  ``max(factor * heap, 384 MiB)``), for executors plus ``spark.executor.pyspark.memory`` (Python) and
  the off-heap size when ``spark.memory.offHeap.enabled``; whole MiB, rounded down.

Unlike Kubeflow, memory settings are read as the Spark sizes they are everywhere else (``512m`` is
512 MiB): Kubeflow reads the PodGroup's as Kubernetes quantities, where ``512m`` is 0.512 bytes and
``2g`` does not parse and is left out.
"""

from __future__ import annotations

import math
from fractions import Fraction

from sparkfleet.api.base import parse_quantity, parse_size_bytes
from sparkfleet.api.sparkapplication import SparkApplication, SparkPodSpec
from sparkfleet.operator.spark.units import JVM_OVERHEAD_FACTOR, MIN_OVERHEAD_MIB, NON_JVM_OVERHEAD_FACTOR

MIB = 1 << 20
KUBEFLOW_DEFAULT_EXECUTORS = 2  # its initial count without spec.executor.instances (Spark's default too)


def initial_executors(app: SparkApplication) -> int:
    """The executors the driver asks for first, from the spec as Kubeflow counts them: under dynamic
    allocation the largest of instances, initialExecutors and minExecutors (0 if none); else
    instances, 2 when not set."""
    spec = app.spec
    dynamic = spec.dynamic_allocation
    if dynamic is not None and dynamic.enabled:
        counts = (spec.executor.instances, dynamic.initial_executors, dynamic.min_executors)
        return max((c for c in counts if c is not None), default=0)
    return spec.executor.instances if spec.executor.instances is not None else KUBEFLOW_DEFAULT_EXECUTORS


def _group_pod(pod: SparkPodSpec, core_request: str | None) -> tuple[Fraction | None, int | None]:
    """(cpu, memory bytes) of one pod, Kubeflow's PodGroup rule; None: not counted."""
    cpu: Fraction | None = None
    if core_request:
        cpu = parse_quantity(core_request)
    elif pod.cores is not None:
        cpu = Fraction(pod.cores)
    elif pod.core_limit:
        cpu = parse_quantity(pod.core_limit)
    memory: int | None = None
    if pod.memory:
        memory = parse_size_bytes(pod.memory)
        if pod.memory_overhead:
            memory += parse_size_bytes(pod.memory_overhead)
    return cpu, memory


def group_min_resources(app: SparkApplication) -> dict[str, str]:
    """A PodGroup's ``minResources``: the driver's and the initial executors' (Kubeflow's rule; the
    driver's ``coreRequest`` is not read, as in Kubeflow)."""
    spec = app.spec
    count = initial_executors(app)
    driver_cpu, driver_memory = _group_pod(spec.driver, None)
    executor_cpu, executor_memory = _group_pod(spec.executor, spec.executor.core_request)
    total: dict[str, str] = {}
    cpus = [c for c in (driver_cpu, executor_cpu * count if executor_cpu is not None and count else None)
            if c is not None]  # fmt: skip
    if cpus:
        total["cpu"] = format_cpu(sum(cpus, Fraction(0)))
    memories = [m for m in (driver_memory, executor_memory * count if executor_memory is not None and count
                            else None) if m is not None]  # fmt: skip
    if memories:
        total["memory"] = format_bytes(sum(memories))
    return total


def _overhead_factor(app: SparkApplication) -> float:
    if app.spec.memory_overhead_factor:
        return float(app.spec.memory_overhead_factor)
    return JVM_OVERHEAD_FACTOR if app.spec.type in ("Java", "Scala") else NON_JVM_OVERHEAD_FACTOR


def _pod_memory_bytes(app: SparkApplication, pod: SparkPodSpec) -> int:
    heap = parse_size_bytes(pod.memory) if pod.memory else 0
    if pod.memory_overhead:
        return heap + parse_size_bytes(pod.memory_overhead)
    return heap + int(max(heap * _overhead_factor(app), MIN_OVERHEAD_MIB * MIB))


def _executor_extra_bytes(app: SparkApplication) -> int:
    conf = app.spec.spark_conf or {}
    extra = 0
    pyspark = conf.get("spark.executor.pyspark.memory")
    if app.spec.type == "Python" and pyspark:
        extra += parse_size_bytes(pyspark, "m")
    if conf.get("spark.memory.offHeap.enabled", "false") != "false" and conf.get("spark.memory.offHeap.size"):
        extra += parse_size_bytes(conf["spark.memory.offHeap.size"], "b")
    return extra


def pod_requests(app: SparkApplication, role: str) -> dict[str, str]:
    """A YuniKorn task group's ``minResource`` for the ``role`` (driver, executor) pods."""
    pod = app.spec.driver if role == "driver" else app.spec.executor
    core_request: str | None = getattr(pod, "core_request", None)
    if core_request:
        parse_quantity(core_request)
        cpu = core_request
    else:
        cpu = str(pod.cores) if pod.cores is not None else "1"
    memory = _pod_memory_bytes(app, pod)
    if role == "executor":
        memory += _executor_extra_bytes(app)
    return {"cpu": cpu, "memory": f"{memory // MIB}Mi"}


def format_cpu(value: Fraction) -> str:
    """A CPU quantity: whole cores as they are, else millicores (rounded up)."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{math.ceil(value * 1000)}m"


def format_bytes(value: int) -> str:
    """A memory quantity: in Mi when whole, else in bytes."""
    return f"{value // MIB}Mi" if value % MIB == 0 else str(value)
