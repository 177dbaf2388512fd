"""The driver's PodDisruptionBudget, as the Kubeflow Spark Operator makes it (``--enable-driver-pdb``,
``spec.driverPodDisruptionBudget``; its ``internal/controller/sparkapplication/driver_pdb.go``).

With the operator's gate on and the application opted in, a PodDisruptionBudget named after the
driver pod, ``minAvailable: 1``, selecting ``sparkoperator.k8s.io/app-name=<app>`` and
``spark-role=driver``, labelled ``sparkoperator.k8s.io/launched-by-spark-operator=true`` and
``sparkoperator.k8s.io/app-name=<app>``, controlled by the application, keeps a ``kubectl drain``
from evicting the driver while the application is SUBMITTED or RUNNING. It is removed when the
run ends (COMPLETED, FAILED), when the run is replaced or stopped (INVALIDATING, PENDING_RERUN,
SUSPENDING, SUSPENDED), and when the application opts out; the garbage collector removes it with
the application. With the gate off, nothing is created nor removed (Kubeflow's: flipping the gate
off leaves the budgets that protect running drivers).

Only a budget the application owns (by UID) is ever deleted; one of the name that it does not own
is left alone and said in a log line (the driver is then not protected by us).

Unlike Kubeflow, the budgets are not watched (no informer, no list/watch grant): each instance
converges an application's budget once per change of what it wants (remembered per process), so
a budget deleted by hand comes back on the application's next run or the next holder's first
reconcile of it, not at once.
"""

from __future__ import annotations

import logging
from typing import Any

from sparkfleet.api.resource import Resource
from sparkfleet.api.sparkapplication import SparkApplicationSpec
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.errors import ignore_not_found
from sparkfleet.kube.keys import NamespacedName
from sparkfleet.operator.spark import naming, ownership
from sparkfleet.operator.spark.lifecycle import TERMINAL, AppState

log = logging.getLogger(__name__)

PODDISRUPTIONBUDGETS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
PROTECTED = frozenset({AppState.SUBMITTED, AppState.RUNNING})
UNPROTECTED = TERMINAL | {
    AppState.INVALIDATING,
    AppState.PENDING_RERUN,
    AppState.SUSPENDING,
    AppState.SUSPENDED,
}


def wanted(enabled: bool, opted_in: bool, state: AppState) -> bool | None:
    """Whether the budget must exist (True), must not (False), or is left as it is (None), for an
    application in ``state`` (the one this reconcile writes)."""
    if not enabled:
        return None
    if state in PROTECTED:
        return opted_in
    if state in UNPROTECTED:
        return False
    return None  # NEW, SUBMISSION_FAILED, SUCCEEDING, FAILING, UNKNOWN, RESUMING: as it is


def render(app: dict[str, Any], driver_name: str) -> dict[str, Any]:
    """The budget of ``app`` (its raw object, with its UID) whose driver pod is ``driver_name``."""
    meta = app["metadata"]
    name = meta["name"]
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": driver_name,
            "namespace": meta["namespace"],
            "labels": {naming.LABEL_LAUNCHED_BY_OPERATOR: "true", naming.LABEL_APP_NAME: name},
            "ownerReferences": [
                {
                    "apiVersion": app.get("apiVersion") or "sparkoperator.k8s.io/v1beta2",
                    "kind": "SparkApplication",
                    "name": name,
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "minAvailable": 1,
            "selector": {"matchLabels": {naming.LABEL_APP_NAME: name, naming.LABEL_SPARK_ROLE: "driver"}},
        },
    }


class DriverPDBs:
    """Converges each application's budget to :func:`wanted`, remembering per application (and UID)
    what it made it, so a steady application costs no request."""

    def __init__(self, client: KubeClient, enabled: bool):
        self.client = client
        self.enabled = enabled
        self._converged: dict[NamespacedName, tuple[str, bool]] = {}
        self._forbidden = False  # said once: the grant is missing

    def forget(self, key: NamespacedName) -> None:
        self._converged.pop(key, None)

    async def converge(self, app: dict[str, Any], spec: SparkApplicationSpec, state: AppState) -> None:
        """``app`` as read, ``spec`` its parsed spec, ``state`` the state the reconcile leads to."""
        want = wanted(self.enabled, bool(spec.driver_pod_disruption_budget), state)
        if want is None:
            return  # off, or a state that leaves the budget as it is: no name to work out
        meta = app["metadata"]
        uid = meta.get("uid") or ""
        key = NamespacedName(meta["namespace"], meta["name"])
        if not uid or self._converged.get(key) == (uid, want):
            return
        driver_name = naming.driver_pod_name(meta["name"], spec.driver.pod_name, spec.spark_conf)
        try:
            if want:
                await self._create(app, driver_name)
            else:
                await self._delete(meta["namespace"], driver_name, uid)
        except ApiError as exc:
            if not exc.is_forbidden:
                raise  # retried with the reconcile, as Kubeflow retries
            if not self._forbidden:
                log.warning(
                    "cannot manage driver PodDisruptionBudgets (policy poddisruptionbudgets get, create, "
                    "delete are not granted): drivers are not protected from evictions",
                    extra={"key": str(key)},
                )
                self._forbidden = True
        self._converged[key] = (uid, want)

    async def _create(self, app: dict[str, Any], driver_name: str) -> None:
        budget = render(app, driver_name)
        try:
            await self.client.create(PODDISRUPTIONBUDGETS, budget)
        except ApiError as exc:
            if not exc.is_conflict:
                raise
            meta = budget["metadata"]
            with ignore_not_found():
                existing = await self.client.get(PODDISRUPTIONBUDGETS, meta["name"], meta["namespace"])
                if not ownership.owned_by(existing, app["metadata"]["uid"]):
                    log.warning(
                        "a PodDisruptionBudget of the driver's name that this application does not own is "
                        "in the way: left alone, the driver is not protected by the operator",
                        extra={"key": f"{meta['namespace']}/{app['metadata']['name']}", "pdb": meta["name"]},
                    )
            return
        log.info(
            "created the driver PodDisruptionBudget",
            extra={"key": f"{app['metadata']['namespace']}/{app['metadata']['name']}", "pdb": driver_name},
        )

    async def _delete(self, namespace: str, name: str, uid: str) -> None:
        with ignore_not_found():
            existing = await self.client.get(PODDISRUPTIONBUDGETS, name, namespace)
            if not ownership.owned_by(existing, uid):
                return  # not ours: never touched
            try:
                await self.client.delete(
                    PODDISRUPTIONBUDGETS, name, namespace, uid=existing["metadata"].get("uid")
                )
            except ApiError as exc:
                if not exc.is_conflict:  # replaced meanwhile by another: left alone
                    raise
