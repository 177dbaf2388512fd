"""Native submission: what ``spark-submit --deploy-mode cluster`` would create, rendered directly.

No JVM runs in the operator. For one submission of a SparkApplication this
renders, as plain Kubernetes objects:

- the driver Pod (container args, env, ports, volumes, resources as Spark
  computes them from cores, memory and overhead, labels, owner reference),
- a ConfigMap with ``spark.properties`` and an executor pod template, so the
  driver creates executors with the volumes, tolerations, affinity and labels
  the spec asks for, with no admission webhook,
- the driver's headless Service (how executors reach the driver), and the
  Spark UI Service.

Everything here is pure: the same application and submission id always give
the same objects. :func:`validate` (in ``validation``) finds what makes an
application impossible to submit, naming the field; rendering checks what only
the rendered objects tell (the ConfigMap's size).
"""

from __future__ import annotations

import hashlib
import posixpath
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from sparkfleet.api.sparkapplication import (
    API_VERSION,
    SparkApplication,
    SparkPodSpec,
)
from sparkfleet.operator.spark import naming, routing
from sparkfleet.operator.spark.batch.model import BatchPlan
from sparkfleet.operator.spark.metrics_defaults import DEFAULT_METRICS_PROPERTIES, DEFAULT_PROMETHEUS_CONFIG
from sparkfleet.operator.spark.pod_security import harden
from sparkfleet.operator.spark.units import (
    JVM_OVERHEAD_FACTOR,
    NON_JVM_OVERHEAD_FACTOR,
    format_mib,
    pod_memory_mib,
)
from sparkfleet.operator.spark.validation import (
    CONFIG_MAP_MAX_BYTES,
    DEFAULT_UI_PORT,
    InvalidApplication,
    config_map_too_large,
    ui_port,
    validate,
)

DRIVER_CONTAINER = "spark-kubernetes-driver"
EXECUTOR_CONTAINER = "spark-kubernetes-executor"
CONF_DIR = "/opt/spark/conf"
PROPERTIES_FILE = "spark.properties"
TEMPLATE_DIR = "/opt/spark/pod-template"
TEMPLATE_FILE = "pod-spec-template.yml"
DRIVER_PORT, BLOCK_MANAGER_PORT = 7078, 7079
KUBERNETES_MASTER = "k8s://https://kubernetes.default.svc:443"
SPARK_CONFIG_MAP_DIR = "/etc/spark/conf"  # spec.sparkConfigMap
HADOOP_CONFIG_MAP_DIR = "/etc/hadoop/conf"  # spec.hadoopConfigMap
METRICS_DIR = "/etc/metrics/conf"  # spec.monitoring
METRICS_PROPERTIES = "metrics.properties"
PROMETHEUS_CONFIG = "prometheus.yaml"
# libyaml's emitter when PyYAML has it (its wheels do): the pure-Python one was 4% of a busy
# instance's CPU, spent writing executor pod templates.
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
DEFAULT_JMX_EXPORTER_PORT = 8090
DEFAULT_JMX_EXPORTER_PORT_NAME = "jmx-exporter"
PROMETHEUS_ANNOTATIONS = ("prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path")
# Kubeflow's webhook leaves these app labels off the pods: Kueue would take a labelled driver pod
# for a workload of its own.
KUEUE_LABEL_PREFIX = "kueue.x-k8s.io/"
LOCAL_DIR_VOLUME_PREFIX = "spark-local-dir-"  # a mount of such a volume is a Spark local dir
# Env a secret's type sets, pointing into its mount (as the Spark Operator sets them).
SECRET_TYPE_ENV = {
    "GCPServiceAccount": ("GOOGLE_APPLICATION_CREDENTIALS", "key.json"),
    "HadoopDelegationToken": ("HADOOP_TOKEN_FILE_LOCATION", "hadoop.token"),
}
SECRET_TYPE_ENV_NAMES = tuple(f"[spark.executorEnv.{name}]" for name, _ in SECRET_TYPE_ENV.values())
# The driver's SPARK_USER (its Hadoop user: HDFS access, event log owners) is the user spark-submit
# ran as, and the Spark Operator's image runs it as the Spark image's user, spark (uid 185).
SUBMITTING_USER = "spark"
PYTHON_RUNNER = "org.apache.spark.deploy.PythonRunner"
R_RUNNER = "org.apache.spark.deploy.RRunner"

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Submission:
    submission_id: str
    app_id: str  # spark.app.id, the spark-app-selector label
    prefix: str  # names of the submission's objects and executor pods start with it
    driver_pod: Obj
    config_map: Obj
    driver_service: Obj
    ui_service: Obj | None

    def owned_by_driver(self, obj: Obj, driver: Obj) -> Obj:
        """``obj`` with the created driver pod as its owner, so it goes when the pod goes."""
        meta = driver["metadata"]
        reference = {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
        }
        return {**obj, "metadata": {**obj["metadata"], "ownerReferences": [reference]}}


