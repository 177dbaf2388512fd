"""Real Spark judges sparkfleet's driver-side rendering: SparkSubmit against the local control plane.

For every application of the corpus (tests/conformance/corpus.py) this runs Spark's own
``org.apache.spark.deploy.SparkSubmit`` (Spark 4.0.2, ``--master k8s://<control plane>
--deploy-mode cluster``, ``spark.kubernetes.submission.waitAppCompletion=false``) in the test's
namespace, reads back the driver Pod, ConfigMaps and Service it created, and compares them field
by field with what ``sparkfleet.operator.spark.submission.render`` returns for the same
application and submission id.

Where SparkSubmit's input comes from, so that it is an independent oracle:

- The spark-submit arguments are the Kubeflow Spark Operator's (v2.5.2) for that spec, written
  from Kubeflow's ``submission.go`` and ``monitoring_config.go`` (tests/conformance/kubeflow.py),
  reading the application's JSON, never sparkfleet's models or renderer. sparkfleet is a
  drop-in replacement for exactly that, so Kubeflow's arguments are the specification.
- What Kubeflow adds to pods with its webhook rather than through spark-submit (volumes,
  tolerations, affinity, security contexts, sidecars, ...) reaches Spark through Spark's own
  mechanism for pod-level fields: the driver and executor pod templates Kubeflow already passes.
  Spark then decides, by its own template handling and feature steps, where every field lands,
  what it adds (ports, env, resources from cores, memory and overhead, local dirs, the conf
  volume), what it computes into ``spark.properties`` and how its Service looks.
- Kubeflow's own objects that Spark never creates (its Prometheus ConfigMap, the UI Service) are
  judged against Spark's output where Spark's output decides: the metrics files are compared as
  the driver container sees them at /etc/metrics/conf, and the UI Service must select the driver
  pod Spark created and target its UI port.

The JVM runs with what Kubeflow's operator image gives spark-submit: the Spark image's user,
``spark`` (through ``HADOOP_USER_NAME``: the driver's ``SPARK_USER`` is the submitting user).

Both sides' objects pass the API server's admission (sparkfleet's with a dry-run create) so
defaults are applied alike. :mod:`tests.conformance.compare` normalises both (names, uids, random
suffixes, submission ids) and lists every differing field. Each difference is either in
:data:`ALLOWED` below, with the reason it cannot matter to a Spark driver, or the test fails
naming the case and the field path. An entry of :data:`ALLOWED` no case needs fails the test too,
so the list stays exact.

One JVM runs every submission (tests/spark/java/ConformanceSubmit.java): its start costs about
6 s here, a submission in a warm JVM about 0.4 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparkfleet.api import SparkApplication
from sparkfleet.api.sparkapplication import SPARK_APPLICATIONS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import (
    CONFIGMAPS,
    PODS,
    ROLEBINDINGS,
    ROLES,
    SERVICEACCOUNTS,
    SERVICES,
    Resource,
)
from sparkfleet.operator.spark.pod_security import SPARK_UID
from sparkfleet.operator.spark.submission import SECRET_TYPE_ENV_NAMES, Submission, render
from sparkfleet.testing import ControlPlane
from sparkfleet.testing.spark import Spark, compile_java, find_spark, java_argv, java_sources
from tests.conformance import compare, kubeflow
from tests.conformance.compare import MISSING, Allowed, Diff
from tests.conformance.corpus import LOCAL_REPOSITORY, PRIORITY_CLASSES, SERVICE_ACCOUNTS, Case, all_cases
from tests.support import spark_crds

Obj = dict[str, Any]
PRIORITYCLASSES = Resource("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False)
RESULT = "@@result "
SUBMITTER = "spark-submitter"
SUBMITTING_USER = "spark"
TEMPLATE_CONF_MAP = "<template-conf-map>"


def _absent(diff: Diff) -> bool:
    return diff.sparkfleet is MISSING


def _both_k8s(diff: Diff) -> bool:
    return str(diff.sparkfleet).startswith("k8s://") and str(diff.spark).startswith("k8s://")


def _fallback_service_name(diff: Diff) -> bool:
    """sparkfleet's ``<prefix>-driver-svc`` where Spark fell back to ``spark-<16 hex>-driver-svc``."""
    ours, theirs = str(diff.sparkfleet).split(".", 1), str(diff.spark).split(".", 1)
    return (
        ours[0] == "<prefix>-driver-svc"
        and bool(re.fullmatch(r"spark-[0-9a-f]{16}-driver-svc", theirs[0]))
        and ours[1:] == theirs[1:]
    )


