"""What `shards status` shows, from the objects read (no cluster): every shard of the spec (the
unassigned too), its pin and its scope, as a table kept to 80 columns, and as typed JSON/YAML."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import yaml

from sparkfleet.kube.timestamps import format_micro_time
from sparkfleet.output import Format, structured
from sparkfleet.sharding.ops import FleetReport, ShardScope, report
from sparkfleet.shards_view import scope_rows, scope_text, shard_columns, shard_rows, status_text

NOW = 1_700_000_000.0


def ago(seconds: float) -> str:
    return format_micro_time(NOW - seconds)


def fleet(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "fleet", "namespace": "spark"}, "spec": spec}
    if status is not None:
        obj["status"] = status
    return obj


NAMESPACE_FLEET = {
    "shards": [
        {"name": "a", "namespaces": ["team-a"]},
        {"name": "b", "namespaces": ["team-b", "team-c"]},
        {"name": "rest", "catchAll": True},
    ],
    "pins": {"a": "m1"},
}


def settled_status(**extra: Any) -> dict[str, Any]:
    return {
        "coordinator": "m1",
        "shards": [
            {
                "name": "a",
                "holder": "m1",
                "desiredHolder": "m1",
                "phase": "Held",
                "since": ago(9),
                "objects": 3,
            },
            {
                "name": "b",
                "holder": "m1",
                "desiredHolder": "m2",
                "phase": "Moving",
                "since": ago(200),
                "objects": 5,
            },
        ],
        "members": [
            {"identity": "m1", "state": "Active", "shards": 2, "objects": 8, "capacity": 1.0},
            {"identity": "m2", "state": "Active", "shards": 0, "objects": 0, "capacity": 2.0},
        ],
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "ShardsMoving",
                "message": "1 of 3 shards are changing hands",
                "lastTransitionTime": "2023-11-14T22:13:00Z",
            },
            {"type": "Invalid", "status": "False", "reason": "Valid", "message": ""},
        ],
        **extra,
    }


# -- the report -----------------------------------------------------------------------------


def test_a_fleet_no_coordinator_has_run_for_shows_every_shard_unassigned() -> None:
    result = report(fleet(NAMESPACE_FLEET), [], NOW)
    assert [(s.name, s.phase, s.holder, s.desired) for s in result.shards] == [
        ("a", "Unassigned", None, None),
        ("b", "Unassigned", None, None),
        ("rest", "Unassigned", None, None),
    ]
    assert (result.coordinator, result.ready, result.members) == (None, None, [])


def test_a_shard_the_status_does_not_list_yet_is_shown_unassigned() -> None:
    result = report(fleet(NAMESPACE_FLEET, settled_status()), [], NOW)
    assert [(s.name, s.phase, s.holder) for s in result.shards] == [
        ("a", "Held", "m1"),
        ("b", "Moving", "m1"),
        ("rest", "Unassigned", None),  # in the spec, not (yet) in the status
    ]


def test_a_shard_only_the_status_lists_is_still_shown() -> None:
    spec = {"shards": [{"name": "a", "namespaces": ["team-a"]}]}
    result = report(fleet(spec, settled_status()), [], NOW)
    assert [(s.name, s.phase) for s in result.shards] == [("a", "Held"), ("b", "Moving")]
    assert result.shards[1].scope is None  # no longer in the spec: its scope is not known


def test_pins_are_shown_per_shard() -> None:
    result = report(fleet(NAMESPACE_FLEET, settled_status()), [], NOW)
    assert {s.name: s.pin for s in result.shards} == {"a": "m1", "b": None, "rest": None}


def test_the_scope_of_each_form() -> None:
    named = report(fleet(NAMESPACE_FLEET, settled_status(catchAllExcludes=["other-fleets-ns"])), [], NOW)
    assert {s.name: s.scope for s in named.shards} == {
        "a": ShardScope(["team-a"], False, [], None),
        "b": ShardScope(["team-b", "team-c"], False, [], None),
        "rest": ShardScope([], True, ["other-fleets-ns", "team-a", "team-b", "team-c"], None),
    }
    routed = {
        "routingLabel": "team",
        "jobNamespaces": ["apps-2", "apps-1"],
        "shards": [{"name": "gold", "values": ["gold"]}, {"name": "rest", "catchAll": True}],
    }
    result = report(fleet(routed), [], NOW)
    assert result.job_namespaces == ["apps-1", "apps-2"]
    assert {s.name: s.scope for s in result.shards} == {
        "gold": ShardScope(["apps-1", "apps-2"], False, [], "team in (gold)"),
        "rest": ShardScope(["apps-1", "apps-2"], False, [], "team notin (gold)"),
    }
    selected = {"shards": [{"name": "fast", "labelSelector": {"matchLabels": {"tier": "fast"}}}]}
    assert report(fleet(selected), [], NOW).shards[0].scope == ShardScope([], True, [], "tier=fast")


def test_a_spec_that_does_not_compile_has_no_scopes() -> None:
    overlapping = {"shards": [{"name": "a", "namespaces": ["x"]}, {"name": "b", "namespaces": ["x"]}]}
    result = report(fleet(overlapping), [], NOW)
    assert [(s.name, s.scope) for s in result.shards] == [("a", None), ("b", None)]
    assert "<unknown>" in status_text(result, 80)


# -- JSON and YAML: typed fields ------------------------------------------------------------


@pytest.mark.parametrize("fmt", [Format.json, Format.yaml])
def test_structured_output_is_typed(fmt: Format) -> None:
    data = report(fleet(NAMESPACE_FLEET, settled_status()), [], NOW).to_dict()
    text = structured(data, fmt)
    parsed = orjson.loads(text) if fmt is Format.json else yaml.safe_load(text)
    assert parsed == data
    assert parsed["ready"] is False
    assert parsed["coordinator"] == "m1"
    a, b, rest = parsed["shards"]
    assert a == {
        "name": "a",
        "phase": "Held",
        "holder": "m1",
        "desired": "m1",
        "pin": "m1",
        "age_seconds": 9.0,
        "objects": 3,
        "queued": 0,
        "scope": {
            "namespaces": ["team-a"],
            "all_namespaces": False,
            "except_namespaces": [],
            "selector": None,
            "namespace_selector": None,
        },
    }
    assert b["age_seconds"] == 200.0
    assert (rest["holder"], rest["age_seconds"], rest["pin"]) == (None, None, None)
    assert parsed["members"][1] == {
        "member": "m2", "state": "Active", "shards": 0, "objects": 0, "queued": 0, "capacity": 2.0, "coordinator": False,
    }  # fmt: skip
    ready = parsed["conditions"][0]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", False, "ShardsMoving")
    assert isinstance(ready["age_seconds"], float)
    assert parsed["conditions"][1]["age_seconds"] is None  # no lastTransitionTime
    if fmt is Format.yaml:
        assert "age_seconds: 9.0" in text
        assert "ready: false" in text
        assert "'True'" not in text
        assert "'False'" not in text


def test_an_unknown_ready_is_null() -> None:
    data = report(fleet(NAMESPACE_FLEET), [], NOW).to_dict()
    assert data["ready"] is None
    assert data["coordinator"] is None


# -- the table ------------------------------------------------------------------------------


def test_the_table_shows_unassigned_shards_pins_and_scopes() -> None:
    text = status_text(report(fleet(NAMESPACE_FLEET, settled_status()), [], NOW), 80)
    assert text.splitlines() == [
        "fleet spark/fleet   coordinator m1   ready False",
        "ShardsMoving: 1 of 3 shards are changing hands",
        "",
        "SHARD   PHASE        HOLDER     AGE     OBJECTS   QUEUED   PIN",
        "a       Held         m1         9s      3         0        m1",
        "b       Moving       m1 -> m2   3m20s   5         0        <none>",
        "rest    Unassigned   <none>     -       0         0        <none>",
        "",
        "SHARD   SCOPE",
        "a       ns team-a",
        "b       ns team-b,team-c",
        "rest    all ns but team-a,team-b,team-c",
        "",
        "MEMBER   STATE    SHARDS   OBJECTS   QUEUED   CAPACITY   COORDINATOR",
        "m1       Active   2        8         0        1          *",
        "m2       Active   0        0         0        2",
    ]
    assert max(len(line) for line in text.splitlines()) <= 80


def test_wide_has_the_scopes_in_the_shard_table() -> None:
    lines = status_text(report(fleet(NAMESPACE_FLEET, settled_status()), [], NOW), None).splitlines()
    assert lines[3:7] == [
        "SHARD   PHASE        HOLDER     AGE     OBJECTS   QUEUED   PIN      SCOPE",
        "a       Held         m1         9s      3         0        m1       ns team-a",
        "b       Moving       m1 -> m2   3m20s   5         0        <none>   ns team-b,team-c",
        "rest    Unassigned   <none>     -       0         0        <none>   all ns but team-a,team-b,team-c",
    ]
    assert lines[7:9] == ["", "MEMBER   STATE    SHARDS   OBJECTS   QUEUED   CAPACITY   COORDINATOR"]


def test_the_pin_column_is_left_out_when_nothing_is_pinned() -> None:
    spec = {**NAMESPACE_FLEET, "pins": None}
    result = report(fleet(spec), [], NOW)
    assert shard_columns(result, wide=False) == ("shard", "phase", "holder", "age", "objects", "queued")
    assert "pin" in shard_columns(result, wide=True)
    assert "PIN" not in status_text(result, 80)
    assert "PIN" in status_text(result, None)


def many_namespaces(count: int) -> FleetReport:
    spec = {
        "shards": [
            {"name": "big", "namespaces": [f"team-{i:02d}" for i in range(count)]},
            {"name": "rest", "catchAll": True},
        ]
    }
    return report(fleet(spec), [], NOW)


def test_a_long_scope_is_abbreviated_to_fit_80_columns_and_whole_with_wide() -> None:
    result = many_namespaces(30)
    text = status_text(result, 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    rows = dict(scope_rows(result, 80))
    assert rows["big"].startswith("ns team-00,team-01,")
    assert rows["big"].endswith(" more")
    shown = rows["big"].removeprefix("ns ").split(" +")[0].split(",")
    hidden = int(rows["big"].split(" +")[1].removesuffix(" more"))
    assert len(shown) + hidden == 30
    assert rows["rest"].startswith("all ns but team-00,")
    wide = {row[0]: row[-1] for row in shard_rows(result, wide=True)}
    assert wide["big"] == "ns " + ",".join(f"team-{i:02d}" for i in range(30))
    assert ",".join(f"team-{i:02d}" for i in range(30)) in status_text(result, None)


def test_scopes_use_the_width_they_are_given() -> None:
    result = many_namespaces(30)
    narrow, broad = dict(scope_rows(result, 60)), dict(scope_rows(result, 120))
    assert len(narrow["big"]) <= 60 - len("SHARD   ")
    assert len(narrow["big"]) < len(broad["big"]) <= 120 - len("SHARD   ")
    assert len(dict(scope_rows(result, 10))["big"]) <= 20  # never narrower than 20 columns


def test_scope_text() -> None:
    assert scope_text(ShardScope(["a", "b"], False, [], None)) == "ns a,b"
    assert scope_text(ShardScope([], True, [], None)) == "all ns"
    assert scope_text(ShardScope([], True, ["a"], None)) == "all ns but a"
    assert scope_text(ShardScope([], True, [], "tier=fast")) == "tier=fast"
    assert scope_text(ShardScope(["a", "b"], False, [], "team in (gold)")) == "team in (gold), ns a,b"
    # a label shard's namespaces that are the fleet's job namespaces are in the headline, not each row
    assert (
        scope_text(ShardScope(["a", "b"], False, [], "team in (gold)"), None, ["b", "a"]) == "team in (gold)"
    )
    assert scope_text(ShardScope([], False, [], None)) == "no namespaces"
    assert scope_text(None) == "<unknown>"
    assert scope_text(ShardScope(["aaaa", "bbbb", "cccc"], False, [], None), 16) == "ns aaaa +2 more"
    assert scope_text(ShardScope([], True, [], "k in (" + "v," * 30 + "v)"), 20) == "k in (v,v,v,v,v,v..."


def test_the_headline_shows_the_job_namespaces() -> None:
    routed = {
        "routingLabel": "team",
        "jobNamespaces": [f"apps-{i}" for i in range(3)],
        "shards": [{"name": "gold", "values": ["gold"]}, {"name": "rest", "catchAll": True}],
    }
    lines = status_text(report(fleet(routed), [], NOW), 80).splitlines()
    assert lines[:2] == [
        "fleet spark/fleet   coordinator <none>   ready Unknown",
        "job namespaces apps-0,apps-1,apps-2",
    ]
    assert lines[3].split() == ["SHARD", "PHASE", "HOLDER", "AGE", "OBJECTS", "QUEUED"]
    assert lines[4].split() == ["gold", "Unassigned", "<none>", "-", "0", "0"]
    assert lines[7:10] == ["SHARD   SCOPE", "gold    team in (gold)", "rest    team notin (gold)"]
    assert lines[-1] == "no members"