# Spec fields that change what the operator does with a run, not the run: as the Spark Operator
# does, editing them alone never resubmits.
SPEC_FIELDS_NOT_HASHED = ("timeToLiveSeconds", "suspend")


def spec_hash(app: SparkApplication) -> str:
    """A short digest of the spec: a submission made from another spec is stale (INVALIDATING)."""
    spec = {k: v for k, v in app.to_kube()["spec"].items() if k not in SPEC_FIELDS_NOT_HASHED}
    return hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def new_submission_id() -> str:
    return str(uuid.uuid4())


def render(
    app: SparkApplication,
    submission_id: str,
    *,
    ui_service: bool = True,
    routing_keys: Iterable[str] = (),
    extra_conf: Mapping[str, str] | None = None,
    batch: BatchPlan | None = None,
) -> Submission:
    """The objects of one submission. ``routing_keys``: the label keys that route objects to the
    fleet's members (see :mod:`sparkfleet.operator.spark.routing`); the pods carry the application's
    values of them whatever the driver's and executors' own labels say. ``extra_conf``: Spark properties
    the operator adds where ``spec.sparkConf`` sets none (the UI Ingress's ``spark.ui.proxyBase``).
    ``batch``: what the pods carry for their batch scheduler (:mod:`.batch`)."""
    validate(app)
    hashed = spec_hash(app)  # the application's, not of what the batch plan adds to its pods
    if batch is not None:
        app = batch.applied_to(app)
    name = app.metadata["name"]
    namespace = app.metadata["namespace"]
    spec = app.spec
    app_id = "spark-" + submission_id.replace("-", "")
    prefix = naming.resource_prefix(name, submission_id)
    driver_name = naming.driver_pod_name(name, spec.driver.pod_name, spec.spark_conf)
    service_name = f"{prefix}-driver-svc"
    config_map_name = f"{prefix}-driver-conf-map"
    jvm = spec.type in ("Java", "Scala")

    operator_labels = {
        naming.LABEL_APP_NAME: name,
        naming.LABEL_LAUNCHED_BY_OPERATOR: "true",
        naming.LABEL_SUBMISSION_ID: submission_id,
        naming.LABEL_SPARK_APP_SELECTOR: app_id,
        naming.LABEL_SPARK_APP_NAME: naming.sanitize(name, naming.DNS_LABEL_MAX),
        naming.LABEL_SPARK_VERSION: spec.spark_version,
    }
    # The application's own labels go onto its pods too (as the Spark Operator does), so a label-selected
    # shard sees an application's pods in the same watch as the application; of the routing keys, the
    # application's values win over the pods' own labels (or the keys are left off, as it has none).
    pod_routing = routing.routing_of(app.metadata.get("labels"), routing_keys)
    app_labels = {
        key: value
        for key, value in (app.metadata.get("labels") or {}).items()
        if not key.startswith(KUEUE_LABEL_PREFIX)
    }
    driver_labels = routing.enforce(
        {**app_labels, **(spec.driver.labels or {}), **operator_labels, naming.LABEL_SPARK_ROLE: "driver"},
        pod_routing,
    )
    # Spark labels its executors with its own reserved labels (spark-role, spark-app-selector, ...) and
    # refuses any of them among the custom ones: only the application's and the operator's go here.
    executor_labels = {
        key: value
        for key, value in routing.enforce(
            {**app_labels, **(spec.executor.labels or {}), **operator_labels}, pod_routing
        ).items()
        if key not in naming.SPARK_RESERVED_LABELS
    }
    selector = {naming.LABEL_SPARK_APP_SELECTOR: app_id, naming.LABEL_SPARK_ROLE: "driver"}

    properties = _properties(
        app, app_id, driver_name, prefix, f"{service_name}.{namespace}.svc", executor_labels
    )
    for extra_key, extra_value in (extra_conf or {}).items():
        properties.setdefault(extra_key, extra_value)
    for key, value in pod_routing.items():  # a label the application lacks, set in spec.sparkConf
        if value is None:
            properties.pop(f"spark.kubernetes.executor.label.{key}", None)
    ui = ui_port(app)
    executor_template = _executor_template(app, executor_labels, config_map_name)
    template_meta = executor_template["metadata"]
    template_meta["labels"] = routing.enforce(template_meta["labels"], pod_routing)
    config_map: Obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config_map_name, "namespace": namespace, "labels": dict(operator_labels)},
        "data": {
            PROPERTIES_FILE: to_properties(properties),
            TEMPLATE_FILE: yaml.dump(executor_template, Dumper=_YAML_DUMPER, sort_keys=True),
            **_metrics_files(app),
        },
    }
    _check_size(config_map["data"])
    driver_pod = _driver_pod(
        app, driver_name, driver_labels, app_id, submission_id, config_map_name, jvm, ui, hashed
    )
    if pod_routing:
        driver_meta = driver_pod["metadata"]
        driver_meta["labels"] = routing.enforce(driver_meta["labels"], pod_routing)  # its template's too
        driver_meta["annotations"][routing.ANNOTATION_ROUTING] = routing.encode(pod_routing)
    driver_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name,
            "namespace": namespace,
            "labels": {**(spec.driver.service_labels or {}), **operator_labels},
            **(
                {"annotations": dict(spec.driver.service_annotations)}
                if spec.driver.service_annotations
                else {}
            ),
        },
        "spec": {
            "clusterIP": "None",
            "selector": selector,
            "ports": [
                {
                    "name": "driver-rpc-port",
                    "port": DRIVER_PORT,
                    "targetPort": DRIVER_PORT,
                    "protocol": "TCP",
                },
                {
                    "name": "blockmanager",
                    "port": BLOCK_MANAGER_PORT,
                    "targetPort": BLOCK_MANAGER_PORT,
                    "protocol": "TCP",
                },
                {"name": "spark-ui", "port": ui, "targetPort": ui, "protocol": "TCP"},
            ],
        },
    }
    return Submission(
        submission_id=submission_id,
        app_id=app_id,
        prefix=prefix,
        driver_pod=driver_pod,
        config_map=config_map,
        driver_service=driver_service,
        ui_service=_ui_service(app, submission_id, ui) if ui_service else None,
    )


