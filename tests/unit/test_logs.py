from __future__ import annotations

import logging

import orjson

from sparkfleet.logs import JsonFormatter, TextFormatter


def make_record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "sparkfleet.operator", logging.WARNING, __file__, 1, "slow reconcile", None, None
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_extra_fields_as_keys() -> None:
    line = JsonFormatter().format(make_record(key="team-a/pi", duration_s=2.5))
    entry = orjson.loads(line)
    assert entry["level"] == "warning"
    assert entry["logger"] == "sparkfleet.operator"
    assert entry["msg"] == "slow reconcile"
    assert entry["key"] == "team-a/pi"
    assert entry["duration_s"] == 2.5
    assert entry["ts"].endswith("Z")


def test_text_lines_are_readable_with_key_value_pairs() -> None:
    line = TextFormatter().format(make_record(key="team-a/pi", duration_s=2.5))
    assert "WARNING" in line
    assert "slow reconcile" in line
    assert line.endswith("key=team-a/pi duration_s=2.5")


def test_exceptions_are_kept() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = make_record()
        record.exc_info = sys.exc_info()
    assert "RuntimeError: boom" in orjson.loads(JsonFormatter().format(record))["error"]
