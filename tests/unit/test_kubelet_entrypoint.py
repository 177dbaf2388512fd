"""The kubelet stand-in's pure part: env, volumes, paths and the JVM command lines, no cluster."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.api import SparkApplication
from sparkfleet.operator.spark.submission import parse_properties, render
from sparkfleet.testing import entrypoint
from sparkfleet.testing.entrypoint import SERVICE_ACCOUNT_DIR, Host, PodUnsupported, VolumeSources

HOST = Host(
    java="/usr/bin/java",
    spark_home=Path("/spark"),
    api_server="https://127.0.0.1:6443",
    hosts_file=Path("/k/hosts"),
    java_options=("--add-opens=java.base/java.lang=ALL-UNNAMED",),
)
SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "u-1", "labels": {"team": "a"}},
    "spec": {"nodeName": "n1", "serviceAccountName": "spark"},
}
# What the ServiceAccount admission plugin adds to every pod.
KUBE_API_ACCESS = {
    "name": "kube-api-access-x1",
    "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    ]},
}  # fmt: skip


def test_env_values_field_refs_key_refs_and_expansion() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}, {"secretRef": {"name": "gone", "optional": True}}],
        "env": [
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
            {"name": "URL", "value": "spark://$(POD):7078 $$(POD) $(UNSET)"},
            {"name": "CM_A", "value": "overridden"},
            {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nope", "optional": True}}},
        ],
    }  # fmt: skip
    env = entrypoint.container_env(
        POD,
        container,
        pod_ip="127.0.0.1",
        config_maps={"cm": {"A": "1", "B": "2"}},
        secrets={"s": {"password": "pw"}},
    )
    assert env == {
        "CM_A": "overridden", "CM_B": "2", "IP": "127.0.0.1", "POD": "p", "TEAM": "a",
        "URL": "spark://p:7078 $(POD) $(UNSET)", "PASS": "pw",
    }  # fmt: skip
    with pytest.raises(PodUnsupported, match=r"fieldRef status\.phase"):
        entrypoint.container_env(
            POD,
            {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}]},
            pod_ip="1",
        )
    with pytest.raises(PodUnsupported, match="ConfigMap ns/cm has no key 'k'"):
        entrypoint.container_env(
            POD,
            {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}]},
            pod_ip="1",
        )


def test_volume_files_of_each_kind() -> None:
    sources = VolumeSources(
        config_maps={"conf": {"spark.properties": b"a=b\n", "other": b"x"}},
        secrets={"s": {"key": b"secret"}},
        token="t0ken",
        ca_cert=b"CA",
    )
    volume = {
        "name": "c",
        "configMap": {"name": "conf", "items": [{"key": "spark.properties", "path": "spark.properties"}]},
    }
    assert entrypoint.volume_files(POD, volume, sources, "127.0.0.1") == {"spark.properties": b"a=b\n"}
    whole = {"name": "c", "configMap": {"name": "conf"}}
    assert entrypoint.volume_files(POD, whole, sources, "127.0.0.1") == {
        "spark.properties": b"a=b\n",
        "other": b"x",
    }
    assert entrypoint.volume_files(POD, {"name": "s", "secret": {"secretName": "s"}}, sources, "1") == {
        "key": b"secret"
    }
    assert entrypoint.volume_files(POD, {"name": "e", "emptyDir": {}}, sources, "1") is None
    # kube-root-ca.crt is not published here: the kubelet's own CA stands in.
    assert entrypoint.volume_files(POD, KUBE_API_ACCESS, sources, "1") == {
        "token": b"t0ken",
        "ca.crt": b"CA",
        "namespace": b"ns",
    }
    with pytest.raises(PodUnsupported, match="hostPath is not supported"):
        entrypoint.volume_files(POD, {"name": "h", "hostPath": {"path": "/"}}, sources, "1")
    with pytest.raises(PodUnsupported, match="ConfigMap missing does not exist"):
        entrypoint.volume_files(POD, {"name": "m", "configMap": {"name": "missing"}}, sources, "1")
    with pytest.raises(PodUnsupported, match="no key 'nope'"):
        entrypoint.volume_files(
            POD,
            {"name": "m", "configMap": {"name": "conf", "items": [{"key": "nope", "path": "p"}]}},
            sources,
            "1",
        )


def test_mount_paths_are_rewritten_at_path_boundaries_only() -> None:
    container = {"volumeMounts": [
        {"name": "spark", "mountPath": "/opt/spark"},
        {"name": "conf", "mountPath": "/opt/spark/conf/"},
        {"name": "one", "mountPath": "/etc/one.conf", "subPath": "one.conf"},
    ]}  # fmt: skip
    mounts = entrypoint.mount_table(
        container, {"spark": Path("/l/spark"), "conf": Path("/l/c"), "one": Path("/l/o")}
    )
    assert [path for path, _ in mounts] == ["/opt/spark/conf", "/etc/one.conf", "/opt/spark"]  # longest first
    rewrite = entrypoint.rewrite_paths
    assert rewrite("/opt/spark/conf/spark.properties", mounts) == "/l/c/spark.properties"
    assert rewrite("/opt/spark/conf", mounts) == "/l/c"
    assert rewrite("/opt/spark/jars/x.jar", mounts) == "/l/spark/jars/x.jar"
    assert rewrite("/etc/one.conf", mounts) == "/l/o/one.conf"
    assert (
        rewrite("-Dx=/opt/spark/conf/a,/opt/spark/b:/opt/spark/conf", mounts) == "-Dx=/l/c/a,/l/spark/b:/l/c"
    )
    assert (
        rewrite("/opt/sparkle /x/opt/spark local:///opt/spark/x", mounts)
        == "/opt/sparkle /x/opt/spark local:///opt/spark/x"
    )
    with pytest.raises(PodUnsupported, match="names no volume"):
        entrypoint.mount_table({"volumeMounts": [{"name": "x", "mountPath": "/x"}]}, {})


def rendered_driver() -> tuple[dict[str, Any], dict[str, str]]:
    """sparkfleet's driver pod for a SparkPi application (with the volume admission adds), and its properties."""
    app = SparkApplication.model_validate({
        "apiVersion": "sparkoperator.k8s.io/v1beta2", "kind": "SparkApplication",
        "metadata": {"name": "spark-pi", "namespace": "ns", "uid": "u-app"},
        "spec": {"type": "Java", "mode": "cluster", "image": "spark:4.0.2", "mainClass": "SparkPi",
                 "mainApplicationFile": "local:///jars/pi.jar", "arguments": ["4"], "sparkVersion": "4.0.2",
                 "driver": {"cores": 1, "memory": "512m", "serviceAccount": "spark"},
                 "executor": {"instances": 2, "cores": 1, "memory": "512m"}},
    })  # fmt: skip
    submission = render(app, SID)
    pod = copy.deepcopy(submission.driver_pod)
    pod["spec"]["volumes"].append(KUBE_API_ACCESS)
    pod["spec"]["containers"][0]["volumeMounts"].append(
        {"name": KUBE_API_ACCESS["name"], "mountPath": SERVICE_ACCOUNT_DIR, "readOnly": True}
    )
    return pod, parse_properties(submission.config_map["data"]["spark.properties"])


