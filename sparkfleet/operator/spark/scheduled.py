"""The ScheduledSparkApplication controller: runs a SparkApplication template on a cron schedule.

Each run is a SparkApplication named ``<scheduled>-<unix time of the run>``,
owned by the ScheduledSparkApplication and labelled with its name. The
concurrency policy decides what happens when a run is due while another is
still active: ``Allow`` starts it anyway, ``Forbid`` skips it, ``Replace``
deletes the active runs first. Finished runs beyond the history limits
(one successful, one failed by default) are deleted, oldest first.
"""

from __future__ import annotations

import copy
import datetime
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS, ScheduledSparkApplication
from sparkfleet.api.base import format_validation_error
from sparkfleet.kube import ApiError, InformerEvent, KubeClient
from sparkfleet.kube.events import EventRecorder
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.kube.scope import Scope, unsharded_scopes
from sparkfleet.operator.audit import AuditLog
from sparkfleet.operator.builder import BuiltController, ControllerBuilder
from sparkfleet.operator.cache import InformerCache
from sparkfleet.operator.controller import Result
from sparkfleet.operator.spark import app_cache, ownership, routing
from sparkfleet.operator.spark.owner_refs import explain_refusal
from sparkfleet.operator.spark.schedule import InvalidSchedule, Schedule, check_precision, run_name
from sparkfleet.operator.spark.status_writes import replace_status
from sparkfleet.operator.spark.validation import InvalidApplication, validate_schedule
from sparkfleet.operator.spark.views import application_view

log = logging.getLogger(__name__)

CONTROLLER_NAME = "scheduled-spark-application-controller"
LABEL_SCHEDULED_APP_NAME = "sparkoperator.k8s.io/scheduled-app-name"
FINISHED = {"COMPLETED": "success", "FAILED": "failure"}


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str | None) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _state(run: dict[str, Any]) -> str:
    return str(((run.get("status") or {}).get("applicationState") or {}).get("state") or "")


def parse_scheduled(
    raw: dict[str, Any], precision: str = "nanos"
) -> tuple[ScheduledSparkApplication, Schedule]:
    """The schedule and its template, validated: :class:`InvalidApplication` names what is wrong,
    including what would make every run invalid (``spec.template...``, a name too long for its runs)."""
    try:
        scheduled = ScheduledSparkApplication.model_validate(raw)
        schedule = Schedule.parse(scheduled.spec.schedule, scheduled.spec.time_zone)
    except ValidationError as exc:
        raise InvalidApplication(format_validation_error(exc)) from exc
    except InvalidSchedule as exc:
        raise InvalidApplication(str(exc)) from exc
    meta = raw["metadata"]
    validate_schedule(
        str(meta.get("name", "")), str(meta.get("namespace", "")), scheduled.spec.template, precision
    )
    return scheduled, schedule


def scheduled_key_of_run(event: InformerEvent) -> Iterable[NamespacedName]:
    """A run maps to its ScheduledSparkApplication: (its namespace, its scheduled-app-name label)."""
    meta = event.obj["metadata"]
    owner = (meta.get("labels") or {}).get(LABEL_SCHEDULED_APP_NAME)
    return (NamespacedName(meta["namespace"], owner),) if owner else ()


