"""The simulated Spark driver's executor pods, without a cluster: what Spark 4.0 builds, and refuses.

tests/conformance/test_executor_builder.py holds these functions to Spark's own builder; these
pin the rules one by one, and what the simulator does with each refusal.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from sparkfleet.api import SparkApplication
from sparkfleet.operator.spark.submission import parse_properties, render, to_properties
from sparkfleet.sim import sparkconf
from sparkfleet.sim.driver import (
    Driver,
    app_name_label,
    conf_dir_files,
    driver_conf,
    executor_conf_map,
    initial_executors,
    mounted_config_maps,
    new_driver,
    resource_name_prefix,
)
from sparkfleet.sim.executors import ExecutorPods, executor_pod
from sparkfleet.sim.sparkconf import IllegalArgument, NoSuchElement, NumberFormat, SparkException
from tests.corpus import merge_patch
from tests.examples import manifests

Obj = dict[str, Any]
SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def submitted(manifest: Obj, **properties: str | None) -> tuple[Obj, dict[str, dict[str, str]]]:
    """A rendered driver pod, running (uid and pod IP), and its ConfigMaps' data by name, with
    ``properties`` put into its spark.properties (None: taken out) past the operator's validation."""
    manifest = copy.deepcopy(manifest)
    manifest["metadata"]["uid"] = "app-uid"
    sub = render(SparkApplication.model_validate(manifest), SID)
    pod = copy.deepcopy(sub.driver_pod)
    pod["metadata"]["uid"] = "driver-uid"
    pod["status"] = {"phase": "Running", "podIP": "10.2.0.7"}
    data = dict(sub.config_map["data"])
    edited = {**parse_properties(data["spark.properties"]), **properties}
    data["spark.properties"] = to_properties({k: v for k, v in edited.items() if v is not None})
    return pod, {sub.config_map["metadata"]["name"]: data}


def builder(manifest: Obj | None = None, **properties: str | None) -> ExecutorPods:
    pod, config_maps = submitted(manifest or manifests.spark_pi(), **properties)
    return ExecutorPods(new_driver(pod, config_maps))


def container(pod: Obj) -> Obj:
    found: Obj = pod["spec"]["containers"][-1]
    return found


def env(pod: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(pod)["env"]}


# -- what Spark builds ---------------------------------------------------------------------------


def test_an_executor_is_named_labelled_and_owned_as_spark_does() -> None:
    pod = builder().pod(3)
    meta = pod["metadata"]
    assert meta["name"] == "spark-pi-0f3c2a10-exec-3"
    assert pod["spec"]["hostname"] == "spark-pi-0f3c2a10-exec-3"
    assert meta["labels"] == {
        "sparkoperator.k8s.io/app-name": "spark-pi",
        "sparkoperator.k8s.io/launched-by-spark-operator": "true",
        "sparkoperator.k8s.io/submission-id": SID,
        "version": "3.5.5",
        "spark-version": "3.5.5",  # the application's Spark: the driver pod's label
        "spark-exec-id": "3",
        "spark-app-selector": "spark-0f3c2a105b6d4e7f8a9b0c1d2e3f4a5b",
        "spark-app-name": "spark-pi",
        "spark-role": "executor",
        "spark-exec-resourceprofile-id": "0",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "controller": True,
            "name": "spark-pi-driver",
            "uid": "driver-uid",
        }
    ]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["serviceAccountName"] == pod["spec"]["serviceAccount"] == "spark-operator-spark"
    spark = container(pod)
    assert spark["name"] == "spark-kubernetes-executor"
    assert (spark["image"], spark["imagePullPolicy"], spark["args"]) == (
        "spark:3.5.5",
        "IfNotPresent",
        ["executor"],
    )
    assert spark["ports"] == [{"name": "blockmanager", "containerPort": 7079}]


