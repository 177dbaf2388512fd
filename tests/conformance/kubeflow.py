"""What the Kubeflow Spark Operator (v2.5.2) hands to ``spark-submit`` for a SparkApplication.

This is the oracle's input, written from Kubeflow's behaviour and never from sparkfleet's code:
it reads the application as JSON (the v1beta2 wire form, as Kubeflow's Go types read it), not
through sparkfleet's models.

- The spark-submit arguments follow ``buildSparkSubmitArgs`` in Kubeflow's
  ``internal/controller/sparkapplication/submission.go``, in its order (a later ``--conf`` of the
  same key wins in SparkSubmit, so the order matters), after what its controller does to the
  spec first (``configPrometheusMonitoring``: ``spark.metrics.*``, the ``prometheus.io/*``
  annotations and the JMX agent in the Java options).
- What Kubeflow adds to the pods with its mutating webhook (``internal/webhook/sparkpod_defaulter.go``:
  volumes, env, tolerations, affinity, security contexts, sidecars, ...) is given to Spark the way
  Spark itself takes pod-level fields: in the driver and executor pod templates Kubeflow already
  passes (``spark.kubernetes.{driver,executor}.podTemplateFile``), so Spark's own template handling
  and feature steps decide where each lands.

The templates are files the caller writes (:attr:`SubmitInput.files`) before it runs the submission.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

DRIVER_CONTAINER = "spark-kubernetes-driver"
EXECUTOR_CONTAINER = "spark-kubernetes-executor"
LOCAL_DIR_PREFIX = "spark-local-dir-"
METRICS_DIR = "/etc/metrics/conf"
DEFAULT_PROMETHEUS_PORT = 8090
KUEUE_LABEL_PREFIX = "kueue.x-k8s.io/"
VOLUME_TYPES = (  # Kubeflow's volume types for spark.kubernetes.*.volumes.<type>.<name>.*
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("nfs", "nfs"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
)


@dataclass(frozen=True, slots=True)
class SubmitInput:
    args: list[str]
    files: dict[Path, str] = field(default_factory=dict)


def owner_reference(app: Mapping[str, Any], *, controller: bool = True) -> Obj:
    reference: Obj = {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "name": app["metadata"]["name"],
        "uid": app["metadata"].get("uid", ""),
    }
    if controller:
        reference.update(controller=True, blockOwnerDeletion=True)
    return reference


def driver_pod_name(app: Mapping[str, Any]) -> str:
    spec = app["spec"]
    return str(
        spec["driver"].get("podName")
        or (spec.get("sparkConf") or {}).get("spark.kubernetes.driver.pod.name")
        or f"{app['metadata']['name']}-driver"
    )


def submit_input(app: Mapping[str, Any], submission_id: str, master: str, workdir: Path) -> SubmitInput:
    """The arguments (and template files) of Kubeflow's spark-submit for ``app`` against ``master``."""
    app = _with_monitoring(copy.deepcopy(dict(app)))
    spec = app["spec"]
    name = app["metadata"]["name"]
    files: dict[Path, str] = {}
    driver_template = workdir / submission_id / "driver-pod-template.yaml"
    executor_template = workdir / submission_id / "executor-pod-template.yaml"
    files[driver_template] = yaml.safe_dump(_pod_template(app, "driver"), sort_keys=False)
    files[executor_template] = yaml.safe_dump(_pod_template(app, "executor"), sort_keys=False)

    args = ["--master", f"k8s://{master}", "--deploy-mode", spec.get("mode") or "cluster"]
    if spec.get("mainClass") is not None:
        args += ["--class", spec["mainClass"]]
    args += ["--name", name]
    args += _deps(spec.get("deps") or {})
    conf: list[tuple[str, str]] = [("spark.kubernetes.namespace", app["metadata"]["namespace"])]
    if spec.get("image"):
        conf.append(("spark.kubernetes.container.image", spec["image"]))
    if spec.get("imagePullPolicy"):
        conf.append(("spark.kubernetes.container.image.pullPolicy", spec["imagePullPolicy"]))
    if spec.get("imagePullSecrets"):
        conf.append(("spark.kubernetes.container.image.pullSecrets", ",".join(spec["imagePullSecrets"])))
    if spec.get("pythonVersion"):
        conf.append(("spark.kubernetes.pyspark.pythonVersion", spec["pythonVersion"]))
    if spec.get("memoryOverheadFactor"):
        conf.append(("spark.kubernetes.memoryOverheadFactor", spec["memoryOverheadFactor"]))
    conf.append(("spark.kubernetes.submission.waitAppCompletion", "false"))
    conf += [
        (k, v) for k, v in (spec.get("sparkConf") or {}).items() if k != "spark.kubernetes.driver.pod.name"
    ]
    conf += [(f"spark.hadoop.{k}", v) for k, v in (spec.get("hadoopConf") or {}).items()]
    conf += [
        ("spark.kubernetes.driver.podTemplateFile", str(driver_template)),
        ("spark.kubernetes.driver.podTemplateContainerName", DRIVER_CONTAINER),
        ("spark.kubernetes.driver.pod.name", driver_pod_name(app)),
    ]
    conf += _role_conf(app, "driver", submission_id)
    conf += [(f"spark.kubernetes.driverEnv.{k}", v) for k, v in (spec["driver"].get("envVars") or {}).items()]
    conf += _secrets(spec["driver"], "driver")
    conf += _local_volumes(spec, "driver")
    conf += [
        ("spark.kubernetes.executor.podTemplateFile", str(executor_template)),
        ("spark.kubernetes.executor.podTemplateContainerName", EXECUTOR_CONTAINER),
    ]
    conf += _role_conf(app, "executor", submission_id)
    conf += [(f"spark.executorEnv.{k}", v) for k, v in (spec["executor"].get("envVars") or {}).items()]
    conf += _secrets(spec["executor"], "executor")
    conf += _local_volumes(spec, "executor")
    conf += [(f"spark.kubernetes.node.selector.{k}", v) for k, v in (spec.get("nodeSelector") or {}).items()]
    conf += _dynamic_allocation(spec.get("dynamicAllocation"))
    for key, value in conf:
        args += ["--conf", f"{key}={value}"]
    if spec.get("proxyUser"):
        args += ["--proxy-user", spec["proxyUser"]]
    if spec.get("mainApplicationFile") is not None:
        args.append(spec["mainApplicationFile"])
    args += list(spec.get("arguments") or [])
    return SubmitInput(args=args, files=files)


