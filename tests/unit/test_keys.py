"""NamespacedName: the typed key of the work queues."""

from __future__ import annotations

import logging

import orjson

from sparkfleet.kube.keys import NamespacedName
from sparkfleet.logs import JsonFormatter


def test_prints_as_the_store_key_and_parses_back() -> None:
    key = NamespacedName("team-a", "spark-pi")
    assert str(key) == "team-a/spark-pi"
    assert NamespacedName.parse("team-a/spark-pi") == key
    assert NamespacedName.parse(str(key)) == key


def test_a_cluster_scoped_key_is_its_name() -> None:
    assert str(NamespacedName("", "node-1")) == "node-1"
    assert NamespacedName.parse("node-1") == NamespacedName("", "node-1")


def test_of_an_object() -> None:
    obj = {"metadata": {"namespace": "ns", "name": "app"}}
    assert NamespacedName.of(obj) == NamespacedName("ns", "app")
    assert NamespacedName.of({"metadata": {"name": "node"}}) == NamespacedName("", "node")


def test_frozen_hashable_and_ordered() -> None:
    keys = {NamespacedName("b", "a"), NamespacedName("a", "z"), NamespacedName("a", "b")}
    assert len(keys | {NamespacedName("a", "b")}) == 3
    assert sorted(keys) == [NamespacedName("a", "b"), NamespacedName("a", "z"), NamespacedName("b", "a")]


def test_logged_as_the_string() -> None:
    record = logging.LogRecord("x", logging.INFO, "", 0, "m", None, None)
    record.key = NamespacedName("ns", "app")
    assert orjson.loads(JsonFormatter().format(record))["key"] == "ns/app"
