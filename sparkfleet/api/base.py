"""What every model of a Kubernetes object shares: camelCase on the wire, unknown fields kept.

Objects may have been written under the Kubeflow Spark Operator's own CRD, by
a newer or older version than these models know. Fields the models do not
name are kept and written back unchanged (``extra="allow"``), so switching
operators never loses a field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

KubeObject = dict[str, Any]  # a Kubernetes core type (Volume, Affinity, ...), passed through as is


class KubeModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="allow",
        use_enum_values=True,
    )

    def to_kube(self) -> dict[str, Any]:
        """The object as the API server stores it: aliases, only the fields that were set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


_SIZE = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
_UNITS_IN_BYTES = {
    "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50,
}  # fmt: skip


def parse_size_bytes(value: str, default_unit: str = "m") -> int:
    """Bytes in a JVM/Spark size string (``512m``, ``2g``; a bare number is MiB for memory)."""
    match = _SIZE.match(value)
    if not match or (match.group(2) and match.group(2).lower() not in _UNITS_IN_BYTES):
        raise ValueError(f"{value!r} is not a size like 512m, 2g or 1024 (MiB)")
    return int(match.group(1)) * _UNITS_IN_BYTES[(match.group(2) or default_unit).lower()]


def _spark_size(value: str) -> str:
    parse_size_bytes(value)
    return value


SPARK_SIZE_PATTERN = r"^\s*[0-9]+\s*([bBkKmMgGtTpP][bB]?)?\s*$"
SparkSize = Annotated[
    str, AfterValidator(_spark_size), Field(json_schema_extra={"pattern": SPARK_SIZE_PATTERN})
]
"""A JVM/Spark memory string: an integer and an optional unit (b, k, m, g, t, p; kb, mb, ...)."""


def format_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line naming each bad field as kubectl does: ``spec.volumes[0].name: ...``."""
    parts = []
    for item in error.errors(include_url=False):
        path = ""
        for p in (prefix, *item["loc"]):
            if isinstance(p, int):
                path += f"[{p}]"
            elif p != "":
                path += f".{p}" if path else str(p)
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{path}: {message}" if path else message)
    return "; ".join(parts)
