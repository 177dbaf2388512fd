"""renewed_only: a Lease change that is a renewal alone, and nothing a shard loop decides from."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sparkfleet.sharding.leases import ANNOTATION_LOAD, renewed_only


def lease() -> dict[str, Any]:
    return {
        "metadata": {
            "name": "fleet-member-a",
            "resourceVersion": "10",
            "labels": {"sparkfleet.io/role": "member"},
            "annotations": {ANNOTATION_LOAD: '{"s1": {"objects": 3}}', "sparkfleet.io/draining": "false"},
        },
        "spec": {
            "holderIdentity": "a",
            "leaseDurationSeconds": 15,
            "renewTime": "2026-01-01T00:00:00.000000Z",
            "leaseTransitions": 0,
        },
    }


def test_a_renewal_and_a_new_load_are_a_renewal_only() -> None:
    new = lease()
    new["metadata"]["resourceVersion"] = "11"
    new["spec"]["renewTime"] = "2026-01-01T00:00:02.000000Z"
    new["metadata"]["annotations"][ANNOTATION_LOAD] = '{"s1": {"objects": 4}}'
    assert renewed_only(lease(), new)


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("spec", "holderIdentity", ""),  # released
        ("spec", "holderIdentity", "b"),  # taken over
        ("spec", "leaseDurationSeconds", 30),
        ("spec", "leaseTransitions", 1),
        ("labels", "sparkfleet.io/role", "shard"),
        ("annotations", "sparkfleet.io/draining", "true"),
        ("annotations", "sparkfleet.io/nonce", "another process"),
    ],
)
def test_anything_else_is_news(where: str, key: str, value: object) -> None:
    new = copy.deepcopy(lease())
    new["spec"]["renewTime"] = "2026-01-01T00:00:02.000000Z"
    target = new["spec"] if where == "spec" else new["metadata"][where]
    target[key] = value
    assert not renewed_only(lease(), new)


def test_without_the_old_object_it_is_news() -> None:
    assert not renewed_only(None, lease())
