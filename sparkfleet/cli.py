"""`sparkfleet`: every command (the kubectl plugin, ``sparkfleet.plugin``, has the fleet commands only)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from sparkfleet import __version__, cli_support, flags, kubeflow_flags, options
from sparkfleet.shards_cli import shards_app
from sparkfleet.sim_cli import sim_command

app = typer.Typer(
    help="sparkfleet: a sharded fleet of Spark operators for Kubernetes.",
    no_args_is_help=True,
    add_completion=False,  # `sparkfleet completion SHELL` instead, as kubectl and helm have it
    context_settings=cli_support.CONTEXT_SETTINGS,
    rich_markup_mode=None,  # click's plain help: whole flag names, wrapped text, no boxes in a pipe
)


@app.callback()
def top_level(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=cli_support.print_version(f"sparkfleet {__version__}"),
            is_eager=True,
            help="Print sparkfleet's version and exit.",
        ),
    ] = False,
) -> None:
    """sparkfleet: a sharded fleet of Spark operators for Kubernetes."""


@app.command(short_help="Print the version.")
def version() -> None:
    """Print sparkfleet's version."""
    typer.echo(f"sparkfleet {__version__}")


@app.command(short_help="Print a shell completion script (bash, zsh or fish).")
def completion(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", metavar="SHELL")],
) -> None:
    """Print a shell completion script: source <(sparkfleet completion bash).

    Add that line to ~/.bashrc (zsh: `sparkfleet completion zsh` in ~/.zshrc; fish:
    sparkfleet completion fish > ~/.config/fish/completions/sparkfleet.fish).
    """
    prog = ctx.find_root().info_name or "sparkfleet"
    try:
        typer.echo(cli_support.completion_script(prog, shell))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="SHELL") from exc


@app.command("controlplane", short_help="Start a local control plane until Ctrl-C.")
def controlplane(
    workdir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Folder for etcd data, certificates, logs (default: a temporary one)."
        ),
    ] = None,
) -> None:
    """Start a local control plane (etcd, kube-apiserver, kube-controller-manager) until Ctrl-C."""
    from sparkfleet.testing import AssetsNotFound, ControlPlane, ControlPlaneError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    async def serve() -> None:
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        async with ControlPlane(workdir) as cp:
            typer.echo(f"control plane ready in {cp.startup_seconds:.1f}s at {cp.host}")
            typer.echo(f"export KUBECONFIG={cp.kubeconfig}")
            typer.echo(f"logs: {cp.workdir / 'logs'}    (Ctrl-C stops everything)")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            waiters: list[asyncio.Task[object]] = [asyncio.create_task(stop.wait())]
            waiters += [asyncio.create_task(p.proc.wait()) for p in cp.processes.values()]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            for process in cp.processes.values():
                if not process.running:
                    typer.echo(f"{process.name} exited; stopping:\n{process.log_tail()}", err=True)
            typer.echo("stopping the control plane")

    try:
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(serve())
    except (AssetsNotFound, ControlPlaneError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


LOG_LEVELS = flags.LOG_LEVELS
EXIT_IDENTITY_IN_USE = 3
"""`sparkfleet run` exit code: another live process holds the member identity (--identity)."""


@app.command("run", short_help="Run one operator instance (alone, leader-elected, in a fleet).")
@cli_support.with_flags(options.run_flags())
def run_command(ctx: typer.Context, **values: object) -> None:
    """Run one operator instance: alone, leader-elected, or as a member of a sharded --fleet."""
    from sparkfleet import modes
    from sparkfleet.kube.config import KubeConfigError, load_connection
    from sparkfleet.logs import configure_logging

    given = options.RunOptions.from_flags(values)
    observability = given.observability
    configure_logging("json" if observability.log_format == "json" else "text", observability.log_level)
    for warning in ctx.obj or []:  # Kubeflow Spark Operator flags accepted and ignored, one line each
        logging.getLogger("sparkfleet.cli").warning(warning)
    try:
        given.election.lease  # noqa: B018  (read: refuses timings that do not fit together)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--leader-election-*") from exc
    try:
        given.controller.batch  # noqa: B018  (read: refuses a default that is not a batch scheduler)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    conflict = modes.conflict(
        fleet=given.election.fleet,
        leader_elect=given.election.leader_elect,
        namespaces=given.controller.namespaces,
        label_selector=given.controller.label_selector,
        namespace_selector=given.controller.namespace_selector,
    )
    if conflict:
        typer.echo(f"error: {conflict}", err=True)
        raise typer.Exit(2)
    try:  # flags first, then the kubeconfig, before the operator is even loaded
        connection = uvloop.run(load_connection(given.client.kubeconfig))
    except KubeConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    from sparkfleet.instance import run
    from sparkfleet.sharding.member import FleetUnavailable, IdentityInUse
    from sparkfleet.startup import ApiServerUnreachable

    run_options = dataclasses.replace(given, client=dataclasses.replace(given.client, connection=connection))
    try:
        code = uvloop.run(run(run_options))
    except IdentityInUse as exc:  # another live process holds --identity: a distinct code
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_IDENTITY_IN_USE) from exc
    except ApiServerUnreachable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except (KubeConfigError, FleetUnavailable) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ValueError as exc:  # flag values the runtime refuses (naming the flag)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@app.command("demo", short_help="Run the demo workload on a local fleet, with a live view.")
