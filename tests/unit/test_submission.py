"""Native submission rendering: what spark-submit would create, from many specs, without a cluster."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from sparkfleet.api import SparkApplication
from sparkfleet.operator.spark import naming
from sparkfleet.operator.spark.submission import (
    Submission,
    parse_properties,
    render,
    spec_hash,
    to_properties,
)
from sparkfleet.operator.spark.validation import InvalidApplication
from tests.examples import manifests

SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def app_of(manifest: dict[str, Any]) -> SparkApplication:
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["uid"] = "11111111-2222-3333-4444-555555555555"
    return SparkApplication.model_validate(manifest)


def rendered(manifest: dict[str, Any], **kwargs: Any) -> Submission:
    return render(app_of(manifest), SID, **kwargs)


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == name)


def props(sub: Submission) -> dict[str, str]:
    return parse_properties(sub.config_map["data"]["spark.properties"])


def template(sub: Submission) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(sub.config_map["data"]["pod-spec-template.yml"])
    return loaded


def test_spark_pi_driver_pod() -> None:
    sub = rendered(manifests.spark_pi(namespace="team-a"))
    pod = sub.driver_pod
    meta = pod["metadata"]
    assert meta["name"] == "spark-pi-driver"
    assert meta["namespace"] == "team-a"
    labels = meta["labels"]
    assert labels["spark-role"] == "driver"
    assert labels["sparkoperator.k8s.io/app-name"] == "spark-pi"
    assert labels["sparkoperator.k8s.io/launched-by-spark-operator"] == "true"
    assert labels["sparkoperator.k8s.io/submission-id"] == SID
    assert labels["spark-app-selector"] == sub.app_id == "spark-0f3c2a105b6d4e7f8a9b0c1d2e3f4a5b"
    assert labels["version"] == "3.5.5"  # the user's driver labels
    owner = meta["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("SparkApplication", "spark-pi", True)
    assert owner["uid"] == "11111111-2222-3333-4444-555555555555"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["serviceAccountName"] == "spark-operator-spark"
    driver = container(pod, "spark-kubernetes-driver")
    assert driver["image"] == "spark:3.5.5"
    assert driver["args"] == [
        "driver", "--properties-file", "/opt/spark/conf/spark.properties",
        "--class", "org.apache.spark.examples.SparkPi",
        "local:///opt/spark/examples/jars/spark-examples.jar", "5000",
    ]  # fmt: skip
    # 512m heap + max(10%, 384 MiB) overhead; one core.
    assert driver["resources"] == {"requests": {"cpu": "1", "memory": "896Mi"}, "limits": {"memory": "896Mi"}}
    env = {e["name"]: e for e in driver["env"]}
    assert env["SPARK_APPLICATION_ID"]["value"] == sub.app_id
    assert env["SPARK_DRIVER_BIND_ADDRESS"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert {p["containerPort"] for p in driver["ports"]} == {7078, 7079, 4040}
    mounts = {m["name"]: m["mountPath"] for m in driver["volumeMounts"]}
    assert mounts["spark-conf-volume-driver"] == "/opt/spark/conf"
    assert mounts["pod-template-volume"] == "/opt/spark/pod-template"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["spark-conf-volume-driver"]["configMap"]["name"] == sub.config_map["metadata"]["name"]


def test_spark_pi_properties_and_services() -> None:
    sub = rendered(manifests.spark_pi(namespace="team-a"))
    p = props(sub)
    assert p["spark.app.name"] == "spark-pi"
    assert p["spark.app.id"] == sub.app_id
    assert p["spark.master"] == "k8s://https://kubernetes.default.svc:443"
    assert p["spark.kubernetes.namespace"] == "team-a"
    assert p["spark.kubernetes.driver.pod.name"] == "spark-pi-driver"
    assert p["spark.kubernetes.executor.podNamePrefix"] == sub.prefix == "spark-pi-0f3c2a10"
    assert p["spark.driver.host"] == f"{sub.prefix}-driver-svc.team-a.svc"
    assert p["spark.executor.instances"] == "2"
    assert p["spark.executor.memory"] == "512m"
    assert p["spark.kubernetes.executor.label.sparkoperator.k8s.io/app-name"] == "spark-pi"
    # Spark sets its reserved labels on executors itself and refuses them among the custom ones.
    custom = {
        k.removeprefix("spark.kubernetes.executor.label.")
        for k in p
        if k.startswith("spark.kubernetes.executor.label.")
    }
    assert custom == {
        "sparkoperator.k8s.io/app-name", "sparkoperator.k8s.io/launched-by-spark-operator",
        "sparkoperator.k8s.io/submission-id", "version",  # the last one is the spec's own
    }  # fmt: skip
    assert p["spark.kubernetes.memoryOverheadFactor"] == "0.1"  # the factor Spark's client would use
    assert p["spark.kubernetes.executor.podTemplateFile"] == "/opt/spark/pod-template/pod-spec-template.yml"
    svc = sub.driver_service
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == {"spark-app-selector": sub.app_id, "spark-role": "driver"}
    assert sub.ui_service is not None
    assert sub.ui_service["metadata"]["name"] == "spark-pi-ui-svc"
    assert sub.ui_service["spec"]["ports"][0]["port"] == 4040
    assert sub.ui_service["spec"]["ports"][0]["targetPort"] == 4040
    # Kubeflow's labels and selector: without spark-app-selector, so the driver does not delete it on stop.
    assert sub.ui_service["spec"]["selector"] == {
        "sparkoperator.k8s.io/app-name": "spark-pi",
        "spark-role": "driver",
    }
    assert sub.ui_service["metadata"]["labels"] == {
        "sparkoperator.k8s.io/app-name": "spark-pi", "sparkoperator.k8s.io/submission-id": SID,
    }  # fmt: skip
    assert rendered(manifests.spark_pi(), ui_service=False).ui_service is None


def test_the_application_jar_is_in_spark_jars_after_the_deps_as_spark_submit_puts_it() -> None:
    # Executors load the application's classes from spark.jars: without the jar a Java lambda's
    # task fails to deserialize (SerializedLambda cannot be assigned to scala.Function3).
    jar = "local:///opt/spark/examples/jars/spark-examples.jar"
    assert props(rendered(manifests.spark_pi()))["spark.jars"] == jar
    assert props(rendered(manifests.everything()))["spark.jars"] == f"local:///opt/extra.jar,{jar}"
    assert "spark.jars" not in props(rendered(manifests.pyspark()))  # a .py is no jar
    # A spark.jars in sparkConf comes first, as spark-submit's --conf; --jars (spec.deps.jars) wins over it.
    own = manifests.spark_pi()
    own["spec"]["sparkConf"] = {"spark.jars": "local:///a.jar,local:///b.jar"}
    assert props(rendered(own))["spark.jars"] == f"local:///a.jar,local:///b.jar,{jar}"
    own["spec"]["deps"] = {"jars": ["local:///c.jar"]}
    assert props(rendered(own))["spark.jars"] == f"local:///c.jar,{jar}"


def test_pyspark_uses_the_python_runner_and_non_jvm_overhead() -> None:
    sub = rendered(manifests.pyspark())
    driver = container(sub.driver_pod, "spark-kubernetes-driver")
    assert driver["args"][3:6] == [
        "--class", "org.apache.spark.deploy.PythonRunner", "local:///opt/spark/examples/src/main/python/pi.py",
    ]  # fmt: skip
    env = {e["name"]: e.get("value") for e in driver["env"]}
    # Spark's client sets PYSPARK_PYTHON only from spark.pyspark.python or its own env (real SparkSubmit
    # in tests/conformance): the image's python3 is the default either way.
    assert "PYSPARK_PYTHON" not in env
    # 1g heap + max(40%, 384 MiB) = 1024 + 409; the coreLimit becomes the cpu limit.
    assert driver["resources"]["limits"] == {"memory": "1433Mi", "cpu": "1200m"}
    assert props(sub)["spark.kubernetes.resource.type"] == "python"
    # The driver sizes executors from the factor the client wrote: 0.4 for a non-JVM application.
    assert props(sub)["spark.kubernetes.memoryOverheadFactor"] == "0.4"


def test_everything_reaches_driver_executor_template_and_properties() -> None:
    sub = rendered(manifests.everything())
    pod_spec = sub.driver_pod["spec"]
    assert pod_spec["tolerations"][0]["key"] == "spark"
    assert pod_spec["affinity"]["nodeAffinity"]
    assert pod_spec["nodeSelector"] == {"disktype": "ssd"}
    assert pod_spec["securityContext"] == {"runAsUser": 185, "fsGroup": 185}
    assert pod_spec["initContainers"][0]["name"] == "init"
    assert pod_spec["priorityClassName"] == "high"
    assert pod_spec["imagePullSecrets"] == [{"name": "registry"}]
    assert pod_spec["schedulerName"] == "volcano"  # spec.batchScheduler
    names = [c["name"] for c in pod_spec["containers"]]
    assert names == ["spark-kubernetes-driver", "log-shipper"]
    driver = container(sub.driver_pod, "spark-kubernetes-driver")
    mounts = {m["mountPath"] for m in driver["volumeMounts"]}
    assert {"/data", "/etc/extra", "/mnt/secrets"} <= mounts
    volume_names = {v["name"] for v in pod_spec["volumes"]}
    assert "data" in volume_names
    assert "scratch" not in volume_names  # not mounted by the driver
    assert driver["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert sub.driver_pod["metadata"]["labels"]["from-template"] == "yes"  # the pod template's labels
    assert sub.driver_pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert driver["envFrom"] == [{"configMapRef": {"name": "env"}}]

    executor = template(sub)
    assert not naming.SPARK_RESERVED_LABELS & set(executor["metadata"]["labels"])  # Spark sets those
    assert (
        executor["metadata"]["labels"]["sparkoperator.k8s.io/app-name"]
        == sub.driver_pod["metadata"]["labels"]["sparkoperator.k8s.io/app-name"]
    )
    assert executor["spec"]["schedulerName"] == "volcano"
    assert executor["spec"]["hostNetwork"] is False
    exec_container = container(executor, "spark-kubernetes-executor")
    # envVars reach executors once, as spark.executorEnv (Spark sets those itself), and pull secrets
    # come from spark.kubernetes.container.image.pullSecrets: neither is repeated in the template.
    assert "MODE" not in {e["name"] for e in exec_container["env"]}
    assert props(sub)["spark.executorEnv.MODE"] == "batch"
    assert "imagePullSecrets" not in executor["spec"]

    p = props(sub)
    assert p["spark.eventLog.enabled"] == "true"
    assert p["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"
    assert p["spark.jars.packages"] == "org.apache.hadoop:hadoop-aws:3.3.4"
    assert p["spark.dynamicAllocation.enabled"] == "true"
    assert p["spark.dynamicAllocation.maxExecutors"] == "10"
    assert p["spark.dynamicAllocation.shuffleTracking.enabled"] == "true"
    assert p["spark.kubernetes.executor.deleteOnTermination"] == "false"
    assert p["spark.kubernetes.executor.request.cores"] == "500m"
    assert p["spark.executor.memoryOverhead"] == "1g"
    assert p["spark.driver.extraJavaOptions"] == (
        "-XX:+UseG1GC -javaagent:/prometheus/jmx_prometheus_javaagent.jar=8090:/etc/metrics/conf/prometheus.yaml"
    )
    assert p["spark.kubernetes.memoryOverheadFactor"] == "0.2"


def test_spark_conf_precedence_is_spark_submits() -> None:
    """As the Spark Operator calls spark-submit (real SparkSubmit in tests/conformance): the spec's
    fields are passed after spec.sparkConf and win; sparkConf wins over the settings passed before it
    (the image pull policy); what Spark's client computes wins over both; sparkConf fills what the
    spec leaves out. (The keys the operator manages, such as the image and the application id, a
    spec may not carry at all: see test_managed_conf.)"""
    manifest = manifests.spark_pi()
    manifest["spec"]["driver"].pop("memory")
    manifest["spec"]["sparkConf"] = {
        "spark.executor.instances": "7", "spark.kubernetes.container.image.pullPolicy": "Always",
        "spark.app.name": "mine", "spark.driver.memory": "3g",
    }  # fmt: skip
    sub = rendered(manifest)
    p = props(sub)
    assert p["spark.executor.instances"] == "2"  # spec.executor.instances
    assert p["spark.kubernetes.container.image.pullPolicy"] == "Always"  # over spec.imagePullPolicy
    assert p["spark.app.name"] == "spark-pi"
    assert p["spark.driver.memory"] == "3g"
    # a 3g heap + the 384 MiB minimum overhead
    assert container(sub.driver_pod, "spark-kubernetes-driver")["resources"]["limits"]["memory"] == "3456Mi"


def test_rendering_is_deterministic_and_never_mutates_the_app() -> None:
    app = app_of(manifests.everything())
    before = app.to_kube()
    first, second = render(app, SID), render(app, SID)
    assert first == second
    assert app.to_kube() == before
    other = render(app, "aaaaaaaa-0000-4000-8000-000000000000")
    assert other.prefix != first.prefix
    assert other.driver_service["metadata"]["name"] != first.driver_service["metadata"]["name"]


def test_spec_hash_changes_with_the_spec_only() -> None:
    base = manifests.spark_pi()
    changed = manifests.spark_pi()
    changed["spec"]["executor"]["instances"] = 3
    relabelled = manifests.spark_pi()
    relabelled["metadata"]["labels"] = {"x": "y"}
    assert spec_hash(app_of(base)) == spec_hash(app_of(relabelled))
    assert spec_hash(app_of(base)) != spec_hash(app_of(changed))
    for field, value in (("timeToLiveSeconds", 600), ("suspend", True)):  # as Kubeflow: never a resubmission
        edited = manifests.spark_pi()
        edited["spec"][field] = value
        assert spec_hash(app_of(edited)) == spec_hash(app_of(base)), field
    pod = rendered(base).driver_pod
    assert pod["metadata"]["annotations"][naming.ANNOTATION_SPEC_HASH] == spec_hash(app_of(base))


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda m: m["spec"].pop("mainApplicationFile"), "spec.mainApplicationFile"),
        (lambda m: m["spec"].pop("mainClass"), "spec.mainClass"),
        (lambda m: m["spec"].pop("image"), "spec.image"),
        (lambda m: m["metadata"].update(name="a" * 64), "metadata.name"),
        (lambda m: m["metadata"].update(name="1st-run"), "metadata.name"),
        (lambda m: m["spec"]["driver"].update(podName="Not_A_Valid_Name"), "spec.driver.podName"),
        (lambda m: m["spec"].update(dynamicAllocation={"enabled": True, "minExecutors": 5, "maxExecutors": 2}),
         "spec.dynamicAllocation.minExecutors"),
    ],
)  # fmt: skip
def test_impossible_applications_name_the_field(mutate: Any, field: str) -> None:
    manifest = manifests.spark_pi()
    mutate(manifest)
    with pytest.raises(InvalidApplication) as error:
        rendered(manifest)
    assert str(error.value).startswith(f"{field}: ")


def test_a_63_character_name_fits_with_a_shortened_ui_service_name() -> None:
    manifest = manifests.spark_pi()
    manifest["metadata"]["name"] = "a" * 63
    sub = rendered(manifest)
    assert len(sub.prefix) <= naming.EXECUTOR_PREFIX_MAX
    assert naming.is_dns_1035_label(sub.driver_service["metadata"]["name"])
    assert sub.driver_pod["metadata"]["name"] == "a" * 63 + "-driver"  # a pod name may be a subdomain
    assert sub.ui_service is not None
    ui = sub.ui_service["metadata"]["name"]  # the Spark Operator's form: cut short, a hash of the full name
    digest = hashlib.md5(("a" * 63 + "-ui-svc").encode()).hexdigest()[:8]
    assert ui == "a" * 47 + "-" + digest + "-ui-svc"
    assert len(ui) == 63
    assert naming.is_dns_1035_label(ui)
    assert naming.ui_service_name("a" * 56) == "a" * 56 + "-ui-svc"  # short enough: unchanged


@given(st.dictionaries(st.text(min_size=1, max_size=20).filter(lambda k: k.strip() == k and "\n" not in k),
                       st.text(max_size=40), max_size=20))  # fmt: skip
def test_properties_round_trip(values: dict[str, str]) -> None:
    assert parse_properties(to_properties(values)) == values


@given(st.text("abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=253), st.uuids())
def test_prefix_is_always_a_short_dns_label(name: str, sid: Any) -> None:
    prefix = naming.resource_prefix(name, str(sid))
    assert len(prefix) <= naming.EXECUTOR_PREFIX_MAX
    assert naming.is_dns_label(prefix)


def test_spark_and_hadoop_config_maps_are_mounted_with_their_env() -> None:
    sub = rendered(manifests.everything())
    driver = container(sub.driver_pod, "spark-kubernetes-driver")
    env = {e["name"]: e.get("value") for e in driver["env"]}
    assert env["SPARK_CONF_DIR"] == "/etc/spark/conf"
    assert env["HADOOP_CONF_DIR"] == "/etc/hadoop/conf"
    assert [e["name"] for e in driver["env"]].count("SPARK_CONF_DIR") == 1
    mounts = {m["name"]: m["mountPath"] for m in driver["volumeMounts"]}
    assert mounts["spark-configmap-volume"] == "/etc/spark/conf"
    assert mounts["hadoop-configmap-volume"] == "/etc/hadoop/conf"
    volumes = {v["name"]: v for v in sub.driver_pod["spec"]["volumes"]}
    assert volumes["spark-configmap-volume"]["configMap"]["name"] == "spark-conf"
    executor = container(template(sub), "spark-kubernetes-executor")
    assert {"name": "HADOOP_CONF_DIR", "value": "/etc/hadoop/conf"} in executor["env"]
    # Spark sets SPARK_CONF_DIR=/opt/spark/conf after a template's env, and spark.executorEnv after that.
    assert "SPARK_CONF_DIR" not in {e["name"] for e in executor["env"]}
    assert props(sub)["spark.executorEnv.SPARK_CONF_DIR"] == "/etc/spark/conf"
    assert "spark.executorEnv.SPARK_CONF_DIR" not in props(rendered(manifests.spark_pi()))


def test_reserved_labels_never_reach_spark_and_are_refused_where_a_user_names_them() -> None:
    manifest = manifests.spark_pi()
    manifest["metadata"]["labels"] = {"spark-role": "x", "spark-app-selector": "y", "team": "a"}
    sub = rendered(manifest)
    assert props(sub)["spark.kubernetes.executor.label.team"] == "a"
    assert not any(
        k.removeprefix("spark.kubernetes.executor.label.") in naming.SPARK_RESERVED_LABELS for k in props(sub)
    )
    assert sub.driver_pod["metadata"]["labels"]["spark-role"] == "driver"
    conf = manifests.spark_pi()
    conf["spec"]["sparkConf"] = {"spark.kubernetes.executor.label.spark-exec-id": "7"}
    with pytest.raises(
        InvalidApplication, match=r"spec\.sparkConf\[spark\.kubernetes\.executor\.label\.spark-exec-id\]"
    ):
        rendered(conf)
    for role in ("driver", "executor"):
        bad = manifests.spark_pi()
        bad["spec"][role]["labels"] = {"spark-app-name": "mine"}
        with pytest.raises(InvalidApplication, match=rf"spec\.{role}\.labels\[spark-app-name\]: .* reserved"):
            rendered(bad)


def test_spark_ui_port_moves_the_container_port_and_both_services() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["sparkConf"] = {"spark.ui.port": "4141"}
    sub = rendered(manifest)
    ports = {
        p["name"]: p["containerPort"] for p in container(sub.driver_pod, "spark-kubernetes-driver")["ports"]
    }
    assert ports["spark-ui"] == 4141
    driver_svc = {p["name"]: (p["port"], p["targetPort"]) for p in sub.driver_service["spec"]["ports"]}
    assert driver_svc["spark-ui"] == (4141, 4141)
    assert sub.ui_service is not None
    assert (sub.ui_service["spec"]["ports"][0]["port"], sub.ui_service["spec"]["ports"][0]["targetPort"]) == (
        4141,
        4141,
    )
    # With sparkUIOptions the Service's own port is servicePort (4040 without one); it still targets the UI.
    manifest["spec"]["sparkUIOptions"] = {"serviceType": "ClusterIP"}
    ui = rendered(manifest).ui_service
    assert ui is not None
    assert (ui["spec"]["ports"][0]["port"], ui["spec"]["ports"][0]["targetPort"]) == (4040, 4141)
    for bad in ("http", "0", "70000", ""):
        manifest["spec"]["sparkConf"] = {"spark.ui.port": bad}
        with pytest.raises(InvalidApplication, match=r"spec\.sparkConf\[spark\.ui\.port\]"):
            rendered(manifest)


def test_template_containers_keep_their_env_ports_and_mounts() -> None:
    """Spark appends to a template container's lists and merges its resources; it never drops them."""
    manifest = manifests.spark_pi()
    for role, name in (("driver", "spark-kubernetes-driver"), ("executor", "spark-kubernetes-executor")):
        manifest["spec"][role]["template"] = {"spec": {"containers": [{
            "name": name,
            "env": [{"name": "FROM_TEMPLATE", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}],
            "ports": [{"name": "debug", "containerPort": 5005}],
            "volumeMounts": [{"name": "t", "mountPath": "/t"}],
            "resources": {"limits": {"example.com/fpga": "1"}},
        }], "volumes": [{"name": "t", "emptyDir": {}}]}}  # fmt: skip
        manifest["spec"][role]["envVars"] = {"MINE": "1"}
    sub = rendered(manifest)
    for pod, name in (
        (sub.driver_pod, "spark-kubernetes-driver"),
        (template(sub), "spark-kubernetes-executor"),
    ):
        c = container(pod, name)
        names = [e["name"] for e in c["env"]]
        assert names[0] == "FROM_TEMPLATE"
        assert ("MINE" in names) == (pod is sub.driver_pod)  # executors get it as spark.executorEnv
        assert {"name": "t", "mountPath": "/t"} in c["volumeMounts"]
        assert c["resources"]["limits"]["example.com/fpga"] == "1"
    driver = container(sub.driver_pod, "spark-kubernetes-driver")
    assert driver["ports"][0]["name"] == "debug"
    assert {"driver-rpc-port", "blockmanager", "spark-ui"} <= {p["name"] for p in driver["ports"]}
    assert driver["resources"]["limits"]["memory"].endswith("Mi")


