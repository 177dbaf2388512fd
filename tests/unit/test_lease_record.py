"""The one Lease record (kube/lease.py): parse, create body, compare-and-swap body."""

from __future__ import annotations

from sparkfleet.kube.lease import LeaseRecord, new_lease

NOW = "2024-01-01T00:00:00.000000Z"
LATER = "2024-01-01T00:00:05.000000Z"


def stored(**spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "l", "namespace": "ns", "resourceVersion": "7", "annotations": {"keep": "1", "x": "2"}},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 10, "acquireTime": NOW, "renewTime": NOW,
                 "leaseTransitions": 3, **spec},
    }  # fmt: skip


def test_parse_reads_every_field() -> None:
    record = LeaseRecord.parse(stored())
    assert (record.name, record.namespace, record.version, record.holder) == ("l", "ns", "7", "a")
    assert (record.duration, record.acquire_time, record.renew_time, record.transitions) == (
        10.0,
        NOW,
        NOW,
        3,
    )
    assert record.acquired
    assert dict(record.annotations) == {"keep": "1", "x": "2"}


def test_parse_tolerates_an_empty_or_garbled_lease() -> None:
    record = LeaseRecord.parse(
        {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": "soon", "leaseTransitions": "x"}}
    )
    assert (record.holder, record.duration, record.transitions, record.acquired) == ("", 15.0, 0, False)
    assert LeaseRecord.parse({}).name == ""


def test_written_keeps_the_resource_version_for_a_compare_and_swap() -> None:
    body = LeaseRecord.parse(stored()).written(holder="a", duration=10, now=LATER)
    assert body["metadata"]["resourceVersion"] == "7"
    assert body["spec"] == {"holderIdentity": "a", "leaseDurationSeconds": 10, "acquireTime": NOW,
                            "renewTime": LATER, "leaseTransitions": 3}  # fmt: skip


def test_a_new_holder_is_a_transition_and_acquires_now() -> None:
    spec = LeaseRecord.parse(stored()).written(holder="b", duration=10, now=LATER)["spec"]
    assert (spec["holderIdentity"], spec["acquireTime"], spec["leaseTransitions"]) == ("b", LATER, 4)


def test_a_release_is_not_a_transition() -> None:
    spec = LeaseRecord.parse(stored()).written(holder="", duration=1, now=LATER, acquire=False)["spec"]
    assert spec["leaseTransitions"] == 3
    assert "acquireTime" not in spec
    assert spec["leaseDurationSeconds"] == 1


def test_named_not_claimed_then_claimed() -> None:
    named = LeaseRecord.parse(stored()).written(holder="b", duration=10, now=LATER, acquire=False)
    assert "acquireTime" not in named["spec"]
    assert not LeaseRecord.parse(named).acquired
    claimed = LeaseRecord.parse(named).written(holder="b", duration=10, now=LATER, acquire=True)
    assert claimed["spec"]["acquireTime"] == LATER
    assert claimed["spec"]["leaseTransitions"] == 4  # counted once, when named


def test_annotations_are_merged_after_dropping() -> None:
    body = LeaseRecord.parse(stored()).written(
        holder="a", duration=10, now=LATER, annotations={"y": "3"}, drop=("x",)
    )
    assert body["metadata"]["annotations"] == {"keep": "1", "y": "3"}


def test_written_does_not_touch_the_record_it_came_from() -> None:
    obj = stored()
    LeaseRecord.parse(obj).written(holder="b", duration=10, now=LATER, annotations={"y": "3"})
    assert obj == stored()


def test_new_lease_body() -> None:
    body = new_lease("l", "ns", holder="a", duration=4.4, now=NOW, labels={"k": "v"}, annotations={"n": "1"})
    assert body["metadata"] == {
        "name": "l",
        "namespace": "ns",
        "labels": {"k": "v"},
        "annotations": {"n": "1"},
    }
    assert body["spec"] == {"holderIdentity": "a", "leaseDurationSeconds": 4, "acquireTime": NOW,
                            "renewTime": NOW, "leaseTransitions": 0}  # fmt: skip
    assert "acquireTime" not in new_lease("l", "ns", holder="a", duration=4, now=NOW, acquired=False)["spec"]