def _check_size(data: Obj) -> None:
    """The API server refuses a ConfigMap over 1 MiB: say which part of the spec makes it so."""
    sizes = {key: len(value.encode()) for key, value in data.items()}
    total = sum(sizes.values())
    if total > CONFIG_MAP_MAX_BYTES:
        largest = max(sizes, key=lambda key: sizes[key])
        fields = {PROPERTIES_FILE: "spec.sparkConf", TEMPLATE_FILE: "spec.executor"}
        field = fields.get(largest, "spec.monitoring")
        raise InvalidApplication(config_map_too_large(field, total))


def owner_reference(app: SparkApplication) -> Obj:
    """The application as the controlling owner of an object it makes."""
    return {
        "apiVersion": API_VERSION,
        "kind": "SparkApplication",
        "name": app.metadata["name"],
        "uid": app.metadata.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _properties(
    app: SparkApplication,
    app_id: str,
    driver_name: str,
    prefix: str,
    driver_host: str,
    executor_labels: dict[str, str],
) -> dict[str, str]:
    """spark.properties, with the precedence spark-submit gives them as the Spark Operator calls it:
    settings it passes before ``spec.sparkConf`` (image, pull policy and secrets, overhead factor)
    give way to the user's sparkConf; the spec's own fields (resources, labels, env, deps, dynamic
    allocation, monitoring, ...) come after it and win; what Spark's client computes (ids, the
    driver's host and ports, file locations) wins over all."""
    spec = app.spec
    props: dict[str, str] = {}
    if spec.image:
        props["spark.kubernetes.container.image"] = spec.image
    if spec.image_pull_policy:
        props["spark.kubernetes.container.image.pullPolicy"] = spec.image_pull_policy
    if spec.image_pull_secrets:
        props["spark.kubernetes.container.image.pullSecrets"] = ",".join(spec.image_pull_secrets)
    # Spark's client writes the factor it used, and the driver sizes executors from it: without it a
    # Python or R application's executors would get 0.1 of their memory as overhead instead of 0.4.
    props["spark.kubernetes.memoryOverheadFactor"] = repr(
        float(spec.memory_overhead_factor)
        if spec.memory_overhead_factor
        else JVM_OVERHEAD_FACTOR
        if spec.type in ("Java", "Scala")
        else NON_JVM_OVERHEAD_FACTOR
    )
    props.update(spec.spark_conf or {})
    props.update({f"spark.hadoop.{key}": value for key, value in (spec.hadoop_conf or {}).items()})
    props.update(_spec_properties(app, executor_labels))
    props.update({
        "spark.app.name": app.metadata["name"],
        "spark.app.id": app_id,
        "spark.master": KUBERNETES_MASTER,
        "spark.submit.deployMode": "cluster",
        "spark.kubernetes.submitInDriver": "true",
        "spark.kubernetes.namespace": app.metadata["namespace"],
        "spark.kubernetes.driver.pod.name": driver_name,
        "spark.kubernetes.executor.podNamePrefix": prefix,
        "spark.kubernetes.resource.type": {"Java": "java", "Scala": "java", "Python": "python", "R": "r"}[
            spec.type
        ],
        "spark.driver.host": driver_host,
        "spark.driver.port": str(DRIVER_PORT),
        "spark.driver.blockManager.port": str(BLOCK_MANAGER_PORT),
        "spark.kubernetes.executor.podTemplateFile": f"{TEMPLATE_DIR}/{TEMPLATE_FILE}",
        "spark.kubernetes.executor.podTemplateContainerName": EXECUTOR_CONTAINER,
    })  # fmt: skip
    return props


def _spec_properties(app: SparkApplication, executor_labels: dict[str, str]) -> dict[str, str]:
    """The settings the spec's own fields make (they override the same keys in spec.sparkConf)."""
    spec = app.spec
    driver, executor = spec.driver, spec.executor
    props: dict[str, str] = {}
    _resources(props, "driver", driver)
    if driver.kubernetes_master:
        # The driver reaches the API server by this, not by spark.master (the client's address).
        props["spark.kubernetes.driver.master"] = driver.kubernetes_master
    if executor.instances is not None:
        props["spark.executor.instances"] = str(executor.instances)
    if executor.image or spec.image:
        props["spark.kubernetes.executor.container.image"] = executor.image or spec.image or ""
    _resources(props, "executor", executor)
    for role, pod_spec, core_request, java_options in (
        ("driver", driver, driver.core_request, driver.java_options),
        ("executor", executor, executor.core_request, executor.java_options),
    ):
        if pod_spec.core_limit:
            props[f"spark.kubernetes.{role}.limit.cores"] = pod_spec.core_limit
        if core_request:
            props[f"spark.kubernetes.{role}.request.cores"] = core_request
        if java_options:
            props[f"spark.{role}.extraJavaOptions"] = java_options
        if pod_spec.service_account:
            props[f"spark.kubernetes.authenticate.{role}.serviceAccountName"] = pod_spec.service_account
    if executor.delete_on_termination is not None:
        props["spark.kubernetes.executor.deleteOnTermination"] = str(executor.delete_on_termination).lower()
    for key, value in executor_labels.items():
        props[f"spark.kubernetes.executor.label.{key}"] = value
    for key, value in _annotations(app, "executor").items():
        props[f"spark.kubernetes.executor.annotation.{key}"] = value
    if spec.spark_config_map:
        props["spark.executorEnv.SPARK_CONF_DIR"] = SPARK_CONFIG_MAP_DIR
    for key, value in (executor.env_vars or {}).items():
        props[f"spark.executorEnv.{key}"] = value
    for key, value in (spec.node_selector or {}).items():
        props[f"spark.kubernetes.node.selector.{key}"] = value
    props.update(_deps_properties(app))
    props.update(_dynamic_allocation_properties(app))
    props.update(_monitoring_properties(app))
    return props


def _deps_properties(app: SparkApplication) -> dict[str, str]:
    """spec.deps as spark-submit sets them (its flags win over the same keys in sparkConf). For a JVM
    application spark-submit adds the main application file to spark.jars: the driver adds
    spark.jars to its class path and ships them to executors, which run the application's code."""
    spec = app.spec
    deps = spec.deps
    props: dict[str, str] = {}
    if deps:
        for prop, values in (
            ("spark.jars", deps.jars), ("spark.files", deps.files), ("spark.submit.pyFiles", deps.py_files),
            ("spark.jars.packages", deps.packages), ("spark.jars.excludes", deps.exclude_packages),
            ("spark.jars.repositories", deps.repositories), ("spark.archives", deps.archives),
        ):  # fmt: skip
            if values:
                props[prop] = ",".join(values)
    if spec.type in ("Java", "Scala") and spec.main_application_file:
        jars = props.get("spark.jars") or (spec.spark_conf or {}).get("spark.jars", "")
        props["spark.jars"] = ",".join([*(j for j in jars.split(",") if j), spec.main_application_file])
    return props


def _dynamic_allocation_properties(app: SparkApplication) -> dict[str, str]:
    dynamic = app.spec.dynamic_allocation
    if not (dynamic and dynamic.enabled):
        return {}
    props = {"spark.dynamicAllocation.enabled": "true"}
    settings: list[tuple[str, int | bool | None]] = [
        ("initialExecutors", dynamic.initial_executors),
        ("minExecutors", dynamic.min_executors),
        ("maxExecutors", dynamic.max_executors),
        # Shuffle tracking is on unless the spec turns it off (as the Spark Operator passes it).
        ("shuffleTracking.enabled", dynamic.shuffle_tracking_enabled is not False),
        ("shuffleTracking.timeout", dynamic.shuffle_tracking_timeout),
    ]
    for prop, setting in settings:
        if setting is not None:
            props[f"spark.dynamicAllocation.{prop}"] = (
                str(setting).lower() if isinstance(setting, bool) else str(setting)
            )
    return props


def _monitoring_properties(app: SparkApplication) -> dict[str, str]:
    """spec.monitoring.prometheus: Spark's metrics configuration and namespace (MBeans are named
    ``<namespace>.<name>.<executor>.<source>``, what the exporter's rules read) and the JMX agent
    on each role that exposes metrics."""
    spec = app.spec
    monitoring = spec.monitoring
    if monitoring is None or monitoring.prometheus is None:
        return {}
    prometheus = monitoring.prometheus
    props = {
        "spark.metrics.namespace": f"{app.metadata['namespace']}.{app.metadata['name']}",
        "spark.metrics.conf": monitoring.metrics_properties_file or f"{METRICS_DIR}/{METRICS_PROPERTIES}",
    }
    agent = (
        f"-javaagent:{prometheus.jmx_exporter_jar}={prometheus.port or DEFAULT_JMX_EXPORTER_PORT}:"
        f"{prometheus.config_file or f'{METRICS_DIR}/{PROMETHEUS_CONFIG}'}"
    )
    for role, java_options in (
        ("driver", spec.driver.java_options),
        ("executor", spec.executor.java_options),
    ):
        if _exposes_metrics(app, role):
            props[f"spark.{role}.extraJavaOptions"] = f"{java_options} {agent}" if java_options else agent
    return props


def _annotations(app: SparkApplication, role: str) -> dict[str, str]:
    """A role's pod annotations: the spec's, and Prometheus's scrape annotations when it exposes metrics."""
    pod_spec = app.spec.driver if role == "driver" else app.spec.executor
    annotations = dict(pod_spec.annotations or {})
    monitoring = app.spec.monitoring
    if _exposes_metrics(app, role) and monitoring is not None and monitoring.prometheus is not None:
        port = str(monitoring.prometheus.port or DEFAULT_JMX_EXPORTER_PORT)
        annotations.update(zip(PROMETHEUS_ANNOTATIONS, ("true", port, "/metrics"), strict=True))
    return annotations


def _resources(props: dict[str, str], role: str, pod_spec: SparkPodSpec) -> None:
    if pod_spec.cores is not None:
        props[f"spark.{role}.cores"] = str(pod_spec.cores)
    if pod_spec.memory:
        props[f"spark.{role}.memory"] = pod_spec.memory
    if pod_spec.memory_overhead:
        props[f"spark.{role}.memoryOverhead"] = pod_spec.memory_overhead


def _container_resources(app: SparkApplication, pod_spec: SparkPodSpec, jvm: bool) -> Obj:
    """The driver container's resources as Spark computes them from the effective settings: the
    spec's fields, else the same settings in spec.sparkConf, else Spark's defaults."""
    conf = app.spec.spark_conf or {}
    factor_text = conf.get("spark.kubernetes.memoryOverheadFactor") or app.spec.memory_overhead_factor
    factor = float(factor_text) if factor_text else None
    heap = pod_spec.memory or conf.get("spark.driver.memory") or "1g"
    overhead = pod_spec.memory_overhead or conf.get("spark.driver.memoryOverhead")
    memory = format_mib(pod_memory_mib(heap, overhead, factor, jvm))
    cores = str(pod_spec.cores) if pod_spec.cores is not None else conf.get("spark.driver.cores", "1")
    core_request = getattr(pod_spec, "core_request", None) or conf.get(
        "spark.kubernetes.driver.request.cores"
    )
    requests: Obj = {"cpu": core_request or cores, "memory": memory}
    limits: Obj = {"memory": memory}
    core_limit = pod_spec.core_limit or conf.get("spark.kubernetes.driver.limit.cores")
    if core_limit:
        limits["cpu"] = core_limit
    if pod_spec.gpu:
        limits[pod_spec.gpu.name] = str(pod_spec.gpu.quantity)
    return {"requests": requests, "limits": limits}


def _env(pod_spec: SparkPodSpec, *, env_vars: bool = True) -> list[Obj]:
    """The container env the spec gives (``env_vars=False``: without spec.*.envVars, which reach
    executors as spark.executorEnv: Spark sets them itself, a second copy in the template is noise)."""
    env: list[Obj] = [{"name": k, "value": v} for k, v in (pod_spec.env_vars or {}).items() if env_vars]
    for key, ref in (pod_spec.env_secret_key_refs or {}).items():
        env.append({"name": key, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}})
    for secret in pod_spec.secrets or []:
        if secret.secret_type in SECRET_TYPE_ENV:
            variable, file = SECRET_TYPE_ENV[secret.secret_type]
            env.append({"name": variable, "value": posixpath.join(secret.path, file)})
    return env + list(pod_spec.env or [])


