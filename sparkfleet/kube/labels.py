"""Label selectors in the API's syntax, evaluated on the client: a watch shared by several readers
is filtered here for the one that wants fewer objects (``a=b,c in (d,e),!f``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sparkfleet.kube.scope import _REQUIREMENT, _split_requirements

Labels = Mapping[str, str]


def _requirement(text: str) -> Callable[[Labels], bool]:
    match = _REQUIREMENT.match(text)
    if match is None:
        raise ValueError(f"{text.strip()!r} is not a label requirement")
    if match.group("absent"):
        absent = match.group("absent")
        return lambda labels: absent not in labels
    key = match.group("key")
    if match.group("op"):
        value, equal = match.group("value"), match.group("op") != "!="
        return lambda labels: (labels.get(key) == value) is equal
    if match.group("set"):
        values = frozenset(v.strip() for v in match.group("values").split(","))
        if match.group("set") == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match.group("compare"):
        number, greater = int(match.group("number")), match.group("compare") == ">"
        return lambda labels: _compares(labels.get(key), number, greater)
    return lambda labels: key in labels


def _compares(value: str | None, number: int, greater: bool) -> bool:
    try:
        found = int(value or "")
    except ValueError:
        return False
    return found > number if greater else found < number


def selector_matcher(selector: str) -> Callable[[Mapping[str, Any]], bool]:
    """Whether an object's labels satisfy ``selector`` (every requirement), as the API server judges."""
    requirements = [_requirement(part) for part in _split_requirements(selector)]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


__all__ = ["selector_matcher"]
