"""The randomized fleet test's judgement: overlaps per object key and per process, duplicate
submissions, lost applications, and sentences that name the key, processes, times and change."""

from __future__ import annotations

from sparkfleet.chaos.random_checks import (
    Applied,
    AppRecord,
    Reconcile,
    describe_duplicate,
    describe_lost,
    describe_overlaps,
    duplicate_submissions,
    in_effect,
    key_overlaps,
    lost,
    reconciles,
)


def r(
    process: str, key: str, t0: float, t1: float, shard: str = "s1", member: str | None = None
) -> Reconcile:
    return Reconcile(process, member or process, shard, key, t0, t1)


def test_two_processes_on_one_key_at_once_overlap_whatever_shards_they_name() -> None:
    found = key_overlaps([r("m1", "ns/a", 1.0, 3.0, "s1"), r("m2", "ns/a", 2.0, 4.0, "s7")])
    assert len(found) == 1
    assert (found[0].earlier.process, found[0].later.process) == ("m1", "m2")


def test_one_process_twice_or_two_processes_one_after_the_other_do_not() -> None:
    assert not key_overlaps([r("m1", "ns/a", 1.0, 3.0), r("m1", "ns/a", 2.0, 4.0)])
    assert not key_overlaps([r("m1", "ns/a", 1.0, 2.0), r("m2", "ns/a", 2.0, 3.0)])


def test_different_keys_in_one_shard_at_once_are_no_overlap() -> None:
    # what audit.overlaps() (by shard) would count, and a per-object check must not
    assert not key_overlaps([r("m1", "ns/a", 1.0, 3.0), r("m2", "ns/b", 2.0, 4.0)])


def test_two_processes_with_one_identity_overlap() -> None:
    found = key_overlaps([r("m1", "ns/a", 1.0, 3.0, member="m1"), r("m1.2", "ns/a", 2.0, 2.5, member="m1")])
    assert len(found) == 1


def test_a_long_reconcile_overlaps_every_later_one_it_spans() -> None:
    found = key_overlaps([r("m1", "ns/a", 0.0, 10.0), r("m2", "ns/a", 1.0, 2.0), r("m2", "ns/a", 3.0, 4.0)])
    assert [(o.earlier.t0, o.later.t0) for o in found] == [(0.0, 1.0), (0.0, 3.0)]


def test_reconciles_tag_each_line_with_its_process() -> None:
    line = {"t0": 1, "t1": 2, "member": "m1", "shard": "s1", "key": "ns/a"}
    assert reconciles({"m1.2": [line]}) == [Reconcile("m1.2", "m1", "s1", "ns/a", 1.0, 2.0)]


def test_an_overlap_is_said_once_per_key_and_pair_with_the_change_in_effect() -> None:
    applied = [
        Applied(
            3, "move", "ns", "move namespace ns01 from shard s1 to s2", 100.0, 100.1, ("ns01", "s1", "s2")
        ),
        Applied(4, "kill", "ns", "kill -9 ns-m3", 105.0, 105.2, ("ns-m3",)),
    ]
    found = key_overlaps(
        [
            r("ns-m1", "x-ns01/a", 101.0, 103.0, "s1"),
            r("ns-m2", "x-ns01/a", 102.0, 102.5, "s2"),
            r("ns-m2", "x-ns01/a", 102.6, 102.7, "s2"),
        ]
    )
    text = describe_overlaps(
        found, applied, {"ns-m2": "started by change #2 join"}, {"ns-m1": "ns", "ns-m2": "ns"}
    )
    assert len(text) == 1
    sentence = text[0]
    assert sentence.startswith("x-ns01/a reconciled by two processes at once, 2 time(s)")
    assert "ns-m1 (member ns-m1, shard s1)" in sentence
    assert "ns-m2 (member ns-m2, started by change #2 join, shard s2)" in sentence
    assert "after change #3 move of fleet ns (move namespace ns01 from shard s1 to s2)" in sentence


def test_the_change_named_is_the_last_of_the_overlapping_processes_fleets() -> None:
    applied = [
        Applied(3, "move", "ns", "move namespace ns01 from shard s1 to s2", 100.0, 100.1),
        Applied(4, "relabel", "tier", "relabel application app-9", 101.0, 101.1),
    ]
    found = key_overlaps([r("ns-m1", "x-ns01/a", 101.5, 103.0), r("ns-m2", "x-ns01/a", 102.0, 102.5)])
    sentence = describe_overlaps(found, applied, fleet_of={"ns-m1": "ns", "ns-m2": "ns"})[0]
    assert "after change #3 move of fleet ns" in sentence
    assert "last of any fleet: #4 relabel of fleet tier" in sentence
    assert "after change #4 relabel" in describe_overlaps(found, applied)[0]


def test_the_change_in_effect_is_the_last_one_started_before() -> None:
    applied = [Applied(i, "move", "ns", f"c{i}", float(10 * i), float(10 * i) + 1) for i in range(3)]
    assert in_effect(applied, 15.0) == applied[1]
    assert in_effect(applied, -1.0) is None


def test_duplicates_by_driver_pods_submission_ids_or_attempts() -> None:
    once = AppRecord("ns/a", "ns", "COMPLETED", 1, {"id1"}, {"uid1"})
    two_pods = AppRecord("ns/b", "ns", "COMPLETED", 1, {"id1"}, {"uid1", "uid2"})
    two_ids = AppRecord("ns/c", "ns", "COMPLETED", 1, {"id1", "id2"}, {"uid1"})
    retried = AppRecord("ns/d", "ns", "COMPLETED", 2, {"id1"}, {"uid1"})
    found = duplicate_submissions([once, two_pods, two_ids, retried])
    assert [a.key for a in found] == ["ns/b", "ns/c", "ns/d"]
    text = describe_duplicate(two_pods, [r("m1", "ns/b", 1.0, 2.0), r("m2", "ns/b", 3.0, 4.0)])
    assert "ns/b submitted more than once: 2 driver pods" in text
    assert "reconciled by m1, m2; last by m2" in text


def test_lost_is_anything_not_completed_and_says_what_moved_it() -> None:
    stuck = AppRecord("t/app-1", "tier", "RUNNING", labels=[(100.0, "gold"), (101.0, "silver")])
    done = AppRecord("t/app-2", "tier", "COMPLETED")
    assert lost([stuck, done]) == [stuck]
    applied = [
        Applied(5, "relabel", "tier", "relabel application app-1: tier gold -> silver", 101.0, 101.1, ("app-1", "gold", "silver")),
        Applied(6, "kill", "tier", "kill -9 tier-m1", 102.0, 102.1, ("tier-m1",)),
    ]  # fmt: skip
    text = describe_lost(
        stuck, [r("tier-m1", "t/app-1", 100.5, 100.6, "s1")], applied, ("tier", "app-1", "gold", "silver")
    )
    assert text.startswith("t/app-1 (tier) ended RUNNING, not COMPLETED; routing label gold at ")
    assert "-> silver at " in text
    assert "reconciled by tier-m1; last by tier-m1 (shard s1)" in text
    assert "last change concerning it: #5 relabel" in text
    assert "never reconciled" in describe_lost(done, [], [], ())
