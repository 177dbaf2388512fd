"""One ScheduledSparkApplication reconcile: observe -> decide -> act -> write.

- observe: the ScheduledSparkApplication and its runs from the caches (a schedule routed by
  labels also claims its runs: :meth:`ScheduledReconciler._claim_runs`), as a
  :class:`~.schedule_decide.Snapshot`;
- decide: :func:`~.schedule_decide.decide`, pure;
- act: delete the runs it replaces, start the run due, delete the runs beyond the history limits;
- write: the status, only when it changed, keeping the fields it does not name.

A schedule that does not validate gets ``FailedValidation`` and a Warning Event, once; a run the
API server refuses (403) gets the refusal as the status's ``reason`` and a Warning Event, once,
and the reconcile fails (retried with back-off).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sparkfleet.api import SCHEDULED_SPARK_APPLICATIONS, SPARK_APPLICATIONS, ScheduledSparkApplication
from sparkfleet.api.base import format_validation_error
from sparkfleet.api.scheduled import ScheduledSparkApplicationStatus
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.errors import ignore_conflict, ignore_not_found
from sparkfleet.kube.events import EventRecorder
from sparkfleet.kube.timestamps import format_time
from sparkfleet.operator.controller import Result
from sparkfleet.operator.spark import app_cache, ownership, routing
from sparkfleet.operator.spark.owner_refs import explain_refusal
from sparkfleet.operator.spark.schedule import InvalidSchedule, Schedule
from sparkfleet.operator.spark.schedule_decide import (
    DEFAULT_HISTORY_LIMIT,
    Decision,
    Run,
    Snapshot,
    StartRun,
    decide,
    failed_validation_status,
    refused_run_status,
)
from sparkfleet.operator.spark.status_writes import replace_status
from sparkfleet.operator.spark.validation import InvalidApplication, validate_schedule

log = logging.getLogger("sparkfleet.operator.spark.scheduled")  # its log lines say the controller, as before

LABEL_SCHEDULED_APP_NAME = "sparkoperator.k8s.io/scheduled-app-name"

Obj = dict[str, Any]


def parse_scheduled(raw: Obj, precision: str = "nanos") -> tuple[ScheduledSparkApplication, Schedule]:
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


def run_of(obj: Obj) -> Run:
    """A run as the decision sees it, from the object (or the cache's view of it)."""
    meta = obj["metadata"]
    state = ((obj.get("status") or {}).get("applicationState") or {}).get("state")
    return Run(
        name=meta["name"],
        uid=meta.get("uid"),
        state=str(state or ""),
        created=meta.get("creationTimestamp") or "",
    )


def snapshot_of(
    raw: Obj,
    scheduled: ScheduledSparkApplication,
    schedule: Schedule,
    runs: list[Obj],
    now: datetime.datetime,
    precision: str,
) -> Snapshot:
    spec = scheduled.spec
    return Snapshot(
        name=raw["metadata"]["name"],
        schedule=schedule,
        now=now,
        status=scheduled.status or ScheduledSparkApplicationStatus(),
        runs=tuple(run_of(r) for r in runs),
        created=raw["metadata"].get("creationTimestamp"),
        suspend=bool(spec.suspend),
        concurrency_policy=spec.concurrency_policy or "Allow",
        successful_run_history_limit=_limit(spec.successful_run_history_limit),
        failed_run_history_limit=_limit(spec.failed_run_history_limit),
        timestamp_precision=precision,
    )


def _limit(value: int | None) -> int:
    return DEFAULT_HISTORY_LIMIT if value is None else value


def _oldest_first(runs: list[Obj]) -> list[Obj]:
    return sorted(runs, key=lambda r: r["metadata"].get("creationTimestamp") or "")


@dataclass(frozen=True, slots=True)
class ScheduleCaches:
    """What a reconcile reads without a request: the ScheduledSparkApplication by ``ns/name``,
    the applications of a namespace that bear the run label, and the routing label keys of the
    scope holding a key (none outside label scopes)."""

    scheduled: Callable[[str], Obj | None]
    runs: Callable[[str], list[Obj]]
    routing_keys: Callable[[str], frozenset[str]]


class ScheduledReconciler:
    def __init__(
        self,
        client: KubeClient,
        events: EventRecorder,
        caches: ScheduleCaches,
        *,
        clock: Callable[[], float],
        timestamp_precision: str = "nanos",
    ):
        self.client = client
        self.events = events
        self.caches = caches
        self.clock = clock
        self.timestamp_precision = timestamp_precision

    async def reconcile(self, key: str) -> Result | None:
        raw = self.caches.scheduled(key)
        if raw is None or raw["metadata"].get("deletionTimestamp"):
            return None
        stored: Obj = raw.get("status") or {}
        try:
            scheduled, schedule = parse_scheduled(app_cache.unpacked(raw), self.timestamp_precision)
        except InvalidApplication as exc:
            await self._failed_validation(raw, stored, str(exc))
            return None
        now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        runs = await self._observe_runs(key, raw)
        snapshot = snapshot_of(raw, scheduled, schedule, runs, now, self.timestamp_precision)
        decision = decide(snapshot)
        status = await self._act(key, raw, scheduled, snapshot, decision)
        await self._write(raw, stored, status)
        return None if decision.requeue_after is None else Result(requeue_after=decision.requeue_after)

    # -- observe -------------------------------------------------------------------

    async def _observe_runs(self, key: str, raw: Obj) -> list[Obj]:
        """The runs of the ScheduledSparkApplication, oldest first: labelled with its name (how the
        watch finds them) and owned by its UID (anyone can set the label: an application that merely
        bears it is no run, counts for no concurrency and is never deleted)."""
        meta = raw["metadata"]
        name, uid = meta["name"], meta.get("uid")
        runs = _oldest_first([
            r
            for r in self.caches.runs(meta["namespace"])
            if (r["metadata"].get("labels") or {}).get(LABEL_SCHEDULED_APP_NAME) == name
            and ownership.owned_by(r, uid)
        ])  # fmt: skip
        routing_keys = self.caches.routing_keys(key)
        if routing_keys:
            runs = await self._claim_runs(raw, routing_keys, runs)
        return runs

    async def _claim_runs(self, raw: Obj, keys: frozenset[str], runs: list[Obj]) -> list[Obj]:
        """A ScheduledSparkApplication and its runs are one unit (see :mod:`.routing`): a run it owns
        whose routing labels disagree with its own (they changed) is relabelled, so that the run
        moves with it and stays in this holder's watch. The runs are listed when the last one is
        not in the cache (it is outside the watch). Returns the runs, oldest first."""
        meta = raw["metadata"]
        namespace, name, uid = meta["namespace"], meta["name"], meta.get("uid") or ""
        want = routing.routing_of(meta.get("labels"), keys)
        by_name = {run["metadata"]["name"]: run for run in runs}
        last = (raw.get("status") or {}).get("lastRunName")
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
            if "spec" not in run:  # the cache's view (no spec): a full update needs the run whole
                whole: Obj | None = None
                with ignore_not_found():
                    whole = await self.client.get(SPARK_APPLICATIONS, named, namespace)
                if whole is None:
                    del by_name[named]
                    continue
                run, run_meta = whole, whole["metadata"]
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
        return _oldest_first(list(by_name.values()))

    # -- act -----------------------------------------------------------------------

    async def _act(
        self, key: str, raw: Obj, scheduled: ScheduledSparkApplication, snapshot: Snapshot, decision: Decision
    ) -> ScheduledSparkApplicationStatus:
        """Carries out ``decision``; returns the status to write."""
        status = decision.status
        if decision.skipped is not None:
            log.info(
                "run skipped: the previous one is still active",
                extra={"key": key, "due": format_time(decision.skipped)},
            )
        if decision.start is not None:
            for run in decision.replace:
                await self._delete(raw, run)
            try:
                started = await self._start_run(raw, scheduled, decision.start)
            except ApiError as exc:
                if exc.is_denied:
                    await self._run_refused(raw, snapshot.status, exc)
                raise
            if not started and decision.status_if_name_taken is not None:
                status = decision.status_if_name_taken
        for run in decision.prune:
            await self._delete(raw, run)
        return status

    async def _start_run(self, raw: Obj, scheduled: ScheduledSparkApplication, start: StartRun) -> bool:
        """Starts the run; False when an application this ScheduledSparkApplication does not own
        has its name (the run is not started, and that application is not taken for it: run names
        are predictable, and anyone may take one)."""
        meta = raw["metadata"]
        name = start.name
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
                return False
        else:
            self.events.emit(raw, "Normal", "ScheduledSparkApplicationRun", f"started run {name}")
        return True

    async def _delete(self, raw: Obj, run: Run) -> None:
        """Deletes one of the runs: that very object, by a UID precondition (an application that
        took its name meanwhile is not the run: the 409 is swallowed, as a 404)."""
        with ignore_not_found(), ignore_conflict():
            await self.client.delete(
                SPARK_APPLICATIONS,
                run.name,
                raw["metadata"]["namespace"],
                propagation_policy="Background",
                uid=run.uid,
            )

    # -- write ---------------------------------------------------------------------

    async def _write(self, raw: Obj, stored: Obj, status: ScheduledSparkApplicationStatus) -> bool:
        """Writes ``status`` unless it is what is stored; True when written."""
        wire = status.to_kube()
        if wire == stored:
            return False
        return await replace_status(self.client, self.events, SCHEDULED_SPARK_APPLICATIONS, raw, wire)

    async def _failed_validation(self, raw: Obj, stored: Obj, reason: str) -> None:
        status = failed_validation_status(stored, reason)
        if status != stored and await replace_status(
            self.client, self.events, SCHEDULED_SPARK_APPLICATIONS, raw, status
        ):
            self.events.emit(raw, "Warning", "ScheduledSparkApplicationFailedValidation", reason)

    async def _run_refused(self, raw: Obj, status: ScheduledSparkApplicationStatus, exc: ApiError) -> None:
        """A run the API server refuses (403: a permission the operator lacks) is said in the status's
        ``reason`` and a Warning Event, once; the reconcile fails and is retried with back-off, so a
        grant made later needs nothing else."""
        reason = explain_refusal(
            f"cannot start a run: {exc.status} {exc.reason}: {exc.message}",
            SCHEDULED_SPARK_APPLICATIONS.plural,
        )
        if await self._write(raw, raw.get("status") or {}, refused_run_status(status, reason)):
            self.events.emit(raw, "Warning", "ScheduledSparkApplicationRunRefused", reason)
