"""Namespaces chosen by their labels: matching, the set diff, the follower's callbacks, the flag."""

from __future__ import annotations

from typing import Any, cast

import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from sparkfleet import modes
from sparkfleet.cli import app
from sparkfleet.kube import KubeClient
from sparkfleet.kube.informer import EventType, Informer, InformerEvent
from sparkfleet.kube.resources import NAMESPACES
from sparkfleet.kube.scope import SELECTED_SCOPE, NamespaceSelection, Scope, Watch, selected_scopes
from sparkfleet.kubeflow_flags import translate
from sparkfleet.operator.selection import Changes, NamespaceFollower, changes, chosen
from sparkfleet.options import RunOptions


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


NAMESPACES_SEEN = [
    ns("a", team="a", env="prod"),
    ns("b", team="b", env="prod"),
    ns("c", env="staging"),
    ns("d"),
]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("team=a", {"a"}),
        ("team", {"a", "b"}),
        ("!team", {"c", "d"}),
        ("team!=a", {"b", "c", "d"}),
        ("env in (prod,staging)", {"a", "b", "c"}),
        ("env notin (prod)", {"c", "d"}),
        ("team,env=prod", {"a", "b"}),
        ("team=nobody", set()),
    ],
)
def test_a_selection_takes_the_namespaces_the_api_server_would_select(
    selector: str, expected: set[str]
) -> None:
    assert chosen(NamespaceSelection(selector), NAMESPACES_SEEN) == expected


def test_excludes_and_within_bound_what_a_selection_takes() -> None:
    assert chosen(NamespaceSelection("env=prod", excludes=frozenset({"a"})), NAMESPACES_SEEN) == {"b"}
    assert chosen(NamespaceSelection("env", within=frozenset({"c", "d"})), NAMESPACES_SEEN) == {"c"}


def test_changes_say_what_to_start_and_what_to_let_go_in_name_order() -> None:
    found = changes(frozenset({"a", "b", "c"}), frozenset({"c", "e", "d"}))
    assert found == Changes(added=("d", "e"), removed=("a", "b"))
    assert not changes(frozenset({"a"}), frozenset({"a"}))


class _Informer:
    """What a follower reads of an informer: its store and whether it synced (no I/O here)."""

    def __init__(self) -> None:
        self.real = Informer(cast(KubeClient, None), NAMESPACES)  # never started: no client needed

    def put(self, obj: dict[str, Any]) -> None:
        self.real.store.put(obj)


def test_the_follower_adds_and_drops_each_namespace_once_as_labels_change() -> None:
    fake = _Informer()
    calls: list[tuple[str, str]] = []
    follower = NamespaceFollower(
        "s",
        NamespaceSelection("team=a"),
        fake.real,
        add=lambda n: calls.append(("add", n)),
        drop=lambda n: calls.append(("drop", n)),
    )
    fake.put(ns("x", team="a"))
    follower.handler(InformerEvent(EventType.ADDED, ns("x", team="a")))
    assert calls == []  # not synced yet: nothing decided from a half-listed cache
    fake.real.synced.set()
    follower.refresh()
    fake.put(ns("y", team="b"))
    follower.handler(InformerEvent(EventType.ADDED, ns("y", team="b")))
    fake.put(
        {**ns("y", team="a"), "metadata": {"name": "y", "labels": {"team": "a"}, "resourceVersion": "2"}}
    )
    follower.handler(InformerEvent(EventType.MODIFIED, ns("y", team="a")))
    fake.put(ns("x", team="b"))
    follower.handler(InformerEvent(EventType.MODIFIED, ns("x", team="b")))
    follower.handler(InformerEvent(EventType.MODIFIED, ns("x", team="b")))
    assert calls == [("add", "x"), ("add", "y"), ("drop", "x")]
    assert follower.served == {"y"}


def test_the_follower_says_when_its_selector_matches_nothing(caplog: pytest.LogCaptureFixture) -> None:
    fake = _Informer()
    fake.real.synced.set()
    follower = NamespaceFollower("s", NamespaceSelection("team=z"), fake.real, add=print, drop=print)
    follower.refresh()
    follower.refresh()
    said = [r.getMessage() for r in caplog.records if "matches no namespace" in r.getMessage()]
    assert len(said) == 1
    assert (
        REGISTRY.get_sample_value(
            "sparkfleet_namespace_selector_namespaces", {"controller": "", "scope": "s"}
        )
        == 0
    )


def test_selected_scopes_serve_the_named_namespaces_besides_the_selected_ones() -> None:
    scopes = selected_scopes(["n1"], "team=a", "tier=gold")
    assert scopes == [
        Scope("n1", (Watch(namespace="n1", label_selector="tier=gold"),)),
        Scope(SELECTED_SCOPE, (), NamespaceSelection("team=a", "tier=gold", excludes=frozenset({"n1"}))),
    ]
    assert selected_scopes(None, "team=a") == [Scope(SELECTED_SCOPE, (), NamespaceSelection("team=a"))]


def test_the_flag_is_read_checked_and_refused_with_a_fleet() -> None:
    options = RunOptions.from_flags({"namespace_selector": " team=a "})
    assert options.controller.namespace_selector == "team=a"
    assert RunOptions.from_flags({"namespace_selector": ""}).controller.namespace_selector is None
    result = CliRunner().invoke(app, ["run", "--namespace-selector", "team in (a"])
    assert result.exit_code == 2
    assert "--namespace-selector" in result.output
    assert modes.conflict(
        fleet="f", leader_elect=False, namespaces=(), label_selector=None, namespace_selector="team=a"
    )
    assert not modes.conflict(
        fleet=None, leader_elect=True, namespaces=("x",), label_selector=None, namespace_selector="team=a"
    )


def test_a_kubeflow_deployments_selector_passes_through_unless_every_namespace_is_served() -> None:
    given = ["--namespaces=default", "--namespace-selector=spark=enabled"]
    assert translate(given).argv == ["--namespaces=default", "--namespace-selector=spark=enabled"]
    assert translate(given).warnings == []
    every = translate(['--namespaces=""', "--namespace-selector", "spark=enabled", "--controller-threads=4"])
    assert every.argv == ["--controller-threads=4"]
    assert every.warnings == [
        '--namespace-selector: accepted and ignored: --namespaces="" already serves every namespace'
    ]