def _exposes_metrics(app: SparkApplication, role: str) -> bool:
    monitoring = app.spec.monitoring
    if monitoring is None or monitoring.prometheus is None:
        return False
    return monitoring.expose_driver_metrics if role == "driver" else monitoring.expose_executor_metrics


def _metrics_files(app: SparkApplication) -> dict[str, str]:
    """With spec.monitoring.prometheus, the metrics files the spec does not name in the image:
    metrics.properties and the JMX exporter's configuration (the spec's, else Kubeflow's defaults)."""
    monitoring = app.spec.monitoring
    if monitoring is None or monitoring.prometheus is None:
        return {}
    files = {}
    if not monitoring.metrics_properties_file:
        files[METRICS_PROPERTIES] = monitoring.metrics_properties or DEFAULT_METRICS_PROPERTIES
    if not monitoring.prometheus.config_file:
        files[PROMETHEUS_CONFIG] = monitoring.prometheus.configuration or DEFAULT_PROMETHEUS_CONFIG
    return files


def _conf_mounts(
    app: SparkApplication, role: str, config_map: str
) -> tuple[list[Obj], list[Obj], list[Obj], list[Obj]]:
    """(mounts, volumes, env, ports) for spec.sparkConfigMap, spec.hadoopConfigMap and metrics."""
    spec = app.spec
    mounts: list[Obj] = []
    volumes: list[Obj] = []
    env: list[Obj] = []
    ports: list[Obj] = []
    for source, volume, path, variable in (
        (spec.spark_config_map, "spark-configmap-volume", SPARK_CONFIG_MAP_DIR, "SPARK_CONF_DIR"),
        (spec.hadoop_config_map, "hadoop-configmap-volume", HADOOP_CONFIG_MAP_DIR, "HADOOP_CONF_DIR"),
    ):
        if source:
            volumes.append({"name": volume, "configMap": {"name": source}})
            mounts.append({"name": volume, "mountPath": path, "readOnly": True})
            env.append({"name": variable, "value": path})
    files = _metrics_files(app)
    # Like the Spark Operator, no metrics volume nor port when both files are the image's own.
    if _exposes_metrics(app, role) and files:
        items = [{"key": key, "path": key} for key in files]
        volumes.append({"name": "spark-metrics-conf", "configMap": {"name": config_map, "items": items}})
        mounts.append({"name": "spark-metrics-conf", "mountPath": METRICS_DIR, "readOnly": True})
        prometheus = spec.monitoring.prometheus if spec.monitoring else None
        ports.append({
            "name": (prometheus.port_name if prometheus else None) or DEFAULT_JMX_EXPORTER_PORT_NAME,
            "containerPort": (prometheus.port if prometheus else None) or DEFAULT_JMX_EXPORTER_PORT,
            "protocol": "TCP",
        })  # fmt: skip
    return mounts, volumes, env, ports


