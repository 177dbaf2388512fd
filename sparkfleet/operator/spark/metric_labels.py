"""The Spark application metrics' labels and latency buckets, as the Kubeflow Spark Operator's
``--metrics-labels`` and ``--metrics-job-{submit,start}-latency-buckets`` set them, with a bound.

Labels: each name given is an application label whose value the metrics carry, its ``-`` made ``_``
(Kubeflow's ``CreateValidMetricNameLabel``, applied to the flag's names and to the applications' label
keys alike); ``namespace`` is the application's namespace, and an application without the label
has ``Unknown`` (Kubeflow's value). sparkfleet's metrics always carry ``namespace`` (its dashboards
and alerts select on it), first, then the names given, in their order.

The bound: the values of application labels are the tenants' to choose, so a tenant stamping a
fresh value on every application would grow a member's series (and memory) without end. At most
:data:`MAX_SETS_PER_NAMESPACE` distinct label sets of one namespace, and :data:`MAX_SETS` in all,
are exported as they are; an application beyond either is counted under its namespace with every
other label :data:`OVERFLOW`. A noisy namespace thus costs the others nothing but a share of
:data:`MAX_SETS`. With no labels but ``namespace``, nothing is bounded (namespaces are the cluster's).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping

NAMESPACE = "namespace"
UNKNOWN = "Unknown"
OVERFLOW = "overflow"
MAX_SETS_PER_NAMESPACE = 64
MAX_SETS = 1000
KUBEFLOW_SUBMIT_BUCKETS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0)
KUBEFLOW_START_BUCKETS = (30.0, 60.0, 90.0, 120.0, 150.0, 180.0, 210.0, 240.0, 270.0, 300.0)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED = frozenset({"le", "quantile"})  # a histogram's and a summary's own


def metric_label(key: str) -> str:
    """A label key as Kubeflow makes it a metric label name: ``-`` becomes ``_``."""
    return key.replace("-", "_")


def label_names(values: Iterable[str]) -> tuple[str, ...]:
    """The metrics' label names for ``--metrics-labels`` (comma-separated items): ``namespace``
    first, then each name given, once. Raises ValueError naming a name no metric can carry."""
    names = [NAMESPACE]
    for item in (part.strip() for value in values for part in value.split(",")):
        if not item:
            continue
        name = metric_label(item)
        if not _LABEL_NAME.match(name) or name.startswith("__") or name in _RESERVED:
            raise ValueError(
                f"--metrics-labels: {item!r} is not a label a metric can carry (letters, digits, "
                "'_' and '-', not starting with a digit nor '__', not le or quantile)"
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def parse_buckets(value: str, flag: str = "--metrics-job-submit-latency-buckets") -> tuple[float, ...]:
    """A histogram's upper bounds from ``0.5,1,2`` (seconds): finite, increasing, at least one.
    Raises ValueError naming ``flag`` and the value."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    try:
        bounds = tuple(float(item) for item in items)
    except ValueError:
        raise ValueError(f"{flag}: {value!r} is not a comma-separated list of numbers (seconds)") from None
    if not bounds:
        raise ValueError(f"{flag}: {value!r} has no bucket: give upper bounds such as 0.5,1,2")
    if not all(math.isfinite(b) for b in bounds):
        raise ValueError(f"{flag}: {value!r}: every bound must be a finite number")
    if any(later <= earlier for earlier, later in itertools.pairwise(bounds)):
        raise ValueError(f"{flag}: {value!r}: the bounds must increase")
    return bounds


class LabelSets:
    """An application's metric label values, :data:`OVERFLOW` beyond the bound (see the module)."""

    def __init__(
        self,
        names: tuple[str, ...] = (NAMESPACE,),
        *,
        max_per_namespace: int = MAX_SETS_PER_NAMESPACE,
        max_sets: int = MAX_SETS,
    ):
        self.names = names
        self.max_per_namespace = max_per_namespace
        self.max_sets = max_sets
        self._seen: set[tuple[str, ...]] = set()
        self._per_namespace: dict[str, int] = {}
        self.overflowed: set[str] = set()  # namespaces with an application counted as OVERFLOW

    def values(self, namespace: str, labels: Mapping[str, str] | None) -> tuple[str, ...]:
        """The label values, in :attr:`names`' order, of an application of ``namespace`` labelled
        ``labels``. A new set beyond the bound is answered with the overflow set."""
        if self.names == (NAMESPACE,):
            return (namespace,)
        found = {metric_label(key): value for key, value in sorted((labels or {}).items())}
        found.update((labels or {}).items())  # a key already written with '_' wins over one made so
        wanted = tuple(namespace if name == NAMESPACE else found.get(name, UNKNOWN) for name in self.names)
        if wanted in self._seen:
            return wanted
        count = self._per_namespace.get(namespace, 0)
        if count >= self.max_per_namespace or len(self._seen) >= self.max_sets:
            self.overflowed.add(namespace)
            return tuple(namespace if name == NAMESPACE else OVERFLOW for name in self.names)
        self._seen.add(wanted)
        self._per_namespace[namespace] = count + 1
        return wanted