def test_monitoring_exposes_the_jmx_exporter_from_the_same_config_map() -> None:
    sub = rendered(manifests.everything())
    data = sub.config_map["data"]
    assert "*.sink.jmx.class" in data["metrics.properties"]
    assert "rules" in data["prometheus.yaml"]
    p = props(sub)
    assert p["spark.metrics.conf"] == "/etc/metrics/conf/metrics.properties"
    assert p["spark.executor.extraJavaOptions"].startswith(
        "-javaagent:/prometheus/jmx_prometheus_javaagent.jar=8090:"
    )
    for pod, name in (
        (sub.driver_pod, "spark-kubernetes-driver"),
        (template(sub), "spark-kubernetes-executor"),
    ):
        c = container(pod, name)
        assert {"name": "jmx-exporter", "containerPort": 8090, "protocol": "TCP"} in c["ports"]
        assert {"name": "spark-metrics-conf", "mountPath": "/etc/metrics/conf", "readOnly": True} in c[
            "volumeMounts"
        ]
    plain = rendered(manifests.spark_pi())
    assert "metrics.properties" not in plain.config_map["data"]
    assert "spark.metrics.conf" not in props(plain)


def test_spark_local_dir_mounts_are_the_local_dirs() -> None:
    """As Spark's LocalDirsFeatureStep: mounts of spark-local-dir-* volumes replace the default dir
    (before, the pod had two volumes named spark-local-dir-1 and the API server refused it)."""
    manifest = manifests.spark_pi()
    manifest["spec"]["volumes"] = [{"name": "spark-local-dir-1", "hostPath": {"path": "/mnt/disk"}}]
    manifest["spec"]["driver"]["volumeMounts"] = [{"name": "spark-local-dir-1", "mountPath": "/local"}]
    pod = rendered(manifest).driver_pod
    names = [v["name"] for v in pod["spec"]["volumes"]]
    assert names.count("spark-local-dir-1") == 1
    driver = container(pod, "spark-kubernetes-driver")
    assert {e["name"]: e.get("value") for e in driver["env"]}["SPARK_LOCAL_DIRS"] == "/local"