def _mounts_and_volumes(app: SparkApplication, pod_spec: SparkPodSpec) -> tuple[list[Obj], list[Obj]]:
    """The pod's own volume mounts, and the spec volumes they refer to (plus configMaps/secrets)."""
    mounts = list(pod_spec.volume_mounts or [])
    wanted = {m.get("name") for m in mounts}
    volumes = [v for v in (app.spec.volumes or []) if v.get("name") in wanted]
    for cm in pod_spec.config_maps or []:
        volume = f"{cm.name}-vol"
        volumes.append({"name": volume, "configMap": {"name": cm.name}})
        mounts.append({"name": volume, "mountPath": cm.path, "readOnly": True})
    for secret in pod_spec.secrets or []:
        volume = f"{secret.name}-vol"
        volumes.append({"name": volume, "secret": {"secretName": secret.name}})
        mounts.append({"name": volume, "mountPath": secret.path})
    return mounts, volumes


def _pod_fields(app: SparkApplication, pod_spec: SparkPodSpec) -> Obj:
    """Pod-level settings shared by the driver pod and the executor template."""
    fields: Obj = {}
    node_selector = {**(app.spec.node_selector or {}), **(pod_spec.node_selector or {})}
    for key, value in (
        ("nodeSelector", node_selector or None),
        ("tolerations", pod_spec.tolerations),
        ("affinity", pod_spec.affinity),
        ("securityContext", pod_spec.pod_security_context),
        # spec.batchScheduler over the pod's own, as Kubeflow's webhook sets it (see batch.plan)
        ("schedulerName", app.spec.batch_scheduler or pod_spec.scheduler_name or None),
        ("hostNetwork", pod_spec.host_network),
        ("dnsConfig", pod_spec.dns_config),
        ("terminationGracePeriodSeconds", pod_spec.termination_grace_period_seconds),
        ("hostAliases", pod_spec.host_aliases),
        ("shareProcessNamespace", pod_spec.share_process_namespace),
        ("initContainers", pod_spec.init_containers),
        ("priorityClassName", getattr(pod_spec, "priority_class_name", None)),
        ("imagePullSecrets", [{"name": s} for s in app.spec.image_pull_secrets or []] or None),
    ):
        if value is not None:
            fields[key] = value
    if pod_spec.host_network:  # the cluster's DNS still, as the Spark Operator sets it
        fields["dnsPolicy"] = "ClusterFirstWithHostNet"
    return fields