def _deps(deps: Mapping[str, Any]) -> list[str]:
    args: list[str] = []
    for key, flag in (
        ("jars", "--jars"), ("packages", "--packages"), ("excludePackages", "--exclude-packages"),
        ("repositories", "--repositories"), ("pyFiles", "--py-files"), ("files", "--files"),
        ("archives", "--archives"),
    ):  # fmt: skip
        if deps.get(key):
            args += [flag, ",".join(deps[key])]
    return args


def _role_conf(app: Mapping[str, Any], role: str, submission_id: str) -> list[tuple[str, str]]:
    """driverConfOption / executorConfOption."""
    spec = app["spec"]
    pod = spec[role]
    label = f"spark.kubernetes.{role}.label."
    conf = [
        (label + "sparkoperator.k8s.io/app-name", app["metadata"]["name"]),
        (label + "sparkoperator.k8s.io/launched-by-spark-operator", "true"),
    ]
    if pod.get("template") is None:  # for its webhook, whose pods these are
        conf.append((label + "sparkoperator.k8s.io/mutated-by-spark-operator", "true"))
    conf.append((label + "sparkoperator.k8s.io/submission-id", submission_id))
    if role == "executor" and pod.get("instances") is not None:
        conf.append(("spark.executor.instances", str(pod["instances"])))
    image = pod.get("image") or spec.get("image")
    if image:
        conf.append((f"spark.kubernetes.{role}.container.image", image))
    for key, prop in (
        ("cores", f"spark.{role}.cores"),
        ("coreRequest", f"spark.kubernetes.{role}.request.cores"),
        ("coreLimit", f"spark.kubernetes.{role}.limit.cores"),
        ("memory", f"spark.{role}.memory"),
        ("memoryOverhead", f"spark.{role}.memoryOverhead"),
        ("serviceAccount", f"spark.kubernetes.authenticate.{role}.serviceAccountName"),
    ):
        if pod.get(key) is not None:
            conf.append((prop, str(pod[key])))
    if role == "driver":
        if pod.get("javaOptions") is not None:
            conf.append(("spark.driver.extraJavaOptions", pod["javaOptions"]))
        if pod.get("kubernetesMaster") is not None:
            conf.append(("spark.kubernetes.driver.master", pod["kubernetesMaster"]))
    if role == "executor" and pod.get("deleteOnTermination") is not None:
        conf.append(
            ("spark.kubernetes.executor.deleteOnTermination", str(pod["deleteOnTermination"]).lower())
        )
    app_labels = app["metadata"].get("labels") or {}
    conf += [(label + k, v) for k, v in app_labels.items() if not k.startswith(KUEUE_LABEL_PREFIX)]
    conf += [(label + k, v) for k, v in (pod.get("labels") or {}).items()]
    conf += [
        (f"spark.kubernetes.{role}.annotation.{k}", v) for k, v in (pod.get("annotations") or {}).items()
    ]
    if role == "driver":
        conf += [
            (f"spark.kubernetes.driver.service.label.{k}", v)
            for k, v in (pod.get("serviceLabels") or {}).items()
        ]
        conf += [
            (f"spark.kubernetes.driver.service.annotation.{k}", v)
            for k, v in (pod.get("serviceAnnotations") or {}).items()
        ]
    conf += [
        (f"spark.kubernetes.{role}.secretKeyRef.{k}", f"{ref['name']}:{ref['key']}")
        for k, ref in (pod.get("envSecretKeyRefs") or {}).items()
    ]
    if role == "executor" and pod.get("javaOptions") is not None:
        conf.append(("spark.executor.extraJavaOptions", pod["javaOptions"]))
    return conf