# What sparkfleet's pod_security adds to the Spark container's securityContext where the spec sets
# nothing (spark-submit adds none): the restricted Pod Security Standard's fields, each allowed
# only with exactly this value, and only where Spark's pod lacks the field.
OPERATOR_SECURITY_DEFAULTS: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities.drop": ["ALL"],
    "runAsNonRoot": True,
    "runAsUser": SPARK_UID,
    "seccompProfile.type": "RuntimeDefault",
}


def _operator_security_default(diff: Diff) -> bool:
    field = diff.path.split(".securityContext.", 1)[-1]
    return diff.spark is MISSING and OPERATOR_SECURITY_DEFAULTS.get(field, MISSING) == diff.sparkfleet


def _empty_or_absent(diff: Diff) -> bool:
    return diff.sparkfleet in (MISSING, "") and diff.spark in (MISSING, "")


PROPS = "pod.spec.containers[spark-kubernetes-driver].volumeMounts[/opt/spark/conf].source.files[spark.properties]"
DRIVER = "pod.spec.containers[spark-kubernetes-driver]"

ALLOWED: list[Allowed] = [
    # -- spark.properties: settings only the submitting client reads -----------------------------
    Allowed(f"{PROPS}[spark.master]", "the client's URL of the API server; the driver only checks the k8s:// "
            "prefix and reaches the API server by spark.kubernetes.driver.master", _both_k8s),
    Allowed(f"{PROPS}[spark.app.submitTime]", "a time stamp; the driver sets its own (spark.kubernetes."
            "setSubmitTimeInDriver defaults to true)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.submission.waitAppCompletion]",
            "tells the submitting client whether to wait; the driver never reads it", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driver.podTemplate*]", "the driver pod template: read by the client "
            "to build the driver pod (compared as the pod), a path on the client's disk", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driver.label.*]", "read by the client to label the driver pod "
            "(compared as the pod's labels); the driver never reads them", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driver.annotation.*]", "read by the client to annotate the driver "
            "pod (compared as the pod's annotations)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driver.service.*]", "read by the client for the driver Service "
            "(compared as the Service)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driver.container.image]", "read by the client for the driver "
            "container's image (compared as the pod)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driverEnv.*]", "read by the client for the driver container's env "
            "(compared as the pod's env)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driver.secrets.*]", "read by the client to mount secrets in the "
            "driver pod (compared as the pod's mounts)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driver.secretKeyRef.*]", "read by the client for the driver's env "
            "from secrets (compared as the pod's env)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.driver.volumes.*]", "read by the client to mount volumes in the "
            "driver pod (compared as the pod's mounts)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.pyspark.pythonVersion]", "deprecated since Spark 3.1 and only "
            "checked to be 3; PYSPARK_PYTHON in the pod's env decides", _absent),
    Allowed(f"{PROPS}[spark.submit.pyFiles]", "empty: the driver reads an empty list either way",
            _empty_or_absent),
    # -- spark.properties: executor settings sparkfleet carries in its executor pod template ---------
    Allowed(f"{PROPS}[spark.kubernetes.executor.secrets.*]", "sparkfleet mounts executor secrets through "
            "its executor pod template instead (the executor pods a driver builds from either are not "
            "compared here)", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.executor.secretKeyRef.*]", "sparkfleet puts executor env from "
            "secrets in its executor pod template instead", _absent),
    Allowed(f"{PROPS}[spark.kubernetes.executor.volumes.*]", "sparkfleet mounts executor volumes through "
            "its executor pod template instead", _absent),
    Allowed(f"{PROPS}[spark.executorEnv.*]", "the env a secret's type sets (GOOGLE_APPLICATION_CREDENTIALS, "
            "HADOOP_TOKEN_FILE_LOCATION): sparkfleet sets it in its executor pod template, with the mount",
            lambda d: d.sparkfleet is MISSING and d.path.endswith(SECRET_TYPE_ENV_NAMES)),
    Allowed(f"{PROPS}[spark.executorEnv.SPARK_CONF_DIR]", "with spec.sparkConfigMap Kubeflow's webhook sets "
            "SPARK_CONF_DIR=/etc/spark/conf on executor pods, after Spark's own; sparkfleet has no webhook "
            "and sets it through spark.executorEnv, which Spark applies after its own: the same value",
            lambda d: d.sparkfleet == "/etc/spark/conf" and d.spark is MISSING),
    Allowed(f"{PROPS}[spark.kubernetes.executor.label.sparkoperator.k8s.io/mutated-by-spark-operator]",
            "selects executor pods for Kubeflow's mutating webhook; sparkfleet has none", _absent),
    # -- spark.properties: sparkfleet's own, each a valid Spark setting ----------------------------
    Allowed(f"{PROPS}[spark.kubernetes.executor.podNamePrefix]", "sparkfleet names executor pods after the "
            "submission (<= 47 characters, Spark's own limit), so they are found by its prefix",
            lambda d: d.spark is MISSING),
    # -- the ConfigMap ---------------------------------------------------------------------------
    Allowed("configMap.keys*", "Spark keeps the executor pod template in a second ConfigMap and adds an "
            "unmounted spark.kubernetes.namespace key; the files the driver sees are compared at their paths"),
    Allowed("configMap.immutable", "immutability only guards the ConfigMap against edits; the driver "
            "reads its files once at start"),
    Allowed("configMap.metadata.labels*", "sparkfleet's labels for finding its objects; Spark's ConfigMap "
            "has none and nothing reads them"),
    # -- the driver pod --------------------------------------------------------------------------
    Allowed("pod.metadata.labels[spark-version]", "Spark labels the driver with the submitting client's "
            "version, sparkfleet (which has no client) with spec.sparkVersion; the driver labels its "
            "executors with its own runtime version either way"),
    Allowed("pod.metadata.labels[sparkoperator.k8s.io/mutated-by-spark-operator]", "selects pods for "
            "Kubeflow's mutating webhook; sparkfleet renders the pods whole and has no webhook", _absent),
    Allowed("pod.metadata.annotations[sparkfleet.io/spec-hash]", "sparkfleet's own bookkeeping (a stale "
            "submission is one made from another spec); nothing in Spark reads it", lambda d: d.spark is MISSING),
    Allowed(f"{DRIVER}.volumeMounts[/opt/spark/pod-template].source.files[pod-spec-template.yml]*",
            "not judged here: Spark's client copies the executor pod template it is given as it is "
            "(only the driver reads it, to build executors), so comparing it would judge this test's "
            "own Kubeflow-to-template derivation, not Spark; its place (the file the driver reads, "
            "spark.kubernetes.executor.podTemplateFile) is compared"),
    Allowed(f"{DRIVER}.env[SPARK_CONF_DIR].value", "not what Spark alone would set, but what Kubeflow's "
            "webhook makes of it: with spec.sparkConfigMap it appends SPARK_CONF_DIR=/etc/spark/conf after "
            "Spark's /opt/spark/conf (the later one wins), which no pod template can express; the driver "
            "still reads spark.properties by its --properties-file path",
            lambda d: d.sparkfleet == "/etc/spark/conf" and d.spark == "/opt/spark/conf"),
    Allowed(f"{PROPS}[spark.driver.host]", "Spark names the driver Service spark-<16 hex>-driver-svc when "
            "<app>-<16 hex>-driver-svc would be over 63 characters; sparkfleet's prefix is short enough to keep "
            "<prefix>-driver-svc. Each side's spark.driver.host names its own Service", _fallback_service_name),
    Allowed("service.metadata.name", "as spark.driver.host: Spark's fallback name for a long application "
            "name; each side's Service is the one its spark.driver.host names", _fallback_service_name),
    Allowed(f"{DRIVER}.securityContext.*", "sparkfleet's restricted Pod Security defaults "
            "(sparkfleet.operator.spark.pod_security): fields the spec leaves unset, filled so that a "
            "namespace enforcing restricted admits the driver; spark-submit sets none",
            _operator_security_default),
    # -- the driver Service ----------------------------------------------------------------------
    Allowed("service.spec.selector*", "Spark selects by every driver label; sparkfleet by spark-app-selector "
            "and spark-role, which select the same one pod (the app id is unique per submission)", _absent),
    Allowed("service.metadata.labels[sparkoperator.k8s.io/*]", "sparkfleet's labels for finding its "
            "objects; Spark's Service has only spark-app-selector", lambda d: d.spark is MISSING),
    Allowed("service.metadata.labels[spark-*]", "labels sparkfleet puts on all its objects; "
            "nothing selects the driver Service by them", lambda d: d.spark is MISSING),
]  # fmt: skip


