"""make bench's results page: rendered from the JSON, every latency a percentile of observed samples."""

from __future__ import annotations

from typing import Any

from bench.seed import COLUMNS, markdown
from sparkfleet.demo.percentiles import summarize


def run(instances: int) -> dict[str, Any]:
    return {
        "instances": instances,
        "workload": {"executors": [1, 10], "app_run_time_seconds": [10.0, 30.0], "arrival_per_minute": None},
        "apps_total": 400,
        "apps_lost": 0,
        "submit_latency_seconds": summarize([4.8] * 395 + [9.0] * 5),
        "first_status_latency_seconds": summarize([5.0] * 399 + [46.0]),
        "status_latency_seconds": summarize([0.019] * 989 + [0.324] * 11),
    }


def test_the_page_has_no_bucket_derived_queue_figure() -> None:
    header = markdown({"name": "seed", "runs": [run(1), run(4)]}).splitlines()[2]
    assert "queue" not in header
    assert all("queue_duration" not in key for _, key in COLUMNS)


def test_the_page_is_rendered_from_the_json_with_observed_percentiles() -> None:
    lines = markdown({"name": "seed", "runs": [run(1), run(4)]}).splitlines()
    assert lines[0] == "# seed: 400 applications, executors 1-10, run time 10-30s"
    header = [cell.strip() for cell in lines[2].strip("|").split("|")]
    first = [cell.strip() for cell in lines[4].strip("|").split("|")]
    row = dict(zip(header, first, strict=True))
    assert row["instances"] == "1"
    assert row["submit p99 s"] == "9"
    assert row["first status p99 s"] == "5"  # 46 s is the max, one sample in 400: not the p99
    assert row["status p99 s"] == "0.324"
    assert "percentiles (nearest rank) of what the benchmark observed per application" in "\n".join(lines)