def _secrets(pod: Mapping[str, Any], role: str) -> list[tuple[str, str]]:
    env_prefix = "spark.kubernetes.driverEnv." if role == "driver" else "spark.executorEnv."
    conf: list[tuple[str, str]] = []
    for secret in pod.get("secrets") or []:
        conf.append((f"spark.kubernetes.{role}.secrets.{secret['name']}", secret["path"]))
        kind = secret.get("secretType")
        if kind == "GCPServiceAccount":
            conf.append(
                (env_prefix + "GOOGLE_APPLICATION_CREDENTIALS", posixpath.join(secret["path"], "key.json"))
            )
        elif kind == "HadoopDelegationToken":
            conf.append(
                (env_prefix + "HADOOP_TOKEN_FILE_LOCATION", posixpath.join(secret["path"], "hadoop.token"))
            )
    return conf


def _local_volumes(spec: Mapping[str, Any], role: str) -> list[tuple[str, str]]:
    """spark-local-dir-* volumes, the only ones Kubeflow passes as Spark volume settings."""
    volumes = {v["name"]: v for v in spec.get("volumes") or [] if v["name"].startswith(LOCAL_DIR_PREFIX)}
    conf: list[tuple[str, str]] = []
    for mount in spec[role].get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            continue
        kind = next(k for k, _ in VOLUME_TYPES if k in volume)
        base = f"spark.kubernetes.{role}.volumes.{kind}.{volume['name']}."
        conf.append((base + "mount.path", mount["mountPath"]))
        if mount.get("subPath"):
            conf.append((base + "mount.subPath", mount["subPath"]))
        if mount.get("readOnly"):
            conf.append((base + "mount.readOnly", "true"))
        source = volume[kind]
        options = {
            "emptyDir": [("sizeLimit", source.get("sizeLimit")), ("medium", source.get("medium") or None)],
            "hostPath": [("path", source.get("path")), ("type", source.get("type"))],
            "nfs": [("path", source.get("path")), ("server", source.get("server")),
                    ("readOnly", "true" if source.get("readOnly") else None)],
            "persistentVolumeClaim": [("claimName", source.get("claimName")),
                                      ("readOnly", "true" if source.get("readOnly") else None)],
        }[kind]  # fmt: skip
        conf += [(base + f"options.{key}", str(value)) for key, value in options if value is not None]
    return conf