def _base(template: Obj | None) -> tuple[Obj, Obj]:
    """(metadata, spec) of a pod template the user gave, copied so rendering never mutates the app."""
    base = orjson.loads(orjson.dumps(template or {}))
    return base.get("metadata") or {}, base.get("spec") or {}


# What Spark's pod builders add to a template container rather than set: its lists grow (the
# template's entries first), and resource requests and limits are merged key by key.
_APPENDED = ("env", "envFrom", "ports", "volumeMounts")


def _merge_container(base_spec: Obj, name: str, container: Obj) -> list[Obj]:
    """The template's containers with ours merged into the one of the same name, as Spark merges a
    pod template's container: lists appended to, resources merged, other fields ours."""
    containers = list(base_spec.get("containers") or [])
    for i, existing in enumerate(containers):
        if existing.get("name") == name:
            merged = {**existing, **container}
            for key in _APPENDED:
                if existing.get(key) and key in container:
                    merged[key] = [*existing[key], *container[key]]
            if existing.get("resources") and "resources" in container:
                merged["resources"] = {
                    part: {**(existing["resources"].get(part) or {}), **container["resources"].get(part, {})}
                    for part in ("requests", "limits")
                    if existing["resources"].get(part) or container["resources"].get(part)
                }
            containers[i] = merged
            return containers
    return [container, *containers]


