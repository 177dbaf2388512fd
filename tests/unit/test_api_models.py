"""The v1beta2 models: exact field names, unknown fields kept, bad input named by field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sparkfleet.api import ScheduledSparkApplication, SparkApplication, format_validation_error
from tests.examples import manifests

EXAMPLES = [
    manifests.spark_pi(),
    manifests.pyspark(),
    manifests.everything(),
    manifests.with_status(manifests.spark_pi()),
]


@pytest.mark.parametrize("manifest", EXAMPLES, ids=["spark-pi", "pyspark", "everything", "with-status"])
def test_round_trip_is_exact(manifest: dict[str, Any]) -> None:
    assert SparkApplication.model_validate(manifest).to_kube() == manifest


def test_fields_read_by_python_name() -> None:
    app = SparkApplication.model_validate(manifests.with_status(manifests.everything()))
    assert app.spec.main_application_file == "local:///opt/spark/examples/jars/spark-examples.jar"
    assert app.spec.spark_ui_options is not None
    assert app.spec.spark_ui_options.ingress_tls == [{"hosts": ["ui.example"], "secretName": "ui-tls"}]
    assert app.spec.driver.secrets is not None
    assert app.spec.driver.secrets[0].secret_type == "GCPServiceAccount"
    assert app.status is not None
    assert app.status.submission_id == "5b8a1c2d-1111-4222-8333-944445555666"
    assert app.status.driver_info is not None
    assert app.status.driver_info.web_ui_service_name == "spark-pi-ui-svc"
    assert app.status.application_state is not None
    assert app.status.application_state.state == "COMPLETED"


def test_unknown_fields_survive_at_every_level() -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["newTopLevel"] = {"a": 1}
    manifest["spec"]["driver"]["newDriverField"] = "x"
    manifest["spec"]["executor"]["newExecutorField"] = [1, 2]
    manifest["status"] = {"applicationState": {"state": "RUNNING", "newStateField": True}, "newStatus": 3}
    assert SparkApplication.model_validate(manifest).to_kube() == manifest


def test_scheduled_round_trip() -> None:
    manifest = manifests.scheduled()
    manifest["status"] = {"lastRun": "2026-11-24T03:00:00Z", "lastRunName": "nightly-1795489200",
                          "scheduleState": "Scheduled", "pastSuccessfulRunNames": ["nightly-1795488900"]}  # fmt: skip
    app = ScheduledSparkApplication.model_validate(manifest)
    assert app.to_kube() == manifest
    assert app.spec.concurrency_policy == "Forbid"
    assert app.spec.template.driver.memory == "512m"


def invalid(mutate: Any) -> str:
    manifest = copy.deepcopy(manifests.spark_pi())
    mutate(manifest)
    with pytest.raises(ValidationError) as error:
        SparkApplication.model_validate(manifest)
    return format_validation_error(error.value)


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda m: m["spec"]["executor"].update(instances=-1), "spec.executor.instances", "greater than or equal to 0"),
        (lambda m: m["spec"]["driver"].update(memory="1Gx"), "spec.driver.memory", "512m, 2g"),
        (lambda m: m["spec"]["executor"].update(memory="lots"), "spec.executor.memory", "512m, 2g"),
        (lambda m: m["spec"]["driver"].update(cores=0), "spec.driver.cores", "greater than or equal to 1"),
        (lambda m: m["spec"].update(type="Go"), "spec.type", "'Java', 'Python', 'Scala' or 'R'"),
        (lambda m: m["spec"].update(restartPolicy={"type": "Sometimes"}), "spec.restartPolicy.type", "Never"),
        (lambda m: m["spec"].update(restartPolicy={"type": "OnFailure", "onFailureRetries": -2}),
         "spec.restartPolicy.onFailureRetries", "greater than or equal to 0"),
        (lambda m: m["spec"].pop("driver"), "spec.driver", "Field required"),
        (lambda m: m["spec"].update(arguments="not-a-list"), "spec.arguments", "valid list"),
        (lambda m: m["spec"]["executor"].update(instances="many"), "spec.executor.instances", "valid integer"),
        (lambda m: m["spec"].update(timeToLiveSeconds=-5), "spec.timeToLiveSeconds", "greater than or equal to 0"),
    ],
)  # fmt: skip
def test_invalid_input_names_the_field(mutate: Any, field: str, words: str) -> None:
    message = invalid(mutate)
    assert message.startswith(f"{field}: "), message
    assert words in message


def test_several_errors_are_joined() -> None:
    message = invalid(lambda m: m["spec"]["executor"].update(instances=-1, memory="x"))
    assert "spec.executor.instances:" in message
    assert "spec.executor.memory:" in message
    assert "; " in message


_SIZES = st.builds(
    lambda n, u: f"{n}{u}", st.integers(1, 10**6), st.sampled_from(["", "m", "g", "M", "G", "k", "mb"])
)
_NAMES = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=30)


@given(
    instances=st.integers(0, 1000),
    cores=st.integers(1, 64),
    memory=_SIZES,
    args=st.lists(st.text(max_size=20), max_size=5),
    conf=st.dictionaries(_NAMES, st.text(max_size=20), max_size=5),
    extra=st.dictionaries(st.sampled_from(["zeta", "omega", "future"]), st.integers(), max_size=2),
)
def test_valid_specs_round_trip(
    instances: int, cores: int, memory: str, args: list[str], conf: dict[str, str], extra: dict[str, int]
) -> None:
    manifest = manifests.spark_pi()
    manifest["spec"]["executor"].update(instances=instances, cores=cores, memory=memory)
    manifest["spec"].update(arguments=args, sparkConf=conf, **extra)
    assert SparkApplication.model_validate(manifest).to_kube() == manifest
