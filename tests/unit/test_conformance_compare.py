"""The conformance test's pure parts: normalising both sides, the field-by-field diff, the allowlist."""

from __future__ import annotations

from tests.conformance import compare
from tests.conformance.compare import MISSING, Allowed, Diff


def test_differences_name_the_leaf_and_key_maps() -> None:
    ours = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    theirs = {"a": {"b": 2, "c": [1, 2]}, "e": {"f": True}}
    found = compare.differences("case", "pod", ours, theirs)
    assert [(d.path, d.sparkfleet, d.spark) for d in found] == [
        ("pod.a.b", 1, 2),
        ("pod.d", "x", MISSING),
        ("pod.e.f", MISSING, True),
    ]
    assert compare.differences("case", "pod", {"x.y": 1}, {"x.y": 2})[0].path == "pod[x.y]"


def test_allowed_matches_brackets_literally_and_by_value() -> None:
    diff = Diff("long-name", "pod.spec.containers[driver].env[X].value", "a", "b")
    assert Allowed("pod.spec.containers[driver].env[*].value", "r").matches(diff)
    assert not Allowed("pod.spec.containers[d].env[*].value", "r").matches(diff)
    assert not Allowed("pod.*", "r", when=lambda d: d.spark == "c").matches(diff)
    assert not Allowed("pod.*", "r", cases=("other",)).matches(diff)
    unexpected, used = compare.split([diff], [Allowed("service.*", "r"), Allowed("pod.*", "r")])
    assert (unexpected, dict(used)) == ([], {1: 1})


def test_substitute_replaces_ids_and_random_suffixes() -> None:
    obj = {
        "name": "kube-api-access-x7k2p",
        "dir": "/var/data/spark-0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        "app-123": ["app-123-driver-svc"],
    }
    assert compare.substitute(obj, {"app-123": "<prefix>"}) == {
        "name": "kube-api-access-<random>",
        "dir": "/var/data/<local-dir>",
        "<prefix>": ["<prefix>-driver-svc"],
    }


def test_pod_resolves_mounts_to_what_the_container_sees() -> None:
    pod = {
        "metadata": {"name": "p", "uid": "u", "resourceVersion": "1"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
                    "volumeMounts": [
                        {"name": "conf", "mountPath": "/conf"},
                        {"name": "data", "mountPath": "/d"},
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "conf",
                    "configMap": {"name": "cm", "items": [{"key": "k", "path": "spark.properties"}]},
                },
                {"name": "data", "emptyDir": {}},
                {"name": "unused", "emptyDir": {}},
            ],
        },
    }
    shown = compare.pod(pod, {"cm": {"k": "a=b\n"}})
    assert shown["metadata"] == {"name": "p"}
    c = shown["spec"]["containers"]["c"]
    assert c["env"] == {"A": {"value": "2"}}  # the last of one name wins, as in the kubelet
    assert c["volumeMounts"]["/conf"]["source"] == {"files": {"spark.properties": {"a": "b"}}}
    assert c["volumeMounts"]["/d"]["source"] == {"emptyDir": {}}
    assert shown["spec"]["volumes"] == ["unused"]