# -- the JVM ------------------------------------------------------------------------------------


@dataclass
class Submitter:
    """One JVM running ConformanceSubmit: submit() sends a spark-submit, waits for its answer."""

    process: asyncio.subprocess.Process
    log: Path
    timings: list[float] = field(default_factory=list)

    async def _answer(self) -> Obj:
        assert self.process.stdout is not None
        while True:
            line = (await self.process.stdout.readline()).decode()
            if not line:
                raise AssertionError(f"the Spark JVM ended: see the end of {self.log}:\n{_tail(self.log)}")
            if line.startswith(RESULT):
                answer: Obj = json.loads(line[len(RESULT) :])
                return answer

    async def submit(self, case_id: str, args: list[str]) -> Obj:
        assert self.process.stdin is not None
        started = asyncio.get_running_loop().time()
        self.process.stdin.write((json.dumps({"id": case_id, "args": args}) + "\n").encode())
        await self.process.stdin.drain()
        answer = await asyncio.wait_for(self._answer(), 120)
        self.timings.append(asyncio.get_running_loop().time() - started)
        return answer


def _tail(path: Path, size: int = 6000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"


@asynccontextmanager
async def submitter(spark: Spark, kubeconfig: Path, workdir: Path) -> AsyncIterator[Submitter]:
    classes = compile_java(spark, [java_sources() / "ConformanceSubmit.java"])
    log = workdir / "spark-submit.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *java_argv(
                spark, "ConformanceSubmit", classes=[classes], jvm_options=["-Xmx512m", "-XX:+UseSerialGC"]
            ),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={
                **os.environ,
                "KUBECONFIG": str(kubeconfig),
                "SPARK_LOCAL_IP": "127.0.0.1",
                # Kubeflow's operator runs spark-submit as the Spark image's user, spark (uid 185): the
                # driver's SPARK_USER is that user's name (Hadoop's UGI reads it from here, not the OS).
                "HADOOP_USER_NAME": SUBMITTING_USER,
            },
        )
        jvm = Submitter(process, log)
        try:
            await asyncio.wait_for(jvm._answer(), 120)  # ready
            yield jvm
        finally:
            if process.stdin is not None:
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