def test_a_rendered_driver_runs_as_spark_submit_in_client_mode() -> None:
    pod, properties = rendered_driver()
    container = pod["spec"]["containers"][0]
    folders = {v["name"]: Path("/k/pod/volumes") / v["name"] for v in pod["spec"]["volumes"]}
    mounts = entrypoint.mount_table(container, folders)
    env = {
        **entrypoint.image_env(HOST, Path("/k/pod/home")),
        **entrypoint.container_env(pod, container, pod_ip=HOST.pod_ip),
    }
    read: list[str] = []

    def read_properties(path: str) -> dict[str, str]:
        read.append(path)
        return properties

    launch = entrypoint.launch(HOST, container, env, mounts, read_properties)
    conf = Path("/k/pod/volumes/spark-conf-volume-driver")
    assert read == [f"{conf}/spark.properties"]
    assert launch.role == "driver"
    argv = launch.argv
    main = argv.index(entrypoint.SPARK_SUBMIT)
    # The JVM spark-submit's launcher starts: module flags, heap from spark.driver.memory, conf dir first.
    assert argv[:4] == [
        "/usr/bin/java",
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "-Xmx512m",
        "-Djdk.net.hosts.file=/k/hosts",
    ]
    assert argv[main - 2 : main] == ["-cp", f"{conf}:/spark/jars/*"]
    # entrypoint.sh's spark-submit arguments, then the adaptations, then the rendered args as they are.
    assert argv[main + 1 : main + 5] == [
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--deploy-mode",
        "client",
    ]
    confs = dict(a.split("=", 1) for a in argv[main + 6 : argv.index("--properties-file")] if a != "--conf")
    token_dir = Path("/k/pod/volumes/kube-api-access-x1")
    assert confs == {
        "spark.kubernetes.driver.master": "https://127.0.0.1:6443",
        "spark.kubernetes.authenticate.driver.mounted.oauthTokenFile": f"{token_dir}/token",
        "spark.kubernetes.authenticate.driver.mounted.caCertFile": f"{token_dir}/ca.crt",
        "spark.kubernetes.executor.podTemplateFile": "/k/pod/volumes/pod-template-volume/pod-spec-template.yml",
    }
    assert argv[argv.index("--properties-file") :] == [
        "--properties-file", f"{conf}/spark.properties", "--class", "SparkPi", "local:///jars/pi.jar", "4",
    ]  # fmt: skip
    assert {a.setting for a in launch.adaptations} == {"-Djdk.net.hosts.file", "SPARK_LOCAL_IP", *confs}
    assert all(a.why for a in launch.adaptations)
    # The env as rendered, with the pod IP and the mount paths of this host.
    assert launch.env["SPARK_DRIVER_BIND_ADDRESS"] == "127.0.0.1"
    assert launch.env["SPARK_CONF_DIR"] == str(conf)
    assert launch.env["SPARK_LOCAL_DIRS"] == "/k/pod/volumes/spark-local-dir-1"  # an emptyDir
    assert launch.env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert launch.env["SPARK_APPLICATION_ID"] == properties["spark.app.id"]


