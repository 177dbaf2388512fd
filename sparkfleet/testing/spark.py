"""Real Spark for tests: the jars ``make spark`` installs, and Java programs compiled against them.

``make spark`` copies the jars of one pinned Spark line (``spark-core`` and ``spark-kubernetes``,
with every dependency at the version Spark's own build uses) from Maven Central into
``.cache/spark/<version>/jars``. :func:`find_spark` finds them (``$SPARKFLEET_SPARK_JARS`` wins);
:func:`compile_java` builds the small probes under ``tests/spark/java`` against them, cached by
the sources' digest, and :func:`java` runs a class with the jars on the class path.

A missing install is an error naming the command to run, never a skip.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sparkfleet.testing.assets import repo_root

SPARK_VERSION = "4.0.2"
SCALA_BINARY_VERSION = "2.13"
JARS_ENV = "SPARKFLEET_SPARK_JARS"
# The JVM flags Spark's own launcher adds on Java 17 (its JavaModuleOptions, 4.0.2): without them Spark's
# serializers and Netty fail on the module system's encapsulation.
JAVA_MODULE_OPTIONS = (
    "-XX:+IgnoreUnrecognizedVMOptions",
    "--add-modules=jdk.incubator.vector",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
    "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
    "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
    "--add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "-Djdk.reflect.useDirectMethodHandle=false",
    "-Dio.netty.tryReflectionSetAccessible=true",
)


class SparkNotFound(Exception):
    """The Spark jars (or a JDK) are missing; the message says what to run."""


@dataclass(frozen=True, slots=True)
class Spark:
    version: str
    jars: Path

    @property
    def classpath(self) -> str:
        return os.pathsep.join(str(p) for p in sorted(self.jars.glob("*.jar")))


def java_tool(name: str) -> str:
    """``java`` or ``javac`` from ``$JAVA_HOME`` when set, else from the PATH."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / name if home else None
    if candidate is not None and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SparkNotFound(f"{name} not found: a JDK 17 is needed for the Spark tests")
    return found


def find_spark() -> Spark:
    override = os.environ.get(JARS_ENV)
    if override:
        jars = Path(override)
    else:
        root = repo_root()
        if root is None:
            raise SparkNotFound(f"not in a sparkfleet checkout: set {JARS_ENV} to a folder of Spark jars")
        jars = root / ".cache" / "spark" / SPARK_VERSION / "jars"
    if not any(jars.glob("spark-kubernetes_*.jar")):
        raise SparkNotFound(f"no Spark jars in {jars}: run `make spark`")
    return Spark(version=SPARK_VERSION, jars=jars)


def java_sources() -> Path:
    root = repo_root()
    if root is None:
        raise SparkNotFound("not in a sparkfleet checkout: the Java probes live in tests/spark/java")
    return root / "tests" / "spark" / "java"


def compile_java(spark: Spark, sources: Sequence[Path], *, cache: Path | None = None) -> Path:
    """Compiles ``sources`` against Spark's jars; returns the classes folder (reused while unchanged)."""
    digest = hashlib.sha256(spark.version.encode())
    for source in sorted(sources):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    root = cache or spark.jars.parent / "classes"
    out = root / digest.hexdigest()[:16]
    if (out / ".compiled").exists():
        return out
    staging = out.with_name(out.name + f".{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    result = subprocess.run(
        [java_tool("javac"), "-nowarn", "-d", str(staging), "-cp", spark.classpath, *map(str, sources)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise SparkNotFound(f"javac failed:\n{result.stderr[-4000:]}")
    (staging / ".compiled").touch()
    try:
        staging.rename(out)
    except OSError:  # another process compiled the same sources first
        shutil.rmtree(staging, ignore_errors=True)
    return out


def java_argv(
    spark: Spark,
    main_class: str,
    args: Sequence[str] = (),
    *,
    classes: Sequence[Path] = (),
    jvm_options: Sequence[str] = (),
) -> list[str]:
    """The command line that runs ``main_class`` with Spark's jars (and ``classes``) on the class path."""
    classpath = os.pathsep.join([*(str(c) for c in classes), spark.classpath])
    return [java_tool("java"), *JAVA_MODULE_OPTIONS, *jvm_options, "-cp", classpath, main_class, *args]


async def run_java(
    spark: Spark,
    main_class: str,
    args: Sequence[str] = (),
    *,
    classes: Sequence[Path] = (),
    jvm_options: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 300.0,
) -> tuple[int, str, str]:
    """Runs a JVM to completion; returns (exit code, stdout, stderr). Killed at ``timeout``."""
    process = await asyncio.create_subprocess_exec(
        *java_argv(spark, main_class, args, classes=classes, jvm_options=jvm_options),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
