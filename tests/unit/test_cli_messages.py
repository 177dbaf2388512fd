"""The words of the CLI's errors: each names the flag (or file) once, says what is wrong in plain
terms, and shows nothing of the libraries underneath (pydantic's "Value error," or "Input should
be ...")."""

from __future__ import annotations

import errno

import aiohttp
import pytest
import typer
from aiohttp.client_reqrep import ConnectionKey
from typer.testing import CliRunner

from sparkfleet import cli_support
from sparkfleet.cli import app
from sparkfleet.flags import number, parse_duration, whole
from sparkfleet.startup import ApiServerUnreachable, missing, retry_delays, why_unreachable

WIDE = {"COLUMNS": "300", "NO_COLOR": "1"}
LEAKS = ("Value error", "Input should", "pydantic", "Traceback", "unable to parse")


def error_of(path: str, *args: str) -> str:
    """The one ``error: ...`` line the entry point would print for ``sparkfleet PATH ARGS`` (parsed,
    not run)."""
    command = typer.main.get_command(app).commands[path]  # type: ignore[attr-defined]
    try:
        with command.make_context(path, list(args), obj=[]):
            pass
    except typer.BadParameter as exc:
        return f"error: {' '.join(exc.format_message().split())}"
    raise AssertionError(f"{path} {args} parsed without an error")


def options_taking_values(path: str) -> list[str]:
    command = typer.main.get_command(app).commands[path]  # type: ignore[attr-defined]
    return [p.opts[0] for p in command.params if p.param_type_name == "option" and not p.is_flag]


def test_a_missing_kubeconfig_names_the_file_once() -> None:
    result = CliRunner().invoke(app, ["run", "--kubeconfig", "/nonexistent"], env=WIDE)
    assert result.exit_code == 2
    assert result.output == "error: kubeconfig /nonexistent: no such file\n"


@pytest.mark.parametrize("flag", [f for f in options_taking_values("run") if f.endswith(("timeout", "delay",
                                  "period", "duration", "deadline"))])  # fmt: skip
def test_a_negative_duration_is_said_as_negative(flag: str) -> None:
    assert error_of("run", flag, "-5s") == (
        f"error: Invalid value for '{flag}': '-5s' is negative: a duration must not be negative"
    )


def test_the_duration_flags_are_all_found() -> None:
    durations = [f for f in options_taking_values("run") if f.endswith(("timeout", "delay", "period",
                                                                       "duration", "deadline"))]  # fmt: skip
    assert len(durations) == 7, durations  # startup, handoff, max-delay, grace period, the 3 leader ones


@pytest.mark.parametrize(
    ("value", "message"),
    [("-5s", "'-5s' is negative: a duration must not be negative"),
     ("-1m30s", "'-1m30s' is negative: a duration must not be negative"),
     ("-5x", "'-5x' is not a duration like 15s, 1m30s or 6h"),
     ("soon", "'soon' is not a duration like 15s, 1m30s or 6h")],
)  # fmt: skip
def test_durations_that_are_refused(value: str, message: str) -> None:
    with pytest.raises(typer.BadParameter) as caught:
        parse_duration(value)
    assert caught.value.message == message


def test_durations_that_are_read() -> None:
    assert [parse_duration(v) for v in ("15s", "1m30s", "500ms", "2", "-0s", "0")] == [15, 90, 0.5, 2, 0, 0]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["run", "--concurrent-syncs", "abc"],
      "error: Invalid value for '--concurrent-syncs' / '--controller-threads': 'abc' is not a whole number"),
     (["run", "--controller-threads", "0"],
      "error: Invalid value for '--concurrent-syncs' / '--controller-threads': must be at least 1 (not '0')"),
     (["run", "--kube-api-qps", "-5"], "error: Invalid value for '--kube-api-qps': must be at least 0 (not '-5')"),
     (["run", "--kube-api-qps", "fast"], "error: Invalid value for '--kube-api-qps': 'fast' is not a number"),
     (["run", "--kube-api-qps", "nan"], "error: Invalid value for '--kube-api-qps': 'nan' is not a finite number"),
     (["run", "--max-tracked-executor-per-app", "1e3"],
      "error: Invalid value for '--max-tracked-executor-per-app': '1e3' is not a whole number"),
     (["run", "--shard-capacity", "0"], "error: Invalid value for '--shard-capacity': must be at least 0.01 (not '0')"),
     (["demo", "--instances", "0"], "error: Invalid value for '--instances': must be at least 1 (not '0')"),
     (["demo", "--kill-one-at", "soon"], "error: Invalid value for '--kill-one-at': 'soon' is not a number")],
)  # fmt: skip
def test_number_flags_say_the_value_and_the_bound(args: list[str], message: str) -> None:
    assert error_of(*args) == message


@pytest.mark.parametrize("path", ["run", "demo", "controlplane"])
def test_no_error_shows_the_libraries_underneath(path: str) -> None:
    """Every flag given a value it cannot take: the message names the flag, and no pydantic."""
    refused = 0
    for flag in options_taking_values(path):
        for junk in ("-1", "x!", "1.5"):
            try:
                message = error_of(path, flag, junk)
            except AssertionError:
                continue  # a value the flag takes (a name, a path)
            refused += 1
            assert flag in message, message
            assert not any(leak in message for leak in LEAKS), message
    assert refused >= {"run": 20, "demo": 5, "controlplane": 0}[path]


def test_completion_of_an_unknown_shell_names_the_shells() -> None:
    with pytest.raises(ValueError, match=r"^'tcsh' is not one of bash, zsh, fish$"):
        cli_support.completion_script("sparkfleet", "tcsh")
    assert cli_support.complete_var("kubectl-sparkfleet") == "_KUBECTL_SPARKFLEET_COMPLETE"


def test_whole_and_number_read_defaults_and_text() -> None:
    assert whole(1)(10) == 10
    assert whole(0)("0") == 0
    assert number(0.01)(1.0) == 1.0
    assert number(0)("2.5") == 2.5
    with pytest.raises(typer.BadParameter, match="is not a whole number"):
        whole(0)(True)


# -- start-up ------------------------------------------------------------------------------------


def test_an_unreachable_api_server_is_one_line() -> None:
    assert str(ApiServerUnreachable("https://10.0.0.1:6443", "connection refused", 30.0)) == (
        "cannot reach the API server at https://10.0.0.1:6443: connection refused "
        "(waited 30s, see --startup-timeout)"
    )
    assert str(ApiServerUnreachable("https://h:1", "no answer (timed out)")) == (
        "cannot reach the API server at https://h:1: no answer (timed out)"
    )


def test_why_unreachable_is_short() -> None:
    key = ConnectionKey("127.0.0.1", 1, True, True, None, None, None, None)
    refused = aiohttp.ClientConnectorError(
        key, ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
    )
    assert why_unreachable(refused) == "connection refused"
    assert why_unreachable(TimeoutError()) == "no answer (timed out)"
    assert why_unreachable(aiohttp.ServerDisconnectedError()) == "Server disconnected"


def test_retries_double_up_to_a_bound() -> None:
    delays = retry_delays(0.5, 5.0)
    assert [next(delays) for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_missing_namespaces_keep_the_order_given() -> None:
    assert missing(["b", "a", "c", "b"], {"a", "kube-system"}) == ["b", "c"]
    assert missing(["a"], {"a"}) == []
