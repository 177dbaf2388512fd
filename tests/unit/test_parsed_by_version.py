"""Leases parsed once per resourceVersion (:class:`ParsedByVersion`)."""

from __future__ import annotations

from typing import Any

from sparkfleet.sharding.leases import MemberLease, ParsedByVersion


def lease(name: str, version: str | None, holder: str = "m") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns"}
    if version is not None:
        meta["resourceVersion"] = version
    return {"metadata": meta, "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15}}


class Counting:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, obj: dict[str, Any]) -> MemberLease:
        self.calls.append(obj["metadata"]["name"])
        return MemberLease.parse(obj)


def test_a_lease_is_parsed_again_only_when_its_version_changes() -> None:
    parse = Counting()
    cache = ParsedByVersion(parse)
    first = cache(lease("a", "1"))
    assert cache(lease("a", "1")) is first
    changed = cache(lease("a", "2", holder="other"))
    assert (changed.holder, parse.calls) == ("other", ["a", "a"])


def test_a_lease_without_a_version_is_always_parsed() -> None:
    parse = Counting()
    cache = ParsedByVersion(parse)
    cache(lease("a", None))
    cache(lease("a", None))
    assert parse.calls == ["a", "a"]


def test_all_keeps_only_the_leases_it_was_given() -> None:
    parse = Counting()
    cache = ParsedByVersion(parse)
    assert [m.name for m in cache.all([lease("a", "1"), lease("b", "1")])] == ["a", "b"]
    cache.all([lease("b", "1")])  # a is gone
    assert parse.calls == ["a", "b"]
    cache.all([lease("a", "1"), lease("b", "1")])  # a again: parsed again, as it was forgotten
    assert parse.calls == ["a", "b", "a"]
