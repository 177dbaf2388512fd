"""`sparkfleet sim`: the pod simulator on its own, against any cluster (--kubeconfig / $KUBECONFIG).

It plays the kubelet and the Spark driver for the pods an operator launches, so a control plane
without nodes (`sparkfleet controlplane`) runs SparkApplications to their end. Light to import: the
simulator and the Kubernetes layer are loaded when the command runs.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Annotated, Any

import typer
import uvloop

from sparkfleet import flags

LOG_LEVELS = flags.LOG_LEVELS


_checked = flags.checked


def _range(flag: str) -> Callable[[Any], Any]:
    def check(value: str) -> None:
        from sparkfleet.sim.flags import seconds_range

        seconds_range(value, flag)

    return _checked(check)


def _one_of(*choices: str) -> Callable[[Any], Any]:
    return _checked(flags.one_of(*choices))


def _namespaces(values: list[str]) -> None:
    from sparkfleet.operator.spark.naming import is_dns_label
    from sparkfleet.sim.flags import namespace_list

    for name in namespace_list(values):
        if not is_dns_label(name):
            raise ValueError(f"--namespaces: {name!r} is not a namespace name (a DNS label)")


def _interval(value: str) -> None:
    from sparkfleet.sim.flags import seconds

    seconds(value, "--stats-every")


def sim_command(
    kubeconfig: Annotated[
        str | None, typer.Option(help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)")
    ] = None,
    context: Annotated[
        str | None, typer.Option(help="kubeconfig context (default: the current one).")
    ] = None,
    namespaces: Annotated[
        list[str] | None,
        typer.Option(
            "--namespaces",
            "-n",
            callback=_checked(_namespaces),
            help="Namespaces whose pods to simulate (repeat or comma-separate; default: all).",
        ),
    ] = None,
    nodes: Annotated[
        int,
        typer.Option(metavar="N", parser=flags.whole(1), help="Fake Nodes to register and bind pods to."),
    ] = 8,
    start_delay: Annotated[
        str, typer.Option(callback=_range("--start-delay"), help="Pod created -> Running, seconds: a range.")
    ] = "0.1-0.3",
    run_time: Annotated[
        str,
        typer.Option(
            callback=_range("--run-time"),
            help="Driver Running -> done, seconds: a range like 5-10 (annotation "
            "sparkfleet.io/sim-run-seconds wins).",
        ),
    ] = "5-10",
    stop_delay: Annotated[
        str,
        typer.Option(
            callback=_range("--stop-delay"), help="Pod deleted -> its containers exit (at most its grace)."
        ),
    ] = "0.05-0.2",
    failure_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of drivers that end Failed (annotation sparkfleet.io/sim-outcome: Failed wins).",
        ),
    ] = 0.0,
    concurrency: Annotated[
        int, typer.Option(metavar="N", parser=flags.whole(1), help="Writes in flight at once.")
    ] = 32,
    seed: Annotated[int | None, typer.Option(help="Seed of the random delays and outcomes.")] = None,
    stats_every: Annotated[
        str,
        typer.Option(
            callback=_checked(_interval), help="Log the counts this often when they changed (0: never)."
        ),
    ] = "10s",
    log_format: Annotated[
        str, typer.Option(callback=_one_of("text", "json"), help="text (readable) or json (structured).")
    ] = "text",
    log_level: Annotated[
        str, typer.Option(callback=_one_of(*LOG_LEVELS), help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Run the pod simulator (kubelet and Spark driver stand-in) until Ctrl-C or SIGTERM."""
    import aiohttp

    from sparkfleet.kube import ApiError, KubeConfigError, connect
    from sparkfleet.kube.errors import unreachable
    from sparkfleet.logs import configure_logging
    from sparkfleet.sim.flags import namespace_list, seconds, sim_config
    from sparkfleet.sim.serve import serve

    configure_logging("json" if log_format.lower() == "json" else "text", log_level.lower())
    try:
        config = sim_config(
            nodes=nodes,
            start_delay=start_delay,
            run_time=run_time,
            stop_delay=stop_delay,
            failure_rate=failure_rate,
            concurrency=concurrency,
            seed=seed,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    served = namespace_list(namespaces or [])
    every = seconds(stats_every, "--stats-every")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        client = await connect(kubeconfig, context=context)
        try:
            await serve(client, config, served, stop, stats_every=every)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RuntimeError(f"cannot reach the API server at {client.host}: {unreachable(exc)}") from exc
        except ApiError as exc:
            raise RuntimeError(f"the API server refused the simulator: {exc}") from exc
        finally:
            await client.close()

    try:
        uvloop.run(main())
    except KubeConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
