"""Resource sanity: an application asking for more than the platform allows is refused up front.

Two limits, both checked before anything is created, each problem naming the field:

- :class:`Bounds`, the operator's flags (``--max-executors``, ``--max-executor-cores``,
  ``--max-executor-memory``, ``--max-driver-cores``, ``--max-driver-memory``): unbounded
  unless set, so that a drop-in for the Spark Operator accepts what the Spark Operator accepts;
- the namespace's ResourceQuotas: an application whose driver and starting executors together
  need more than a quota's ``hard`` (``requests.cpu``/``cpu``, ``requests.memory``/``memory``,
  ``limits.cpu``, ``limits.memory``, ``pods``, ``count/pods``) could never run whole. Only the
  hard limits count, not what is in use: what is used now frees up, so exceeding it is no
  reason to refuse for good.

Each pod's demand is computed as the operator renders the driver (and Spark sizes executors):
the spec's field, else the same setting in ``spec.sparkConf``, else Spark's default; memory is
the heap plus its overhead (the given one, else ``max(factor * heap, 384 MiB)``). A setting that
does not parse is left to the checks that report it (or to Spark): nothing is bounded by it.

Pure functions; the controller reads the quotas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sparkfleet.api.base import key_path, parse_quantity
from sparkfleet.api.sparkapplication import SparkApplication, SparkPodSpec
from sparkfleet.operator.spark.units import memory_overhead_mib, parse_memory_mib

MIB = 1 << 20
SPARK_DEFAULT_EXECUTORS = 2  # spark.executor.instances when nothing sets it (Spark on Kubernetes)
# Quota scopes every Spark pod is in (they have requests and no activeDeadlineSeconds): a quota
# limited to other scopes (Terminating, BestEffort, a priority class) is not judged here.
SPARK_POD_SCOPES = frozenset({"NotTerminating", "NotBestEffort"})


@dataclass(frozen=True, slots=True)
class Bounds:
    """Upper bounds of one application's resources (None: unbounded)."""

    max_executors: int | None = None
    max_executor_cores: Fraction | None = None
    max_executor_memory_mib: int | None = None
    max_driver_cores: Fraction | None = None
    max_driver_memory_mib: int | None = None

    @classmethod
    def from_flags(
        cls,
        max_executors: int = 0,
        max_executor_cores: str = "",
        max_executor_memory: str = "",
        max_driver_cores: str = "",
        max_driver_memory: str = "",
    ) -> Bounds:
        """From the flags' values: 0 or an empty string is unbounded; cores and memory are
        Kubernetes quantities (``8``, ``7500m``; ``64Gi``). A bad value raises ValueError."""
        return cls(
            max_executors=max_executors or None,
            max_executor_cores=_cores(max_executor_cores),
            max_executor_memory_mib=_mib(max_executor_memory),
            max_driver_cores=_cores(max_driver_cores),
            max_driver_memory_mib=_mib(max_driver_memory),
        )


def _cores(value: str) -> Fraction | None:
    return parse_quantity(value) or None if value else None


def _mib(value: str) -> int | None:
    return int(parse_quantity(value) / MIB) or None if value else None


@dataclass(frozen=True, slots=True)
class Setting:
    """One effective setting and the field it comes from (what a problem names)."""

    field: str
    value: Fraction


@dataclass(frozen=True, slots=True)
class PodDemand:
    """What one pod of a role asks for, as it is rendered."""

    cores: Setting  # spark.<role>.cores: the task slots
    cpu_request: Setting  # coreRequest, else cores
    cpu_limit: Setting | None  # coreLimit, if any
    memory_mib: int  # heap and overhead: the pod's memory request and limit
    memory_field: str  # the field that sets the heap
    overhead_field: str | None  # the field that sets the overhead (None: computed from the heap)


@dataclass(frozen=True, slots=True)
class ExecutorCount:
    """How many executors an application starts with, and at most (None: unbounded)."""

    start: Setting
    settings: tuple[Setting, ...]  # every count the spec gives (instances, initial/min/max)
    unbounded: bool  # dynamic allocation with no maxExecutors: Spark's maximum is unbounded


def _conf(app: SparkApplication) -> Mapping[str, str]:
    return app.spec.spark_conf or {}


def _setting(field: str, text: str, conf_key: str, conf: Mapping[str, str], default: str) -> tuple[str, str]:
    if text:
        return field, text
    if conf.get(conf_key):
        return f"spec.sparkConf{key_path(conf_key)}", conf[conf_key]
    return field, default


