"""The coordinator's drift check: counts and renew times are left out, nothing else, and the status
it is given is not changed (it is the cached object's)."""

from __future__ import annotations

import copy

from sparkfleet.sharding.coordinator import _without_drift


def test_drifting_fields_are_left_out_and_the_input_is_untouched() -> None:
    status = {
        "members": [{"identity": "a", "lastRenewTime": "2026-01-01T00:00:00Z", "shards": 2}],
        "shards": [{"name": "s1", "objects": 40, "holder": "a"}],
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    before = copy.deepcopy(status)
    assert _without_drift(status) == {
        "members": [{"identity": "a", "shards": 2}],
        "shards": [{"name": "s1", "holder": "a"}],
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    assert status == before


def test_a_change_of_holder_is_not_drift() -> None:
    one = {"shards": [{"name": "s1", "objects": 1, "holder": "a"}]}
    other = {"shards": [{"name": "s1", "objects": 9, "holder": "b"}]}
    assert _without_drift(one) != _without_drift(other)
    assert _without_drift(one) == _without_drift({"shards": [{"name": "s1", "objects": 9, "holder": "a"}]})


def test_an_empty_status_is_empty() -> None:
    assert _without_drift({}) == {}
