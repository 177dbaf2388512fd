"""`sparkfleet shards ...` (and `kubectl sparkfleet shards ...`): see and steer a fleet's shards."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
import uvloop

from sparkfleet.output import Format, structured, table

shards_app = typer.Typer(
    help="See who holds which shard, plan and apply a rebalance, move a shard, drain a member.",
    no_args_is_help=True,
)

T = TypeVar("T")

Kubeconfig = Annotated[
    str | None, typer.Option(help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
]
Namespace = Annotated[
    str | None,
    typer.Option("--namespace", "-n", help="The fleet's namespace (default: $POD_NAMESPACE or default)."),
]
Fleet = Annotated[
    str | None, typer.Option("--fleet", "-f", help="The SparkFleet (default: the only one in the namespace).")
]
Output = Annotated[Format, typer.Option("--output", "-o", help="table, json or yaml.")]
Wait = Annotated[bool, typer.Option(help="Follow the change until it is done.")]


def _duration(value: str) -> str:
    """A ``--timeout`` callback: a bad duration is refused, naming the flag, before anything changes."""
    from sparkfleet.cli import parse_duration

    parse_duration(value)
    return value


Timeout = Annotated[str, typer.Option(callback=_duration, help="How long --wait follows before giving up.")]


def _run(
    kubeconfig: str | None, namespace: str | None, fleet: str | None, work: Callable[[Any], Awaitable[T]]
) -> T:
    """Connects, finds the fleet, runs ``work(FleetOps)``; an error is one line, exit 1 (2: kubeconfig)."""
    import aiohttp

    from sparkfleet.api.fleet import SPARK_FLEETS
    from sparkfleet.kube import ApiError, KubeConfigError, connect
    from sparkfleet.kube.errors import unreachable
    from sparkfleet.sharding.ops import FleetError, FleetOps

    ns = namespace or os.environ.get("POD_NAMESPACE") or "default"

    async def go() -> T:
        client = await connect(kubeconfig)
        try:
            name = fleet
            if name is None:
                items, _ = await client.list_all(SPARK_FLEETS, ns)
                names = sorted(i["metadata"]["name"] for i in items)
                if len(names) != 1:
                    raise FleetError(
                        f'no SparkFleet in namespace "{ns}"'
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
    from sparkfleet.cli import parse_duration

    return parse_duration(value)


@shards_app.command("status")
def status(
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
    output: Output = Format.table,
) -> None:
    """Each shard's holder, age, objects and queue depth; each member's load."""

    async def work(ops: Any) -> Any:
        return await ops.status()

    report = _run(kubeconfig, namespace, fleet, work)
    if output is not Format.table:
        typer.echo(structured(report.to_dict(), output))
        return
    typer.echo(
        f"fleet {report.namespace}/{report.fleet}   coordinator {report.coordinator}   ready {report.ready}"
    )
    typer.echo()
    typer.echo(
        table(
            ["shard", "holder", "desired", "phase", "age", "objects", "queued"],
            [[s.name, s.holder, s.desired, s.phase, s.age, s.objects, s.queued] for s in report.shards],
        )
    )
    typer.echo()
    typer.echo(
        table(
            ["member", "state", "shards", "objects", "queued", "capacity", "coordinator"],
            [
                [
                    m.member,
                    m.state,
                    m.shards,
                    m.objects,
                    m.queued,
                    f"{m.capacity:g}",
                    "*" if m.coordinator else "",
                ]
                for m in report.members
            ],
        )
    )
    for condition in report.conditions:
        if condition.get("type") in ("Invalid", "Overlap") and condition.get("status") == "True":
            typer.echo(f"\n{condition['type']}: {condition.get('message', '')}", err=True)


def _print_moves(moves: list[Any], output: Format) -> None:
    rows = [{"shard": m.shard, "from": m.source, "to": m.target, "reason": m.reason} for m in moves]
    if output is not Format.table:
        typer.echo(structured(rows, output))
    elif not rows:
        typer.echo("no moves: every shard is where the plan wants it")
    else:
        typer.echo(
            table(
                ["shard", "from", "to", "reason"],
                [[r["shard"], r["from"] or "<none>", r["to"] or "<none>", r["reason"]] for r in rows],
            )
        )


@shards_app.command("plan")
def plan_command(
    rebalance: Annotated[
        bool, typer.Option(help="Plan a full rebalance instead of the minimal moves.")
    ] = False,
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
    output: Output = Format.table,
) -> None:
    """The moves the coordinator would make now (changes nothing)."""
    from sparkfleet.sharding.ops import planned_moves

    async def work(ops: Any) -> Any:
        return planned_moves(await ops.get(), rebalance=rebalance)

    _print_moves(_run(kubeconfig, namespace, fleet, work), output)


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


@shards_app.command("move")
def move(
    shard: Annotated[str, typer.Argument(help="The shard to move.")],
    to: Annotated[str, typer.Option("--to", help="The member that should hold it (a pin).")],
    wait: Wait = True,
    timeout: Timeout = "2m",
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """Pin SHARD to a member and hand it over (undo with `unpin`)."""
    from sparkfleet.sharding.ops import shard_on

    async def work(ops: Any) -> bool:
        await ops.move(shard, to)
        typer.echo(f'shard "{shard}" pinned to "{to}"')
        return await _follow(ops, shard_on(shard, to), _seconds(timeout)) if wait else True

    if not _run(kubeconfig, namespace, fleet, work):
        typer.echo(f"error: shard {shard!r} is not held by {to!r} after {timeout}", err=True)
        raise typer.Exit(1)
    if wait:
        typer.echo(f'shard "{shard}" is held by "{to}"')


@shards_app.command("unpin")
def unpin(
    shard: Annotated[str, typer.Argument(help="The shard to unpin.")],
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """Remove SHARD's pin (it stays where it is until the plan moves it)."""

    async def work(ops: Any) -> None:
        await ops.unpin(shard)

    _run(kubeconfig, namespace, fleet, work)
    typer.echo(f'shard "{shard}" unpinned')


