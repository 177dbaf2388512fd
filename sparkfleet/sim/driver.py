"""The simulated Spark driver's own state: its SparkConf, environment, files and template.

What a Spark 4.0 driver in a sparkfleet driver pod has when it starts asking for executors, made
from the same inputs it has (the pod, and the ConfigMaps its volumes mount): the SparkConf
SparkSubmit and SparkContext make of its properties file, its container's environment, the files
in its SPARK_CONF_DIR, the executor pod template as Spark loads it, and the executor ConfigMap it
creates. Pure apart from the random ids Spark draws (``KubernetesUtils.uniqueID``).
"""

from __future__ import annotations

import datetime
import posixpath
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from sparkfleet.operator.spark.submission import parse_properties
from sparkfleet.sim import sparkconf as sc
from sparkfleet.sim.sparkconf import Conf, IllegalArgument, SparkException, require

Obj = dict[str, Any]

SPARK_VERSION = "4.0.2"
"""The version the simulated Spark reports when the driver pod does not say (its spark-version label)."""
DRIVER_CONTAINER = "spark-kubernetes-driver"
CONF_DIR = "/opt/spark/conf"
DEFAULT_EXECUTORS = 2
CONFIG_MAP_MAX_SIZE = 1_048_576
_SKIPPED_CONF_FILE = re.compile(r".*\.template|spark.*(conf|properties)|.*\.(gz|zip|jar|tar)")
TEMPLATE_ERROR = "Could not load pod from template file."
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: parsed once per driver, cheaply


@dataclass(frozen=True, slots=True)
class Driver:
    """What a running driver has when it asks for executors."""

    conf: Mapping[str, str]
    """Its SparkConf (:func:`driver_conf`)."""
    pod: Obj
    """Its pod as the API server returns it (name, uid, status.podIP)."""
    template: Obj | None = None
    """The executor pod template, parsed (:func:`load_template`); None when the conf names none."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Its container's environment (:func:`driver_env`)."""
    conf_files: Mapping[str, str] = field(default_factory=dict)
    """The files in its SPARK_CONF_DIR (name -> content), which Spark hands on to executors."""
    conf_map_name: str = "spark-exec-conf-map"
    """The executor ConfigMap this driver makes (:func:`executor_conf_map_name`)."""
    default_prefix: str = ""
    """The pod name prefix Spark picks when ``spark.kubernetes.executor.podNamePrefix`` is unset."""
    auth_secret: str = ""
    """The secret Spark generates when ``spark.authenticate`` is on."""

    @property
    def spark_version(self) -> str:
        labels = self.pod.get("metadata", {}).get("labels") or {}
        return str(labels.get("spark-version") or SPARK_VERSION)


def driver_container(driver_pod: Obj) -> Obj:
    containers: list[Obj] = (driver_pod.get("spec") or {}).get("containers") or [{}]
    return next((c for c in containers if c.get("name") == DRIVER_CONTAINER), containers[0])


def driver_env(driver_pod: Obj) -> dict[str, str]:
    """The driver container's environment as the kubelet sets it (field references resolved)."""
    meta = driver_pod.get("metadata") or {}
    fields = {
        "status.podIP": (driver_pod.get("status") or {}).get("podIP"),
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
    }
    env: dict[str, str] = {}
    for var in driver_container(driver_pod).get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif (ref := (var.get("valueFrom") or {}).get("fieldRef")) and fields.get(ref.get("fieldPath")):
            env[var["name"]] = str(fields[ref["fieldPath"]])
    return env


def driver_conf(properties: Mapping[str, str], driver_pod: Obj) -> dict[str, str]:
    """The SparkConf of a driver started from ``properties`` (its ``--properties-file``).

    What SparkSubmit and SparkContext make of it in the driver container: the file's ``spark.*``
    keys with their values trimmed, then what the image's entrypoint passes as ``--conf``
    (``spark.driver.bindAddress`` and ``spark.executorEnv.SPARK_DRIVER_POD_IP``, the pod IP),
    client deploy mode, and the driver's executor id.
    """
    conf = {key: value.strip() for key, value in properties.items() if key.startswith("spark.")}
    pod_ip = (driver_pod.get("status") or {}).get("podIP")
    if pod_ip:
        conf["spark.driver.bindAddress"] = pod_ip
        conf["spark.executorEnv.SPARK_DRIVER_POD_IP"] = pod_ip
        conf.setdefault("spark.driver.host", pod_ip)  # SparkContext: the local address
    conf["spark.submit.deployMode"] = "client"
    conf["spark.executor.id"] = "driver"
    return conf


