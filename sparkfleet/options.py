"""`sparkfleet run`'s options, in four typed sections, each flag declared once.

A section field that a flag sets carries the flag's whole declaration in its metadata (:func:`flag`):
its name (from the parameter name, as typer derives it, or given), aliases, default, help, metavar,
parser or check, and how the flag's value becomes the field's (``convert``). The command's flags
(:func:`run_flags`, made typer options by :func:`sparkfleet.cli_support.with_flags`) and the option objects
(:meth:`RunOptions.from_flags`) are both read from there, so a flag cannot be added to one and
forgotten in the other. A field with no flag (``connection``, ``shutdown_timeout``) is set by code.

Light to import: what a value needs of the operator (``Bounds``, ``LeaseTiming``) is imported when
it is asked for, so the CLI answers ``--help`` and refuses a bad flag before it loads the operator.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sparkfleet import flags

if TYPE_CHECKING:
    from sparkfleet.kube.config import Connection
    from sparkfleet.kube.lease import LeaseTiming
    from sparkfleet.operator.spark.batch.model import BatchOptions
    from sparkfleet.operator.spark.bounds import Bounds
    from sparkfleet.operator.spark.web_ui import IngressOptions


@dataclass(frozen=True, slots=True)
class Flag:
    """One `sparkfleet run` flag: what typer needs to offer it, and how its value is read."""

    param: str
    """The command's parameter (typer derives ``--param-name``, and ``--no-param-name`` for a bool)."""
    annotation: Any
    """The value's type, as typer reads it (``str | None``, ``list[str] | None``, ``int``, ...)."""
    default: Any
    help: str
    names: tuple[str, ...] = ()
    """The flag's names when given (its first is the main one, the rest aliases); empty: derived."""
    metavar: str | None = None
    parser: Callable[[Any], Any] | None = None
    callback: Callable[[Any], Any] | None = None
    show_default: bool = True
    convert: Callable[[Any], Any] | None = None
    """The field's value from the flag's; None: the flag's value as it is."""

    def value(self, raw: Any) -> Any:
        return raw if self.convert is None else self.convert(raw)


def flag(param: str, annotation: Any, default: Any, help: str, **declaration: Any) -> Any:
    """A section field set by a flag: the field's default is the flag default's value (computed
    when an option object is made, so $POD_NAME and $POD_NAMESPACE are read then)."""
    declared = Flag(param, annotation, default, help, **declaration)
    return dataclasses.field(default_factory=lambda: declared.value(default), metadata={"flag": declared})


def _pod_namespace(value: str | None) -> str:
    return value or os.environ.get("POD_NAMESPACE") or "default"


def _identity(value: str | None) -> str:
    return value or os.environ.get("POD_NAME") or socket.gethostname()


def _lower(value: str) -> str:
    return value.lower()