def test_the_executor_environment_is_sparks() -> None:
    pod = builder().pod(1)
    values = env(pod)
    assert (
        values["SPARK_DRIVER_URL"]
        == "spark://CoarseGrainedScheduler@spark-pi-0f3c2a10-driver-svc.default.svc:7078"
    )
    assert values["SPARK_EXECUTOR_CORES"] == "1"
    assert values["SPARK_EXECUTOR_MEMORY"] == "512m"
    assert values["SPARK_APPLICATION_ID"] == "spark-0f3c2a105b6d4e7f8a9b0c1d2e3f4a5b"
    assert values["SPARK_CONF_DIR"] == "/opt/spark/conf"
    assert (values["SPARK_EXECUTOR_ID"], values["SPARK_RESOURCE_PROFILE_ID"]) == ("1", "0")
    assert values["SPARK_USER"] == "spark"  # the driver's
    assert values["SPARK_DRIVER_POD_IP"] == "10.2.0.7"  # from the image's entrypoint
    assert values["SPARK_EXECUTOR_POD_IP"] == {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}
    assert values["SPARK_LOCAL_DIRS"] == f"/var/data/spark-{SID}"  # the driver's local dirs
    opts = sorted(v for k, v in values.items() if k.startswith("SPARK_JAVA_OPT_"))
    assert opts == ["-Dspark.driver.blockManager.port=7079", "-Dspark.driver.port=7078"]


def test_user_java_options_come_first_with_their_ids_substituted() -> None:
    pod = builder(
        manifests.spark_pi(), **{"spark.executor.extraJavaOptions": "-Da='x y' -Dexec={{EXECUTOR_ID}}"}
    ).pod(7)
    values = env(pod)
    assert values["SPARK_JAVA_OPT_0"] == "-Da=x y"
    assert values["SPARK_JAVA_OPT_1"] == "-Dexec=7"
    assert values["SPARK_JAVA_OPT_2"].startswith("-Dspark.")


def test_memory_is_heap_plus_overhead_as_the_conf_says() -> None:
    def memory(manifest: Obj, **conf: str | None) -> str:
        resources = container(builder(manifest, **conf).pod(1))["resources"]
        assert resources["requests"]["memory"] == resources["limits"]["memory"]
        return str(resources["limits"]["memory"])

    assert memory(manifests.spark_pi()) == "896Mi"  # 512 + max(0.1 x 512, 384)
    assert memory(manifests.pyspark()) == "1433Mi"  # 1024 + 0.4 x 1024: the factor the client wrote
    assert memory(manifests.spark_pi(), **{"spark.executor.memoryOverhead": "100m"}) == "612Mi"
    assert memory(manifests.spark_pi(), **{"spark.executor.memory": "4g"}) == "4505Mi"
    assert memory(manifests.spark_pi(), **{"spark.executor.memoryOverheadFactor": "0.5",
                                           "spark.executor.memory": "2g"}) == "3072Mi"  # fmt: skip
    off_heap = {"spark.memory.offHeap.enabled": "true", "spark.memory.offHeap.size": "100m"}
    assert memory(manifests.spark_pi(), **off_heap) == "996Mi"
    assert memory(manifests.spark_pi(), **{"spark.executor.pyspark.memory": "200m"}) == "896Mi"  # JVM: none
    assert memory(manifests.pyspark(), **{"spark.executor.pyspark.memory": "200m"}) == "1633Mi"


def test_cpu_requests_and_limits() -> None:
    spec = {"executor": {"cores": 2, "coreRequest": "1500m", "coreLimit": "3"}}
    resources = container(builder(merge_patch(manifests.spark_pi(), {"spec": spec})).pod(1))["resources"]
    assert resources["requests"]["cpu"] == "1500m"
    assert resources["limits"]["cpu"] == "3"
    assert (
        env(builder(merge_patch(manifests.spark_pi(), {"spec": spec})).pod(1))["SPARK_EXECUTOR_CORES"] == "2"
    )


def test_the_template_is_the_base_and_spark_fills_it_in() -> None:
    template = {
        "metadata": {"labels": {"from-template": "yes"}},
        "spec": {"containers": [{"name": "shipper", "image": "fluent-bit"},
                                {"name": "spark-kubernetes-executor", "args": ["--x"],
                                 "resources": {"requests": {"ephemeral-storage": "1Gi"}}}],
                 "tolerations": [{"key": "spot", "operator": "Exists"}]},
    }  # fmt: skip
    pod = builder(merge_patch(manifests.spark_pi(), {"spec": {"executor": {"template": template}}})).pod(1)
    assert [c["name"] for c in pod["spec"]["containers"]] == ["shipper", "spark-kubernetes-executor"]
    spark = container(pod)
    assert spark["args"] == ["--x", "executor"]  # Spark appends
    assert spark["resources"]["requests"]["ephemeral-storage"] == "1Gi"
    assert pod["spec"]["tolerations"] == [{"key": "spot", "operator": "Exists"}]
    assert pod["metadata"]["labels"]["from-template"] == "yes"


