"""SparkFleet, ``sparkfleet.io/v1alpha1``: how a fleet of operator instances splits the work.

The spec names the shards (namespaces, a label selector, or values of one
routing label), the Lease timing, and what the CLI asks for: pins (shard ->
member) and drains (members to empty). The status is written by the fleet's
coordinator: who holds each shard, who should, each member's load, and
conditions (Ready, Invalid naming the field, Overlap with another fleet).

What the schema can say it says (types, patterns, one form per shard, the
Lease timing rule, unique shard names, CEL); the rest (a namespace in two
shards, selectors that may overlap) the coordinator reports as ``Invalid``
while it keeps serving the last valid plan.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_snake
from pydantic_core import InitErrorDetails, PydanticCustomError

from sparkfleet.api.base import KubeModel, KubeObject
from sparkfleet.api.resource import Resource

FLEET_GROUP = "sparkfleet.io"
FLEET_VERSION = "v1alpha1"
FLEET_API_VERSION = f"{FLEET_GROUP}/{FLEET_VERSION}"
SPARK_FLEETS = Resource(FLEET_GROUP, FLEET_VERSION, "sparkfleets", "SparkFleet")

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
LABEL_KEY = rf"^({_DNS_SUBDOMAIN}/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

DnsLabel = Annotated[str, Field(pattern=DNS_LABEL, max_length=63)]
LabelKey = Annotated[str, Field(pattern=LABEL_KEY, max_length=317)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE, max_length=63)]


class FleetModel(KubeModel):
    """Parts of the fleet's own resource: unknown fields are refused (a typo is an error, not a no-op)."""

    model_config = ConfigDict(extra="forbid")


def _cel(*rules: tuple[str, str, str | None]) -> ConfigDict:
    """Schema extras carrying CEL rules: (rule, message, fieldPath)."""
    return ConfigDict(
        extra="forbid",
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": rule, "message": message, **({"fieldPath": path} if path else {})}
                for rule, message, path in rules
            ]
        },
    )


class LabelSelectorRequirement(FleetModel):
    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[LabelValue] | None = None

    model_config = _cel(
        (
            "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : "
            "!has(self.values) || size(self.values) == 0",
            "In and NotIn need values; Exists and DoesNotExist take none",
            ".values",
        )
    )

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(FleetModel):
    """The Kubernetes label selector: matchLabels and matchExpressions, all ANDed."""

    match_labels: dict[LabelKey, LabelValue] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None

    model_config = _cel(
        (
            "(has(self.matchLabels) && size(self.matchLabels) > 0) || "
            "(has(self.matchExpressions) && size(self.matchExpressions) > 0)",
            "a shard's selector must select something: give matchLabels or matchExpressions",
            None,
        )
    )

    @model_validator(mode="after")
    def _not_empty(self) -> LabelSelector:
        if not self.match_labels and not self.match_expressions:
            raise ValueError("a shard's selector must select something: give matchLabels or matchExpressions")
        return self


_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}  # the API server refuses a repeated item
SHARD_FORMS = ("namespaces", "labelSelector", "values", "catchAll", "namespaceSelector")
ONE_FORM = (
    "a shard takes exactly one of namespaces, namespaceSelector, labelSelector, values or catchAll: true"
)


class ShardSpec(FleetModel):
    """One shard: exactly one of namespaces, namespaceSelector (namespaces by their labels),
    labelSelector, values (of spec.routingLabel), catchAll."""

    name: DnsLabel
    namespaces: (
        Annotated[list[DnsLabel], Field(min_length=1, max_length=1000, json_schema_extra=_SET)] | None
    ) = None
    label_selector: LabelSelector | None = None
    values: (
        Annotated[list[LabelValue], Field(min_length=1, max_length=1000, json_schema_extra=_SET)] | None
    ) = None
    catch_all: bool | None = None
    namespace_selector: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    """The namespaces whose labels match this selector, in the API's syntax (``team=a,env in (prod)``),
    as ``--namespace-selector`` and Kubeflow's ``spark.jobNamespaceSelector`` take it; the namespaces
    it covers change with their labels. Besides namespace shards (it leaves out what they name)."""
    weight: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    """A fixed planning weight; without it the shard weighs the objects its holder observes."""

    model_config = _cel(
        (
            "[has(self.namespaces), has(self.labelSelector), has(self.values), "
            "has(self.catchAll) && self.catchAll, has(self.namespaceSelector)].filter(x, x).size() == 1",
            ONE_FORM,
            None,
        )
    )

    @model_validator(mode="after")
    def _one_form(self) -> ShardSpec:
        given = [
            form
            for form, value in zip(
                SHARD_FORMS,
                (self.namespaces, self.label_selector, self.values, self.catch_all, self.namespace_selector),
                strict=True,
            )
            if value
        ]
        if len(given) != 1:
            raise ValueError(ONE_FORM + (f"; got {', '.join(given)}" if given else ""))
        return self

    @model_validator(mode="after")
    def _no_repeats(self) -> ShardSpec:
        for what, items in (("namespaces", self.namespaces), ("values", self.values)):
            repeated = sorted({item for item in items or [] if (items or []).count(item) > 1})
            if repeated:
                raise ValueError(f"{what} lists {', '.join(repeated)} more than once")
        return self

    @property
    def form(self) -> str:
        if self.namespaces:
            return "namespaces"
        if self.label_selector:
            return "labelSelector"
        if self.values:
            return "values"
        if self.namespace_selector:
            return "namespaceSelector"
        return "catchAll"


