"""The Spark UI Ingress and ``spec.driverIngressOptions``: what the Kubeflow Spark Operator exposes
of a driver over HTTP, rendered as plain objects.

- With ``--ingress-url-format`` (and the UI Service enabled), one Ingress per application,
  ``<app>-ui-ingress``, routing the format's host and path to the UI Service. Its annotations are
  ``spec.sparkUIOptions.ingressAnnotations``, else ``--ingress-annotations``; its TLS
  ``spec.sparkUIOptions.ingressTLS``, else ``--ingress-tls``; its class ``--ingress-class-name``.
  ``status.driverInfo.webUIIngressName`` / ``webUIIngressAddress`` name it and its URL.
- Per ``spec.driverIngressOptions`` entry, a Service ``<app>-driver-<port>`` for that driver port
  and, when the entry has an ``ingressURLFormat``, an Ingress ``<app>-ing-<port>`` to it (the
  entry's annotations and TLS, else the flags').

A URL format names ``{{$appName}}``, ``{{$appNamespace}}`` and ``{{$appId}}`` (spaces allowed
inside the braces); without a scheme it is read as ``http://``. A URL with a path (the "path form",
``ingress.example.com/{{$appNamespace}}/{{$appName}}``) routes ``<path>(/|$)(.*)`` and rewrites it
with nginx's ``rewrite-target: /$2``, and the driver is told the path
(``spark.ui.proxyBase``, ``spark.ui.proxyRedirectUri=/``, unless the spec sets them); the "host
form" (``{{$appName}}.ingress.example.com``) routes the whole host.

Everything the API server would refuse of what a spec or a flag renders (a host that is no DNS
name, a port in the host, TLS that is not a list of ``{hosts, secretName}``) is refused first,
naming the field. Pure: the controller creates the objects.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from sparkfleet.api.sparkapplication import DriverIngressConfiguration, SparkApplication
from sparkfleet.kube.resources import SERVICES, Resource
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.batch.model import BatchPlan
from sparkfleet.operator.spark.submission import Submission, owner_reference, render
from sparkfleet.operator.spark.validation import InvalidApplication

Obj = dict[str, Any]

INGRESSES = Resource("networking.k8s.io", "v1", "ingresses", "Ingress")
UI_INGRESS_SUFFIX = "ui-ingress"
REWRITE_TARGET = "nginx.ingress.kubernetes.io/rewrite-target"
REWRITE_TO = "/$2"
CAPTURE_GROUPS = "(/|$)(.*)"
PROXY_BASE = "spark.ui.proxyBase"
PROXY_REDIRECT_URI = "spark.ui.proxyRedirectUri"
PATH_TYPE = "ImplementationSpecific"
FLAG_URL_FORMAT = "--ingress-url-format"
UI_INGRESS_NAME = "the Spark UI Ingress is named after the application"
DRIVER_SERVICE_NAME = "the Service is named <application>-driver-<servicePort>"
DRIVER_INGRESS_NAME = "the Ingress is named <application>-ing-<servicePort>"

_APP_NAME = re.compile(r"\{\{\s*\$appName\s*\}\}")
_APP_NAMESPACE = re.compile(r"\{\{\s*\$appNamespace\s*\}\}")
_APP_ID = re.compile(r"\{\{\s*\$appId\s*\}\}")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]")


class InvalidIngress(ValueError):
    """What a URL format, TLS or annotations would render cannot be an Ingress; the message names
    the field (or flag)."""


@dataclass(frozen=True, slots=True)
class IngressURL:
    """A URL format rendered for one application, read as the Spark Operator reads it."""

    address: str  # status.driverInfo.webUIIngressAddress: the URL, with http:// when it had no scheme
    host: str  # "" routes every host
    path: str  # "" (host form), or absolute (path form)

    @property
    def routed_path(self) -> str:
        """The Ingress path: a sub-path gets the capture groups the rewrite uses."""
        return self.path + CAPTURE_GROUPS if self.path not in ("", "/") else self.path

    @property
    def rewrites(self) -> bool:
        return self.path not in ("", "/")


@dataclass(frozen=True, slots=True)
class IngressOptions:
    """The operator-wide flags: ``--ingress-url-format`` (empty: no UI Ingress),
    ``--ingress-class-name``, ``--ingress-tls`` and ``--ingress-annotations`` (read, see
    :func:`parse_tls` and :func:`parse_annotations`)."""

    url_format: str = ""
    class_name: str = ""
    tls: tuple[Obj, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Exposed:
    """One object to create, owned by the application: ``field`` and ``why`` say what named it, for
    the message when another object holds the name (see :func:`.ownership.collision_message`)."""

    resource: Resource
    obj: Obj
    field: str
    why: str


@dataclass(frozen=True, slots=True)
class Exposure:
    """What one submission exposes besides the UI Service: the UI Ingress (and its status fields),
    the Spark properties it asks the driver for, and per driverIngressOptions entry its Service and
    Ingress, each with the field that named it (for a collision's message)."""

    ui_ingress: Obj | None = None
    ui_url: IngressURL | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    objects: tuple[Exposed, ...] = ()

    def driver_info(self) -> dict[str, str]:
        """status.driverInfo's Ingress fields, as the Spark Operator writes them."""
        if self.ui_ingress is None or self.ui_url is None:
            return {}
        return {
            "webUIIngressName": self.ui_ingress["metadata"]["name"],
            "webUIIngressAddress": self.ui_url.address,
        }


# -- URL formats -------------------------------------------------------------------


def render_url(url_format: str, name: str, namespace: str, app_id: str, where: str) -> IngressURL:
    """``url_format`` for one application; :class:`InvalidIngress` (naming ``where``) when it does not
    make a URL whose host and path an Ingress rule can take."""
    text = _APP_NAME.sub(name, url_format)
    text = _APP_NAMESPACE.sub(namespace, text)
    text = _APP_ID.sub(app_id, text)
    shown = f"{url_format!r}" if text == url_format else f"{url_format!r} (rendered {text!r})"
    if not text.strip():
        raise InvalidIngress(f"{where}: the URL format is empty")
    if _WHITESPACE.search(text):
        raise InvalidIngress(f"{where}: {shown} holds whitespace or a control character")
    address = text if _SCHEME.match(text) else "http://" + text
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError as exc:
        raise InvalidIngress(f"{where}: {shown} is not a URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidIngress(
            f"{where}: {shown} starts with {parts.scheme}:, which reads as a scheme: write the URL as "
            "host[/path] or http(s)://host[/path] (an Ingress rule has no port)"
        )
    if port is not None or parts.username is not None or parts.password is not None:
        raise InvalidIngress(f"{where}: {shown}: an Ingress rule's host has no port and no user")
    host = parts.netloc  # no port and no user: the host as written
    if host != host.lower():
        raise InvalidIngress(f"{where}: {shown}: the host {host!r} must be lower case")
    problem = host_problem(host)
    if problem:
        raise InvalidIngress(f"{where}: {shown}: the host {problem}")
    return IngressURL(address=address, host=host, path=unquote(parts.path))


def host_problem(host: str) -> str | None:
    """Why an Ingress rule would refuse ``host`` (as the API server judges it), or None."""
    if not host:
        return None
    if _IPV4.match(host) or host.startswith("["):
        return f"{host!r} is an IP address: an Ingress rule's host is a DNS name"
    bare = host[2:] if host.startswith("*.") else host
    if len(host) > naming.DNS_SUBDOMAIN_MAX:
        return f"{host!r} is over {naming.DNS_SUBDOMAIN_MAX} characters"
    if not _DNS_SUBDOMAIN.match(bare) or any(len(label) > naming.DNS_LABEL_MAX for label in bare.split(".")):
        return (
            f"{host!r} is not a DNS name (lower-case labels of letters, digits and '-', each at most "
            f"{naming.DNS_LABEL_MAX} characters, joined by dots; '*.' may lead)"
        )
    return None


def check_url_format(url_format: str) -> None:
    """The ``--ingress-url-format`` check at start-up: it renders an Ingress URL for an application
    of ordinary names (ValueError naming the flag otherwise)."""
    if url_format:
        render_url(url_format, "app", "namespace", "spark-0123456789abcdef", FLAG_URL_FORMAT)


# -- TLS and annotations -----------------------------------------------------------


def tls_entries(value: Any, where: str) -> tuple[Obj, ...]:
    """Ingress TLS entries (networking.k8s.io/v1 IngressTLS: ``hosts``, ``secretName``), as the
    Spark Operator reads them: other keys are left out. :class:`InvalidIngress` names the entry
    and key that is not so."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidIngress(f"{where}: must be a list of {{hosts, secretName}}, not {type(value).__name__}")
    entries = []
    for i, entry in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict):
            raise InvalidIngress(f"{at}: must be an object {{hosts, secretName}}, not {type(entry).__name__}")
        out: Obj = {}
        hosts = entry.get("hosts")
        if hosts is not None:
            if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
                raise InvalidIngress(f"{at}.hosts: must be a list of host names")
            for j, host in enumerate(hosts):
                problem = host_problem(host)
                if problem:
                    raise InvalidIngress(f"{at}.hosts[{j}]: {problem}")
            if hosts:
                out["hosts"] = list(hosts)
        secret = entry.get("secretName")
        if secret is not None:
            if not isinstance(secret, str):
                raise InvalidIngress(f"{at}.secretName: must be a string")
            if secret:
                out["secretName"] = secret
        entries.append(out)
    return tuple(entries)


def parse_tls(text: str) -> tuple[Obj, ...]:
    """``--ingress-tls``: a JSON list of ``{"hosts": [...], "secretName": ...}`` (empty: none)."""
    if not text.strip():
        return ()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--ingress-tls: not JSON ({exc})") from None
    try:
        return tls_entries(value, "--ingress-tls")
    except InvalidIngress as exc:
        raise ValueError(str(exc)) from None


def parse_annotations(text: str) -> dict[str, str]:
    """``--ingress-annotations``: a JSON object of string values (empty: none)."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--ingress-annotations: not JSON ({exc})") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError('--ingress-annotations: must be a JSON object of strings, e.g. {"key": "value"}')
    return dict(value)


