"""The demo's live view: plain lines through a pipe, a table on a terminal; gone members stay, unheld counted."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from sparkfleet.demo.live import LiveView, render, status_line
from sparkfleet.demo.percentiles import summarize
from sparkfleet.demo.snapshot import Phase, Snapshot, member_shards, unheld_shards

STATUS: dict[str, Any] = {
    "shards": [
        {"name": "ns-1", "holder": "member-1", "phase": "Held"},
        {"name": "ns-2", "holder": "member-1", "phase": "Held"},
        {"name": "ns-3", "holder": "member-3", "phase": "Held"},
        {"name": "ns-4", "holder": "member-3", "desiredHolder": "member-1", "phase": "Moving"},
        {"name": "ns-5", "phase": "Unassigned"},
    ]
}


def snapshot(elapsed: float = 35.0, note: str = "") -> Snapshot:
    return Snapshot(
        elapsed=elapsed,
        total=400,
        states={
            "NEW": 10,
            "SUBMITTED": 30,
            "RUNNING": 100,
            "COMPLETED": 250,
            "FAILED": 8,
            "SUBMISSION_FAILED": 2,
        },
        submitted=390,
        submit=summarize([0.5, 1.8, 114.339]),
        status=summarize([0.019, 0.02]),
        members=member_shards(STATUS, ["member-1", "member-2", "member-3"]),
        gone={"member-2"},
        shards=len(STATUS["shards"]),
        unheld=unheld_shards(STATUS),
        note=note,
    )


def test_every_member_the_run_started_is_counted_even_one_holding_nothing() -> None:
    assert member_shards(STATUS, ["member-1", "member-2", "member-3"]) == {
        "member-1": 2,
        "member-2": 0,
        "member-3": 1,
    }


def test_a_holder_the_run_did_not_start_is_counted_too() -> None:
    assert member_shards(STATUS, ["member-3"]) == {"member-1": 2, "member-3": 1}


def test_moving_and_unassigned_shards_are_unheld() -> None:
    assert unheld_shards(STATUS) == 2
    assert unheld_shards({}) == 0


def test_a_status_line_is_plain_text_with_progress_members_and_unheld_shards() -> None:
    assert status_line(snapshot()) == (
        "[35 s] submitted 390/400, running 130, completed 250, failed 10; "
        "shards: member-1 2, member-2 (gone) 0, member-3 1, unheld 2/5"
    )


def test_a_status_line_carries_the_note() -> None:
    assert status_line(snapshot(note="killed member-2 (kill -9)")).endswith("; killed member-2 (kill -9)")


def test_through_a_pipe_the_view_prints_a_line_every_5_seconds_and_never_a_dict() -> None:
    out = io.StringIO()
    with LiveView(out) as view:
        assert not view.tty
        for second in range(1, 12):
            view.show(snapshot(elapsed=float(second)))
        lines = out.getvalue().splitlines()
    assert [line.split("]")[0] for line in lines] == ["[1.0 s", "[6.0 s", "[11 s"]
    assert all("{" not in line and "'" not in line for line in lines)


def test_through_a_pipe_a_note_is_printed_at_once() -> None:
    out = io.StringIO()
    with LiveView(out) as view:
        view.show(snapshot(elapsed=1.0))
        view.show(snapshot(elapsed=2.0, note="killed member-2 (kill -9)"))
        view.show(snapshot(elapsed=3.0))
        assert len(out.getvalue().splitlines()) == 2


def test_phases_are_a_line_each() -> None:
    out = io.StringIO()
    with LiveView(out) as view:
        view.show(Phase("measuring the API server's write ceiling"))
        view.show(Phase("stopping the control plane"))
    assert out.getvalue().splitlines() == [
        "measuring the API server's write ceiling ...",
        "stopping the control plane ...",
        "",  # the summary stands apart
    ]


def test_the_terminal_table_shows_gone_members_unheld_shards_and_readable_latencies() -> None:
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(render(snapshot()))
    text = console.export_text()
    assert "member-2 (gone)" in text
    assert "unheld" in text
    assert "2/5" in text
    assert "1 min 54 s" in text
    assert "19 ms" in text
    assert "114339" not in text