class LeaseSpec(FleetModel):
    """The fleet's Lease timing, with client-go's rule: duration > renew deadline > 1.2 x retry period.

    A broken rule is reported at the later field of the two (``spec.lease.renewDeadlineSeconds``,
    ``spec.lease.retryPeriodSeconds``), by the API server and the models alike.
    """

    duration_seconds: Annotated[int, Field(ge=2, le=3600)] = 15
    renew_deadline_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    retry_period_seconds: Annotated[int, Field(ge=1, le=3600)] = 2

    model_config = _cel(
        (
            "(has(self.durationSeconds) ? self.durationSeconds : 15) > "
            "(has(self.renewDeadlineSeconds) ? self.renewDeadlineSeconds : 10)",
            "durationSeconds must be greater than renewDeadlineSeconds",
            ".renewDeadlineSeconds",
        ),
        (
            "(has(self.renewDeadlineSeconds) ? self.renewDeadlineSeconds : 10) * 10 > "
            "(has(self.retryPeriodSeconds) ? self.retryPeriodSeconds : 2) * 12",
            "renewDeadlineSeconds must be greater than 1.2 x retryPeriodSeconds",
            ".retryPeriodSeconds",
        ),
    )

    @model_validator(mode="after")
    def _timing(self) -> LeaseSpec:
        duration, renew, retry = self.duration_seconds, self.renew_deadline_seconds, self.retry_period_seconds
        if not duration > renew:
            raise field_error(
                self,
                "renewDeadlineSeconds",
                f"durationSeconds ({duration}) must be greater than renewDeadlineSeconds ({renew})",
            )
        if not renew * 10 > retry * 12:
            raise field_error(
                self,
                "retryPeriodSeconds",
                f"renewDeadlineSeconds ({renew}) must be greater than 1.2 x retryPeriodSeconds ({retry})",
            )
        return self


def field_error(model: FleetModel, field: str, message: str) -> ValidationError:
    """An error at one field of ``model`` (a model validator's own errors name the whole model)."""
    error = PydanticCustomError("value_error", message)
    details = InitErrorDetails(type=error, loc=(field,), input=getattr(model, to_snake(field)))
    return ValidationError.from_exception_data(type(model).__name__, [details])


class SparkFleetSpec(FleetModel):
    """The shards (names unique) and how the fleet runs them."""

    shards: Annotated[
        list[ShardSpec],
        Field(
            min_length=1,
            max_length=1000,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        ),
    ]
    routing_label: LabelKey | None = None
    """The label key whose values the ``values`` shards take (label shards disjoint by construction)."""
    lease: LeaseSpec | None = None
    pins: dict[DnsLabel, str] | None = None
    """Shard -> member it must run on (``sparkfleet shards move``)."""
    drain: list[str] | None = None
    """Members to empty (``sparkfleet shards drain``); they keep running but hold no shards."""
    job_namespaces: (
        Annotated[list[DnsLabel], Field(min_length=1, max_length=1000, json_schema_extra=_SET)] | None
    ) = None
    """The namespaces the fleet may serve at all (what its RBAC grants; the chart fills it from
    ``spark.jobNamespaces``). Label shards and the catch-all then watch each of them (namespaced watches),
    and namespace shards must name some of them. Unset: the whole cluster."""

    @field_validator("job_namespaces")
    @classmethod
    def _job_namespaces_once(cls, value: list[str] | None) -> list[str] | None:
        repeated = sorted({ns for ns in value or [] if (value or []).count(ns) > 1})
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return value

    model_config = _cel(
        (
            "!self.shards.exists(s, has(s.values)) || has(self.routingLabel)",
            "shards given as values need spec.routingLabel",
            ".routingLabel",
        ),
        (
            "self.shards.filter(s, has(s.catchAll) && s.catchAll).size() <= 1",
            "at most one shard may be the catch-all",
            ".shards",
        ),
    )


class Condition(FleetModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class MemberStatus(FleetModel):
    identity: str
    state: Literal["Active", "Draining", "Expired"]
    shards: int = 0
    """Shards it holds now."""
    objects: int = 0
    capacity: float | None = None
    last_renew_time: str | None = None


class ShardStatus(FleetModel):
    name: str
    holder: str | None = None
    desired_holder: str | None = None
    phase: Literal["Held", "Moving", "Unassigned"]
    objects: int = 0
    since: str | None = None
    """When the current holder took the shard."""


class SparkFleetStatus(FleetModel):
    observed_generation: int | None = None
    catch_all_excludes: list[str] | None = None
    """Namespaces other fleets name that the catch-all's holder confirms it leaves out (it serves a
    scope without them): a fleet naming one of them serves it only once it is listed here."""
    coordinator: str | None = None
    members: list[MemberStatus] | None = None
    shards: list[ShardStatus] | None = None
    conditions: list[Condition] | None = None
    last_rebalance: str | None = None
    """The rebalance request (annotation ``sparkfleet.io/rebalance``) the coordinator last applied."""


class SparkFleet(FleetModel):
    api_version: str = FLEET_API_VERSION
    kind: str = "SparkFleet"
    metadata: KubeObject
    spec: SparkFleetSpec
    status: SparkFleetStatus | None = None


__all__ = [
    "FLEET_API_VERSION",
    "FLEET_GROUP",
    "FLEET_VERSION",
    "SPARK_FLEETS",
    "Condition",
    "LabelSelector",
    "LabelSelectorRequirement",
    "LeaseSpec",
    "MemberStatus",
    "ShardSpec",
    "ShardStatus",
    "SparkFleet",
    "SparkFleetSpec",
    "SparkFleetStatus",
]
