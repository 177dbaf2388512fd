from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparkfleet.api.base import parse_size_bytes
from sparkfleet.operator.spark.units import memory_overhead_mib, parse_memory_mib, pod_memory_mib


@pytest.mark.parametrize(
    ("value", "mib"),
    [("512m", 512), ("1g", 1024), ("2G", 2048), ("1024", 1024), ("1536MB", 1536), ("1t", 1 << 20),
     ("2048k", 2), (" 4g ", 4096), ("1048576b", 1)],
)  # fmt: skip
def test_parse_memory(value: str, mib: int) -> None:
    assert parse_memory_mib(value) == mib


@pytest.mark.parametrize("value", ["1Gx", "abc", "", "1.5g", "-1g", "g", "1 gigabyte", "1e3m"])
def test_malformed_sizes_are_refused_with_the_accepted_forms(value: str) -> None:
    with pytest.raises(ValueError, match="512m, 2g"):
        parse_size_bytes(value)


def test_overhead_is_a_tenth_for_jvm_and_forty_percent_otherwise_with_a_384_mib_floor() -> None:
    assert memory_overhead_mib(512, None, None, jvm=True) == 384
    assert memory_overhead_mib(8192, None, None, jvm=True) == 819
    assert memory_overhead_mib(8192, None, None, jvm=False) == 3276
    assert memory_overhead_mib(8192, None, 0.2, jvm=True) == 1638
    assert memory_overhead_mib(8192, "1g", None, jvm=True) == 1024


def test_pod_memory_is_heap_plus_overhead() -> None:
    assert pod_memory_mib("512m", None, None, jvm=True) == 896
    assert pod_memory_mib("4g", None, None, jvm=False) == 4096 + 1638


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["m", "M", "mb", "MB", ""]))
def test_mib_round_trip(n: int, unit: str) -> None:
    assert parse_memory_mib(f"{n}{unit}") == n
