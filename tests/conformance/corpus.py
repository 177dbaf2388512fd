"""SparkApplications for the spark-submit conformance test: every v1beta2 field that reaches Spark.

Each case is a JSON merge patch on a small Scala application (``base``), named after the case.
:data:`CASES` are written by hand, one area of the spec each; :func:`generated` adds a bounded,
seeded mix of the same fragments, so combinations nobody wrote down are judged too.

Everything here must be a valid application: bad input has its own corpus (tests/corpus).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tests.corpus import merge_patch

Obj = dict[str, Any]

SPARK_VERSION = "4.0.2"
IMAGE = "spark:4.0.2"
SERVICE_ACCOUNTS = ("spark", "spark-driver")
PRIORITY_CLASSES = ("spark-high",)
LOCAL_REPOSITORY = "<local-repository>"
"""Stands for a file:// Maven repository the test creates (so --packages resolves offline)."""


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    patch: Obj

    def manifest(self, namespace: str) -> Obj:
        name = f"c-{self.id}"
        manifest: Obj = merge_patch(base(name, namespace), self.patch)
        driver = manifest["spec"]["driver"]
        if driver.get("podName"):  # one pod name per case: they all run in one namespace
            driver["podName"] = f"{name}-{driver['podName']}"
        return manifest


def base(name: str, namespace: str) -> Obj:
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "Scala",
            "mode": "cluster",
            "sparkVersion": SPARK_VERSION,
            "image": IMAGE,
            "mainClass": "org.apache.spark.examples.SparkPi",
            "mainApplicationFile": "local:///opt/spark/examples/jars/spark-examples.jar",
            "arguments": ["100"],
            "driver": {"cores": 1, "memory": "512m", "serviceAccount": "spark"},
            "executor": {"instances": 2, "cores": 1, "memory": "512m"},
        },
    }


def spec(**fields: Any) -> Obj:
    return {"spec": fields}


def driver(**fields: Any) -> Obj:
    return {"spec": {"driver": fields}}


def executor(**fields: Any) -> Obj:
    return {"spec": {"executor": fields}}


def both(**fields: Any) -> Obj:
    return {"spec": {"driver": fields, "executor": fields}}


def merge(*patches: Obj) -> Obj:
    result: Obj = {}
    for patch in patches:
        result = _deep_merge(result, patch)
    return result


def _deep_merge(a: Obj, b: Obj) -> Obj:
    """Objects merged key by key, lists joined (two fragments' volumes are both kept)."""
    out = dict(a)
    for key, value in b.items():
        old = out.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = _deep_merge(old, value)
        elif isinstance(value, list) and isinstance(old, list):
            out[key] = old + [item for item in value if item not in old]
        else:
            out[key] = value
    return out


def template(container: str) -> Obj:
    """A pod template as users write them: labels, a main container with env, a port and a mount,
    a sidecar, a volume, a toleration and a node selector."""
    return {
        "metadata": {"labels": {"from-template": "yes"}, "annotations": {"template.example/a": "1"}},
        "spec": {
            "containers": [
                {
                    "name": container,
                    "env": [{"name": "FROM_TEMPLATE", "value": "1"}],
                    "ports": [{"name": "tpl", "containerPort": 6000, "protocol": "TCP"}],
                    "volumeMounts": [{"name": "tpl-vol", "mountPath": "/tpl"}],
                },
                {"name": "tpl-sidecar", "image": "busybox:1.36"},
            ],
            "volumes": [{"name": "tpl-vol", "emptyDir": {}}],
            "tolerations": [{"key": "template", "operator": "Exists"}],
            "nodeSelector": {"from": "template"},
        },
    }


TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "spark", "effect": "NoSchedule"}
AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["spark"]}]}
            ]
        }
    }
}
SIDECAR = {
    "name": "log-shipper",
    "image": "fluent-bit:3",
    "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
}
INIT = {"name": "init-data", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}

