"""The argument lists the Kubeflow Spark Operator's chart v2.5.2 renders for its controller.

Read from its ``templates/controller/deployment.yaml`` for its default values
(tests/fixtures/kubeflow-v2.5.2/chart-values.yaml; release and namespace ``spark-operator``) and for a
values file with every controller option turned on. What the image runs is ``controller start``
followed by these.
"""

DEFAULT = [
    "--zap-log-level=info", "--zap-encoder=console", "--namespaces=default", "--controller-threads=10",
    "--enable-ui-service=true", "--enable-metrics=true", "--metrics-bind-address=:8080",
    "--metrics-endpoint=/metrics", "--metrics-prefix=", "--metrics-labels=app_type",
    "--metrics-job-submit-latency-buckets=0.5,1,2,4,8,16,32,64,128,256",
    "--metrics-job-start-latency-buckets=30,60,90,120,150,180,210,240,270,300",
    "--leader-election=true", "--leader-election-lock-name=spark-operator-controller-lock",
    "--leader-election-lock-namespace=spark-operator", "--leader-election-lease-duration=15s",
    "--leader-election-renew-deadline=10s", "--leader-election-retry-period=2s",
    "--workqueue-ratelimiter-bucket-qps=50", "--workqueue-ratelimiter-bucket-size=500",
    "--workqueue-ratelimiter-max-delay=6h", "--driver-pod-creation-grace-period=10s",
    "--max-tracked-executor-per-app=1000", "--kube-api-qps=20", "--kube-api-burst=30",
    "--scheduled-spark-application-timestamp-precision=nanos",
    "--feature-gates=PartialRestart=false,LoadSparkDefaults=false",
]  # fmt: skip
# Every controller value set: all namespaces (the chart's --namespaces=""), a namespace selector, UI
# ingress with TLS and annotations, batch schedulers, pprof, debug JSON logs, no leader election.
LOADED = [
    "--zap-log-level=debug", "--zap-encoder=json", '--namespaces=""', "--namespace-selector=spark=enabled",
    "--controller-threads=32", "--enable-ui-service=false",
    "--ingress-url-format={{$appName}}.ingress.example.com", "--ingress-class-name=nginx",
    '--ingress-tls=[{"hosts":["*.example.com"],"secretName":"tls"}]',
    '--ingress-annotations={"cert-manager.io/cluster-issuer":"letsencrypt"}',
    "--enable-batch-scheduler=true", "--kube-scheduler-names=scheduler-a,scheduler-b",
    "--default-batch-scheduler=volcano", "--enable-metrics=true", "--metrics-bind-address=:9090",
    "--metrics-endpoint=/metrics", "--metrics-prefix=team_", "--metrics-labels=app_type",
    "--metrics-job-submit-latency-buckets=1,2", "--metrics-job-start-latency-buckets=10,20",
    "--leader-election=false", "--pprof-bind-address=:6060", "--workqueue-ratelimiter-bucket-qps=25",
    "--workqueue-ratelimiter-bucket-size=250", "--workqueue-ratelimiter-max-delay=1h",
    "--driver-pod-creation-grace-period=30s", "--max-tracked-executor-per-app=200", "--kube-api-qps=40",
    "--kube-api-burst=60", "--scheduled-spark-application-timestamp-precision=seconds",
    "--feature-gates=PartialRestart=true,LoadSparkDefaults=true",
]  # fmt: skip

# The controller's permissions in the job namespaces, as Kubeflow's chart v2.5.2 grants them
# (templates/controller/_helpers.tpl, "spark-operator.controller.policyRules"): what a takeover that
# swaps the image runs under.
CONTROLLER_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "create", "update", "delete"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update", "patch"]},
    {"apiGroups": [""], "resources": ["services"],
     "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "update", "patch"]},
    {"apiGroups": ["extensions", "networking.k8s.io"], "resources": ["ingresses"],
     "verbs": ["get", "create", "update", "delete"]},
    {"apiGroups": ["sparkoperator.k8s.io"], "resources": ["sparkapplications"],
     "verbs": ["get", "list", "watch", "create", "delete"]},
    {"apiGroups": ["sparkoperator.k8s.io"], "resources": ["scheduledsparkapplications", "sparkconnects"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["sparkoperator.k8s.io"],
     "resources": ["sparkapplications/status", "sparkconnects/status", "scheduledsparkapplications/status"],
     "verbs": ["update"]},
    # What lets its objects' references block their owners' deletion (OwnerReferencesPermissionEnforcement).
    {"apiGroups": ["sparkoperator.k8s.io"], "resources": ["sparkapplications/finalizers"], "verbs": ["update"]},
    {"apiGroups": ["sparkoperator.k8s.io"], "resources": ["scheduledsparkapplications/finalizers"],
     "verbs": ["update"]},
    {"apiGroups": ["sparkoperator.k8s.io"], "resources": ["sparkconnects/finalizers"], "verbs": ["update"]},
]  # fmt: skip
# And cluster-wide, whatever the job namespaces (templates/controller/rbac.yaml, its ClusterRole).
CLUSTER_RULES = [
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["get"]}
]
