"""Every flag of the Kubeflow Spark Operator's controller, as its own binary (v2.5.2, `make kubeflow`)
lists them, starts `sparkfleet run`: read as sparkfleet's own flag, or dropped with a warning naming it.
Nothing here is a list written from memory: the flags and their types come from the binary's help,
and the binary itself accepts every sample value used."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sparkfleet.kubeflow_flags import DROPPED, controller_start, translate
from tests.support import run_params as parsed

KUBEFLOW = Path(__file__).resolve().parents[2] / "bin" / "kubeflow-spark-operator"
# A value of each type its help names, accepted by Kubeflow's own parser (checked below); where a
# flag's value must mean something to be read, a meaningful one.
BY_TYPE = {"duration": "45s", "int": "7", "float32": "12.5", "string": "x", "strings": "a,b",
           "float64Slice": "1,2.5,10", "mapStringBool": "PartialRestart=false", "level": "debug",
           "encoder": "json", "time-encoding": "iso8601", "ingressAnnotations": '{"a":"b"}',
           "ingressTLS": '[{"hosts":["h"],"secretName":"s"}]'}  # fmt: skip
BY_FLAG = {"--health-probe-bind-address": "127.0.0.1:9091", "--metrics-bind-address": "127.0.0.1:9090",
           "--scheduled-spark-application-timestamp-precision": "millis", "--metrics-endpoint": "/metrics",
           "--namespaces": "team-a,team-b", "--kubeconfig": "/etc/kube/config", "--metrics-prefix": "team_",
           "--leader-election-lock-name": "kf-lock", "--leader-election-lock-namespace": "ops",
           "--namespace-selector": "team=data", "--ingress-url-format": "{{$appName}}.example.com",
           "--default-batch-scheduler": "volcano", "--ingress-class-name": "nginx",
           "--pprof-bind-address": ":6060", "--zap-stacktrace-level": "error"}  # fmt: skip


def kubeflow_flags() -> dict[str, str | None]:
    """Flag -> its value's type (None: a boolean), from ``controller start --help`` of Kubeflow's binary."""
    assert KUBEFLOW.exists(), f"{KUBEFLOW} is missing: run make kubeflow"
    text = subprocess.run(
        [str(KUBEFLOW), "controller", "start", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    found = dict(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)(?: ([A-Za-z0-9-]+))?\s", text, re.MULTILINE))
    found.pop("--help", None)
    return {flag: kind or None for flag, kind in found.items()}


def sample(flag: str, kind: str | None) -> str:
    return "true" if kind is None else BY_FLAG.get(flag, BY_TYPE[kind])


@pytest.fixture(scope="module")
def flags() -> dict[str, str | None]:
    found = kubeflow_flags()
    assert len(found) >= 44, found  # v2.5.2's controller has 44 (controller-runtime's zap flags included)
    return found


def test_kubeflows_own_parser_accepts_the_sample_values(flags: dict[str, str | None]) -> None:
    args = [f"{flag}={sample(flag, kind)}" for flag, kind in flags.items()]
    done = subprocess.run(
        [str(KUBEFLOW), "controller", "start", *args, "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def read(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """What ``sparkfleet run`` makes of Kubeflow's ``args``: its parameters and the warnings."""
    result = translate(args)
    try:
        return parsed(result.argv), result.warnings
    except Exception as exc:  # a Deployment passing it would crash: the failure names it
        pytest.fail(f"{args}: sparkfleet run refuses it: {exc}")


def test_every_kubeflow_flag_is_read_or_dropped_with_a_warning(flags: dict[str, str | None]) -> None:
    defaults, _ = read([])
    for flag, kind in flags.items():
        forms = (
            [[flag], [f"{flag}=true"], [f"{flag}=false"]]
            if kind is None
            else [[f"{flag}={sample(flag, kind)}"]]
        )
        outcomes = [read(args) for args in forms]
        if flag in DROPPED:
            said = f"{flag}: accepted and ignored: {DROPPED[flag]}"
            assert all(warnings == [said] for _, warnings in outcomes), (flag, outcomes)
            assert all(params == defaults for params, _ in outcomes), (
                f"{flag}: dropped, yet it changed something"
            )
        elif kind is None:  # a boolean read as sparkfleet's: true and false differ, the bare flag is true
            (bare, _), (true, _), (false, _) = outcomes
            assert bare == true != false, (flag, outcomes)
        else:
            ((params, warnings),) = outcomes
            changed = {k for k, v in params.items() if v != defaults[k]}
            assert not warnings, (flag, warnings)
            assert changed, f"{flag}={sample(flag, kind)}: not read"


def test_all_of_them_at_once_start_sparkfleet(flags: dict[str, str | None]) -> None:
    result = translate(controller_start([f"{flag}={sample(flag, kind)}" for flag, kind in flags.items()]))
    params = parsed(result.argv)
    assert params["namespaces"] == ["team-a", "team-b"]
    assert params["scheduled_spark_application_timestamp_precision"] == "millis"
    assert params["health_probe_bind_address"] == "127.0.0.1:9091"
    assert params["driver_pod_creation_grace_period"] == "45s"
    assert params["concurrent_syncs"] == 7
    assert params["log_level"] == "debug"
    assert params["log_format"] == "json"
    assert all(": accepted and ignored: " in w for w in result.warnings)