def load_template(text: str) -> Obj:
    """The executor pod template as Spark loads it; a SparkException when it cannot (a driver
    fails to start then: KubernetesClusterManager loads it when the SparkContext starts)."""
    try:
        pod = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise SparkException(TEMPLATE_ERROR) from exc
    if not isinstance(pod, dict):
        raise SparkException(TEMPLATE_ERROR)  # what Jackson cannot map to a Pod
    spec = pod.get("spec")
    containers = spec.get("containers", []) if isinstance(spec, dict) else None
    if not isinstance(containers, list) or not all(isinstance(c, dict) for c in containers):
        raise SparkException(
            TEMPLATE_ERROR
        )  # a Pod with no spec: selectSparkContainer's NullPointerException
    return pod


def unique_id(now: float | None = None) -> str:
    """``KubernetesUtils.uniqueID``: 24 random bits and the low 40 bits of the time in ms, in hex."""
    millis = int((time.time() if now is None else now) * 1000) & 0xFF_FFFF_FFFF
    return secrets.token_hex(3) + format(millis, "x")


def executor_conf_map_name(now: float | None = None) -> str:
    return f"spark-exec-{unique_id(now)}-conf-map"


def resource_name_prefix(app_name: str, now: float | None = None) -> str:
    """``KubernetesConf.getResourceNamePrefix``: the executor name prefix when the conf sets none."""
    name = f"{app_name}-{unique_id(now)}".strip().lower()
    name = re.sub("-+", "-", re.sub(r"[^a-z0-9\-]", "-", name))
    return re.sub("^[0-9]", "x", name.removeprefix("-"))


def app_name_label(app_name: str) -> str:
    """``KubernetesConf.getAppNameLabel``: the spark-app-name label."""
    name = re.sub("-+", "-", re.sub(r"[^a-z0-9\-]", "-", app_name.strip().lower()))[:63]
    return name.removeprefix("-").removesuffix("-")


def initial_executors(conf: Conf) -> int:
    """How many executors the driver asks for first (``SchedulerBackendUtils``)."""
    if not sc.get_bool(conf, "spark.dynamicAllocation.enabled", False):
        return sc.get_int(conf, "spark.executor.instances", DEFAULT_EXECUTORS)
    minimum = sc.get_int(conf, "spark.dynamicAllocation.minExecutors", 0)
    initial = max(
        minimum,
        sc.get_int(conf, "spark.dynamicAllocation.initialExecutors", minimum),
        sc.get_int(conf, "spark.executor.instances", 0),
    )
    maximum = sc.get_int(conf, "spark.dynamicAllocation.maxExecutors", 2**31 - 1)
    require(
        minimum <= initial <= maximum,
        f"initial executor number {initial} must between min executor number {minimum} "
        f"and max executor number {maximum}",
    )
    return initial


def executor_conf_map(driver: Driver, namespace: str, app_id: str) -> Obj:
    """The ConfigMap a driver creates for its executors' SPARK_CONF_DIR (when not disabled)."""
    files = conf_dir_files(driver.conf, driver.conf_files)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    properties = (
        f"#Java properties built from Kubernetes config map with name: {driver.conf_map_name}\n"
        f"#{stamp}\nspark.kubernetes.namespace={namespace}\n"
    )
    meta = driver.pod["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": driver.conf_map_name,
            "namespace": namespace,
            "labels": {"spark-app-selector": app_id, "spark-role": "executor"},
            "ownerReferences": [owner_reference(driver.pod)] if meta.get("uid") else [],
        },
        "immutable": True,
        "data": {**files, "spark.properties": properties, "spark.kubernetes.namespace": namespace},
    }


