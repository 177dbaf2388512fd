"""The bad-input corpus through the operator's own validation and rendering: every case is refused (or
warned about) naming its field, with no exception but the expected one; valid neighbours render."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from sparkfleet.api import format_validation_error
from sparkfleet.api.fleet import SparkFleet
from sparkfleet.operator.spark.scheduled import parse_scheduled
from sparkfleet.operator.spark.submission import render
from sparkfleet.operator.spark.validation import InvalidApplication, parse, unknown_fields_warning
from sparkfleet.sharding.coordinator import Inputs, decide
from sparkfleet.sharding.shards import Problem, compile_shards
from tests.corpus import applications, fleets, merge_patch
from tests.corpus.applications import AppCase, ScheduledCase
from tests.corpus.fleets import FleetCase
from tests.examples import manifests

SID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def operator_verdict(manifest: dict[str, object]) -> str | None:
    """What the controller would say: the SUBMISSION_FAILED message, else None (it renders)."""
    try:
        app = parse(manifest)
        render(app, SID)
    except InvalidApplication as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("case", applications.CASES, ids=[c.id for c in applications.CASES])
def test_every_invalid_application_is_refused_naming_the_field(case: AppCase) -> None:
    manifest = case.manifest()
    message = operator_verdict(manifest)
    if case.refused_by == "warning":
        assert message is None, message
        warning = unknown_fields_warning(parse(manifest))
        assert warning is not None
        assert case.field in warning, warning
        assert case.says in warning, warning
        return
    assert message is not None, f"{case.id} was not refused"
    assert f"{case.field}: " in message, message
    assert case.says in message, message
    assert "\n" not in message  # one line, as kubectl's field errors
    assert len(message) < 2000  # a huge value is named, never echoed


def test_case_ids_and_names_are_unique() -> None:
    ids = [c.id for c in applications.CASES]
    assert len(ids) == len(set(ids))
    names = [c.name for c in applications.CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "manifest", applications.VALID, ids=[m["metadata"]["name"][:20] for m in applications.VALID]
)
def test_valid_neighbours_render_without_warnings(manifest: dict[str, object]) -> None:
    assert operator_verdict(manifest) is None
    app = parse(manifest)
    assert unknown_fields_warning(app) is None
    orjson.dumps(render(app, SID).driver_pod)


def test_several_problems_are_reported_at_once() -> None:
    manifest = merge_patch(
        manifests.spark_pi("two-problems"),
        {"spec": {"mainApplicationFile": None, "driver": {"labels": {"team": "-x-"}}}},
    )
    message = operator_verdict(manifest)
    assert message is not None
    assert "spec.mainApplicationFile: required; " in message
    assert "spec.driver.labels.team: " in message


# -- SparkFleets ------------------------------------------------------------------------------


def fleet_verdict(spec: dict[str, Any]) -> str | None:
    """What an instance makes of the spec (as the member loads it): the Invalid message, else None."""
    try:
        fleet = SparkFleet.model_validate({"metadata": {"name": "f", "namespace": "ops"}, "spec": spec})
    except ValidationError as exc:
        return str(Problem("", format_validation_error(exc)))
    _, problems = compile_shards(fleet.spec)
    return "; ".join(str(p) for p in problems) or None


@pytest.mark.parametrize("case", fleets.CASES, ids=[c.id for c in fleets.CASES])
def test_every_invalid_fleet_is_refused_naming_the_field(case: FleetCase) -> None:
    message = fleet_verdict(case.spec)
    assert message is not None, f"{case.id} was not refused"
    assert re.search(rf"(^|; ){re.escape(case.field)}[.:\[]", message), message
    assert case.says in message, message


def test_fleet_case_ids_are_unique() -> None:
    assert len({c.id for c in fleets.CASES}) == len(fleets.CASES)


def test_a_spec_that_never_was_valid_is_not_ready() -> None:
    """An instance started on an invalid fleet serves nothing: Ready says why instead of 'all held'."""
    inputs = Inputs(
        coordinator="m", generation=1, spec=None, shard_names=[],
        problems=[Problem("", "spec.lease.renewDeadlineSeconds: durationSeconds (5) must be greater")],
        members=[], shard_leases={}, previous={},
    )  # fmt: skip
    _, status = decide(inputs)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "InvalidSpec"
    assert conditions["Invalid"]["message"].startswith("spec.lease.renewDeadlineSeconds: ")  # no ": " first


# -- ScheduledSparkApplications ---------------------------------------------------------------


@pytest.mark.parametrize(
    "case", applications.SCHEDULED_CASES, ids=[c.id for c in applications.SCHEDULED_CASES]
)
def test_every_invalid_schedule_is_refused_naming_the_field(case: ScheduledCase) -> None:
    with pytest.raises(InvalidApplication) as refused:
        parse_scheduled(case.manifest())
    message = str(refused.value)
    assert f"{case.field}: " in message, message
    assert case.says in message, message


@pytest.mark.parametrize(
    ("precision", "longest"), [("nanos", 43), ("millis", 49), ("seconds", 52), ("minutes", 54)]
)
def test_the_longest_schedule_name_gives_valid_runs(precision: str, longest: int) -> None:
    scheduled, _ = parse_scheduled(manifests.scheduled("s" * longest), precision)
    assert scheduled.spec.template.main_application_file
    with pytest.raises(InvalidApplication, match=f"at most {longest} characters"):
        parse_scheduled(manifests.scheduled("s" * (longest + 1)), precision)
