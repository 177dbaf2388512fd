"""`kubectl sparkfleet` (installed as `kubectl-sparkfleet`): only the fleet commands, at its top level,
with kubectl's usage line, flags and one-line errors; `sparkfleet shards` has the same commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sparkfleet import plugin

BIN = Path(sys.executable).parent
COMMANDS = ("status", "plan", "move", "unpin", "drain", "undrain", "rebalance")


def run(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which(program, path=str(BIN))
    assert path is not None, f"{program} is not installed next to {sys.executable}"
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=60, check=False)


def run_plugin(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The plugin in this process (as its entry point runs it): exit code, stdout, stderr."""
    code = plugin.run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def listed_commands(help_text: str) -> list[str]:
    """The command names of a help's Commands section (the first word of each entry)."""
    section = help_text.split("\nCommands:\n", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ") and line[2] != " "]


def test_the_plugin_offers_only_the_fleet_commands_at_its_top_level() -> None:
    result = run("kubectl-sparkfleet", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: kubectl sparkfleet [OPTIONS] COMMAND" in result.stdout
    assert "kubectl-sparkfleet" not in result.stdout
    assert listed_commands(result.stdout) == list(COMMANDS)
    for flag in ("--kubeconfig", "--context", "--namespace", "-n", "--fleet", "--version"):
        assert flag in result.stdout


def test_sparkfleet_shards_has_the_same_commands() -> None:
    result = run("sparkfleet", "shards", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: sparkfleet shards [OPTIONS] COMMAND" in result.stdout
    assert listed_commands(result.stdout) == list(COMMANDS)
    assert "--context" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_takes_the_kubectl_target_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = run_plugin(capsys, command, "-h")
    assert code == 0, err
    assert f"Usage: kubectl sparkfleet {command} [OPTIONS]" in out
    for flag in ("--kubeconfig", "--context", "--namespace", "--fleet"):
        assert f" {flag} " in out  # whole, at 80 columns
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_the_plugin_without_a_command_prints_its_help_and_succeeds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run_plugin(capsys)
    assert code == 0
    assert "Usage: kubectl sparkfleet" in out


@pytest.mark.parametrize("command", ["demo", "controlplane", "run", "version"])
def test_the_operator_commands_are_not_the_plugins(capsys: pytest.CaptureFixture[str], command: str) -> None:
    assert run_plugin(capsys, command) == (2, "", f"error: No such command '{command}'.\n")


def test_the_plugin_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_plugin(capsys, "--version")
    assert code == 0
    assert out.startswith("kubectl sparkfleet (sparkfleet) ")


BAD_OUTPUT = (2, "", "error: --output must be one of table, json, yaml, wide\n")


@pytest.mark.parametrize(
    "argv",
    [
        ("status", "-o", "wide2"),
        ("plan", "--output", "xml"),
        ("rebalance", "-o", "JSON"),
        ("shards", "status", "-o", "name"),  # the plugin's old path, kept (hidden)
    ],
)
def test_a_bad_output_format_is_one_line_naming_the_flag(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    assert run_plugin(capsys, *argv) == BAD_OUTPUT


@pytest.mark.parametrize("program", ["kubectl-sparkfleet", "sparkfleet"])
def test_a_bad_output_format_from_the_installed_programs(program: str) -> None:
    argv = ("status",) if program == "kubectl-sparkfleet" else ("shards", "status")
    result = run(program, *argv, "-o", "wide2")
    assert (result.returncode, result.stdout, result.stderr) == BAD_OUTPUT


def test_an_unknown_context_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "spark"}}],
                "current-context": "dev",
            }
        )
    )
    message = f"error: kubeconfig {kubeconfig}: no context named 'prod' (contexts: dev)\n"
    for argv in (
        ("status", "--kubeconfig", str(kubeconfig), "--context", "prod"),
        ("--kubeconfig", str(kubeconfig), "--context", "prod", "status"),  # before the command, as kubectl's
        ("--kubeconfig", str(kubeconfig), "drain", "m0", "--context", "prod"),
        ("--kubeconfig", str(kubeconfig), "--context", "prod", "shards", "status"),  # through the old path
    ):
        assert run_plugin(capsys, *argv) == (2, "", message), argv
    result = run("sparkfleet", "shards", "plan", "--kubeconfig", str(kubeconfig), "--context", "prod")
    assert (result.returncode, result.stderr) == (2, message)
