"""What makes a SparkApplication impossible to submit, found before anything is created, by field.

The models (and the CRD generated from them) refuse wrong types, unknown enum
values, malformed sizes and quantities and out-of-range numbers. What is left
only fails later: when the API server validates the objects the operator
derives (names, labels, a CPU request above its limit, a mount of a volume
that does not exist, a pod template of the wrong shape), or when the driver
starts (a command line too long for Linux). Each is reported here as
``<field>: <why>``, every problem at once, before anything is created.

The checks run on every reconcile, so they stay cheap: nothing here renders
the application (the exact ConfigMap size is checked when it is rendered).
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from sparkfleet.api import SparkApplication, format_validation_error
from sparkfleet.api.base import brief, key_path, parse_quantity
from sparkfleet.api.sparkapplication import SparkApplicationSpec, SparkPodSpec
from sparkfleet.operator.spark import managed_conf, naming
from sparkfleet.operator.spark.schedule import run_name

DRIVER_POD_NAME_CONF = "spark.kubernetes.driver.pod.name"
ARGUMENT_MAX_BYTES = 128 * 1024
"""Linux's MAX_ARG_STRLEN: the longest single argument of a process (its terminating NUL included)."""
ARGUMENTS_MAX_BYTES = 1024 * 1024
"""Our bound on the application's arguments: Linux gives a process 2 MiB for its arguments and
environment together (ARG_MAX with the usual 8 MiB stack), and the driver's JVM needs its own share."""
CONFIG_MAP_MAX_BYTES = 1024 * 1024
"""The API server refuses a ConfigMap whose data exceeds 1 MiB."""
LAST_RUN = datetime.datetime(2099, 12, 31, 23, 59, tzinfo=datetime.UTC)
"""A due time whose run name is as long as run names get this century, in any precision."""


class InvalidApplication(ValueError):
    """The application cannot be submitted; the message names the field."""


def parse(raw: Mapping[str, Any]) -> SparkApplication:
    """The application as the models read it, validated; :class:`InvalidApplication` names what is
    wrong. (What the platform refuses, the pod policy and resource bounds, is judged at submission.)"""
    try:
        app = SparkApplication.model_validate(raw)
    except ValidationError as exc:
        raise InvalidApplication(format_validation_error(exc)) from exc
    validate(app)
    return app


SPARK_UI_PORT = "spark.ui.port"
DEFAULT_UI_PORT = 4040


def validate(app: SparkApplication) -> None:
    """Raises :class:`InvalidApplication` naming every field the models cannot judge alone."""
    found = problems(app)
    if found:
        raise InvalidApplication("; ".join(found))


def validate_schedule(
    name: str, namespace: str, template: SparkApplicationSpec, precision: str = "nanos"
) -> None:
    """What would make every run of a ScheduledSparkApplication invalid, named from the schedule:
    its name (runs are ``<name>-<time>``, the time in ``precision``) and its template
    (``spec.template...``)."""
    longest_run = run_name(name, LAST_RUN, precision)
    longest = naming.DNS_LABEL_MAX - (len(longest_run) - len(name))
    if not naming.is_dns_1035_label(name) or len(name) > longest:
        raise InvalidApplication(
            f"metadata.name: {brief(name)} must be a DNS-1035 label of at most {longest} characters "
            f"(a lower-case letter first): its runs are named <name>-<time in {precision}>, which names "
            "their Services (--scheduled-spark-application-timestamp-precision=seconds allows longer names)"
        )
    run = SparkApplication(metadata={"name": longest_run, "namespace": namespace}, spec=template)
    found = problems(run)
    if found:  # every field a problem names is the template's: spec.x is spec.template.x
        raise InvalidApplication(re.sub(r"(?<![\w.])spec\.", "spec.template.", "; ".join(found)))


def problems(app: SparkApplication) -> list[str]:
    """Every ``<field>: <why>`` of the application (each starts with its field)."""
    return [
        *_required(app),
        *_names(app),
        *_labels(app),
        *_cpu(app),
        *_arguments(app),
        *_properties_size(app),
        *_spark_conf(app),
        *_managed(app),
        *_volumes(app),
        *_containers(app),
        *_dynamic_allocation(app),
    ]


def unknown_fields_warning(app: SparkApplication) -> str | None:
    """The spec's fields the models do not know (kept, and written back, but ignored), or None.

    A typo of a known field is the usual cause, so the closest known name is suggested.
    """
    found = list(_unknown(app.spec, "spec"))
    if not found:
        return None
    parts = [f"{path} (did you mean {hint}?)" if hint else path for path, hint in found]
    return f"unknown fields, kept but ignored: {', '.join(parts)}"


