"""kubectl-style output: aligned tables with upper-case headers, JSON and YAML."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import yaml

from sparkfleet.output import FORMATS, Format, abbreviate, clip, parse_format, structured, table


def test_table_aligns_columns_three_spaces_apart() -> None:
    text = table(["name", "holder", "objects"], [["s0", "operator-0", 12], ["shard-long", "m1", 3]])
    assert text.splitlines() == [
        "NAME         HOLDER       OBJECTS",
        "s0           operator-0   12",
        "shard-long   m1           3",
    ]


def test_table_headers_are_upper_case_and_cells_start_at_the_same_column() -> None:
    lines = table(
        ["Shard", "desired holder", "Age"], [["a", "b", "45s"], ["aaaa", "bbbbbbbbbbbbbbbbbb", "3m12s"]]
    ).splitlines()
    assert lines[0].split("   ")[0] == "SHARD"
    assert "DESIRED HOLDER" in lines[0]
    for header in ("DESIRED HOLDER", "AGE"):
        column = lines[0].index(header)
        for line in lines[1:]:
            assert line[column - 1] == " "
            assert line[column] != " "


def test_table_none_is_empty_and_lines_have_no_trailing_spaces() -> None:
    text = table(["a", "b", "c"], [[None, "x", None], ["longer", None, None]])
    assert text.splitlines() == ["A        B   C", "         x", "longer"]
    assert all(line == line.rstrip() for line in text.splitlines())


def test_table_without_rows_is_the_header() -> None:
    assert table(["name", "phase"], []) == "NAME   PHASE"


def test_table_formats_values_with_str() -> None:
    assert table(["capacity", "coordinator"], [[1.5, True], [2, False]]).splitlines() == [
        "CAPACITY   COORDINATOR",
        "1.5        True",
        "2          False",
    ]


DATA: dict[str, Any] = {
    "fleet": "fleet",
    "ready": "True",
    "shards": [
        {"name": "s0", "holder": "m0", "objects": 3, "capacity": 1.5},
        {"name": "s1", "holder": None, "objects": 0, "capacity": 2.0},
    ],
    "conditions": [],
    "note": "unicode: é, and 'quotes': yes",
}


def test_json_round_trip_and_indent() -> None:
    text = structured(DATA, Format.json)
    assert orjson.loads(text) == DATA
    assert text.startswith('{\n  "fleet": "fleet"')
    assert not text.endswith("\n")


def test_yaml_round_trip_keeps_key_order() -> None:
    text = structured(DATA, Format.yaml)
    assert yaml.safe_load(text) == DATA
    assert list(yaml.safe_load(text)) == list(DATA)
    assert text.splitlines()[0] == "fleet: fleet"
    assert text == text.rstrip()
    assert "ready: 'True'" in text  # a string that looks like a bool stays a string


def test_lists_round_trip() -> None:
    rows = [{"shard": "s0", "from": "m0", "to": "m1", "reason": "draining"}]
    assert orjson.loads(structured(rows, Format.json)) == rows
    assert yaml.safe_load(structured(rows, Format.yaml)) == rows


@pytest.mark.parametrize("name", ["table", "json", "yaml", "wide"])
def test_format_values(name: str) -> None:
    assert Format(name).value == name
    assert Format(name) == name
    assert parse_format(name) is Format(name)
    assert Format(name).tabular == (name in ("table", "wide"))


@pytest.mark.parametrize("value", ["wide2", "JSON", "", "name", "yml"])
def test_a_bad_format_is_named_with_the_choices(value: str) -> None:
    with pytest.raises(ValueError, match=r"^--output must be one of table, json, yaml, wide$"):
        parse_format(value)
    assert FORMATS == ("table", "json", "yaml", "wide")


def test_abbreviate_keeps_what_fits_and_counts_the_rest() -> None:
    items = ["alpha", "beta", "gamma", "delta"]
    assert abbreviate(items, 100) == "alpha,beta,gamma,delta"
    assert abbreviate(items, 22) == "alpha,beta,gamma,delta"
    assert abbreviate(items, 21) == "alpha,beta +2 more"
    assert abbreviate(items, 12) == "alpha +3 more"  # at least the first, even past the width
    assert abbreviate(["only-one-long-name"], 5) == "only-one-long-name"
    assert abbreviate([], 5) == ""


def test_clip() -> None:
    assert clip("short", 10) == "short"
    assert clip("exactly-10", 10) == "exactly-10"
    assert clip("a-longer-text", 10) == "a-longe..."