# -- objects -----------------------------------------------------------------------


def ui_ingress_name(app_name: str) -> str:
    """``<app>-ui-ingress``; past 63 characters, the name cut short and a hash of the full name
    inserted (``<app[:43]>-<8 hex>-ui-ingress``), as the Spark Operator names it."""
    preferred = f"{app_name}-{UI_INGRESS_SUFFIX}"
    if len(preferred) <= naming.DNS_LABEL_MAX:
        return preferred
    keep = naming.DNS_LABEL_MAX - len(UI_INGRESS_SUFFIX) - 10  # 8 hex digits and two dashes
    digest = hashlib.md5(preferred.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{app_name[:keep]}-{digest}-{UI_INGRESS_SUFFIX}"


def resource_labels(app: SparkApplication, submission_id: str) -> dict[str, str]:
    """The labels the Spark Operator gives what it creates for an application."""
    return {naming.LABEL_APP_NAME: app.metadata["name"], naming.LABEL_SUBMISSION_ID: submission_id}


def ingress(
    app: SparkApplication,
    name: str,
    url: IngressURL,
    service_name: str,
    service_port: int,
    *,
    submission_id: str,
    class_name: str,
    tls: tuple[Obj, ...],
    annotations: dict[str, str],
) -> Obj:
    """One Ingress as the Spark Operator shapes it: a rule for the URL's host, one path
    (``ImplementationSpecific``) to the Service's port; a sub-path rewritten by nginx."""
    notes = dict(annotations)
    if url.rewrites:
        notes[REWRITE_TARGET] = REWRITE_TO
    path: Obj = {
        "pathType": PATH_TYPE,
        "backend": {"service": {"name": service_name, "port": {"number": service_port}}},
    }
    if url.routed_path:
        path["path"] = url.routed_path
    rule: Obj = {"http": {"paths": [path]}}
    if url.host:
        rule["host"] = url.host
    spec: Obj = {"rules": [rule]}
    if tls:
        spec["tls"] = [dict(entry) for entry in tls]
    if class_name:
        spec["ingressClassName"] = class_name
    metadata: Obj = {
        "name": name,
        "namespace": app.metadata["namespace"],
        "labels": resource_labels(app, submission_id),
        "ownerReferences": [owner_reference(app)],
    }
    if notes:
        metadata["annotations"] = notes
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}


