"""The demo's view: a table redrawn every second on a terminal, a plain line every 5 s through a pipe.

Both show every member the run started: one that was killed stays, marked
gone, with the shards the fleet's status still gives it; shards no member
holds are counted as unheld.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from sparkfleet.demo.snapshot import Phase, Snapshot
from sparkfleet.demo.units import duration

ORDER = ("NEW", "SUBMITTED", "RUNNING", "SUCCEEDING", "FAILING", "COMPLETED", "FAILED", "SUBMISSION_FAILED")
FINISHED_OK = ("COMPLETED",)
FINISHED_FAILED = ("FAILED", "SUBMISSION_FAILED")
LINE_EVERY = 5.0
"""Seconds between two plain lines (a line with a note is printed at once)."""


def counts(snapshot: Snapshot) -> tuple[int, int, int]:
    """Running (submitted, not finished), completed, failed."""
    completed = sum(snapshot.states.get(s, 0) for s in FINISHED_OK)
    failed = sum(snapshot.states.get(s, 0) for s in FINISHED_FAILED)
    running = sum(n for s, n in snapshot.states.items() if s not in (*FINISHED_OK, *FINISHED_FAILED, "NEW"))
    return running, completed, failed


def member_label(snapshot: Snapshot, member: str) -> str:
    return f"{member} (gone)" if member in snapshot.gone else member


def status_line(snapshot: Snapshot) -> str:
    """One plain line: elapsed, applications by progress, each member's shards, unheld shards, the note."""
    running, completed, failed = counts(snapshot)
    members = ", ".join(f"{member_label(snapshot, m)} {n}" for m, n in snapshot.members.items())
    line = (
        f"[{duration(snapshot.elapsed)}] submitted {snapshot.submitted}/{snapshot.total}, "
        f"running {running}, completed {completed}, failed {failed}; "
        f"shards: {members or 'no members'}, unheld {snapshot.unheld}/{snapshot.shards}"
    )
    return f"{line}; {snapshot.note}" if snapshot.note else line


def render(snapshot: Snapshot) -> Group:
    states = Table(title=f"applications ({snapshot.total}) at {duration(snapshot.elapsed)}", expand=False)
    for state in ORDER:
        if snapshot.states.get(state):
            states.add_column(state, justify="right")
    states.add_row(*(str(snapshot.states[s]) for s in ORDER if snapshot.states.get(s)))
    running, completed, failed = counts(snapshot)
    done = completed + failed
    rate = done / snapshot.elapsed * 60 if snapshot.elapsed > 0 else 0.0
    latency = Table(title="latency (observed)", expand=False)
    for column in ("", "p50", "p90", "p99", "max"):
        latency.add_column(column, justify="right")
    for label, figures in (
        ("create -> driver pod", snapshot.submit),
        ("pod phase -> status", snapshot.status),
    ):
        latency.add_row(label, *(duration(_seconds(figures.get(k))) for k in ("p50", "p90", "p99", "max")))
    members = Table(title="members: shards held", expand=False)
    for member in snapshot.members:
        members.add_column(member_label(snapshot, member), justify="right")
    members.add_column("unheld", justify="right")
    members.add_row(*(str(n) for n in snapshot.members.values()), f"{snapshot.unheld}/{snapshot.shards}")
    lines: list[Any] = [states, latency, members]
    lines.append(
        f"submitted {snapshot.submitted}/{snapshot.total}   running {running}   finished {done}"
        f"   ({rate:.0f} apps/min)"
    )
    if snapshot.note:
        lines.append(f"[bold]{snapshot.note}[/bold]")
    return Group(*lines)


def _seconds(value: float | int | None) -> float | None:
    return None if value is None else float(value)


class LiveView:
    """``show`` takes the runner's snapshots and phases; a live table on a TTY, plain lines otherwise."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.console = Console(file=self.out)
        self._live: Live | None = None
        self._last_line: float | None = None

    def __enter__(self) -> LiveView:
        if self.tty:
            self._live = Live(console=self.console, refresh_per_second=2)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None
        print(file=self.out, flush=True)  # what follows (the summary) stands apart

    def show(self, event: Snapshot | Phase) -> None:
        if isinstance(event, Phase):
            self._phase(event.text)
        elif self._live is not None:
            self._live.update(render(event))
        elif self._due(event):
            self._last_line = event.elapsed
            print(status_line(event), file=self.out, flush=True)

    def _phase(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(f"{text} ...", markup=False, highlight=False)
        else:
            print(f"{text} ...", file=self.out, flush=True)

    def _due(self, snapshot: Snapshot) -> bool:
        last = self._last_line
        return last is None or bool(snapshot.note) or snapshot.elapsed - last >= LINE_EVERY