def _drain(member: str, undo: bool, wait: bool, timeout: str, kubeconfig: str | None, namespace: str | None,
           fleet: str | None) -> None:  # fmt: skip
    from sparkfleet.sharding.ops import all_held, member_empty

    async def work(ops: Any) -> bool:
        await ops.drain(member, undo=undo)
        typer.echo(f'member "{member}" {"undrained" if undo else "draining"}')
        if not wait:
            return True
        return await _follow(ops, all_held if undo else member_empty(member), _seconds(timeout))

    if not _run(kubeconfig, namespace, fleet, work):
        typer.echo(f"error: not done after {timeout}; see `sparkfleet shards status`", err=True)
        raise typer.Exit(1)
    if wait and not undo:
        typer.echo(f'member "{member}" holds no shards')


@shards_app.command("drain")
def drain(
    member: Annotated[str, typer.Argument(help="The member to empty.")],
    wait: Wait = True,
    timeout: Timeout = "5m",
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """Move every shard off MEMBER (it keeps running, holding none) before maintenance."""
    _drain(member, False, wait, timeout, kubeconfig, namespace, fleet)


@shards_app.command("undrain")
def undrain(
    member: Annotated[str, typer.Argument(help="The member to give shards again.")],
    wait: Wait = False,
    timeout: Timeout = "5m",
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
) -> None:
    """Let MEMBER take shards again (it gets them at the next rebalance, or as others leave)."""
    _drain(member, True, wait, timeout, kubeconfig, namespace, fleet)


@shards_app.command("rebalance")
def rebalance(
    dry_run: Annotated[bool, typer.Option(help="Show the moves; change nothing.")] = False,
    wait: Wait = True,
    timeout: Timeout = "5m",
    kubeconfig: Kubeconfig = None,
    namespace: Namespace = None,
    fleet: Fleet = None,
    output: Output = Format.table,
) -> None:
    """Show the moves of a full rebalance, apply them, and follow them to completion."""
    from sparkfleet.sharding.ops import planned_moves, rebalanced

    async def work(ops: Any) -> bool:
        moves = planned_moves(await ops.get(), rebalance=True)
        _print_moves(moves, output)
        if dry_run or not moves:
            return True
        token = await ops.request_rebalance()
        typer.echo(f"rebalance requested ({token})", err=True)
        return await _follow(ops, rebalanced(token), _seconds(timeout)) if wait else True

    if not _run(kubeconfig, namespace, fleet, work):
        typer.echo(f"error: rebalance not done after {timeout}; see `sparkfleet shards status`", err=True)
        raise typer.Exit(1)
