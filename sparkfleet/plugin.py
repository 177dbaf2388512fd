"""`kubectl sparkfleet`: the fleet commands as a kubectl plugin (installed as `kubectl-sparkfleet`).

Only the commands that steer a running fleet, at the top level as kubectl's own verbs are
(`kubectl sparkfleet status`, `... move SHARD --to MEMBER`), with kubectl's target flags:
``--kubeconfig``, ``--context`` and ``-n/--namespace`` (default: the context's namespace), given
before or after the command. Running the operator (`run`, `demo`, ...) is `sparkfleet`'s.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sparkfleet import __version__, cli_support
from sparkfleet.shards_cli import (
    Context,
    Fleet,
    Kubeconfig,
    Namespace,
    add_commands,
    shards_app,
    target_flags,
)

PROG = "kubectl sparkfleet"

app = add_commands(
    typer.Typer(
        help="See and steer a sparkfleet fleet: who holds which shard, plan and apply a rebalance, "
        "move a shard, drain a member.",
        no_args_is_help=True,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        rich_markup_mode=None,  # plain help, as sparkfleet's: whole flag names, no boxes in a pipe
    )
)


# `kubectl sparkfleet shards status` (the plugin's commands before they were at its top level) still
# works; not in the help.
app.add_typer(shards_app, name="shards", hidden=True)


@app.callback()
def plugin_flags(
    ctx: typer.Context,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=cli_support.print_version(f"{PROG} (sparkfleet) {__version__}"),
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """The target flags, for every command (a command's own flags win)."""
    target_flags(ctx, kubeconfig, context, namespace, fleet)


def run(args: list[str], prog_name: str = PROG) -> int:
    """Runs the plugin on ``args``; a usage error (a bad flag) is one line, ``error: ...``, exit 2."""
    try:
        code = app(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: bad values, unknown options or commands
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # no command: the help, as kubectl's
            typer.echo(message)
            return 0
        typer.echo(f"error: {' '.join(message.split())}", err=True)
        return int(getattr(exc, "exit_code", 2))
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
