"""The fleet's Leases: names, what member and shard Leases say, and expiry on the observer's clock."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkfleet.kube.timestamps import format_micro_time, parse_time
from sparkfleet.sharding.leases import (
    ANNOTATION_CAPACITY,
    ANNOTATION_DRAINING,
    ANNOTATION_HANDOFF_STARTED,
    ANNOTATION_IDENTITY,
    ANNOTATION_LOAD,
    LABEL_FLEET,
    LABEL_ROLE,
    LABEL_SHARD,
    ROLE_MEMBER,
    ROLE_SHARD,
    ExpiryClock,
    MemberLease,
    ShardLease,
    ShardLoad,
    coordinator_lease_name,
    dns_part,
    fleet_selector,
    lease_object,
    member_lease_name,
    shard_lease_name,
)
from tests.support import FakeClock

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "operator-0", "spark-operator-7f9c6d-x2k4q", "0", "a" * 63])
def test_dns_part_keeps_valid_names(name: str) -> None:
    assert dns_part(name) == name


@pytest.mark.parametrize(
    "text",
    [
        "Node_1",
        "host.example.com",
        "UPPER",
        "a b",
        "-leading",
        "trailing-",
        "a" * 64,
        "x" * 300,
        "ip-10-0-0-1:8080",
    ],
)
def test_dns_part_makes_invalid_names_valid(text: str) -> None:
    part = dns_part(text)
    assert part != text
    assert len(part) <= 63
    assert DNS_LABEL.match(part), part
    assert re.fullmatch(r".*-[0-9a-f]{8}", part), "an altered name keeps a short hash"
    assert dns_part(text) == part, "deterministic"


def test_dns_part_keeps_altered_names_distinct() -> None:
    texts = ["a_b", "a.b", "A-B", "a b", "a-b-", "x" * 64 + "1", "x" * 64 + "2", "a-b"]
    parts = [dns_part(t) for t in texts]
    assert len(set(parts)) == len(texts)
    assert dns_part("a-b") == "a-b"


def test_dns_part_limit() -> None:
    part = dns_part("a" * 40, limit=20)
    assert len(part) <= 20
    assert part.startswith("a" * 11 + "-")


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("abcXYZ019-_. /:@"), min_size=1, max_size=120).filter(
        lambda t: any(c.isalnum() for c in t)
    )
)
def test_dns_part_is_always_a_short_valid_label(text: str) -> None:
    part = dns_part(text)
    assert len(part) <= 63
    assert DNS_LABEL.match(part), (text, part)
    assert DNS_SUBDOMAIN.match(member_lease_name("fleet", text))


@pytest.mark.parametrize("text", ["@@@", "_", "-", "é-ü", ""])
def test_dns_part_of_a_name_without_letters_or_digits(text: str) -> None:
    assert DNS_LABEL.match(dns_part(text))


def test_lease_names_and_selector() -> None:
    assert member_lease_name("fleet", "operator-0") == "fleet-member-operator-0"
    assert member_lease_name("fleet", "Op_0").startswith("fleet-member-op-0-")
    assert shard_lease_name("fleet", "team-a") == "fleet-shard-team-a"
    assert coordinator_lease_name("fleet") == "fleet-coordinator"
    assert fleet_selector("fleet") == f"{LABEL_FLEET}=fleet"


def test_lease_object_labels_and_annotations() -> None:
    obj = lease_object(
        "fleet-shard-a",
        "ns",
        fleet="fleet",
        role=ROLE_SHARD,
        spec={"holderIdentity": "m"},
        labels={LABEL_SHARD: "a"},
    )
    assert obj["metadata"]["labels"] == {LABEL_FLEET: "fleet", LABEL_ROLE: ROLE_SHARD, LABEL_SHARD: "a"}
    assert "annotations" not in obj["metadata"]
    assert obj["spec"] == {"holderIdentity": "m"}
    with_annotations = lease_object("n", "ns", fleet="f", role=ROLE_MEMBER, spec={}, annotations={"k": "v"})
    assert with_annotations["metadata"]["annotations"] == {"k": "v"}


# -- times ---------------------------------------------------------------------------------


def test_micro_time_and_parse_time_round_trip() -> None:
    stamp = format_micro_time(1_700_000_000.25)
    assert stamp == "2023-11-14T22:13:20.250000Z"
    assert parse_time(stamp) == 1_700_000_000.25
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_time(None) is None
    assert parse_time("") is None


# -- member Leases ---------------------------------------------------------------------------


def member(annotations: dict[str, str] | None = None, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return lease_object(
        "fleet-member-m0",
        "ns",
        fleet="fleet",
        role=ROLE_MEMBER,
        spec={"holderIdentity": "m0", "leaseDurationSeconds": 20, "renewTime": "2024-01-01T00:00:00.000000Z"}
        if spec is None
        else spec,
        annotations=annotations,
    )


def test_member_lease_with_annotations() -> None:
    load = {"a": {"objects": 12, "queued": 3}, "b": {"objects": 1}}
    parsed = MemberLease.parse(
        member(
            {
                ANNOTATION_IDENTITY: "operator-0.example",
                ANNOTATION_CAPACITY: "2.5",
                ANNOTATION_DRAINING: "true",
                ANNOTATION_LOAD: orjson.dumps(load).decode(),
            }
        )
    )
    assert parsed == MemberLease(
        name="fleet-member-m0",
        identity="operator-0.example",
        holder="m0",
        capacity=2.5,
        draining=True,
        load={"a": ShardLoad(12, 3), "b": ShardLoad(1, 0)},
        renew_time="2024-01-01T00:00:00.000000Z",
        duration=20.0,
    )


def test_member_lease_without_annotations() -> None:
    parsed = MemberLease.parse(member())
    assert parsed.identity == "m0"  # from holderIdentity
    assert parsed.capacity == 1.0
    assert parsed.draining is False
    assert parsed.load == {}
    assert parsed.duration == 20.0


def test_member_lease_without_spec_falls_back_to_its_name() -> None:
    parsed = MemberLease.parse({"metadata": {"name": "fleet-member-x"}})
    assert (parsed.identity, parsed.holder, parsed.renew_time, parsed.duration) == (
        "fleet-member-x",
        "",
        None,
        15.0,
    )


@pytest.mark.parametrize("draining", ["false", "True", "yes", ""])
def test_only_the_string_true_means_draining(draining: str) -> None:
    assert MemberLease.parse(member({ANNOTATION_DRAINING: draining})).draining is False


@pytest.mark.parametrize(
    "bad",
    ["{not json", "[1, 2]", '{"a": 5}', '{"a": {"objects": "many"}}', '{"a": {"objects": null}}', "null"],
)
def test_bad_load_annotation_is_tolerated(bad: str) -> None:
    parsed = MemberLease.parse(member({ANNOTATION_LOAD: bad, ANNOTATION_CAPACITY: "3"}))
    assert parsed.load == {}
    assert parsed.capacity == 3.0


@pytest.mark.parametrize("bad", ["lots", "0", "-2", "nan", ""])
def test_bad_capacity_annotation_is_one(bad: str) -> None:
    assert MemberLease.parse(member({ANNOTATION_CAPACITY: bad})).capacity == 1.0


def test_infinite_capacity_annotation_is_one() -> None:
    assert MemberLease.parse(member({ANNOTATION_CAPACITY: "inf"})).capacity == 1.0


# -- shard Leases ----------------------------------------------------------------------------


def test_shard_lease_parse() -> None:
    obj = lease_object(
        "fleet-shard-team-a",
        "ns",
        fleet="fleet",
        role=ROLE_SHARD,
        spec={"holderIdentity": "m1", "acquireTime": "2024-01-01T00:00:00.000000Z", "leaseTransitions": 4},
        labels={LABEL_SHARD: "team-a"},
        annotations={ANNOTATION_HANDOFF_STARTED: "1700000000.500000"},
    )
    assert ShardLease.parse(obj) == ShardLease(
        name="fleet-shard-team-a",
        shard="team-a",
        holder="m1",
        acquire_time="2024-01-01T00:00:00.000000Z",
        transitions=4,
        handoff_started=1_700_000_000.5,
    )


def test_shard_lease_parse_of_an_empty_lease() -> None:
    parsed = ShardLease.parse({"metadata": {"name": "fleet-shard-x"}, "spec": {}})
    assert parsed == ShardLease("fleet-shard-x", "fleet-shard-x", "", None, 0, None)


def test_bad_handoff_annotation_is_tolerated() -> None:
    obj = {"metadata": {"name": "s", "annotations": {ANNOTATION_HANDOFF_STARTED: "yesterday"}}, "spec": {}}
    assert ShardLease.parse(obj).handoff_started is None


# -- expiry ----------------------------------------------------------------------------------


def test_expiry_only_after_duration_without_change() -> None:
    clock = FakeClock(100.0)
    expiry = ExpiryClock(clock)
    assert expiry.age("lease") is None
    assert not expiry.expired("lease", 15)
    expiry.observe("lease", "1")
    assert expiry.age("lease") == 0.0
    clock.now = 114.9
    expiry.observe("lease", "1")  # the same version again: no change
    assert not expiry.expired("lease", 15)
    assert expiry.age("lease") == pytest.approx(14.9)
    clock.now = 115.0
    assert expiry.expired("lease", 15)


def test_new_resource_version_resets_the_clock() -> None:
    clock = FakeClock(0.0)
    expiry = ExpiryClock(clock)
    expiry.observe("lease", "1")
    clock.now = 14.0
    expiry.observe("lease", "2")
    clock.now = 20.0
    assert expiry.age("lease") == 6.0
    assert not expiry.expired("lease", 15)
    clock.now = 29.0
    assert expiry.expired("lease", 15)


def test_observe_absent_starts_the_clock_once() -> None:
    clock = FakeClock(50.0)
    expiry = ExpiryClock(clock)
    expiry.observe_absent("gone")
    clock.now = 60.0
    expiry.observe_absent("gone")  # still absent: the clock keeps running
    assert expiry.age("gone") == 10.0
    clock.now = 65.0
    assert expiry.expired("gone", 15)


def test_vanishing_is_a_change() -> None:
    clock = FakeClock(0.0)
    expiry = ExpiryClock(clock)
    expiry.observe("lease", "7")
    clock.now = 30.0
    expiry.observe_absent("lease")
    assert expiry.age("lease") == 0.0
    assert not expiry.expired("lease", 15)


def test_leases_are_tracked_separately_and_forgotten() -> None:
    clock = FakeClock(0.0)
    expiry = ExpiryClock(clock)
    expiry.observe("a", "1")
    clock.now = 10.0
    expiry.observe("b", "1")
    clock.now = 16.0
    assert expiry.expired("a", 15)
    assert not expiry.expired("b", 15)
    expiry.forget("a")
    assert expiry.age("a") is None
    assert not expiry.expired("a", 15)
    expiry.forget("never-seen")  # no error
