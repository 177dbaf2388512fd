"""What every `sparkfleet` command shares: help settings, shell completion, number flags.

Help is click's plain formatter (see ``rich_markup_mode=None`` in cli.py): flag names whole, text
wrapped at the terminal's width (at most 80 columns), no boxes to break in a pipe or a CI log.
Number flags are read here rather than by typer's own coercion, whose messages are pydantic's
("Input should be a valid integer, unable to parse string as an integer") and leave out the value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}
"""Every command's: ``-h`` is ``--help``, as kubectl has it (subcommands inherit it)."""

SHELLS = ("bash", "zsh", "fish")


def complete_var(prog: str) -> str:
    """The environment variable a completion script sets to ask ``prog`` for completions."""
    return "_{}_COMPLETE".format(prog.replace("-", "_").upper())


def completion_script(prog: str, shell: str) -> str:
    """The script that makes ``shell`` complete ``prog``'s commands and flags.

    Raises ValueError for a shell other than bash, zsh or fish."""
    from typer._completion_shared import get_completion_script  # typer.completion's own (not exported)

    if shell not in SHELLS:
        raise ValueError(f"{shell!r} is not one of {', '.join(SHELLS)}")
    return get_completion_script(prog_name=prog, complete_var=complete_var(prog), shell=shell)


def enable_completion() -> None:
    """Registers typer's completion classes, which answer the scripts' requests (``complete_bash``)."""
    from typer._completion_classes import completion_init  # what typer.completion calls

    completion_init()


def whole(minimum: int) -> Callable[[Any], int]:
    """A ``parser=`` for a whole-number flag of at least ``minimum``."""

    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise typer.BadParameter(f"{value!r} is not a whole number")
        try:
            number = int(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a whole number") from None
        if number < minimum:
            raise typer.BadParameter(f"must be at least {minimum} (not {value!r})")
        return number

    return parse


def number(minimum: float) -> Callable[[Any], float]:
    """A ``parser=`` for a number flag (``0.5``, ``50``) of at least ``minimum``."""

    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise typer.BadParameter(f"{value!r} is not a number")
        try:
            result = float(value)
        except ValueError:
            raise typer.BadParameter(f"{value!r} is not a number") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise typer.BadParameter(f"{value!r} is not a finite number")
        if result < minimum:
            raise typer.BadParameter(f"must be at least {minimum:g} (not {value!r})")
        return result

    return parse


def checked(check: Callable[[Any], object]) -> Callable[[Any], Any]:
    """A flag callback: ``check(value)`` refuses a bad value with a ValueError, said as click's usage
    error, which names the flag (a message's own leading ``--flag: `` is dropped, not said twice)."""

    def callback(value: Any) -> Any:
        if value is not None:
            try:
                check(value)
            except ValueError as exc:
                message = str(exc)
                head, sep, rest = message.partition(": ")
                raise typer.BadParameter(rest if sep and head.startswith("--") else message) from exc
        return value

    return callback


def print_version(line: str) -> Callable[[bool], None]:
    """An eager ``--version`` flag's callback: prints ``line`` and exits."""

    def callback(value: bool) -> None:
        if value:
            typer.echo(line)
            raise typer.Exit()

    return callback
