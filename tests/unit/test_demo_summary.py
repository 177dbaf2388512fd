"""The demo's closing summary: a person's text from the run's report (outcomes, latencies, failover, fleet)."""

from __future__ import annotations

from typing import Any

from sparkfleet.demo.percentiles import summarize
from sparkfleet.demo.runner import fleet_at_end
from sparkfleet.demo.snapshot import Snapshot
from sparkfleet.demo.summary import render


def end_of_workload(**changes: Any) -> Snapshot:
    snapshot = Snapshot(
        elapsed=74.2,
        total=400,
        states={"COMPLETED": 396, "FAILED": 1, "RUNNING": 2},
        submitted=400,
        submit={},
        status={},
        members={"member-1": 14, "member-2": 0, "member-3": 13},
        gone={"member-2"},
        shards=40,
        unheld=13,
    )
    for name, value in changes.items():
        setattr(snapshot, name, value)
    return snapshot


def report(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "instances": 3,
        "workload": {"namespaces": 40, "apps_per_namespace": 10},
        "apps_total": 400,
        "apps_completed": 396,
        "apps_failed": 2,
        "apps_lost": 2,
        "apps_by_state": {"COMPLETED": 396, "FAILED": 1, "SUBMISSION_FAILED": 1, "RUNNING": 2},
        "overlaps": 0,
        "submit_latency_seconds": summarize([1.8] * 300 + [4.2] * 99 + [114.339]),
        "first_status_latency_seconds": summarize([2.0] * 400),
        "status_latency_seconds": summarize([0.019] * 1000 + [0.45] * 20),
        "submissions_per_minute": 2500.4,
        "makespan_seconds": 74.2,
        "failover_seconds": 8.31,
        "failover": {"killed": "member-2", "killed_after_seconds": 40.0, "takeover_seconds": 8.31},
        "fleet_at_end": fleet_at_end(end_of_workload()),
    }
    base.update(changes)
    return base


def test_the_summary_is_text_for_a_person_not_json() -> None:
    text = render(report())
    assert "{" not in text
    assert '"' not in text
    assert text.startswith("400 applications in 40 namespaces, 3 instance(s): the workload took 1 min 14 s")
    assert "(2500 submissions/min)" in text


def test_applications_are_counted_by_outcome() -> None:
    lines = render(report()).splitlines()
    start = lines.index("OUTCOME                 APPLICATIONS")
    assert lines[start : start + 6] == [
        "OUTCOME                 APPLICATIONS",
        "completed               396",
        "failed                  1",
        "submission failed       1",
        "lost (never finished)   2",
        "total                   400",
    ]
    assert "lost applications were last seen as: RUNNING 2" in lines
    assert "overlaps (two members on one application at once): 0" in lines


def test_applications_never_seen_are_said_among_the_lost() -> None:
    text = render(report(apps_lost=3, apps_total=401))
    assert "lost applications were last seen as: RUNNING 2, never seen 1" in text


def test_latencies_are_percentiles_in_readable_units_with_their_sample_counts() -> None:
    lines = render(report()).splitlines()
    start = lines.index("LATENCY (OBSERVED)       SAMPLES   P50     P90     P99      MAX")
    assert lines[start + 1 : start + 4] == [
        "create -> driver pod     400       1.8 s   4.2 s   4.2 s    1 min 54 s",
        "create -> first status   400       2.0 s   2.0 s   2.0 s    2.0 s",
        "pod phase -> status      1020      19 ms   19 ms   450 ms   450 ms",
    ]
    assert "114339" not in "\n".join(lines)


def test_a_latency_with_no_samples_shows_dashes() -> None:
    text = render(report(first_status_latency_seconds=summarize([])))
    line = next(line for line in text.splitlines() if line.startswith("create -> first status"))
    assert line.split()[-5:] == ["0", "-", "-", "-", "-"]


def test_failover_says_who_was_killed_when_and_how_long_the_takeover_took() -> None:
    text = render(report())
    assert (
        "failover: member-2 killed (kill -9) 40 s into the run; every shard was held by a live member "
        in text
    )
    assert "8.3 s later" in text


def test_a_takeover_that_never_finished_is_said() -> None:
    kill = {"killed": "member-2", "killed_after_seconds": 40.0, "takeover_seconds": None}
    assert "its shards were not all taken over before the workload ended" in render(report(failover=kill))


def test_without_a_kill_the_summary_says_how_to_ask_for_one() -> None:
    assert "failover: no member was killed (--kill-one-at SECONDS" in render(report(failover=None))


def test_members_gone_are_shown_as_gone_and_unheld_shards_are_counted() -> None:
    lines = render(report()).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("MEMBER (AS THE WORKLOAD ENDED)"))
    assert [line.split() for line in lines[start + 1 : start + 4]] == [
        ["member-1", "running", "14"],
        ["member-2", "gone", "0"],
        ["member-3", "running", "13"],
    ]
    assert lines[start + 4] == "shards: 40, unheld 13"


def test_the_fleet_at_the_end_in_the_report_has_typed_fields() -> None:
    end = fleet_at_end(end_of_workload())
    assert end == {
        "members": [
            {"identity": "member-1", "shards": 14, "gone": False},
            {"identity": "member-2", "shards": 0, "gone": True},
            {"identity": "member-3", "shards": 13, "gone": False},
        ],
        "shards": 40,
        "unheld_shards": 13,
    }