def _selector(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _names(values: list[str] | None) -> tuple[str, ...]:
    return tuple(flags.comma_list(values))


def _metrics_check(parser: str) -> Callable[[Any], Any]:
    """A --metrics-* flag's check: ``parser`` of :mod:`sparkfleet.operator.spark.metric_labels`."""

    def check(value: Any) -> None:
        from sparkfleet.operator.spark import metric_labels

        getattr(metric_labels, parser)(value)

    return flags.checked(check)


_duration = flags.checked(flags.parse_duration)


def _url_format(value: str) -> None:
    if not value:  # the default: nothing to load the operator for
        return
    from sparkfleet.operator.spark.web_ui import check_url_format

    check_url_format(value)


def _ingress_tls(value: str) -> tuple[dict[str, Any], ...]:
    if not value.strip():
        return ()
    from sparkfleet.operator.spark.web_ui import parse_tls

    return parse_tls(value)


def _ingress_annotations(value: str) -> tuple[tuple[str, str], ...]:
    if not value.strip():
        return ()
    from sparkfleet.operator.spark.web_ui import parse_annotations

    return tuple(parse_annotations(value).items())


DEFAULT_MAX_APPLICATION_BYTES = 512 * 1024
"""operator.spark.app_cache's default (not imported here: it loads the operator); a test keeps them equal."""
LOG_LEVELS = flags.LOG_LEVELS


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How the instance reaches the API server."""

    kubeconfig: str | None = flag(
        "kubeconfig", str | None, None,
        "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)", metavar="FILE",
    )  # fmt: skip
    connection: Connection | None = None
    """The kubeconfig already read (the CLI reads it first, to refuse a bad one at once); None: read it."""
    qps: float = flag(
        "kube_api_qps", float, 50.0, "Client-side QPS limit towards the API server (0: none).",
        metavar="QPS", parser=flags.number(0),
    )  # fmt: skip
    burst: int = flag(
        "kube_api_burst", int, 100, "Client-side burst towards the API server.",
        metavar="N", parser=flags.whole(0),
    )  # fmt: skip
    startup_timeout: float = flag(
        "startup_timeout", str, "30s",
        "How long start-up waits for the API server to answer before it exits with an error "
        "(0: as long as it takes).",
        metavar="DURATION", callback=_duration, convert=flags.parse_duration,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ControllerOptions:
    """What the Spark controllers serve, and how."""

    namespaces: tuple[str, ...] = flag(
        "namespaces", list[str] | None, None, "Namespaces to serve (repeat or comma-separate).",
        names=("--namespaces",), metavar="NAMES", callback=flags.checked(flags.namespaces), convert=_names,
    )  # fmt: skip
    """Empty: all namespaces."""
    label_selector: str | None = flag(
        "label_selector_filter", str | None, None,
        "Serve only SparkApplications matching this label selector.",
        metavar="SELECTOR", callback=flags.checked(flags.label_selector),
    )  # fmt: skip
    namespace_selector: str | None = flag(
        "namespace_selector", str | None, None,
        "Also serve the namespaces whose labels match this selector, as they change.",
        metavar="SELECTOR", callback=flags.checked(flags.namespace_selector), convert=_selector,
    )  # fmt: skip
    """None: no selector (an empty one is none, as in the Spark Operator)."""
    concurrent_syncs: int = flag(
        "concurrent_syncs", int, 10, "Concurrent reconciles (at least 1).",
        names=("--concurrent-syncs", "--controller-threads"), metavar="N", parser=flags.whole(1),
    )  # fmt: skip
    bucket_qps: float = flag(
        "workqueue_ratelimiter_bucket_qps", float, 50.0, "Overall retry rate of the work queue.",
        metavar="QPS", parser=flags.number(0.001),
    )  # fmt: skip
    bucket_size: int = flag(
        "workqueue_ratelimiter_bucket_size", int, 500, "Retry burst of the work queue.",
        metavar="N", parser=flags.whole(1),
    )  # fmt: skip
    max_delay: float = flag(
        "workqueue_ratelimiter_max_delay", str, "6h", "Cap on any one retry wait.",
        metavar="DURATION", callback=_duration, convert=flags.parse_duration,
    )  # fmt: skip
    max_tracked_executors: int = flag(
        "max_tracked_executor_per_app", int, 1000, "Executors tracked in status per application.",
        metavar="N", parser=flags.whole(0),
    )  # fmt: skip
    max_application_bytes: int = flag(
        "max_application_bytes", int, DEFAULT_MAX_APPLICATION_BYTES,
        "Refuse an application whose spec, labels and annotations exceed this.",
        metavar="BYTES", parser=flags.whole(1),
    )  # fmt: skip
    driver_grace: float = flag(
        "driver_pod_creation_grace_period", str, "10s",
        "How long a submitted driver missing from the cache is waited for.",
        metavar="DURATION", callback=_duration, convert=flags.parse_duration,
    )  # fmt: skip
    default_ttl: int = flag(
        "default_time_to_live_seconds", int, 0,
        "Delete finished applications that set no timeToLiveSeconds after this (0: never).",
        metavar="SECONDS", parser=flags.whole(0),
    )  # fmt: skip
    driver_pdb: bool = flag(
        "enable_driver_pdb", bool, False,
        "A PodDisruptionBudget for the drivers of applications that ask for one.  [default: false]",
        show_default=False,
    )  # fmt: skip
    batch_enabled: bool = flag(
        "enable_batch_scheduler", bool, False,
        "Drive the batch schedulers applications name (Volcano, YuniKorn, coscheduling).  [default: false]",
        show_default=False,
    )  # fmt: skip
    default_batch_scheduler: str = flag(
        "default_batch_scheduler", str, "",
        "The batch scheduler of applications that name none: volcano, yunikorn, or a --kube-scheduler-names.",
        metavar="NAME",
    )  # fmt: skip
    kube_scheduler_names: tuple[str, ...] = flag(
        "kube_scheduler_names", list[str] | None, None,
        "kube-scheduler profiles with the coscheduling plugin, for spec.batchScheduler (comma-separate).",
        metavar="NAMES", convert=_names,
    )  # fmt: skip
    ui_service: bool = flag(
        "enable_ui_service", bool, True, "Create a Service for each driver's Spark UI.  [default: true]",
        show_default=False,
    )  # fmt: skip
    ingress_url_format: str = flag(
        "ingress_url_format", str, "",
        "An Ingress per application for its Spark UI at this URL: {{$appName}}, "
        "{{$appNamespace}}, {{$appId}} are replaced (empty: none).",
        metavar="URL", callback=flags.checked(_url_format),
    )  # fmt: skip
    ingress_class_name: str = flag(
        "ingress_class_name", str, "", "The ingressClassName of the Ingresses created.", metavar="NAME",
    )  # fmt: skip
    ingress_tls: tuple[dict[str, Any], ...] = flag(
        "ingress_tls", str, "",
        'Default TLS of the Ingresses, JSON: [{"hosts": [...], "secretName": "..."}].',
        metavar="JSON", callback=flags.checked(_ingress_tls), convert=_ingress_tls,
    )  # fmt: skip
    ingress_annotations: tuple[tuple[str, str], ...] = flag(
        "ingress_annotations", str, "", 'Default annotations of the Ingresses, JSON: {"key": "value"}.',
        metavar="JSON", callback=flags.checked(_ingress_annotations), convert=_ingress_annotations,
    )  # fmt: skip
    max_executors: int = flag(
        "max_executors", int, 0, "Most executors an application may ask for (0: no bound).",
        metavar="N", parser=flags.whole(0),
    )  # fmt: skip
    max_executor_cores: str = flag(
        "max_executor_cores", str, "", "Most CPUs per executor, e.g. 8 (none: no bound).",
        metavar="CPUS", callback=flags.checked(flags.quantity_bound),
    )  # fmt: skip
    max_executor_memory: str = flag(
        "max_executor_memory", str, "", "Most memory per executor with overhead, e.g. 64Gi.",
        metavar="QUANTITY", callback=flags.checked(flags.quantity_bound),
    )  # fmt: skip
    max_driver_cores: str = flag(
        "max_driver_cores", str, "", "Most CPUs per driver, e.g. 4 (none: no bound).",
        metavar="CPUS", callback=flags.checked(flags.quantity_bound),
    )  # fmt: skip
    max_driver_memory: str = flag(
        "max_driver_memory", str, "", "Most memory per driver with overhead, e.g. 16Gi.",
        metavar="QUANTITY", callback=flags.checked(flags.quantity_bound),
    )  # fmt: skip
    resource_quota_check: bool = flag(
        "resource_quota_check", bool, True,
        "Refuse applications over a hard limit of their namespace's quotas.  [default: true]",
        show_default=False,
    )  # fmt: skip
    timestamp_precision: str = flag(
        "scheduled_spark_application_timestamp_precision", str, "nanos",
        "Name scheduled runs <name>-<time>, the time in nanos, micros, millis, seconds or minutes.",
        metavar="UNIT", callback=flags.checked(flags.timestamp_precision), convert=_lower,
    )  # fmt: skip
    """Of scheduled runs' names."""
    pod_security: str = flag(
        "pod_security", str,
        "none", "none, or baseline: refuse host paths, host namespaces, privileged pods.",
        metavar="LEVEL", callback=flags.checked(flags.one_of("none", "baseline")), convert=_lower,
    )  # fmt: skip
    allowed_service_accounts: tuple[str, ...] = flag(
        "allowed_service_accounts", list[str] | None, None,
        "ServiceAccounts drivers and executors may run as (default: any).",
        metavar="NAMES", callback=flags.checked(flags.service_accounts), convert=_names,
    )  # fmt: skip
    """Empty: any."""
    shutdown_timeout: float = 30.0
    """How long a stop waits for in-flight reconciles."""

    @property
    def ingress(self) -> IngressOptions:
        """--ingress-url-format, --ingress-class-name, --ingress-tls, --ingress-annotations."""
        from sparkfleet.operator.spark.web_ui import IngressOptions

        return IngressOptions(
            self.ingress_url_format, self.ingress_class_name, self.ingress_tls, dict(self.ingress_annotations)
        )

    @property
    def batch(self) -> BatchOptions:
        """--enable-batch-scheduler, --default-batch-scheduler, --kube-scheduler-names (ValueError for a
        default that is not a batch scheduler)."""
        from sparkfleet.operator.spark.batch.model import BatchOptions

        return BatchOptions(self.batch_enabled, self.default_batch_scheduler, self.kube_scheduler_names)

    @property
    def bounds(self) -> Bounds:
        """--max-executors, --max-*-cores, --max-*-memory, read (ValueError for a bad quantity)."""
        from sparkfleet.operator.spark.bounds import Bounds

        return Bounds.from_flags(
            self.max_executors,
            self.max_executor_cores,
            self.max_executor_memory,
            self.max_driver_cores,
            self.max_driver_memory,
        )


@dataclass(frozen=True, slots=True)
class ElectionOptions:
    """How the instance claims work: alone, holding the leader Lease, or as a member of a fleet."""

    leader_elect: bool = flag(
        "leader_elect", bool, False,
        "Run only while holding the leader Lease (one active instance).  [default: false]",
        show_default=False,
    )  # fmt: skip
    lease_name: str = flag(
        "leader_election_lock_name", str, "sparkfleet-controller-lock", "Name of the leader Lease.",
        metavar="NAME",
    )  # fmt: skip
    lease_namespace: str = flag(
        "leader_election_lock_namespace", str | None, None,
        "Namespace of the leader Lease (default: $POD_NAMESPACE or default).",
        metavar="NAMESPACE", convert=_pod_namespace,
    )  # fmt: skip
    lease_duration: float = flag(
        "leader_election_lease_duration", str, "15s", "Leader Lease duration.",
        metavar="DURATION", callback=_duration, convert=flags.parse_duration,
    )  # fmt: skip
    renew_deadline: float = flag(
        "leader_election_renew_deadline", str, "10s", "Leader renew deadline.",
        metavar="DURATION", callback=_duration, convert=flags.parse_duration,
    )  # fmt: skip
    retry_period: float = flag(
        "leader_election_retry_period", str, "2s", "Leader retry period.",
        metavar="DURATION", callback=_duration, convert=flags.parse_duration,
    )  # fmt: skip
    fleet: str | None = flag(
        "fleet", str | None, None,
        "Join this SparkFleet: serve the shards this instance holds (not with --namespaces).",
        metavar="NAME",
    )  # fmt: skip
    fleet_namespace: str = flag(
        "fleet_namespace", str | None, None,
        "Namespace of the SparkFleet (default: $POD_NAMESPACE or default).",
        metavar="NAMESPACE", convert=_pod_namespace,
    )  # fmt: skip
    identity: str = flag(
        "identity", str | None, None,
        "This instance's name in the fleet (default: $POD_NAME or the hostname).",
        metavar="NAME", convert=_identity,
    )  # fmt: skip
    shard_capacity: float = flag(
        "shard_capacity", float, 1.0, "Relative capacity: 2 takes about twice the shards of 1.",
        metavar="WEIGHT", parser=flags.number(0.01),
    )  # fmt: skip
    handoff_timeout: float = flag(
        "handoff_timeout", str,
        "10s", "How long a hand-off waits for in-flight reconciles before cancelling them.",
        metavar="DURATION", callback=_duration, convert=flags.parse_duration,
    )  # fmt: skip

    @property
    def lease(self) -> LeaseTiming:
        """The three --leader-election-* timings (ValueError when they do not fit together)."""
        from sparkfleet.kube.lease import LeaseTiming

        return LeaseTiming(self.lease_duration, self.renew_deadline, self.retry_period)


@dataclass(frozen=True, slots=True)
class ObservabilityOptions:
    """What the instance tells: metrics, probes, the audit log, its own log."""

    metrics_address: tuple[str, int] = flag(
        "metrics_bind_address", str, ":8080", "Where /metrics, /healthz and /readyz are served.",
        metavar="ADDRESS", callback=flags.checked(flags.split_host_port), convert=flags.split_host_port,
    )  # fmt: skip
    probe_address: tuple[str, int] | None = flag(
        "health_probe_bind_address", str, "",
        "Also serve /healthz and /readyz here (default: on --metrics-bind-address only; "
        "':8081' under 'controller start', as the Spark Operator).",
        metavar="ADDRESS", callback=flags.checked(flags.optional_host_port), convert=flags.optional_host_port,
    )  # fmt: skip
    metrics_prefix: str = flag(
        "metrics_prefix", str,
        "", "Prefix for the Spark application metrics (spark_application_*, spark_executor_*).",
        metavar="PREFIX",
    )  # fmt: skip
    metrics_labels: tuple[str, ...] = flag(
        "metrics_labels", list[str] | None, None,
        "Application labels the Spark metrics carry besides namespace (bounded per namespace).",
        metavar="KEYS", callback=_metrics_check("label_names"), convert=_names,
    )  # fmt: skip
    submit_buckets: str = flag(
        "metrics_job_submit_latency_buckets", str, "0.5,1,2,4,8,16,32,64,128,256",
        "Submit latency histogram buckets, in seconds.",
        metavar="BOUNDS", callback=_metrics_check("parse_buckets"),
    )  # fmt: skip
    start_buckets: str = flag(
        "metrics_job_start_latency_buckets", str, "30,60,90,120,150,180,210,240,270,300",
        "Start latency histogram buckets, in seconds.",
        metavar="BOUNDS", callback=_metrics_check("parse_buckets"),
    )  # fmt: skip
    audit_log: str | None = flag(
        "audit_log", str | None, None,
        "Append one JSON line per reconcile (t0, t1, member, shard, key) here.",
        metavar="FILE",
    )  # fmt: skip
    log_format: str = flag(
        "log_format", str, "text", "text (readable) or json (structured).",
        metavar="FORMAT", callback=flags.checked(flags.one_of("text", "json")), convert=_lower,
    )  # fmt: skip
    log_level: str = flag(
        "log_level", str, "info", "debug, info, warning or error.",
        metavar="LEVEL", callback=flags.checked(flags.one_of(*LOG_LEVELS)), convert=_lower,
    )  # fmt: skip

    def configure_spark_metrics(self) -> None:
        """--metrics-labels and the latency buckets, applied to the Spark metrics (ValueError naming
        a bad one): once, before the controllers start."""
        from sparkfleet.operator.spark import metric_labels, metrics

        metrics.configure(
            metric_labels.label_names(self.metrics_labels),
            metric_labels.parse_buckets(self.submit_buckets, "--metrics-job-submit-latency-buckets"),
            metric_labels.parse_buckets(self.start_buckets, "--metrics-job-start-latency-buckets"),
        )

    @property
    def metrics_host(self) -> str:
        return self.metrics_address[0]

    @property
    def metrics_port(self) -> int:
        return self.metrics_address[1]


Section = TypeVar("Section", ClientOptions, ControllerOptions, ElectionOptions, ObservabilityOptions)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """Everything `sparkfleet run` was told, by section."""

    client: ClientOptions = dataclasses.field(default_factory=ClientOptions)
    controller: ControllerOptions = dataclasses.field(default_factory=ControllerOptions)
    election: ElectionOptions = dataclasses.field(default_factory=ElectionOptions)
    observability: ObservabilityOptions = dataclasses.field(default_factory=ObservabilityOptions)

    @classmethod
    def from_flags(cls, values: Mapping[str, Any], connection: Connection | None = None) -> RunOptions:
        """The options for the flags' values (by parameter name; a flag not given: its default)."""
        return cls(
            client=dataclasses.replace(_section(ClientOptions, values), connection=connection),
            controller=_section(ControllerOptions, values),
            election=_section(ElectionOptions, values),
            observability=_section(ObservabilityOptions, values),
        )


SECTIONS = (ClientOptions, ControllerOptions, ElectionOptions, ObservabilityOptions)

# The order `sparkfleet run --help` lists the flags in (as it always has: not by section).
HELP_ORDER = (
    "kubeconfig", "namespaces", "namespace_selector", "label_selector_filter", "concurrent_syncs",
    "kube_api_qps", "kube_api_burst", "startup_timeout", "workqueue_ratelimiter_bucket_qps",
    "workqueue_ratelimiter_bucket_size",
    "workqueue_ratelimiter_max_delay", "max_tracked_executor_per_app", "max_application_bytes",
    "driver_pod_creation_grace_period", "enable_ui_service", "ingress_url_format", "ingress_class_name",
    "ingress_tls", "ingress_annotations", "max_executors", "max_executor_cores",
    "max_executor_memory", "max_driver_cores", "max_driver_memory", "resource_quota_check",
    "metrics_bind_address", "health_probe_bind_address", "scheduled_spark_application_timestamp_precision",
    "metrics_prefix", "leader_elect", "leader_election_lock_name", "leader_election_lock_namespace",
    "default_time_to_live_seconds", "metrics_labels", "metrics_job_submit_latency_buckets",
    "metrics_job_start_latency_buckets", "enable_driver_pdb",  # issue 19, part C
    "enable_batch_scheduler", "default_batch_scheduler", "kube_scheduler_names",  # issue 19, batch
    "leader_election_lease_duration", "leader_election_renew_deadline", "leader_election_retry_period",
    "fleet", "fleet_namespace", "identity", "shard_capacity", "handoff_timeout", "audit_log", "pod_security",
    "allowed_service_accounts", "log_format", "log_level",
)  # fmt: skip


def _flags_of(section: type) -> Iterator[tuple[str, Flag]]:
    for field in dataclasses.fields(section):
        declared = field.metadata.get("flag")
        if declared is not None:
            yield field.name, declared


def _section(section: type[Section], values: Mapping[str, Any]) -> Section:
    given = {name: declared.value(values[declared.param]) for name, declared in _flags_of(section)
             if declared.param in values}  # fmt: skip
    return section(**given)


def run_flags() -> list[Flag]:
    """Every `sparkfleet run` flag, in :data:`HELP_ORDER`."""
    declared = {f.param: f for section in SECTIONS for _, f in _flags_of(section)}
    return [declared[param] for param in HELP_ORDER]
