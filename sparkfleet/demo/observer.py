"""Watches a run from outside: when each application was created, submitted, and when its status caught up.

- submit latency: the workload's create call -> the driver pod appears;
- first-status latency: the create call -> the application's status first
  appears (the wait in the operator's queue, and the submission: what a user
  sees as the time until ``kubectl get`` shows a state);
- status latency: the simulator writes a driver phase (Running, Succeeded,
  Failed) -> the application's status shows the matching state.

Both ends are timed in this process (wall clock), so the numbers need no
clock agreement with anybody.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import Informer, InformerEvent, KubeClient
from sparkfleet.kube.informer import EventType
from sparkfleet.kube.resources import PODS
from sparkfleet.operator.spark import naming

TERMINAL = ("COMPLETED", "FAILED", "SUBMISSION_FAILED")
STATE_OF_PHASE = {"Running": "RUNNING", "Succeeded": "COMPLETED", "Failed": "FAILED"}


@dataclass
class Observer:
    client: KubeClient
    label_selector: str = "sparkfleet.io/workload=seed"
    created: dict[str, float] = field(default_factory=dict)
    submit_latency: dict[str, float] = field(default_factory=dict)
    first_status_latency: dict[str, float] = field(default_factory=dict)
    status_latency: list[float] = field(default_factory=list)
    states: dict[str, str] = field(default_factory=dict)
    finished_at: dict[str, float] = field(default_factory=dict)
    driver_uids: dict[str, set[str]] = field(default_factory=dict)
    """Every driver pod seen per application: more than one where none failed is a duplicate submission."""
    _phase_written: dict[tuple[str, str], float] = field(default_factory=dict)
    _state_seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.apps = Informer(self.client, SPARK_APPLICATIONS, label_selector=self.label_selector)
        self.drivers = Informer(
            self.client,
            PODS,
            label_selector=f"{naming.LABEL_LAUNCHED_BY_OPERATOR}=true,{naming.LABEL_SPARK_ROLE}=driver",
        )
        self.apps.add_handler(self._on_app)
        self.drivers.add_handler(self._on_driver)

    async def start(self) -> None:
        self.apps.start()
        self.drivers.start()
        await self.apps.wait_synced(60)
        await self.drivers.wait_synced(60)

    async def stop(self) -> None:
        await self.apps.stop()
        await self.drivers.stop()

    # -- inputs ---------------------------------------------------------------------

    def creating(self, key: str) -> None:
        """The workload is about to create ``namespace/name``."""
        self.created.setdefault(key, time.time())

    def driver_phase_written(self, key: str, phase: str, when: float) -> None:
        """The simulator wrote ``phase`` on the application's driver at ``when``."""
        state = STATE_OF_PHASE.get(phase)
        if state is None:
            return
        self._phase_written[(key, state)] = when
        seen = self._state_seen.pop((key, state), None)
        if seen is not None:  # the status got there before the simulator's write returned
            self.status_latency.append(max(0.0, seen - when))

    # -- watches ----------------------------------------------------------------------

    def _on_driver(self, event: InformerEvent) -> None:
        if event.type is not EventType.ADDED:
            return
        key = naming.app_key_of(event.obj)
        if key:
            self.driver_uids.setdefault(key, set()).add(str(event.obj["metadata"].get("uid")))
        created = self.created.get(key) if key else None
        if key and created is not None and key not in self.submit_latency:
            self.submit_latency[key] = max(0.0, time.time() - created)

    def _on_app(self, event: InformerEvent) -> None:
        if event.type is EventType.DELETED:
            return
        key = event.key
        status = event.obj.get("status") or {}
        now = time.time()
        created = self.created.get(key)
        if status and created is not None and key not in self.first_status_latency:
            self.first_status_latency[key] = max(0.0, now - created)
        state = (status.get("applicationState") or {}).get("state") or "NEW"
        if self.states.get(key) == state:
            return
        self.states[key] = state
        if state in TERMINAL:
            self.finished_at.setdefault(key, now)
        written = self._phase_written.pop((key, state), None)
        if written is not None:
            self.status_latency.append(max(0.0, now - written))
        elif state in STATE_OF_PHASE.values():
            self._state_seen[(key, state)] = now

    # -- summaries ----------------------------------------------------------------------

    def count_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in self.states.values():
            counts[state] = counts.get(state, 0) + 1
        return counts

    @property
    def terminal(self) -> int:
        return sum(1 for s in self.states.values() if s in TERMINAL)
