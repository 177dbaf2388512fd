"""The bad-input corpus through the operator's own validation and rendering: every case is refused (or
warned about) naming its field, with no exception but the expected one; valid neighbours render."""

from __future__ import annotations

import orjson
import pytest

from sparkfleet.operator.spark.submission import render
from sparkfleet.operator.spark.validation import InvalidApplication, parse, unknown_fields_warning
from tests.corpus import applications, merge_patch
from tests.corpus.applications import AppCase
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
