"""Invalid SparkFleet specs: each spec, the field its error must name, and who refuses it.

``refused_by``:

- ``"api"``: the CRD's schema and CEL rules make the API server refuse it (with strict field
  validation, as kubectl sends it); the models refuse it too, naming the same field.
- ``"coordinator"``: the API server stores it (what a schema cannot say: a namespace in two
  shards, overlapping selectors, a pin to a shard that does not exist, a map key's form); a
  running instance keeps serving its last valid plan (or nothing, when it never had one) and
  the coordinator reports ``Invalid=True`` on the fleet's status, naming the field.

``field`` is where both refusals point; the API server and the models may continue the path
(``spec.shards[1]`` vs ``spec.shards[1].name``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class FleetCase:
    id: str
    spec: dict[str, Any]
    field: str
    refused_by: Literal["api", "coordinator"]
    says: str = ""
    """Words the sparkfleet message (models or coordinator) must hold besides the field."""


def ns(name: str, *namespaces: str) -> dict[str, Any]:
    return {"name": name, "namespaces": list(namespaces)}


def lease(**timing: Any) -> dict[str, Any]:
    return {"shards": [ns("a", "team-a")], "lease": timing}


def selector(name: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "labelSelector": {"matchLabels": labels}}


CASES: list[FleetCase] = [
    # -- shards the schema refuses
    FleetCase("no-shards", {"shards": []}, "spec.shards", "api"),
    FleetCase("shard-without-a-form", {"shards": [{"name": "a"}]}, "spec.shards[0]", "api", "exactly one of"),
    FleetCase("catch-all-false", {"shards": [{"name": "a", "catchAll": False}]}, "spec.shards[0]", "api",
              "exactly one of"),
    FleetCase("shard-with-two-forms", {"shards": [{"name": "a", "namespaces": ["x"], "catchAll": True}]},
              "spec.shards[0]", "api", "got namespaces, catchAll"),
    FleetCase("empty-namespaces", {"shards": [ns("a")]}, "spec.shards[0].namespaces", "api"),
    FleetCase("empty-selector", {"shards": [{"name": "a", "labelSelector": {}}]}, "spec.shards[0].labelSelector",
              "api", "must select something"),
    FleetCase("empty-match-labels", {"shards": [selector("a")]}, "spec.shards[0].labelSelector", "api",
              "must select something"),
    FleetCase("in-without-values",
              {"shards": [{"name": "a", "labelSelector": {"matchExpressions": [{"key": "k", "operator": "In"}]}}]},
              "spec.shards[0].labelSelector.matchExpressions[0]", "api", "needs values"),
    FleetCase("duplicate-shard-names", {"shards": [ns("a", "x"), ns("a", "y")]}, "spec.shards[1]", "api",
              "names two shards"),
    FleetCase("namespace-twice-in-a-shard", {"shards": [ns("a", "x", "x")]}, "spec.shards[0]", "api",
              "more than once"),
    FleetCase("shard-name-invalid", {"shards": [ns("A_b", "x")]}, "spec.shards[0].name", "api"),
    FleetCase("namespace-invalid", {"shards": [ns("a", "Team_A")]}, "spec.shards[0].namespaces[0]", "api"),
    FleetCase("unknown-field", {"shards": [{"name": "a", "namespace": ["x"]}]}, "spec.shards[0].namespace", "api",
              "Extra inputs"),
    FleetCase("weight-zero", {"shards": [{**ns("a", "x"), "weight": 0}]}, "spec.shards[0].weight", "api"),
    FleetCase("values-without-routing-label", {"shards": [{"name": "a", "values": ["gold"]}]}, "spec.routingLabel",
              "api", "routingLabel"),
    FleetCase("two-catch-alls", {"shards": [{"name": "a", "catchAll": True}, {"name": "b", "catchAll": True}]},
              "spec.shards", "api", "catch-all"),
    FleetCase("routing-label-invalid", {"routingLabel": "bad key!", "shards": [{"name": "a", "values": ["x"]}]},
              "spec.routingLabel", "api"),
    FleetCase("job-namespace-twice", {"jobNamespaces": ["x", "x"], "shards": [ns("a", "x")]}, "spec.jobNamespaces",
              "api"),
    FleetCase("job-namespaces-empty", {"jobNamespaces": [], "shards": [ns("a", "x")]}, "spec.jobNamespaces", "api"),
    FleetCase("job-namespace-invalid", {"jobNamespaces": ["Team_A"], "shards": [{"name": "a", "catchAll": True}]},
              "spec.jobNamespaces[0]", "api"),
    # -- bad lease timings
    FleetCase("lease-renew-not-below-duration", lease(durationSeconds=10, renewDeadlineSeconds=10),
              "spec.lease.renewDeadlineSeconds", "api", "durationSeconds (10) must be greater"),
    FleetCase("lease-renew-above-duration", lease(durationSeconds=5), "spec.lease.renewDeadlineSeconds", "api",
              "renewDeadlineSeconds (10)"),
    FleetCase("lease-retry-not-below-renew", lease(renewDeadlineSeconds=2, retryPeriodSeconds=2),
              "spec.lease.retryPeriodSeconds", "api", "1.2 x retryPeriodSeconds"),
    FleetCase("lease-zero-duration", lease(durationSeconds=0), "spec.lease.durationSeconds", "api"),
    FleetCase("lease-negative-retry", lease(retryPeriodSeconds=-1), "spec.lease.retryPeriodSeconds", "api"),
    FleetCase("lease-duration-words", lease(durationSeconds="15s"), "spec.lease.durationSeconds", "api"),
    # -- what only the coordinator can judge: the API server stores these
    FleetCase("namespace-in-two-shards", {"shards": [ns("a", "x"), ns("b", "y", "x")]},
              "spec.shards[1].namespaces[1]", "coordinator", "already in shard 'a'"),
    FleetCase("value-in-two-shards",
              {"routingLabel": "team", "shards": [{"name": "a", "values": ["gold"]}, {"name": "b", "values": ["gold"]}]},
              "spec.shards[1].values[0]", "coordinator", "already in shard 'a'"),
    FleetCase("mixed-forms", {"routingLabel": "team", "shards": [ns("a", "x"), {"name": "b", "values": ["gold"]}]},
              "spec.shards[1]", "coordinator", "one form"),
    FleetCase("overlapping-selectors", {"shards": [selector("a", tier="gold"), selector("b", team="x")]},
              "spec.shards[1].labelSelector", "coordinator", "may select the same objects"),
    FleetCase("catch-all-with-selectors", {"shards": [selector("a", tier="gold"), {"name": "rest", "catchAll": True}]},
              "spec.shards[1].catchAll", "coordinator", "catch-all"),
    FleetCase("pin-to-a-missing-shard", {"shards": [ns("a", "x")], "pins": {"nope": "member-1"}}, "spec.pins.nope",
              "coordinator", "no shard named"),
    FleetCase("named-outside-the-job-namespaces", {"jobNamespaces": ["x"], "shards": [ns("a", "x", "kube-system")]},
              "spec.shards[0].namespaces[1]", "coordinator", "not in spec.jobNamespaces"),
    FleetCase("pin-key-invalid", {"shards": [ns("a", "x")], "pins": {"Not_A_Shard": "member-1"}},
              "spec.pins.Not_A_Shard", "coordinator", "key"),
]  # fmt: skip
