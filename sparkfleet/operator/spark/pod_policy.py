"""A platform team's pod policy: what a SparkApplication may not ask of the pods it makes.

Creating a SparkApplication amounts to creating pods, run by the operator's ServiceAccount and
by the application's driver: whatever the spec asks of them (host paths, privileged containers,
host namespaces, another ServiceAccount of the namespace) the operator would create for the
tenant. :class:`PodPolicy` says what it refuses; :func:`problems` finds each thing a spec asks
for that the policy refuses, as ``<field>: <why>``, the field named where the user wrote it.
Pure: no I/O, the same answer for the same application.

Levels (``--pod-security``):

- ``none`` (the default): nothing refused here (a namespace's own Pod Security admission still
  judges the pods);
- ``baseline``: what the ``baseline`` Pod Security Standard forbids and a SparkApplication can
  ask for: ``hostPath`` volumes (``spec.volumes``, a pod template's volumes, Spark's
  ``spark.kubernetes.*.volumes.hostPath.*`` properties), host namespaces (``hostNetwork``,
  ``hostPID``, ``hostIPC``), ``hostPort``, privileged containers, capabilities beyond the
  baseline's list, and an ``Unconfined`` seccomp profile; in the driver and executor specs, their
  sidecars and init containers and their pod templates.

Independently of the level, ``allowed_service_accounts`` (``--allowed-service-accounts``; none
given: any) bounds the ServiceAccounts the driver and the executors run as, the namespace's
``default`` one included when the spec names none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sparkfleet.api.base import brief, key_path
from sparkfleet.api.sparkapplication import SparkApplication, SparkPodSpec

LEVELS = ("none", "baseline")
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})  # fmt: skip
"""The capabilities the baseline Pod Security Standard lets a container add."""
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
DEFAULT_SERVICE_ACCOUNT = "default"
AUTHENTICATE = "spark.kubernetes.authenticate.{role}.serviceAccountName"
ROLES = ("driver", "executor")


@dataclass(frozen=True, slots=True)
class PodPolicy:
    level: str = "none"
    allowed_service_accounts: frozenset[str] | None = None  # None: any

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"--pod-security: {self.level!r} is not one of {', '.join(LEVELS)}")

    @property
    def enforces(self) -> bool:
        return self.level != "none" or self.allowed_service_accounts is not None

    def flag(self) -> str:
        return f"--pod-security={self.level}"


NO_POLICY = PodPolicy()


def parse_service_accounts(values: Iterable[str]) -> frozenset[str] | None:
    """``--allowed-service-accounts`` (repeated, or comma-separated) as a set; None when none given."""
    names = frozenset(name.strip() for value in values for name in value.split(",") if name.strip())
    return names or None


def problems(app: SparkApplication, policy: PodPolicy) -> list[str]:
    """Every ``<field>: <why>`` of what ``app`` asks for that ``policy`` refuses."""
    found: list[str] = []
    if policy.level == "baseline":
        found += _baseline(app, policy.flag())
    if policy.allowed_service_accounts is not None:
        found += _service_accounts(app, policy.allowed_service_accounts)
    return found


# -- baseline ---------------------------------------------------------------------------------


def _baseline(app: SparkApplication, flag: str) -> Iterator[str]:
    spec = app.spec
    for i, volume in enumerate(spec.volumes or []):
        if "hostPath" in volume:
            yield f"spec.volumes[{i}].hostPath: host paths are refused here ({flag})"
    for key in sorted(spec.spark_conf or {}):
        for role in ROLES:
            if key.startswith(f"spark.kubernetes.{role}.volumes.hostPath."):
                yield f"spec.sparkConf{key_path(key)}: host paths are refused here ({flag})"
    for role in ROLES:
        pod: SparkPodSpec = getattr(spec, role)
        where = f"spec.{role}"
        if pod.host_network:
            yield f"{where}.hostNetwork: host namespaces are refused here ({flag})"
        yield from _pod_security_context(f"{where}.podSecurityContext", pod.pod_security_context, flag)
        yield from _container(where, {"securityContext": pod.security_context}, flag)
        for kind, containers in (("sidecars", pod.sidecars), ("initContainers", pod.init_containers)):
            for i, container in enumerate(containers or []):
                yield from _container(f"{where}.{kind}[{i}]", container, flag)
        yield from _template(f"{where}.template", pod.template, flag)


def _template(field: str, template: Mapping[str, Any] | None, flag: str) -> Iterator[str]:
    spec = (template or {}).get("spec")
    if not isinstance(spec, Mapping):
        return
    where = f"{field}.spec"
    for name in HOST_NAMESPACES:
        if spec.get(name) is True:
            yield f"{where}.{name}: host namespaces are refused here ({flag})"
    yield from _pod_security_context(f"{where}.securityContext", spec.get("securityContext"), flag)
    for i, volume in enumerate(_objects(spec.get("volumes"))):
        if "hostPath" in volume:
            yield f"{where}.volumes[{i}].hostPath: host paths are refused here ({flag})"
    for kind in ("containers", "initContainers"):
        for i, container in enumerate(_objects(spec.get(kind))):
            yield from _container(f"{where}.{kind}[{i}]", container, flag)


def _pod_security_context(field: str, context: Any, flag: str) -> Iterator[str]:
    if isinstance(context, Mapping):
        yield from _seccomp(field, context, flag)


def _container(field: str, container: Mapping[str, Any], flag: str) -> Iterator[str]:
    for i, port in enumerate(_objects(container.get("ports"))):
        if port.get("hostPort"):
            yield f"{field}.ports[{i}].hostPort: host ports are refused here ({flag})"
    context = container.get("securityContext")
    if not isinstance(context, Mapping):
        return
    where = f"{field}.securityContext"
    if context.get("privileged") is True:
        yield f"{where}.privileged: privileged containers are refused here ({flag})"
    capabilities = context.get("capabilities")
    added = capabilities.get("add") if isinstance(capabilities, Mapping) else None
    for i, capability in enumerate(added if isinstance(added, list) else []):
        if str(capability).upper().removeprefix("CAP_") not in BASELINE_CAPABILITIES:
            yield (
                f"{where}.capabilities.add[{i}]: {brief(capability)} is refused here ({flag} allows "
                f"{', '.join(sorted(BASELINE_CAPABILITIES))})"
            )
    yield from _seccomp(where, context, flag)


def _seccomp(field: str, context: Mapping[str, Any], flag: str) -> Iterator[str]:
    profile = context.get("seccompProfile")
    if isinstance(profile, Mapping) and profile.get("type") == "Unconfined":
        yield f"{field}.seccompProfile.type: Unconfined is refused here ({flag})"


def _objects(items: Any) -> Iterator[Mapping[str, Any]]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping):
            yield item


# -- service accounts -------------------------------------------------------------------------


def _service_accounts(app: SparkApplication, allowed: frozenset[str]) -> Iterator[str]:
    """Each ServiceAccount the spec names, and the one a pod falls back to when it names none: the
    driver's is the namespace's ``default``; Spark gives executors the driver's."""
    spec = app.spec
    conf = spec.spark_conf or {}
    shown = ", ".join(sorted(allowed))
    named: dict[str, list[tuple[str, str]]] = {role: [] for role in ROLES}
    for role in ROLES:
        pod: SparkPodSpec = getattr(spec, role)
        if pod.service_account:
            named[role].append((f"spec.{role}.serviceAccount", pod.service_account))
        template_spec = (pod.template or {}).get("spec")
        if isinstance(template_spec, Mapping):
            for key in ("serviceAccountName", "serviceAccount"):
                value = template_spec.get(key)
                if isinstance(value, str) and value:
                    named[role].append((f"spec.{role}.template.spec.{key}", value))
        key = AUTHENTICATE.format(role=role)
        if conf.get(key):
            named[role].append((f"spec.sparkConf{key_path(key)}", conf[key]))
    for role in ROLES:
        for field, name in named[role]:
            if name not in allowed:
                yield (
                    f"{field}: ServiceAccount {brief(name)} is not among the allowed ones "
                    f"(--allowed-service-accounts: {shown})"
                )
    if not named["driver"] and DEFAULT_SERVICE_ACCOUNT not in allowed:
        yield (
            "spec.driver.serviceAccount: required here: without it the driver runs as the namespace's "
            f"{DEFAULT_SERVICE_ACCOUNT!r} ServiceAccount, not among the allowed ones "
            f"(--allowed-service-accounts: {shown})"
        )
