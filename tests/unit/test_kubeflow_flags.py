"""The Kubeflow Spark Operator's controller flags (v2.5.2) are read by ``sparkfleet run``.

The argument lists are what Kubeflow's chart v2.5.2 renders in its controller Deployment
(tests/examples/kubeflow_chart_args.py). Each must parse as ``sparkfleet run``'s flags, with what it
sets carried over and what it drops named in a warning.
"""

from __future__ import annotations

import pytest

from sparkfleet.kubeflow_flags import DROPPED, controller_start, translate
from tests.examples.kubeflow_chart_args import DEFAULT, LOADED
from tests.support import run_params as parsed


def test_the_charts_default_arguments_start_sparkfleet_as_they_started_kubeflow() -> None:
    result = translate(controller_start(DEFAULT))
    params = parsed(result.argv)
    assert params["health_probe_bind_address"] == ":8081"  # where its chart's probes ask
    assert params["scheduled_spark_application_timestamp_precision"] == "nanos"
    assert params["log_level"] == "info"
    assert params["log_format"] == "text"
    assert params["namespaces"] == ["default"]
    assert params["concurrent_syncs"] == 10
    assert params["enable_ui_service"] is True
    assert params["metrics_bind_address"] == ":8080"
    assert params["leader_elect"] is True
    assert params["leader_election_lock_name"] == "spark-operator-controller-lock"
    assert params["leader_election_lock_namespace"] == "spark-operator"
    assert (params["leader_election_lease_duration"], params["leader_election_renew_deadline"],
            params["leader_election_retry_period"]) == ("15s", "10s", "2s")  # fmt: skip
    assert (params["workqueue_ratelimiter_bucket_qps"], params["workqueue_ratelimiter_bucket_size"]) == (
        50,
        500,
    )
    assert params["workqueue_ratelimiter_max_delay"] == "6h"
    assert params["max_tracked_executor_per_app"] == 1000
    assert params["driver_pod_creation_grace_period"] == "10s"
    assert (params["kube_api_qps"], params["kube_api_burst"]) == (20, 30)
    dropped = {w.split(":", 1)[0] for w in result.warnings}
    assert dropped == {"--enable-metrics", "--metrics-endpoint", "--feature-gates"}
    # read now (issue 19): Kubeflow's chart's defaults, its labels' default (app_type) included
    assert params["metrics_labels"] == ["app_type"]
    assert params["metrics_job_submit_latency_buckets"] == "0.5,1,2,4,8,16,32,64,128,256"


def test_controller_start_serves_probes_where_the_spark_operator_did_unless_told() -> None:
    assert controller_start(["--zap-log-level=info"]) == [
        "--zap-log-level=info",
        "--health-probe-bind-address=:8081",
    ]
    given = ["--health-probe-bind-address=127.0.0.1:9443"]
    assert controller_start(given) == given
    assert parsed([])["health_probe_bind_address"] == ""  # sparkfleet run: on the metrics address only


def test_a_fully_loaded_values_file_parses_and_names_what_it_drops() -> None:
    result = translate(LOADED)
    params = parsed(result.argv)
    assert params["namespaces"] is None  # --namespaces="": every namespace
    assert params["log_level"] == "debug"
    assert params["log_format"] == "json"
    assert params["enable_ui_service"] is False
    assert params["leader_elect"] is False
    assert params["metrics_prefix"] == "team_"
    assert params["concurrent_syncs"] == 32
    assert params["driver_pod_creation_grace_period"] == "30s"
    assert params["scheduled_spark_application_timestamp_precision"] == "seconds"
    assert params["max_tracked_executor_per_app"] == 200
    for warning in result.warnings:
        assert ": accepted and ignored: " in warning
    assert {w.split(":", 1)[0] for w in result.warnings} >= {
        "--namespace-selector", "--pprof-bind-address", "--feature-gates",
    }  # fmt: skip
    # the batch scheduler flags are read (issue 19): Kubeflow's names, its comma list included
    assert not {w.split(":", 1)[0] for w in result.warnings} & {
        "--enable-batch-scheduler", "--kube-scheduler-names", "--default-batch-scheduler",
    }  # fmt: skip
    assert params["enable_batch_scheduler"] is True
    assert params["kube_scheduler_names"] == ["scheduler-a,scheduler-b"]
    assert params["default_batch_scheduler"] == "volcano"
    # the UI Ingress flags pass through: sparkfleet creates the Ingress as the Spark Operator does
    assert not {w.split(":", 1)[0] for w in result.warnings} & {
        "--ingress-url-format", "--ingress-class-name", "--ingress-tls", "--ingress-annotations",
    }  # fmt: skip
    assert params["ingress_url_format"] == "{{$appName}}.ingress.example.com"
    assert params["ingress_class_name"] == "nginx"
    assert params["ingress_tls"] == '[{"hosts":["*.example.com"],"secretName":"tls"}]'
    assert params["ingress_annotations"] == '{"cert-manager.io/cluster-issuer":"letsencrypt"}'


def test_sparkfleets_own_flags_pass_through_untouched() -> None:
    own = ["--fleet", "spark", "--identity=m1", "--concurrent-syncs", "4", "--log-format", "json"]
    assert translate(own).argv == own
    assert translate(["--leader-election"]).argv == ["--leader-elect"]
    assert translate(["--enable-ui-service", "--namespaces=a,b"]).argv == [
        "--enable-ui-service", "--namespaces=a", "--namespaces=b",
    ]  # fmt: skip
    assert translate(["--cache-sync-timeout", "30s", "--kube-api-qps", "5"]).argv == ["--kube-api-qps", "5"]


@pytest.mark.parametrize(
    ("args", "flag"),
    [(["--leader-election=maybe"], "--leader-election"), (["--zap-log-level=loud"], "--zap-log-level"),
     (["--zap-encoder=xml"], "--zap-encoder")],
)  # fmt: skip
def test_unreadable_values_name_the_flag(args: list[str], flag: str) -> None:
    with pytest.raises(ValueError, match=rf"^{flag}: "):
        translate(args)


def test_every_dropped_flag_says_what_stands_in_for_it() -> None:
    for flag, why in DROPPED.items():
        assert translate([f"{flag}=x"]).warnings == [f"{flag}: accepted and ignored: {why}"]
