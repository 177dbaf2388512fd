"""Reading a SparkConf as Spark 4.0 does, and the errors it raises, for the simulated driver.

A conf here is a plain ``dict[str, str]`` (the driver's SparkConf). The readers parse values the
way Spark's config entries do (``intConf``, ``bytesConf(MiB)``, ``doubleConf``, ``booleanConf``)
and raise :class:`SparkError` subclasses named after the Java exception Spark would throw, with
Spark's message, so the simulator can do what a driver does with each: an
``IllegalArgumentException`` while building executor pods ends the driver (exit code 1), anything
else is logged and retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

Conf = Mapping[str, str]

MIB = 1 << 20
_BYTE_UNITS = {"b": 1, "k": 1 << 10, "kb": 1 << 10, "m": MIB, "mb": MIB, "g": 1 << 30, "gb": 1 << 30,
               "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50}  # fmt: skip
_BYTE_STRING = re.compile(r"([0-9]+)([a-z]+)?")
_BYTE_FRACTION = re.compile(r"([0-9]+\.[0-9]+)([a-z]+)?")
_BYTE_ERROR = (
    "Size must be specified as bytes (b), kibibytes (k), mebibytes (m), gibibytes (g), tebibytes (t), "
    "or pebibytes(p). E.g. 50b, 100k, or 250m."
)
_JAVA_INT = re.compile(r"[+-]?[0-9]+")
_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)[fFdD]?)")


class SparkError(Exception):
    """What Spark throws, with the Java class it throws and its message (``str(error)``)."""

    java_class = "java.lang.Exception"

    def __init__(self, message: str, *, at_start: bool = False):
        super().__init__(message)
        self.at_start = at_start
        """Thrown while the SparkContext starts (not when an executor is asked for)."""

    @property
    def ends_driver(self) -> bool:
        """Whether the driver dies of it: anything while the SparkContext starts; when building an
        executor pod, an IllegalArgumentException (ExecutorPodsSnapshotsStoreImpl exits the JVM on
        one, and logs anything else, trying again a second later)."""
        return self.at_start or isinstance(self, IllegalArgument)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class IllegalArgument(SparkError):
    java_class = "java.lang.IllegalArgumentException"


class NumberFormat(IllegalArgument):
    java_class = "java.lang.NumberFormatException"


class SparkException(SparkError):
    java_class = "org.apache.spark.SparkException"


class NoSuchElement(SparkError):
    java_class = "java.util.NoSuchElementException"


def require(condition: bool, message: str) -> None:
    """Scala's ``require``."""
    if not condition:
        raise IllegalArgument(f"requirement failed: {message}")


def with_prefix(conf: Conf, prefix: str) -> dict[str, str]:
    """``SparkConf.getAllWithPrefix``: the keys after ``prefix``."""
    return {key[len(prefix) :]: value for key, value in conf.items() if key.startswith(prefix)}


def first(conf: Conf, *keys: str) -> str | None:
    """The value of the first of ``keys`` the conf has (a ``fallbackConf`` chain; "" counts)."""
    return next((conf[key] for key in keys if key in conf), None)


def get_int(conf: Conf, key: str, default: int) -> int:
    """An ``intConf`` entry (``IllegalArgumentException`` when it is not one)."""
    value = conf.get(key)
    if value is None:
        return default
    if not _JAVA_INT.fullmatch(value.strip()) or not -(2**31) <= int(value.strip()) < 2**31:
        raise IllegalArgument(f"{key} should be int, but was {value}")
    return int(value.strip())


def get_int_or(conf: Conf, key: str, default: int) -> int:
    """``SparkConf.getInt``: Java's ``Integer.parseInt``, untrimmed (``NumberFormatException``)."""
    value = conf.get(key)
    if value is None:
        return default
    if not _JAVA_INT.fullmatch(value) or not -(2**31) <= int(value) < 2**31:
        raise NumberFormat(f'Illegal value for config key {key}: For input string: "{value}"')
    return int(value)


