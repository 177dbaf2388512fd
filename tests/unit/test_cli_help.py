"""Every command's help, as the installed `sparkfleet` prints it at 80 columns through a pipe: each
flag name whole (the list comes from the click commands themselves), no line over 80 columns, no
boxes; `-h` as `--help`, `--version`, shell completion."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sparkfleet import __version__, plugin
from sparkfleet.cli import app

BIN = Path(sys.executable).parent
COLUMNS = 80


PROGRAMS = {"sparkfleet": app, "kubectl-sparkfleet": plugin.app}


def commands() -> Iterator[tuple[tuple[str, ...], object]]:
    """Every shown command of both programs: the program, then the words that name the command."""

    def walk(path: tuple[str, ...], command: object) -> Iterator[tuple[tuple[str, ...], object]]:
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if not sub.hidden:
                yield from walk((*path, name), sub)

    for name, typer_app in PROGRAMS.items():
        yield from walk((name,), typer.main.get_command(typer_app))


COMMANDS = dict(commands())


def flag_names(command: object) -> list[str]:
    """The names of a command's options, as click holds them (``--x``, ``--no-x``, ``-h``)."""
    names: list[str] = []
    for param in getattr(command, "params", []):
        if param.param_type_name == "option" and not param.hidden:
            names += [*param.opts, *param.secondary_opts]
    return names


def program(name: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which(name, path=str(BIN))
    assert path is not None, f"{name} is not installed next to {sys.executable}"
    return subprocess.run(
        [path, *args], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "COLUMNS": str(COLUMNS), **env},
    )  # fmt: skip


def sparkfleet(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return program("sparkfleet", *args, **env)


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], subprocess.CompletedProcess[str]]:
    """``--help`` of every command, run in parallel (each is a process start)."""
    with ThreadPoolExecutor(4) as pool:
        runs = {path: pool.submit(program, *path, "--help") for path in COMMANDS}
        return {path: run.result() for path, run in runs.items()}


def test_the_tree_has_the_commands_users_look_for() -> None:
    ours = {
        ("sparkfleet", c) for c in ("run", "demo", "controlplane", "version", "completion", "shards", "sim")
    }
    more = {
        ("sparkfleet", "shards", "status"),
        ("sparkfleet", "shards", "drain"),
        ("kubectl-sparkfleet", "status"),
    }
    assert ours | more <= set(COMMANDS)
    assert len(flag_names(COMMANDS[("sparkfleet", "run")])) > 40  # the list below is not empty by accident


@pytest.mark.parametrize("path", list(COMMANDS), ids=[" ".join(p) for p in COMMANDS])
def test_help_shows_every_flag_whole_within_80_columns(
    helps: dict[tuple[str, ...], subprocess.CompletedProcess[str]], path: tuple[str, ...]
) -> None:
    result = helps[path]
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for flag in flag_names(COMMANDS[path]):
        # whole: not followed by more of a name (an ellipsis or a cut), nor preceded by one
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w…-])", text), f"{flag} not whole in:\n{text}"
    assert "…" not in text
    assert not re.search(r"^  \S+ +.*\.\.\.$", text, re.MULTILINE), f"a command summary cut:\n{text}"
    for line in text.splitlines():
        assert len(line) <= COLUMNS, f"{len(line)} columns: {line!r}"
        assert not set(line) & set("╭╮╰╯│─"), f"a box in a pipe: {line!r}"
    assert "<bool>" not in text
    assert re.search(r"^\s+-h, --help\s+Show this message and exit\.$", text, re.MULTILINE), text
    name, *words = path
    short, long = (
        CliRunner().invoke(PROGRAMS[name], [*words, option], prog_name=name) for option in ("-h", "--help")
    )
    assert short.exit_code == 0, short.output
    assert short.output == long.output  # -h is --help (in this process: fewer process starts)


def test_run_help_names_its_values() -> None:
    """Each flag that takes a value says what kind (typer's own labels were <str>, <list[str]>...)."""
    text = sparkfleet("run", "--help").stdout
    for shown in ("--kubeconfig FILE", "--namespaces NAMES", "--concurrent-syncs, --controller-threads N",
                  "--leader-election-lease-duration DURATION", "--metrics-bind-address ADDRESS",
                  "--startup-timeout DURATION"):  # fmt: skip
        assert shown in text, text
    for label in ("<str>", "<list", "range>"):
        assert label not in text, text


def test_version_is_a_flag_and_a_command() -> None:
    flag, command = sparkfleet("--version"), sparkfleet("version")
    assert (flag.returncode, flag.stdout) == (0, f"sparkfleet {__version__}\n")
    assert (command.returncode, command.stdout) == (0, f"sparkfleet {__version__}\n")


def test_no_command_is_the_help() -> None:
    result = sparkfleet()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: sparkfleet [OPTIONS] COMMAND [ARGS]...")
    assert "completion" in result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_a_script_for_the_shell(shell: str) -> None:
    result = sparkfleet("completion", shell)
    assert result.returncode == 0, result.stderr
    assert f"_SPARKFLEET_COMPLETE=complete_{shell}" in result.stdout, result.stdout


def test_completion_refuses_another_shell() -> None:
    result = sparkfleet("completion", "tcsh")
    assert result.returncode == 2
    assert result.stderr == "error: Invalid value for SHELL: 'tcsh' is not one of bash, zsh, fish\n"


def test_the_bash_script_completes_commands_and_flags() -> None:
    """What the script asks (bash sets COMP_WORDS and COMP_CWORD, and the variable), answered."""
    script = sparkfleet("completion", "bash").stdout
    assert "complete -o default -F _sparkfleet_completion sparkfleet" in script
    commands = sparkfleet(_SPARKFLEET_COMPLETE="complete_bash", COMP_WORDS="sparkfleet ru", COMP_CWORD="1")
    assert commands.stdout.split() == ["run"], commands
    flags = sparkfleet(
        _SPARKFLEET_COMPLETE="complete_bash", COMP_WORDS="sparkfleet run --leader-election-l", COMP_CWORD="2"
    )
    assert flags.stdout.split() == [
        "--leader-election-lock-name", "--leader-election-lock-namespace", "--leader-election-lease-duration",
    ], flags  # fmt: skip
    nested = sparkfleet(
        _SPARKFLEET_COMPLETE="complete_bash", COMP_WORDS="sparkfleet shards dr", COMP_CWORD="2"
    )
    assert nested.stdout.split() == ["drain"], nested
