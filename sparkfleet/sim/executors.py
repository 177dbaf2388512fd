"""Executor pods exactly as a Spark 4.0 driver builds them, without a JVM: for the pod simulator.

A running Spark driver asks Kubernetes for executors with ``KubernetesExecutorBuilder``: it loads
the executor pod template (``spark.kubernetes.executor.podTemplateFile``), then its feature steps
fill the pod in from the driver's SparkConf. This module does the same, step by step, from the
same inputs (a :class:`Driver`: its conf, environment, pod and parsed template) and raises what
Spark raises (:mod:`sparkfleet.sim.sparkconf`), with Spark's message:

- BasicExecutorFeatureStep: ``<podNamePrefix>-exec-<id>``, host name, labels (the custom
  ``spark.kubernetes.executor.label.*`` ones, refused if they name a label Spark reserves, and
  Spark's own), annotations, owner = the driver pod, image and pull policy, cpu and memory (heap +
  overhead + off-heap + PySpark memory), ``SPARK_*`` env, ``spark.executorEnv.*``, ``SPARK_JAVA_OPT_*``,
  the block manager port, ``args: [executor]``, the executor ConfigMap volume, node selectors,
  image pull secrets, scheduler name;
- ExecutorKubernetesCredentialsFeatureStep (service account), MountSecretsFeatureStep,
  EnvSecretsFeatureStep, MountVolumesFeatureStep (``spark.kubernetes.executor.volumes.*``),
  HadoopConfExecutorFeatureStep, LocalDirsFeatureStep (``spark-local-dir-*`` emptyDirs);
- and ExecutorPodsAllocator's last touch: the Spark container appended after the template's others.

It is cheap per pod: :class:`ExecutorPods` does everything that does not depend on the executor
id once per driver; :meth:`ExecutorPods.pod` only assembles. Spark's iteration orders that come
from hash maps (``spark.executorEnv.*``, the ``-D`` options in ``SPARK_JAVA_OPT_*``, secret and
volume lists) are sorted here; Kubernetes gives them no meaning. Custom feature steps
(``spark.kubernetes.executor.pod.featureSteps``) are classes in the image and are not run.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from sparkfleet.sim import sparkconf as sc
from sparkfleet.sim.driver import (
    CONF_DIR,
    Driver,
    app_name_label,
    conf_dir_files,
    driver_conf,
    driver_env,
    owner_reference,
    resource_name_prefix,
)
from sparkfleet.sim.sparkconf import Conf, IllegalArgument, SparkException, require
from sparkfleet.sim.volumes import executor_volumes

Obj = dict[str, Any]

EXECUTOR_CONTAINER = "spark-kubernetes-executor"
CONF_VOLUME = "spark-conf-volume-exec"
HADOOP_CONF_VOLUME = "hadoop-properties"
HADOOP_CONF_DIR = "/opt/hadoop/conf"
LOCAL_DIR_VOLUME = "spark-local-dir-"
DEFAULT_DRIVER_PORT, DEFAULT_BLOCK_MANAGER_PORT = 7078, 7079
FILE_MODE = 420  # 0644, what Spark asks for the executor ConfigMap's files
# The labels Spark sets on every executor, in the order its check for custom ones meets them
# (the iteration order of the Scala HashMap that holds them: its message names the first one found).
RESERVED_LABELS = (
    "spark-exec-id",
    "spark-app-name",
    "spark-version",
    "spark-exec-resourceprofile-id",
    "spark-role",
    "spark-app-selector",
)
_DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_POD_NAME_PREFIX = re.compile(f"^{_DNS_LABEL}(\\.{_DNS_LABEL})*$")
_ENV_KEY = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_PULL_POLICIES = ("Always", "Never", "IfNotPresent")


# -- the builder ----------------------------------------------------------------------------


class ExecutorPods:
    """Builds the executor pods of one driver; raises a :class:`sparkconf.SparkError` where Spark
    would refuse (then every executor is refused alike: nothing it checks depends on the id)."""

    def __init__(self, driver: Driver):
        conf = driver.conf
        self.driver = driver
        self.conf = conf
        self.app_id = conf.get("spark.app.id", f"spark-application-{int(time.time() * 1000)}")
        self.namespace = conf.get("spark.kubernetes.namespace", "default")
        self.prefix = self._prefix()
        base_pod, base_container = _select_container(
            driver.template, conf.get("spark.kubernetes.executor.podTemplateContainerName")
        )
        self._base_pod = base_pod
        self._base_container = base_container
        self.image = sc.first(
            conf, "spark.kubernetes.executor.container.image", "spark.kubernetes.container.image"
        )
        if self.image is None:
            raise SparkException("Must specify the executor container image")
        self.block_manager_port = sc.get_int_or(conf, "spark.blockManager.port", DEFAULT_BLOCK_MANAGER_PORT)
        require(
            self.block_manager_port == 0 or 1024 <= self.block_manager_port < 65536,
            "port number must be 0 or in [1024, 65535]",
        )
        host = conf.get("spark.driver.host", (driver.pod.get("status") or {}).get("podIP") or "")
        port = sc.get_int_or(conf, "spark.driver.port", DEFAULT_DRIVER_PORT)
        self.driver_url = f"spark://CoarseGrainedScheduler@{host}:{port}"
        self.python = conf.get("spark.kubernetes.resource.type") == "python"
        self.disable_conf_map = sc.get_bool(conf, "spark.kubernetes.executor.disableConfigMap", False)
        self._resources()
        self.pull_policy = conf.get("spark.kubernetes.container.image.pullPolicy", "IfNotPresent")
        if self.pull_policy not in _PULL_POLICIES:
            raise IllegalArgument(
                "The value of spark.kubernetes.container.image.pullPolicy should be one of "
                f"{', '.join(_PULL_POLICIES)}, but was {self.pull_policy}"
            )
        self.decommission = sc.get_bool(conf, "spark.decommission.enabled", False)
        self.custom_labels = sc.with_prefix(conf, "spark.kubernetes.executor.label.")
        for key in RESERVED_LABELS:
            require(
                key not in self.custom_labels,
                f"Custom executor labels cannot contain {key} as it is reserved for Spark.",
            )
        self.annotations = sc.with_prefix(conf, "spark.kubernetes.executor.annotation.")
        self.restart_policy = (
            "Always" if conf.get("spark.kubernetes.allocation.pods.allocator") == "statefulset" else "Never"
        )
        self.node_selector = {
            **sc.with_prefix(conf, "spark.kubernetes.node.selector."),
            **sc.with_prefix(conf, "spark.kubernetes.executor.node.selector."),
        }
        self.pull_secrets = [
            {"name": name}
            for name in sc.to_sequence(conf.get("spark.kubernetes.container.image.pullSecrets", ""))
        ]
        self.scheduler_name = sc.first(
            conf, "spark.kubernetes.executor.scheduler.name", "spark.kubernetes.scheduler.name"
        )
        self.service_account = sc.first(
            conf,
            "spark.kubernetes.authenticate.executor.serviceAccountName",
            "spark.kubernetes.authenticate.driver.serviceAccountName",
        )
        self.secret_mounts = sc.with_prefix(conf, "spark.kubernetes.executor.secrets.")
        self.env_secrets = [_secret_env(name, ref) for name, ref in sorted(
            sc.with_prefix(conf, "spark.kubernetes.executor.secretKeyRef.").items()
        )]  # fmt: skip
        self.volumes = executor_volumes(conf)
        self.hadoop_conf_map = conf.get("spark.kubernetes.executor.hadoopConfigMapName")
        self.tmpfs = sc.get_bool(conf, "spark.kubernetes.local.dirs.tmpfs", False)
        self.environment = {  # invalid names are dropped, with a warning in the driver's log
            name: value
            for name, value in sorted(sc.with_prefix(conf, "spark.executorEnv.").items())
            if _ENV_KEY.fullmatch(name)
        }
        self.spark_opts = [f"-D{k}={v}" for k, v in sorted(conf.items()) if sc.is_executor_startup_conf(k)]
        self.conf_items = [
            {"key": name, "mode": FILE_MODE, "path": name}
            for name in sorted(conf_dir_files(conf, driver.conf_files))
        ]
        self.driver_owner = owner_reference(driver.pod)

    def _prefix(self) -> str:
        prefix = self.conf.get("spark.kubernetes.executor.podNamePrefix")
        if prefix is None:
            return self.driver.default_prefix or resource_name_prefix(
                self.conf.get("spark.app.name", "spark")
            )
        if not (len(prefix) + 16 <= 253 and _POD_NAME_PREFIX.match(prefix)):
            raise IllegalArgument(
                f"'{prefix}' in spark.kubernetes.executor.podNamePrefix is invalid. must conform https://"
                "kubernetes.io/docs/concepts/overview/working-with-objects/names/#dns-subdomain-names and "
                "the value length <= 237"
            )
        return prefix

    def _resources(self) -> None:
        """ResourceProfile.getResourcesForClusterManager for the default profile."""
        conf = self.conf
        self.cores = sc.get_int(conf, "spark.executor.cores", 1)
        self.memory_mib = sc.get_mib(conf, "spark.executor.memory", "1g") or 0
        min_overhead = sc.get_mib(conf, "spark.executor.minMemoryOverhead", "384m") or 0
        if "spark.executor.memoryOverheadFactor" in conf:
            factor = sc.get_double(conf, "spark.executor.memoryOverheadFactor", 0.1)
            if not factor > 0:
                raise IllegalArgument(
                    f"'{_java_double(factor)}' in spark.executor.memoryOverheadFactor is invalid. "
                    "Ensure that memory overhead is a double greater than 0"
                )
        else:
            factor = sc.get_double(conf, "spark.kubernetes.memoryOverheadFactor", 0.1)
            if not factor >= 0:
                raise IllegalArgument(
                    f"'{_java_double(factor)}' in spark.kubernetes.memoryOverheadFactor is invalid. "
                    "Ensure that memory overhead is non-negative"
                )
        overhead = sc.get_mib(conf, "spark.executor.memoryOverhead", None)
        if overhead is None:
            overhead = max(int(factor * self.memory_mib), min_overhead)
        off_heap = 0
        if sc.get_bool(
            conf, "spark.memory.offHeap.enabled", sc.get_bool(conf, "spark.unsafe.offHeap", False)
        ):
            off_heap = sc.byte_string_as(conf.get("spark.memory.offHeap.size", "0"), 1) // sc.MIB
            require(
                off_heap > 0,
                "spark.memory.offHeap.size must be > 0 when spark.memory.offHeap.enabled == true",
            )
        pyspark = (sc.get_mib(conf, "spark.executor.pyspark.memory", None) or 0) if self.python else 0
        self.total_mib = self.memory_mib + overhead + off_heap + pyspark
        self.cpu_request = conf.get("spark.kubernetes.executor.request.cores", str(self.cores))
        self.cpu_limit = conf.get("spark.kubernetes.executor.limit.cores")
        self.custom_resources: dict[str, str] = {}
        for name, settings in _resource_requests(conf).items():
            vendor = settings.get("vendor")
            if not vendor:
                raise SparkException(f"Resource: {name} was requested, but vendor was not specified.")
            self.custom_resources[f"{vendor}/{name}"] = settings["amount"]

    # -- one executor ------------------------------------------------------------------

    def pod(self, executor_id: int | str) -> Obj:
        """The pod Spark creates for executor ``executor_id``."""
        eid = str(executor_id)
        name = f"{self.prefix}-exec-{eid}"
        base_meta: Obj = self._base_pod.get("metadata") or {}
        base_spec: Obj = self._base_pod.get("spec") or {}
        container, volumes = self._container(eid), list(base_spec.get("volumes") or [])
        if not self.disable_conf_map:
            volumes.append({"name": CONF_VOLUME, "configMap": {"name": self.driver.conf_map_name,
                                                                "items": self.conf_items}})  # fmt: skip
        spec: Obj = {
            **base_spec,
            "hostname": _host_name(name),
            "restartPolicy": self.restart_policy,
            "nodeSelector": {**(base_spec.get("nodeSelector") or {}), **self.node_selector},
            "imagePullSecrets": [*(base_spec.get("imagePullSecrets") or []), *self.pull_secrets],
        }
        if self.scheduler_name is not None:
            spec["schedulerName"] = self.scheduler_name
        if self.service_account is not None and not base_spec.get("serviceAccount"):
            spec["serviceAccount"] = spec["serviceAccountName"] = self.service_account
        mounts: list[Obj] = list(container.get("volumeMounts") or [])
        env: list[Obj] = list(container["env"])
        for secret, path in sorted(self.secret_mounts.items()):
            volumes.append({"name": f"{secret}-volume", "secret": {"secretName": secret}})
            mounts.append({"name": f"{secret}-volume", "mountPath": path})
        env += self.env_secrets
        for index, volume in enumerate(self.volumes):
            mounts.append(volume.mount)
            source = volume.source
            if volume.type == "persistentVolumeClaim":
                source = {**source, "claimName": self._claim_name(source["claimName"], eid, index)}
            volumes.append({"name": volume.name, volume.type: source})
        if self.hadoop_conf_map is not None:
            volumes.append({"name": HADOOP_CONF_VOLUME, "configMap": {"name": self.hadoop_conf_map}})
            mounts.append({"name": HADOOP_CONF_VOLUME, "mountPath": HADOOP_CONF_DIR})
            env.append({"name": "HADOOP_CONF_DIR", "value": HADOOP_CONF_DIR})
        local_dirs = [m["mountPath"] for m in mounts if str(m.get("name", "")).startswith(LOCAL_DIR_VOLUME)]
        if not local_dirs:
            local_dirs = self._local_dirs()
            for index, path in enumerate(local_dirs, start=1):
                empty_dir = {"medium": "Memory"} if self.tmpfs else {}
                volumes.append({"name": f"{LOCAL_DIR_VOLUME}{index}", "emptyDir": empty_dir})
                mounts.append({"name": f"{LOCAL_DIR_VOLUME}{index}", "mountPath": path})
        env.append({"name": "SPARK_LOCAL_DIRS", "value": ",".join(local_dirs)})
        spec["volumes"] = volumes
        spec["containers"] = [
            *(base_spec.get("containers") or []),
            {**container, "env": env, "volumeMounts": mounts},
        ]
        labels = {
            **(base_meta.get("labels") or {}),
            **{k: sc.substitute_ids(v, self.app_id, eid) for k, v in self.custom_labels.items()},
            "spark-version": self.driver.spark_version,
            "spark-exec-id": eid,
            "spark-app-selector": self.app_id,
            "spark-app-name": app_name_label(self.conf.get("spark.app.name", "spark")),
            "spark-role": "executor",
            "spark-exec-resourceprofile-id": "0",
        }
        annotations = {k: sc.substitute_ids(v, self.app_id, eid) for k, v in self.annotations.items()}
        metadata: Obj = {
            **base_meta,
            "name": name,
            "namespace": self.namespace,
            "labels": labels,
            "annotations": {**(base_meta.get("annotations") or {}), **annotations},
            "ownerReferences": [*(base_meta.get("ownerReferences") or []), self.driver_owner],
        }
        return {**self._base_pod, "apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

    def claims(self, executor_id: int | str) -> list[Obj]:
        """The PersistentVolumeClaims Spark creates with the pod (volumes with storageClass and size)."""
        eid = str(executor_id)
        return [
            {**volume.claim, "metadata": {**volume.claim["metadata"],
                                          "name": self._claim_name(volume.claim["metadata"]["name"], eid, i)}}
            for i, volume in enumerate(self.volumes)
            if volume.claim is not None
        ]  # fmt: skip

    def _claim_name(self, template: str, eid: str, index: int) -> str:
        return template.replace("OnDemand", f"{self.prefix}-exec-{eid}-pvc-{index}").replace(
            "SPARK_EXECUTOR_ID", eid
        )

    def _local_dirs(self) -> list[str]:
        configured = self.driver.env.get("SPARK_LOCAL_DIRS", self.conf.get("spark.local.dir"))
        return (f"/var/data/spark-{uuid.uuid4()}" if configured is None else configured).split(",")

    def _container(self, eid: str) -> Obj:
        base = self._base_container
        resources: Obj = dict(base.get("resources") or {})
        memory = f"{self.total_mib}Mi"
        requests = {**(resources.get("requests") or {}), "memory": memory, "cpu": self.cpu_request}
        limits = {**(resources.get("limits") or {}), "memory": memory, **self.custom_resources}
        if self.cpu_limit is not None:
            limits["cpu"] = self.cpu_limit
        resources.update(requests=requests, limits=limits)
        container: Obj = {
            **base,
            "name": base.get("name") or EXECUTOR_CONTAINER,
            "image": self.image,
            "imagePullPolicy": self.pull_policy,
            "resources": resources,
            "env": [*(base.get("env") or []), *self._env(eid)],
            "args": [*(base.get("args") or []), "executor"],
        }
        if self.block_manager_port:
            container["ports"] = [
                *(base.get("ports") or []),
                {"name": "blockmanager", "containerPort": self.block_manager_port},
            ]
        if not self.disable_conf_map:
            conf_mount = {"name": CONF_VOLUME, "mountPath": CONF_DIR}
            container["volumeMounts"] = [*(base.get("volumeMounts") or []), conf_mount]
        if self.decommission:
            script = self.conf.get("spark.kubernetes.decommission.script", "/opt/decom.sh")
            container["lifecycle"] = {"preStop": {"exec": {"command": [script]}}}
        return container

    def _env(self, eid: str) -> list[Obj]:
        conf, app_id = self.conf, self.app_id
        pairs: list[tuple[str, str | None]] = [
            ("SPARK_USER", self.driver.env.get("SPARK_USER", "spark")),  # else the image's user
            ("SPARK_DRIVER_URL", self.driver_url),
            ("SPARK_EXECUTOR_CORES", str(self.cores)),
            ("SPARK_EXECUTOR_MEMORY", f"{self.memory_mib}m"),
            ("SPARK_APPLICATION_ID", app_id),
            ("SPARK_CONF_DIR", CONF_DIR),
            ("SPARK_EXECUTOR_ID", eid),
            ("SPARK_RESOURCE_PROFILE_ID", "0"),
        ]
        if conf.get("spark.ui.custom.executor.log.url") is not None:
            pairs += [
                ("SPARK_EXECUTOR_ATTRIBUTE_APP_ID", app_id),
                ("SPARK_EXECUTOR_ATTRIBUTE_EXECUTOR_ID", eid),
            ]
        environment = dict(self.environment)
        if "SPARK_EXECUTOR_DIRS" in environment:
            dirs = environment["SPARK_EXECUTOR_DIRS"]
            environment["SPARK_EXECUTOR_DIRS"] = dirs.replace("SPARK_APPLICATION_ID", app_id).replace(
                "SPARK_EXECUTOR_ID", eid
            )
        pairs += environment.items()
        if (
            sc.get_bool(conf, "spark.authenticate", False)
            and "spark.authenticate.secret.executor.file" not in conf
        ):
            pairs.append(("_SPARK_AUTH_SECRET", self.driver.auth_secret))
        pairs.append(("SPARK_CLASSPATH", conf.get("spark.executor.extraClassPath")))
        user_opts = sc.split_command(
            sc.substitute_ids(conf.get("spark.executor.extraJavaOptions", ""), app_id, eid)
        )
        pairs += [(f"SPARK_JAVA_OPT_{i}", opt) for i, opt in enumerate([*user_opts, *self.spark_opts])]
        env: list[Obj] = [{"name": k, "value": v} for k, v in pairs if v is not None]
        return [
            *env,
            {"name": "SPARK_EXECUTOR_POD_IP",
             "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
            {"name": "SPARK_EXECUTOR_POD_NAME",
             "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        ]  # fmt: skip


def executor_pod(
    properties: Mapping[str, str],
    template: Obj | None,
    driver_pod: Obj,
    executor_id: int | str,
    **driver: Any,
) -> Obj:
    """The pod of one executor, from what a driver has (the properties of its properties file, the
    parsed executor template, its own pod). Builds an :class:`ExecutorPods` each call: for many
    executors of one driver, make one and call :meth:`ExecutorPods.pod`."""
    conf = driver_conf(properties, driver_pod)
    env = driver.pop("env", None)
    context = Driver(
        conf=conf, pod=driver_pod, template=template, env=env or driver_env(driver_pod), **driver
    )
    return ExecutorPods(context).pod(executor_id)


# -- helpers ----------------------------------------------------------------------------------


def _select_container(template: Obj | None, name: str | None) -> tuple[Obj, Obj]:
    """``KubernetesUtils.selectSparkContainer``: the named container (else the first) apart."""
    if template is None:
        return {}, {}
    spec: Obj = template.get("spec") or {}
    containers: list[Obj] = list(spec.get("containers") or [])
    named = [c for c in containers if c.get("name") == name] if name is not None else []
    if len(named) == 1:
        chosen = named[0]
        rest = [c for c in containers if c.get("name") != name]
    elif containers:
        chosen, rest = containers[0], containers[1:]
    else:
        return template, {}
    return {**template, "spec": {**spec, "containers": rest}}, chosen


def _host_name(pod_name: str) -> str:
    """The last 63 characters of the pod name, as a host name."""
    host = re.sub(r"^[^\w]+", "", pod_name[-63:], flags=re.ASCII)
    return re.sub(r"[^\w-]+", "_", host, flags=re.ASCII)


def _java_double(value: float) -> str:
    """A double as Java's ``Double.toString`` prints the ordinary values a conf holds."""
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa if '.' in mantissa else mantissa + '.0'}E{int(exponent)}"
    return text


def _secret_env(name: str, ref: str) -> Obj:
    parts = ref.split(":")
    while parts and parts[-1] == "":  # Java's split drops trailing empty strings
        parts.pop()
    require(len(parts) == 2, "SecretKeyRef must be in the form name:key.")
    return {"name": name, "valueFrom": {"secretKeyRef": {"key": parts[1], "name": parts[0]}}}


def _resource_requests(conf: Conf) -> dict[str, dict[str, str]]:
    """``spark.executor.resource.<name>.{amount,vendor,...}``, by resource name."""
    requests: dict[str, dict[str, str]] = {}
    for key, value in sc.with_prefix(conf, "spark.executor.resource.").items():
        name, _, setting = key.rpartition(".")
        if name:
            requests.setdefault(name, {})[setting] = value
    for name, settings in requests.items():
        if "amount" not in settings:
            raise SparkException(f"You must specify an amount for {name}")
        settings["amount"] = str(sc.get_int(settings, "amount", 0))
    return requests