def conf_dir_files(conf: Conf, files: Mapping[str, str]) -> dict[str, str]:
    """``KubernetesClientUtils.loadSparkConfDirFiles``: the driver's conf files executors get
    (not templates, Spark's own properties, archives or what would not fit), smallest first."""
    max_size = sc.get_int(conf, "spark.kubernetes.configMap.maxSize", CONFIG_MAP_MAX_SIZE)
    candidates = [
        (name, content)
        for name, content in sorted(files.items())
        if not _SKIPPED_CONF_FILE.fullmatch(name) and len(content.encode()) + len(name) <= max_size
    ]
    candidates.sort(key=lambda item: len(item[0]) + len(item[1].encode()))
    kept: dict[str, str] = {}
    total = 0
    for name, content in candidates:
        if total + len(name) + len(content) < max_size:
            kept[name] = content
            total += len(name) + len(content)
    return kept


def new_driver(
    driver_pod: Obj, config_maps: Mapping[str, Mapping[str, str]], now: float | None = None
) -> Driver:
    """The driver that starts in ``driver_pod``, whose volumes mount ``config_maps`` (name -> data).

    It reads its properties file (``--properties-file``) and the executor pod template its conf
    names from the files those volumes put in its container. Raises what stops a driver while its
    SparkContext starts (``at_start``): no properties file, or a template Spark cannot load.
    """
    files = mounted_files(driver_pod, config_maps)
    args = driver_container(driver_pod).get("args") or []
    at = args.index("--properties-file") if "--properties-file" in args else -1
    properties_file = args[at + 1] if 0 <= at < len(args) - 1 else f"{CONF_DIR}/spark.properties"
    if properties_file not in files:
        raise IllegalArgument(
            f"requirement failed: Properties file {properties_file} does not exist", at_start=True
        )
    conf = driver_conf(parse_properties(files[properties_file]), driver_pod)
    template_file = conf.get("spark.kubernetes.executor.podTemplateFile")
    template = None
    if template_file is not None:
        if template_file not in files:
            raise SparkException(TEMPLATE_ERROR, at_start=True)  # its FileNotFoundException, wrapped
        try:
            template = load_template(files[template_file])
        except SparkException as exc:
            exc.at_start = True
            raise
    env = driver_env(driver_pod)
    conf_dir = env.get("SPARK_CONF_DIR", CONF_DIR).rstrip("/")
    return Driver(
        conf=conf,
        pod=driver_pod,
        template=template,
        env=env,
        conf_files={posixpath.basename(p): t for p, t in files.items() if posixpath.dirname(p) == conf_dir},
        conf_map_name=executor_conf_map_name(now),
        default_prefix=resource_name_prefix(conf.get("spark.app.name", "spark"), now),
        auth_secret=secrets.token_hex(32),
    )


def mounted_config_maps(driver_pod: Obj) -> list[str]:
    """The ConfigMaps the driver container mounts (what :func:`new_driver` needs the data of)."""
    container = driver_container(driver_pod)
    volumes = {v.get("name"): v.get("configMap") for v in (driver_pod.get("spec") or {}).get("volumes") or []}
    names = []
    for mount in container.get("volumeMounts") or []:
        source = volumes.get(mount.get("name"))
        if source and source.get("name") and source["name"] not in names:
            names.append(source["name"])
    return names


def mounted_files(driver_pod: Obj, config_maps: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The files the driver container sees from ConfigMap volumes (path -> content), for the
    ConfigMaps in ``config_maps`` (name -> data): each key, or each of the volume's items."""
    volumes = {v.get("name"): v.get("configMap") for v in (driver_pod.get("spec") or {}).get("volumes") or []}
    files: dict[str, str] = {}
    for mount in driver_container(driver_pod).get("volumeMounts") or []:
        source = volumes.get(mount.get("name"))
        data = config_maps.get(source.get("name", "")) if source else None
        if data is None or mount.get("subPath"):
            continue
        items = source.get("items") if source else None
        paths = {i["key"]: i.get("path", i["key"]) for i in items} if items else {k: k for k in data}
        for key, path in paths.items():
            if key in data:
                files[posixpath.join(mount["mountPath"], path)] = data[key]
    return files


def owner_reference(pod: Obj) -> Obj:
    """What Spark makes the driver pod's reference (the owner of its executors and ConfigMap)."""
    meta = pod.get("metadata") or {}
    return {
        "apiVersion": pod.get("apiVersion", "v1"),
        "kind": pod.get("kind", "Pod"),
        "controller": True,
        "name": meta.get("name"),
        "uid": meta.get("uid"),
    }