def pod_demand(app: SparkApplication, role: str) -> PodDemand | None:
    """What one ``role`` (driver or executor) pod asks for; None if a setting does not parse."""
    pod: SparkPodSpec = app.spec.driver if role == "driver" else app.spec.executor
    conf = _conf(app)
    where = f"spec.{role}"
    try:
        cores_field, cores = _setting(
            f"{where}.cores",
            str(pod.cores) if pod.cores is not None else "",
            f"spark.{role}.cores",
            conf,
            "1",
        )
        core_setting = Setting(cores_field, parse_quantity(cores))
        request = getattr(pod, "core_request", None) or ""
        request_key = f"spark.kubernetes.{role}.request.cores"
        if request or conf.get(request_key):
            field, text = _setting(f"{where}.coreRequest", request, request_key, conf, "")
            cpu_request = Setting(field, parse_quantity(text))
        else:
            cpu_request = core_setting
        limit_key = f"spark.kubernetes.{role}.limit.cores"
        cpu_limit = None
        if pod.core_limit or conf.get(limit_key):
            field, text = _setting(f"{where}.coreLimit", pod.core_limit or "", limit_key, conf, "")
            cpu_limit = Setting(field, parse_quantity(text))
        memory_field, heap = _setting(f"{where}.memory", pod.memory or "", f"spark.{role}.memory", conf, "1g")
        overhead_key = f"spark.{role}.memoryOverhead"
        overhead_field: str | None = None
        overhead: str | None = None
        if pod.memory_overhead or conf.get(overhead_key):
            overhead_field, overhead = _setting(
                f"{where}.memoryOverhead", pod.memory_overhead or "", overhead_key, conf, ""
            )
        factor_text = conf.get("spark.kubernetes.memoryOverheadFactor") or app.spec.memory_overhead_factor
        heap_mib = parse_memory_mib(heap)
        jvm = app.spec.type in ("Java", "Scala")
        memory = heap_mib + memory_overhead_mib(
            heap_mib, overhead, float(factor_text) if factor_text else None, jvm
        )
    except ValueError:
        return None
    return PodDemand(core_setting, cpu_request, cpu_limit, memory, memory_field, overhead_field)


def _count(field: str, value: int | None, conf_key: str, conf: Mapping[str, str]) -> Setting | None:
    if value is not None:
        return Setting(field, Fraction(value))
    text = conf.get(conf_key)
    if text is not None and text.strip().isdigit():
        return Setting(f"spec.sparkConf{key_path(conf_key)}", Fraction(int(text)))
    return None


def executor_count(app: SparkApplication) -> ExecutorCount:
    """The executors an application starts with (Spark's initial target: the largest of
    instances, initialExecutors and minExecutors under dynamic allocation) and every count set."""
    conf = _conf(app)
    dynamic = app.spec.dynamic_allocation
    instances = _count(
        "spec.executor.instances", app.spec.executor.instances, "spark.executor.instances", conf
    )
    # spec.dynamicAllocation turns it on; else spec.sparkConf's setting reaches Spark as it is
    enabled = bool(dynamic and dynamic.enabled) or conf.get("spark.dynamicAllocation.enabled") == "true"
    if not enabled:
        start = instances or Setting("spec.executor.instances", Fraction(SPARK_DEFAULT_EXECUTORS))
        return ExecutorCount(start, (instances,) if instances else (), unbounded=False)
    spec = dynamic if dynamic and dynamic.enabled else None
    counts = [
        instances,
        _count(
            "spec.dynamicAllocation.initialExecutors",
            spec.initial_executors if spec else None,
            "spark.dynamicAllocation.initialExecutors",
            conf,
        ),
        _count(
            "spec.dynamicAllocation.minExecutors",
            spec.min_executors if spec else None,
            "spark.dynamicAllocation.minExecutors",
            conf,
        ),
    ]
    maximum = _count(
        "spec.dynamicAllocation.maxExecutors",
        spec.max_executors if spec else None,
        "spark.dynamicAllocation.maxExecutors",
        conf,
    )
    starting = [c for c in counts if c is not None]
    start = max(
        starting, key=lambda c: c.value, default=Setting("spec.dynamicAllocation.minExecutors", Fraction(0))
    )
    settings = tuple(c for c in [*counts, maximum] if c is not None)
    return ExecutorCount(start, settings, unbounded=maximum is None)


def _cores_text(value: Fraction) -> str:
    return str(int(value)) if value.denominator == 1 else f"{float(value):g}"