# -- the cluster --------------------------------------------------------------------------------


async def _create_ignoring_conflict(kube: KubeClient, resource: Resource, obj: Obj) -> None:
    try:
        await kube.create(resource, obj)
    except ApiError as exc:
        if exc.status != 409:
            raise


async def prepare(control_plane: ControlPlane, kube: KubeClient, namespace: str) -> Path:
    """CRDs, the corpus's service accounts and priority classes, and the submitter's kubeconfig."""
    await control_plane.install_crds(spark_crds())
    for name in SERVICE_ACCOUNTS:
        await _create_ignoring_conflict(
            kube,
            SERVICEACCOUNTS,
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace},
            },
        )
    for name in PRIORITY_CLASSES:
        await _create_ignoring_conflict(
            kube,
            PRIORITYCLASSES,
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": 1000,
            },
        )
    identity = await control_plane.mint_identity(namespace, SUBMITTER)
    await kube.create(
        ROLES,
        {  # what spark-submit needs, in the namespace only
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": SUBMITTER, "namespace": namespace},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["pods", "services", "configmaps", "persistentvolumeclaims"],
                    "verbs": ["*"],
                }
            ],
        },
    )
    await kube.create(ROLEBINDINGS, {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": SUBMITTER, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SUBMITTER},
        "subjects": [{"kind": "ServiceAccount", "name": SUBMITTER, "namespace": namespace}],
    })  # fmt: skip
    return identity.kubeconfig


def local_repository(root: Path) -> dict[str, str]:
    """A file:// Maven repository with one tiny artifact, and Ivy settings that use only it, so
    --packages resolves without a network (the values replace the corpus's placeholders)."""
    group = root / "repo" / "org" / "sparkfleet" / "conformance" / "tiny" / "1.0"
    group.mkdir(parents=True, exist_ok=True)
    (group / "tiny-1.0.pom").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>org.sparkfleet.conformance</groupId><artifactId>tiny</artifactId><version>1.0</version></project>"
    )
    shutil.make_archive(str(group / "tiny-1.0"), "zip", root_dir=group, base_dir="tiny-1.0.pom")
    (group / "tiny-1.0.zip").rename(group / "tiny-1.0.jar")
    repository = (root / "repo").as_uri()
    settings = root / "ivysettings.xml"
    settings.write_text(
        '<ivysettings><settings defaultResolver="local"/><resolvers>'
        f'<ibiblio name="local" m2compatible="true" root="{repository}"/></resolvers></ivysettings>'
    )
    return {LOCAL_REPOSITORY: repository, "<ivy-settings>": str(settings), "<ivy-home>": str(root / "ivy")}