def test_without_the_named_container_spark_takes_the_first() -> None:
    pod = builder(manifests.spark_pi(), **{"spark.kubernetes.executor.podTemplateContainerName": "nope"}).pod(
        1
    )
    assert [c["name"] for c in pod["spec"]["containers"]] == ["spark-kubernetes-executor"]


def test_spark_conf_volumes_secrets_and_local_dirs() -> None:
    conf = {
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.mount.path": "/data",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.options.claimName": "OnDemand",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.options.storageClass": "fast",
        "spark.kubernetes.executor.volumes.persistentVolumeClaim.data.options.sizeLimit": "1Gi",
        "spark.kubernetes.executor.secrets.creds": "/mnt/creds",
        "spark.kubernetes.executor.secretKeyRef.TOKEN": "creds:token",
        "spark.kubernetes.local.dirs.tmpfs": "true",
    }
    pods = builder(manifests.spark_pi(), **conf)
    pod = pods.pod(2)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {
        "claimName": "spark-pi-0f3c2a10-exec-2-pvc-0",
        "readOnly": False,
    }
    assert volumes["creds-volume"]["secret"] == {"secretName": "creds"}
    assert volumes["spark-local-dir-1"]["emptyDir"] == {"medium": "Memory"}
    mounts = {m["name"]: m["mountPath"] for m in container(pod)["volumeMounts"]}
    assert mounts["data"] == "/data"
    assert mounts["creds-volume"] == "/mnt/creds"
    assert env(pod)["TOKEN"] == {"secretKeyRef": {"key": "token", "name": "creds"}}
    [claim] = pods.claims(2)
    assert claim["metadata"]["name"] == "spark-pi-0f3c2a10-exec-2-pvc-0"
    assert claim["spec"]["accessModes"] == ["ReadWriteOncePod"]


def test_a_local_dir_volume_of_the_conf_is_used_as_is() -> None:
    conf = {"spark.kubernetes.executor.volumes.emptyDir.spark-local-dir-1.mount.path": "/scratch"}
    pod = builder(manifests.spark_pi(), **conf).pod(1)
    assert env(pod)["SPARK_LOCAL_DIRS"] == "/scratch"
    assert [v["name"] for v in pod["spec"]["volumes"]].count("spark-local-dir-1") == 1


def test_executors_do_not_share_what_the_simulator_changes() -> None:
    pods = builder()
    first, second = pods.pod(1), pods.pod(2)
    first["spec"]["nodeName"] = "sim-node-1"
    container(first)["env"].append({"name": "X", "value": "1"})
    assert "nodeName" not in second["spec"]
    assert "X" not in env(second)
    assert "nodeName" not in pods.pod(3)["spec"]