def executor_env(**overrides: str) -> dict[str, str]:
    """The env Spark's BasicExecutorFeatureStep puts on an executor pod (values resolved)."""
    return {
        "SPARK_USER": "root", "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@svc.ns.svc:7078",
        "SPARK_EXECUTOR_CORES": "1", "SPARK_EXECUTOR_MEMORY": "512m", "SPARK_APPLICATION_ID": "spark-1",
        "SPARK_CONF_DIR": "/k/e/conf", "SPARK_EXECUTOR_ID": "2", "SPARK_RESOURCE_PROFILE_ID": "0",
        "SPARK_JAVA_OPT_10": "-Dten", "SPARK_JAVA_OPT_2": "-Dspark.driver.port=7078", "SPARK_JAVA_OPT_0": "-Xss4m",
        "SPARK_EXECUTOR_POD_IP": "127.0.0.1", "SPARK_EXECUTOR_POD_NAME": "spark-pi-0f3c2a10-exec-2", **overrides,
    }  # fmt: skip


def test_an_executor_runs_as_entrypoint_sh_starts_it() -> None:
    container = {"name": "spark-kubernetes-executor", "args": ["executor"]}
    launch = entrypoint.launch(HOST, container, executor_env(SPARK_CLASSPATH="/extra/*"), [])
    assert launch.role == "executor"
    assert launch.argv == [
        "/usr/bin/java", "-Xss4m", "-Dspark.driver.port=7078", "-Dten", "-Xms512m", "-Xmx512m",
        "-Djdk.net.hosts.file=/k/hosts", "-cp", "/k/e/conf:/extra/*:/spark/jars/*", entrypoint.EXECUTOR_BACKEND,
        "--driver-url", "spark://CoarseGrainedScheduler@svc.ns.svc:7078", "--executor-id", "2", "--cores", "1",
        "--app-id", "spark-1", "--hostname", "127.0.0.1", "--resourceProfileId", "0",
        "--podName", "spark-pi-0f3c2a10-exec-2",
    ]  # fmt: skip
    assert [a.setting for a in launch.adaptations] == ["-Djdk.net.hosts.file", "SPARK_LOCAL_IP"]
    assert launch.env["SPARK_LOCAL_IP"] == "127.0.0.1"
    own = entrypoint.launch(HOST, container, executor_env(SPARK_LOCAL_IP="10.0.0.7"), [])
    assert own.env["SPARK_LOCAL_IP"] == "10.0.0.7"  # the pod's own setting is left as it is
    assert [a.setting for a in own.adaptations] == ["-Djdk.net.hosts.file"]
    with pytest.raises(PodUnsupported, match="without SPARK_DRIVER_URL"):
        entrypoint.launch(HOST, container, executor_env(SPARK_DRIVER_URL=""), [])


