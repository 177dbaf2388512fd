"""SparkApplication, ``sparkoperator.k8s.io/v1beta2``, as the Kubeflow Spark Operator defines it.

Field names on the wire are exactly v1beta2's. Kubernetes core types embedded
in the spec (volumes, affinity, tolerations, containers, ...) are kept as plain
objects: the API server validates those, and the operator only copies them
into the pods it renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError

from sparkfleet.api.base import KubeModel, KubeObject, Quantity, SparkSize
from sparkfleet.api.resource import Resource

GROUP = "sparkoperator.k8s.io"
VERSION = "v1beta2"
API_VERSION = f"{GROUP}/{VERSION}"

SPARK_APPLICATIONS = Resource(GROUP, VERSION, "sparkapplications", "SparkApplication")

ApplicationType = Literal["Java", "Python", "Scala", "R"]
DeployMode = Literal["cluster", "client", "in-cluster-client"]
RestartPolicyType = Literal["Never", "OnFailure", "Always"]
PullPolicy = Literal["Always", "IfNotPresent", "Never"]
ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
ApplicationStateType = Literal[
    "",
    "SUBMITTED",
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "SUBMISSION_FAILED",
    "PENDING_RERUN",
    "INVALIDATING",
    "SUCCEEDING",
    "FAILING",
    "UNKNOWN",
    "SUSPENDING",
    "SUSPENDED",
    "RESUMING",
]
ExecutorStateType = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "UNKNOWN"]


class RestartPolicy(KubeModel):
    type: RestartPolicyType = "Never"
    on_submission_failure_retries: int | None = Field(default=None, ge=0)
    on_failure_retries: int | None = Field(default=None, ge=0)
    on_submission_failure_retry_interval: int | None = Field(default=None, ge=1, description="seconds")
    on_failure_retry_interval: int | None = Field(default=None, ge=1, description="seconds")


class Dependencies(KubeModel):
    jars: list[str] | None = None
    files: list[str] | None = None
    py_files: list[str] | None = None
    packages: list[str] | None = None
    exclude_packages: list[str] | None = None
    repositories: list[str] | None = None
    archives: list[str] | None = None


class NamePath(KubeModel):
    """A ConfigMap mounted at a path."""

    name: str
    path: str


class SecretInfo(KubeModel):
    name: str
    path: str
    secret_type: str = Field(default="Generic", alias="secretType")


class NameKey(KubeModel):
    name: str
    key: str


class GPUSpec(KubeModel):
    name: str
    quantity: int = Field(ge=0)


class Port(KubeModel):
    name: str
    protocol: str = "TCP"
    container_port: int = Field(ge=1, le=65535)


class SparkPodSpec(KubeModel):
    """What the driver and the executors share."""

    template: KubeObject | None = None  # a PodTemplateSpec, the base of the rendered pod
    cores: int | None = Field(default=None, ge=1)
    core_limit: Quantity | None = None
    memory: SparkSize | None = None
    memory_overhead: SparkSize | None = None
    gpu: GPUSpec | None = None
    image: str | None = None
    config_maps: list[NamePath] | None = None
    secrets: list[SecretInfo] | None = None
    env: list[KubeObject] | None = None
    env_vars: dict[str, str] | None = None
    env_from: list[KubeObject] | None = None
    env_secret_key_refs: dict[str, NameKey] | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    volume_mounts: list[KubeObject] | None = None
    affinity: KubeObject | None = None
    tolerations: list[KubeObject] | None = None
    pod_security_context: KubeObject | None = None
    security_context: KubeObject | None = None
    scheduler_name: str | None = None
    sidecars: list[KubeObject] | None = None
    init_containers: list[KubeObject] | None = None
    host_network: bool | None = None
    node_selector: dict[str, str] | None = None
    dns_config: KubeObject | None = None
    termination_grace_period_seconds: int | None = Field(default=None, ge=0)
    service_account: str | None = None
    host_aliases: list[KubeObject] | None = None
    share_process_namespace: bool | None = None
    kubernetes_master: str | None = None


class DriverSpec(SparkPodSpec):
    pod_name: str | None = None
    core_request: Quantity | None = None
    java_options: str | None = None
    lifecycle: KubeObject | None = None
    service_annotations: dict[str, str] | None = None
    service_labels: dict[str, str] | None = None
    ports: list[Port] | None = None
    priority_class_name: str | None = None


class ExecutorSpec(SparkPodSpec):
    instances: int | None = Field(default=None, ge=0)
    core_request: Quantity | None = None
    java_options: str | None = None
    lifecycle: KubeObject | None = None
    delete_on_termination: bool | None = None
    ports: list[Port] | None = None
    priority_class_name: str | None = None


class PrometheusSpec(KubeModel):
    jmx_exporter_jar: str
    port: int | None = Field(default=None, ge=1024, le=49151)
    port_name: str | None = None
    config_file: str | None = None
    configuration: str | None = None


class MonitoringSpec(KubeModel):
    expose_driver_metrics: bool
    expose_executor_metrics: bool
    metrics_properties: str | None = None
    metrics_properties_file: str | None = None
    prometheus: PrometheusSpec | None = None


class BatchSchedulerConfiguration(KubeModel):
    queue: str | None = None
    priority_class_name: str | None = None
    resources: dict[str, Any] | None = None


class SparkUIConfiguration(KubeModel):
    service_port: int | None = Field(default=None, ge=1, le=65535)
    service_port_name: str | None = None
    service_type: ServiceType | None = None
    service_annotations: dict[str, str] | None = None
    service_labels: dict[str, str] | None = None
    ingress_annotations: dict[str, str] | None = None
    ingress_tls: list[KubeObject] | None = Field(default=None, alias="ingressTLS")


class DriverIngressConfiguration(KubeModel):
    service_port: int = Field(ge=1, le=65535)
    service_port_name: str
    service_type: ServiceType | None = None
    service_annotations: dict[str, str] | None = None
    service_labels: dict[str, str] | None = None
    ingress_url_format: str = Field(alias="ingressURLFormat")
    ingress_annotations: dict[str, str] | None = None
    ingress_tls: list[KubeObject] | None = Field(default=None, alias="ingressTLS")


class DynamicAllocation(KubeModel):
    enabled: bool | None = None
    initial_executors: int | None = Field(default=None, ge=0)
    min_executors: int | None = Field(default=None, ge=0)
    max_executors: int | None = Field(default=None, ge=0)
    shuffle_tracking_enabled: bool | None = None
    shuffle_tracking_timeout: int | None = Field(default=None, ge=0)


class SparkApplicationSpec(KubeModel):
    type: ApplicationType
    spark_version: str
    mode: DeployMode | None = None
    proxy_user: str | None = None
    image: str | None = None
    image_pull_policy: PullPolicy | None = None
    image_pull_secrets: list[str] | None = None
    main_class: str | None = None
    main_application_file: str | None = None
    arguments: list[str] | None = None
    spark_conf: dict[str, str] | None = None
    hadoop_conf: dict[str, str] | None = None
    spark_config_map: str | None = None
    hadoop_config_map: str | None = None
    volumes: list[KubeObject] | None = None
    driver: DriverSpec
    executor: ExecutorSpec
    deps: Dependencies | None = None
    restart_policy: RestartPolicy | None = None
    node_selector: dict[str, str] | None = None
    failure_retries: int | None = Field(default=None, ge=0)
    retry_interval: int | None = Field(default=None, ge=0)
    python_version: Literal["2", "3"] | None = None
    memory_overhead_factor: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?$")
    monitoring: MonitoringSpec | None = None
    batch_scheduler: str | None = None
    time_to_live_seconds: int | None = Field(default=None, ge=0)
    suspend: bool | None = None  # true: no driver runs (one running is removed) until set false again
    batch_scheduler_options: BatchSchedulerConfiguration | None = None
    spark_ui_options: SparkUIConfiguration | None = Field(default=None, alias="sparkUIOptions")
    driver_ingress_options: list[DriverIngressConfiguration] | None = None
    dynamic_allocation: DynamicAllocation | None = None
    # A PodDisruptionBudget (minAvailable 1) keeps the driver through voluntary evictions while it
    # runs, when the operator also has --enable-driver-pdb (Kubeflow's, newer than its v2.5.2 CRD).
    driver_pod_disruption_budget: bool | None = None


class ApplicationState(KubeModel):
    state: ApplicationStateType = ""
    error_message: str | None = None


class DriverInfo(KubeModel):
    web_ui_service_name: str | None = Field(default=None, alias="webUIServiceName")
    web_ui_address: str | None = Field(default=None, alias="webUIAddress")
    web_ui_port: int | None = Field(default=None, alias="webUIPort")
    web_ui_ingress_name: str | None = Field(default=None, alias="webUIIngressName")
    web_ui_ingress_address: str | None = Field(default=None, alias="webUIIngressAddress")
    pod_name: str | None = None


class SparkApplicationStatus(KubeModel):
    spark_application_id: str | None = None
    submission_id: str | None = Field(default=None, alias="submissionID")
    last_submission_attempt_time: str | None = None
    termination_time: str | None = None
    driver_info: DriverInfo | None = None
    application_state: ApplicationState | None = Field(default=None, alias="applicationState")
    executor_state: dict[str, ExecutorStateType] | None = None
    execution_attempts: int | None = Field(default=None, ge=0)
    submission_attempts: int | None = Field(default=None, ge=0)

    # Round trip: a status read with :meth:`from_kube` and written with ``to_kube()`` has exactly the
    # keys it was read with (``extra="allow"`` keeps those the model does not know, such as a later
    # Kubeflow's), plus those assigned, minus those :meth:`unset`.

    @classmethod
    def from_kube(cls, value: Mapping[str, Any] | None) -> SparkApplicationStatus:
        """The status as the API server stores it. A field of a type the model cannot read (written
        by someone else) is left out, so that the rest can still be worked with and written."""
        value = dict(value or {})
        try:
            return cls.model_validate(value)
        except ValidationError as exc:
            unreadable = {error["loc"][0] for error in exc.errors() if error["loc"]}
            return cls.model_validate({k: v for k, v in value.items() if k not in unreadable})

    def unset(self, *fields: str) -> None:
        """Removes ``fields`` (attribute names) from the status as written: their keys go."""
        for name in fields:
            setattr(self, name, None)
            self.model_fields_set.discard(name)


class SparkApplication(KubeModel):
    api_version: str = API_VERSION
    kind: str = "SparkApplication"
    metadata: KubeObject
    spec: SparkApplicationSpec
    status: SparkApplicationStatus | None = None
