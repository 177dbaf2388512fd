"""A pod-lifecycle simulator: the kubelet and the Spark driver, for a control plane without nodes.

It watches the pods the operator launched (one watch) and plays what a
cluster would do with them:

1. registers fake Nodes and binds each pending pod to one (the scheduler);
2. moves a driver pod Pending -> Running after a start delay (the kubelet);
3. plays the Spark driver in it: reads the driver's own files (the ConfigMaps its volumes mount:
   ``spark.properties`` and the executor pod template), creates the executor ConfigMap and the
   executor pods exactly as Spark 4.0 builds them (:mod:`sparkfleet.sim.executors`), and moves
   them Running. Where Spark would refuse to build them, it does what a driver does: an
   IllegalArgumentException (a reserved label, a bad port) or any error while the SparkContext
   starts (a template it cannot load) ends the driver with exit code 1; anything else (no
   executor image) leaves it running with no executors, as Spark keeps retrying. Both are logged;
4. after the application's run time, completes the executors and then the
   driver: Succeeded, or Failed at ``failure_rate`` or when the driver carries
   the annotation ``sparkfleet.io/sim-outcome: Failed``
   (``sparkfleet.io/sim-run-seconds`` overrides the run time);
5. finishes graceful deletions as a kubelet does: a running pod that gets a deletionTimestamp has
   its containers stopped (exit code 143, as after SIGTERM) after ``stop_delay`` (at most its grace
   period) and is then deleted for good (grace period 0, its uid as a precondition).

Writes go out with bounded concurrency from a timer-driven schedule, so it
keeps up with thousands of pods; :attr:`PodSimulator.stats` includes the CPU
it used, so a benchmark can show it was never the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from sparkfleet.kube import ApiError, Informer, InformerEvent, KubeClient
from sparkfleet.kube.errors import ignore_conflict, ignore_not_found
from sparkfleet.kube.informer import EventType
from sparkfleet.kube.resources import CONFIGMAPS, NODES, PODS, Resource, object_key
from sparkfleet.kube.retry import unavailable, while_unavailable
from sparkfleet.kube.timestamps import format_time
from sparkfleet.operator.spark import naming
from sparkfleet.sim import sparkconf
from sparkfleet.sim.driver import (
    driver_container,
    executor_conf_map,
    initial_executors,
    mounted_config_maps,
    new_driver,
)
from sparkfleet.sim.executors import ExecutorPods

log = logging.getLogger(__name__)

ANNOTATION_OUTCOME = "sparkfleet.io/sim-outcome"
ANNOTATION_RUN_SECONDS = "sparkfleet.io/sim-run-seconds"
DRIVER_CONTAINER = "spark-kubernetes-driver"
EXECUTOR_CONTAINER = "spark-kubernetes-executor"
CONF_VOLUME = "spark-conf-volume-driver"
CONF_MAP_POLL_SECONDS = 0.2
CONF_MAP_POLL_MAX_SECONDS = 2.0
CONF_MAP_PATIENCE_SECONDS = 900.0
SIGTERM_EXIT_CODE = 143  # 128 + 15: what a container stopped by a pod's deletion exits with
TERMINAL_PHASES = ("Succeeded", "Failed")
OPERATOR_PODS = f"{naming.LABEL_LAUNCHED_BY_OPERATOR}=true"


@dataclass(frozen=True, slots=True)
class SimConfig:
    nodes: int = 8
    start_delay: tuple[float, float] = (0.1, 0.3)
    """Seconds from a pod's creation to Running (uniform in the range)."""
    run_time: tuple[float, float] = (5.0, 10.0)
    """Seconds the application runs once its driver is Running."""
    failure_rate: float = 0.0
    stop_delay: tuple[float, float] = (0.05, 0.2)
    """Seconds from a running pod's deletion to its containers' exit (at most its grace period)."""
    concurrency: int = 32
    """Writes in flight at once."""
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("start_delay", "run_time", "stop_delay"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a range low..high with 0 <= low <= high; got {low}..{high}")
        if not 0 <= self.failure_rate <= 1:
            raise ValueError(f"failure_rate must be between 0 and 1; got {self.failure_rate}")
        if self.nodes < 1 or self.concurrency < 1:
            raise ValueError("nodes and concurrency must be at least 1")


@dataclass(slots=True)
class SimStats:
    drivers_started: int = 0
    executors_created: int = 0
    drivers_succeeded: int = 0
    drivers_failed: int = 0
    executors_refused: int = 0
    """Drivers whose executor pods Spark would refuse to build (each logged)."""
    pods_stopped: int = 0
    """Graceful deletions finished (containers stopped, pod deleted)."""
    writes: int = 0
    write_errors: int = 0
    cpu_seconds: float = 0.0


def _conf_map_name(pod: dict[str, Any]) -> str | None:
    """The ConfigMap with the driver's Spark properties (and executor template), if it mounts one."""
    volumes = (pod.get("spec") or {}).get("volumes") or []
    return next(
        (v["configMap"]["name"] for v in volumes if v.get("name") == CONF_VOLUME and v.get("configMap")),
        None,
    )


def _now() -> str:
    return format_time()


@dataclass
class _Driver:
    key: str
    executors: list[str] = field(default_factory=list)
    builder: ExecutorPods | None = None
    """Its executor pod builder, made once (a retry after an outage reuses it)."""
    refusal: str | None = None
    """Why Spark would not build its executors, once said."""
    failed: bool | None = None
    """How it ends, once decided."""
    finished: bool = False


class PodSimulator:
    def __init__(
        self,
        client: KubeClient,
        config: SimConfig | None = None,
        *,
        namespace: str | None = None,
        on_driver_phase: Callable[[str, str, float], None] | None = None,
    ):
        """``on_driver_phase(app_key, phase, wall_time)`` hears each driver phase the simulator wrote."""
        self.client = client
        self.on_driver_phase = on_driver_phase
        self.config = config or SimConfig()
        self.random = random.Random(self.config.seed)
        self.pods = Informer(client, PODS, namespace=namespace, label_selector=OPERATOR_PODS)
        self.pods.add_handler(self._on_pod)
        self.stats = SimStats()
        self.node_names = [f"sim-node-{i}" for i in range(self.config.nodes)]
        self._slots = asyncio.Semaphore(self.config.concurrency)
        self._seen: set[str] = set()  # pods already scheduled for start (by uid)
        self._drivers: dict[str, _Driver] = {}  # driver uid -> its run
        self._stopping: set[str] = set()  # pods being deleted whose stop is scheduled (by uid)
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._cpu_at_start = 0.0

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._cpu_at_start = time.process_time()
        await asyncio.gather(*(self._register_node(name) for name in self.node_names))
        self.pods.start()
        await self.pods.wait_synced(60)

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        await self.pods.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.stats.cpu_seconds = time.process_time() - self._cpu_at_start

    def cpu_seconds(self) -> float:
        """CPU this process used since :meth:`start` (the simulator's share when it runs alone)."""
        return time.process_time() - self._cpu_at_start

    async def _register_node(self, name: str) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/hostname": name, "sparkfleet.io/simulated": "true"},
            },
        }
        with ignore_conflict():
            await self.client.create(NODES, node)
        status = {
            "capacity": {"cpu": "1000", "memory": "4000Gi", "pods": "10000"},
            "allocatable": {"cpu": "1000", "memory": "4000Gi", "pods": "10000"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "sparkfleet pod simulator", "lastHeartbeatTime": _now(),
                            "lastTransitionTime": _now()}],
        }  # fmt: skip
        await self.client.patch(NODES, name, {"status": status}, subresource="status")

    # -- events -> schedule --------------------------------------------------------------

    def _on_pod(self, event: InformerEvent) -> None:
        pod = event.obj
        meta = pod["metadata"]
        uid = meta.get("uid", "")
        if event.type is EventType.DELETED:
            self._seen.discard(uid)
            self._stopping.discard(uid)
            self._drivers.pop(uid, None)
            return
        role = (meta.get("labels") or {}).get(naming.LABEL_SPARK_ROLE)
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        if meta.get("deletionTimestamp"):
            if uid not in self._stopping:
                self._stopping.add(uid)
                if run := self._drivers.get(uid):
                    run.finished = True  # killed: it ends by the deletion, not by its run time
                grace = float(meta.get("deletionGracePeriodSeconds") or 0)
                self._after(min(self._uniform(self.config.stop_delay), grace), lambda: self._stop(pod))
        elif phase == "Pending" and uid not in self._seen:
            self._seen.add(uid)
            self._after(self._uniform(self.config.start_delay), lambda: self._start(pod, role == "driver"))
        elif role == "driver" and phase == "Running" and uid not in self._drivers:
            self._drivers[uid] = _Driver(f"{meta['namespace']}/{meta['name']}")
            self._spawn(lambda: self._launch_executors(pod))

    def _uniform(self, bounds: tuple[float, float]) -> float:
        return self.random.uniform(*bounds)

    def _after(self, delay: float, work: Callable[[], Awaitable[None]]) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            self._spawn(work)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    def _spawn(self, work: Callable[[], Awaitable[None]]) -> None:
        """Runs ``work`` with bounded concurrency; like a kubelet, it tries again while the API
        server is unreachable or failing (a control-plane restart), for up to a few minutes."""

        async def bounded() -> None:
            async with self._slots:
                try:
                    await while_unavailable(work)
                except (ApiError, aiohttp.ClientError, TimeoutError) as exc:
                    self.stats.write_errors += 1
                    if not (isinstance(exc, ApiError) and exc.is_not_found):  # a pod deleted under us
                        log.warning("simulator write failed", extra={"error": str(exc) or repr(exc)})

        task = asyncio.get_running_loop().create_task(bounded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what a cluster does ----------------------------------------------------------

    async def _start(self, pod: dict[str, Any], is_driver: bool, waited: float = 0.0) -> None:
        """Binds the pod to a node, then reports it Running (a driver once its ConfigMap exists)."""
        meta = pod["metadata"]
        node = self.node_names[zlib.crc32(meta["name"].encode()) % len(self.node_names)]
        if not (pod.get("spec") or {}).get("nodeName"):
            binding = {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            }
            with ignore_conflict():  # already bound: an earlier try got through
                await self._write(
                    self.client.request(
                        "POST", PODS.path(meta["namespace"], meta["name"], "binding"), body=binding
                    )
                )
            pod = {**pod, "spec": {**(pod.get("spec") or {}), "nodeName": node}}
        if is_driver and not await self._volumes_ready(pod):
            # As a kubelet does, wait for the ConfigMap volume for as long as the pod exists
            # (the operator creates it just after the pod; throttled, that can take minutes).
            if self.pods.store.get(object_key(pod)) is not None and waited < CONF_MAP_PATIENCE_SECONDS:
                delay = min(CONF_MAP_POLL_MAX_SECONDS, max(CONF_MAP_POLL_SECONDS, waited))
                self._after(delay, lambda: self._start(pod, is_driver, waited + delay))
            elif waited >= CONF_MAP_PATIENCE_SECONDS:
                log.warning("driver's ConfigMap never appeared", extra={"pod": meta["name"]})
            return
        container = DRIVER_CONTAINER if is_driver else EXECUTOR_CONTAINER
        status = {
            "phase": "Running",
            "hostIP": "10.1.0.1",
            "podIP": f"10.2.{self.random.randrange(256)}.{self.random.randrange(1, 255)}",
            "startTime": _now(),
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": _now()}],
            "containerStatuses": [{"name": container, "ready": True, "restartCount": 0, "image": "spark",
                                   "imageID": "", "started": True,
                                   "state": {"running": {"startedAt": _now()}}}],
        }  # fmt: skip
        await self._write(
            self.client.patch(PODS, meta["name"], {"status": status}, meta["namespace"], subresource="status")
        )
        if is_driver:
            self.stats.drivers_started += 1
            self._heard(pod, "Running")

    async def _volumes_ready(self, pod: dict[str, Any]) -> bool:
        """Whether the driver's ConfigMap volume exists (the kubelet would not start it before)."""
        name = _conf_map_name(pod)
        if name is None:
            return True
        try:
            await self.client.get(CONFIGMAPS, name, pod["metadata"]["namespace"])
            return True
        except ApiError as exc:
            if not exc.is_not_found:
                raise
            return False

    async def _create_once(self, resource: Resource, obj: dict[str, Any]) -> bool:
        """Creates ``obj``; False if it exists already (an earlier try got through)."""
        try:
            await self.client.create(resource, obj)
            return True
        except ApiError as exc:
            if exc.is_conflict:
                return False
            raise

    async def _launch_executors(self, driver: dict[str, Any]) -> None:
        """What the Spark driver does once it runs: create the executor ConfigMap, then ask
        Kubernetes for its executors, built as Spark builds them (or refused as Spark refuses)."""
        meta = driver["metadata"]
        run = self._drivers.get(meta["uid"])
        if run is None or run.finished:
            return
        if run.builder is None:
            try:
                spark = new_driver(driver, await self._config_maps(driver))
                count = initial_executors(spark.conf)
                run.builder = ExecutorPods(spark)
            except sparkconf.SparkError as exc:
                await self._refused(driver, run, exc)
                return
            run.executors = [run.builder.pod(i)["metadata"]["name"] for i in range(1, count + 1)]
        builder = run.builder
        if not builder.disable_conf_map:
            conf_map = executor_conf_map(builder.driver, builder.namespace, builder.app_id)
            await self._write(self._create_once(CONFIGMAPS, conf_map))
        # Placed on the driver's node at creation: one write less per executor than a binding
        # (the simulator must not be what a benchmark measures).
        node = (driver.get("spec") or {}).get("nodeName") or self.node_names[0]
        creations = []
        for i in range(1, len(run.executors) + 1):
            pod = builder.pod(i)
            pod["spec"]["nodeName"] = node
            creations.append(self._write(self._create_once(PODS, pod)))
        results = await asyncio.gather(*creations, return_exceptions=True)
        self.stats.executors_created += sum(1 for r in results if r is True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if retryable := [r for r in failures if unavailable(r)]:
            raise retryable[0]  # tried again as a whole; executors created meanwhile are kept
        if failures:
            self.stats.write_errors += len(failures)
            log.warning(
                "executor pods not created",
                extra={"driver": run.key, "count": len(failures), "error": str(failures[0])},
            )
        annotations = meta.get("annotations") or {}
        run_time = float(annotations.get(ANNOTATION_RUN_SECONDS) or self._uniform(self.config.run_time))
        self._after(run_time, lambda: self._finish(driver))

    async def _config_maps(self, driver: dict[str, Any]) -> dict[str, dict[str, str]]:
        """The data of the ConfigMaps the driver mounts (its properties file and executor template,
        SPARK_CONF_DIR): what its container sees. One missing is left out, as if empty."""
        namespace = driver["metadata"]["namespace"]
        found: dict[str, dict[str, str]] = {}
        for name in mounted_config_maps(driver):
            with ignore_not_found():
                found[name] = (await self.client.get(CONFIGMAPS, name, namespace)).get("data") or {}
        return found

    async def _refused(self, driver: dict[str, Any], run: _Driver, error: sparkconf.SparkError) -> None:
        """Spark would not build this driver's executor pods: it exits (code 1), or runs on with none."""
        said = f"{error.java_class}: {error}"
        if run.refusal is None:  # said once, though a write is tried again after an outage
            run.refusal = said
            self.stats.executors_refused += 1
            log.log(
                logging.ERROR if error.ends_driver else logging.WARNING,
                "Spark refuses to build this driver's executor pods; "
                + (
                    "the driver exits with code 1"
                    if error.ends_driver
                    else "the driver runs on without executors"
                ),
                extra={"driver": run.key, "error": said},
            )
        if not error.ends_driver:
            run.finished = True  # Spark logs it and tries again every second: it never gets executors
            return
        meta = driver["metadata"]
        # The kubelet reports the end of the log only when the container asks for it.
        logs = driver_container(driver).get("terminationMessagePolicy") == "FallbackToLogsOnError"
        await self._terminate(meta["namespace"], meta["name"], DRIVER_CONTAINER, failed=True,
                              message=f"Exception in thread \"main\" {said}" if logs else None)  # fmt: skip
        run.failed = run.finished = True
        self.stats.drivers_failed += 1
        self._heard(driver, "Failed")

    async def _finish(self, driver: dict[str, Any]) -> None:
        """Executors complete, then the driver: Succeeded, or Failed."""
        meta = driver["metadata"]
        run = self._drivers.get(meta["uid"])
        if run is None or run.finished:
            return
        wanted = (meta.get("annotations") or {}).get(ANNOTATION_OUTCOME)
        if run.failed is None:  # decided once, even if the writes are tried again
            run.failed = wanted == "Failed" if wanted else self.random.random() < self.config.failure_rate
        failed = run.failed
        results = await asyncio.gather(
            *(
                self._terminate(meta["namespace"], name, EXECUTOR_CONTAINER, failed=False)
                for name in run.executors
            ),
            return_exceptions=True,
        )
        if retryable := [r for r in results if isinstance(r, BaseException) and unavailable(r)]:
            raise retryable[0]
        await self._terminate(meta["namespace"], meta["name"], DRIVER_CONTAINER, failed=failed)
        run.finished = True
        self._heard(driver, "Failed" if failed else "Succeeded")
        if failed:
            self.stats.drivers_failed += 1
        else:
            self.stats.drivers_succeeded += 1

    async def _terminate(
        self,
        namespace: str,
        name: str,
        container: str,
        *,
        failed: bool,
        message: str | None = "simulated failure",
        code: int | None = None,
    ) -> None:
        code = code if code is not None else 1 if failed else 0
        terminated = {"exitCode": code, "reason": "Error" if failed else "Completed",
                      "startedAt": _now(), "finishedAt": _now(),
                      **({"message": message} if failed and message else {})}  # fmt: skip
        status = {
            "phase": "Failed" if failed else "Succeeded",
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": _now()}],
            "containerStatuses": [{"name": container, "ready": False, "restartCount": 0, "image": "spark",
                                   "imageID": "", "state": {"terminated": terminated}}],
        }  # fmt: skip
        await self._write(self.client.patch(PODS, name, {"status": status}, namespace, subresource="status"))

    async def _stop(self, pod: dict[str, Any]) -> None:
        """A kubelet finishing a graceful deletion: the containers stopped (as by SIGTERM), then the
        pod deleted for good. A pod that never ran, or has ended, is only deleted."""
        meta = pod["metadata"]
        current = self.pods.store.get(object_key(pod))
        if current is None or current["metadata"].get("uid") != meta["uid"]:
            return  # gone already, or another pod of the same name
        status = current.get("status") or {}
        if status.get("phase") not in TERMINAL_PHASES and status.get("containerStatuses"):
            role = (meta.get("labels") or {}).get(naming.LABEL_SPARK_ROLE)
            container = DRIVER_CONTAINER if role == "driver" else EXECUTOR_CONTAINER
            await self._terminate(meta["namespace"], meta["name"], container, failed=True, message=None,
                                  code=SIGTERM_EXIT_CODE)  # fmt: skip
        with ignore_not_found(), ignore_conflict():  # gone, or a new pod of the same name
            await self._write(
                self.client.delete(
                    PODS, meta["name"], meta["namespace"], uid=meta["uid"], grace_period_seconds=0
                )
            )
        self.stats.pods_stopped += 1

    def _heard(self, driver: dict[str, Any], phase: str) -> None:
        key = naming.app_key_of(driver)
        if self.on_driver_phase is not None and key:
            self.on_driver_phase(key, phase, time.time())

    async def _write(self, request: Awaitable[Any]) -> Any:
        self.stats.writes += 1
        return await request
