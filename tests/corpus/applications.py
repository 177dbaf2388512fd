"""Invalid SparkApplications: each a merge patch on ``manifests.spark_pi``, the field to name, who refuses it.

``refused_by``:

- ``"api"``: sparkfleet's CRD (generated from the models) makes the API server refuse it at
  create time, with a 422 naming the field. The operator refuses it too, by the same field,
  because clusters may run it against the Kubeflow Spark Operator's looser CRDs.
- ``"operator"``: the API server stores it; the operator ends it in SUBMISSION_FAILED with
  ``status.applicationState.errorMessage`` naming the field, and a Warning Event.
- ``"warning"``: it runs; a Warning Event names the field (unknown fields are kept but ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tests.corpus import merge_patch
from tests.examples import manifests

Refuser = Literal["api", "operator", "warning"]


@dataclass(frozen=True, slots=True)
class AppCase:
    id: str
    patch: dict[str, Any]
    field: str
    refused_by: Refuser
    says: str = ""
    """Words the message must hold besides the field."""
    api_field: str | None = None
    """The field as the API server spells it, where that differs (map keys)."""

    def manifest(self, namespace: str = "default") -> dict[str, Any]:
        """The application, named ``bad-<id>`` unless the patch names it."""
        manifest: dict[str, Any] = merge_patch(manifests.spark_pi(f"bad-{self.id}", namespace), self.patch)
        return manifest

    @property
    def name(self) -> str:
        return str(self.manifest()["metadata"]["name"])


def spec(**fields: Any) -> dict[str, Any]:
    return {"spec": fields}


def driver(**fields: Any) -> dict[str, Any]:
    return {"spec": {"driver": fields}}


def executor(**fields: Any) -> dict[str, Any]:
    return {"spec": {"executor": fields}}


def restart(**fields: Any) -> dict[str, Any]:
    return {"spec": {"restartPolicy": fields}}


EMPTY_DIR: dict[str, Any] = {"emptyDir": {}}

CASES: list[AppCase] = [
    # -- missing fields
    AppCase("missing-type", spec(type=None), "spec.type", "api", "required"),
    AppCase("missing-spark-version", spec(sparkVersion=None), "spec.sparkVersion", "api", "required"),
    AppCase("missing-driver", spec(driver=None), "spec.driver", "api", "required"),
    AppCase("missing-executor", spec(executor=None), "spec.executor", "api", "required"),
    AppCase("missing-main-file", spec(mainApplicationFile=None), "spec.mainApplicationFile", "operator", "required"),
    AppCase("missing-main-class", spec(mainClass=None), "spec.mainClass", "operator", "Scala"),
    AppCase("missing-image", spec(image=None), "spec.image", "operator", "spec.driver.image"),
    # -- wrong types and unknown values
    AppCase("type-unknown", spec(type="Go"), "spec.type", "api", "Scala"),
    AppCase("mode-unknown", spec(mode="local"), "spec.mode", "api", "cluster"),
    AppCase("python-version", spec(pythonVersion="4"), "spec.pythonVersion", "api"),
    AppCase("instances-not-a-number", executor(instances="many"), "spec.executor.instances", "api"),
    AppCase("instances-negative", executor(instances=-1), "spec.executor.instances", "api"),
    AppCase("cores-not-a-number", driver(cores="two"), "spec.driver.cores", "api"),
    AppCase("cores-negative", driver(cores=-1), "spec.driver.cores", "api"),
    AppCase("arguments-not-a-list", spec(arguments="a b c"), "spec.arguments", "api"),
    AppCase("argument-not-a-string", spec(arguments=[1, 2]), "spec.arguments[0]", "api"),
    AppCase("spark-conf-value-not-a-string", spec(sparkConf={"spark.x": 1}), "spec.sparkConf[spark.x]", "api",
            api_field="spec.sparkConf.spark.x"),
    AppCase("node-selector-not-a-map", spec(nodeSelector=["ssd"]), "spec.nodeSelector", "api"),
    AppCase("labels-not-a-map", driver(labels=["a"]), "spec.driver.labels", "api"),
    AppCase("volumes-not-a-list", spec(volumes={"name": "x"}), "spec.volumes", "api"),
    AppCase("deps-jars-not-a-list", spec(deps={"jars": "a.jar"}), "spec.deps.jars", "api"),
    AppCase("ttl-negative", spec(timeToLiveSeconds=-5), "spec.timeToLiveSeconds", "api"),
    AppCase("ttl-not-a-number", spec(timeToLiveSeconds="1h"), "spec.timeToLiveSeconds", "api"),
    AppCase("pull-policy-unknown", spec(imagePullPolicy="Sometimes"), "spec.imagePullPolicy", "api", "IfNotPresent"),
    AppCase("ui-service-type-unknown", spec(sparkUIOptions={"serviceType": "Loadbalancer"}),
            "spec.sparkUIOptions.serviceType", "api", "LoadBalancer"),
    AppCase("port-out-of-range", driver(ports=[{"name": "jmx", "containerPort": 70000, "protocol": "TCP"}]),
            "spec.driver.ports[0].containerPort", "api"),
    AppCase("name-upper-case", {"metadata": {"name": "Spark-Pi"}}, "metadata.name", "api"),
    # -- malformed quantities
    AppCase("memory-unknown-unit", driver(memory="12XB"), "spec.driver.memory", "api"),
    AppCase("memory-negative", executor(memory="-1g"), "spec.executor.memory", "api"),
    AppCase("memory-inner-space", driver(memory="1 g"), "spec.driver.memory", "api"),
    AppCase("memory-overhead-words", executor(memoryOverhead="lots"), "spec.executor.memoryOverhead", "api"),
    AppCase("core-limit-not-a-quantity", driver(coreLimit="abc"), "spec.driver.coreLimit", "api", "quantity"),
    AppCase("core-request-not-a-quantity", executor(coreRequest="1 core"), "spec.executor.coreRequest", "api"),
    AppCase("overhead-factor-words", spec(memoryOverheadFactor="ten"), "spec.memoryOverheadFactor", "api"),
    AppCase("gpu-quantity-negative", executor(gpu={"name": "nvidia.com/gpu", "quantity": -1}),
            "spec.executor.gpu.quantity", "api"),
    AppCase("core-limit-below-cores", driver(cores=4, coreLimit="1"), "spec.driver.coreLimit", "operator",
            "spec.driver.cores"),
    AppCase("core-limit-below-request", executor(coreRequest="2", coreLimit="500m"), "spec.executor.coreLimit",
            "operator", "spec.executor.coreRequest"),
    # -- impossible restart policies
    AppCase("restart-policy-not-an-object", spec(restartPolicy="Never"), "spec.restartPolicy", "api"),
    AppCase("restart-type-unknown", restart(type="Sometimes"), "spec.restartPolicy.type", "api", "OnFailure"),
    AppCase("restart-type-lower-case", restart(type="onfailure"), "spec.restartPolicy.type", "api", "OnFailure"),
    AppCase("restart-retries-negative", restart(type="OnFailure", onFailureRetries=-1),
            "spec.restartPolicy.onFailureRetries", "api"),
    AppCase("restart-retries-words", restart(type="OnFailure", onSubmissionFailureRetries="three"),
            "spec.restartPolicy.onSubmissionFailureRetries", "api"),
    AppCase("restart-interval-zero", restart(type="OnFailure", onFailureRetries=2, onFailureRetryInterval=0),
            "spec.restartPolicy.onFailureRetryInterval", "api"),
    AppCase("restart-submission-interval-negative",
            restart(type="OnFailure", onSubmissionFailureRetries=2, onSubmissionFailureRetryInterval=-5),
            "spec.restartPolicy.onSubmissionFailureRetryInterval", "api"),
    AppCase("failure-retries-negative", spec(failureRetries=-3), "spec.failureRetries", "api"),
    # -- names too long (or wrong) for what is derived from them
    AppCase("name-too-long", {"metadata": {"name": "n" * 64}}, "metadata.name", "operator", "DNS-1035"),
    AppCase("name-starts-with-a-digit", {"metadata": {"name": "9lives"}}, "metadata.name", "operator", "a letter first"),
    AppCase("name-with-a-dot", {"metadata": {"name": "team.etl"}}, "metadata.name", "operator", "DNS-1035"),
    AppCase("driver-pod-name-invalid", driver(podName="Driver_Pod"), "spec.driver.podName", "operator"),
    AppCase("driver-pod-name-too-long", driver(podName="p" * 254), "spec.driver.podName", "operator", "253"),
    AppCase("driver-pod-name-in-spark-conf", spec(sparkConf={"spark.kubernetes.driver.pod.name": "Bad_Name"}),
            "spec.sparkConf[spark.kubernetes.driver.pod.name]", "operator"),
    AppCase("spark-version-not-a-label", spec(sparkVersion="3.5.5 (custom build)"), "spec.sparkVersion",
            "operator", "label value"),
    AppCase("driver-label-too-long", driver(labels={"team": "t" * 64}), "spec.driver.labels.team", "operator", "63"),
    AppCase("executor-label-key-invalid", executor(labels={"bad key": "x"}), "spec.executor.labels[bad key]",
            "operator"),
    AppCase("service-annotation-key-invalid", driver(serviceAnnotations={"-x": "y"}),
            "spec.driver.serviceAnnotations[-x]", "operator"),
    # -- huge argument lists and configuration
    AppCase("huge-argument-list", spec(arguments=["a" * 63] * 18_000), "spec.arguments", "operator", "1048576"),
    AppCase("huge-argument", spec(arguments=["a" * 200_000]), "spec.arguments[0]", "operator", "MAX_ARG_STRLEN"),
    AppCase("huge-spark-conf", spec(sparkConf={f"spark.blob.{i}": "b" * 60_000 for i in range(20)}),
            "spec.sparkConf", "operator", "ConfigMap"),
    AppCase("huge-executor-template", executor(env=[{"name": "BLOB", "value": "e" * 1_100_000}]),
            "spec.executor", "operator", "ConfigMap"),
    # -- volumes, env and containers that cannot work
    AppCase("mount-of-a-missing-volume", driver(volumeMounts=[{"name": "data", "mountPath": "/data"}]),
            "spec.driver.volumeMounts[0].name", "operator", "no volume named 'data'"),
    AppCase("volume-without-a-name", spec(volumes=[EMPTY_DIR]), "spec.volumes[0].name", "operator", "required"),
    AppCase("volume-named-twice", spec(volumes=[{"name": "d", **EMPTY_DIR}, {"name": "d", **EMPTY_DIR}]),
            "spec.volumes[1].name", "operator", "spec.volumes[0]"),
    AppCase("mount-path-relative", {"spec": {"volumes": [{"name": "d", **EMPTY_DIR}],
                                             "executor": {"volumeMounts": [{"name": "d", "mountPath": "data"}]}}},
            "spec.executor.volumeMounts[0].mountPath", "operator", "absolute"),
    AppCase("config-map-path-relative", driver(configMaps=[{"name": "conf", "path": "etc/conf"}]),
            "spec.driver.configMaps[0].path", "operator", "absolute"),
    AppCase("env-without-a-name", driver(env=[{"value": "x"}]), "spec.driver.env[0].name", "operator"),
    AppCase("sidecar-without-a-name", driver(sidecars=[{"image": "busybox"}]), "spec.driver.sidecars[0].name",
            "operator"),
    AppCase("template-spec-not-an-object", driver(template={"spec": "nope"}), "spec.driver.template.spec",
            "operator"),
    AppCase("template-containers-not-a-list", executor(template={"spec": {"containers": {"name": "x"}}}),
            "spec.executor.template.spec.containers", "operator"),
    AppCase("template-label-invalid", driver(template={"metadata": {"labels": {"a": "b c"}}}),
            "spec.driver.template.metadata.labels.a", "operator"),
    AppCase("dynamic-allocation-min-over-max",
            spec(dynamicAllocation={"enabled": True, "minExecutors": 5, "maxExecutors": 2}),
            "spec.dynamicAllocation.minExecutors", "operator", "maxExecutors"),
    # -- unknown fields: kept (a newer Kubeflow field must survive) but ignored, with a warning
    AppCase("unknown-field-typo", spec(restartpolicy={"type": "OnFailure"}), "spec.restartpolicy", "warning",
            "did you mean restartPolicy"),
    AppCase("unknown-driver-field", driver(memroy="2g"), "spec.driver.memroy", "warning", "did you mean memory"),
]  # fmt: skip

VALID: list[dict[str, Any]] = [
    manifests.spark_pi("valid-scala"),
    merge_patch(manifests.pyspark("valid-python"), driver(serviceAccount="spark-operator-spark")),
    merge_patch(manifests.spark_pi("v" * 63), {}),  # the longest name: its UI Service name is shortened
    merge_patch(manifests.spark_pi("valid-on-failure"), restart(type="OnFailure")),  # no retries: runs once
    merge_patch(manifests.spark_pi("valid-limits"), driver(cores=2, coreLimit="2000m", coreRequest="1500m")),
]
"""Valid neighbours: they run next to the invalid ones, unaffected."""


@dataclass(frozen=True, slots=True)
class ScheduledCase:
    """A ScheduledSparkApplication: refused by the API server, or by the operator (FailedValidation)."""

    id: str
    patch: dict[str, Any]
    field: str
    refused_by: Literal["api", "operator"]
    says: str = ""

    def manifest(self, namespace: str = "default") -> dict[str, Any]:
        manifest: dict[str, Any] = merge_patch(manifests.scheduled(f"bad-{self.id}", namespace), self.patch)
        return manifest


def template(**fields: Any) -> dict[str, Any]:
    return {"spec": {"template": fields}}


SCHEDULED_CASES: list[ScheduledCase] = [
    ScheduledCase("schedule-not-cron", spec(schedule="every day"), "spec.schedule", "operator", "not a cron"),
    ScheduledCase("schedule-too-often", spec(schedule="@every 0s"), "spec.schedule", "operator", "one second"),
    ScheduledCase("time-zone-unknown", spec(timeZone="Mars/Olympus"), "spec.timeZone", "operator"),
    ScheduledCase("concurrency-unknown", spec(concurrencyPolicy="Sometimes"), "spec.concurrencyPolicy", "api"),
    ScheduledCase("history-negative", spec(successfulRunHistoryLimit=-1), "spec.successfulRunHistoryLimit", "api"),
    ScheduledCase("missing-template", spec(template=None), "spec.template", "api"),
    ScheduledCase("name-too-long-for-runs", {"metadata": {"name": "s" * 53}}, "metadata.name", "operator",
                  "<name>-<time in nanos>"),
    ScheduledCase("template-memory", template(driver={"memory": "12XB"}), "spec.template.driver.memory", "api"),
    ScheduledCase("template-main-file", template(mainApplicationFile=None), "spec.template.mainApplicationFile",
                  "operator", "required"),
    ScheduledCase("template-label", template(executor={"labels": {"team": "-x"}}),
                  "spec.template.executor.labels.team", "operator", "label value"),
    ScheduledCase("template-core-limit", template(driver={"cores": 2, "coreLimit": "1"}),
                  "spec.template.driver.coreLimit", "operator", "spec.template.driver.cores"),
]  # fmt: skip