def test_the_template_is_parsed_once_per_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    pods = builder()

    def no_parsing(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("parsed per executor")

    monkeypatch.setattr(yaml, "load", no_parsing)
    assert len({pods.pod(i)["metadata"]["name"] for i in range(1, 501)}) == 500


def test_executor_pod_builds_one_from_properties() -> None:
    pod, config_maps = submitted(manifests.spark_pi())
    data = next(iter(config_maps.values()))
    template = yaml.safe_load(data["pod-spec-template.yml"])
    built = executor_pod(parse_properties(data["spark.properties"]), template, pod, 4)
    assert built["metadata"]["name"] == "spark-pi-0f3c2a10-exec-4"
    assert env(built)["SPARK_LOCAL_DIRS"] == f"/var/data/spark-{SID}"


# -- what Spark refuses, and what the driver does then ---------------------------------------------


@pytest.mark.parametrize(
    ("conf", "error", "message"),
    [
        ({"spark.kubernetes.executor.label.spark-role": "x"}, IllegalArgument,
         "requirement failed: Custom executor labels cannot contain spark-role as it is reserved for Spark."),
        ({"spark.kubernetes.executor.label.spark-app-selector": "x", "spark.kubernetes.executor.label.spark-exec-id": "1"},
         IllegalArgument,
         "requirement failed: Custom executor labels cannot contain spark-exec-id as it is reserved for Spark."),
        ({"spark.blockManager.port": "80"}, IllegalArgument,
         "requirement failed: port number must be 0 or in [1024, 65535]"),
        ({"spark.blockManager.port": "x"}, NumberFormat,
         'Illegal value for config key spark.blockManager.port: For input string: "x"'),
        ({"spark.executor.cores": "many"}, IllegalArgument, "spark.executor.cores should be int, but was many"),
        ({"spark.executor.memory": "1.5g"}, NumberFormat,
         "Size must be specified as bytes (b), kibibytes (k), mebibytes (m), gibibytes (g), tebibytes (t), or "
         "pebibytes(p). E.g. 50b, 100k, or 250m.\nFractional values are not supported. Input was: 1.5"),
        ({"spark.executor.memoryOverheadFactor": "0"}, IllegalArgument,
         "'0.0' in spark.executor.memoryOverheadFactor is invalid. Ensure that memory overhead is a double "
         "greater than 0"),
        ({"spark.kubernetes.executor.secretKeyRef.T": "creds"}, IllegalArgument,
         "requirement failed: SecretKeyRef must be in the form name:key."),
        ({"spark.kubernetes.executor.volumes.iscsi.d.mount.path": "/d"}, IllegalArgument,
         "Kubernetes Volume type `iscsi` is not supported"),
        ({"spark.kubernetes.executor.volumes.nfs.d.mount.path": "/d"}, NoSuchElement,
         "nfs.d.options.path is required for nfs"),
        ({"spark.executor.resource.gpu.amount": "1"}, SparkException,
         "Resource: gpu was requested, but vendor was not specified."),
    ],
)  # fmt: skip
def test_spark_refuses_with_its_own_error(conf: dict[str, str], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as refused:
        builder(manifests.spark_pi(), **conf)
    assert type(refused.value) is error
    assert str(refused.value) == message


def test_which_refusals_end_the_driver() -> None:
    """ExecutorPodsSnapshotsStoreImpl: System.exit(1) on an IllegalArgumentException, a logged
    warning and another try a second later on anything else; anything at start ends it."""
    assert IllegalArgument("x").ends_driver
    assert NumberFormat("x").ends_driver
    assert not SparkException("x").ends_driver
    assert not NoSuchElement("x").ends_driver
    assert SparkException("x", at_start=True).ends_driver


def test_a_template_spark_cannot_load_stops_the_driver_at_start() -> None:
    pod, config_maps = submitted(manifests.spark_pi())
    name = next(iter(config_maps))
    for broken in ("spec: [", "- a list", "kind: Pod\n", "spec:\n  containers: nope\n"):
        data = {**config_maps[name], "pod-spec-template.yml": broken}
        with pytest.raises(SparkException, match=r"^Could not load pod from template file\.$") as refused:
            new_driver(pod, {name: data})
        assert refused.value.ends_driver


def test_a_driver_without_its_properties_file_stops_at_start() -> None:
    pod, _ = submitted(manifests.spark_pi())
    with pytest.raises(
        IllegalArgument, match=r"Properties file /opt/spark/conf/spark\.properties does not exist"
    ):
        new_driver(pod, {})


def test_a_missing_image_leaves_the_driver_running() -> None:
    pod, config_maps = submitted(manifests.spark_pi())
    conf = {k: v for k, v in driver_conf({"spark.app.id": "a"}, pod).items()}
    with pytest.raises(SparkException, match=r"^Must specify the executor container image$") as refused:
        ExecutorPods(Driver(conf=conf, pod=pod))
    assert not refused.value.ends_driver
    assert mounted_config_maps(pod) == list(config_maps)


# -- the driver --------------------------------------------------------------------------------------


def test_the_driver_conf_is_what_spark_submit_and_the_entrypoint_make() -> None:
    pod = {"metadata": {"name": "d"}, "status": {"podIP": "10.0.0.9"}}
    conf = driver_conf({"spark.app.name": " padded ", "not.spark": "x", "spark.driver.host": "svc"}, pod)
    assert conf == {
        "spark.app.name": "padded",
        "spark.driver.host": "svc",
        "spark.driver.bindAddress": "10.0.0.9",
        "spark.executorEnv.SPARK_DRIVER_POD_IP": "10.0.0.9",
        "spark.submit.deployMode": "client",
        "spark.executor.id": "driver",
    }


def test_initial_executors() -> None:
    assert initial_executors({}) == 2
    assert initial_executors({"spark.executor.instances": "5"}) == 5
    dynamic = {"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.minExecutors": "1",
               "spark.dynamicAllocation.initialExecutors": "3", "spark.executor.instances": "2"}  # fmt: skip
    assert initial_executors(dynamic) == 3
    with pytest.raises(IllegalArgument, match="initial executor number 3 must between"):
        initial_executors({**dynamic, "spark.dynamicAllocation.maxExecutors": "2"})


def test_names_spark_makes_up() -> None:
    assert app_name_label("My_App.v2") == "my-app-v2"
    assert app_name_label("-" + "a" * 70) == "a" * 62
    prefix = resource_name_prefix("9 Lives", now=1_700_000_000)
    assert prefix.startswith("x-lives-")
    assert len(prefix) == len("x-lives-") + 6 + 10
    long = builder(manifests.spark_pi(), **{"spark.kubernetes.executor.podNamePrefix": "a." * 30 + "b"}).pod(
        12
    )
    assert long["spec"]["hostname"] == long["metadata"]["name"][-63:].lstrip(".").replace(".", "_")


def test_conf_files_executors_get() -> None:
    files = {"log4j2.properties": "x" * 10, "spark-defaults.conf": "s", "a.template": "t", "lib.jar": "j",
             "hive-site.xml": "h" * 5, "spark.properties": "p"}  # fmt: skip
    assert list(conf_dir_files({}, files)) == ["hive-site.xml", "log4j2.properties"]  # smallest first
    assert list(conf_dir_files({"spark.kubernetes.configMap.maxSize": "30"}, files)) == ["hive-site.xml"]


def test_the_executor_conf_map() -> None:
    pod, config_maps = submitted(manifests.everything(), **{})
    spark = new_driver(pod, {**config_maps, "spark-conf": {"log4j2.properties": "rootLogger.level = info\n"}})
    assert spark.conf_files == {"log4j2.properties": "rootLogger.level = info\n"}
    conf_map = executor_conf_map(spark, "default", "app-1")
    assert conf_map["metadata"]["name"] == spark.conf_map_name
    assert conf_map["metadata"]["labels"] == {"spark-app-selector": "app-1", "spark-role": "executor"}
    assert conf_map["metadata"]["ownerReferences"][0]["uid"] == "driver-uid"
    assert conf_map["immutable"] is True
    assert set(conf_map["data"]) == {"log4j2.properties", "spark.properties", "spark.kubernetes.namespace"}
    volume = next(
        v for v in ExecutorPods(spark).pod(1)["spec"]["volumes"] if v["name"] == "spark-conf-volume-exec"
    )
    assert volume["configMap"]["items"] == [
        {"key": "log4j2.properties", "mode": 420, "path": "log4j2.properties"}
    ]


def test_properties_round_trip_through_the_driver() -> None:
    pod, config_maps = submitted(manifests.spark_pi())
    name = next(iter(config_maps))
    data = {
        **config_maps[name],
        "spark.properties": to_properties({"spark.app.name": "x=y", "spark.app.id": "a"}),
    }
    assert new_driver(pod, {name: data}).conf["spark.app.name"] == "x=y"


# -- SparkConf reading -----------------------------------------------------------------------------


def test_sizes_as_spark_reads_them() -> None:
    mib = sparkconf.MIB
    assert sparkconf.byte_string_as("512m", mib) == 512
    assert sparkconf.byte_string_as("2G", mib) == 2048
    assert sparkconf.byte_string_as("1500k", mib) == 1
    assert sparkconf.byte_string_as("300", mib) == 300
    with pytest.raises(NumberFormat, match='Invalid suffix: "x"'):
        sparkconf.byte_string_as("3x", mib)
    assert sparkconf.get_mib({"k": "-1g"}, "k", None) == -1024


def test_command_strings_split_as_spark_splits_them() -> None:
    assert sparkconf.split_command("""-Da="b c" -Dd='e "f"' g\\ h""") == ["-Da=b c", '-Dd=e "f"', "g\\", "h"]
    assert sparkconf.split_command('""') == [""]


def test_executor_startup_confs() -> None:
    assert sparkconf.is_executor_startup_conf("spark.driver.port")
    assert sparkconf.is_executor_startup_conf("spark.authenticate")
    assert not sparkconf.is_executor_startup_conf("spark.authenticate.secret")
    assert not sparkconf.is_executor_startup_conf("spark.ssl.keyPassword")
    assert not sparkconf.is_executor_startup_conf("spark.app.name")
