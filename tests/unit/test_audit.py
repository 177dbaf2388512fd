"""The audit log: one JSON line per reconcile, and the overlaps it would prove."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkfleet.operator.audit import AuditLog, overlaps


def entry(member: str, t0: float, t1: float, shard: str = "s0", key: str = "ns/app") -> dict[str, Any]:
    return {"t0": t0, "t1": t1, "member": member, "shard": shard, "key": key}


def read(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_audit_log_writes_one_json_line_per_reconcile(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, "operator-0")
    log.record(1.1234567, 2.5, "team-a", "ns/app-1")
    log.record(3.0, 4.0, "team-b", "other/app-2")
    # unbuffered: lines are on disk before close
    lines = read(path)
    log.close()
    assert lines == [
        {"t0": 1.123457, "t1": 2.5, "member": "operator-0", "shard": "team-a", "key": "ns/app-1"},
        {"t0": 3.0, "t1": 4.0, "member": "operator-0", "shard": "team-b", "key": "other/app-2"},
    ]
    assert all(list(line) == ["t0", "t1", "member", "shard", "key"] for line in lines)
    assert path.read_bytes().endswith(b"\n")


def test_audit_log_appends(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first = AuditLog(str(path), "m0")
    first.record(1.0, 2.0, "s", "ns/a")
    first.close()
    second = AuditLog(path, "m1")
    second.record(2.0, 3.0, "s", "ns/a")
    second.close()
    lines = read(path)
    assert [line["member"] for line in lines] == ["m0", "m1"]
    assert overlaps(lines) == []


def test_sequential_hand_off_is_no_overlap() -> None:
    lines = [entry("m0", 0.0, 1.0), entry("m0", 1.5, 2.0), entry("m1", 2.0, 3.0), entry("m0", 3.5, 4.0)]
    assert overlaps(lines) == []


def test_interleaved_reconciles_of_one_object_by_two_members_overlap() -> None:
    a, b = entry("m0", 0.0, 2.0, key="ns/x"), entry("m1", 1.0, 3.0, key="ns/x")
    assert overlaps([b, a]) == [(a, b)]  # (earlier, later), whatever the order of the lines


def test_two_members_on_different_objects_of_one_shard_do_not_overlap() -> None:
    # one shard, two objects: what matters is the object, not the shard
    a, b = entry("m0", 0.0, 2.0, key="ns/x"), entry("m1", 1.0, 3.0, key="ns/y")
    assert overlaps([a, b]) == []


def test_one_object_under_two_shard_names_overlaps() -> None:
    # a stale scope after a spec edit (a2 moved from shard a to b), or two fleets whose scopes meet
    old = entry("m0", 0.0, 2.0, shard="a", key="a2/app")
    new = entry("m1", 1.0, 3.0, shard="b", key="a2/app")
    assert overlaps([old, new]) == [(old, new)]


def test_overlap_against_an_earlier_long_reconcile() -> None:
    long = entry("m0", 0.0, 10.0)
    short = entry("m0", 1.0, 2.0)
    late = entry("m1", 5.0, 6.0)
    assert overlaps([long, short, late]) == [(long, late)]


def test_a_member_overlapping_itself_is_fine() -> None:
    lines = [
        entry("m0", 0.0, 5.0, key="ns/a"),
        entry("m0", 1.0, 2.0, key="ns/a", shard="b"),
        entry("m0", 1.5, 6.0, key="ns/c"),
    ]
    assert overlaps(lines) == []


def test_different_objects_never_overlap() -> None:
    lines = [
        entry("m0", 0.0, 5.0, shard="a", key="ns/a"),
        entry("m1", 1.0, 4.0, shard="a", key="ns/b"),
        entry("m2", 2.0, 3.0, shard="c", key="other/a"),
    ]
    assert overlaps(lines) == []


def test_each_other_member_is_reported() -> None:
    a, b, c = entry("m0", 0.0, 10.0), entry("m1", 1.0, 10.0, shard="s1"), entry("m2", 2.0, 3.0)
    found = overlaps([a, b, c])
    assert (a, b) in found
    assert (a, c) in found
    assert (b, c) in found
    assert len(found) == 3


def test_string_times_are_compared_as_numbers() -> None:
    a, b = entry("m0", 0.0, 10.0), {"t0": "9.5", "t1": "11", "member": "m1", "shard": "s0", "key": "ns/app"}
    assert overlaps([a, b]) == [(a, b)]


INTERVAL = st.tuples(
    st.sampled_from(["m0", "m1", "m2"]),
    st.sampled_from(["s0", "s1"]),
    st.sampled_from(["ns/a", "ns/b", "other/a"]),
    st.integers(0, 20),
    st.integers(1, 5),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(INTERVAL, max_size=12))
def test_overlaps_agrees_with_a_pairwise_check(raw: list[tuple[str, str, str, int, int]]) -> None:
    lines = [
        entry(member, float(t0), float(t0 + d), shard=shard, key=key) for member, shard, key, t0, d in raw
    ]
    found = overlaps([dict(line) for line in lines])
    expected = any(
        a["key"] == b["key"] and a["member"] != b["member"] and a["t0"] < b["t1"] and b["t0"] < a["t1"]
        for i, a in enumerate(lines)
        for b in lines[i + 1 :]
    )
    assert bool(found) is expected
    for earlier, later in found:
        assert earlier["key"] == later["key"]
        assert earlier["member"] != later["member"]
        assert earlier["t0"] <= later["t0"] < earlier["t1"]