def bound_problems(app: SparkApplication, bounds: Bounds) -> list[str]:
    """Every ``<field>: ...`` of the application beyond ``bounds``."""
    found: list[str] = []
    if bounds.max_executors is not None:
        count = executor_count(app)
        for setting in count.settings:
            if setting.value > bounds.max_executors:
                found.append(
                    f"{setting.field}: {int(setting.value)} executors, more than the "
                    f"{bounds.max_executors} an application may have (--max-executors)"
                )
        if count.unbounded:
            found.append(
                "spec.dynamicAllocation.maxExecutors: required with dynamic allocation, at most "
                f"{bounds.max_executors} (--max-executors): without it Spark's maximum is unbounded"
            )
    for role, max_cores, max_mib in (
        ("driver", bounds.max_driver_cores, bounds.max_driver_memory_mib),
        ("executor", bounds.max_executor_cores, bounds.max_executor_memory_mib),
    ):
        if max_cores is None and max_mib is None:
            continue
        demand = pod_demand(app, role)
        if demand is None:
            continue
        if max_cores is not None:
            for cpu in (demand.cores, demand.cpu_request, demand.cpu_limit):
                if cpu is not None and cpu.value > max_cores:
                    found.append(
                        f"{cpu.field}: {_cores_text(cpu.value)} CPUs, more than the "
                        f"{_cores_text(max_cores)} a{'n' if role == 'executor' else ''} {role} may have "
                        f"(--max-{role}-cores)"
                    )
        if max_mib is not None and demand.memory_mib > max_mib:
            with_overhead = (
                f" with {demand.overhead_field}" if demand.overhead_field else " with its overhead"
            )
            found.append(
                f"{demand.memory_field}: {demand.memory_mib}Mi of memory{with_overhead}, more than the "
                f"{max_mib}Mi a{'n' if role == 'executor' else ''} {role} may have (--max-{role}-memory)"
            )
    return list(dict.fromkeys(found))  # one problem per field: cores may also be the request


# -- ResourceQuota ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Demand:
    """What the whole application asks for at its start, by quota resource, and how it adds up."""

    totals: dict[str, Fraction]
    how: dict[str, str]  # resource -> "<driver> + <n> executors x <each>"
    field: dict[str, str]  # resource -> the field a problem names


def application_demand(app: SparkApplication) -> Demand | None:
    """The driver and starting executors together, in quota resources; None if a setting does
    not parse."""
    driver, executor = pod_demand(app, "driver"), pod_demand(app, "executor")
    if driver is None or executor is None:
        return None
    count = executor_count(app)
    n = count.start.value
    totals: dict[str, Fraction] = {}
    how: dict[str, str] = {}
    field: dict[str, str] = {}

    def add(resources: tuple[str, ...], one: Fraction, each: Fraction, unit: str, fmt: Any, who: str) -> None:
        for resource in resources:
            totals[resource] = one + n * each
            how[resource] = f"driver {fmt(one)}{unit} + {int(n)} executors x {fmt(each)}{unit}"
            field[resource] = who

    cpu_field = count.start.field if n and executor.cpu_request.value else driver.cpu_request.field
    add(
        ("requests.cpu", "cpu"),
        driver.cpu_request.value,
        executor.cpu_request.value,
        "",
        _cores_text,
        cpu_field,
    )
    mem_field = count.start.field if n else driver.memory_field
    add(
        ("requests.memory", "memory", "limits.memory"),
        Fraction(driver.memory_mib * MIB),
        Fraction(executor.memory_mib * MIB),
        "Mi",
        lambda v: str(int(v / MIB)),
        mem_field,
    )
    if driver.cpu_limit is not None and (executor.cpu_limit is not None or not n):
        each = executor.cpu_limit.value if executor.cpu_limit is not None else Fraction(0)
        add(
            ("limits.cpu",),
            driver.cpu_limit.value,
            each,
            "",
            _cores_text,
            count.start.field if n else driver.cpu_limit.field,
        )
    for resource in ("pods", "count/pods"):
        totals[resource] = 1 + n
        how[resource] = f"1 driver + {int(n)} executors"
        field[resource] = count.start.field
    return Demand(totals, how, field)


def applies(quota: Mapping[str, Any]) -> bool:
    """Whether a ResourceQuota counts Spark's pods (no scopes, or only scopes they are all in)."""
    spec = quota.get("spec") or {}
    if spec.get("scopeSelector"):
        return False
    return set(spec.get("scopes") or ()) <= SPARK_POD_SCOPES


def quota_problems(app: SparkApplication, quotas: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every ``<field>: ...`` for a hard limit of a quota of ``quotas`` the application exceeds."""
    demand = application_demand(app)
    if demand is None:
        return []
    found: list[str] = []
    namespace = app.metadata.get("namespace", "")
    for quota in sorted(quotas, key=lambda q: str(q["metadata"]["name"])):
        if not applies(quota):
            continue
        hard = (quota.get("spec") or {}).get("hard") or {}
        for resource in sorted(demand.totals):
            limit_text = hard.get(resource)
            if not isinstance(limit_text, str):
                continue
            try:
                limit = parse_quantity(limit_text)
            except ValueError:
                continue
            if demand.totals[resource] > limit:
                found.append(
                    f"{demand.field[resource]}: the application needs {resource} "
                    f"{_total_text(resource, demand.totals[resource])} ({demand.how[resource]}), more than "
                    f"ResourceQuota {quota['metadata']['name']} of namespace {namespace} allows "
                    f"(hard {resource}: {limit_text})"
                )
    return found


def _total_text(resource: str, value: Fraction) -> str:
    if resource.endswith("memory"):
        return f"{int(value / MIB)}Mi"
    return _cores_text(value)