def _fill(obj: Any, values: dict[str, str]) -> Any:
    if isinstance(obj, str):
        return values.get(obj, obj)
    if isinstance(obj, dict):
        return {k: _fill(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, values) for v in obj]
    return obj


async def dry_run(kube: KubeClient, resource: Resource, obj: Obj) -> Obj:
    """``obj`` as the API server would store it (admission and defaults), without storing it."""
    namespace = obj["metadata"]["namespace"]
    answer: Obj = await kube.request("POST", resource.path(namespace), query={"dryRun": "All"}, body=obj)
    return answer


@dataclass(frozen=True, slots=True)
class Side:
    """One side's objects, and the names and ids to normalise away."""

    pod: Obj
    config_map: Obj
    service: Obj
    files: dict[str, dict[str, str]]
    tokens: dict[str, str]


async def sparkfleet_side(kube: KubeClient, sub: Submission) -> Side:
    pod = await dry_run(kube, PODS, sub.driver_pod)
    config_map = await dry_run(kube, CONFIGMAPS, sub.owned_by_driver(sub.config_map, pod))
    service = await dry_run(kube, SERVICES, sub.owned_by_driver(sub.driver_service, pod))
    if sub.ui_service is not None:
        await dry_run(kube, SERVICES, sub.ui_service)
    name = sub.config_map["metadata"]["name"]
    tokens = {
        sub.app_id: "<app-id>",
        sub.prefix: "<prefix>",
        name: "<conf-map>",
        pod["metadata"]["uid"]: "<driver-uid>",
    }
    return Side(pod, config_map, service, {name: compare.config_map_files(config_map)}, tokens)


async def spark_side(kube: KubeClient, namespace: str, pod_name: str, app: Obj) -> Side:
    pod = await kube.get(PODS, pod_name, namespace)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    conf_name = volumes["spark-conf-volume-driver"]["configMap"]["name"]
    template_name = volumes["pod-template-volume"]["configMap"]["name"]
    config_map = await kube.get(CONFIGMAPS, conf_name, namespace)
    template = await kube.get(CONFIGMAPS, template_name, namespace)
    app_id = pod["metadata"]["labels"]["spark-app-selector"]
    services, _ = await kube.list_all(SERVICES, namespace, label_selector=f"spark-app-selector={app_id}")
    assert len(services) == 1, f"Spark created {len(services)} driver Services"
    files = {
        conf_name: compare.config_map_files(config_map),
        template_name: compare.config_map_files(template),
    }
    prometheus = kubeflow.prometheus_config_map(app)
    if prometheus is not None:
        files[prometheus["metadata"]["name"]] = prometheus["data"]
    prefix = template_name.removesuffix("-driver-podspec-conf-map")
    tokens = {app_id: "<app-id>", prefix: "<prefix>", conf_name: "<conf-map>", template_name: TEMPLATE_CONF_MAP,
              pod["metadata"]["uid"]: "<driver-uid>"}  # fmt: skip
    return Side(pod, config_map, services[0], files, tokens)


async def remove_spark_conf_map(kube: KubeClient, side: Side) -> None:
    """Spark names its driver ConfigMap once per JVM (and makes it immutable): the next submission
    in this JVM needs the name free."""
    await kube.delete(
        CONFIGMAPS, side.config_map["metadata"]["name"], side.config_map["metadata"]["namespace"]
    )


# -- comparing ----------------------------------------------------------------------------------


def views(side: Side) -> dict[str, Any]:
    """What the test compares of one side, normalised."""
    config_map = {
        "metadata": compare.metadata(side.config_map),
        "immutable": bool(side.config_map.get("immutable")),
        "keys": {key: True for key in side.config_map.get("data") or {}},
    }
    shown = {
        "pod": compare.pod(side.pod, side.files),
        "configMap": config_map,
        "service": compare.service(side.service),
    }
    normalised: dict[str, Any] = compare.substitute(shown, side.tokens)
    return normalised