# -- the checks, each yielding "<field>: <why>" ------------------------------------------


def _required(app: SparkApplication) -> Iterator[str]:
    spec = app.spec
    if not spec.main_application_file:
        yield "spec.mainApplicationFile: required"
    if spec.type in ("Java", "Scala") and not spec.main_class:
        yield f"spec.mainClass: required for a {spec.type} application"
    if not (spec.image or (spec.driver.image and spec.executor.image)):
        yield "spec.image: required (or both spec.driver.image and spec.executor.image)"


def _names(app: SparkApplication) -> Iterator[str]:
    name = str(app.metadata.get("name", ""))
    if not naming.is_dns_1035_label(name):
        # As the Spark Operator requires: the application's name starts its Services' names.
        yield (
            f"metadata.name: {brief(name)} must be a DNS-1035 label (at most {naming.DNS_LABEL_MAX} "
            "lower-case letters, digits and '-', a letter first and a letter or digit last): it names "
            "the application's Services"
        )
        return
    spec = app.spec
    pod = naming.driver_pod_name(name, spec.driver.pod_name, spec.spark_conf)
    if not naming.is_dns_subdomain(pod):
        if spec.driver.pod_name:
            field = "spec.driver.podName"
        else:
            field = f"spec.sparkConf{key_path(DRIVER_POD_NAME_CONF)}"
        yield (
            f"{field}: the driver pod name {brief(pod)} must be a DNS subdomain (at most "
            f"{naming.DNS_SUBDOMAIN_MAX} lower-case letters, digits, '-' and '.')"
        )


def _labels(app: SparkApplication) -> Iterator[str]:
    spec = app.spec
    problem = naming.label_value_problem(spec.spark_version)
    if problem:
        yield f"spec.sparkVersion: it labels the pods (spark-version), so it must be a label value: {problem}"
    ui = spec.spark_ui_options
    maps: list[tuple[str, Mapping[str, str] | None, bool]] = [
        ("spec.driver.labels", spec.driver.labels, True),
        ("spec.executor.labels", spec.executor.labels, True),
        ("spec.driver.serviceLabels", spec.driver.service_labels, True),
        ("spec.sparkUIOptions.serviceLabels", ui.service_labels if ui else None, True),
        ("spec.driver.annotations", spec.driver.annotations, False),
        ("spec.executor.annotations", spec.executor.annotations, False),
        ("spec.driver.serviceAnnotations", spec.driver.service_annotations, False),
        ("spec.sparkUIOptions.serviceAnnotations", ui.service_annotations if ui else None, False),
    ]
    for field, values, are_labels in maps:
        yield from _label_map(field, values, are_labels)
    for field, values in (
        ("spec.driver.labels", spec.driver.labels),
        ("spec.executor.labels", spec.executor.labels),
    ):
        for key in sorted(set(values or {}) & naming.SPARK_RESERVED_LABELS):
            yield f"{field}{key_path(key)}: {key} is reserved: Spark sets it on its pods itself"


def _label_map(field: str, values: Mapping[str, Any] | None, are_labels: bool) -> Iterator[str]:
    for key, value in (values or {}).items():
        problem = naming.label_key_problem(key, "label key" if are_labels else "annotation key")
        if problem is None and are_labels:
            problem = naming.label_value_problem(value) if isinstance(value, str) else "must be a string"
        if problem is not None:
            yield f"{field}{key_path(key)}: {problem}"


def _cpu(app: SparkApplication) -> Iterator[str]:
    """A pod's CPU request may not exceed its limit (Spark requests ``coreRequest``, else ``cores``)."""
    for role, pod in (("driver", app.spec.driver), ("executor", app.spec.executor)):
        request = getattr(pod, "core_request", None)
        if not pod.core_limit:
            continue
        effective = request or str(pod.cores or 1)
        if parse_quantity(effective) > parse_quantity(pod.core_limit):
            source = f"spec.{role}.coreRequest" if request else f"spec.{role}.cores"
            yield (
                f"spec.{role}.coreLimit: {pod.core_limit} is less than the CPU the {role} requests "
                f"({effective}, {source}); a pod's request may not exceed its limit"
            )


