"""What every model of a Kubernetes object shares: camelCase on the wire, unknown fields kept.

Objects may have been written under the Kubeflow Spark Operator's own CRD, by
a newer or older version than these models know. Fields the models do not
name are kept and written back unchanged (``extra="allow"``), so switching
operators never loses a field.
"""

from __future__ import annotations

import re
from fractions import Fraction
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


def brief(value: object, limit: int = 70) -> str:
    """``repr(value)``, cut short when long: an error message names a value, never echoes a huge one."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[: limit - 4]}...{text[0]}{size}"


_SIZE = re.compile(r"^\s*(\d+)([a-z]*)\s*$", re.IGNORECASE)  # as Spark's byteStringAs: no inner space
_UNITS_IN_BYTES = {
    "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50,
}  # fmt: skip


def parse_size_bytes(value: str, default_unit: str = "m") -> int:
    """Bytes in a JVM/Spark size string (``512m``, ``2g``; a bare number is MiB for memory)."""
    match = _SIZE.match(value)
    if not match or (match.group(2) and match.group(2).lower() not in _UNITS_IN_BYTES):
        raise ValueError(f"{brief(value)} is not a size like 512m, 2g or 1024 (MiB)")
    return int(match.group(1)) * _UNITS_IN_BYTES[(match.group(2) or default_unit).lower()]


def _spark_size(value: str) -> str:
    parse_size_bytes(value)
    return value


SPARK_SIZE_PATTERN = r"^\s*[0-9]+([bBkKmMgGtTpP][bB]?)?\s*$"
SparkSize = Annotated[
    str, AfterValidator(_spark_size), Field(json_schema_extra={"pattern": SPARK_SIZE_PATTERN})
]
"""A JVM/Spark memory string: an integer and an optional unit (b, k, m, g, t, p; kb, mb, ...)."""


_QUANTITY = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
QUANTITY_PATTERN = _QUANTITY.pattern
_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}  # fmt: skip


def parse_quantity(value: str) -> Fraction:
    """The exact value of a non-negative Kubernetes quantity (``500m``, ``1.5``, ``2Gi``, ``1e3``)."""
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"{brief(value)} is not a Kubernetes quantity like 500m, 1, 1.5 or 2")
    number, suffix = Fraction(match.group(1)), match.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    exponent = int(suffix[1:])
    if abs(exponent) > 30:  # what a resource could mean stops long before; keeps the arithmetic small
        raise ValueError(f"{brief(value)}: exponent out of range")
    return number * Fraction(10) ** exponent


def _quantity(value: str) -> str:
    parse_quantity(value)
    return value


Quantity = Annotated[str, AfterValidator(_quantity), Field(json_schema_extra={"pattern": QUANTITY_PATTERN})]
"""A non-negative Kubernetes quantity (a CPU count or limit: ``500m``, ``1``, ``1.5``)."""


def key_path(key: str) -> str:
    """A map key in a field path: ``.name`` when it reads as a field name, else ``[key]`` (kubectl's form),
    quoted and cut short when it is long or holds what would break the line."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f".{key}"
    if key.isprintable() and len(key) <= 70 and "]" not in key:
        return f"[{key}]"
    return f"[{brief(key)}]"


def format_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line naming each bad field as kubectl does: ``spec.volumes[0].name: ...``.

    A map key that is itself wrong reads ``spec.pins[Bad_Key]: key: ...``.
    """
    parts = []
    for item in error.errors(include_url=False):
        path, key = "", False
        for p in (prefix, *item["loc"]):
            if p == "[key]":  # pydantic's mark of an error in a map's key rather than its value
                key = True
            elif isinstance(p, int):
                path += f"[{p}]"
            elif p != "":
                path += key_path(str(p)) if path else str(p)
        message = ("key: " if key else "") + str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{path}: {message}" if path else message)
    return "; ".join(parts)
