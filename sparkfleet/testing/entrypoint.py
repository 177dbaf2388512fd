"""What a kubelet and Spark's image entrypoint compute for a container: pure, no I/O.

:mod:`sparkfleet.testing.kubelet` runs Spark pods as local JVMs; everything it decides from a pod
is here, so it can be tested without a cluster:

- :func:`container_env`: the container's environment as a kubelet builds it (``envFrom``,
  ``env`` with ``value`` and ``valueFrom`` field, ConfigMap and Secret references, ``$(VAR)``
  expansion);
- :func:`volume_files`: the files a ConfigMap, Secret, projected or downward-API volume holds;
- :func:`mount_table` and :func:`rewrite_paths`: each mount path, and the local folder that
  stands for it, and the rewriting of paths under a mount (in args, env values, properties);
- :func:`launch`: the JVM command line for a ``driver`` or ``executor`` container, as Spark's
  ``entrypoint.sh`` (and, for the driver, ``spark-submit``'s launcher in client mode) builds it;
- :func:`running_status`, :func:`terminated_status`: the pod status a kubelet reports.

The environment adaptations it applies (each one needed because the pod runs on this host, not
in a cluster) are listed in :mod:`sparkfleet.testing.kubelet`'s docstring.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Obj = dict[str, Any]

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SPARK_SUBMIT = "org.apache.spark.deploy.SparkSubmit"
EXECUTOR_BACKEND = "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend"
DEFAULT_DRIVER_MEMORY = "1g"  # spark-submit's launcher, when spark.driver.memory is not set
# How Spark's driver reaches the API server from inside a pod, and how it authenticates there:
# Spark's own settings (Config.scala: KUBERNETES_DRIVER_MASTER_URL, the "mounted" auth prefix).
DRIVER_MASTER = "spark.kubernetes.driver.master"
MOUNTED_TOKEN_FILE = "spark.kubernetes.authenticate.driver.mounted.oauthTokenFile"
MOUNTED_CA_FILE = "spark.kubernetes.authenticate.driver.mounted.caCertFile"
TERMINATION_LOG_BYTES = 2048  # what a kubelet keeps of a log as a termination message


class PodUnsupported(Exception):
    """The pod asks for something this stand-in cannot give it; the pod fails with this message."""


@dataclass(frozen=True, slots=True)
class Host:
    """What every container gets from this host: the "image" (Java and Spark's jars) and the network."""

    java: str
    spark_home: Path
    """Spark's home: its jars are in ``jars/`` (``$SPARK_HOME`` in Spark's image)."""
    api_server: str
    """The API server's address from here, ``https://127.0.0.1:<port>``."""
    hosts_file: Path
    """The cluster DNS as a hosts file (every Service name -> the pod IP); see the kubelet."""
    pod_ip: str = "127.0.0.1"
    java_options: tuple[str, ...] = ()
    """The JVM flags Spark's launcher adds on this Java (its JavaModuleOptions), for the driver."""
    path: str = "/usr/bin:/bin"

    @property
    def jars(self) -> str:
        return str(self.spark_home / "jars" / "*")


@dataclass(frozen=True, slots=True)
class Adaptation:
    """One setting of the environment this host gives a Spark process in place of a cluster's."""

    setting: str  # a Spark setting (--conf) or a JVM flag
    value: str
    why: str


@dataclass(frozen=True, slots=True)
class Launch:
    """A container's process: its command line, environment and working folder."""

    argv: list[str]
    env: dict[str, str]
    role: str  # "driver" or "executor"
    adaptations: list[Adaptation] = field(default_factory=list)
    """What the stand-in gave the process instead of what a cluster would, and why."""


# -- env ---------------------------------------------------------------------------------


def field_ref(pod: Obj, path: str, pod_ip: str) -> str:
    """The value of a ``fieldRef`` (the downward API) for ``pod`` running here."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": pod_ip,
        "status.hostIPs": pod_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise PodUnsupported(f"fieldRef {path} is not supported")


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined variables are replaced, ``$$`` escapes a ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", replace, value)


def _key_ref(ref: Obj, sources: Mapping[str, Mapping[str, str]], kind: str, namespace: str) -> str | None:
    name, key = ref.get("name", ""), ref.get("key", "")
    data = sources.get(name)
    if data is None or key not in data:
        if ref.get("optional"):
            return None
        raise PodUnsupported(f"{kind} {namespace}/{name} has no key {key!r} for an env var")
    return data[key]


def container_env(
    pod: Obj,
    container: Obj,
    *,
    pod_ip: str,
    config_maps: Mapping[str, Mapping[str, str]] | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """The environment a kubelet gives ``container``: ``envFrom`` first, then ``env`` in order."""
    config_maps = config_maps or {}
    secrets = secrets or {}
    namespace = (pod.get("metadata") or {}).get("namespace", "")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        for kind, table, sources in (
            ("configMapRef", "ConfigMap", config_maps),
            ("secretRef", "Secret", secrets),
        ):
            ref = source.get(kind)
            if ref is None:
                continue
            data = sources.get(ref.get("name", ""))
            if data is None:
                if ref.get("optional"):
                    continue
                raise PodUnsupported(f"{table} {namespace}/{ref.get('name')} for envFrom does not exist")
            env.update({prefix + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = _expand(str(var.get("value") or ""), env)
            continue
        source = var["valueFrom"]
        value: str | None
        if "fieldRef" in source:
            value = field_ref(pod, source["fieldRef"]["fieldPath"], pod_ip)
        elif "configMapKeyRef" in source:
            value = _key_ref(source["configMapKeyRef"], config_maps, "ConfigMap", namespace)
        elif "secretKeyRef" in source:
            value = _key_ref(source["secretKeyRef"], secrets, "Secret", namespace)
        else:
            raise PodUnsupported(f"env var {name}: valueFrom {sorted(source)} is not supported")
        if value is not None:
            env[name] = value
    return env


def referenced_objects(pod: Obj) -> tuple[set[str], set[str]]:
    """The ConfigMaps and Secrets a pod's volumes and env refer to: what to read before it starts."""
    config_maps: set[str] = set()
    secrets: set[str] = set()
    spec = pod.get("spec") or {}
    for volume in spec.get("volumes") or []:
        if "configMap" in volume:
            config_maps.add(volume["configMap"]["name"])
        if "secret" in volume:
            secrets.add(volume["secret"]["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "configMap" in source:
                config_maps.add(source["configMap"]["name"])
            if "secret" in source:
                secrets.add(source["secret"]["name"])
    for container in spec.get("containers") or []:
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                config_maps.add(source["configMapRef"]["name"])
            if "secretRef" in source:
                secrets.add(source["secretRef"]["name"])
        for var in container.get("env") or []:
            value_from = var.get("valueFrom") or {}
            if "configMapKeyRef" in value_from:
                config_maps.add(value_from["configMapKeyRef"]["name"])
            if "secretKeyRef" in value_from:
                secrets.add(value_from["secretKeyRef"]["name"])
    return config_maps, secrets


# -- volumes -------------------------------------------------------------------------------


def _items(data: Mapping[str, bytes], items: Sequence[Obj] | None, what: str) -> dict[str, bytes]:
    if not items:
        return dict(data)
    files = {}
    for item in items:
        if item["key"] not in data:
            raise PodUnsupported(f"{what} has no key {item['key']!r}")
        files[item["path"]] = data[item["key"]]
    return files


@dataclass(frozen=True, slots=True)
class VolumeSources:
    """What the kubelet read from the API server for a pod's volumes."""

    config_maps: Mapping[str, Mapping[str, bytes]]
    secrets: Mapping[str, Mapping[str, bytes]]
    token: str = ""
    """A ServiceAccount token for the pod (TokenRequest, bound to the pod), if it mounts one."""
    ca_cert: bytes = b""
    """The cluster CA, for a ``kube-root-ca.crt`` source when that ConfigMap is not published."""


def _config_map_data(
    name: str, sources: VolumeSources, what: str, optional: bool
) -> Mapping[str, bytes] | None:
    data = sources.config_maps.get(name)
    if data is None and name == "kube-root-ca.crt":
        # Published by kube-controller-manager's root-ca-cert-publisher, which the test control
        # plane does not run: the same CA, from the kubelet's own configuration.
        data = {"ca.crt": sources.ca_cert}
    if data is None and not optional:
        raise PodUnsupported(f"{what}: ConfigMap {name} does not exist")
    return data


def volume_files(pod: Obj, volume: Obj, sources: VolumeSources, pod_ip: str) -> dict[str, bytes] | None:
    """The files of ``volume`` (relative path -> content); ``None`` for an empty folder (emptyDir)."""
    what = f"volume {volume.get('name')}"
    if "emptyDir" in volume:
        return None
    if "configMap" in volume:
        ref = volume["configMap"]
        data = _config_map_data(ref["name"], sources, what, bool(ref.get("optional")))
        return _items(data or {}, ref.get("items"), f"{what} (ConfigMap {ref['name']})")
    if "secret" in volume:
        ref = volume["secret"]
        secret = sources.secrets.get(ref["secretName"])
        if secret is None and not ref.get("optional"):
            raise PodUnsupported(f"{what}: Secret {ref['secretName']} does not exist")
        return _items(secret or {}, ref.get("items"), f"{what} (Secret {ref['secretName']})")
    if "downwardAPI" in volume:
        return _downward(pod, volume["downwardAPI"].get("items") or [], pod_ip)
    if "projected" in volume:
        files: dict[str, bytes] = {}
        for source in volume["projected"].get("sources") or []:
            if "serviceAccountToken" in source:
                files[source["serviceAccountToken"]["path"]] = sources.token.encode()
            elif "configMap" in source:
                ref = source["configMap"]
                data = _config_map_data(ref["name"], sources, what, bool(ref.get("optional")))
                files.update(_items(data or {}, ref.get("items"), f"{what} (ConfigMap {ref['name']})"))
            elif "secret" in source:
                ref = source["secret"]
                secret = sources.secrets.get(ref["name"])
                if secret is None and not ref.get("optional"):
                    raise PodUnsupported(f"{what}: Secret {ref['name']} does not exist")
                files.update(_items(secret or {}, ref.get("items"), f"{what} (Secret {ref['name']})"))
            elif "downwardAPI" in source:
                files.update(_downward(pod, source["downwardAPI"].get("items") or [], pod_ip))
            else:
                raise PodUnsupported(f"{what}: projected source {sorted(source)} is not supported")
        return files
    kinds = sorted(k for k in volume if k != "name")
    raise PodUnsupported(f"{what}: {', '.join(kinds) or 'no source'} is not supported")


def _downward(pod: Obj, items: Sequence[Obj], pod_ip: str) -> dict[str, bytes]:
    files = {}
    for item in items:
        if "fieldRef" not in item:
            raise PodUnsupported(f"downwardAPI item {item.get('path')}: only fieldRef is supported")
        files[item["path"]] = field_ref(pod, item["fieldRef"]["fieldPath"], pod_ip).encode()
    return files


def mount_table(container: Obj, volume_dirs: Mapping[str, Path]) -> list[tuple[str, Path]]:
    """(mount path, local folder or file) for each of the container's mounts, longest path first."""
    table = []
    for mount in container.get("volumeMounts") or []:
        local = volume_dirs.get(mount["name"])
        if local is None:
            raise PodUnsupported(f"volumeMount {mount['name']} names no volume of the pod")
        if mount.get("subPath"):
            local = local / mount["subPath"]
        table.append((mount["mountPath"].rstrip("/") or "/", local))
    return sorted(table, key=lambda entry: len(entry[0]), reverse=True)


def _literal(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _: text


def rewrite_paths(text: str, mounts: Sequence[tuple[str, Path]]) -> str:
    """``text`` with each path under a mount path pointing at the local folder instead.

    A mount path counts where it starts ``text`` or follows ``=``, ``,``, ``:`` or white space
    (``--opt=/mnt/x``, ``a,/mnt/x``, a class path), and ends there or at a ``/``."""
    for mount_path, local in mounts:
        pattern = rf"(?:(?<=^)|(?<=[=,:\s])){re.escape(mount_path)}(?=/|$|[,:\s])"
        # A function, not a template: a folder's name may hold backslashes or group references.
        text = re.sub(pattern, _literal(str(local)), text)
    return text


# -- the container's process ---------------------------------------------------------------


def _split_options(text: str | None) -> list[str]:
    return shlex.split(text) if text else []


def _classpath(*entries: str | None) -> str:
    parts = [part for entry in entries if entry for part in entry.split(":") if part]
    return ":".join(parts)


def driver_launch(
    host: Host,
    args: Sequence[str],
    env: Mapping[str, str],
    properties: Mapping[str, str],
    mounts: Sequence[tuple[str, Path]],
) -> Launch:
    """``driver <spark-submit args>``: what ``entrypoint.sh`` runs, ``spark-submit --deploy-mode
    client``, with the JVM that ``spark-submit``'s launcher starts for it in client mode (heap
    from ``spark.driver.memory``, ``spark.driver.{default,extra}JavaOptions``, class path from
    ``$SPARK_CONF_DIR``, ``spark.driver.extraClassPath`` and Spark's jars).

    ``args`` and ``env`` have their mount paths rewritten already; ``properties`` is the file
    ``--properties-file`` names, as rendered."""
    confs = [Adaptation(DRIVER_MASTER, host.api_server, "the API server is not at the in-cluster address")]
    token_dir = next((local for path, local in mounts if path == SERVICE_ACCOUNT_DIR), None)
    if token_dir is not None:
        why = f"Spark reads the ServiceAccount's {{}} at {SERVICE_ACCOUNT_DIR}, mounted elsewhere here"
        confs.append(Adaptation(MOUNTED_TOKEN_FILE, str(token_dir / "token"), why.format("token")))
        confs.append(Adaptation(MOUNTED_CA_FILE, str(token_dir / "ca.crt"), why.format("CA")))
    given = {conf.setting for conf in confs}
    for key, value in sorted(properties.items()):
        rewritten = rewrite_paths(value, mounts)
        if rewritten != value and key not in given:
            confs.append(Adaptation(key, rewritten, "a path in a mounted volume, mounted elsewhere here"))
    dns = _dns(host)
    memory = properties.get("spark.driver.memory") or env.get("SPARK_DRIVER_MEMORY") or DEFAULT_DRIVER_MEMORY
    options = [
        *_split_options(properties.get("spark.driver.defaultJavaOptions")),
        *_split_options(properties.get("spark.driver.extraJavaOptions")),
    ]
    classpath = _classpath(
        env.get("SPARK_CONF_DIR"),
        rewrite_paths(properties.get("spark.driver.extraClassPath") or "", mounts),
        host.jars,
        env.get("HADOOP_CONF_DIR"),
        env.get("SPARK_DIST_CLASSPATH"),
    )
    argv = [
        host.java,
        *host.java_options,
        f"-Xmx{memory}",
        *options,
        f"{dns.setting}={dns.value}",
        "-cp",
        classpath,
        SPARK_SUBMIT,
        "--conf",
        f"spark.driver.bindAddress={env.get('SPARK_DRIVER_BIND_ADDRESS', '')}",
        "--deploy-mode",
        "client",
        *(arg for conf in confs for arg in ("--conf", f"{conf.setting}={conf.value}")),
        *args,
    ]
    return Launch(argv=argv, env=dict(env), role="driver", adaptations=[dns, *confs])


def _dns(host: Host) -> Adaptation:
    return Adaptation(
        "-Djdk.net.hosts.file",
        str(host.hosts_file),
        "cluster DNS: Service names resolve to the pod IP through this hosts file",
    )


def executor_launch(host: Host, env: Mapping[str, str]) -> Launch:
    """``executor``: the JVM ``entrypoint.sh`` starts from the env Spark put on the executor pod."""
    missing = [
        name
        for name in (
            "SPARK_DRIVER_URL",
            "SPARK_EXECUTOR_ID",
            "SPARK_EXECUTOR_CORES",
            "SPARK_APPLICATION_ID",
            "SPARK_EXECUTOR_POD_IP",
            "SPARK_RESOURCE_PROFILE_ID",
            "SPARK_EXECUTOR_POD_NAME",
            "SPARK_EXECUTOR_MEMORY",
        )
        if not env.get(name)
    ]
    if missing:
        raise PodUnsupported(f"executor container without {', '.join(missing)} in its env")
    # SPARK_JAVA_OPT_<n>, in the order of n (entrypoint.sh: sort -t_ -k4 -n).
    java_opts = sorted(
        (
            (int(name.rsplit("_", 1)[1]), value)
            for name, value in env.items()
            if re.fullmatch(r"SPARK_JAVA_OPT_\d+", name)
        ),
    )
    memory = env["SPARK_EXECUTOR_MEMORY"]
    dns = _dns(host)
    classpath = _classpath(
        env.get("SPARK_CONF_DIR"),
        env.get("HADOOP_CONF_DIR"),
        env.get("SPARK_CLASSPATH"),
        host.jars,
        env.get("SPARK_EXTRA_CLASSPATH"),
        env.get("SPARK_DIST_CLASSPATH"),
    )
    argv = [
        host.java,
        *(value for _, value in java_opts),
        f"-Xms{memory}",
        f"-Xmx{memory}",
        f"{dns.setting}={dns.value}",
        "-cp",
        classpath,
        EXECUTOR_BACKEND,
        "--driver-url", env["SPARK_DRIVER_URL"],
        "--executor-id", env["SPARK_EXECUTOR_ID"],
        "--cores", env["SPARK_EXECUTOR_CORES"],
        "--app-id", env["SPARK_APPLICATION_ID"],
        "--hostname", env["SPARK_EXECUTOR_POD_IP"],
        "--resourceProfileId", env["SPARK_RESOURCE_PROFILE_ID"],
        "--podName", env["SPARK_EXECUTOR_POD_NAME"],
    ]  # fmt: skip
    return Launch(argv=argv, env=dict(env), role="executor", adaptations=[dns])


def image_env(host: Host, home: Path) -> dict[str, str]:
    """What the container's image puts in every environment before the pod's own env: this host's
    Java and Spark stand for the image's, the pod's own folder for its home."""
    return {
        "PATH": host.path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "SPARK_HOME": str(host.spark_home),
        "JAVA_HOME": str(Path(host.java).resolve().parent.parent),
    }


def _local_ip(host: Host, env: dict[str, str]) -> list[Adaptation]:
    """``SPARK_LOCAL_IP``, unless the pod sets it: the pod IP. In a pod the host name resolves to the
    pod IP, and Spark binds there; this host has other interfaces a pod would not have."""
    if "SPARK_LOCAL_IP" in env:
        return []
    env["SPARK_LOCAL_IP"] = host.pod_ip
    return [Adaptation("SPARK_LOCAL_IP", host.pod_ip, "Spark would bind to an interface a pod does not have")]


def launch(
    host: Host,
    container: Obj,
    env: Mapping[str, str],
    mounts: Sequence[tuple[str, Path]],
    read_properties: Callable[[str], Mapping[str, str]] | None = None,
) -> Launch:
    """The process for a Spark container: ``args[0]`` is ``driver`` or ``executor``, as Spark renders
    it (and sparkfleet, for the driver). ``env`` is the container's env (mount paths not yet
    rewritten); ``read_properties(path)`` reads the ``--properties-file`` the driver is given."""
    if container.get("command"):
        raise PodUnsupported(f"container {container.get('name')}: a command overrides Spark's entrypoint")
    args = [rewrite_paths(arg, mounts) for arg in container.get("args") or []]
    env = {name: rewrite_paths(value, mounts) for name, value in env.items()}
    if not args or args[0] not in ("driver", "executor"):
        raise PodUnsupported(
            f"container {container.get('name')}: args {args[:1]} are neither driver nor executor"
        )
    local_ip = _local_ip(host, env)
    if args[0] == "executor":
        process = executor_launch(host, env)
    else:
        properties: Mapping[str, str] = {}
        if "--properties-file" in args:
            path = args[args.index("--properties-file") + 1]
            properties = read_properties(path) if read_properties else {}
        process = driver_launch(host, args[1:], env, properties, mounts)
    process.adaptations.extend(local_ip)
    return process


def cluster_hosts(services: Sequence[Obj], hostname: str, pod_ip: str) -> str:
    """The cluster DNS as a hosts file: every Service name, short and qualified, -> the pod IP.

    Every pod here has the one pod IP, so a headless Service's endpoints are that IP; a ClusterIP
    would not route here (no kube-proxy), so its name resolves to the pod IP too."""
    lines = [f"{pod_ip} localhost {hostname}"]
    for service in sorted(services, key=lambda s: (s["metadata"]["namespace"], s["metadata"]["name"])):
        name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
        names = (
            name,
            f"{name}.{namespace}",
            f"{name}.{namespace}.svc",
            f"{name}.{namespace}.svc.cluster.local",
        )
        lines.append(f"{pod_ip} {' '.join(names)}")
    return "\n".join(lines) + "\n"


# -- status ----------------------------------------------------------------------------------


def _container_id(pid: int) -> str:
    return f"sparkfleet-kubelet://{pid}"


def running_status(pod: Obj, container: Obj, pid: int, started_at: str, pod_ip: str) -> Obj:
    conditions = [
        {"type": kind, "status": "True", "lastTransitionTime": started_at}
        for kind in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
    ]
    return {
        "phase": "Running",
        "hostIP": pod_ip,
        "hostIPs": [{"ip": pod_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": started_at,
        "conditions": conditions,
        "containerStatuses": [
            {
                "name": container["name"],
                "image": container.get("image") or "",
                "imageID": "",
                "containerID": _container_id(pid),
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": started_at}},
            }
        ],
    }


def termination_message(container: Obj, log_tail: str) -> str:
    """What a kubelet reports as the message: the log's end, with ``FallbackToLogsOnError``."""
    if container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
        return log_tail.encode()[-TERMINATION_LOG_BYTES:].decode(errors="replace")
    return ""


def terminated_status(
    container: Obj,
    pid: int | None,
    exit_code: int,
    started_at: str,
    finished_at: str,
    message: str = "",
    reason: str = "",
) -> Obj:
    """The pod's status once its one container ended (restartPolicy Never): Succeeded or Failed."""
    phase = "Succeeded" if exit_code == 0 else "Failed"
    terminated: Obj = {
        "exitCode": exit_code,
        "reason": reason or ("Completed" if exit_code == 0 else "Error"),
        "startedAt": started_at,
        "finishedAt": finished_at,
    }
    if pid is not None:
        terminated["containerID"] = _container_id(pid)
    if message:
        terminated["message"] = message
    conditions = [
        {"type": kind, "status": "False", "reason": "PodCompleted", "lastTransitionTime": finished_at}
        for kind in ("ContainersReady", "Ready")
    ]
    return {
        "phase": phase,
        "conditions": conditions,
        "containerStatuses": [
            {
                "name": container["name"],
                "image": container.get("image") or "",
                "imageID": "",
                "ready": False,
                "started": False,
                "restartCount": 0,
                "state": {"terminated": terminated},
            }
        ],
    }
