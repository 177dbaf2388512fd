"""`sparkfleet run` starting: an API server that does not answer is one line and a non-zero exit
after a bounded wait; a --namespaces namespace that does not exist is one warning, and served once
it is created."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
import yaml

from sparkfleet.api import SPARK_APPLICATIONS
from sparkfleet.kube import ApiError, KubeClient
from sparkfleet.kube.resources import CLUSTERROLEBINDINGS, CLUSTERROLES, NAMESPACES, SERVICEACCOUNTS
from sparkfleet.startup import warn_missing_namespaces
from sparkfleet.testing import ControlPlane, TcpProxy
from sparkfleet.testing.proc import free_port
from tests.examples import manifests
from tests.support import RBAC, eventually, spark_crds

MODES = {"alone": [], "fleet": ["--fleet", "spark"], "leader-elected": ["--leader-elect"]}


async def sparkfleet_run(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sparkfleet.cli", "run", "--metrics-bind-address", f"127.0.0.1:{free_port()}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("mode", list(MODES))
async def test_an_api_server_that_does_not_answer_is_one_line_and_exit_1(tmp_path: Path, mode: str) -> None:
    """Nothing listens on the kubeconfig's port: after --startup-timeout, one error line, exit 1.
    It was a warning, 'stopped exit_code=0', then a 246-line traceback (fleet), or a wait forever."""
    port = free_port()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }))  # fmt: skip
    started = time.monotonic()
    code, out, err = await sparkfleet_run("--kubeconfig", str(kubeconfig), "--startup-timeout", "2s",
                                          *MODES[mode])  # fmt: skip
    assert code == 1, err
    assert time.monotonic() - started >= 2  # it waited for the API server, as long as it was told
    lines = err.splitlines()
    assert lines[-1] == (
        f"error: cannot reach the API server at https://127.0.0.1:{port}: connection refused "
        "(waited 2s, see --startup-timeout)"
    ), err
    assert "the API server does not answer yet; waiting for it" in lines[0], err
    assert len(lines) == 2, err  # the warning when it starts waiting, the error when it stops
    assert "Traceback" not in err, err
    assert "exit_code=0" not in err, err
    assert out == ""


async def until_ready(
    port: int, proc: asyncio.subprocess.Process, log: Callable[[], str], timeout: float = 30
) -> None:
    """``eventually`` /readyz answers 200, failing at once if the instance exits meanwhile."""
    async with aiohttp.ClientSession() as session:

        async def ready() -> bool:
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                    if resp.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            assert proc.returncode is None, log()
            return False

        await eventually(ready, what="/readyz to answer 200", seen=log, timeout=timeout, interval=0.1)


async def test_an_api_server_that_answers_within_the_bound_is_waited_for(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    """The API server unreachable at start-up, then reachable before --startup-timeout: the
    instance waits, says so once, and serves (a pod starting before its network is ready)."""
    await control_plane.install_crds(spark_crds())
    target = urlsplit(control_plane.host)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 443) as proxy:
        proxy.cut()
        config = yaml.safe_load(control_plane.kubeconfig.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = proxy.url
        kubeconfig = tmp_path / "proxied.kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))
        port = free_port()
        log_path = tmp_path / "operator.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sparkfleet.cli", "run", "--kubeconfig", str(kubeconfig),
                "--namespaces", namespace, "--metrics-bind-address", f"127.0.0.1:{port}",
                "--startup-timeout", "2m", stdout=log, stderr=log,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while "waiting for it" not in log_path.read_text():
                assert proc.returncode is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                await asyncio.sleep(0.1)
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/readyz") as resp,
            ):
                assert resp.status == 503, await resp.text()  # not ready while it waits
                assert "no answer from the API server" in await resp.text()
            proxy.heal()
            await until_ready(port, proc, log_path.read_text)
            text = log_path.read_text()
            assert "the API server answers" in text, text
            assert text.count("does not answer yet") == 1, text
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0, log_path.read_text()


async def test_a_missing_namespace_is_one_warning_and_served_once_created(
    control_plane: ControlPlane, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    await control_plane.install_crds(spark_crds())
    later = f"later-{uuid.uuid4().hex[:6]}"
    also = f"also-missing-{uuid.uuid4().hex[:6]}"
    port = free_port()
    log_path = tmp_path / "operator.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sparkfleet.cli", "run", "--kubeconfig", str(control_plane.kubeconfig),
            "--namespaces", f"{namespace},{later}", "--namespaces", also,
            "--metrics-bind-address", f"127.0.0.1:{port}", "--log-format", "json",
            stdout=log, stderr=log, env={**os.environ, "POD_NAME": "operator-0"},
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        await until_ready(port, proc, log_path.read_text)
        warnings = [line for line in log_path.read_text().splitlines() if "do not exist" in line]
        assert len(warnings) == 1, log_path.read_text()
        assert f'"namespaces":"{later},{also}"' in warnings[0], warnings
        assert '"level":"warning"' in warnings[0], warnings
        assert "--namespaces" in warnings[0], warnings

        # Created after start-up: served, without a restart.
        await control_plane.create_namespace(later)
        await kube.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                            "metadata": {"name": "spark-operator-spark", "namespace": later}})  # fmt: skip
        await kube.create(SPARK_APPLICATIONS, manifests.spark_pi(namespace=later))
        while ((await kube.get(SPARK_APPLICATIONS, "spark-pi", later)).get("status") or {}).get(
            "applicationState", {}
        ).get("state") != "SUBMITTED":
            assert proc.returncode is None, log_path.read_text()
            assert time.monotonic() < deadline + 30, log_path.read_text()
            await asyncio.sleep(0.1)
        text = log_path.read_text()
        assert sum("do not exist" in line for line in text.splitlines()) == 1, text  # once, not per reconcile
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
        try:
            await kube.delete(NAMESPACES, later)
        except ApiError as exc:  # not created: the test failed before it got there
            if not exc.is_not_found:
                raise
    assert code == 0, log_path.read_text()


async def test_namespaces_are_checked_with_the_rights_the_operator_has(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """No right to list namespaces: a GET of each named one (a ClusterRole may grant get on names);
    no right at all: nothing is said (nothing is known)."""
    missing_name = f"missing-{uuid.uuid4().hex[:6]}"
    who = f"checker-{uuid.uuid4().hex[:6]}"
    identity = await control_plane.mint_identity(namespace, who)
    client = await control_plane.client(kubeconfig=identity.kubeconfig)
    try:
        assert await warn_missing_namespaces(client, [namespace, missing_name]) == []  # may not tell
        meta = {"name": who}
        await kube.create(CLUSTERROLES, {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": meta,
                                         "rules": [{"apiGroups": [""], "resources": ["namespaces"],
                                                    "resourceNames": [namespace, missing_name],
                                                    "verbs": ["get"]}]})  # fmt: skip
        await kube.create(CLUSTERROLEBINDINGS, {
            "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": meta,
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": who},
            "subjects": [{"kind": "ServiceAccount", "name": who, "namespace": namespace}],
        })  # fmt: skip
        try:
            deadline = time.monotonic() + 20
            while (found := await warn_missing_namespaces(client, [namespace, missing_name])) == []:
                assert time.monotonic() < deadline, "the ClusterRole never took effect"
                await asyncio.sleep(0.1)  # RBAC's cache catches up with the new binding
            assert found == [missing_name]
        finally:
            await kube.delete(CLUSTERROLEBINDINGS, who)
            await kube.delete(CLUSTERROLES, who)
    finally:
        await client.close()
