"""Malformed kubeconfigs and flags: a non-zero exit and a short message naming the field or flag, never a
traceback, never a hang. No cluster: the commands are refused before they need one (or reach a server
that refuses connections, or a small TLS server of the test's own)."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from typer.testing import CliRunner

from sparkfleet.cli import app
from sparkfleet.kube import KubeConfigError, connect
from sparkfleet.manager import first_of as _first
from sparkfleet.startup import check_api_server
from sparkfleet.testing.kubeconfig import write_kubeconfig
from sparkfleet.testing.pki import CertificateAuthority

WIDE = {"COLUMNS": "300", "NO_COLOR": "1"}  # one line per message, whatever the terminal


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REFUSING = f"https://127.0.0.1:{free_port()}"  # nothing listens there


def kubeconfig(cluster: dict[str, Any] | None = None, user: dict[str, Any] | None = None,
               context: dict[str, Any] | None = None, current: str = "x") -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": REFUSING, **(cluster or {})}}],
        "users": [{"name": "u", "user": {"token": "t", **(user or {})}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", **(context or {})}}],
        "current-context": current,
    }


PEM_JUNK = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n").decode()

# (id, kubeconfig file content (None: no file), words the error must hold)
KUBECONFIGS: list[tuple[str, str | dict[str, Any] | None, str]] = [
    ("missing-file", None, "no such file"),
    ("bad-yaml", "clusters: [unclosed\n", "not YAML (line 2, column 1"),
    ("not-a-mapping", "- a\n- list\n", "not a kubeconfig"),
    ("no-current-context", kubeconfig(current=""), "no current-context"),
    ("unknown-context", kubeconfig(current="nope"), "no context named 'nope'"),
    ("unknown-user", kubeconfig(context={"user": "who"}), "no user named 'who'"),
    ("unknown-cluster", kubeconfig(context={"cluster": "where"}), "no cluster named 'where'"),
    ("clusters-not-a-list", {**kubeconfig(), "clusters": {"c": {}}}, "clusters must be a list"),
    ("no-server", kubeconfig(cluster={"server": ""}), "cluster 'c' has no server"),
    ("server-not-a-url", kubeconfig(cluster={"server": "not a url"}), "server 'not a url' is not a URL"),
    ("server-bad-scheme", kubeconfig(cluster={"server": "ftp://127.0.0.1:6443"}), "scheme must be https"),
    ("server-bad-port", kubeconfig(cluster={"server": "https://127.0.0.1:99999"}), "is not a URL"),
    ("ca-not-base64", kubeconfig(cluster={"certificate-authority-data": "%%%"}),
     "certificate-authority-data is not base64"),
    ("ca-not-pem", kubeconfig(cluster={"certificate-authority-data": PEM_JUNK}),
     "certificate-authority is not a PEM certificate"),
    ("ca-file-missing", kubeconfig(cluster={"certificate-authority": "/nonexistent/ca.crt"}),
     "certificate-authority /nonexistent/ca.crt"),
    ("client-cert-junk", kubeconfig(user={"client-certificate-data": PEM_JUNK, "client-key-data": PEM_JUNK}),
     "client-certificate and client-key do not load"),
    ("client-cert-without-key", kubeconfig(user={"client-certificate-data": PEM_JUNK}), "go together"),
    ("token-file-missing", kubeconfig(user={"token": None, "tokenFile": "/nonexistent/token"}),
     "token file /nonexistent/token"),
    ("exec-without-command", kubeconfig(user={"token": None, "exec": {"args": ["x"]}}), "exec needs a command"),
]  # fmt: skip


def write(tmp_path: Path, content: str | dict[str, Any] | None) -> str:
    path = tmp_path / "kubeconfig"
    if content is not None:
        if isinstance(content, dict):
            users = content.get("users") or []
            for user in users if isinstance(users, list) else []:
                user["user"] = {k: v for k, v in user["user"].items() if v is not None}
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return str(path)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=WIDE)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def assert_short_error(code: int, output: str, words: str, expected_code: int = 2) -> None:
    assert code == expected_code, output
    assert words in output, output
    assert "Traceback" not in output, output
    assert len(output.strip().splitlines()) <= 5, output  # one message: typer adds usage and a box


@pytest.mark.parametrize(("content", "words"), [k[1:] for k in KUBECONFIGS], ids=[k[0] for k in KUBECONFIGS])
@pytest.mark.parametrize("command", ["run", "shards"])
def test_a_bad_kubeconfig_is_named_by_field(tmp_path: Path, command: str, content: Any, words: str) -> None:
    path = write(tmp_path, content)
    args = ["run", "--metrics-bind-address", "127.0.0.1:0"] if command == "run" else ["shards", "status"]
    code, output = invoke(*args, "--kubeconfig", path)
    assert_short_error(code, output, words)
    assert f"error: kubeconfig {path}" in output


# (flags, words the error must hold: the flag's name first)
FLAGS: list[tuple[list[str], str]] = [
    (["--concurrent-syncs", "0"], "'--concurrent-syncs'"),
    (["--concurrent-syncs", "abc"], "'--concurrent-syncs'"),
    (["--controller-threads", "-1"], "'--controller-threads'"),
    (["--kube-api-qps", "-5"], "'--kube-api-qps'"),
    (["--kube-api-burst", "many"], "'--kube-api-burst'"),
    (["--workqueue-ratelimiter-bucket-qps", "0"], "'--workqueue-ratelimiter-bucket-qps'"),
    (["--workqueue-ratelimiter-bucket-size", "0"], "'--workqueue-ratelimiter-bucket-size'"),
    (["--workqueue-ratelimiter-max-delay", "5x"], "'--workqueue-ratelimiter-max-delay': '5x' is not a duration"),
    (["--leader-election-lease-duration", "soon"], "'--leader-election-lease-duration'"),
    (["--leader-election-retry-period", "1m2"], "'--leader-election-retry-period'"),
    (["--leader-election-lease-duration", "5s", "--leader-election-renew-deadline", "10s"],
     "--leader-election-*: lease duration (5.0s) must be greater than the renew deadline (10.0s)"),
    (["--handoff-timeout", "-3s"], "'--handoff-timeout'"),
    (["--metrics-bind-address", "nope"], "'--metrics-bind-address': 'nope' is not an address"),
    (["--metrics-bind-address", ":99999"], "'--metrics-bind-address'"),
    (["--label-selector-filter", "a=b=c"], "'--label-selector-filter': 'a=b=c' is not a requirement"),
    (["--label-selector-filter", "team in ()"], "'--label-selector-filter'"),
    (["--label-selector-filter", "bad key!=x"], "'--label-selector-filter'"),
    (["--namespaces", "team-a,Team_B"], "'--namespaces': 'Team_B' is not a namespace name"),
    (["--log-format", "xml"], "'--log-format'"),
    (["--log-level", "loud"], "'--log-level': 'loud' is not one of"),
    (["--max-tracked-executor-per-app", "-1"], "'--max-tracked-executor-per-app'"),
    (["--max-executors", "-1"], "'--max-executors'"),
    (["--max-executor-memory", "lots"], "'--max-executor-memory': 'lots' is not a Kubernetes quantity"),
    (["--max-driver-cores", "two"], "'--max-driver-cores'"),
    (["--shard-capacity", "0"], "'--shard-capacity'"),
    (["--fleet", "f", "--namespaces", "a"], "--fleet takes its namespaces"),
    (["--fleet", "f", "--leader-elect"], "--fleet and --leader-elect exclude each other"),
    (["--metrics-prefix", "1bad"], "--metrics-prefix '1bad'"),
    (["--enable-batch-scheduler", "--default-batch-scheduler", "kueue", "--kube-scheduler-names", "sched-a"],
     "--default-batch-scheduler: 'kueue' is not a batch scheduler: one of volcano, yunikorn, sched-a"),
    (["--audit-log", "/nonexistent/folder/audit.jsonl"], "--audit-log /nonexistent/folder/audit.jsonl"),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "words"), FLAGS, ids=[" ".join(f) for f, _ in FLAGS])
def test_a_bad_flag_is_named(tmp_path: Path, flags: list[str], words: str) -> None:
    path = write(tmp_path, kubeconfig())  # valid, but nothing answers there
    code, output = invoke("run", "--kubeconfig", path, "--metrics-bind-address", "127.0.0.1:0", *flags)
    assert_short_error(code, output, words)


def test_a_busy_metrics_port_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, kubeconfig())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, output = invoke("run", "--kubeconfig", path, "--metrics-bind-address", f"127.0.0.1:{port}")
    assert_short_error(code, output, f"--metrics-bind-address 127.0.0.1:{port}: ")


@pytest.mark.parametrize("duration", ["3s", "-1s", "tomorrow"])
def test_shards_timeouts_are_checked_before_connecting(tmp_path: Path, duration: str) -> None:
    code, output = invoke(
        "shards", "drain", "m", "--timeout", duration, "--kubeconfig", write(tmp_path, None)
    )
    if duration == "3s":
        assert_short_error(code, output, "no such file")  # the flag is fine; the kubeconfig is not
    elif duration == "-1s":
        assert_short_error(code, output, "'--timeout': '-1s' is negative: a duration must not be negative")
    else:
        assert_short_error(code, output, f"'--timeout': '{duration}' is not a duration")


def test_an_unreachable_api_server_is_one_line_for_the_shards_commands(tmp_path: Path) -> None:
    code, output = invoke("shards", "status", "--kubeconfig", write(tmp_path, kubeconfig()))
    assert_short_error(code, output, f"error: cannot reach the API server at {REFUSING}: ", expected_code=1)


# -- the checks an instance makes before it starts ----------------------------------------------


@pytest.fixture
async def tls_server(
    tmp_path: Path,
) -> AsyncIterator[tuple[str, CertificateAuthority, Callable[[int], None]]]:
    """An HTTPS server answering /version with a status the test sets; its CA."""
    (tmp_path / "ca").mkdir()
    ca = CertificateAuthority(tmp_path / "ca")
    serving = ca.serving()
    status = {"code": 200}

    async def version(_: web.Request) -> web.Response:
        return web.json_response(
            {"kind": "Status", "message": "no", "reason": "Unauthorized"}, status=status["code"]
        )

    application = web.Application()
    application.router.add_get("/version", version)
    runner = web.AppRunner(application)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(serving.cert, serving.key)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"https://127.0.0.1:{port}", ca, lambda code: status.update(code=code)
    await runner.cleanup()


async def test_an_untrusted_server_certificate_stops_the_instance(tmp_path: Path, tls_server: Any) -> None:
    host, _, _ = tls_server
    (tmp_path / "other").mkdir()
    other = CertificateAuthority(tmp_path / "other")
    path = write_kubeconfig(tmp_path / "k", server=host, ca_file=other.cert_path, user="u", token="t")
    client = await connect(str(path))
    try:
        with pytest.raises(KubeConfigError, match="certificate-authority does not trust"):
            await check_api_server(client)
    finally:
        await client.close()


async def test_refused_credentials_stop_the_instance(tmp_path: Path, tls_server: Any) -> None:
    host, ca, answer = tls_server
    client = await connect(
        str(write_kubeconfig(tmp_path / "k", server=host, ca_file=ca.cert_path, user="u", token="t"))
    )
    try:
        assert await check_api_server(client) is None  # 200: fine
        answer(403)
        assert await check_api_server(client) is None  # allowed to fail later, with RBAC's own message
        answer(401)
        with pytest.raises(KubeConfigError, match=r"refused the kubeconfig's credentials \(401"):
            await check_api_server(client)
    finally:
        await client.close()


async def test_an_error_of_the_first_finished_wait_is_raised() -> None:
    """A member's start failing (FleetUnavailable) used to leave the instance waiting for a signal."""

    async def fails() -> None:
        raise RuntimeError("the fleet cannot be joined")

    with pytest.raises(RuntimeError, match="cannot be joined"):
        await _first(asyncio.Event().wait(), fails())


