"""Spark's size and resource arithmetic, as Spark computes it for pods on Kubernetes.

- Sizes follow the JVM/Spark byte-string format: an integer and an optional
  unit (``b``, ``k``/``kb``, ``m``/``mb``, ``g``/``gb``, ``t``/``tb``,
  ``p``/``pb``, any case); a bare number means MiB for memory settings.
- A pod's memory is the JVM heap plus an overhead of ``max(factor * heap,
  384 MiB)`` unless the overhead is given; the factor is 0.1 for JVM
  applications and 0.4 for Python and R ones.
"""

from __future__ import annotations

import math

from sparkfleet.api.base import parse_size_bytes

MIN_OVERHEAD_MIB = 384
JVM_OVERHEAD_FACTOR = 0.10
NON_JVM_OVERHEAD_FACTOR = 0.40


def parse_memory_mib(value: str) -> int:
    """A memory setting in whole MiB (Spark rounds down)."""
    return parse_size_bytes(value, "m") // (1 << 20)


def memory_overhead_mib(memory_mib: int, overhead: str | None, factor: float | None, jvm: bool) -> int:
    """The non-heap memory Spark adds to a pod's request and limit."""
    if overhead is not None:
        return parse_memory_mib(overhead)
    if factor is None:
        factor = JVM_OVERHEAD_FACTOR if jvm else NON_JVM_OVERHEAD_FACTOR
    return max(math.floor(factor * memory_mib), MIN_OVERHEAD_MIB)


def pod_memory_mib(memory: str, overhead: str | None, factor: float | None, jvm: bool) -> int:
    heap = parse_memory_mib(memory)
    return heap + memory_overhead_mib(heap, overhead, factor, jvm)


def format_mib(mib: int) -> str:
    """A Kubernetes quantity for a MiB count (``1408Mi``)."""
    return f"{mib}Mi"