def driver_ingress_service(
    app: SparkApplication, entry: DriverIngressConfiguration, submission_id: str
) -> Obj:
    """A driverIngressOptions entry's Service, ``<app>-driver-<port>``: that port of the driver,
    the entry's type (ClusterIP), labels (else the operator's) and annotations."""
    name = app.metadata["name"]
    metadata: Obj = {
        "name": f"{name}-driver-{entry.service_port}",
        "namespace": app.metadata["namespace"],
        "labels": dict(entry.service_labels or {}) or resource_labels(app, submission_id),
        "ownerReferences": [owner_reference(app)],
    }
    if entry.service_annotations:
        metadata["annotations"] = dict(entry.service_annotations)
    port = {"name": entry.service_port_name, "port": entry.service_port, "targetPort": entry.service_port,
            "protocol": "TCP"}  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": entry.service_type or "ClusterIP",
            "selector": {naming.LABEL_APP_NAME: name, naming.LABEL_SPARK_ROLE: "driver"},
            "ports": [port],
        },
    }


def expose(
    app: SparkApplication,
    submission_id: str,
    app_id: str,
    options: IngressOptions,
    ui_service: Obj | None,
) -> Exposure:
    """What a submission exposes (see the module); :class:`InvalidIngress` names the field of
    ``app`` (or the flag) that cannot be rendered."""
    name, namespace = app.metadata["name"], app.metadata["namespace"]
    ui_options = app.spec.spark_ui_options
    objects: list[Exposed] = []
    ui_obj: Obj | None = None
    ui_url: IngressURL | None = None
    conf: dict[str, str] = {}
    if ui_service is not None and options.url_format:
        ui_url = render_url(options.url_format, name, namespace, app_id, FLAG_URL_FORMAT)
        spec_tls = tls_entries(
            ui_options.ingress_tls if ui_options else None, "spec.sparkUIOptions.ingressTLS"
        )
        spec_annotations = (ui_options.ingress_annotations if ui_options else None) or {}
        ui_port = ui_service["spec"]["ports"][0]["port"]
        ui_obj = ingress(
            app, ui_ingress_name(name), ui_url, ui_service["metadata"]["name"], ui_port,
            submission_id=submission_id, class_name=options.class_name,
            tls=spec_tls or options.tls, annotations=spec_annotations or options.annotations,
        )  # fmt: skip
        if ui_url.path:
            conf = {PROXY_BASE: ui_url.path, PROXY_REDIRECT_URI: "/"}
    seen_ports: dict[int, int] = {}
    for i, entry in enumerate(app.spec.driver_ingress_options or []):
        where = f"spec.driverIngressOptions[{i}]"
        if entry.service_port in seen_ports:
            raise InvalidIngress(
                f"{where}.servicePort: {entry.service_port} is also "
                f"spec.driverIngressOptions[{seen_ports[entry.service_port]}]'s (the Service and Ingress "
                "are named after the port)"
            )
        seen_ports[entry.service_port] = i
        service = driver_ingress_service(app, entry, submission_id)
        service_name = service["metadata"]["name"]
        if len(service_name) > naming.DNS_LABEL_MAX:
            raise InvalidIngress(
                f"{where}.servicePort: the Service {service_name!r} (<application>-driver-<port>) is over "
                f"{naming.DNS_LABEL_MAX} characters: the application's name is too long for it"
            )
        objects.append(Exposed(SERVICES, service, f"{where}.servicePort", DRIVER_SERVICE_NAME))
        if not entry.ingress_url_format:
            continue
        url = render_url(entry.ingress_url_format, name, namespace, app_id, f"{where}.ingressURLFormat")
        entry_tls = tls_entries(entry.ingress_tls, f"{where}.ingressTLS")
        entry_annotations = dict(entry.ingress_annotations or {})
        rendered = ingress(
            app, f"{name}-ing-{entry.service_port}", url, service_name, entry.service_port,
            submission_id=submission_id, class_name=options.class_name,
            tls=entry_tls or options.tls, annotations=entry_annotations or options.annotations,
        )  # fmt: skip
        objects.append(Exposed(INGRESSES, rendered, f"{where}.servicePort", DRIVER_INGRESS_NAME))
    if ui_obj is not None:
        objects.append(Exposed(INGRESSES, ui_obj, "metadata.name", UI_INGRESS_NAME))
    return Exposure(ui_ingress=ui_obj, ui_url=ui_url, spark_conf=conf, objects=tuple(objects))


