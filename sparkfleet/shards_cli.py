"""`sparkfleet shards ...` (and `kubectl sparkfleet ...`): see and steer a fleet's shards.

The commands are registered on two apps by :func:`add_commands`: the `shards` group of
`sparkfleet`, and the kubectl plugin (:mod:`sparkfleet.plugin`), which has them at its top level.
The target flags (``--kubeconfig``, ``--context``, ``-n``, ``--fleet``) are taken as kubectl
takes its own: before the command (on the group) or after it; after wins.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields, replace
from typing import Annotated, Any, TypeVar

import typer
import uvloop

from sparkfleet.flags import parse_duration
from sparkfleet.output import Format, parse_format, structured, table

T = TypeVar("T")

TARGET_KEY = "sparkfleet.shards.target"
"""Where the group's target flags wait for the command (``ctx.meta`` is shared by every context)."""

Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        metavar="PATH",
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster).",
    ),
]
Context = Annotated[
    str | None,
    typer.Option(
        "--context", metavar="NAME", help="The kubeconfig context to use (default: its current-context)."
    ),
]
Namespace = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        metavar="NAME",
        help="The fleet's namespace (default: the context's namespace; in a pod, $POD_NAMESPACE; "
        "else default).",
    ),
]
Fleet = Annotated[
    str | None,
    typer.Option(
        "--fleet", "-f", metavar="NAME", help="The SparkFleet (default: the only one in the namespace)."
    ),
]
Wait = Annotated[bool, typer.Option(help="Follow the change until it is done.")]


class FlagError(typer.BadParameter):
    """A bad flag value said as the message alone (``--output must be one of ...``)."""

    def format_message(self) -> str:
        return self.message


def _output(value: str) -> str:
    """An ``-o`` callback: the value checked here, so a bad one is one line naming the flag."""
    try:
        return parse_format(value).value
    except ValueError as exc:
        raise FlagError(str(exc)) from None


Output = Annotated[
    str, typer.Option("--output", "-o", callback=_output, help="table, wide, json or yaml.", metavar="FORMAT")
]


def _duration(value: str) -> str:
    """A ``--timeout`` callback: a bad duration is refused, naming the flag, before anything changes."""
    parse_duration(value)
    return value


Timeout = Annotated[
    str,
    typer.Option(callback=_duration, metavar="DURATION", help="How long --wait follows before giving up."),
]


