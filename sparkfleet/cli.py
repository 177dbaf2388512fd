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

from sparkfleet import __version__, cli_support, flags, kubeflow_flags
from sparkfleet.flags import checked, split_host_port
from sparkfleet.flags import parse_duration as parse_duration  # sparkfleet.cli.parse_duration, as before
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


LOG_LEVELS = ("debug", "info", "warning", "error")
EXIT_IDENTITY_IN_USE = 3
"""`sparkfleet run` exit code: another live process holds the member identity (--identity)."""


Duration = checked(parse_duration)


@app.command("run", short_help="Run one operator instance (alone, leader-elected, in a fleet).")
def run_command(
    ctx: typer.Context,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
        ),
    ] = None,
    namespaces: Annotated[
        list[str] | None,
        typer.Option(
            "--namespaces",
            metavar="NAMES",
            callback=checked(flags.namespaces),
            help="Namespaces to serve (repeat or comma-separate).",
        ),
    ] = None,
    label_selector_filter: Annotated[
        str | None,
        typer.Option(
            metavar="SELECTOR",
            callback=checked(flags.label_selector),
            help="Serve only SparkApplications matching this label selector.",
        ),
    ] = None,
    concurrent_syncs: Annotated[
        int,
        typer.Option(
            "--concurrent-syncs",
            "--controller-threads",
            metavar="N",
            parser=cli_support.whole(1),
            help="Concurrent reconciles (at least 1).",
        ),
    ] = 10,
    kube_api_qps: Annotated[
        float,
        typer.Option(
            metavar="QPS",
            parser=cli_support.number(0),
            help="Client-side QPS limit towards the API server (0: none).",
        ),
    ] = 50.0,
    kube_api_burst: Annotated[
        int,
        typer.Option(
            metavar="N", parser=cli_support.whole(0), help="Client-side burst towards the API server."
        ),
    ] = 100,
    startup_timeout: Annotated[
        str,
        typer.Option(
            metavar="DURATION",
            callback=Duration,
            help="How long start-up waits for the API server to answer before it exits with an error "
            "(0: as long as it takes).",
        ),
    ] = "30s",
    workqueue_ratelimiter_bucket_qps: Annotated[
        float,
        typer.Option(
            metavar="QPS", parser=cli_support.number(0.001), help="Overall retry rate of the work queue."
        ),
    ] = 50.0,
    workqueue_ratelimiter_bucket_size: Annotated[
        int, typer.Option(metavar="N", parser=cli_support.whole(1), help="Retry burst of the work queue.")
    ] = 500,
    workqueue_ratelimiter_max_delay: Annotated[
        str, typer.Option(metavar="DURATION", callback=Duration, help="Cap on any one retry wait.")
    ] = "6h",
    max_tracked_executor_per_app: Annotated[
        int,
        typer.Option(
            metavar="N", parser=cli_support.whole(0), help="Executors tracked in status per application."
        ),
    ] = 1000,
    max_application_bytes: Annotated[
        int,
        typer.Option(
            metavar="BYTES",
            parser=cli_support.whole(1),
            help="Refuse an application whose spec, labels and annotations exceed this.",
        ),
    ] = 512 * 1024,  # app_cache.DEFAULT_MAX_APPLICATION_BYTES (imported lazily)
    driver_pod_creation_grace_period: Annotated[
        str,
        typer.Option(
            metavar="DURATION",
            callback=Duration,
            help="How long a submitted driver missing from the cache is waited for.",
        ),
    ] = "10s",
    enable_ui_service: Annotated[
        bool,
        typer.Option(
            show_default=False, help="Create a Service for each driver's Spark UI.  [default: true]"
        ),
    ] = True,
    max_executors: Annotated[
        int,
        typer.Option(
            metavar="N",
            parser=cli_support.whole(0),
            help="Most executors an application may ask for (0: no bound).",
        ),
    ] = 0,
    max_executor_cores: Annotated[
        str,
        typer.Option(
            metavar="CPUS",
            callback=checked(flags.quantity_bound),
            help="Most CPUs per executor, e.g. 8 (none: no bound).",
        ),
    ] = "",
    max_executor_memory: Annotated[
        str,
        typer.Option(
            metavar="QUANTITY",
            callback=checked(flags.quantity_bound),
            help="Most memory per executor with overhead, e.g. 64Gi.",
        ),
    ] = "",
    max_driver_cores: Annotated[
        str,
        typer.Option(
            metavar="CPUS",
            callback=checked(flags.quantity_bound),
            help="Most CPUs per driver, e.g. 4 (none: no bound).",
        ),
    ] = "",
    max_driver_memory: Annotated[
        str,
        typer.Option(
            metavar="QUANTITY",
            callback=checked(flags.quantity_bound),
            help="Most memory per driver with overhead, e.g. 16Gi.",
        ),
    ] = "",
    resource_quota_check: Annotated[
        bool,
        typer.Option(
            show_default=False,
            help="Refuse applications over a hard limit of their namespace's quotas.  [default: true]",
        ),
    ] = True,
    metrics_bind_address: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS",
            callback=checked(split_host_port),
            help="Where /metrics, /healthz and /readyz are served.",
        ),
    ] = ":8080",
    health_probe_bind_address: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS",
            callback=checked(flags.optional_host_port),
            help="Also serve /healthz and /readyz here (default: on --metrics-bind-address only; "
            "':8081' under 'controller start', as the Spark Operator).",
        ),
    ] = "",
    scheduled_spark_application_timestamp_precision: Annotated[
        str,
        typer.Option(
            metavar="UNIT",
            callback=checked(flags.timestamp_precision),
            help="Name scheduled runs <name>-<time>, the time in nanos, micros, millis, seconds or minutes.",
        ),
    ] = "nanos",
    metrics_prefix: Annotated[
        str,
        typer.Option(
            metavar="PREFIX",
            help="Prefix for the Spark application metrics (spark_application_*, spark_executor_*).",
        ),
    ] = "",
    leader_elect: Annotated[
        bool,
        typer.Option(
            show_default=False,
            help="Run only while holding the leader Lease (one active instance).  [default: false]",
        ),
    ] = False,
    leader_election_lock_name: Annotated[
        str, typer.Option(metavar="NAME", help="Name of the leader Lease.")
    ] = "sparkfleet-controller-lock",
    leader_election_lock_namespace: Annotated[
        str | None,
        typer.Option(
            metavar="NAMESPACE", help="Namespace of the leader Lease (default: $POD_NAMESPACE or default)."
        ),
    ] = None,
    leader_election_lease_duration: Annotated[
        str, typer.Option(metavar="DURATION", callback=Duration, help="Leader Lease duration.")
    ] = "15s",
    leader_election_renew_deadline: Annotated[
        str, typer.Option(metavar="DURATION", callback=Duration, help="Leader renew deadline.")
    ] = "10s",
    leader_election_retry_period: Annotated[
        str, typer.Option(metavar="DURATION", callback=Duration, help="Leader retry period.")
    ] = "2s",
    fleet: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Join this SparkFleet: serve the shards this instance holds (not with --namespaces).",
        ),
    ] = None,
    fleet_namespace: Annotated[
        str | None,
        typer.Option(
            metavar="NAMESPACE", help="Namespace of the SparkFleet (default: $POD_NAMESPACE or default)."
        ),
    ] = None,
    identity: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="This instance's name in the fleet (default: $POD_NAME or the hostname)."
        ),
    ] = None,
    shard_capacity: Annotated[
        float,
        typer.Option(
            metavar="WEIGHT",
            parser=cli_support.number(0.01),
            help="Relative capacity: 2 takes about twice the shards of 1.",
        ),
    ] = 1.0,
    handoff_timeout: Annotated[
        str,
        typer.Option(
            metavar="DURATION",
            callback=Duration,
            help="How long a hand-off waits for in-flight reconciles before cancelling them.",
        ),
    ] = "10s",
    audit_log: Annotated[
        str | None,
        typer.Option(
            metavar="FILE", help="Append one JSON line per reconcile (t0, t1, member, shard, key) here."
        ),
    ] = None,
    pod_security: Annotated[
        str,
        typer.Option(
            metavar="LEVEL",
            callback=checked(flags.one_of("none", "baseline")),
            help="none, or baseline: refuse host paths, host namespaces, privileged pods.",
        ),
    ] = "none",
    allowed_service_accounts: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAMES",
            callback=checked(flags.service_accounts),
            help="ServiceAccounts drivers and executors may run as (default: any).",
        ),
    ] = None,
    log_format: Annotated[
        str,
        typer.Option(
            metavar="FORMAT",
            callback=checked(flags.one_of("text", "json")),
            help="text (readable) or json (structured).",
        ),
    ] = "text",
    log_level: Annotated[
        str,
        typer.Option(
            metavar="LEVEL",
            callback=checked(flags.one_of(*LOG_LEVELS)),
            help="debug, info, warning or error.",
        ),
    ] = "info",
) -> None:
    """Run one operator instance: alone, leader-elected, or as a member of a sharded --fleet."""
    import os

    from sparkfleet import modes
    from sparkfleet.kube.config import KubeConfigError, load_connection
    from sparkfleet.kube.lease import LeaseTiming
    from sparkfleet.logs import configure_logging

    configure_logging("json" if log_format.lower() == "json" else "text", log_level.lower())
    for warning in ctx.obj or []:  # Kubeflow Spark Operator flags accepted and ignored, one line each
        logging.getLogger("sparkfleet.cli").warning(warning)
    host, port = split_host_port(metrics_bind_address)
    try:
        lease = LeaseTiming(
            parse_duration(leader_election_lease_duration),
            parse_duration(leader_election_renew_deadline),
            parse_duration(leader_election_retry_period),
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--leader-election-*") from exc
    namespace_list = [ns.strip() for item in namespaces or [] for ns in item.split(",") if ns.strip()]
    conflict = modes.conflict(
        fleet=fleet,
        leader_elect=leader_elect,
        namespaces=namespace_list,
        label_selector=label_selector_filter,
    )
    if conflict:
        typer.echo(f"error: {conflict}", err=True)
        raise typer.Exit(2)
    try:  # flags first, then the kubeconfig, before the operator is even loaded
        connection = uvloop.run(load_connection(kubeconfig))
    except KubeConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc

    from sparkfleet.instance import RunOptions, run
    from sparkfleet.operator.spark.bounds import Bounds
    from sparkfleet.sharding.member import FleetUnavailable, IdentityInUse
    from sparkfleet.startup import ApiServerUnreachable

    options = RunOptions(
        kubeconfig=kubeconfig,
        connection=connection,
        namespaces=namespace_list,
        label_selector=label_selector_filter,
        concurrent_syncs=concurrent_syncs,
        kube_api_qps=kube_api_qps,
        kube_api_burst=kube_api_burst,
        bucket_qps=workqueue_ratelimiter_bucket_qps,
        bucket_size=workqueue_ratelimiter_bucket_size,
        max_delay=parse_duration(workqueue_ratelimiter_max_delay),
        max_tracked_executors=max_tracked_executor_per_app,
        max_application_bytes=max_application_bytes,
        driver_grace=parse_duration(driver_pod_creation_grace_period),
        ui_service=enable_ui_service,
        bounds=Bounds.from_flags(
            max_executors, max_executor_cores, max_executor_memory, max_driver_cores, max_driver_memory
        ),
        resource_quota_check=resource_quota_check,
        metrics_host=host,
        metrics_port=port,
        probe_address=flags.optional_host_port(health_probe_bind_address),
        timestamp_precision=scheduled_spark_application_timestamp_precision.lower(),
        metrics_prefix=metrics_prefix,
        leader_elect=leader_elect,
        lease_name=leader_election_lock_name,
        lease_namespace=leader_election_lock_namespace or os.environ.get("POD_NAMESPACE") or "default",
        lease=lease,
        fleet=fleet,
        fleet_namespace=fleet_namespace or os.environ.get("POD_NAMESPACE") or "default",
        shard_capacity=shard_capacity,
        handoff_timeout=parse_duration(handoff_timeout),
        audit_log=audit_log,
        startup_timeout=parse_duration(startup_timeout),
        pod_security=pod_security.lower(),
        allowed_service_accounts=tuple(
            sa.strip() for item in allowed_service_accounts or [] for sa in item.split(",") if sa.strip()
        ),
    )
    if identity:
        options = dataclasses.replace(options, identity=identity)
    try:
        code = uvloop.run(run(options))
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
        typer.Option(
            metavar="N", parser=cli_support.whole(1), help="Operator instances (separate processes)."
        ),
    ] = 3,
    namespaces: Annotated[
        int, typer.Option(metavar="N", parser=cli_support.whole(1), help="Namespaces, one shard each.")
    ] = 40,
    apps_per_namespace: Annotated[
        int, typer.Option(metavar="N", parser=cli_support.whole(1), help="SparkApplications per namespace.")
    ] = 10,
    executors: Annotated[
        str, typer.Option(metavar="RANGE", help="Executors per application: a range like 1-10.")
    ] = "1-10",
    run_time: Annotated[
        str, typer.Option(metavar="RANGE", help="Seconds each application runs: a range like 10-30.")
    ] = "10-30",
    failures: Annotated[
        int, typer.Option(metavar="N", parser=cli_support.whole(0), help="Applications told to fail.")
    ] = 0,
    arrival_per_minute: Annotated[
        float | None,
        typer.Option(
            metavar="RATE",
            parser=cli_support.number(1),
            help="Submit at this pace (applications per minute); default: all at once.",
        ),
    ] = None,
    kill_one_at: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            parser=cli_support.number(0),
            help="Kill -9 the busiest instance this many seconds in, to show failover.",
        ),
    ] = None,
    concurrent_syncs: Annotated[
        int,
        typer.Option(metavar="N", parser=cli_support.whole(1), help="--concurrent-syncs of each instance."),
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