def _dynamic_allocation(dynamic: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if not dynamic or not dynamic.get("enabled"):
        return []
    conf = [("spark.dynamicAllocation.enabled", "true")]
    for key in ("initialExecutors", "minExecutors", "maxExecutors"):
        if dynamic.get(key) is not None:
            conf.append((f"spark.dynamicAllocation.{key}", str(dynamic[key])))
    tracking = dynamic.get("shuffleTrackingEnabled")
    conf.append(("spark.dynamicAllocation.shuffleTracking.enabled", "false" if tracking is False else "true"))
    if dynamic.get("shuffleTrackingTimeout") is not None:
        conf.append(
            ("spark.dynamicAllocation.shuffleTracking.timeout", str(dynamic["shuffleTrackingTimeout"]))
        )
    return conf


# -- what the controller does to the spec before building the arguments --------------------------


def _with_monitoring(app: Obj) -> Obj:
    """configPrometheusMonitoring: Spark's metrics settings, scrape annotations, the JMX agent."""
    spec = app["spec"]
    monitoring = spec.get("monitoring")
    if not monitoring or monitoring.get("prometheus") is None:
        return app
    prometheus = monitoring["prometheus"]
    port = prometheus.get("port") or DEFAULT_PROMETHEUS_PORT
    config = prometheus.get("configFile") or f"{METRICS_DIR}/prometheus.yaml"
    agent = f"-javaagent:{prometheus['jmxExporterJar']}={port}:{config}"
    conf = spec.setdefault("sparkConf", {})
    conf["spark.metrics.namespace"] = f"{app['metadata']['namespace']}.{app['metadata']['name']}"
    conf["spark.metrics.conf"] = (
        monitoring.get("metricsPropertiesFile") or f"{METRICS_DIR}/metrics.properties"
    )
    for role, key in (("driver", "exposeDriverMetrics"), ("executor", "exposeExecutorMetrics")):
        if not monitoring.get(key):
            continue
        pod = spec[role]
        pod.setdefault("annotations", {}).update(
            {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(port),
                "prometheus.io/path": "/metrics",
            }
        )
        pod["javaOptions"] = f"{pod['javaOptions']} {agent}" if pod.get("javaOptions") else agent
    return app


def prometheus_config_map(app: Mapping[str, Any]) -> Obj | None:
    """The ConfigMap Kubeflow's controller creates for the JMX exporter (``<app>-prom-conf``), or None."""
    monitoring = app["spec"].get("monitoring")
    if not monitoring or monitoring.get("prometheus") is None:
        return None
    prometheus = monitoring["prometheus"]
    if monitoring.get("metricsPropertiesFile") and prometheus.get("configFile"):
        return None
    data: dict[str, str] = {}
    if not monitoring.get("metricsPropertiesFile"):
        data["metrics.properties"] = monitoring.get("metricsProperties") or DEFAULT_METRICS_PROPERTIES
    if not prometheus.get("configFile"):
        data["prometheus.yaml"] = prometheus.get("configuration") or DEFAULT_PROMETHEUS_CONFIGURATION
    return {"metadata": {"name": f"{app['metadata']['name']}-prom-conf"}, "data": data}


# -- what the webhook adds, as pod templates --------------------------------------------------------


def _pod_template(app: Mapping[str, Any], role: str) -> Obj:
    """Kubeflow's template (the spec's own, or one with only the Spark container, plus the owner),
    with the webhook's additions for ``role`` merged in where Spark takes them from a template."""
    spec = app["spec"]
    pod = spec[role]
    container_name = DRIVER_CONTAINER if role == "driver" else EXECUTOR_CONTAINER
    template: Obj = copy.deepcopy(pod.get("template")) or {"spec": {"containers": [{"name": container_name}]}}
    template.setdefault("apiVersion", "v1")
    template.setdefault("kind", "Pod")
    meta = template.setdefault("metadata", {})
    meta.setdefault("ownerReferences", []).append(owner_reference(app, controller=role == "driver"))
    pod_spec = template.setdefault("spec", {})
    containers = pod_spec.setdefault("containers", [])
    main = next((c for c in containers if c.get("name") == container_name), None)
    if main is None:
        main = containers[0] if containers else {"name": container_name}
        if not containers:
            containers.append(main)
    volumes = pod_spec.setdefault("volumes", [])

    def add_config_map(config_map: str, volume: str, path: str) -> None:
        volumes.append({"name": volume, "configMap": {"name": config_map}})
        main.setdefault("volumeMounts", []).append({"name": volume, "readOnly": True, "mountPath": path})

    main.setdefault("env", []).extend(pod.get("env") or [])
    main.setdefault("envFrom", []).extend(pod.get("envFrom") or [])
    if spec.get("hadoopConfigMap"):
        add_config_map(spec["hadoopConfigMap"], "hadoop-configmap-volume", "/etc/hadoop/conf")
        main["env"].append({"name": "HADOOP_CONF_DIR", "value": "/etc/hadoop/conf"})
    if spec.get("sparkConfigMap"):
        add_config_map(spec["sparkConfigMap"], "spark-configmap-volume", "/etc/spark/conf")
        main["env"].append({"name": "SPARK_CONF_DIR", "value": "/etc/spark/conf"})
    for config_map in pod.get("configMaps") or []:
        add_config_map(config_map["name"], f"{config_map['name']}-vol"[:63], config_map["path"])
    _add_volumes(spec, pod, main, volumes)
    for port in pod.get("ports") or []:
        main.setdefault("ports", []).append(
            {
                "name": port["name"],
                "containerPort": port["containerPort"],
                "protocol": port.get("protocol") or "TCP",
            }
        )
    if pod.get("hostNetwork"):
        pod_spec["hostNetwork"] = True
        pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet"
    if pod.get("hostAliases"):
        pod_spec.setdefault("hostAliases", []).extend(pod["hostAliases"])
    for init in pod.get("initContainers") or []:
        pod_spec.setdefault("initContainers", []).append(init)
    containers.extend(pod.get("sidecars") or [])
    for key in ("dnsConfig", "priorityClassName", "affinity", "terminationGracePeriodSeconds"):
        if pod.get(key) is not None:
            pod_spec[key] = pod[key]
    scheduler = spec.get("batchScheduler") or pod.get("schedulerName")
    if scheduler:
        pod_spec["schedulerName"] = scheduler
    if pod.get("nodeSelector"):
        pod_spec.setdefault("nodeSelector", {}).update(pod["nodeSelector"])
    if pod.get("tolerations"):
        pod_spec.setdefault("tolerations", []).extend(pod["tolerations"])
    gpu = pod.get("gpu")
    if gpu and gpu.get("name") and gpu.get("quantity", 0) > 0:
        main.setdefault("resources", {}).setdefault("limits", {})[gpu["name"]] = str(gpu["quantity"])
    _add_prometheus(app, role, main, volumes)
    if pod.get("securityContext") is not None:
        main["securityContext"] = pod["securityContext"]
    if pod.get("podSecurityContext") is not None:
        pod_spec["securityContext"] = pod["podSecurityContext"]
    if pod.get("lifecycle") is not None:
        main["lifecycle"] = pod["lifecycle"]
    if pod.get("shareProcessNamespace"):
        pod_spec["shareProcessNamespace"] = True
    for key in ("env", "envFrom"):
        if not main.get(key):
            main.pop(key, None)
    if not volumes:
        pod_spec.pop("volumes")
    return template


def _add_volumes(spec: Mapping[str, Any], pod: Mapping[str, Any], main: Obj, volumes: list[Obj]) -> None:
    """addVolumes: each mounted spec volume once (spark-local-dir-* ones go through Spark's settings)."""
    by_name = {v["name"]: v for v in spec.get("volumes") or []}
    added: set[str] = set()
    for mount in pod.get("volumeMounts") or []:
        if mount["name"].startswith(LOCAL_DIR_PREFIX) or mount["name"] not in by_name:
            continue
        if mount["name"] not in added:
            volumes.append(by_name[mount["name"]])
            added.add(mount["name"])
        main.setdefault("volumeMounts", []).append(mount)


def _add_prometheus(app: Mapping[str, Any], role: str, main: Obj, volumes: list[Obj]) -> None:
    monitoring = app["spec"].get("monitoring")
    if not monitoring or monitoring.get("prometheus") is None:
        return
    if monitoring.get("metricsPropertiesFile") and monitoring["prometheus"].get("configFile"):
        return
    if not monitoring.get("exposeDriverMetrics" if role == "driver" else "exposeExecutorMetrics"):
        return
    prometheus = monitoring["prometheus"]
    name = f"{app['metadata']['name']}-prom-conf"
    volumes.append({"name": f"{name}-vol", "configMap": {"name": name}})
    main.setdefault("volumeMounts", []).append(
        {"name": f"{name}-vol", "readOnly": True, "mountPath": METRICS_DIR}
    )
    main.setdefault("ports", []).append(
        {
            "name": prometheus.get("portName") or "jmx-exporter",
            "containerPort": prometheus.get("port") or DEFAULT_PROMETHEUS_PORT,
            "protocol": "TCP",
        }
    )


# Kubeflow's defaults (pkg/common/prometheus.go, v2.5.2): what its ConfigMap holds when the spec gives
# none. They are data, the interface users' dashboards are built on: metric names and labels.
DEFAULT_METRICS_PROPERTIES = """
*.sink.jmx.class=org.apache.spark.metrics.sink.JmxSink
driver.source.jvm.class=org.apache.spark.metrics.source.JvmSource
executor.source.jvm.class=org.apache.spark.metrics.source.JvmSource"""

DEFAULT_PROMETHEUS_CONFIGURATION = ""  # filled in below, from the rules table


def _rule(pattern: str, name: str, kind: str, labels: Mapping[str, str]) -> str:
    lines = [f"  - pattern: {pattern}", f"    name: {name}", f"    type: {kind}", "    labels:"]
    lines += [f'      {key}: "{value}"' for key, value in labels.items()]
    return "\n".join(lines) + "\n"


_APP = {"app_namespace": "$1", "app_id": "$2"}
_EXECUTOR = {**_APP, "executor_id": "$3"}
_RULES = [
    (r"metrics<name=(\S+)\.(\S+)\.driver\.(BlockManager|DAGScheduler|jvm)\.(\S+)><>Value",
     "spark_driver_$3_$4", "GAUGE", _APP),
    (r"metrics<name=(\S+)\.(\S+)\.driver\.(\S+)\.StreamingMetrics\.streaming\.(\S+)><>Value",
     "spark_streaming_driver_$4", "GAUGE", _APP),
    (r"metrics<name=(\S+)\.(\S+)\.driver\.spark\.streaming\.(\S+)\.(.*)><>Value",
     "spark_structured_streaming_driver_$4", "GAUGE", {**_APP, "query_name": "$3"}),
    (r"metrics<name=(\S+)\.(\S+)\.(\S+)\.executor\.(\S+)><>Value", "spark_executor_$4", "GAUGE", _EXECUTOR),
    (r"metrics<name=(\S+)\.(\S+)\.driver\.DAGScheduler\.(.*)><>Count",
     "spark_driver_DAGScheduler_$3_count", "COUNTER", _APP),
    (r"metrics<name=(\S+)\.(\S+)\.driver\.HiveExternalCatalog\.(.*)><>Count",
     "spark_driver_HiveExternalCatalog_$3_count", "COUNTER", _APP),
    (r"metrics<name=(\S+)\.(\S+)\.driver\.CodeGenerator\.(.*)><>Count",
     "spark_driver_CodeGenerator_$3_count", "COUNTER", _APP),
    (r"metrics<name=(\S+)\.(\S+)\.driver\.LiveListenerBus\.(.*)><>Count",
     "spark_driver_LiveListenerBus_$3_count", "COUNTER", _APP),
    (r"metrics<name=(\S+)\.(\S+)\.driver\.LiveListenerBus\.(.*)><>Value",
     "spark_driver_LiveListenerBus_$3", "GAUGE", _APP),
    (r"metrics<name=(\S+)\.(\S+)\.(.*)\.executor\.(.*)><>Count", "spark_executor_$4_count", "COUNTER", _EXECUTOR),
    (r"metrics<name=(\S+)\.(\S+)\.([0-9]+)\.(jvm|NettyBlockTransfer)\.(.*)><>Value",
     "spark_executor_$4_$5", "GAUGE", _EXECUTOR),
    (r"metrics<name=(\S+)\.(\S+)\.([0-9]+)\.HiveExternalCatalog\.(.*)><>Count",
     "spark_executor_HiveExternalCatalog_$4_count", "COUNTER", _EXECUTOR),
    (r"metrics<name=(\S+)\.(\S+)\.([0-9]+)\.CodeGenerator\.(.*)><>Count",
     "spark_executor_CodeGenerator_$4_count", "COUNTER", _EXECUTOR),
]  # fmt: skip
DEFAULT_PROMETHEUS_CONFIGURATION = "\nlowercaseOutputName: true\nattrNameSnakeCase: true\nrules:\n" + "".join(
    _rule(*rule) for rule in _RULES
)
