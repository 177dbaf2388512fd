"""The SparkApplication controller: observe pods, decide with the lifecycle, act, write status once.

Per reconcile of one application:

1. read the application and its pods from the informers' caches; in a scope routed by labels,
   its own pods that disagree with its routing labels are relabelled to them, so that they stay
   in its holder's watch (they are looked for outside it when some may be there; see
   :mod:`sparkfleet.operator.spark.routing`);
2. :func:`lifecycle.decide` picks the next state and the action;
3. the action runs (submit natively, delete the old driver, or delete the
   application when its TTL expired);
4. the status is written once, and only if it changed (a compare-and-swap
   on resourceVersion; a conflict requeues).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sparkfleet.api import SPARK_APPLICATIONS, SparkApplication
from sparkfleet.api.sparkapplication import SparkApplicationStatus
from sparkfleet.kube import ApiError, InformerEvent, KubeClient
from sparkfleet.kube.errors import ignore_not_found
from sparkfleet.kube.events import EventRecorder
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.resources import CONFIGMAPS, PODS, RESOURCEQUOTAS, SERVICES
from sparkfleet.kube.scope import Scope, unsharded_scopes
from sparkfleet.kube.timestamps import parse_time
from sparkfleet.kube.transform import pod_status_view
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.builder import BuiltController, ControllerBuilder
from sparkfleet.operator.cache import InformerCache
from sparkfleet.operator.controller import Result
from sparkfleet.operator.ratelimiters import RateLimiter
from sparkfleet.operator.spark import app_cache, lifecycle, naming, ownership, routing, web_ui
from sparkfleet.operator.spark import bounds as resource_bounds
from sparkfleet.operator.spark import metrics as spark_metrics
from sparkfleet.operator.spark.app_status import (
    attempted,
    fail_submission,
    next_status,
    refused,
    state_of,
    submitted,
)
from sparkfleet.operator.spark.batch import pod_groups
from sparkfleet.operator.spark.batch.model import BatchOptions, BatchPlan
from sparkfleet.operator.spark.batch.plan import plan_for
from sparkfleet.operator.spark.driver_pdb import DriverPDBs
from sparkfleet.operator.spark.lifecycle import Action, AppState
from sparkfleet.operator.spark.observe import Snapshot, driver_among, observation_of, submitted_hash
from sparkfleet.operator.spark.owner_refs import explain_refusal
from sparkfleet.operator.spark.pod_policy import NO_POLICY, PodPolicy
from sparkfleet.operator.spark.pod_policy import problems as refused_by_policy
from sparkfleet.operator.spark.policies import (
    EXECUTOR_STATE_BATCH_SECONDS,
    STALE_RECHECK_SECONDS,
    DriverGrace,
    EchoWait,
    ExecutorBatching,
    executors_only_change,
)
from sparkfleet.operator.spark.status import driver_of, executor_events
from sparkfleet.operator.spark.status_writes import replace_status
from sparkfleet.operator.spark.submission import Submission, new_submission_id, spec_hash
from sparkfleet.operator.spark.validation import InvalidApplication, parse, unknown_fields_warning
from sparkfleet.operator.spark.views import application_view

log = logging.getLogger(__name__)

CONTROLLER_NAME = "spark-application-controller"
COMPONENT = "sparkfleet"
# How often the holder of an application whose running driver creates executors with another routing
# than the application's (its routing label changed while it ran) looks for them, to claim them.
STRAY_POLL_SECONDS = 5.0
# How often a submission looks again at a pod or Service in its way that is being deleted (see
# ownership.being_deleted), or that it deleted as an earlier application's orphan (ownership.orphan_of).
GOING_RECHECK_SECONDS = 1.0
THIS_APPLICATION = "this application"
DEFAULT_DRIVER_NAME = "the driver pod is named after the application: spec.driver.podName names it otherwise"
UI_SERVICE_NAME = "the Spark UI Service is named after the application"
OPERATOR_PODS = f"{naming.LABEL_LAUNCHED_BY_OPERATOR}=true"


class _InTheWay(Exception):
    """An object of the name a submission creates, which the submission's owner does not own:
    ``wait`` when it is on its way out, else a collision (``message``), which ``refuse``s the
    submission when the name comes from the spec (see :mod:`.ownership`)."""

    def __init__(self, message: str, *, wait: bool = False, refuse: bool = False):
        super().__init__(message)
        self.message = message
        self.wait = wait
        self.refuse = refuse


def app_key_of_pod(event: InformerEvent) -> Iterable[NamespacedName]:
    """A pod the operator launched maps to its application: (its namespace, its app-name label)."""
    meta = event.obj["metadata"]
    app = (meta.get("labels") or {}).get(naming.LABEL_APP_NAME)
    return (NamespacedName(meta["namespace"], app),) if app else ()


class SparkApplicationController(BuiltController):
    def __init__(
        self,
        client: KubeClient,
        *,
        namespaces: list[str] | None = None,
        label_selector: str | None = None,
        scopes: list[Scope] | None = None,
        concurrent_syncs: int = 10,
        max_tracked_executors: int = 1000,
        ui_service: bool = True,
        ingress: web_ui.IngressOptions | None = None,
        rate_limiter: RateLimiter[NamespacedName] | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
        executor_state_batch: float = EXECUTOR_STATE_BATCH_SECONDS,
        driver_grace: float = lifecycle.DRIVER_CREATION_GRACE_SECONDS,
        default_ttl: float = 0.0,
        driver_pdb: bool = False,
        batch: BatchOptions | None = None,
        pod_policy: PodPolicy = NO_POLICY,
        bounds: resource_bounds.Bounds | None = None,
        check_quotas: bool = True,
        max_application_bytes: int = app_cache.DEFAULT_MAX_APPLICATION_BYTES,
        informers: InformerCache | None = None,
    ):
        """Serves ``scopes``; without them, ``namespaces`` (or all) filtered by ``label_selector``;
        its watches come from ``informers`` (shared with other controllers), else its own.

        A status change of executors only is written at most once per ``executor_state_batch``
        seconds per application; a change of the application's state is written at once.

        An application beyond ``bounds``, or (``check_quotas``) beyond a hard limit of its
        namespace's ResourceQuotas, is refused before anything is created (see :mod:`.bounds`).
        """
        self.client = client
        self.pod_policy = pod_policy  # what specs may not ask of their pods (--pod-security)
        self.bounds = bounds or resource_bounds.Bounds()
        self.check_quotas = check_quotas
        self._quotas_forbidden: set[str] = set()  # namespaces whose quotas may not be listed: said once
        self.driver_grace = driver_grace  # a driver created this recently and not in the cache is waited for
        self.default_ttl = default_ttl  # --default-time-to-live-seconds: of finished apps that set none
        self.pdbs = DriverPDBs(client, driver_pdb)  # --enable-driver-pdb
        self.batch = batch or BatchOptions()  # --enable-batch-scheduler, ... (see .batch)
        self.executor_state_batch = executor_state_batch
        self._executor_write_due: dict[
            NamespacedName, float
        ] = {}  # key -> when its held executor states are written
        self.max_tracked_executors = max_tracked_executors
        self.ui_service = ui_service
        self.ingress = ingress or web_ui.IngressOptions()  # --ingress-*: the UI Ingress (see web_ui)
        self.clock = clock
        self.events = EventRecorder(client, COMPONENT)
        self._unobserved: dict[
            NamespacedName, str | None
        ] = {}  # key -> resourceVersion our last status write replaced
        self._pods_left: set[NamespacedName] = (
            set()
        )  # keys of served applications a pod of which left the pods' watch
        self._next_pod_list: dict[
            NamespacedName, float
        ] = {}  # key -> when its astray executors are looked for again
        self.initial_scopes = scopes if scopes is not None else unsharded_scopes(namespaces, label_selector)
        self.scoped = (
            ControllerBuilder(client, CONTROLLER_NAME)
            # see app_cache; the same view as the scheduled controller's runs: one watch for both
            .for_(
                SPARK_APPLICATIONS,
                transform=application_view(max_application_bytes),
                urgent=self._awaits_own_write,
            )
            .owns(
                PODS,
                OPERATOR_PODS,
                self._pod_event,
                transform=pod_status_view,
                index_label=naming.LABEL_APP_NAME,
                delay=self._executor_news_delay,
            )
            .with_options(concurrent_syncs=concurrent_syncs, rate_limiter=rate_limiter, audit=audit)
            .with_informers(informers if informers is not None else InformerCache(client))
            .complete(self.reconcile)
        )
        self.controller = self.scoped.controller
        self.apps = self.scoped.primary
        self.pods = self.scoped.secondary(0)
        spark_metrics.RUNNING.sources.append(self._cached_apps)

    def _pod_event(self, event: InformerEvent) -> Iterable[NamespacedName]:
        """A pod's event maps to its application; a pod that may have left the watch by a change of
        its labels (not deleted) is noted, so that the application's next reconcile looks for it."""
        keys = app_key_of_pod(event)
        if routing.left_watch(event.type, event.obj):
            self._pods_left.update(key for key in keys if self.apps.get(key) is not None)
        return keys

    def _executor_news_delay(self, event: InformerEvent, key: NamespacedName) -> float | None:
        """An executor's event while the application's executor states are held for their batch
        waits for the held write (see :meth:`.policies.ExecutorBatching.news_delay`)."""
        labels = event.obj["metadata"].get("labels") or {}
        if labels.get(naming.LABEL_SPARK_ROLE) != "executor":
            return None
        return ExecutorBatching.news_delay(self._executor_write_due.get(key), time.monotonic())

    def _awaits_own_write(self, key: NamespacedName) -> bool:
        """An application event while our last status write has not reached the cache: most likely
        that write's own echo, which a deferred reconcile (a pod's news) is waiting for."""
        return key in self._unobserved

    def _cached_apps(self) -> list[dict[str, Any]]:
        return [obj for informer in self.apps for obj in informer.store.list()]

    async def stop(self, timeout: float = 30.0) -> None:
        await super().stop(timeout)
        if self._cached_apps in spark_metrics.RUNNING.sources:
            spark_metrics.RUNNING.sources.remove(self._cached_apps)

    def _pods(
        self, namespace: str, app_name: str, submission_id: str | None, app_uid: str | None
    ) -> list[dict[str, Any]]:
        """The pods of the recorded submission: labelled with it, and owned by the application (a
        driver by its UID, an executor by its driver's; labels alone are anyone's to set)."""
        if not submission_id:
            return []
        labelled = [
            pod
            for pod in self.pods.list_labelled(namespace, app_name)
            if pod["metadata"]["labels"].get(naming.LABEL_SUBMISSION_ID) == submission_id
        ]
        return routing.owned(labelled, app_uid)

    # -- reconcile -----------------------------------------------------------------

    async def reconcile(self, key: NamespacedName) -> Result | None:
        """observe -> decide -> act -> write: the snapshot, the lifecycle's decision and the status
        it leads to, the actions, and one status write if anything changed."""
        seen = await self.observe(key)
        if not isinstance(seen, Snapshot):
            return seen
        decision = lifecycle.decide(seen.observation)
        status = next_status(
            seen.status,
            seen.observation,
            decision,
            was_refused=seen.was_refused,
            executors=seen.executors,
            max_tracked_executors=self.max_tracked_executors,
        )
        events = list(decision.events)
        acted = await self.act(seen, decision, status, events)
        if not isinstance(acted, SparkApplicationStatus):
            return acted
        await self.pdbs.converge(seen.raw, seen.app.spec, state_of(acted))
        return await self.write(seen, decision, acted, events)

    async def observe(self, key: NamespacedName) -> Snapshot | Result | None:
        """The application as it is: a :class:`Snapshot` from the caches and the few reads it needs,
        or instead what the reconcile returns at once: None (gone, or refused as invalid) or a wait
        (the echo of our own write, or a driver just created, is on its way)."""
        raw = self.apps.get(key)
        if raw is None or raw["metadata"].get("deletionTimestamp"):
            self._unobserved.pop(key, None)
            self._executor_write_due.pop(key, None)
            self._pods_left.discard(key)
            self._next_pod_list.pop(key, None)
            self.pdbs.forget(key)
            return None  # deleted: its pods follow by garbage collection
        echo = EchoWait(STALE_RECHECK_SECONDS).wait(
            self._unobserved.get(key), raw["metadata"].get("resourceVersion")
        )
        if echo is not None:
            # Our last status write has not reached the cache yet: deciding from this older copy
            # could submit twice. The watch event of that write brings the key back.
            return Result(requeue_after=echo)
        self._unobserved.pop(key, None)
        try:
            app = parse(app_cache.unpacked(raw))  # over --max-application-bytes: refused
        except InvalidApplication as exc:
            await self._reject(raw, str(exc))
            return None
        status = app.status if app.status is not None else SparkApplicationStatus()
        namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
        was_refused = refused(status)
        # Refused as invalid, never submitted; the spec is valid now: a fresh start.
        state = AppState.NEW if was_refused else state_of(status)
        uid = raw["metadata"].get("uid")
        pods = self._pods(namespace, name, status.submission_id, uid)
        driver_pod = driver_among(pods)
        fetched = False
        if driver_pod is None and state in lifecycle.ACTIVE:
            grace = DriverGrace(self.driver_grace).wait(
                parse_time(status.last_submission_attempt_time), self.clock()
            )
            if grace is not None:  # just created: its watch event is on the way and brings this key back
                return Result(requeue_after=grace)
            driver_pod = await self._get_driver(namespace, status, uid)  # the cache may not have it yet
            fetched = driver_pod is not None
        routing_keys = self.scoped.routing_keys(key)
        look_again: float | None = None
        if routing_keys and state in lifecycle.ACTIVE and status.submission_id:
            pods, driver_pod, look_again = await self._claim_pods(
                raw, status.submission_id, routing_keys, pods, driver_pod, fetched
            )
        current_hash = spec_hash(app)
        if driver_pod is not None and submitted_hash(driver_pod) is None:
            driver_pod = await self._adopt_foreign_driver(raw, driver_pod, current_hash)
        observation = observation_of(
            app,
            status,
            state,
            driver_pod,
            current_hash,
            now=self.clock(),
            driver_grace=self.driver_grace,
            default_ttl=self.default_ttl,
        )
        return Snapshot(
            key=key,
            raw=raw,
            app=app,
            status=status,
            was_refused=was_refused,
            pods=pods,
            driver_pod=driver_pod,
            routing_keys=routing_keys,
            look_again=look_again,
            observation=observation,
        )

    async def act(
        self,
        seen: Snapshot,
        decision: lifecycle.Decision,
        status: SparkApplicationStatus,
        events: list[lifecycle.Event],
    ) -> SparkApplicationStatus | Result | None:
        """Runs the decision's actions: submit natively, delete the old driver, delete the
        application whose TTL expired. Returns the status to write (a submission changes it; its
        Events are added to ``events``), or what the reconcile returns instead, writing nothing."""
        for action in decision.actions:
            if action is Action.SUBMIT:
                status, wait = await self._submit(seen, status, events)
                if wait is not None:  # something in the way is going: nothing to write yet
                    return Result(requeue_after=wait)
            elif action is Action.DELETE_DRIVER and seen.driver_pod is not None:
                meta = seen.driver_pod["metadata"]
                if not meta.get("deletionTimestamp"):  # once; its removal requeues the key
                    await self._delete(PODS, meta["name"], seen.namespace, uid=meta.get("uid"))
            elif action is Action.DELETE_APP:
                await self._delete(SPARK_APPLICATIONS, seen.name, seen.namespace, uid=seen.uid)
                return None
        return status

    async def write(
        self,
        seen: Snapshot,
        decision: lifecycle.Decision,
        status: SparkApplicationStatus,
        events: list[lifecycle.Event],
    ) -> Result | None:
        """Writes the status once, only if it changed (a write of executor states only is held for
        its batch window), then counts what changed and says the Events."""
        old, new = seen.status.to_kube(), status.to_kube()
        hold = self._executor_states_hold(seen.key, old, new, bool(decision.actions or events))
        if hold is not None:
            return Result(requeue_after=min(hold, decision.requeue_after or hold))
        # A driver whose status write fails stays: the next reconcile adopts it (or removes it if
        # the spec changed meanwhile), as after a crash between the two writes.
        await self._write_status(seen.raw, old, new)
        # Said once the states they report are written (a held write says them when it is made).
        executors = seen.executors
        said = executor_events(executors, old.get("executorState") or {}, new.get("executorState") or {})
        spark_metrics.record(
            seen.namespace,
            (old.get("applicationState") or {}).get("state") or "",
            new["applicationState"]["state"],
            old.get("executorState") or {},
            new.get("executorState") or {},
            created=parse_time(seen.raw["metadata"].get("creationTimestamp")),
            submitted=parse_time(new.get("lastSubmissionAttemptTime")),
            now=seen.observation.now,
            labels=seen.raw["metadata"].get("labels"),
            submission_attempts=int(new.get("submissionAttempts") or 0),
            execution_attempts=int(new.get("executionAttempts") or 0),
        )
        for event in events:
            self.events.emit(seen.raw, event.type, event.reason, event.message)
        for event in said:  # as many as executors: bounded per application
            self.events.emit(seen.raw, event.type, event.reason, event.message, limited=True)
        after = min((t for t in (decision.requeue_after, seen.look_again) if t), default=None)
        return Result(requeue_after=after) if after else None

    async def _claim_pods(
        self,
        raw: dict[str, Any],
        submission_id: str,
        keys: frozenset[str],
        pods: list[dict[str, Any]],
        driver_pod: dict[str, Any] | None,
        fetched: bool,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, float | None]:
        """Brings the application's pods into this holder's watch (see :mod:`.routing`).

        Pods of the application disagreeing with its routing are relabelled to it. The submission's
        pods are listed when some may be outside the watch: the driver was not in the cache, a
        pod left the watch, or the running driver creates executors with another routing (then
        again every :data:`STRAY_POLL_SECONDS`, which is returned). Returns the pods and the driver
        as this reconcile should observe them, and when to look again."""
        meta = raw["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta.get("uid")
        key = NamespacedName(namespace, name)
        want = routing.routing_of(meta.get("labels"), keys)
        astray = (
            driver_pod is not None
            and driver_of(driver_pod).phase in ("Pending", "Running", "Unknown")
            and routing.executors_astray(driver_pod, want)
        )
        left = key in self._pods_left
        self._pods_left.discard(key)
        by_name = {pod["metadata"]["name"]: pod for pod in pods}
        if driver_pod is not None:
            by_name[driver_pod["metadata"]["name"]] = driver_pod
        now = time.monotonic()
        listing = fetched or left or (astray and now >= self._next_pod_list.get(key, 0.0))
        if listing:
            listed, _ = await self.client.list_all(
                PODS, namespace, label_selector=routing.submission_selector(name, submission_id)
            )
            by_name.update({pod["metadata"]["name"]: pod for pod in routing.owned(listed, uid)})
        if not astray:
            self._next_pod_list.pop(key, None)
        elif listing:
            self._next_pod_list[key] = now + STRAY_POLL_SECONDS
        for pod in routing.strays(by_name.values(), want, uid):
            claimed = await self._claim(pod, want, key)
            if claimed is not None:
                by_name[claimed["metadata"]["name"]] = claimed
        claimed_pods = list(by_name.values())
        driver = next(
            (
                p
                for p in claimed_pods
                if (p["metadata"].get("labels") or {}).get(naming.LABEL_SPARK_ROLE) == "driver"
            ),
            None,
        )
        return claimed_pods, driver, STRAY_POLL_SECONDS if astray else None

    async def _claim(
        self, pod: dict[str, Any], want: routing.Routing, key: NamespacedName
    ) -> dict[str, Any] | None:
        """Relabels one of the application's pods (found to be its own, see :func:`routing.owned`) to
        its routing: a compare-and-swap update; a conflict raises, and the retry reads it again.
        Returns the pod as it is now, or None if it is gone (or now owned by another)."""
        meta = pod["metadata"]
        where = {"key": str(key), "pod": meta["name"], "routing": routing.encode(want)}
        try:
            current = pod
            if "containers" not in (pod.get("spec") or {}):  # the cache's trimmed copy: read it whole
                current = await self.client.get(PODS, meta["name"], meta["namespace"])
            if routing.owners(current) != routing.owners(pod) or current["metadata"].get("deletionTimestamp"):
                return None
            if routing.agrees(current["metadata"].get("labels"), want):
                return current
            relabelled: dict[str, Any] = await self.client.replace(PODS, routing.claimed(current, want))
        except ApiError as exc:
            if exc.is_forbidden:
                log.warning(
                    "cannot relabel a pod to its application's routing (pods update is not granted)",
                    extra=where,
                )
                return None
            if exc.is_not_found:
                return None
            raise
        log.info("pod relabelled to its application's routing", extra=where)
        return relabelled

    def _executor_states_hold(
        self, key: NamespacedName, old: dict[str, Any], new: dict[str, Any], acted: bool
    ) -> float | None:
        """Seconds to hold back a status write that changes executor states only; None: write now
        (see :class:`.policies.ExecutorBatching`)."""
        batch = ExecutorBatching(self.executor_state_batch).verdict(
            executors_only_change(old, new, acted), self._executor_write_due.get(key), time.monotonic()
        )
        if batch.due is None:
            self._executor_write_due.pop(key, None)
        else:
            self._executor_write_due[key] = batch.due
        return batch.hold

    async def _adopt_foreign_driver(
        self, raw: dict[str, Any], driver_pod: dict[str, Any], current_hash: str
    ) -> dict[str, Any]:
        """A driver the status records but no spec hash marks: another operator (the Kubeflow Spark
        Operator, before a takeover) launched it from the spec as it is. It is followed, never
        taken for a spec change; the hash is stamped on it so that later edits of the spec are seen.
        Only a pod the application owns (by UID) is stamped."""
        meta = driver_pod["metadata"]
        if not ownership.owned_by(driver_pod, raw["metadata"].get("uid")) or meta.get("deletionTimestamp"):
            return driver_pod
        where = {"key": f"{meta['namespace']}/{raw['metadata']['name']}", "pod": meta["name"]}
        log.info("adopting a driver pod another operator launched", extra=where)
        # A read and an update (a compare-and-swap), not a patch: the Spark Operator's own RBAC,
        # which a takeover may run under, grants pods update but not patch.
        try:
            pod = await self.client.get(PODS, meta["name"], meta["namespace"])
            pod["metadata"]["annotations"] = {
                **(pod["metadata"].get("annotations") or {}),
                naming.ANNOTATION_SPEC_HASH: current_hash,
            }
            stamped: dict[str, Any] = await self.client.replace(PODS, pod)
        except ApiError as exc:
            if exc.is_forbidden:  # followed all the same; only a later spec edit goes unseen
                log.warning(
                    "cannot stamp the spec hash on an adopted driver pod (pods update is not granted): "
                    "a change of the spec will not resubmit it",
                    extra=where,
                )
                return driver_pod
            if not exc.is_not_found:
                raise  # a conflict: the pod changed meanwhile; the retry reads it again
            return driver_pod  # gone meanwhile: its deletion event brings the key back
        return stamped

    async def _get_driver(
        self, namespace: str, status: SparkApplicationStatus, app_uid: str | None
    ) -> dict[str, Any] | None:
        """The recorded driver, read from the API server: only if it is the recorded submission's
        and the application's own (a pod of that name made by anyone else is not followed)."""
        pod_name = status.driver_info.pod_name if status.driver_info else None
        if not pod_name:
            return None
        with ignore_not_found():
            pod = await self.client.get(PODS, pod_name, namespace)
            labels = pod["metadata"].get("labels") or {}
            if labels.get(naming.LABEL_SUBMISSION_ID) != status.submission_id:
                return None
            return pod if ownership.owned_by(pod, app_uid) else None
        return None

    async def _reject(self, raw: dict[str, Any], message: str) -> None:
        """An invalid application: SUBMISSION_FAILED naming the field, and a Warning Event.

        It stays there (retrying cannot fix a spec) until the spec is fixed; see
        :func:`.app_status.fail_submission`."""
        status = SparkApplicationStatus.from_kube(raw.get("status"))
        failure = fail_submission(
            status, message, name=raw["metadata"]["name"], now=self.clock(), written=status
        )
        if failure.event is not None:
            await self._write_status(raw, status.to_kube(), failure.status.to_kube())
            self.events.emit(raw, failure.event.type, failure.event.reason, failure.event.message)

    async def _submit(
        self, seen: Snapshot, status: SparkApplicationStatus, events: list[lifecycle.Event]
    ) -> tuple[SparkApplicationStatus, float | None]:
        """Creates the driver pod, then its ConfigMap and Services; returns the status it leads to
        (its Events added to ``events``). The pods carry the application's values of the scope's
        routing keys (see :mod:`.routing`).

        An object in the way that the application does not own is never deleted, adopted or
        followed (see :mod:`.ownership`). Returns, second, None, or the seconds after which to try
        again when what is in the way is on its way out (the status is then not to be written)."""
        app, raw, routing_keys = seen.app, seen.raw, seen.routing_keys
        now = self.clock()
        submission_id = new_submission_id()
        try:
            await self._check_resources(app)
            batch = plan_for(app, self.batch)  # a batch scheduler not enabled is refused
            submission, exposure = self._render(app, submission_id, routing_keys, batch)
        except InvalidApplication as exc:
            # What only rendering finds (a ConfigMap over its size limit), or the bounds and the
            # namespace's quotas, is a spec error like any other: refused as invalid (no retry, no
            # FAILED), said once.
            return self._fail_submission(seen, status, events, str(exc), now), None
        status = attempted(status, now)
        unknown = unknown_fields_warning(app)
        if unknown:  # said once per submission: the application runs without them
            events.append(lifecycle.Event("Warning", "SparkApplicationUnknownFields", unknown))
        namespace, name = seen.namespace, seen.name
        driver_name: str = submission.driver_pod["metadata"]["name"]
        if batch is not None and batch.pod_group is not None:  # before the pods, as Kubeflow makes it
            try:
                await pod_groups.ensure(self.client, batch.pod_group, seen.uid)
            except pod_groups.PodGroupFailure as exc:  # no pods that would wait for a group never made
                return self._fail_submission(seen, status, events, str(exc), now, submission_id), None
        try:
            driver = await self.client.create(PODS, submission.driver_pod)
        except ApiError as exc:
            if exc.is_namespace_terminating:
                raise  # the application goes with its namespace: no failure to record, no Event
            if not exc.is_conflict:
                message = explain_refusal(
                    f"submission failed: {exc.status} {exc.reason}: {exc.message}", SPARK_APPLICATIONS.plural
                )
                # An attempt: its submission ID is recorded, as the Spark Operator records one.
                return self._fail_submission(seen, status, events, message, now, submission_id), None
            found = await self._existing_driver(raw, app, driver_name)
            if isinstance(found, float):
                return status, found
            if isinstance(found, str):
                return self._fail_submission(seen, status, events, found, now), None
            if found is None:
                raise
            driver = found
            submission_id = driver["metadata"]["labels"][naming.LABEL_SUBMISSION_ID]
            submission, exposure = self._render(app, submission_id, routing_keys, batch)
        driver_uid = driver["metadata"]["uid"]
        try:
            # Each create tolerates AlreadyExists of an object owned as it would be: an adopted
            # submission may have some of them, and the UI Service outlives runs.
            created = await asyncio.gather(
                self._ensure(
                    CONFIGMAPS, submission.owned_by_driver(submission.config_map, driver), driver_uid
                ),
                self._ensure(
                    SERVICES, submission.owned_by_driver(submission.driver_service, driver), driver_uid
                ),
                *(
                    self._ensure(
                        item.resource, item.obj, seen.uid, ui_of=name, field=item.field, why=item.why
                    )
                    for item in exposure.objects
                ),
                *(
                    [self._ensure(SERVICES, submission.ui_service, seen.uid, ui_of=name)]
                    if submission.ui_service
                    else []
                ),
            )
        except (ApiError, _InTheWay) as exc:
            if isinstance(exc, ApiError) and exc.is_namespace_terminating:
                raise  # as above: the driver pod goes with the namespace
            await self._delete(PODS, driver_name, namespace, uid=driver_uid)
            if isinstance(exc, _InTheWay) and exc.wait:
                return status, GOING_RECHECK_SECONDS
            if isinstance(exc, _InTheWay) and exc.refuse:
                return self._fail_submission(seen, status, events, exc.message, now), None
            if isinstance(exc, _InTheWay):
                message = f"submission failed: {exc.message}"
            else:
                message = explain_refusal(
                    f"submission failed: {exc.status} {exc.reason}: {exc.message}", SPARK_APPLICATIONS.plural
                )
            return self._fail_submission(seen, status, events, message, now, submission_id), None
        await self._refresh_ingresses(exposure, created[2 : 2 + len(exposure.objects)])
        status = submitted(
            status,
            submission_id=submission_id,
            app_id=submission.app_id,
            driver_info={
                "podName": submission.driver_pod["metadata"]["name"],
                **(_web_ui(submission.ui_service, created[-1]) if submission.ui_service else {}),
                **exposure.driver_info(),
            },
        )
        message = f"SparkApplication {name} was submitted successfully"
        events.append(lifecycle.Event("Normal", "SparkApplicationSubmitted", message))
        return status, None

    def _fail_submission(
        self,
        seen: Snapshot,
        status: SparkApplicationStatus,
        events: list[lifecycle.Event],
        message: str,
        now: float,
        submission_id: str | None = None,
    ) -> SparkApplicationStatus:
        """The submission failed (see :func:`.app_status.fail_submission`): the status it leads to;
        its Event is added to ``events``. Without ``submission_id`` the spec is refused, said once
        (by the Event, and a log line)."""
        failure = fail_submission(
            status, message, name=seen.name, now=now, written=seen.status, submission_id=submission_id
        )
        if failure.event is not None:
            events.append(failure.event)
            if submission_id is None:
                log.warning("submission refused", extra={"key": str(seen.key), "error": message})
        return failure.status

    async def _refresh_ingresses(self, exposure: web_ui.Exposure, found: list[dict[str, Any]]) -> None:
        """The application's Ingresses of an earlier run brought to this submission's rendering (as the
        Spark Operator updates them); one that cannot be is said, and stays as it was."""
        for item, existing in zip(exposure.objects, found, strict=True):
            update = web_ui.refreshed(existing, item.obj) if item.resource == web_ui.INGRESSES else None
            if update is not None:
                try:
                    await self.client.replace(web_ui.INGRESSES, update)
                except ApiError as exc:
                    where = f"{update['metadata']['namespace']}/{update['metadata']['name']}"
                    log.warning("cannot update an ingress", extra={"ingress": where, "error": exc.message})

    def _render(
        self, app: SparkApplication, submission_id: str, routing_keys: Iterable[str], batch: BatchPlan | None
    ) -> tuple[Submission, web_ui.Exposure]:
        return web_ui.render_exposed(
            app,
            submission_id,
            self.ingress,
            ui_service=self.ui_service,
            routing_keys=routing_keys,
            batch=batch,
        )

    async def _check_resources(self, app: SparkApplication) -> None:
        """Raises :class:`InvalidApplication` naming each field the platform refuses: what the pod
        policy forbids, what is beyond the bounds or a quota. Judged before each submission only,
        so a running application is never failed by a flag changed later.

        The quotas are read here, one list of the namespace's per submission (not a watch: the
        served scopes may be selected by labels a quota does not carry, and a submission is rare
        next to the watch events a cluster's quotas make as their usage changes)."""
        found = refused_by_policy(app, self.pod_policy) if self.pod_policy.enforces else []
        found += resource_bounds.bound_problems(app, self.bounds)
        namespace = app.metadata["namespace"]
        if not found and self.check_quotas and namespace not in self._quotas_forbidden:
            try:
                quotas, _ = await self.client.list_all(RESOURCEQUOTAS, namespace)
            except ApiError as exc:
                if not exc.is_forbidden:
                    raise
                self._quotas_forbidden.add(namespace)
                log.warning(
                    "cannot list resourcequotas (not granted): applications are not checked against "
                    "their namespace's quotas",
                    extra={"namespace": namespace},
                )
                quotas = []
            found = resource_bounds.quota_problems(app, quotas)
        if found:
            raise InvalidApplication("; ".join(found))

    async def _existing_driver(
        self, raw: dict[str, Any], app: SparkApplication, driver_name: str
    ) -> dict[str, Any] | float | str | None:
        """The driver pod's name is taken; fresh reads tell by whom. Returns the pod to adopt, the
        seconds to wait, why the submission is refused, or None (the reconcile is then retried):

        - a pod this application does not own (by UID) is never touched: if it is being deleted,
          it is waited for; otherwise the name collides, and the submission is refused naming
          the field that chose the name and the pod. The one exception is garbage: the orphan of
          an earlier application of the same name (:func:`ownership.orphan_of`) is deleted, as
          the garbage collector would delete it, and waited for;
        - the recorded submission's: our cache was behind; leave it;
        - a submission of this very application and spec that no status records (the process
          died between creating the driver and writing the status): adopt it, so a crash never
          starts a second driver;
        - another pod of this application (an earlier spec): remove it.
        """
        namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
        existing: dict[str, Any] | None = None
        fresh: dict[str, Any] | None = None
        with ignore_not_found():
            existing = await self.client.get(PODS, driver_name, namespace)
            fresh = await self.client.get(SPARK_APPLICATIONS, name, namespace)
        if existing is None or fresh is None:
            return None
        uid = fresh["metadata"]["uid"]
        where = {"key": f"{namespace}/{name}", "pod": driver_name}
        if not ownership.owned_by(existing, uid):
            if ownership.orphan_of(existing, "SparkApplication", name, uid):
                log.info("deleting the driver pod of an earlier application of this name", extra=where)
                await self._delete(PODS, driver_name, namespace, uid=existing["metadata"].get("uid"))
                return GOING_RECHECK_SECONDS
            if ownership.being_deleted(existing, self.clock()):
                log.info("waiting for a pod in the driver's name to go", extra=where)
                return GOING_RECHECK_SECONDS
            field = ownership.driver_name_field(app.spec.driver.pod_name, app.spec.spark_conf)
            why = DEFAULT_DRIVER_NAME if field == ownership.NAMED_AFTER_APPLICATION else ""
            return ownership.collision_message("pod", namespace, driver_name, THIS_APPLICATION, field, why)
        submission_id = (existing["metadata"].get("labels") or {}).get(naming.LABEL_SUBMISSION_ID)
        if submission_id == (fresh.get("status") or {}).get("submissionID"):
            return None
        if (
            submission_id
            and submitted_hash(existing) == spec_hash(app)
            and not existing["metadata"].get("deletionTimestamp")
        ):
            log.info("adopting a driver pod no status records", extra={**where, "submission": submission_id})
            return existing
        log.warning("removing a driver pod of this application no status records", extra=where)
        await self._delete(PODS, driver_name, namespace, uid=existing["metadata"].get("uid"))
        return None

    async def _ensure(
        self,
        resource: Any,
        obj: dict[str, Any],
        owner_uid: str | None,
        *,
        ui_of: str | None = None,
        field: str = "metadata.name",
        why: str = UI_SERVICE_NAME,
    ) -> dict[str, Any]:
        """Creates ``obj``, or returns what exists of its name if ``owner_uid`` owns it (part of an
        adopted submission, or the UI Service of an earlier run; ``ui_of``: the application whose UI
        Service ``obj`` is). Anything else of its name is :class:`_InTheWay`: waited for when it
        is being deleted (an earlier application's orphan UI Service is deleted first, as the
        garbage collector would), else a collision (which refuses the
        submission for the UI Service, named after the application, and fails it otherwise: a
        retry names the others anew)."""
        try:
            created: dict[str, Any] = await self.client.create(resource, obj)
        except ApiError as exc:
            if not exc.is_conflict:
                raise
            meta = obj["metadata"]
            namespace, name = meta["namespace"], meta["name"]
            try:
                existing: dict[str, Any] = await self.client.get(resource, name, namespace)
            except ApiError as missing:
                if missing.is_not_found:
                    raise exc from None  # gone meanwhile: the retry creates it
                raise
            if ownership.owned_by(existing, owner_uid):
                return existing
            if ui_of is not None and ownership.orphan_of(existing, "SparkApplication", ui_of, owner_uid):
                await self._delete(resource, name, namespace, uid=existing["metadata"].get("uid"))
                try:
                    again: dict[str, Any] = await self.client.create(resource, obj)
                except ApiError as still:
                    if not still.is_conflict:
                        raise
                    raise _InTheWay("", wait=True) from None  # its deletion takes a while
                return again
            if ownership.being_deleted(existing, self.clock()):
                raise _InTheWay("", wait=True) from None
            kind = resource.kind.lower()
            if ui_of is not None:
                text = ownership.collision_message(kind, namespace, name, THIS_APPLICATION, field, why)
            else:
                owner = "this application's driver pod"
                text = ownership.collision_message(kind, namespace, name, owner, None)
            raise _InTheWay(text, refuse=ui_of is not None) from None
        return created

    async def _delete(self, resource: Any, name: str, namespace: str, *, uid: str | None = None) -> None:
        """Deletes ``name``; with ``uid``, only the object of that UID (a precondition: one that
        replaced it by name meanwhile is left alone)."""
        with ignore_not_found():
            try:
                await self.client.delete(resource, name, namespace, propagation_policy="Background", uid=uid)
            except ApiError as exc:
                if not (uid and exc.is_conflict):
                    raise
                log.info(
                    "not deleting an object that replaced the one meant",
                    extra={"key": f"{namespace}/{name}", "resource": resource.plural, "uid": uid},
                )

    async def _write_status(self, raw: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> None:
        """One compare-and-swap write, skipped when nothing changed.

        A write the API server refuses as invalid (the installed CRD's schema disagrees with it) is
        said loudly, naming the application and the fields, and not retried: the same write would
        be refused again. The next change of the application or its pods reconciles it again."""
        if new == old:
            return
        if await replace_status(self.client, self.events, SPARK_APPLICATIONS, raw, new):
            meta = raw["metadata"]
            self._unobserved[NamespacedName(meta["namespace"], meta["name"])] = meta.get("resourceVersion")


def _web_ui(rendered: dict[str, Any], service: dict[str, Any] | None) -> dict[str, Any]:
    """status.driverInfo's UI fields, as the Spark Operator writes them: the Service's name and port,
    and ``webUIAddress``, ``<cluster IP>:<port>`` (once the Service has a cluster IP)."""
    port = rendered["spec"]["ports"][0]["port"]
    info: dict[str, Any] = {"webUIServiceName": rendered["metadata"]["name"], "webUIPort": port}
    cluster_ip = ((service or {}).get("spec") or {}).get("clusterIP")
    if cluster_ip and cluster_ip != "None":
        info["webUIAddress"] = f"{cluster_ip}:{port}"
    return info
