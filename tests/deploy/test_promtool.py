"""promtool judges the chart's alert rules (check rules, and unit tests of every alert with test rules)
and parses every PromQL expression of the chart's dashboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART, example_values, render
from tests.deploy.promtool import check_rules, promtool, write_rules
from tests.deploy.test_chart import dashboard_exprs

ALERTS = CHART / "files" / "alerts.yaml"
UNIT_TESTS = Path(__file__).parent / "alerts_test.yaml"
RULES_ON = {"prometheus": {"prometheusRule": {"create": True}}}


def rendered_groups(
    release: str, namespace: str, values_files: tuple[Path, ...] = ()
) -> list[dict[str, Any]]:
    """The rule groups of the PrometheusRule ``helm template`` renders for ``release`` in ``namespace``."""
    docs = render(release, namespace, values_files, values=RULES_ON)
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def alerts_of(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def minutes(duration: str) -> float:
    """A Prometheus duration of the forms the rules and tests use (``90s``, ``10m``, ``1h``) in minutes."""
    unit = {"s": 1 / 60, "m": 1.0, "h": 60.0}[duration[-1]]
    return float(duration[:-1]) * unit


def test_the_shipped_rules_file_passes_check_rules(tmp_path: Path) -> None:
    # files/alerts.yaml as shipped, with the placeholder the chart fills in given a selector
    groups = yaml.safe_load(ALERTS.read_text().replace("__SELECTOR__", 'job="sparkfleet-metrics"'))
    out = check_rules(write_rules(tmp_path / "alerts.yaml", groups))
    assert f"SUCCESS: {len(alerts_of(groups))} rules found" in out


@pytest.mark.parametrize(
    "values", [pytest.param((), id="default")] + [pytest.param((p,), id=p.name) for p in example_values()]
)
def test_the_rendered_prometheusrule_passes_check_rules(tmp_path: Path, values: tuple[Path, ...]) -> None:
    groups = rendered_groups("rel", "ops", values)
    assert [g["name"] for g in groups] == [g["name"] for g in yaml.safe_load(ALERTS.read_text())]
    out = check_rules(write_rules(tmp_path / "rendered.yaml", groups))
    assert f"SUCCESS: {len(alerts_of(groups))} rules found" in out


def test_every_alert_fires_after_its_for_and_only_on_its_series(tmp_path: Path) -> None:
    groups = rendered_groups("rel", "ops")
    alerts = alerts_of(groups)
    write_rules(tmp_path / "rendered.yaml", groups)
    suite = yaml.safe_load(UNIT_TESTS.read_text())
    suite["rule_files"] = ["rendered.yaml"]
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
    board = json.loads((CHART / "files" / "dashboard.json").read_text())
    exprs = dashboard_exprs(board)
    assert len(exprs) > 20
    # Each expression as a recording rule: `check rules` parses it with Prometheus's own PromQL parser.
    rules = [{"record": f"sparkfleet_dashboard:expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    out = check_rules(write_rules(tmp_path / "dashboard.yaml", [{"name": "dashboard", "rules": rules}]))
    assert f"SUCCESS: {len(rules)} rules found" in out
