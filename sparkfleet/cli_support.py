"""What every `sparkfleet` command shares: help settings, shell completion, the version flag, and
typer options made from the declared run flags (the flag parsers themselves are in
:mod:`sparkfleet.flags`).

Help is click's plain formatter (see ``rich_markup_mode=None`` in cli.py): flag names whole, text
wrapped at the terminal's width (at most 80 columns), no boxes to break in a pipe or a CI log.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

if TYPE_CHECKING:
    from sparkfleet.options import Flag

R = TypeVar("R")

__all__ = [
    "CONTEXT_SETTINGS",
    "SHELLS",
    "complete_var",
    "completion_script",
    "enable_completion",
    "print_version",
    "with_flags",
]

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


def print_version(line: str) -> Callable[[bool], None]:
    """An eager ``--version`` flag's callback: prints ``line`` and exits."""

    def callback(value: bool) -> None:
        if value:
            typer.echo(line)
            raise typer.Exit()

    return callback


def with_flags(declared: Sequence[Flag]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A command's flags from their declarations: the decorated ``command(ctx, **values)`` is given
    one typer option per :class:`~sparkfleet.options.Flag`, in order, after its ``ctx``; typer reads
    them from its signature, and passes each value by the flag's parameter name."""

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
        parameters = [context, *(_parameter(f) for f in declared)]
        command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        return command

    return decorate


def _parameter(declared: Flag) -> inspect.Parameter:
    settings: dict[str, Any] = {"help": declared.help}
    if declared.metavar is not None:
        settings["metavar"] = declared.metavar
    if declared.parser is not None:
        settings["parser"] = declared.parser
    if declared.callback is not None:
        settings["callback"] = declared.callback
    if not declared.show_default:
        settings["show_default"] = False
    option = typer.Option(*declared.names, **settings)
    return inspect.Parameter(
        declared.param,
        inspect.Parameter.KEYWORD_ONLY,
        default=declared.default,
        annotation=Annotated[declared.annotation, option],
    )