def _driver_pod(
    app: SparkApplication,
    pod_name: str,
    labels: dict[str, str],
    app_id: str,
    submission_id: str,
    config_map: str,
    jvm: bool,
    ui_port: int,
    hashed: str,
) -> Obj:
    """``hashed``: the application's spec hash (the annotation its runs are compared by)."""
    spec = app.spec
    driver = spec.driver
    main_class = spec.main_class or {"Python": PYTHON_RUNNER, "R": R_RUNNER}.get(spec.type, "")
    args = ["driver", *(["--proxy-user", spec.proxy_user] if spec.proxy_user else [])]
    args += ["--properties-file", f"{CONF_DIR}/{PROPERTIES_FILE}", "--class", main_class]
    args += [spec.main_application_file or "", *(spec.arguments or [])]
    user_mounts, user_volumes = _mounts_and_volumes(app, driver)
    # Mounts of spark-local-dir-* volumes are the local dirs; only without any does Spark add its own.
    local_dirs = [
        m["mountPath"] for m in user_mounts if m.get("name", "").startswith(LOCAL_DIR_VOLUME_PREFIX)
    ]
    default_local_dir = f"/var/data/spark-{submission_id}"
    env: list[Obj] = [
        {"name": "SPARK_USER", "value": spec.proxy_user or SUBMITTING_USER},
        {"name": "SPARK_APPLICATION_ID", "value": app_id},
        {
            "name": "SPARK_DRIVER_BIND_ADDRESS",
            "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}},
        },
        {"name": "SPARK_LOCAL_DIRS", "value": ",".join(local_dirs or [default_local_dir])},
        {"name": "SPARK_CONF_DIR", "value": CONF_DIR},
    ]
    conf_mounts, conf_volumes, conf_env, conf_ports = _conf_mounts(app, "driver", config_map)
    overridden = {e["name"] for e in conf_env}
    env = [e for e in env if e["name"] not in overridden] + conf_env
    ports = (
        [
            {"name": "driver-rpc-port", "containerPort": DRIVER_PORT, "protocol": "TCP"},
            {"name": "blockmanager", "containerPort": BLOCK_MANAGER_PORT, "protocol": "TCP"},
            {"name": "spark-ui", "containerPort": ui_port, "protocol": "TCP"},
        ]
        + conf_ports
        + [p.to_kube() for p in driver.ports or []]
    )
    container: Obj = {
        "name": DRIVER_CONTAINER,
        "image": driver.image or spec.image,
        "args": args,
        "env": env + _env(driver),
        "ports": ports,
        "resources": _container_resources(app, driver, jvm),
        "volumeMounts": [
            *([] if local_dirs else [{"name": "spark-local-dir-1", "mountPath": default_local_dir}]),
            {"name": "spark-conf-volume-driver", "mountPath": CONF_DIR},
            {"name": "pod-template-volume", "mountPath": TEMPLATE_DIR},
            *conf_mounts,
            *user_mounts,
        ],
    }
    if spec.image_pull_policy:
        container["imagePullPolicy"] = spec.image_pull_policy
    container.update(_container_options(driver.env_from, driver.security_context, driver.lifecycle))
    base_meta, base_spec = _base(driver.template)
    pod_spec: Obj = {
        **base_spec,
        **_pod_fields(app, driver),
        "restartPolicy": "Never",
        "containers": _merge_container(base_spec, DRIVER_CONTAINER, container) + list(driver.sidecars or []),
        "volumes": [
            *(base_spec.get("volumes") or []),
            *([] if local_dirs else [{"name": "spark-local-dir-1", "emptyDir": {}}]),
            _config_map_volume("spark-conf-volume-driver", config_map, PROPERTIES_FILE),
            _config_map_volume("pod-template-volume", config_map, TEMPLATE_FILE),
            *conf_volumes,
            *user_volumes,
        ],
    }  # fmt: skip
    if driver.service_account:
        pod_spec["serviceAccountName"] = driver.service_account
    pod_spec = harden(pod_spec, DRIVER_CONTAINER)  # the restricted Pod Security Standard's defaults
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": app.metadata["namespace"],
            "labels": {**(base_meta.get("labels") or {}), **labels},
            "annotations": {
                **(base_meta.get("annotations") or {}),
                **_annotations(app, "driver"),
                naming.ANNOTATION_SPEC_HASH: hashed,
            },
            "ownerReferences": [owner_reference(app)],
        },
        "spec": pod_spec,
    }


def _container_options(
    env_from: list[Obj] | None, security_context: Obj | None, lifecycle: Obj | None
) -> Obj:
    """The container fields the driver and executor specs pass through as they are."""
    options = {"envFrom": env_from, "securityContext": security_context, "lifecycle": lifecycle}
    return {key: value for key, value in options.items() if value}


def _config_map_volume(volume: str, config_map: str, key: str) -> Obj:
    return {"name": volume, "configMap": {"name": config_map, "items": [{"key": key, "path": key}]}}