def test_what_spark_submit_adds_for_the_driver() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["proxyUser"] = "alice"
    manifest["spec"]["deps"] = {"jars": ["local:///opt/extra.jar"]}
    manifest["spec"]["driver"]["kubernetesMaster"] = "https://api.internal:6443"
    manifest["spec"]["dynamicAllocation"] = {"enabled": True, "maxExecutors": 3}
    sub = rendered(manifest)
    assert container(sub.driver_pod, "spark-kubernetes-driver")["args"][:3] == [
        "driver",
        "--proxy-user",
        "alice",
    ]
    p = props(sub)
    assert "spark.kubernetes.driver.proxyUser" not in p
    assert p["spark.jars"] == "local:///opt/extra.jar,local:///opt/spark/examples/jars/spark-examples.jar"
    assert p["spark.kubernetes.driver.master"] == "https://api.internal:6443"
    assert p["spark.master"] == "k8s://https://kubernetes.default.svc:443"
    assert p["spark.dynamicAllocation.shuffleTracking.enabled"] == "true"
    assert "spark.blockManager.port" not in p
    assert "spark.jars" not in props(rendered(manifests.pyspark()))  # a Python file is no jar


def test_monitoring_as_the_spark_operator_sets_it_up() -> None:
    manifest = manifests.spark_pi(namespace="team-a")
    manifest["spec"]["monitoring"] = {
        "exposeDriverMetrics": True,
        "exposeExecutorMetrics": False,
        "prometheus": {"jmxExporterJar": "/jmx.jar", "port": 9100},
    }
    sub = rendered(manifest)
    p = props(sub)
    assert p["spark.metrics.namespace"] == "team-a.spark-pi"
    annotations = sub.driver_pod["metadata"]["annotations"]
    assert (annotations["prometheus.io/scrape"], annotations["prometheus.io/port"]) == ("true", "9100")
    assert annotations["prometheus.io/path"] == "/metrics"
    assert "spark.kubernetes.executor.annotation.prometheus.io/scrape" not in p
    rules = yaml.safe_load(sub.config_map["data"]["prometheus.yaml"])
    assert rules["attrNameSnakeCase"] is True
    assert "spark_driver_$3_$4" in {rule["name"] for rule in rules["rules"]}
    manifest["spec"]["monitoring"]["metricsPropertiesFile"] = "/opt/metrics.properties"
    manifest["spec"]["monitoring"]["prometheus"]["configFile"] = "/opt/prometheus.yaml"
    in_image = rendered(manifest)
    assert "prometheus.yaml" not in in_image.config_map["data"]
    driver = container(in_image.driver_pod, "spark-kubernetes-driver")
    assert "/etc/metrics/conf" not in {m["mountPath"] for m in driver["volumeMounts"]}
    assert 9100 not in {port["containerPort"] for port in driver["ports"]}


