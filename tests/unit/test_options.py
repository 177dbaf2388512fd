"""sparkfleet.options: `sparkfleet run`'s flags declared once, read into four typed sections."""

from __future__ import annotations

import dataclasses
import socket
from typing import Any

import pytest
from typer.testing import CliRunner

from sparkfleet import instance, options
from sparkfleet.cli import app
from sparkfleet.kube import config as kube_config
from sparkfleet.kube.lease import LeaseTiming
from sparkfleet.operator.spark.app_cache import DEFAULT_MAX_APPLICATION_BYTES
from sparkfleet.operator.spark.bounds import Bounds


def test_every_flag_is_listed_once_in_the_help_order() -> None:
    declared = [f.param for section in options.SECTIONS for f in _flags(section)]
    assert sorted(declared) == sorted(options.HELP_ORDER)
    assert len(set(declared)) == len(declared)
    assert [f.param for f in options.run_flags()] == list(options.HELP_ORDER)


def _flags(section: type) -> list[options.Flag]:
    return [f.metadata["flag"] for f in dataclasses.fields(section) if "flag" in f.metadata]


def test_the_defaults_are_the_flags_defaults_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.delenv("POD_NAME", raising=False)
    made = options.RunOptions()
    assert made == options.RunOptions.from_flags({})
    assert made == options.RunOptions.from_flags({f.param: f.default for f in options.run_flags()})
    client, controller, election, seen = made.client, made.controller, made.election, made.observability
    assert (client.kubeconfig, client.connection, client.qps, client.burst, client.startup_timeout) == (
        None, None, 50.0, 100, 30.0,
    )  # fmt: skip
    assert controller.namespaces == ()
    assert controller.label_selector is None
    assert (controller.concurrent_syncs, controller.bucket_qps, controller.bucket_size) == (10, 50.0, 500)
    assert (controller.max_delay, controller.max_tracked_executors, controller.driver_grace) == (
        21600.0,
        1000,
        10.0,
    )
    assert controller.max_application_bytes == DEFAULT_MAX_APPLICATION_BYTES
    assert (controller.ui_service, controller.resource_quota_check, controller.bounds) == (
        True,
        True,
        Bounds(),
    )
    assert (controller.timestamp_precision, controller.pod_security, controller.allowed_service_accounts) == (
        "nanos", "none", (),
    )  # fmt: skip
    assert controller.shutdown_timeout == 30.0
    assert (election.leader_elect, election.lease_name, election.lease_namespace) == (
        False, "sparkfleet-controller-lock", "default",
    )  # fmt: skip
    assert election.lease == LeaseTiming()
    assert (election.fleet, election.fleet_namespace, election.identity) == (
        None,
        "default",
        socket.gethostname(),
    )
    assert (election.shard_capacity, election.handoff_timeout) == (1.0, 10.0)
    assert (seen.metrics_host, seen.metrics_port, seen.probe_address, seen.metrics_prefix) == (
        "0.0.0.0",
        8080,
        None,
        "",
    )
    assert (seen.audit_log, seen.log_format, seen.log_level) == (None, "text", "info")


def test_the_pod_s_namespace_and_name_are_the_defaults_where_they_say_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "spark-operator")
    monkeypatch.setenv("POD_NAME", "sparkfleet-0")
    election = options.RunOptions.from_flags({}).election
    assert (election.lease_namespace, election.fleet_namespace, election.identity) == (
        "spark-operator", "spark-operator", "sparkfleet-0",
    )  # fmt: skip
    given = options.RunOptions.from_flags({"fleet_namespace": "fleets", "identity": "me"}).election
    assert (given.lease_namespace, given.fleet_namespace, given.identity) == (
        "spark-operator",
        "fleets",
        "me",
    )


def test_the_command_line_fills_the_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[options.RunOptions] = []

    async def run(given: options.RunOptions) -> int:
        seen.append(given)
        return 0

    connection: Any = object()

    async def load_connection(path: str | None) -> Any:
        assert path == "kc"
        return connection

    monkeypatch.setattr(instance, "run", run)
    monkeypatch.setattr(kube_config, "load_connection", load_connection)
    result = CliRunner().invoke(app, [
        "run", "--kubeconfig", "kc", "--namespaces", "a,b", "--namespaces", " c ", "--controller-threads", "3",
        "--kube-api-qps", "7", "--startup-timeout", "1m", "--workqueue-ratelimiter-max-delay", "500ms",
        "--max-executors", "4", "--max-driver-memory", "1Gi", "--no-enable-ui-service",
        "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", ":8081",
        "--scheduled-spark-application-timestamp-precision", "MILLIS", "--pod-security", "Baseline",
        "--allowed-service-accounts", "spark,driver", "--leader-elect", "--leader-election-lease-duration", "30s",
        "--identity", "me", "--log-level", "WARNING",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    [given] = seen
    assert given.client.kubeconfig == "kc"
    assert given.client.connection is connection
    assert (given.client.qps, given.client.startup_timeout) == (7.0, 60.0)
    controller = given.controller
    assert (controller.namespaces, controller.concurrent_syncs, controller.max_delay) == (
        ("a", "b", "c"),
        3,
        0.5,
    )
    assert controller.bounds == Bounds.from_flags(4, max_driver_memory="1Gi")
    assert (controller.ui_service, controller.timestamp_precision, controller.pod_security) == (
        False, "millis", "baseline",
    )  # fmt: skip
    assert controller.allowed_service_accounts == ("spark", "driver")
    assert (given.election.leader_elect, given.election.lease.duration, given.election.identity) == (
        True,
        30.0,
        "me",
    )
    seen_ = given.observability
    assert (seen_.metrics_host, seen_.metrics_port, seen_.probe_address, seen_.log_level) == (
        "127.0.0.1", 0, ("0.0.0.0", 8081), "warning",
    )  # fmt: skip
