"""How an instance runs: alone, leader-elected (``--leader-elect``) or as a member of a fleet
(``--fleet``), and which flags exclude each other. Pure, and light to import: the CLI says a
conflict before it reads a kubeconfig or loads the operator."""

from __future__ import annotations

from collections.abc import Sequence


def conflict(
    *,
    fleet: str | None,
    leader_elect: bool,
    namespaces: Sequence[str],
    label_selector: str | None,
    namespace_selector: str | None = None,
) -> str | None:
    """Why these flags cannot go together, or None."""
    if fleet and leader_elect:
        return "--fleet and --leader-elect exclude each other: a fleet's members share the work"
    if fleet and (namespaces or label_selector or namespace_selector):
        return "--fleet takes its namespaces and selectors from the SparkFleet's shards"
    return None