def test_pod_details_the_spark_operator_adds() -> None:
    manifest = manifests.spark_pi()
    manifest["metadata"]["labels"] = {"team": "a", "kueue.x-k8s.io/queue-name": "q"}
    manifest["spec"]["driver"].update(
        hostNetwork=True,
        secrets=[{"name": "key", "path": "/mnt/key", "secretType": "GCPServiceAccount"}],
        serviceLabels={"svc": "yes"},
        serviceAnnotations={"example.com/a": "b"},
    )
    sub = rendered(manifest)
    pod = sub.driver_pod
    assert pod["spec"]["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["metadata"]["labels"]["team"] == "a"
    assert "kueue.x-k8s.io/queue-name" not in pod["metadata"]["labels"]
    assert "spark.kubernetes.executor.label.kueue.x-k8s.io/queue-name" not in props(sub)
    env = {e["name"]: e.get("value") for e in container(pod, "spark-kubernetes-driver")["env"]}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/mnt/key/key.json"
    assert sub.driver_service["metadata"]["labels"]["svc"] == "yes"
    assert sub.driver_service["metadata"]["annotations"] == {"example.com/a": "b"}


def test_spark_user_is_the_submitting_user_or_the_proxy_user() -> None:
    """Kubeflow's spark-submit runs as the Spark image's user, spark: the driver's Hadoop user."""
    env = {e["name"]: e.get("value") for e in container(rendered(manifests.spark_pi()).driver_pod,
                                                         "spark-kubernetes-driver")["env"]}  # fmt: skip
    assert env["SPARK_USER"] == "spark"