# -- the real entry point, as a process ---------------------------------------------------------


async def sparkfleet(*args: str, stop_after: str | None = None, timeout: float = 15) -> tuple[int, str]:
    """Runs ``python -m sparkfleet.cli``; with ``stop_after``, sends SIGTERM once stderr shows it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sparkfleet.cli", *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    async with asyncio.timeout(timeout):
        while line := (await proc.stdout.readline()).decode():
            lines.append(line)
            if stop_after and stop_after in line:
                proc.send_signal(signal.SIGTERM)
                stop_after = None
        code = await proc.wait()
    assert time.monotonic() < deadline
    return code, "".join(lines)


async def test_the_entry_point_refuses_bad_input_without_a_traceback(tmp_path: Path) -> None:
    bad_yaml = write(tmp_path, "clusters: [unclosed\n")
    (tmp_path / "url").mkdir()
    bad_url = write(tmp_path / "url", kubeconfig(cluster={"server": "not a url"}))
    (tmp_path / "ok").mkdir()
    refusing = write(tmp_path / "ok", kubeconfig())
    port = f"127.0.0.1:{free_port()}"
    runs = await asyncio.gather(
        sparkfleet("run", "--kubeconfig", bad_yaml, "--metrics-bind-address", port),
        sparkfleet("run", "--kubeconfig", bad_url, "--metrics-bind-address", port),  # used to retry forever
        sparkfleet("run", "--kubeconfig", refusing, "--log-level", "loud"),  # used to be a traceback
        sparkfleet("shards", "status", "--kubeconfig", refusing),  # used to be a traceback
        # Nothing answers: it waits for the API server, and a SIGTERM stops it (it was ignored).
        sparkfleet("run", "--kubeconfig", refusing, "--metrics-bind-address", port, stop_after="waiting for it"),
    )  # fmt: skip
    (yaml_code, yaml_out), (url_code, url_out), (level_code, level_out), (shards_code, shards_out), \
        (stopped_code, stopped_out) = runs  # fmt: skip
    assert (yaml_code, url_code, level_code, shards_code, stopped_code) == (2, 2, 2, 1, 0), runs
    assert "not YAML (line 2, column 1" in yaml_out
    assert "server 'not a url' is not a URL" in url_out
    assert (
        level_out
        == "error: Invalid value for '--log-level': 'loud' is not one of debug, info, warning, error\n"
    )
    assert f"cannot reach the API server at {REFUSING}" in shards_out
    assert "the API server does not answer yet; waiting for it" in stopped_out
    assert "sparkfleet operator stopped before the API server answered" in stopped_out
    for _, output in runs:
        assert "Traceback" not in output, output
