"""The demo's terminal view: a table redrawn every second (or a line every few seconds when not a TTY)."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from sparkfleet.demo.runner import Snapshot

ORDER = ("NEW", "SUBMITTED", "RUNNING", "SUCCEEDING", "FAILING", "COMPLETED", "FAILED", "SUBMISSION_FAILED")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def render(snapshot: Snapshot) -> Group:
    states = Table(title=f"applications ({snapshot.total}) at {snapshot.elapsed:.0f}s", expand=False)
    for state in ORDER:
        if snapshot.states.get(state):
            states.add_column(state, justify="right")
    states.add_row(*(str(snapshot.states[s]) for s in ORDER if snapshot.states.get(s)))
    done = snapshot.states.get("COMPLETED", 0) + snapshot.states.get("FAILED", 0)
    rate = done / snapshot.elapsed * 60 if snapshot.elapsed > 0 else 0.0
    latency = Table(title="latency", expand=False)
    for column in ("", "p50", "p99", "max"):
        latency.add_column(column, justify="right")
    latency.add_row("create -> driver pod", *(_ms(snapshot.submit[k]) for k in ("p50", "p99", "max")))
    latency.add_row("pod phase -> status", *(_ms(snapshot.status[k]) for k in ("p50", "p99", "max")))
    members = Table(title="members: shards held", expand=False)
    for name in sorted(set(snapshot.members) | set(snapshot.alive)):
        members.add_column(name + ("" if name in snapshot.alive else " (gone)"), justify="right")
    members.add_row(
        *(str(snapshot.members.get(n, 0)) for n in sorted(set(snapshot.members) | set(snapshot.alive)))
    )
    lines: list[Any] = [states, latency, members]
    lines.append(f"submitted {snapshot.submitted}/{snapshot.total}   finished {done}   ({rate:.0f} apps/min)")
    if snapshot.note:
        lines.append(f"[bold]{snapshot.note}[/bold]")
    return Group(*lines)


class LiveView:
    def __init__(self) -> None:
        self.console = Console()
        self.tty = sys.stdout.isatty()
        self._live: Live | None = None
        self._last_line = 0.0

    def __enter__(self) -> LiveView:
        if self.tty:
            self._live = Live(console=self.console, refresh_per_second=2)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def show(self, snapshot: Snapshot) -> None:
        if self._live is not None:
            self._live.update(render(snapshot))
            return
        if snapshot.note or time.monotonic() - self._last_line >= 5:
            self._last_line = time.monotonic()
            done = snapshot.states.get("COMPLETED", 0) + snapshot.states.get("FAILED", 0)
            print(
                f"[{snapshot.elapsed:5.0f}s] submitted {snapshot.submitted}/{snapshot.total} finished {done} "
                f"states {dict(sorted(snapshot.states.items()))} members {snapshot.members} {snapshot.note}",
                flush=True,
            )