class ScheduledSparkApplicationController(BuiltController):
    def __init__(
        self,
        client: KubeClient,
        *,
        namespaces: list[str] | None = None,
        label_selector: str | None = None,
        scopes: list[Scope] | None = None,
        concurrent_syncs: int = 2,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
        timestamp_precision: str = "nanos",
        max_application_bytes: int = app_cache.DEFAULT_MAX_APPLICATION_BYTES,
        informers: InformerCache | None = None,
    ):
        """Serves ``scopes``; without them, ``namespaces`` (or all) filtered by ``label_selector``;
        its watches come from ``informers`` (shared with the application controller's), else its own.

        Runs carry their ScheduledSparkApplication's labels, so a label-selected
        scope sees them in the same watch.
        """
        self.client = client
        self.clock = clock
        check_precision(timestamp_precision)  # refused at start, not at the first run
        self.timestamp_precision = timestamp_precision
        self.events = EventRecorder(client, "sparkfleet")
        self.initial_scopes = scopes if scopes is not None else unsharded_scopes(namespaces, label_selector)
        self.scoped = (
            ControllerBuilder(client, CONTROLLER_NAME)
            .for_(SCHEDULED_SPARK_APPLICATIONS, transform=app_cache.bounded_view(max_application_bytes))
            # Runs come from the application controller's watch of each scope (one watch of
            # SparkApplications, not two), filtered by their label here (see operator.cache).
            .owns(
                SPARK_APPLICATIONS,
                LABEL_SCHEDULED_APP_NAME,
                scheduled_key_of_run,
                transform=application_view(max_application_bytes),
                client_side=True,
            )
            .with_options(concurrent_syncs=concurrent_syncs, audit=audit)
            .with_informers(informers if informers is not None else InformerCache(client))
            .complete(self._reconcile_key)
        )
        self.controller = self.scoped.controller
        self.scheduled = self.scoped.primary
        self.runs = self.scoped.secondary(0)

    async def _reconcile_key(self, key: NamespacedName) -> Result | None:
        return await self.reconcile(str(key))

    def _runs_of(self, namespace: str, name: str, uid: str | None) -> list[dict[str, Any]]:
        """The runs of the ScheduledSparkApplication ``name`` of ``uid``, oldest first: labelled with
        its name (how the watch finds them) and owned by its UID (anyone can set the label: an
        application that merely bears it is no run, counts for no concurrency and is never deleted)."""
        runs = [
            r
            for r in self.runs.list(namespace)
            if (r["metadata"].get("labels") or {}).get(LABEL_SCHEDULED_APP_NAME) == name
            and ownership.owned_by(r, uid)
        ]
        return sorted(runs, key=lambda r: r["metadata"].get("creationTimestamp") or "")

    async def reconcile(self, key: str) -> Result | None:
        namespace = key.split("/", 1)[0]
        raw = self.scheduled.get(key)
        if raw is None or raw["metadata"].get("deletionTimestamp"):
            return None
        status: dict[str, Any] = copy.deepcopy(raw.get("status") or {})
        new_status = copy.deepcopy(status)
        try:
            scheduled, schedule = parse_scheduled(app_cache.unpacked(raw), self.timestamp_precision)
        except InvalidApplication as exc:
            reason = str(exc)
            new_status.update({"scheduleState": "FailedValidation", "reason": reason})
            if new_status != status and await replace_status(
                self.client, self.events, SCHEDULED_SPARK_APPLICATIONS, raw, new_status
            ):
                self.events.emit(raw, "Warning", "ScheduledSparkApplicationFailedValidation", reason)
            return None
        name = raw["metadata"]["name"]
        now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        runs = self._runs_of(namespace, name, raw["metadata"].get("uid"))
        routing_keys = self.scoped.routing_keys(key)
        if routing_keys:
            runs = await self._claim_runs(raw, status, routing_keys, runs)
        active = [
            r
            for r in runs
            if ((r.get("status") or {}).get("applicationState") or {}).get("state") not in FINISHED
        ]
        new_status["scheduleState"] = "Scheduled"
        new_status.pop("reason", None)

        anchor = _parse(status.get("lastRun")) or _parse(raw["metadata"].get("creationTimestamp")) or now
        due = schedule.next_after(anchor)
        if not scheduled.spec.suspend and due <= now:
            policy = scheduled.spec.concurrency_policy or "Allow"
            if active and policy == "Forbid":
                log.info(
                    "run skipped: the previous one is still active", extra={"key": key, "due": _iso(due)}
                )
                new_status["lastRun"] = _iso(due)  # skipped, not postponed
            else:
                if active and policy == "Replace":
                    for run in active:
                        await self._delete(run)
                try:
                    started = await self._start_run(raw, scheduled, due)
                except ApiError as exc:
                    if exc.is_denied:
                        await self._run_refused(raw, status, new_status, exc)
                    raise
                new_status["lastRun"] = _iso(due)  # a run whose name is taken is skipped, as Forbid skips
                if started is not None:
                    new_status["lastRunName"] = started
            due = schedule.next_after(due if due > now - datetime.timedelta(minutes=1) else now)
        new_status["nextRun"] = _iso(due)
        await self._trim_history(scheduled, runs, new_status)
        if new_status != status:
            await replace_status(self.client, self.events, SCHEDULED_SPARK_APPLICATIONS, raw, new_status)
        if scheduled.spec.suspend:
            return None
        return Result(requeue_after=max(0.05, (due - now).total_seconds()))

    async def _claim_runs(
        self, raw: dict[str, Any], status: dict[str, Any], keys: frozenset[str], runs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """A ScheduledSparkApplication and its runs are one unit (see :mod:`.routing`): a run it owns
        whose routing labels disagree with its own (they changed) is relabelled, so that the run
        moves with it and stays in this holder's watch. The runs are listed when the last one is
        not in the cache (it is outside the watch). Returns the runs, oldest first."""
        meta = raw["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta.get("uid") or ""
        want = routing.routing_of(meta.get("labels"), keys)
        by_name = {run["metadata"]["name"]: run for run in runs}
        last = status.get("lastRunName")
        if last and last not in by_name:
            listed, _ = await self.client.list_all(
                SPARK_APPLICATIONS, namespace, label_selector=f"{LABEL_SCHEDULED_APP_NAME}={name}"
            )
            by_name.update({run["metadata"]["name"]: run for run in listed if uid in routing.owners(run)})
        for named, run in list(by_name.items()):
            run_meta = run["metadata"]
            if uid not in routing.owners(run) or run_meta.get("deletionTimestamp"):
                continue
            if routing.agrees(run_meta.get("labels"), want):
                continue
            try:
                if "spec" not in run:  # the cache's view (no spec): a full update needs the run whole
                    run = await self.client.get(SPARK_APPLICATIONS, named, namespace)
                    run_meta = run["metadata"]
            except ApiError as exc:
                if not exc.is_not_found:
                    raise
                del by_name[named]
                continue
            relabelled = {
                **run,
                "metadata": {**run_meta, "labels": routing.enforce(run_meta.get("labels") or {}, want)},
            }
            where = {"key": f"{namespace}/{name}", "run": named, "routing": routing.encode(want)}
            try:
                by_name[named] = await self.client.replace(SPARK_APPLICATIONS, relabelled)
            except ApiError as exc:
                if exc.is_not_found:
                    del by_name[named]
                    continue
                if not exc.is_forbidden:
                    raise  # a conflict: the retry reads it again
                log.warning("cannot relabel a run to its schedule's routing", extra=where)
                continue
            log.info("run relabelled to its schedule's routing", extra=where)
        return sorted(by_name.values(), key=lambda r: r["metadata"].get("creationTimestamp") or "")

    async def _start_run(
        self, raw: dict[str, Any], scheduled: ScheduledSparkApplication, due: datetime.datetime
    ) -> str | None:
        """Starts the run due at ``due``; returns its name, or None when an application this
        ScheduledSparkApplication does not own has the name (the run is not started, and that
        application is not taken for it: run names are predictable, and anyone may take one)."""
        meta = raw["metadata"]
        name = run_name(meta["name"], due, self.timestamp_precision)
        run = {
            "apiVersion": SPARK_APPLICATIONS.api_version,
            "kind": "SparkApplication",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": {**(meta.get("labels") or {}), LABEL_SCHEDULED_APP_NAME: meta["name"]},
                "ownerReferences": [{
                    "apiVersion": raw["apiVersion"], "kind": "ScheduledSparkApplication",
                    "name": meta["name"], "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True,
                }],
            },
            "spec": scheduled.to_kube()["spec"]["template"],
        }  # fmt: skip
        try:
            await self.client.create(SPARK_APPLICATIONS, run)
        except ApiError as exc:
            if not exc.is_conflict:  # 409: this run was already started (a retried reconcile), or ...
                raise
            existing = await self.client.get(SPARK_APPLICATIONS, name, meta["namespace"])
            if not ownership.owned_by(existing, meta.get("uid")):  # ... its name is taken
                message = (
                    f"run {name} not started: sparkapplication {meta['namespace']}/{name} exists and is not "
                    "owned by this ScheduledSparkApplication"
                )
                where = {"key": f"{meta['namespace']}/{meta['name']}", "run": name}
                log.warning("run not started: its name is taken", extra=where)
                self.events.emit(raw, "Warning", "ScheduledSparkApplicationRunNameTaken", message)
                return None
        else:
            self.events.emit(raw, "Normal", "ScheduledSparkApplicationRun", f"started run {name}")
        return name

    async def _run_refused(
        self, raw: dict[str, Any], status: dict[str, Any], new_status: dict[str, Any], exc: ApiError
    ) -> None:
        """A run the API server refuses (403: a permission the operator lacks) is said in the status's
        ``reason`` and a Warning Event, once; the reconcile fails and is retried with back-off, so a
        grant made later needs nothing else."""
        reason = explain_refusal(
            f"cannot start a run: {exc.status} {exc.reason}: {exc.message}",
            SCHEDULED_SPARK_APPLICATIONS.plural,
        )
        new_status["reason"] = reason
        if new_status != status and await replace_status(
            self.client, self.events, SCHEDULED_SPARK_APPLICATIONS, raw, new_status
        ):
            self.events.emit(raw, "Warning", "ScheduledSparkApplicationRunRefused", reason)

    async def _trim_history(
        self, scheduled: ScheduledSparkApplication, runs: list[dict[str, Any]], status: dict[str, Any]
    ) -> None:
        limits = {
            "success": 1
            if scheduled.spec.successful_run_history_limit is None
            else scheduled.spec.successful_run_history_limit,
            "failure": 1
            if scheduled.spec.failed_run_history_limit is None
            else scheduled.spec.failed_run_history_limit,
        }
        for outcome, field in (("success", "pastSuccessfulRunNames"), ("failure", "pastFailedRunNames")):
            finished = [
                r
                for r in runs
                if FINISHED.get(((r.get("status") or {}).get("applicationState") or {}).get("state", ""))
                == outcome
            ]
            keep = finished[len(finished) - limits[outcome] :] if limits[outcome] else []
            for run in finished[: len(finished) - len(keep)]:
                await self._delete(run)
            names = [r["metadata"]["name"] for r in reversed(keep)]  # newest first
            if names:
                status[field] = names
            else:
                status.pop(field, None)

    async def _delete(self, run: dict[str, Any]) -> None:
        """Deletes one of the runs (see :meth:`_runs_of`): that very object, by a UID precondition
        (an application that took its name meanwhile is not the run)."""
        meta = run["metadata"]
        try:
            await self.client.delete(
                SPARK_APPLICATIONS,
                meta["name"],
                meta["namespace"],
                propagation_policy="Background",
                uid=meta.get("uid"),
            )
        except ApiError as exc:
            if not (exc.is_not_found or exc.is_conflict):  # a conflict: the precondition failed
                raise