def conf_to_add(app: SparkApplication, exposure: Exposure) -> dict[str, str]:
    """The Spark properties the UI Ingress's path asks for that ``spec.sparkConf`` does not set."""
    given = app.spec.spark_conf or {}
    return {key: value for key, value in exposure.spark_conf.items() if key not in given}


def refreshed(existing: Obj, desired: Obj) -> Obj | None:
    """An Ingress the application owns from an earlier run, brought to what this submission renders
    (its rules, class, TLS, labels, annotations and owner), as the Spark Operator updates it; None
    when it already is. Only the application's own Ingress is ever passed here (see ownership)."""
    meta, want = existing["metadata"], desired["metadata"]
    fields = ("labels", "annotations", "ownerReferences")
    if existing.get("spec") == desired["spec"] and all(meta.get(f) == want.get(f) for f in fields):
        return None
    new_meta = {key: value for key, value in meta.items() if key not in fields}
    new_meta.update({f: want[f] for f in fields if f in want})
    return {**existing, "metadata": new_meta, "spec": desired["spec"]}


def render_exposed(
    app: SparkApplication,
    submission_id: str,
    options: IngressOptions,
    *,
    ui_service: bool,
    routing_keys: Iterable[str] = (),
    batch: BatchPlan | None = None,
) -> tuple[Submission, Exposure]:
    """The submission's objects (:func:`.submission.render`) and what it exposes; a UI Ingress on a
    sub-path tells the driver its path. :class:`InvalidApplication` names what cannot be rendered."""
    submission = render(app, submission_id, ui_service=ui_service, routing_keys=routing_keys, batch=batch)
    try:
        exposure = expose(app, submission_id, submission.app_id, options, submission.ui_service)
    except InvalidIngress as exc:
        raise InvalidApplication(str(exc)) from None
    extra = conf_to_add(app, exposure)
    if extra:
        submission = render(
            app,
            submission_id,
            ui_service=ui_service,
            routing_keys=routing_keys,
            extra_conf=extra,
            batch=batch,
        )
    return submission, exposure
