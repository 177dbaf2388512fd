"""`sparkfleet sim`'s flags: read into the simulator's configuration, or refused in one line naming the flag.
No cluster: refusals come before one is needed (or from a port nothing listens on)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sparkfleet.sim import SimConfig
from sparkfleet.sim.flags import namespace_list, seconds, seconds_range, sim_config

DEFAULTS = {"nodes": 8, "start_delay": "0.1-0.3", "run_time": "5-10", "stop_delay": "0.05-0.2",
            "failure_rate": 0.0, "concurrency": 32, "seed": None}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", 5.0), ("0.5s", 0.5), ("200ms", 0.2), ("2m", 120.0), (" 3 ", 3.0)],
)
def test_seconds(text: str, expected: float) -> None:
    assert seconds(text, "--x") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5-10", (5.0, 10.0)), ("3", (3.0, 3.0)), ("200ms-1s", (0.2, 1.0)), ("0-0", (0.0, 0.0))],
)
def test_seconds_range(text: str, expected: tuple[float, float]) -> None:
    assert seconds_range(text, "--run-time") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "words"),
    [("10-5", "starts above where it ends"), ("-5", "not a range"), ("5-", "not a range"),
     ("a-b", "not a range"), ("5h", "not a range"), ("", "not a range")],
)  # fmt: skip
def test_bad_ranges_name_the_flag(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=r"^--run-time: ") as caught:
        seconds_range(text, "--run-time")
    assert words in str(caught.value)


def test_namespaces_are_split_and_kept_once_in_order() -> None:
    assert namespace_list(["b,a", "c", " a ", ","]) == ["b", "a", "c"]
    assert namespace_list([]) == []


def test_config_from_the_defaults_is_the_simulators_default() -> None:
    assert sim_config(**DEFAULTS) == SimConfig()  # type: ignore[arg-type]


def test_config_carries_every_flag() -> None:
    config = sim_config(**{**DEFAULTS, "nodes": 2, "run_time": "1-2", "failure_rate": 0.25, "seed": 9})  # type: ignore[arg-type]
    assert (config.nodes, config.run_time, config.failure_rate, config.seed) == (2, (1.0, 2.0), 0.25, 9)


@pytest.mark.parametrize(
    ("change", "flag"),
    [({"nodes": 0}, "--nodes"), ({"concurrency": 0}, "--concurrency"), ({"failure_rate": 1.5}, "--failure-rate"),
     ({"start_delay": "x"}, "--start-delay"), ({"stop_delay": "2-1"}, "--stop-delay")],
)  # fmt: skip
def test_config_refusals_name_the_flag(change: dict[str, object], flag: str) -> None:
    with pytest.raises(ValueError, match=rf"^{flag}: "):
        sim_config(**{**DEFAULTS, **change})  # type: ignore[arg-type]


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sparkfleet.cli", "sim", *args],
        capture_output=True, text=True, timeout=60, check=False, env={"COLUMNS": "300", "NO_COLOR": "1"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--run-time", "10-5"], "'--run-time': '10-5' starts above where it ends"),
     (["-n", "Not_A_Namespace"], "'Not_A_Namespace' is not a namespace name"),
     (["--log-format", "xml"], "'xml' is not one of text, json"),
     (["--stats-every", "soon"], "'--stats-every'"),
     (["--kubeconfig", "/nonexistent/kubeconfig"], "no such file")],
)  # fmt: skip
def test_bad_flags_are_one_line_and_exit_2(args: list[str], words: str) -> None:
    result = sim(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in result.stderr


def test_an_unreachable_api_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }  # fmt: skip
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    result = sim("--kubeconfig", str(path))
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"error: cannot reach the API server at https://127.0.0.1:{port}: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--nodes", "0"], "error: Invalid value for '--nodes': must be at least 1 (not '0')"),
        (["--concurrency", "x"], "error: Invalid value for '--concurrency': 'x' is not a whole number"),
    ],
)
def test_a_bad_number_from_the_command_line_names_the_flag_and_the_value(args: list[str], said: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sparkfleet.cli", "sim", *args], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr.strip()) == (2, "", said)
