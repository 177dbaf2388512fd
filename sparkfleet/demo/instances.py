"""Operator instances as separate processes: start, kill, stop, and what they cost (CPU, memory, metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from sparkfleet.testing.proc import die_with_parent, free_port

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WRITE_VERBS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Usage:
    cpu_seconds: float = 0.0
    system_cpu_seconds: float = 0.0
    """Of ``cpu_seconds``, in the kernel (system calls: sockets, epoll)."""
    peak_rss_mib: float = 0.0
    wakeups: int = 0
    """Voluntary context switches of the main thread: how often it slept and was woken (its event
    loop waiting for I/O or a timer), a count of the loop's wake-ups."""
    startup_cpu_seconds: float = 0.0
    """CPU spent before the workload began (imports, first lists, taking shards)."""
    startup_system_cpu_seconds: float = 0.0
    startup_wakeups: int = 0

    @property
    def workload_cpu_seconds(self) -> float:
        return self.cpu_seconds - self.startup_cpu_seconds

    @property
    def workload_system_cpu_seconds(self) -> float:
        return self.system_cpu_seconds - self.startup_system_cpu_seconds

    @property
    def workload_wakeups(self) -> int:
        return self.wakeups - self.startup_wakeups


@dataclass
class Instance:
    identity: str
    workdir: Path
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None
    usage: Usage = field(default_factory=Usage)
    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)
    """The last metrics scraped: name -> [(labels, value)]; kept after the process is gone."""
    requests_at_start: dict[str, float] = field(default_factory=dict)
    profiler: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.identity}.log"

    @property
    def audit_path(self) -> Path:
        return self.workdir / f"{self.identity}.audit.jsonl"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(
        self,
        kubeconfig: Path,
        fleet: str,
        namespace: str,
        concurrent_syncs: int,
        extra: list[str] | None = None,
    ) -> None:
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sparkfleet.cli", "run",
            "--kubeconfig", str(kubeconfig), "--fleet", fleet, "--fleet-namespace", namespace,
            "--identity", self.identity, "--concurrent-syncs", str(concurrent_syncs),
            "--kube-api-qps", "0", "--metrics-bind-address", f"127.0.0.1:{self.port}",
            "--audit-log", str(self.audit_path), "--log-format", "json", *(extra or []),
            stdout=log, stderr=log, preexec_fn=die_with_parent,
        )  # fmt: skip
        log.close()

    def sample_usage(self) -> None:
        """CPU, peak RSS and wake-ups from /proc while the process lives (the last sample stays)."""
        if not self.running or self.proc is None:
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            self.usage.cpu_seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            self.usage.system_cpu_seconds = int(fields[12]) / CLOCK_TICKS
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.usage.peak_rss_mib = round(int(line.split()[1]) / 1024, 1)
                elif line.startswith("voluntary_ctxt_switches:"):
                    self.usage.wakeups = int(line.split()[1])

    async def scrape(self) -> None:
        if not self.running:
            return
        try:
            timeout = aiohttp.ClientTimeout(total=5)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"http://127.0.0.1:{self.port}/metrics") as resp,
            ):
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            return
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
        self.samples = samples

    def mark_workload_start(self) -> None:
        """What the instance has used so far (start-up: imports, first lists and watches) is not
        the workload's: remember it, to count from here."""
        self.sample_usage()
        self.usage.startup_cpu_seconds = self.usage.cpu_seconds
        self.usage.startup_system_cpu_seconds = self.usage.system_cpu_seconds
        self.usage.startup_wakeups = self.usage.wakeups
        self.requests_at_start = self.requests_by_verb()

    async def start_profile(self, directory: Path) -> None:
        """Samples the instance with py-spy (100 Hz, idle excluded) until :meth:`stop_profile`, into
        ``<directory>/<identity>.txt`` (the directory must exist) as collapsed stacks (one
        ``frame;frame;... count`` a line, what flame graph tools read). Needs py-spy (the
        ``bench`` extra) and ptrace rights."""
        if not self.running or self.proc is None:
            return
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.profiler = await asyncio.create_subprocess_exec(
            py_spy, "record", "--pid", str(self.proc.pid), "--rate", "100", "--nonblocking",
            "--format", "raw", "--output", str(directory / f"{self.identity}.txt"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )  # fmt: skip

    async def stop_profile(self) -> None:
        """Ends the profile (py-spy writes it on SIGINT)."""
        if self.profiler is None:
            return
        if self.profiler.returncode is None:
            self.profiler.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await self.profiler.wait()
        self.profiler = None

    def requests_by_verb(self) -> dict[str, float]:
        """API requests so far by verb, less those before the workload started."""
        counts: dict[str, float] = {}
        for labels, value in self.samples.get("rest_client_requests_total", []):
            verb = labels.get("method", "?")
            counts[verb] = counts.get(verb, 0.0) + value
        return {verb: n - self.requests_at_start.get(verb, 0.0) for verb, n in counts.items()}

    def writes(self) -> float:
        """API write requests since the workload started (from the last scrape)."""
        return sum(n for verb, n in self.requests_by_verb().items() if verb in WRITE_VERBS)

    def metric(self, name: str, **labels: str) -> float:
        return sum(
            value
            for sample_labels, value in self.samples.get(name, [])
            if all(sample_labels.get(k) == v for k, v in labels.items())
        )

    async def kill(self) -> None:
        self.sample_usage()
        await self.scrape()
        if self.running and self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the instance hands its shards off), then SIGKILL after ``timeout``.

        Usage and metrics are not sampled again: what the others spend taking over the shards of
        one that stops after the workload is not the workload's."""
        if self.proc is None:
            return None
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(timeout):
                    return await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                return await self.proc.wait()
        return self.proc.returncode


def handoff_seconds(log_paths: Iterable[Path]) -> list[float]:
    """Each graceful hand-off's duration, as the new holders logged it (old holder stops -> new serves)."""
    took = []
    for path in log_paths:
        if path.exists():
            for line in path.read_bytes().splitlines():
                if b'"handoff_s"' in line:
                    took.append(float(orjson.loads(line)["handoff_s"]))
    return sorted(took)
