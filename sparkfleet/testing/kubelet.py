"""A kubelet stand-in for conformance tests: the Spark pods of one namespace run as local JVMs.

The local control plane has no nodes. :class:`Kubelet` registers one fake Node and plays, for
the pods of one namespace, what the scheduler, the kubelet and Spark's container image would:

1. binds each new pod to its Node (the scheduler);
2. materialises the pod's volumes as local folders (ConfigMap, Secret, projected -- the
   ServiceAccount token by TokenRequest, bound to the pod, as a kubelet gets it --, downward
   API, emptyDir), waiting for a ConfigMap that does not exist yet as a kubelet does;
3. starts the pod's Spark container as a JVM on this host, the way Spark's image entrypoint
   (``entrypoint.sh``) does: ``driver ...`` becomes ``spark-submit --deploy-mode client
   --conf spark.driver.bindAddress=<pod IP> ...`` (``org.apache.spark.deploy.SparkSubmit`` in
   the JVM ``spark-submit``'s launcher would start), ``executor`` becomes
   ``KubernetesExecutorBackend`` with the flags built from the env Spark put on the executor
   pod (:mod:`sparkfleet.testing.entrypoint` has that logic, pure);
4. reports the pod Running, then Succeeded or Failed with the container's exit code, as a
   kubelet does (``containerStatuses``, ``reason`` Completed or Error);
5. on a graceful delete, stops the JVM (SIGTERM, SIGKILL after the grace period), reports how it
   ended, and removes the pod (the kubelet's final delete).

It never edits the objects it runs: the pod spec, the ConfigMaps and the Spark properties are
used as the API server holds them. What it changes is the *environment*, where this host is not
a cluster node; each adaptation, and why it is needed:

- **Mount paths.** Volumes are local folders, not mounts at their ``mountPath``: each mount path
  in the container's args and env values is rewritten to its folder, and so is each Spark
  property of the driver's ``--properties-file`` whose value is a path under a mount (given as
  a ``--conf`` override; the file itself is as rendered). Without it Spark would read
  ``/opt/spark/conf/spark.properties`` or the executor pod template from folders that do not exist.
- **The API server address.** Spark's driver reaches the API server at
  ``spark.kubernetes.driver.master`` (in a pod, ``https://kubernetes.default.svc``, a ClusterIP);
  here it is ``https://127.0.0.1:<port>``, given as that ``--conf``.
- **The ServiceAccount token and CA.** Spark (its fabric8 client) reads them from
  ``/var/run/secrets/kubernetes.io/serviceaccount``, a fixed path; the pod's
  ``kube-api-access`` volume is materialised elsewhere, so the driver gets
  ``spark.kubernetes.authenticate.driver.mounted.{oauthTokenFile,caCertFile}`` pointing at it.
  The ``kube-root-ca.crt`` ConfigMap (published by a controller the test control plane does not
  run) is the CA the kubelet is given.
- **Cluster DNS.** Every JVM gets ``-Djdk.net.hosts.file=<hosts>``, a hosts file the kubelet keeps
  up to date from the namespace's Services: each Service name (short and qualified) resolves to
  the pod IP, as a headless Service's name resolves to its pods. Without it executors could not
  resolve the driver Service in ``SPARK_DRIVER_URL``.
- **The pod IP.** Every pod's IP is 127.0.0.1 (``status.podIP`` and its ``fieldRef``), and
  ``SPARK_LOCAL_IP`` is set to it (unless the pod sets it): in a pod the host name resolves to
  the pod IP and Spark binds there; this host has other interfaces a pod would not have.
- **The image.** The image is not pulled: Java and Spark's jars (``make spark``) on this host are
  the image, with ``SPARK_HOME`` set to them, as Spark's image sets it; ``HOME`` and the working
  folder are the pod's own folders. A JVM's environment is that and the pod's env, nothing of
  the test process's (no ``KUBECONFIG`` reaching Spark's client).

Each JVM's adaptations are recorded (:attr:`entrypoint.Launch.adaptations`, with why), so a test
can check that nothing else was changed. Not adapted, and why:

- Ports: several JVMs on one host ask for the same fixed ports (7078, 7079, 4040); Spark takes
  the next free one (``spark.port.maxRetries``) and advertises the port it got (the executors'
  ``SPARK_DRIVER_URL`` carries the driver's), so nothing needs changing.
- The Service env vars a kubelet injects (``KUBERNETES_SERVICE_HOST`` ...) are left out: they
  would name a ClusterIP that routes nowhere here, and Spark's driver uses its master setting.
- Resources are not enforced (no cgroups): the heap is what Spark's own flags give (``-Xmx``).

What it cannot run (init containers, sidecars, a ``command`` overriding the entrypoint, volume
kinds beyond those above) fails the pod (reason ``Unsupported``) with a message saying so. A
JVM killed by a signal exits 128 + the signal, as a kubelet reports it. When the stand-in stops,
it stops every JVM it started, then removes the pods bound to its Node and the Node (as the pod
garbage collector does for a deleted Node), so the namespace can be deleted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import shutil
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sparkfleet.kube import ApiError, Informer, InformerEvent, KubeClient
from sparkfleet.kube.errors import ignore_conflict
from sparkfleet.kube.informer import EventType
from sparkfleet.kube.resources import CONFIGMAPS, NODES, PODS, SECRETS, SERVICEACCOUNTS, SERVICES
from sparkfleet.kube.timestamps import format_time
from sparkfleet.operator.spark.submission import parse_properties
from sparkfleet.testing import entrypoint
from sparkfleet.testing.entrypoint import Host, Launch, PodUnsupported, VolumeSources
from sparkfleet.testing.proc import die_with_parent
from sparkfleet.testing.spark import JAVA_MODULE_OPTIONS, Spark, java_tool

if TYPE_CHECKING:
    from sparkfleet.testing.controlplane import ControlPlane

log = logging.getLogger(__name__)

Obj = dict[str, Any]
EnvSources = tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]
"""The ConfigMaps and Secrets of the pod's namespace, by name, as text: for its env."""
DEFAULT_GRACE_SECONDS = 30
TOKEN_SECONDS = 3607  # what the ServiceAccount admission plugin asks a kubelet for
SOURCE_POLL_SECONDS = (0.1, 1.0)