FRAGMENTS: dict[str, Obj] = {
    "scala": spec(),
    "java": spec(type="Java", mainClass="org.apache.spark.examples.JavaSparkPi"),
    "python": spec(
        type="Python",
        pythonVersion="3",
        mainClass=None,
        arguments=["10", "--verbose"],
        mainApplicationFile="local:///opt/spark/examples/src/main/python/pi.py",
    ),
    "r": spec(
        type="R",
        mainClass=None,
        arguments=None,
        mainApplicationFile="local:///opt/spark/examples/src/main/r/dataframe.R",
    ),
    "deps": spec(
        deps={
            "jars": ["local:///opt/spark/extra/a.jar", "https://repo.example/b.jar"],
            "files": ["local:///opt/spark/conf/x.conf", "https://files.example/y.txt"],
            "archives": ["https://files.example/env.tar.gz#environment"],
        }
    ),
    "py-files": spec(
        deps={"pyFiles": ["local:///opt/spark/python/lib/helpers.zip", "https://files.example/m.py"]}
    ),
    "packages": spec(
        deps={
            "packages": ["org.sparkfleet.conformance:tiny:1.0"],
            "excludePackages": ["org.unused:none"],
            "repositories": [LOCAL_REPOSITORY],
        },
        sparkConf={"spark.jars.ivySettings": "<ivy-settings>", "spark.jars.ivy": "<ivy-home>"},
    ),
    "resources": merge(
        driver(
            cores=2,
            coreLimit="2500m",
            coreRequest="1500m",
            memory="2g",
            memoryOverhead="700m",
            gpu={"name": "nvidia.com/gpu", "quantity": 1},
        ),
        executor(
            cores=3,
            coreLimit="3",
            coreRequest="2",
            memory="3g",
            memoryOverhead="1g",
            gpu={"name": "amd.com/gpu", "quantity": 2},
        ),
    ),
    "overhead-factor": merge(spec(memoryOverheadFactor="0.25"), both(memory="4g")),
    "volumes": merge(
        spec(
            volumes=[
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-pvc", "readOnly": True}},
                {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi", "medium": "Memory"}},
                {"name": "host", "hostPath": {"path": "/mnt/host", "type": "DirectoryOrCreate"}},
                {"name": "shared", "nfs": {"server": "nfs.example", "path": "/exports/spark"}},
                {"name": "unused", "emptyDir": {}},
            ]
        ),
        driver(
            volumeMounts=[
                {"name": "data", "mountPath": "/data", "readOnly": True},
                {"name": "scratch", "mountPath": "/scratch"},
                {"name": "host", "mountPath": "/host/sub", "subPath": "sub"},
            ]
        ),
        executor(
            volumeMounts=[
                {"name": "data", "mountPath": "/data", "readOnly": True},
                {"name": "shared", "mountPath": "/shared"},
            ]
        ),
    ),
    "local-dirs": merge(
        spec(
            volumes=[
                {"name": "spark-local-dir-1", "hostPath": {"path": "/mnt/fast-disk"}},
                {"name": "spark-local-dir-2", "emptyDir": {"sizeLimit": "5Gi"}},
            ]
        ),
        both(
            volumeMounts=[
                {"name": "spark-local-dir-1", "mountPath": "/local/one"},
                {"name": "spark-local-dir-2", "mountPath": "/local/two"},
            ]
        ),
    ),
    "secrets": merge(
        driver(
            secrets=[
                {"name": "creds", "path": "/mnt/creds", "secretType": "Generic"},
                {"name": "gcp-key", "path": "/mnt/gcp", "secretType": "GCPServiceAccount"},
            ]
        ),
        executor(
            secrets=[{"name": "hadoop-token", "path": "/mnt/token", "secretType": "HadoopDelegationToken"}]
        ),
    ),
    "config-maps": both(configMaps=[{"name": "extra-conf", "path": "/etc/extra"}]),
    "env": merge(
        both(
            envVars={"MODE": "batch", "LEVEL": "3"},
            envSecretKeyRefs={"DB_PASSWORD": {"name": "db", "key": "password"}},
            env=[
                {"name": "TZ", "value": "UTC"},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            ],
            envFrom=[{"configMapRef": {"name": "env-cm"}}, {"secretRef": {"name": "env-secret"}}],
        ),
    ),
    "spark-config-map": spec(sparkConfigMap="my-spark-conf"),
    "hadoop": spec(
        hadoopConfigMap="my-hadoop-conf",
        hadoopConf={"fs.s3a.endpoint": "http://minio:9000", "fs.s3a.path.style.access": "true"},
    ),
    "spark-conf": spec(
        sparkConf={
            "spark.eventLog.enabled": "true",
            "spark.sql.shuffle.partitions": "64",
            "spark.kubernetes.allocation.batch.size": "10",
        }
    ),
    "monitoring": spec(
        monitoring={
            "exposeDriverMetrics": True,
            "exposeExecutorMetrics": True,
            "prometheus": {"jmxExporterJar": "/prometheus/jmx_prometheus_javaagent.jar"},
        }
    ),
    "monitoring-custom": merge(
        spec(
            monitoring={
                "exposeDriverMetrics": True,
                "exposeExecutorMetrics": False,
                "metricsProperties": "*.sink.jmx.class=org.apache.spark.metrics.sink.JmxSink\n",
                "prometheus": {
                    "jmxExporterJar": "/opt/jmx.jar",
                    "port": 9123,
                    "portName": "metrics",
                    "configuration": "lowercaseOutputName: true\nrules:\n  - pattern: '.*'\n",
                },
            }
        ),
        driver(javaOptions="-XX:+UseG1GC"),
    ),
    "monitoring-files": spec(
        monitoring={
            "exposeDriverMetrics": True,
            "exposeExecutorMetrics": True,
            "metricsPropertiesFile": "/opt/spark/metrics/metrics.properties",
            "prometheus": {
                "jmxExporterJar": "/opt/jmx.jar",
                "configFile": "/opt/spark/metrics/prometheus.yaml",
            },
        }
    ),
    "dynamic": spec(
        dynamicAllocation={
            "enabled": True,
            "initialExecutors": 1,
            "minExecutors": 1,
            "maxExecutors": 8,
            "shuffleTrackingTimeout": 600,
        }
    ),
    "dynamic-no-tracking": spec(
        dynamicAllocation={"enabled": True, "maxExecutors": 4, "shuffleTrackingEnabled": False}
    ),
    "ui": spec(
        sparkConf={"spark.ui.port": "4050"},
        sparkUIOptions={
            "servicePort": 8080,
            "servicePortName": "http",
            "serviceType": "NodePort",
            "serviceAnnotations": {"ui.example/owner": "data"},
            "serviceLabels": {"ui": "yes"},
        },
    ),
    "scheduling": merge(
        spec(nodeSelector={"disktype": "ssd"}),
        driver(
            nodeSelector={"role": "driver"},
            tolerations=[TOLERATION],
            affinity=AFFINITY,
            priorityClassName="spark-high",
            schedulerName="custom-scheduler",
            terminationGracePeriodSeconds=45,
        ),
        executor(nodeSelector={"role": "executor"}, tolerations=[TOLERATION], affinity=AFFINITY),
    ),
    "security": merge(
        both(
            podSecurityContext={"runAsUser": 185, "runAsGroup": 185, "fsGroup": 185},
            securityContext={"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        ),
        spec(imagePullPolicy="Always", imagePullSecrets=["registry-a", "registry-b"]),
        driver(serviceAccount="spark-driver"),
        executor(serviceAccount="spark"),
    ),
    "labels": merge(
        {
            "metadata": {
                "labels": {"team": "data", "kueue.x-k8s.io/queue-name": "q"},
                "annotations": {"app.example/note": "not copied"},
            }
        },
        driver(
            labels={"version": "1"},
            annotations={"example.com/driver": "yes"},
            serviceLabels={"svc": "driver"},
            serviceAnnotations={"example.com/svc": "yes"},
        ),
        executor(labels={"version": "1", "tier": "compute"}, annotations={"example.com/executor": "yes"}),
    ),
    "containers": merge(
        driver(
            sidecars=[SIDECAR],
            initContainers=[INIT],
            hostNetwork=True,
            dnsConfig={"nameservers": ["10.0.0.10"], "options": [{"name": "ndots", "value": "2"}]},
            hostAliases=[{"ip": "10.1.2.3", "hostnames": ["db.example"]}],
            shareProcessNamespace=True,
            lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "sleep 5"]}}},
            ports=[{"name": "debug", "containerPort": 5005, "protocol": "TCP"}],
        ),
        executor(sidecars=[SIDECAR], ports=[{"name": "debug", "containerPort": 5005, "protocol": "TCP"}]),
    ),
    "templates": merge(
        driver(template=template("spark-kubernetes-driver")),
        executor(template=template("spark-kubernetes-executor")),
    ),
    "driver-options": driver(
        podName="custom-driver-pod",
        javaOptions="-Dfoo=bar -XX:+UseG1GC",
        kubernetesMaster="https://api.internal.example:6443",
    ),
    "proxy-user": spec(proxyUser="alice"),
    "spark-35": spec(sparkVersion="3.5.5"),
    "conf-resources": merge(
        driver(cores=None, memory=None),
        spec(
            sparkConf={
                "spark.driver.cores": "2",
                "spark.driver.memory": "2g",
                "spark.driver.memoryOverhead": "512m",
                "spark.kubernetes.driver.limit.cores": "3",
                "spark.kubernetes.memoryOverheadFactor": "0.3",
            }
        ),
    ),
    "precedence": merge(
        spec(
            sparkConf={
                "spark.executor.instances": "7",
                "spark.driver.memory": "3g",
                "spark.kubernetes.executor.deleteOnTermination": "true",
            }
        ),
        executor(deleteOnTermination=False),
    ),
}

CASES: list[Case] = [
    *(Case(name, patch) for name, patch in FRAGMENTS.items()),
    Case("long-name", {"metadata": {"name": "c-" + "long-application-name-" * 2 + "x" * 15}}),
    Case(
        "python-everything",
        merge(
            FRAGMENTS["python"],
            FRAGMENTS["py-files"],
            FRAGMENTS["env"],
            FRAGMENTS["monitoring"],
            FRAGMENTS["overhead-factor"],
        ),
    ),
]

LANGUAGES = ("scala", "java", "python", "r")
OPTIONAL = tuple(
    name for name in FRAGMENTS if name not in LANGUAGES and name not in ("packages", "proxy-user")
)


def generated(count: int = 6, seed: int = 13) -> list[Case]:
    """``count`` mixes of one language and three to five other fragments, the same for one seed."""
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        picked = [rng.choice(LANGUAGES), *rng.sample(OPTIONAL, rng.randint(3, 5))]
        cases.append(
            Case(f"mix{i}-" + "-".join(p[:4] for p in picked), merge(*(FRAGMENTS[p] for p in picked)))
        )
    return cases


def all_cases() -> list[Case]:
    return [*CASES, *generated()]