def _executor_template(app: SparkApplication, labels: dict[str, str], config_map: str) -> Obj:
    """The executor pod template Spark reads (spark.kubernetes.executor.podTemplateFile)."""
    executor = app.spec.executor
    mounts, volumes = _mounts_and_volumes(app, executor)
    conf_mounts, conf_volumes, conf_env, conf_ports = _conf_mounts(app, "executor", config_map)
    mounts, volumes = conf_mounts + mounts, conf_volumes + volumes
    container: Obj = {"name": EXECUTOR_CONTAINER}
    # Spark sets SPARK_CONF_DIR on executors after the template's env, so spec.sparkConfigMap's goes
    # in spark.executorEnv (which Spark sets after its own), not here.
    env = [e for e in conf_env if e["name"] != "SPARK_CONF_DIR"] + _env(executor, env_vars=False)
    if env:
        container["env"] = env
    if mounts:
        container["volumeMounts"] = mounts
    container.update(_container_options(executor.env_from, executor.security_context, executor.lifecycle))
    if executor.gpu:
        container["resources"] = {"limits": {executor.gpu.name: str(executor.gpu.quantity)}}
    if executor.ports or conf_ports:
        container["ports"] = conf_ports + [p.to_kube() for p in executor.ports or []]
    base_meta, base_spec = _base(executor.template)
    # Spark adds spark.kubernetes.container.image.pullSecrets to every executor itself.
    fields = {k: v for k, v in _pod_fields(app, executor).items() if k != "imagePullSecrets"}
    spec: Obj = {
        **base_spec,
        **fields,
        "containers": _merge_container(base_spec, EXECUTOR_CONTAINER, container)
        + list(executor.sidecars or []),
    }
    if volumes or base_spec.get("volumes"):
        spec["volumes"] = [*(base_spec.get("volumes") or []), *volumes]
    spec = harden(spec, EXECUTOR_CONTAINER)  # Spark keeps the template container's securityContext
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "labels": {**(base_meta.get("labels") or {}), **labels},
            "annotations": {**(base_meta.get("annotations") or {}), **_annotations(app, "executor")},
        },
        "spec": spec,
    }


def _ui_service(app: SparkApplication, submission_id: str, target: int) -> Obj:
    """The Spark UI Service the Spark Operator creates: it targets the port the UI listens on
    (``spark.ui.port``); its own port is ``sparkUIOptions.servicePort``, else the same port, or
    4040 when sparkUIOptions is given without one (as the Spark Operator chooses).

    Its labels and selector are the Spark Operator's, not Spark's: a Spark driver deletes every
    Service labelled with its ``spark-app-selector`` when it stops, and the UI Service outlives runs."""
    options = app.spec.spark_ui_options
    port = target if options is None else options.service_port or DEFAULT_UI_PORT
    metadata: Obj = {
        "name": naming.ui_service_name(app.metadata["name"]),
        "namespace": app.metadata["namespace"],
        "labels": (options.service_labels if options else None)
        or {naming.LABEL_APP_NAME: app.metadata["name"], naming.LABEL_SUBMISSION_ID: submission_id},
        "ownerReferences": [owner_reference(app)],
    }
    if options and options.service_annotations:
        metadata["annotations"] = options.service_annotations
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": (options.service_type if options else None) or "ClusterIP",
            "selector": {naming.LABEL_APP_NAME: app.metadata["name"], naming.LABEL_SPARK_ROLE: "driver"},
            "ports": [{"name": (options.service_port_name if options else None) or "spark-driver-ui-port",
                       "port": port, "targetPort": target, "protocol": "TCP"}],
        },
    }  # fmt: skip


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def _escape(text: str, key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif (key and ch in "=: ") or (i == 0 and ch in " #!"):
            out.append("\\" + ch)
        elif not 32 <= ord(ch) <= 126:  # \\uXXXX per UTF-16 code unit, as Java writes it
            units = ch.encode("utf-16-be")
            out.extend(f"\\u{int.from_bytes(units[j : j + 2]):04x}" for j in range(0, len(units), 2))
        else:
            out.append(ch)
    return "".join(out)


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u":
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_UNESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    # Pairs of \\u escapes may be the two halves of one character beyond the BMP.
    return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")


def to_properties(props: dict[str, str]) -> str:
    """A Java properties file (what Spark reads with ``--properties-file``), sorted for stability."""
    return "".join(f"{_escape(k, True)}={_escape(v, False)}\n" for k, v in sorted(props.items()))


def parse_properties(text: str) -> dict[str, str]:
    """Reads back what :func:`to_properties` writes (one ``key=value`` a line)."""
    result = {}
    for line in text.split("\n"):  # not splitlines(): that also splits on form feeds and the like
        if not line or line[0] in "#!":
            continue
        i = 0
        while i < len(line) and line[i] != "=":
            i += 2 if line[i] == "\\" else 1
        result[_unescape(line[:i])] = _unescape(line[i + 1 :])
    return result
