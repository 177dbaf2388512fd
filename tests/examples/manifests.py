"""SparkApplication manifests in the shapes users write them for the Kubeflow Spark Operator."""

from __future__ import annotations

from typing import Any


def spark_pi(name: str = "spark-pi", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "type": "Scala",
            "mode": "cluster",
            "image": "spark:3.5.5",
            "imagePullPolicy": "IfNotPresent",
            "mainClass": "org.apache.spark.examples.SparkPi",
            "mainApplicationFile": "local:///opt/spark/examples/jars/spark-examples.jar",
            "arguments": ["5000"],
            "sparkVersion": "3.5.5",
            "driver": {"cores": 1, "memory": "512m", "serviceAccount": "spark-operator-spark",
                       "labels": {"version": "3.5.5"}},
            "executor": {"instances": 2, "cores": 1, "memory": "512m", "labels": {"version": "3.5.5"}},
        },
    }  # fmt: skip


def pyspark(name: str = "pyspark-pi", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "data"}},
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "image": "spark:3.5.5-python3",
            "mainApplicationFile": "local:///opt/spark/examples/src/main/python/pi.py",
            "sparkVersion": "3.5.5",
            "restartPolicy": {
                "type": "OnFailure",
                "onFailureRetries": 3,
                "onFailureRetryInterval": 10,
                "onSubmissionFailureRetries": 5,
                "onSubmissionFailureRetryInterval": 20,
            },
            "timeToLiveSeconds": 3600,
            "driver": {"cores": 1, "coreLimit": "1200m", "memory": "1g", "serviceAccount": "spark"},
            "executor": {"instances": 1, "cores": 1, "memory": "1g"},
        },
    }


def everything(name: str = "kitchen-sink", namespace: str = "default") -> dict[str, Any]:
    """Most of v1beta2, core types included, plus fields from a Kubeflow version newer than ours."""
    app = spark_pi(name, namespace)
    spec = app["spec"]
    spec.update(
        {
            "sparkConf": {"spark.eventLog.enabled": "true", "spark.sql.shuffle.partitions": "64"},
            "hadoopConf": {"fs.s3a.endpoint": "http://minio:9000"},
            "sparkConfigMap": "spark-conf",
            "hadoopConfigMap": "hadoop-conf",
            "imagePullSecrets": ["registry"],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
            "deps": {"jars": ["local:///opt/extra.jar"], "packages": ["org.apache.hadoop:hadoop-aws:3.3.4"],
                     "repositories": ["https://repo.example/maven"]},
            "nodeSelector": {"disktype": "ssd"},
            "memoryOverheadFactor": "0.2",
            "monitoring": {"exposeDriverMetrics": True, "exposeExecutorMetrics": True,
                           "prometheus": {"jmxExporterJar": "/prometheus/jmx_prometheus_javaagent.jar",
                                          "port": 8090}},
            "batchScheduler": "volcano",
            "batchSchedulerOptions": {"queue": "default", "resources": {"cpu": "2", "memory": "4Gi"}},
            "sparkUIOptions": {"servicePort": 4041, "serviceType": "ClusterIP",
                               "ingressAnnotations": {"kubernetes.io/ingress.class": "nginx"},
                               "ingressTLS": [{"hosts": ["ui.example"], "secretName": "ui-tls"}]},
            "dynamicAllocation": {"enabled": True, "initialExecutors": 2, "minExecutors": 1, "maxExecutors": 10,
                                  "shuffleTrackingEnabled": True},
            "futureKubeflowField": {"anything": ["goes", 1, True]},
        }
    )  # fmt: skip
    spec["driver"].update(
        {
            "env": [{"name": "TZ", "value": "UTC"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "envFrom": [{"configMapRef": {"name": "env"}}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "tolerations": [{"key": "spark", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["spark"]}]}]}}},
            "sidecars": [{"name": "log-shipper", "image": "fluent-bit:3", "resources": {"limits": {"cpu": "100m"}}}],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
            "podSecurityContext": {"runAsUser": 185, "fsGroup": 185},
            "securityContext": {"allowPrivilegeEscalation": False},
            "annotations": {"prometheus.io/scrape": "true"},
            "configMaps": [{"name": "extra", "path": "/etc/extra"}],
            "secrets": [{"name": "gcp", "path": "/mnt/secrets", "secretType": "GCPServiceAccount"}],
            "gpu": {"name": "nvidia.com/gpu", "quantity": 1},
            "javaOptions": "-XX:+UseG1GC",
            "ports": [{"name": "jmx", "protocol": "TCP", "containerPort": 9999}],
            "priorityClassName": "high",
            "terminationGracePeriodSeconds": 60,
            "template": {"metadata": {"labels": {"from-template": "yes"}},
                         "spec": {"containers": [{"name": "spark-kubernetes-driver"}]}},
        }
    )  # fmt: skip
    spec["executor"].update(
        {"deleteOnTermination": False, "coreRequest": "500m", "memoryOverhead": "1g",
         "envVars": {"MODE": "batch"}, "hostNetwork": False, "schedulerName": "volcano"}
    )  # fmt: skip
    return app


def with_status(app: dict[str, Any]) -> dict[str, Any]:
    app = dict(app)
    app["status"] = {
        "sparkApplicationId": "spark-5f1d6e0c8e7d4b7a9c1f2e3d4c5b6a79",
        "submissionID": "5b8a1c2d-1111-4222-8333-944445555666",
        "lastSubmissionAttemptTime": "2026-11-24T03:00:00Z",
        "terminationTime": "2026-11-24T03:05:00Z",
        "driverInfo": {"webUIServiceName": "spark-pi-ui-svc", "webUIPort": 4040, "webUIAddress": "10.0.0.12:4040",
                       "podName": "spark-pi-driver"},
        "applicationState": {"state": "COMPLETED"},
        "executorState": {"spark-pi-exec-1": "COMPLETED", "spark-pi-exec-2": "FAILED"},
        "executionAttempts": 1,
        "submissionAttempts": 1,
    }  # fmt: skip
    return app


def scheduled(name: str = "nightly", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "ScheduledSparkApplication",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedule": "@every 5m",
            "timeZone": "Europe/Paris",
            "concurrencyPolicy": "Forbid",
            "successfulRunHistoryLimit": 3,
            "failedRunHistoryLimit": 1,
            "template": spark_pi()["spec"],
        },
    }