def test_what_is_not_a_spark_container_is_refused() -> None:
    with pytest.raises(PodUnsupported, match="a command overrides"):
        entrypoint.launch(HOST, {"name": "c", "command": ["sh"], "args": ["driver"]}, {}, [])
    with pytest.raises(PodUnsupported, match="neither driver nor executor"):
        entrypoint.launch(HOST, {"name": "c", "args": ["bash"]}, {}, [])


def test_statuses_as_a_kubelet_reports_them() -> None:
    container = {"name": "spark-kubernetes-driver", "image": "spark:4.0.2"}
    running = entrypoint.running_status(POD, container, 42, "2026-01-01T00:00:00Z", "127.0.0.1")
    assert running["phase"] == "Running"
    assert running["podIP"] == "127.0.0.1"
    [state] = running["containerStatuses"]
    assert state["ready"] is True
    assert state["state"] == {"running": {"startedAt": "2026-01-01T00:00:00Z"}}

    done = entrypoint.terminated_status(container, 42, 0, "t0", "t1")
    assert done["phase"] == "Succeeded"
    assert done["containerStatuses"][0]["state"]["terminated"] == {
        "exitCode": 0, "reason": "Completed", "startedAt": "t0", "finishedAt": "t1",
        "containerID": "sparkfleet-kubelet://42",
    }  # fmt: skip
    killed = entrypoint.terminated_status(container, 42, 143, "t0", "t1", message="boom")
    assert killed["phase"] == "Failed"
    assert killed["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"
    assert killed["containerStatuses"][0]["state"]["terminated"]["message"] == "boom"
    assert entrypoint.termination_message(container, "log") == ""
    tail = "x" * 5000
    message = entrypoint.termination_message(
        {**container, "terminationMessagePolicy": "FallbackToLogsOnError"}, tail
    )
    assert message == "x" * entrypoint.TERMINATION_LOG_BYTES


def test_cluster_dns_resolves_every_service_name_to_the_pod_ip() -> None:
    services = [
        {"metadata": {"name": "b-svc", "namespace": "ns"}},
        {"metadata": {"name": "a-svc", "namespace": "ns"}},
    ]
    assert entrypoint.cluster_hosts(services, "vm", "127.0.0.1").splitlines() == [
        "127.0.0.1 localhost vm",
        "127.0.0.1 a-svc a-svc.ns a-svc.ns.svc a-svc.ns.svc.cluster.local",
        "127.0.0.1 b-svc b-svc.ns b-svc.ns.svc b-svc.ns.svc.cluster.local",
    ]