def demo(
    instances: Annotated[
        int,
        typer.Option(metavar="N", parser=flags.whole(1), help="Operator instances (separate processes)."),
    ] = 3,
    namespaces: Annotated[
        int, typer.Option(metavar="N", parser=flags.whole(1), help="Namespaces, one shard each.")
    ] = 40,
    apps_per_namespace: Annotated[
        int, typer.Option(metavar="N", parser=flags.whole(1), help="SparkApplications per namespace.")
    ] = 10,
    executors: Annotated[
        str, typer.Option(metavar="RANGE", help="Executors per application: a range like 1-10.")
    ] = "1-10",
    run_time: Annotated[
        str, typer.Option(metavar="RANGE", help="Seconds each application runs: a range like 10-30.")
    ] = "10-30",
    failures: Annotated[
        int, typer.Option(metavar="N", parser=flags.whole(0), help="Applications told to fail.")
    ] = 0,
    arrival_per_minute: Annotated[
        float | None,
        typer.Option(
            metavar="RATE",
            parser=flags.number(1),
            help="Submit at this pace (applications per minute); default: all at once.",
        ),
    ] = None,
    kill_one_at: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            parser=flags.number(0),
            help="Kill -9 the busiest instance this many seconds in, to show failover.",
        ),
    ] = None,
    concurrent_syncs: Annotated[
        int,
        typer.Option(metavar="N", parser=flags.whole(1), help="--concurrent-syncs of each instance."),
    ] = 10,
    report: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write the run's JSON report here.")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Folder for logs and the control plane (default: temporary)."),
    ] = None,
) -> None:
    """The seed workload on a local fleet: control plane, instances, simulator, live view, report."""
    import orjson

    from sparkfleet.demo import summary
    from sparkfleet.demo.live import LiveView
    from sparkfleet.demo.runner import RunConfig, run
    from sparkfleet.demo.workload import Workload, parse_range
    from sparkfleet.logs import configure_logging
    from sparkfleet.sim import SimConfig
    from sparkfleet.testing import AssetsNotFound, ControlPlaneError

    configure_logging("text", "error")
    try:
        low, high = parse_range(run_time)
        config = RunConfig(
            instances=instances,
            workload=Workload(namespaces, apps_per_namespace, parse_range(executors), failures=failures),
            sim=SimConfig(run_time=(float(low), float(high))),
            concurrent_syncs=concurrent_syncs,
            arrival_per_minute=arrival_per_minute,
            kill_one_at=kill_one_at,
            workdir=workdir,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(
        f"starting a local control plane, {instances} instances and the pod simulator; "
        f"{config.workload.total} applications in {namespaces} namespaces"
    )
    try:
        with LiveView() as view:
            result = uvloop.run(run(config, view.show))
    except (AssetsNotFound, ControlPlaneError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        typer.echo("interrupted: everything the demo started is stopped", err=True)
        raise typer.Exit(130) from None
    typer.echo(summary.render(result))
    if report is not None:
        report.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        typer.echo(f"report: {report}")
    if result["apps_lost"] or result["overlaps"]:
        raise typer.Exit(1)


app.add_typer(shards_app, name="shards", short_help="See and steer a fleet's shards (status, move, drain).")
app.command("sim", short_help="Run the pod simulator against a cluster until Ctrl-C.")(sim_command)


def main() -> None:
    """The entry point. A usage error (a bad flag) is one line on stderr, ``error: ...``, exit 2, as
    kubectl says it: readable in a pod's log and by scripts, where a boxed message wraps mid-word."""
    args = sys.argv[1:]
    warnings: list[str] = []
    if args[:2] == ["controller", "start"]:  # the Kubeflow Spark Operator's image's command
        args = ["run", *kubeflow_flags.controller_start(args[2:])]
    if args[:1] == ["run"]:  # a Deployment made for the Kubeflow Spark Operator passes its flags
        try:
            translated = kubeflow_flags.translate(args[1:])
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            sys.exit(2)
        args, warnings = ["run", *translated.argv], translated.warnings
    cli_support.enable_completion()  # answers the requests of `sparkfleet completion SHELL`'s script
    try:
        code = app(args=args, standalone_mode=False, obj=warnings)
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        code = 1
    except typer.TyperException as exc:  # click's usage errors: bad values, unknown options
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a command group alone: its help, as kubectl
            typer.echo(message)
            code = 0
        else:
            typer.echo(f"error: {' '.join(message.split())}", err=True)
            code = getattr(exc, "exit_code", 2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
