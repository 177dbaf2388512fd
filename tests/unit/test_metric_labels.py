"""--metrics-labels and the latency buckets (Kubeflow's internal/metrics/sparkapplication_metrics.go):
the labels' mapping and its bound, the buckets' parsing, and what one reconcile's change records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from sparkfleet.operator.spark import metrics
from sparkfleet.operator.spark.metric_labels import (
    KUBEFLOW_START_BUCKETS,
    KUBEFLOW_SUBMIT_BUCKETS,
    OVERFLOW,
    UNKNOWN,
    LabelSets,
    label_names,
    parse_buckets,
)
from sparkfleet.options import RunOptions

NOW = 1_800_000_000.0


@pytest.fixture
def configured() -> Iterator[None]:
    metrics.configure(label_names(["app_type", "team-name"]), (1.0, 5.0), (10.0, 100.0))
    yield
    metrics.configure()  # the defaults, for every other test


def test_label_names_are_kubeflows_with_namespace_always_first() -> None:
    assert label_names([]) == ("namespace",)
    assert label_names(["app_type,team-name", "namespace", "app_type"]) == (
        "namespace",
        "app_type",
        "team_name",
    )


@pytest.mark.parametrize("bad", ["app.kubernetes.io/name", "9lives", "__name", "le", "quantile", "a b"])
def test_a_label_no_metric_can_carry_is_refused_naming_the_flag(bad: str) -> None:
    with pytest.raises(ValueError, match=f"--metrics-labels: {bad!r}"):
        label_names([bad])


def test_values_come_from_the_applications_labels_unknown_when_missing() -> None:
    sets = LabelSets(("namespace", "app_type", "team_name"))
    assert sets.values("etl", {"app_type": "batch", "team-name": "data"}) == ("etl", "batch", "data")
    assert sets.values("etl", None) == ("etl", UNKNOWN, UNKNOWN)
    # a key written with '_' wins over one that only becomes it
    assert sets.values("etl", {"team-name": "a", "team_name": "b"})[2] == "b"


def test_the_label_sets_are_bounded_per_namespace_and_in_all() -> None:
    sets = LabelSets(("namespace", "run"), max_per_namespace=3, max_sets=5)
    assert [sets.values("noisy", {"run": str(i)}) for i in range(5)] == [
        ("noisy", "0"), ("noisy", "1"), ("noisy", "2"), ("noisy", OVERFLOW), ("noisy", OVERFLOW),
    ]  # fmt: skip
    assert sets.values("noisy", {"run": "1"}) == ("noisy", "1")  # one already exported stays
    assert sets.values("quiet", {"run": "x"}) == ("quiet", "x")  # the noisy one cost it nothing
    assert sets.values("quiet", {"run": "y"}) == ("quiet", "y")
    assert sets.values("third", {"run": "z"}) == ("third", OVERFLOW)  # 5 sets in all
    assert sets.overflowed == {"noisy", "third"}


def test_namespace_only_is_not_bounded() -> None:
    sets = LabelSets(max_per_namespace=1, max_sets=1)
    assert [sets.values(f"ns{i}", {"run": str(i)}) for i in range(3)] == [("ns0",), ("ns1",), ("ns2",)]


def test_buckets_are_parsed_as_kubeflows_float_slice() -> None:
    assert parse_buckets("0.5,1,2,4,8,16,32,64,128,256") == KUBEFLOW_SUBMIT_BUCKETS
    assert parse_buckets(" 30, 60 ,90,120,150,180,210,240,270,300") == KUBEFLOW_START_BUCKETS


@pytest.mark.parametrize(("bad", "why"), [("", "no bucket"), ("1,x", "numbers"), ("2,1", "increase"),
                                          ("1,1", "increase"), ("1,inf", "finite")])  # fmt: skip
def test_bad_buckets_are_refused_naming_the_flag(bad: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"--metrics-job-start-latency-buckets: .*{why}"):
        parse_buckets(bad, "--metrics-job-start-latency-buckets")


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.usefixtures("configured")
def test_first_submission_and_first_run_are_observed_with_the_labels_and_buckets() -> None:
    app = {"app_type": "batch"}
    labels = {"namespace": "etl", "app_type": "batch", "team_name": UNKNOWN}
    metrics.record("etl", "", "SUBMITTED", {}, {}, created=NOW - 3, submitted=NOW, now=NOW, labels=app,
                   submission_attempts=1)  # fmt: skip
    assert sample("spark_application_submit_count", **labels) == 1
    assert sample("spark_application_submit_latency_seconds_count", **labels) == 1
    assert sample("spark_application_submit_latency_seconds_sum", **labels) == 3
    assert sample("spark_application_submit_latency_seconds_histogram_bucket", le="1.0", **labels) == 0
    assert sample("spark_application_submit_latency_seconds_histogram_bucket", le="5.0", **labels) == 1
    metrics.record("etl", "SUBMITTED", "RUNNING", {}, {}, created=NOW - 50, submitted=NOW, now=NOW, labels=app,
                   submission_attempts=1, execution_attempts=1)  # fmt: skip
    assert sample("spark_application_start_latency_seconds_histogram_bucket", le="10.0", **labels) == 0
    assert sample("spark_application_start_latency_seconds_histogram_bucket", le="100.0", **labels) == 1
    assert sample("spark_application_start_latency_seconds_count", **labels) == 1
    # a rerun: counted, but its latencies are not Kubeflow's (from creation): not observed
    metrics.record("etl", "PENDING_RERUN", "SUBMITTED", {}, {}, created=NOW - 500, submitted=NOW, now=NOW,
                   labels=app, submission_attempts=2, execution_attempts=1)  # fmt: skip
    metrics.record("etl", "SUBMITTED", "RUNNING", {}, {}, created=NOW - 500, submitted=NOW, now=NOW, labels=app,
                   submission_attempts=2, execution_attempts=2)  # fmt: skip
    assert sample("spark_application_submit_count", **labels) == 2
    assert sample("spark_application_submit_latency_seconds_histogram_count", **labels) == 1
    assert sample("spark_application_start_latency_seconds_histogram_count", **labels) == 1


@pytest.mark.usefixtures("configured")
def test_failed_submissions_are_counted() -> None:
    metrics.record("etl", "", "SUBMISSION_FAILED", {}, {}, created=NOW, submitted=NOW, now=NOW, labels=None)
    assert sample("spark_application_failed_submission_count", namespace="etl", app_type=UNKNOWN,
                  team_name=UNKNOWN) == 1  # fmt: skip


def test_the_defaults_label_by_namespace_only_with_kubeflows_buckets() -> None:
    metrics.record("plain", "", "SUBMITTED", {}, {}, created=NOW - 1, submitted=NOW, now=NOW)
    assert (
        sample("spark_application_submit_latency_seconds_histogram_bucket", namespace="plain", le="0.5") == 0
    )
    assert (
        sample("spark_application_submit_latency_seconds_histogram_bucket", namespace="plain", le="256.0")
        == 1
    )


def test_the_flags_configure_the_metrics() -> None:
    options = RunOptions.from_flags(
        {"metrics_labels": ["app_type"], "metrics_job_start_latency_buckets": "1,2"}
    )
    try:
        options.observability.configure_spark_metrics()
        assert metrics.current().labels == ("namespace", "app_type")
        assert metrics.current().start_latency_histogram._upper_bounds == [1.0, 2.0, float("inf")]
    finally:
        metrics.configure()