@dataclass(frozen=True, slots=True)
class Target:
    """Which fleet a command acts on, as the flags name it (None: the default)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    fleet: str | None = None

    def over(self, given_before: Target) -> Target:
        """These flags, each one not given taken from ``given_before`` (the group's)."""
        return replace(
            self, **{f.name: getattr(self, f.name) or getattr(given_before, f.name) for f in fields(self)}
        )


def target_of(ctx: typer.Context, kubeconfig: str | None, context: str | None, namespace: str | None,
              fleet: str | None) -> Target:  # fmt: skip
    before = ctx.meta.get(TARGET_KEY)
    own = Target(kubeconfig, context, namespace, fleet)
    return own.over(before) if isinstance(before, Target) else own


def target_flags(
    ctx: typer.Context,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """See who holds which shard, plan and apply a rebalance, move a shard, drain a member."""
    ctx.meta[TARGET_KEY] = target_of(ctx, kubeconfig, context, namespace, fleet)  # over an outer group's


def fleet_namespace(flag: str | None, connection_namespace: str) -> str:
    """``-n``, else the connection's: the kubeconfig context's namespace, in a pod $POD_NAMESPACE or the
    ServiceAccount's (see :mod:`sparkfleet.kube.config`), else ``default``."""
    return flag or connection_namespace


def _run(target: Target, work: Callable[[Any], Awaitable[T]]) -> T:
    """Connects, finds the fleet, runs ``work(FleetOps)``; an error is one line, exit 1 (2: kubeconfig)."""
    import aiohttp

    from sparkfleet.api.fleet import SPARK_FLEETS
    from sparkfleet.kube import ApiError, KubeConfigError, connect
    from sparkfleet.kube.errors import unreachable
    from sparkfleet.sharding.ops import FleetError, FleetOps

    async def go() -> T:
        client = await connect(target.kubeconfig, context=target.context)
        ns = fleet_namespace(target.namespace, client.connection.namespace)
        try:
            name = target.fleet
            if name is None:
                try:
                    items, _ = await client.list_all(SPARK_FLEETS, ns)
                except ApiError as exc:
                    if exc.is_not_found:  # the resource itself: the CRD is not installed
                        raise FleetError(
                            f"the API server has no {SPARK_FLEETS.plural}.{SPARK_FLEETS.group}: "
                            "is sparkfleet installed (its CRDs)?"
                        ) from exc
                    raise
                names = sorted(i["metadata"]["name"] for i in items)
                if len(names) != 1:
                    raise FleetError(
                        f'no SparkFleet in namespace "{ns}" (name its namespace with -n)'
                        if not names
                        else f'several SparkFleets in namespace "{ns}" ({", ".join(names)}): '
                        "pick one with --fleet"
                    )
                name = names[0]
            return await work(FleetOps(client, ns, name))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FleetError(f"cannot reach the API server at {client.host}: {unreachable(exc)}") from exc
        finally:
            await client.close()

    try:
        return uvloop.run(go())
    except KubeConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except FleetError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except ApiError as exc:
        typer.echo(f"error: {exc.status} {exc.reason}: {exc.message}", err=True)
        raise typer.Exit(1) from exc


def _seconds(value: str) -> float:
    return parse_duration(value)


def _status_hint(ctx: typer.Context) -> str:
    """How to see the status from where this command was called (``sparkfleet shards status`` or
    ``kubectl sparkfleet status``)."""
    group = ctx.parent.command_path if ctx.parent is not None else ctx.command_path
    return f"{group} status"


def status(
    ctx: typer.Context,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
    output: Output = "table",
) -> None:
    """Every shard (holder, pin, scope, age, objects, queue); every member's load."""
    from sparkfleet.shards_view import problems, status_text

    async def work(ops: Any) -> Any:
        return await ops.status()

    fmt = Format(output)
    report = _run(target_of(ctx, kubeconfig, context, namespace, fleet), work)
    if not fmt.tabular:
        typer.echo(structured(report.to_dict(), fmt))
        return
    width = None if fmt is Format.wide else shutil.get_terminal_size().columns
    typer.echo(status_text(report, width))
    for problem in problems(report):
        typer.echo(f"\n{problem}", err=True)


def _print_moves(moves: list[Any], fmt: Format) -> None:
    rows = [{"shard": m.shard, "from": m.source, "to": m.target, "reason": m.reason} for m in moves]
    if not fmt.tabular:
        typer.echo(structured(rows, fmt))
    elif not rows:
        typer.echo("no moves: every shard is where the plan wants it")
    else:
        typer.echo(
            table(
                ["shard", "from", "to", "reason"],
                [[r["shard"], r["from"] or "<none>", r["to"] or "<none>", r["reason"]] for r in rows],
            )
        )


def plan_command(
    ctx: typer.Context,
    rebalance: Annotated[
        bool, typer.Option(help="Plan a full rebalance instead of the minimal moves.")
    ] = False,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
    output: Output = "table",
) -> None:
    """The moves the coordinator would make now (changes nothing)."""
    from sparkfleet.sharding.ops import planned_moves

    async def work(ops: Any) -> Any:
        return planned_moves(await ops.get(), rebalance=rebalance)

    _print_moves(_run(target_of(ctx, kubeconfig, context, namespace, fleet), work), Format(output))


def _follow(ops: Any, done: Callable[[dict[str, Any]], bool], timeout: float) -> Awaitable[bool]:
    from sparkfleet.sharding.ops import report

    last: list[str] = []

    def progress(fleet_obj: dict[str, Any]) -> None:
        shards = report(fleet_obj, [], 0).shards
        held = sum(1 for s in shards if s.phase == "Held")
        line = f"{held}/{len(shards)} shards held where planned"
        if [line] != last:
            typer.echo(line, err=True)
            last[:] = [line]

    result: Awaitable[bool] = ops.follow(done, progress, timeout)
    return result


def move(
    ctx: typer.Context,
    shard: Annotated[str, typer.Argument(metavar="SHARD", help="The shard to move.")],
    to: Annotated[
        str, typer.Option("--to", metavar="MEMBER", help="The member that should hold it (a pin).")
    ],
    wait: Wait = True,
    timeout: Timeout = "2m",
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """Pin SHARD to a member and hand it over (undo with `unpin`)."""
    from sparkfleet.sharding.ops import shard_on

    async def work(ops: Any) -> bool:
        await ops.move(shard, to)
        typer.echo(f'shard "{shard}" pinned to "{to}"')
        return await _follow(ops, shard_on(shard, to), _seconds(timeout)) if wait else True

    if not _run(target_of(ctx, kubeconfig, context, namespace, fleet), work):
        typer.echo(f"error: shard {shard!r} is not held by {to!r} after {timeout}", err=True)
        raise typer.Exit(1)
    if wait:
        typer.echo(f'shard "{shard}" is held by "{to}"')


def unpin(
    ctx: typer.Context,
    shard: Annotated[str, typer.Argument(metavar="SHARD", help="The shard to unpin.")],
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """Remove SHARD's pin (it stays where it is until the plan moves it)."""

    async def work(ops: Any) -> None:
        await ops.unpin(shard)

    _run(target_of(ctx, kubeconfig, context, namespace, fleet), work)
    typer.echo(f'shard "{shard}" unpinned')


def _drain(ctx: typer.Context, member: str, undo: bool, wait: bool, timeout: str, target: Target) -> None:
    from sparkfleet.sharding.ops import all_held, member_empty

    async def work(ops: Any) -> bool:
        await ops.drain(member, undo=undo)
        typer.echo(f'member "{member}" {"undrained" if undo else "draining"}')
        if not wait:
            return True
        return await _follow(ops, all_held if undo else member_empty(member), _seconds(timeout))

    if not _run(target, work):
        typer.echo(f"error: not done after {timeout}; see `{_status_hint(ctx)}`", err=True)
        raise typer.Exit(1)
    if wait and not undo:
        typer.echo(f'member "{member}" holds no shards')


def drain(
    ctx: typer.Context,
    member: Annotated[str, typer.Argument(metavar="MEMBER", help="The member to empty.")],
    wait: Wait = True,
    timeout: Timeout = "5m",
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """Move every shard off MEMBER (it keeps running, holding none) before maintenance."""
    _drain(ctx, member, False, wait, timeout, target_of(ctx, kubeconfig, context, namespace, fleet))


def undrain(
    ctx: typer.Context,
    member: Annotated[str, typer.Argument(metavar="MEMBER", help="The member to give shards again.")],
    wait: Wait = False,
    timeout: Timeout = "5m",
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """Let MEMBER take shards again (it gets them at the next rebalance, or as others leave)."""
    _drain(ctx, member, True, wait, timeout, target_of(ctx, kubeconfig, context, namespace, fleet))


def rebalance(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option(help="Show the moves; change nothing.")] = False,
    wait: Wait = True,
    timeout: Timeout = "5m",
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
    output: Output = "table",
) -> None:
    """Show the moves of a full rebalance, apply them, and follow them to completion."""
    from sparkfleet.sharding.ops import planned_moves, rebalanced

    async def work(ops: Any) -> bool:
        moves = planned_moves(await ops.get(), rebalance=True)
        _print_moves(moves, Format(output))
        if dry_run or not moves:
            return True
        token = await ops.request_rebalance()
        typer.echo(f"rebalance requested ({token})", err=True)
        return await _follow(ops, rebalanced(token), _seconds(timeout)) if wait else True

    if not _run(target_of(ctx, kubeconfig, context, namespace, fleet), work):
        typer.echo(f"error: rebalance not done after {timeout}; see `{_status_hint(ctx)}`", err=True)
        raise typer.Exit(1)


COMMANDS: dict[str, Callable[..., None]] = {
    "status": status,
    "plan": plan_command,
    "move": move,
    "unpin": unpin,
    "drain": drain,
    "undrain": undrain,
    "rebalance": rebalance,
}


# One line each in a command list at 80 columns (click would cut the docstrings' first sentences).
SUMMARIES = {
    "status": "Every shard (holder, pin, scope) and every member.",
    "plan": "The moves the coordinator would make now.",
    "move": "Pin SHARD to a member and hand it over.",
    "unpin": "Remove SHARD's pin.",
    "drain": "Move every shard off MEMBER.",
    "undrain": "Let MEMBER take shards again.",
    "rebalance": "Show, apply and follow a full rebalance.",
}


def add_commands(app: typer.Typer) -> typer.Typer:
    """Registers the fleet commands on ``app`` (the `shards` group, or the kubectl plugin)."""
    for name, command in COMMANDS.items():
        app.command(name, short_help=SUMMARIES[name])(command)
    return app


shards_app = add_commands(
    typer.Typer(
        help="See who holds which shard, plan and apply a rebalance, move a shard, drain a member.",
        no_args_is_help=True,
    )
)
shards_app.callback()(target_flags)