def _arguments(app: SparkApplication) -> Iterator[str]:
    arguments = app.spec.arguments or []
    total = 0
    for i, argument in enumerate(arguments):
        size = len(argument.encode()) + 1
        total += size
        if size > ARGUMENT_MAX_BYTES:
            yield (
                f"spec.arguments[{i}]: {size} bytes; one argument of a process may have at most "
                f"{ARGUMENT_MAX_BYTES} (Linux's MAX_ARG_STRLEN): pass it in a file (spec.deps.files)"
            )
    if total > ARGUMENTS_MAX_BYTES:
        yield (
            f"spec.arguments: {total} bytes in {len(arguments)} arguments; the driver's command line "
            f"may hold at most {ARGUMENTS_MAX_BYTES} (Linux allows 2 MiB for a process's arguments and "
            "environment): pass large inputs in a file (spec.deps.files)"
        )


def _properties_size(app: SparkApplication) -> Iterator[str]:
    """The spark.properties the ConfigMap will hold, estimated from what the user gives."""
    spec = app.spec
    monitoring = spec.monitoring
    sizes = {
        "spec.sparkConf": _map_bytes(spec.spark_conf),
        "spec.hadoopConf": _map_bytes(spec.hadoop_conf, len("spark.hadoop.")),
        "spec.monitoring": len((monitoring.metrics_properties or "").encode()) if monitoring else 0,
    }
    if monitoring and monitoring.prometheus:
        sizes["spec.monitoring"] += len((monitoring.prometheus.configuration or "").encode())
    if sum(sizes.values()) > CONFIG_MAP_MAX_BYTES:
        field = max(sizes, key=lambda f: sizes[f])
        yield config_map_too_large(field, sum(sizes.values()))


def ui_port(app: SparkApplication) -> int:
    """The port the driver's UI listens on: ``spark.ui.port`` of spec.sparkConf, else Spark's 4040."""
    return int((app.spec.spark_conf or {}).get(SPARK_UI_PORT) or DEFAULT_UI_PORT)


def _spark_conf(app: SparkApplication) -> Iterator[str]:
    """What Spark itself would refuse in spec.sparkConf, said before anything is created."""
    for key in sorted(app.spec.spark_conf or {}):
        for role in ("driver", "executor"):
            label = key.removeprefix(f"spark.kubernetes.{role}.label.")
            if label != key and label in naming.SPARK_RESERVED_LABELS:
                yield f"spec.sparkConf{key_path(key)}: {label} is reserved: Spark sets it on its pods itself"
    value = (app.spec.spark_conf or {}).get(SPARK_UI_PORT)
    if value is not None and not (value.isdigit() and 0 < int(value) < 65536):
        yield (
            f"spec.sparkConf{key_path(SPARK_UI_PORT)}: {brief(value)} must be a port number "
            "from 1 to 65535 (the driver's UI listens there and its Services point at it)"
        )


def _managed(app: SparkApplication) -> Iterator[str]:
    """What the operator manages itself (see :mod:`.managed_conf`): refused, naming the key."""
    spec = app.spec
    yield from managed_conf.conf_problems(spec.spark_conf, str(app.metadata.get("namespace", "")))
    for role, pod in (("driver", spec.driver), ("executor", spec.executor)):
        yield from managed_conf.label_problems(f"spec.{role}.labels", pod.labels)
        yield from managed_conf.label_problems(f"spec.{role}.annotations", pod.annotations, annotations=True)
        yield from managed_conf.template_problems(f"spec.{role}.template", pod.template)


def config_map_too_large(field: str, size: int) -> str:
    return (
        f"{field}: the driver's ConfigMap (spark.properties, the executor pod template, metrics "
        f"configuration) would hold {size} bytes; a ConfigMap may hold at most {CONFIG_MAP_MAX_BYTES}"
    )


def _map_bytes(values: Mapping[str, str] | None, prefix: int = 0) -> int:
    return sum(prefix + len(k.encode()) + len(v.encode()) + 2 for k, v in (values or {}).items())