def get_double(conf: Conf, key: str, default: float) -> float:
    value = conf.get(key)
    if value is None:
        return default
    if not _JAVA_DOUBLE.fullmatch(value.strip()):
        raise IllegalArgument(f"{key} should be double, but was {value}")
    return float(value.strip().rstrip("fFdD"))


def get_bool(conf: Conf, key: str, default: bool) -> bool:
    value = conf.get(key)
    if value is None:
        return default
    text = value.strip().lower()
    if text not in ("true", "false"):
        raise IllegalArgument(f"{key} should be boolean, but was {value}")
    return text == "true"


def byte_string_as(text: str, unit: int) -> int:
    """``JavaUtils.byteStringAs``: a size in ``unit`` bytes (a bare number is in ``unit``)."""
    lower = text.lower().strip()
    if match := _BYTE_STRING.fullmatch(lower):
        value, suffix = int(match.group(1)), match.group(2)
        if suffix is not None and suffix not in _BYTE_UNITS:
            raise NumberFormat(f'{_BYTE_ERROR}\nInvalid suffix: "{suffix}"')
        from_unit = _BYTE_UNITS[suffix] if suffix else unit
        return value * (from_unit // unit) if from_unit >= unit else value // (unit // from_unit)
    if match := _BYTE_FRACTION.fullmatch(lower):
        raise NumberFormat(f"{_BYTE_ERROR}\nFractional values are not supported. Input was: {match.group(1)}")
    raise NumberFormat(f"{_BYTE_ERROR}\nFailed to parse byte string: {text}")


def get_mib(conf: Conf, key: str, default: str | None) -> int | None:
    """A ``bytesConf(ByteUnit.MiB)`` entry, in MiB (a leading ``-`` negates, as Spark allows)."""
    value = conf.get(key, default)
    if value is None:
        return None
    negative = value.startswith("-")
    mib = byte_string_as(value[1:] if negative else value, MIB)
    return -mib if negative else mib


def to_sequence(value: str) -> list[str]:
    """A ``toSequence`` entry: comma-separated, trimmed, empty parts dropped."""
    return [part.strip() for part in value.split(",") if part.strip()]


def substitute_ids(text: str, app_id: str, executor_id: str) -> str:
    """``Utils.substituteAppNExecIds``."""
    return text.replace("{{APP_ID}}", app_id).replace("{{EXECUTOR_ID}}", executor_id)


def split_command(text: str) -> list[str]:
    """``Utils.splitCommandString``: words as a shell splits them (quotes, backslashes in double quotes)."""
    words: list[str] = []
    word: list[str] = []
    in_word = in_single = in_double = False
    i = 0
    while i < len(text):
        ch = text[i]
        if in_double:
            if ch == '"':
                in_double = False
            elif ch == "\\":
                if i < len(text) - 1:
                    word.append(text[i + 1])
                    i += 1
            else:
                word.append(ch)
        elif in_single:
            if ch == "'":
                in_single = False
            else:
                word.append(ch)
        elif ch == '"':
            in_word = in_double = True
        elif ch == "'":
            in_word = in_single = True
        elif ch not in " \t\r\n":
            word.append(ch)
            in_word = True
        elif in_word:
            words.append("".join(word))
            word.clear()
            in_word = False
        i += 1
    if in_word or in_double or in_single:
        words.append("".join(word))
    return words


def is_executor_startup_conf(key: str) -> bool:
    """``SparkConf.isExecutorStartupConf``: what executors get as ``-D`` options at start."""
    return (
        (key.startswith("spark.auth") and key != "spark.authenticate.secret")
        or key.startswith("spark.rpc")
        or key.startswith("spark.network")
        or (key.startswith("spark.ssl") and "Password" not in key)
        or (key.startswith("spark.") and key.endswith(".port"))
        or key.startswith("spark.port.")
    )
