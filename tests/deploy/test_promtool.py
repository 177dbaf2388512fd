"""promtool judges the chart's alert rules (check rules, and unit tests of every alert with test rules)
and parses every PromQL expression of the chart's dashboard; the metric names both use are the ones
the instances export, with the release's metrics prefix."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART, example_values, metric_names, registry_names, render
from tests.deploy.promtool import check_rules, promtool, write_rules
from tests.deploy.test_chart import dashboard_exprs

ALERTS = CHART / "files" / "alerts.yaml"
DASHBOARD = CHART / "files" / "dashboard.json"
UNIT_TESTS = Path(__file__).parent / "alerts_test.yaml"
RULES_ON = {"prometheus": {"prometheusRule": {"create": True}}}
FLEET_ONLY = "sparkfleet.shards"  # the group the chart renders for a fleet only
SPARK = re.compile(r"^spark_(application|executor)_")
# Series Prometheus makes itself for every target (not exported by the instances).
SYNTHETIC = {"up"}


def rendered_groups(
    release: str,
    namespace: str,
    values_files: tuple[Path, ...] = (),
    values: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The rule groups of the PrometheusRule ``helm template`` renders for ``release`` in ``namespace``."""
    docs = render(release, namespace, values_files, values={**RULES_ON, **(values or {})})
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def rendered_dashboard(values: dict[str, Any] | None = None) -> dict[str, Any]:
    docs = render("rel", "ops", values={"prometheus": {"dashboard": {"create": True}}, **(values or {})})
    (config,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
    board: dict[str, Any] = json.loads(config["data"]["sparkfleet.json"])
    return board


def interpolated(board: dict[str, Any]) -> list[str]:
    """The dashboard's expressions with its constants put in, as Grafana sends them."""
    constants = {v["name"]: v["query"] for v in board["templating"]["list"] if v["type"] == "constant"}
    exprs = dashboard_exprs(board)
    for name, value in constants.items():
        exprs = [e.replace(f"${{{name}}}", value) for e in exprs]
    return exprs


def alerts_of(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def shipped_alerts() -> dict[str, dict[str, Any]]:
    """The alerts of files/alerts.yaml, whatever the chart renders of them."""
    return alerts_of(yaml.safe_load(ALERTS.read_text()))


def minutes(duration: str) -> float:
    """A Prometheus duration of the forms the rules and tests use (``90s``, ``10m``, ``1h``) in minutes."""
    unit = {"s": 1 / 60, "m": 1.0, "h": 60.0}[duration[-1]]
    return float(duration[:-1]) * unit


def test_the_shipped_rules_file_passes_check_rules(tmp_path: Path) -> None:
    # files/alerts.yaml as shipped, with the placeholders filled in as the chart fills them
    text = ALERTS.read_text().replace("__SELECTOR__", 'job="sparkfleet-metrics",namespace="ops"')
    text = text.replace("__JOB__", 'job="sparkfleet-metrics"').replace("__PREFIX__", "")
    assert "__" not in re.sub(r"__name__", "", text), "a placeholder the chart does not fill in"
    groups = yaml.safe_load(text)
    out = check_rules(write_rules(tmp_path / "alerts.yaml", groups))
    assert f"SUCCESS: {len(alerts_of(groups))} rules found" in out


@pytest.mark.parametrize(
    "values", [pytest.param((), id="default")] + [pytest.param((p,), id=p.name) for p in example_values()]
)
def test_the_rendered_prometheusrule_passes_check_rules(tmp_path: Path, values: tuple[Path, ...]) -> None:
    groups = rendered_groups("rel", "ops", values)
    (deployment,) = [d for d in render("rel", "ops", values) if d["kind"] == "Deployment"]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    is_fleet = not any(a.startswith("--leader-elect") for a in args)
    shipped = [g["name"] for g in yaml.safe_load(ALERTS.read_text())]
    assert [g["name"] for g in groups] == [n for n in shipped if is_fleet or n != FLEET_ONLY]
    out = check_rules(write_rules(tmp_path / "rendered.yaml", groups))
    assert f"SUCCESS: {len(alerts_of(groups))} rules found" in out


def test_the_fleet_alerts_are_rendered_for_a_fleet_only() -> None:
    # One instance behind leader election has no coordinator, no shards, no member Lease: the
    # fleet's alerts (NoCoordinator's absent() among them) would fire for ever.
    classic = alerts_of(rendered_groups("rel", "ops", values={"fleet": {"enabled": False}}))
    fleet = alerts_of(rendered_groups("rel", "ops"))
    assert set(fleet) == set(shipped_alerts())
    (shards,) = [g for g in yaml.safe_load(ALERTS.read_text()) if g["name"] == FLEET_ONLY]
    assert set(fleet) - set(classic) == {r["alert"] for r in shards["rules"]}
    assert {"SparkfleetDown", "SparkfleetApplicationFailures"} <= set(classic)


def test_every_alert_has_a_promtool_unit_test() -> None:
    suite = yaml.safe_load(UNIT_TESTS.read_text())
    tested = {case["alertname"] for test in suite["tests"] for case in test["alert_rule_test"]}
    missing = sorted(set(shipped_alerts()) - tested)
    assert missing == [], f"alerts in files/alerts.yaml without a case in alerts_test.yaml: {missing}"
    assert tested - set(shipped_alerts()) == set(), "cases of alerts files/alerts.yaml does not have"


def test_the_outage_alerts_are_tested_with_no_series_at_all() -> None:
    suite = yaml.safe_load(UNIT_TESTS.read_text())
    empty = [t for t in suite["tests"] if not t["input_series"]]
    fired = {c["alertname"] for t in empty for c in t["alert_rule_test"] if c["exp_alerts"]}
    assert {"SparkfleetDown", "SparkfleetNoCoordinator"} <= fired


@pytest.mark.parametrize("prefix", ["", "team_a_"])
def test_every_alert_fires_after_its_for_and_only_on_its_series(tmp_path: Path, prefix: str) -> None:
    groups = rendered_groups(
        "rel", "ops", values={"prometheus": {**RULES_ON["prometheus"], "metrics": {"prefix": prefix}}}
    )
    alerts = alerts_of(groups)
    write_rules(tmp_path / "rendered.yaml", groups)
    suite = yaml.safe_load(UNIT_TESTS.read_text())
    suite["rule_files"] = ["rendered.yaml"]
    # The same series as an instance with --metrics-prefix exports them.
    for test in suite["tests"]:
        for series in test["input_series"]:
            series["series"] = re.sub(r"^spark_", f"{prefix}spark_", series["series"])
    (tmp_path / "alerts_test.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))

    # The unit tests cover every alert: a case where it fires once its `for` has passed, when it has a
    # `for` a case earlier on the same series where it does not fire yet, and a case where its series
    # must not fire it.
    cases = [(i, case) for i, test in enumerate(suite["tests"]) for case in test["alert_rule_test"]]
    assert {c["alertname"] for _, c in cases} == set(alerts)
    for name, alert in alerts.items():
        wait = minutes(alert.get("for", "0m"))
        mine = [
            (i, minutes(c["eval_time"]), bool(c["exp_alerts"])) for i, c in cases if c["alertname"] == name
        ]
        fired = [(i, at) for i, at, fires in mine if fires and at >= wait]
        assert fired, f"{name}: no case where it fires"
        assert any(not fires for _, _, fires in mine), f"{name}: no case where it must not fire"
        if wait:
            assert any(i == j and at < when for i, at, fires in mine if not fires for j, when in fired), (
                f"{name}: no case before its `for` has passed"
            )

    out = promtool("test", "rules", tmp_path / "alerts_test.yaml")
    assert "SUCCESS" in out


def test_every_dashboard_expression_parses(tmp_path: Path) -> None:
    exprs = interpolated(rendered_dashboard())
    assert len(exprs) > 20
    # Each expression as a recording rule: `check rules` parses it with Prometheus's own PromQL parser.
    rules = [{"record": f"sparkfleet_dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    out = check_rules(write_rules(tmp_path / "dashboard.yaml", [{"name": "dashboard", "rules": rules}]))
    assert f"SUCCESS: {len(rules)} rules found" in out


@pytest.mark.parametrize("prefix", ["", "team_a_"])
def test_the_dashboard_and_the_alerts_read_the_names_the_instances_export(prefix: str) -> None:
    """With prometheus.metrics.prefix set, every metric name of the rendered dashboard and rules is one
    an instance started with that --metrics-prefix exports (from the code's registry): a Spark metric
    without the prefix, or a renamed one, fails."""
    values = {"prometheus": {"metrics": {"prefix": prefix}, "prometheusRule": {"create": True}}}
    board = rendered_dashboard({"prometheus": {"metrics": {"prefix": prefix}, "dashboard": {"create": True}}})
    rules = [r["expr"] for r in alerts_of(rendered_groups("rel", "ops", values=values)).values()]
    exported = registry_names(prefix) | SYNTHETIC
    for source, exprs in (("dashboard", interpolated(board)), ("alerts", rules)):
        used = set().union(*(metric_names(e) for e in exprs))
        assert used - exported == set(), f"{source} reads what no instance exports: {sorted(used - exported)}"
        spark = {n for n in used if SPARK.match(n.removeprefix(prefix))}
        assert spark, f"{source} reads no Spark application metric"
        assert all(n.startswith(prefix) for n in spark), sorted(spark)
    assert registry_names(prefix) & {f"{prefix}spark_application_failure_count"}  # the registry is read


def test_running_by_namespace_shows_the_applications_namespace_however_it_was_stored(tmp_path: Path) -> None:
    """The dashboard's "Running" panel, evaluated by promtool on series stored both ways: with
    honorLabels (`namespace` is the applications') and without (`exported_namespace` is, `namespace`
    the fleet's). Another fleet namespace's instances are not counted."""
    board = rendered_dashboard()
    (panel,) = [p for p in board["panels"] if p.get("title", "").startswith("Running")]
    expr = interpolated({**board, "panels": [panel]})[0].replace("$namespace", "ops")
    up = 'up{{job="rel-sparkfleet-metrics",namespace="{ns}",instance="{instance}"}}'
    running = 'spark_application_running_count{{job="rel-sparkfleet-metrics",instance="{instance}",{labels}}}'
    series = [
        (up.format(ns="ops", instance="10.0.0.1:8080"), "1x10"),
        (up.format(ns="ops", instance="10.0.0.2:8080"), "1x10"),
        (up.format(ns="elsewhere", instance="10.0.9.1:8080"), "1x10"),
        # honorLabels: namespace is the applications'
        (running.format(instance="10.0.0.1:8080", labels='namespace="etl"'), "3x10"),
        # without: exported_namespace is, namespace is the fleet's
        (running.format(instance="10.0.0.2:8080", labels='namespace="ops",exported_namespace="etl"'), "1x10"),
        (running.format(instance="10.0.0.2:8080", labels='namespace="ops",exported_namespace="ml"'), "2x10"),
        # another fleet's instance
        (running.format(instance="10.0.9.1:8080", labels='namespace="theirs"'), "7x10"),
    ]
    suite = {
        "rule_files": [str(write_rules(tmp_path / "none.yaml", []))],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "5m",
                        "exp_samples": [
                            {"labels": '{namespace="etl"}', "value": 4},
                            {"labels": '{namespace="ml"}', "value": 2},
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "running_test.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    assert "SUCCESS" in promtool("test", "rules", tmp_path / "running_test.yaml")