def ui_service_problems(case: str, ui_service: Obj | None, spark_pod: Obj) -> list[Diff]:
    """sparkfleet's UI Service must select the pod Spark created and target its Spark UI port."""
    if ui_service is None:
        return []
    labels = spark_pod["metadata"]["labels"]
    problems = [
        Diff(case, f"uiService.spec.selector[{key}]", value, labels.get(key, MISSING))
        for key, value in ui_service["spec"]["selector"].items()
        if key != "spark-app-selector" and labels.get(key) != value
    ]
    driver = next(c for c in spark_pod["spec"]["containers"] if c["name"] == "spark-kubernetes-driver")
    ui_ports = {p["containerPort"] for p in driver.get("ports") or [] if p.get("name") == "spark-ui"}
    target = ui_service["spec"]["ports"][0]["targetPort"]
    if target not in ui_ports:
        problems.append(Diff(case, "uiService.spec.ports[0].targetPort", target, sorted(ui_ports)))
    return problems


@dataclass
class Outcome:
    diffs: list[Diff] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def judge(
    case: Case,
    kube: KubeClient,
    namespace: str,
    jvm: Submitter,
    master: str,
    workdir: Path,
    values: dict[str, str],
) -> Outcome:
    outcome = Outcome()
    manifest = _fill(case.manifest(namespace), values)
    created = await kube.create(SPARK_APPLICATIONS, manifest)
    submission_id = str(uuid.uuid4())
    sub = render(SparkApplication.model_validate(created), submission_id)
    try:
        ours = await sparkfleet_side(kube, sub)
    except ApiError as exc:
        outcome.failures.append(f"{case.id}: the API server refuses what sparkfleet renders: {exc}")
        return outcome
    given = kubeflow.submit_input(created, submission_id, master, workdir)
    for path, text in given.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    answer = await jvm.submit(case.id, given.args)
    if not answer["ok"]:
        outcome.failures.append(f"{case.id}: spark-submit failed: {str(answer.get('error'))[:600]}")
        return outcome
    theirs = await spark_side(kube, namespace, kubeflow.driver_pod_name(created), created)
    await remove_spark_conf_map(kube, theirs)
    left, right = views(ours), views(theirs)
    for kind in ("pod", "configMap", "service"):
        outcome.diffs += compare.differences(case.id, kind, left[kind], right[kind])
    outcome.diffs += ui_service_problems(case.id, compare.substitute(sub.ui_service, ours.tokens),
                                         compare.substitute(theirs.pod, theirs.tokens))  # fmt: skip
    return outcome


def report(unexpected: list[Diff], unused: list[Allowed], failures: list[str]) -> str:
    """What fails the test, readably; empty when nothing does."""
    lines = [*failures]
    if unexpected:
        lines.append(
            f"{len(unexpected)} differences between sparkfleet and Spark that no ALLOWED entry explains:"
        )
        lines += [str(d) for d in unexpected]
    if unused:
        lines.append("ALLOWED entries no case needs any more (remove them):")
        lines += [f"  {entry.path}: {entry.reason}" for entry in unused]
    return "\n".join(lines)


async def test_spark_submit_agrees_with_sparkfleet(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    spark = find_spark()  # SparkNotFound (run `make spark`) is an error, never a skip
    kubeconfig = await prepare(control_plane, kube, namespace)
    values = local_repository(tmp_path / "maven")
    cases = all_cases()
    outcomes: list[Outcome] = []
    async with submitter(spark, kubeconfig, tmp_path) as jvm:
        for case in cases:
            outcomes.append(await judge(case, kube, namespace, jvm, control_plane.host, tmp_path, values))
    diffs = [d for o in outcomes for d in o.diffs]
    failures = [f for o in outcomes for f in o.failures]
    unexpected, used = compare.split(diffs, ALLOWED)
    unused = [entry for i, entry in enumerate(ALLOWED) if i not in used]
    (tmp_path / "differences.txt").write_text("\n".join(str(d) for d in diffs))
    print(f"{len(cases)} cases, {len(diffs)} differences ({len(diffs) - len(unexpected)} allowed); "
          f"submissions: first {jvm.timings[0]:.1f} s, then {sum(jvm.timings[1:]) / max(1, len(jvm.timings) - 1):.2f} s")  # fmt: skip
    for i, entry in enumerate(ALLOWED):
        print(f"  {used[i]:4d} allowed by {entry.path}")
    problems = report(unexpected, unused, failures)
    assert not problems, problems
