"""`sparkfleet` (also installed as the kubectl plugin `kubectl-sparkfleet`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from sparkfleet import __version__

app = typer.Typer(
    help="sparkfleet: a sharded fleet of Spark operators for Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print sparkfleet's version."""
    typer.echo(f"sparkfleet {__version__}")


@app.command("controlplane")
def controlplane(
    workdir: Annotated[
        Path | None, typer.Option(help="Folder for etcd data, certificates, logs (default: a temporary one).")
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
