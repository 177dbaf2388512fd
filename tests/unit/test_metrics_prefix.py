"""--metrics-prefix (the Spark Operator chart's prometheus.metrics.prefix) renames only the Spark metrics."""

from __future__ import annotations

import pytest

from sparkfleet.server import StatusServer, with_prefix

PAGE = b"""# HELP spark_application_count Total number of SparkApplications handled
# TYPE spark_application_count gauge
spark_application_count{namespace="a"} 3.0
# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{controller="c",name="c"} 0.0
spark_executor_running_count{namespace="a"} 2.0
"""


def test_prefix_applies_to_spark_metrics_only() -> None:
    out = with_prefix(PAGE, "team_a_").decode()
    assert "# TYPE team_a_spark_application_count gauge" in out
    assert 'team_a_spark_application_count{namespace="a"} 3.0' in out
    assert 'team_a_spark_executor_running_count{namespace="a"} 2.0' in out
    assert 'workqueue_depth{controller="c",name="c"} 0.0' in out
    assert "team_a_workqueue" not in out
    assert with_prefix(PAGE, "") == PAGE


def test_a_prefix_that_cannot_start_a_metric_name_is_refused() -> None:
    with pytest.raises(ValueError, match="metrics-prefix"):
        StatusServer(metrics_prefix="team-a-")
