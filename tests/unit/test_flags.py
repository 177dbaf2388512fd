"""sparkfleet.flags: the parsers and checks every command's flags share (their messages are judged
through the commands in test_cli_messages.py and test_cli_bad_input.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer

from sparkfleet import flags

ROOT = Path(flags.__file__).parent


def test_addresses() -> None:
    assert flags.split_host_port(":8080") == ("0.0.0.0", 8080)
    assert flags.split_host_port("127.0.0.1:0") == ("127.0.0.1", 0)
    assert flags.split_host_port("[::1]:9") == ("::1", 9)
    assert flags.optional_host_port("") is None
    assert flags.optional_host_port(":8081") == ("0.0.0.0", 8081)
    for bad in (":65536", "a b:1", ":x"):
        with pytest.raises(typer.BadParameter, match="is not an address like :8080"):
            flags.split_host_port(bad)


def test_comma_lists() -> None:
    assert flags.comma_list(None) == []
    assert flags.comma_list(["a,b", " c ", ",", ""]) == ["a", "b", "c"]


def test_one_of_takes_any_case() -> None:
    flags.one_of("text", "json")("JSON")
    with pytest.raises(typer.BadParameter, match="'xml' is not one of text, json"):
        flags.one_of("text", "json")("xml")


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / f"{module}.py").read_text())
    return {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_the_command_modules_do_not_import_each_other() -> None:
    assert "sparkfleet.cli" not in _imports("shards_cli")
    assert "sparkfleet.cli" not in _imports("sim_cli")
    assert not {m for m in _imports("flags") if m.startswith("sparkfleet.") and "cli" in m}
