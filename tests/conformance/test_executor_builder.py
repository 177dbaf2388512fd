"""Spark's own executor pod builder judges every rendering, and the pod simulator plays Spark.

For each application (the valid corpus, the demo's, the kitchen sink and shapes that exercise
Spark's executor feature steps), the submission is rendered as the operator renders it and handed
to Spark 4.0.2's ``KubernetesExecutorBuilder`` (tests/spark/java/ExecutorPodProbe.java, all in
one JVM) as a driver in that driver pod would: Spark must build an executor for every one, and
the pods it builds must equal the ones :mod:`sparkfleet.sim.executors` builds for the simulator.
Applications whose Spark conf Spark refuses must be refused by the simulator with Spark's error.
The simulator sends exactly :meth:`ExecutorPods.pod` (plus ``spec.nodeName``, its stand-in for the
scheduler's binding) and :func:`executor_conf_map`; tests/integration/test_sim.py checks what it creates.

Compared after normalising only what is random per run or has no meaning to Kubernetes:

- the executor ConfigMap's name (``spark-exec-<random>-conf-map``) and the generated
  ``_SPARK_AUTH_SECRET``;
- the ``spark-version`` label: the probe's Spark is 4.0.2; the simulated one is the application's
  (the driver pod's label);
- the namespace (Spark's client sets it, not the builder);
- orders Spark takes from hash maps: env entries are compared as a multiset plus the value that
  wins for each name (the last), the ``-D`` options at the end of ``SPARK_JAVA_OPT_*`` as a set,
  volumes and volume mounts by name;
- what the API server stores the same either way: empty strings, lists and maps.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from sparkfleet.api import SparkApplication
from sparkfleet.demo.workload import Workload, application
from sparkfleet.operator.spark.submission import PROPERTIES_FILE, parse_properties, render, to_properties
from sparkfleet.sim import sparkconf
from sparkfleet.sim.driver import SPARK_VERSION, Driver, executor_conf_map, new_driver
from sparkfleet.sim.executors import ExecutorPods
from tests.conformance.executor_probe import ProbeCase, SparkResult, build_with_spark
from tests.corpus import merge_patch
from tests.corpus.applications import CASES, VALID
from tests.examples import manifests

Obj = dict[str, Any]
SUBMISSION = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
DRIVER_UID = "d1d1d1d1-0000-4000-8000-000000000001"
DRIVER_IP = "10.2.3.4"
USER_SPARK_CONF = {  # the spec.sparkConfigMap of the kitchen sink, as SPARK_CONF_DIR
    "log4j2.properties": "rootLogger.level = info\n",
    "spark-defaults.conf": "spark.eventLog.enabled true\n",
    "metrics.properties.template": "# a template\n",
    "hive-site.xml": "<configuration/>\n",
}


@dataclass(frozen=True, slots=True)
class App:
    id: str
    manifest: Obj
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """ConfigMaps the application names (spec.sparkConfigMap ...), by name."""
    properties: Mapping[str, str | None] = field(default_factory=dict)
    """Put into the rendered spark.properties: what a rendering could carry that Spark refuses
    (the operator refuses some of it in a spec, so it is set here, past validation)."""


def spark_conf(name: str, conf: dict[str, str], base: Obj | None = None) -> Obj:
    app: Obj = merge_patch(base or manifests.spark_pi(name), {"spec": {"sparkConf": conf}})
    return app


def executor(name: str, **fields: Any) -> Obj:
    app: Obj = merge_patch(manifests.spark_pi(name), {"spec": {"executor": fields}})
    return app


DEMO = Workload(namespaces=1, apps_per_namespace=2, executors=(1, 10))

APPS: list[App] = [
    *(App(m["metadata"]["name"], m) for m in VALID),
    *(App(f"warning-{c.id}", c.manifest()) for c in CASES if c.refused_by == "warning"),
    *(App(f"demo-{m['metadata']['name']}", m) for m in DEMO.applications()),
    App("demo-failing", application("app-009", "seed-00", 3, failing=True)),
    App("kitchen-sink", manifests.everything(), {"spark-conf": USER_SPARK_CONF}),
    App("pyspark", manifests.pyspark()),
    App("r-app", merge_patch(manifests.spark_pi("r-app"), {"spec": {"type": "R", "mainClass": None,
                                                                   "mainApplicationFile": "local:///a.R"}})),
    App("executor-template", executor(
        "executor-template",
        template={"metadata": {"labels": {"from-template": "yes"}, "annotations": {"a": "b"}},
                  "spec": {"containers": [{"name": "log-shipper", "image": "fluent-bit:3"},
                                          {"name": "spark-kubernetes-executor", "args": ["--verbose"],
                                           "resources": {"requests": {"ephemeral-storage": "1Gi"}}}],
                           "tolerations": [{"key": "spark", "operator": "Exists"}]}},
    )),
    App("executor-everything", executor(
        "executor-everything",
        cores=2, coreLimit="3", coreRequest="1500m", memory="2g", memoryOverhead="512m",
        envVars={"MODE": "batch"}, env=[{"name": "TZ", "value": "UTC"}],
        envSecretKeyRefs={"TOKEN": {"name": "creds", "key": "token"}},
        javaOptions="-XX:+UseG1GC -Dapp.id={{APP_ID}} -Dexec={{EXECUTOR_ID}}",
        annotations={"team": "data"}, labels={"tier": "gold"},
        nodeSelector={"pool": "executors"}, tolerations=[{"key": "spot", "operator": "Exists"}],
        configMaps=[{"name": "extra", "path": "/etc/extra"}],
        secrets=[{"name": "gcp", "path": "/mnt/gcp", "secretType": "GCPServiceAccount"}],
        gpu={"name": "nvidia.com/gpu", "quantity": 1}, serviceAccount="executor-sa",
        ports=[{"name": "jmx", "containerPort": 9999, "protocol": "TCP"}],
        sidecars=[{"name": "side", "image": "busybox"}], schedulerName="volcano",
    )),
    App("spark-conf-features", spark_conf("spark-conf-features", {
        "spark.kubernetes.executor.volumes.emptyDir.scratch.mount.path": "/scratch",
        "spark.kubernetes.executor.volumes.emptyDir.scratch.options.sizeLimit": "5Gi",
        "spark.kubernetes.executor.volumes.hostPath.logs.mount.path": "/logs",
        "spark.kubernetes.executor.volumes.hostPath.logs.mount.readOnly": "true",
        "spark.kubernetes.executor.volumes.hostPath.logs.options.path": "/var/log",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.mount.path": "/data",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.mount.subPath": "part",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.options.claimName": "data-SPARK_EXECUTOR_ID",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.options.storageClass": "fast",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.options.sizeLimit": "10Gi",
        "spark.kubernetes.executor.volumes.nfs.share.mount.path": "/share",
        "spark.kubernetes.executor.volumes.nfs.share.options.path": "/exports",
        "spark.kubernetes.executor.volumes.nfs.share.options.server": "nfs.example",
        "spark.kubernetes.executor.secrets.db-creds": "/mnt/db",
        "spark.kubernetes.executor.secretKeyRef.DB_PASSWORD": "db-creds:password",
        "spark.kubernetes.executor.node.selector.zone": "a",
        "spark.kubernetes.node.selector.disk": "ssd",
        "spark.kubernetes.executor.annotation.exec": "{{EXECUTOR_ID}}-of-{{APP_ID}}",
        "spark.kubernetes.executor.label.run": "{{APP_ID}}",
        "spark.kubernetes.executor.scheduler.name": "yunikorn",
        "spark.kubernetes.executor.hadoopConfigMapName": "hadoop-exec",
        "spark.kubernetes.local.dirs.tmpfs": "true",
        "spark.kubernetes.container.image.pullSecrets": "one, two",
        "spark.executor.resource.gpu.amount": "2",
        "spark.executor.resource.gpu.vendor": "nvidia.com",
        "spark.memory.offHeap.enabled": "true",
        "spark.memory.offHeap.size": "256m",
        "spark.executor.memoryOverheadFactor": "0.3",
        "spark.executor.extraClassPath": "/opt/extra/*",
        "spark.executorEnv.SPARK_EXECUTOR_DIRS": "/dirs/SPARK_APPLICATION_ID/SPARK_EXECUTOR_ID",
        "spark.executorEnv.1BAD": "dropped",
        "spark.decommission.enabled": "true",
        "spark.ui.custom.executor.log.url": "http://logs/{{APP_ID}}",
        "spark.network.timeout": "300s",
        "spark.rpc.askTimeout": "200s",
        "spark.ssl.enabled": "false",
        "spark.ssl.keyPassword": "hidden",
        "spark.authenticate": "true",
        "spark.ui.port": "4040",
    # A spec may not set it (the operator manages spark.kubernetes.authenticate.*): put past validation.
    }), properties={"spark.kubernetes.authenticate.executor.serviceAccountName": "exec-sa"}),
    App("on-demand-claim", spark_conf("on-demand-claim", {  # one volume: Spark numbers them in hash order
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.mount.path": "/data",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.options.claimName": "OnDemand",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.options.storageClass": "fast",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.options.sizeLimit": "10Gi",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.spark-local-dir-1.label.team": "data",
    })),
    App("pyspark-memory", spark_conf("pyspark-memory", {
        "spark.executor.pyspark.memory": "300m", "spark.kubernetes.memoryOverheadFactor": "0.4",
    }, manifests.pyspark("pyspark-memory"))),
    App("no-template-container-name", spark_conf("no-template-container-name", {
        "spark.blockManager.port": "0",
        "spark.kubernetes.executor.disableConfigMap": "true",
    }), properties={"spark.kubernetes.executor.podTemplateContainerName": "not-there"}),  # a spec may not
]  # fmt: skip

REFUSED: list[App] = [
    App(f"refused-{name}", manifests.spark_pi(f"refused-{name}"), properties=properties)
    for name, properties in list[tuple[str, dict[str, str | None]]]([
        ("reserved-label", {"spark.kubernetes.executor.label.spark-role": "x"}),
        ("reserved-labels", {"spark.kubernetes.executor.label.spark-app-name": "x",
                             "spark.kubernetes.executor.label.spark-version": "1"}),
        ("block-manager-port", {"spark.blockManager.port": "80"}),
        ("block-manager-port-word", {"spark.blockManager.port": "x"}),
        ("pod-name-prefix", {"spark.kubernetes.executor.podNamePrefix": "Bad_Prefix"}),
        ("no-image", {"spark.kubernetes.executor.container.image": None, "spark.kubernetes.container.image": None}),
        ("secret-key-ref", {"spark.kubernetes.executor.secretKeyRef.TOKEN": "creds"}),
        ("volume-type", {"spark.kubernetes.executor.volumes.iscsi.disk.mount.path": "/d"}),
        ("volume-claim", {"spark.kubernetes.executor.volumes.persistentVolumeClaim.d.mount.path": "/d"}),
        ("volume-no-path", {"spark.kubernetes.executor.volumes.emptyDir.d.options.medium": "Memory"}),
        ("volume-size", {"spark.kubernetes.executor.volumes.emptyDir.d.mount.path": "/d",
                         "spark.kubernetes.executor.volumes.emptyDir.d.options.sizeLimit": "100"}),
        ("volume-duplicate-path", {"spark.kubernetes.executor.volumes.emptyDir.a.mount.path": "/d",
                                   "spark.kubernetes.executor.volumes.emptyDir.b.mount.path": "/d"}),
        ("executor-cores", {"spark.executor.cores": "many"}),
        ("executor-memory", {"spark.executor.memory": "1.5g"}),
        ("overhead-factor", {"spark.executor.memoryOverheadFactor": "0"}),
        ("pull-policy", {"spark.kubernetes.container.image.pullPolicy": "Sometimes"}),
        ("gpu-vendor", {"spark.executor.resource.gpu.amount": "1"}),
        ("off-heap", {"spark.memory.offHeap.enabled": "true"}),
    ])
]  # fmt: skip


def rendered(app: App) -> ProbeCase:
    """The case the probe gets (a driver pod, as the API server returns it, and its ConfigMaps)."""
    manifest = copy.deepcopy(app.manifest)
    manifest["metadata"].setdefault("namespace", "default")
    manifest["metadata"]["uid"] = "11111111-2222-3333-4444-555555555555"
    submission = render(SparkApplication.model_validate(manifest), SUBMISSION)
    pod = copy.deepcopy(submission.driver_pod)
    pod["metadata"]["uid"] = DRIVER_UID
    pod["status"] = {"phase": "Running", "podIP": DRIVER_IP}
    data: dict[str, str] = dict(submission.config_map["data"])
    if app.properties:
        properties = {**parse_properties(data[PROPERTIES_FILE]), **app.properties}
        data[PROPERTIES_FILE] = to_properties({k: v for k, v in properties.items() if v is not None})
    config_maps = {submission.config_map["metadata"]["name"]: data, **app.config_maps}
    return ProbeCase(app.id, pod, config_maps)


def simulated(case: ProbeCase) -> Driver:
    return new_driver(case.driver_pod, case.config_maps)


@pytest.fixture(scope="module")
def spark_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, SparkResult], float]:
    import asyncio

    cases = [rendered(app) for app in [*APPS, *REFUSED]]
    started = time.monotonic()
    results = asyncio.run(build_with_spark(cases, tmp_path_factory.mktemp("executor-probe")))
    return results, time.monotonic() - started


def test_spark_builds_an_executor_for_every_rendering(
    spark_results: tuple[dict[str, SparkResult], float],
) -> None:
    results, seconds = spark_results
    refused = {
        app.id: f"{error['class']}: {error['message']}"
        for app in APPS
        if (error := results[app.id].error) is not None
    }
    assert not refused, f"Spark refused {len(refused)} of {len(APPS)} renderings:\n" + "\n".join(
        f"  {k}: {v}" for k, v in refused.items()
    )
    assert seconds < 120, f"the probe took {seconds:.0f}s"


@pytest.mark.parametrize("app", APPS, ids=[a.id for a in APPS])
def test_the_simulator_builds_the_pod_spark_builds(
    app: App, spark_results: tuple[dict[str, SparkResult], float]
) -> None:
    result = spark_results[0][app.id]
    case = rendered(app)
    refusal: sparkconf.SparkError | None = None
    try:
        builder = ExecutorPods(simulated(case))
    except sparkconf.SparkError as exc:
        refusal = exc
    if refusal is not None:
        said = f"{refusal.java_class}: {refusal}"
        if result.error is None:
            pytest.fail(f"the simulator refused what Spark built: {said}", pytrace=False)
        assert (refusal.java_class, str(refusal)) == (result.error["class"], result.error["message"])
        pytest.fail(f"Spark refused it (the rendering is wrong): {said}", pytrace=False)
    assert result.error is None, f"Spark refused what the simulator built: {result.error['message']}"
    conf = builder.conf
    for executor_id, spark_pod in result.pods.items():
        ours = normalised(builder.pod(executor_id), conf)
        theirs = normalised(spark_view(spark_pod, case.driver_pod, conf), conf)
        if ours != theirs:
            pytest.fail(f"executor {executor_id}:\n" + "\n".join(differences(theirs, ours)), pytrace=False)


@pytest.mark.parametrize("app", APPS, ids=[a.id for a in APPS])
def test_the_simulator_makes_the_executor_config_map_spark_makes(
    app: App, spark_results: tuple[dict[str, SparkResult], float]
) -> None:
    result = spark_results[0][app.id]
    assert result.config_map is not None, f"Spark refused {app.id}"
    spark = simulated(rendered(app))
    pods = ExecutorPods(spark)
    ours = executor_conf_map(spark, pods.namespace, pods.app_id)
    assert _conf_map(ours) == _conf_map(result.config_map)


@pytest.mark.parametrize("app", REFUSED, ids=[a.id for a in REFUSED])
def test_the_simulator_refuses_what_spark_refuses(
    app: App, spark_results: tuple[dict[str, SparkResult], float]
) -> None:
    result = spark_results[0][app.id]
    assert result.error is not None, f"Spark built an executor for {app.id}"
    case = rendered(app)
    with pytest.raises(sparkconf.SparkError) as refused:
        ExecutorPods(simulated(case)).pod(1)
    assert (refused.value.java_class, str(refused.value)) == (result.error["class"], result.error["message"])


# -- normalisation -------------------------------------------------------------------------------

_CONF_MAP = re.compile(r"spark-exec-[0-9a-f]+-conf-map")
_MAP_FIELDS = {"labels", "annotations", "nodeSelector", "requests", "limits"}


def spark_view(pod: Obj, driver_pod: Obj, conf: Mapping[str, str]) -> Obj:
    """Spark's pod with what its client adds (the namespace) and the simulated Spark's version."""
    pod = copy.deepcopy(pod)
    labels = pod["metadata"]["labels"]
    assert labels["spark-version"] == SPARK_VERSION
    labels["spark-version"] = driver_pod["metadata"]["labels"]["spark-version"]
    pod["metadata"].setdefault("namespace", conf.get("spark.kubernetes.namespace", "default"))
    return pod


def _conf_map(config_map: Obj) -> Any:
    """A ConfigMap with its random name and the time its properties file was written left out."""
    text = _CONF_MAP.sub("spark-exec-<id>-conf-map", json.dumps(config_map))
    return _dropped_empties(json.loads(re.sub(r"\\n#[A-Z][a-z]{2} [^\\]*\\n", r"\\n#<date>\\n", text)))


def normalised(pod: Obj, conf: Mapping[str, str]) -> Any:
    pod = json.loads(_CONF_MAP.sub("spark-exec-<id>-conf-map", json.dumps(pod)))
    spec = pod["spec"]
    spec["volumes"] = sorted(spec.get("volumes") or [], key=lambda v: v["name"])
    for container in spec.get("containers") or []:
        container["volumeMounts"] = sorted(container.get("volumeMounts") or [], key=lambda m: m["name"])
        container["env"] = _env(container.get("env") or [], conf)
    return _dropped_empties(pod)


def _env(env: list[Obj], conf: Mapping[str, str]) -> Obj:
    opts = sorted(
        (e for e in env if e["name"].startswith("SPARK_JAVA_OPT_")), key=lambda e: int(e["name"][15:])
    )
    values = [e["value"] for e in opts]
    spark_opts = {f"-D{k}={v}" for k, v in conf.items() if sparkconf.is_executor_startup_conf(k)}
    split = len(values)
    while split > 0 and values[split - 1] in spark_opts:
        split -= 1
    rest = [
        {**e, "value": "<secret>"} if e["name"] == "_SPARK_AUTH_SECRET" else e
        for e in env
        if not e["name"].startswith("SPARK_JAVA_OPT_")
    ]
    return {
        "entries": sorted(rest, key=json.dumps),
        "effective": {e["name"]: e for e in rest},  # the last of a name wins
        "java_options": values[:split],
        "spark_options": sorted(values[split:]),
    }


def _dropped_empties(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        kept = {k: _dropped_empties(v, k) for k, v in value.items()}
        return {
            k: v for k, v in kept.items()
            if v is not None and v != "" and v != [] and not (v == {} and k in _MAP_FIELDS)
        }  # fmt: skip
    if isinstance(value, list):
        return [_dropped_empties(v, key) for v in value]
    return value


def differences(expected: Any, actual: Any, path: str = "pod") -> list[str]:
    """Where the simulator's pod (actual) differs from Spark's (expected), one line each."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines = []
        for k in sorted(set(expected) | set(actual)):
            if k not in actual:
                lines.append(f"{path}.{k}: Spark has {json.dumps(expected[k])[:300]}, the simulator nothing")
            elif k not in expected:
                lines.append(f"{path}.{k}: the simulator has {json.dumps(actual[k])[:300]}, Spark nothing")
            else:
                lines += differences(expected[k], actual[k], f"{path}.{k}")
        return lines
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [
            line
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for line in differences(e, a, f"{path}[{i}]")
        ]
    if expected != actual:
        return [f"{path}: Spark {json.dumps(expected)[:300]} != simulator {json.dumps(actual)[:300]}"]
    return []