def _volumes(app: SparkApplication) -> Iterator[str]:
    names: dict[str, int] = {}
    for i, volume in enumerate(app.spec.volumes or []):
        name = volume.get("name")
        if not isinstance(name, str) or not name:
            yield f"spec.volumes[{i}].name: required"
        elif name in names:
            yield f"spec.volumes[{i}].name: {brief(name)} also names spec.volumes[{names[name]}]"
        else:
            names[name] = i
    for role, pod in (("driver", app.spec.driver), ("executor", app.spec.executor)):
        known = set(names) | set(_template_volume_names(pod.template))
        for i, mount in enumerate(pod.volume_mounts or []):
            where = f"spec.{role}.volumeMounts[{i}]"
            name, path = mount.get("name"), mount.get("mountPath")
            if not isinstance(name, str) or not name:
                yield f"{where}.name: required"
            elif name not in known:
                yield f"{where}.name: no volume named {brief(name)} in spec.volumes nor the {role} template"
            if not isinstance(path, str) or not path.startswith("/"):
                yield f"{where}.mountPath: required, an absolute path"
        paths = (
            ("configMaps", [c.path for c in pod.config_maps or []]),
            ("secrets", [s.path for s in pod.secrets or []]),
        )
        for kind, entries in paths:
            for i, mount_path in enumerate(entries):
                if not mount_path.startswith("/"):
                    yield f"spec.{role}.{kind}[{i}].path: {brief(mount_path)} must be an absolute path"


def _template_volume_names(template: Mapping[str, Any] | None) -> Iterator[str]:
    spec = (template or {}).get("spec")
    volumes = spec.get("volumes") if isinstance(spec, Mapping) else None
    for volume in volumes if isinstance(volumes, list) else []:
        if isinstance(volume, Mapping) and isinstance(volume.get("name"), str):
            yield volume["name"]


def _containers(app: SparkApplication) -> Iterator[str]:
    for role, pod in (("driver", app.spec.driver), ("executor", app.spec.executor)):
        named = (("env", pod.env), ("sidecars", pod.sidecars), ("initContainers", pod.init_containers))
        for kind, entries in named:
            for i, entry in enumerate(entries or []):
                if not isinstance(entry.get("name"), str) or not entry.get("name"):
                    yield f"spec.{role}.{kind}[{i}].name: required"
        yield from _template(f"spec.{role}.template", pod)


def _template(field: str, pod: SparkPodSpec) -> Iterator[str]:
    """The pod template the rendered pod starts from must have a pod template's shape."""
    template = pod.template
    if template is None:
        return
    metadata, spec = template.get("metadata"), template.get("spec")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            yield f"{field}.metadata: must be an object"
        else:
            for part, are_labels in (("labels", True), ("annotations", False)):
                values = metadata.get(part)
                if values is not None and not isinstance(values, Mapping):
                    yield f"{field}.metadata.{part}: must be a map of strings"
                elif values is not None:
                    yield from _label_map(f"{field}.metadata.{part}", values, are_labels)
    if spec is None:
        return
    if not isinstance(spec, Mapping):
        yield f"{field}.spec: must be an object (a pod spec)"
        return
    for part in ("containers", "volumes", "initContainers"):
        items = spec.get(part)
        if items is None:
            continue
        if not isinstance(items, list):
            yield f"{field}.spec.{part}: must be a list"
            continue
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                yield f"{field}.spec.{part}[{i}]: must be an object"


def _dynamic_allocation(app: SparkApplication) -> Iterator[str]:
    dynamic = app.spec.dynamic_allocation
    if dynamic and dynamic.enabled:
        low, high = dynamic.min_executors, dynamic.max_executors
        if low is not None and high is not None and low > high:
            yield f"spec.dynamicAllocation.minExecutors: {low} is greater than maxExecutors ({high})"


# -- unknown fields ------------------------------------------------------------------------


def _unknown(model: BaseModel, path: str) -> Iterator[tuple[str, str | None]]:
    """(path, closest known field) of every field of ``model`` and its parts that no model names."""
    fields = type(model).model_fields
    known = [info.alias or name for name, info in fields.items()]
    for key in model.model_extra or {}:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        if not close:
            close = [k for k in known if k.lower() == key.lower()]
        yield f"{path}{key_path(key)}", (close[0] if close else None)
    for name, info in fields.items():
        value = getattr(model, name)
        here = f"{path}{key_path(info.alias or name)}"
        for sub, item in _parts(here, value):
            yield from _unknown(item, sub)


def _parts(path: str, value: Any) -> Iterable[tuple[str, BaseModel]]:
    if isinstance(value, BaseModel):
        return [(path, value)]
    if isinstance(value, list):
        return [(f"{path}[{i}]", v) for i, v in enumerate(value) if isinstance(v, BaseModel)]
    if isinstance(value, dict):
        return [(f"{path}{key_path(k)}", v) for k, v in value.items() if isinstance(v, BaseModel)]
    return []