def _now() -> str:
    return format_time()


@dataclass(eq=False)
class PodRun:
    """One pod this kubelet took on: what it ran, how, and how it ended."""

    name: str
    uid: str
    pod: Obj
    """The pod as the kubelet first saw it (the spec it ran)."""
    folder: Path
    role: str = ""
    launch: Launch | None = None
    pid: int | None = None
    exit_code: int | None = None
    error: str = ""
    """Why the pod could not run, or what it waits for."""
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    deleting: bool = False
    grace: float = DEFAULT_GRACE_SECONDS
    task: asyncio.Task[None] | None = None

    @property
    def log_path(self) -> Path:
        return self.folder / "container.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Kubelet:
    """Runs the pods of ``namespace`` as local JVMs. Use as ``async with Kubelet(...) as kubelet``."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        *,
        spark: Spark,
        api_server: str,
        ca_cert: bytes,
        workdir: Path,
        node_name: str | None = None,
        stop_grace: float = 5.0,
    ):
        self.client = client
        self.namespace = namespace
        self.workdir = workdir
        self.node_name = node_name or f"kubelet-{namespace}"[:63].rstrip("-")
        self.ca_cert = ca_cert
        self.stop_grace = stop_grace
        self.host = Host(
            java=java_tool("java"),
            spark_home=spark.jars.parent,
            api_server=api_server,
            hosts_file=workdir / "hosts",
            java_options=JAVA_MODULE_OPTIONS,
            path=_path(),
        )
        self.runs: dict[str, PodRun] = {}  # by pod uid, every pod taken on
        self.pods = Informer(client, PODS, namespace=namespace)
        self.pods.add_handler(self._on_pod)
        self.services = Informer(client, SERVICES, namespace=namespace)
        self.services.add_handler(self._on_service)
        self._background: set[asyncio.Task[None]] = set()

    @classmethod
    def for_control_plane(
        cls, control_plane: ControlPlane, client: KubeClient, namespace: str, workdir: Path, spark: Spark
    ) -> Kubelet:
        """A stand-in for ``control_plane``: its API server's address and CA from the admin kubeconfig."""
        config = yaml.safe_load(control_plane.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        ca_cert = Path(cluster["certificate-authority"]).read_bytes()
        return cls(
            client, namespace, spark=spark, api_server=cluster["server"], ca_cert=ca_cert, workdir=workdir
        )

    async def __aenter__(self) -> Kubelet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_hosts()
        await self._register_node()
        self.services.start()
        await self.services.wait_synced(30)
        self.pods.start()
        await self.pods.wait_synced(30)

    async def stop(self) -> None:
        """Stops every JVM (SIGTERM, then SIGKILL), then removes its pods and its Node."""
        await self.pods.stop()
        await self.services.stop()
        for run in self.runs.values():
            run.grace = min(run.grace, self.stop_grace)
            run.stop.set()
        tasks = [run.task for run in self.runs.values() if run.task is not None]
        tasks += list(self._background)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(ApiError, OSError, TimeoutError):
            pods, _ = await self.client.list_all(
                PODS, self.namespace, field_selector=f"spec.nodeName={self.node_name}"
            )
            for pod in pods:
                await self._delete_now(pod["metadata"]["name"], pod["metadata"]["uid"])
            await self.client.delete(NODES, self.node_name)

    def by_name(self, name: str) -> PodRun:
        """The run of the pod named ``name`` (its latest, if a pod of that name came twice)."""
        found = [run for run in self.runs.values() if run.name == name]
        if not found:
            raise KeyError(f"the kubelet never ran a pod named {name}; it ran {sorted(self.names())}")
        return found[-1]

    def names(self) -> list[str]:
        return [run.name for run in self.runs.values()]

    def processes(self) -> list[int]:
        """Pids of the JVMs still running."""
        return [run.pid for run in self.runs.values() if run.pid is not None and run.exit_code is None]

    async def _register_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.node_name, "labels": {"kubernetes.io/hostname": self.node_name}},
        }
        with ignore_conflict():
            await self.client.create(NODES, node)
        resources = {"cpu": "64", "memory": "256Gi", "pods": "110"}
        status = {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": self.host.pod_ip}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "sparkfleet kubelet stand-in", "lastHeartbeatTime": _now(),
                            "lastTransitionTime": _now()}],
        }  # fmt: skip
        await self.client.patch(NODES, self.node_name, {"status": status}, subresource="status")

    # -- DNS ------------------------------------------------------------------------

    def _on_service(self, event: InformerEvent) -> None:
        self._write_hosts()

    def _write_hosts(self) -> None:
        text = entrypoint.cluster_hosts(self.services.store.list(), socket.gethostname(), self.host.pod_ip)
        staging = self.host.hosts_file.with_suffix(".new")
        staging.write_text(text)
        staging.replace(self.host.hosts_file)  # a JVM reading it sees the old file or the new

    # -- pods -----------------------------------------------------------------------

    def _on_pod(self, event: InformerEvent) -> None:
        pod = event.obj
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        run = self.runs.get(uid)
        if event.type is EventType.DELETED:
            if run is not None:
                run.stop.set()
            return
        node = (pod.get("spec") or {}).get("nodeName") or ""
        if meta.get("deletionTimestamp"):
            if run is not None and not run.deleting:
                run.deleting = True
                run.grace = float(meta.get("deletionGracePeriodSeconds") or 0)
                run.stop.set()  # its task stops the JVM, then deletes the pod
            if node == self.node_name and (run is None or (run.task is not None and run.task.done())):
                self._spawn(self._delete_now(meta["name"], uid))  # nothing (left) to stop here
            return
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        if run is None and phase == "Pending" and node in ("", self.node_name):
            run = PodRun(
                name=meta["name"],
                uid=uid,
                pod=pod,
                folder=self.workdir / "pods" / f"{meta['name']}-{uid[:8]}",
            )
            self.runs[uid] = run
            run.task = asyncio.get_running_loop().create_task(self._run(run))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _run(self, run: PodRun) -> None:
        pod = run.pod
        container: Obj = {"name": ""}
        try:
            container = _spark_container(pod)
            if not (pod.get("spec") or {}).get("nodeName") and not await self._bind(pod):
                run.error = "bound to another node"
                return
            sources = await self._read_sources(run)
            if sources is None:  # deleted before it could start
                if run.deleting:
                    await self._delete_now(run.name, run.uid)
                return
            launch = self._prepare(run, container, *sources)
        except PodUnsupported as exc:
            run.error = str(exc)
            log.warning("pod cannot run here", extra={"pod": run.name, "error": run.error})
            await self._report(run, entrypoint.terminated_status(
                container, None, 1, _now(), _now(), message=run.error, reason="Unsupported"))  # fmt: skip
            return
        except Exception as exc:  # an API error, a file not written: the pod stays Pending, as it would
            run.error = f"could not start: {exc!r}"
            log.warning("pod not started", extra={"pod": run.name, "error": run.error})
            return
        run.launch, run.role = launch, launch.role
        await self._execute(run, container, launch)

    def _prepare(
        self, run: PodRun, container: Obj, volume_sources: VolumeSources, env_sources: EnvSources
    ) -> Launch:
        pod = run.pod
        home, work = run.folder / "home", run.folder / "work-dir"
        for folder in (home, work):
            folder.mkdir(parents=True, exist_ok=True)
        volume_dirs: dict[str, Path] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            if not any(m["name"] == volume["name"] for m in container.get("volumeMounts") or []):
                continue
            folder = run.folder / "volumes" / volume["name"]
            folder.mkdir(parents=True, exist_ok=True)
            for relative, content in (
                entrypoint.volume_files(pod, volume, volume_sources, self.host.pod_ip) or {}
            ).items():
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            volume_dirs[volume["name"]] = folder
        mounts = entrypoint.mount_table(container, volume_dirs)
        config_maps, secrets = env_sources
        env = {
            **entrypoint.image_env(self.host, home),
            **entrypoint.container_env(
                pod, container, pod_ip=self.host.pod_ip, config_maps=config_maps, secrets=secrets
            ),
        }
        return entrypoint.launch(
            self.host,
            container,
            env,
            mounts,
            read_properties=lambda path: parse_properties(Path(path).read_text()),
        )

    async def _execute(self, run: PodRun, container: Obj, launch: Launch) -> None:
        started = _now()
        with run.log_path.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                *launch.argv,
                env=launch.env,
                cwd=run.folder / "work-dir",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        run.pid = process.pid
        log.info("container started", extra={"pod": run.name, "role": launch.role, "pid": process.pid})
        exited = asyncio.ensure_future(process.wait())
        try:
            if not run.stop.is_set():
                status = entrypoint.running_status(run.pod, container, process.pid, started, self.host.pod_ip)
                await self._report(run, status)
            stopping = asyncio.ensure_future(run.stop.wait())
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not exited.done():
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(exited), max(run.grace, 0.1))
        finally:  # never leave a JVM behind, whatever stopped this task
            if not exited.done():
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await exited
        code = process.returncode if process.returncode is not None else -1
        run.exit_code = 128 - code if code < 0 else code  # killed by signal n: 128 + n, as a kubelet says
        log.info("container exited", extra={"pod": run.name, "exit_code": run.exit_code})
        message = entrypoint.termination_message(container, run.log()[-8192:]) if run.exit_code else ""
        await self._report(
            run, entrypoint.terminated_status(container, process.pid, run.exit_code, started, _now(), message)
        )
        if run.deleting:
            await self._delete_now(run.name, run.uid)

    async def _read_sources(self, run: PodRun) -> tuple[VolumeSources, EnvSources] | None:
        """The ConfigMaps, Secrets and token the pod needs, waiting (as a kubelet does) for those
        not created yet; ``None`` if the pod goes first."""
        pod = run.pod
        config_map_names, secret_names = entrypoint.referenced_objects(pod)
        config_maps: dict[str, Obj] = {}
        secrets: dict[str, Obj] = {}
        delay = SOURCE_POLL_SECONDS[0]
        while True:
            missing = []
            for resource, names, found in (
                (CONFIGMAPS, config_map_names, config_maps),
                (SECRETS, secret_names, secrets),
            ):
                for name in sorted(names - set(found)):
                    try:
                        found[name] = await self.client.get(resource, name, self.namespace)
                    except ApiError as exc:
                        if not exc.is_not_found:
                            raise
                        if not (resource is CONFIGMAPS and name == "kube-root-ca.crt"):
                            missing.append(f"{resource.kind} {name}")
            if not missing:
                break
            run.error = f"waiting for {', '.join(missing)}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.stop.wait(), delay)
            if run.stop.is_set():
                return None
            delay = min(delay * 2, SOURCE_POLL_SECONDS[1])
        run.error = ""
        token = await self._token(pod) if _wants_token(pod) else ""
        volume_sources = VolumeSources(
            config_maps={name: _config_map_bytes(obj) for name, obj in config_maps.items()},
            secrets={name: _secret_bytes(obj) for name, obj in secrets.items()},
            token=token,
            ca_cert=self.ca_cert,
        )
        env_sources = (
            {
                name: {k: v.decode(errors="replace") for k, v in _config_map_bytes(obj).items()}
                for name, obj in config_maps.items()
            },
            {
                name: {k: v.decode(errors="replace") for k, v in _secret_bytes(obj).items()}
                for name, obj in secrets.items()
            },
        )
        return volume_sources, env_sources

    async def _token(self, pod: Obj) -> str:
        """A ServiceAccount token bound to the pod, as a kubelet requests it for the projected volume."""
        meta, spec = pod["metadata"], pod.get("spec") or {}
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "expirationSeconds": TOKEN_SECONDS,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        account = spec.get("serviceAccountName") or "default"
        answer = await self.client.request(
            "POST", SERVICEACCOUNTS.path(self.namespace, account, "token"), body=request
        )
        return str(answer["status"]["token"])

    async def _bind(self, pod: Obj) -> bool:
        """Binds the pod to this Node; False if another scheduler bound it elsewhere first."""
        meta = pod["metadata"]
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": self.namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node_name},
        }
        try:
            await self.client.request(
                "POST", PODS.path(self.namespace, meta["name"], "binding"), body=binding
            )
        except ApiError as exc:
            if not exc.is_conflict:
                raise
            live = await self.client.get(PODS, meta["name"], self.namespace)
            return bool((live.get("spec") or {}).get("nodeName") == self.node_name)
        return True

    async def _report(self, run: PodRun, status: Obj) -> None:
        try:
            await self.client.patch(PODS, run.name, {"status": status}, self.namespace, subresource="status")
        except ApiError as exc:
            if not exc.is_not_found:
                log.warning("pod status not written", extra={"pod": run.name, "error": str(exc)})

    async def _delete_now(self, name: str, uid: str) -> None:
        """The kubelet's final delete of a pod whose containers have stopped."""
        body = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": uid},
        }
        try:
            await self.client.request("DELETE", PODS.path(self.namespace, name), body=body)
        except ApiError as exc:
            if not (exc.is_not_found or exc.is_conflict):
                log.warning("pod not deleted", extra={"pod": name, "error": str(exc)})


def _spark_container(pod: Obj) -> Obj:
    spec = pod.get("spec") or {}
    if spec.get("initContainers"):
        raise PodUnsupported("init containers are not supported")
    containers = spec.get("containers") or []
    if len(containers) != 1:
        raise PodUnsupported(f"{len(containers)} containers: only a pod's one Spark container can run here")
    return dict(containers[0])


def _wants_token(pod: Obj) -> bool:
    return any(
        "serviceAccountToken" in source
        for volume in (pod.get("spec") or {}).get("volumes") or []
        for source in (volume.get("projected") or {}).get("sources") or []
    )


def _config_map_bytes(obj: Obj) -> dict[str, bytes]:
    data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _secret_bytes(obj: Obj) -> dict[str, bytes]:
    data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
    return data


def _path() -> str:
    """The PATH a container gets: where this host's Java is, and the usual system folders."""
    java = Path(shutil.which("java") or "/usr/bin/java").parent
    return ":".join(dict.fromkeys([str(java), "/usr/local/bin", "/usr/bin", "/bin"]))
