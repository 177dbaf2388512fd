"""The Kubeflow Spark Operator's controller flags (v2.5), read as ``sparkfleet run`` flags.

A Deployment made for the Spark Operator passes its controller flags (``--leader-election=true``,
``--zap-log-level=info``, ``--namespaces=""``, ...). :func:`translate` turns such an argument list
into sparkfleet's, so the same Deployment starts sparkfleet instead of crashing on an unknown flag:

- a flag sparkfleet has under the same name passes through (``--controller-threads``, the
  ``--leader-election-*`` timings, ``--workqueue-ratelimiter-*``, ``--kube-api-*``, ...);
- a flag it has under another name or form is rewritten (``--leader-election=true`` to
  ``--leader-elect``, ``--zap-log-level`` to ``--log-level``, ``--zap-encoder`` to
  ``--log-format``, a Go boolean ``--x=false`` to ``--no-x``);
- a flag whose job sparkfleet does another way, or does not do yet, is dropped with a one-line
  warning saying so.

The Spark Operator's image runs ``controller start <flags>``; ``sparkfleet controller start`` is the
same as ``sparkfleet run``, so swapping the image is enough. Pure: no I/O; the caller logs the
warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Go booleans: --x, --x=true, --x=false.
BOOLEANS = {"--leader-election": "--leader-elect", "--enable-ui-service": "--enable-ui-service",
            "--enable-driver-pdb": "--enable-driver-pdb",
            "--enable-batch-scheduler": "--enable-batch-scheduler"}  # fmt: skip
ZAP_LEVELS = {"debug": "debug", "info": "info", "warn": "warning", "error": "error", "dpanic": "error",
              "panic": "error", "fatal": "error"}  # fmt: skip
ZAP_ENCODERS = {"json": "json", "console": "text"}
# Accepted and dropped: what each did in the Spark Operator, and what stands in for it here.
DROPPED = {
    "--enable-metrics": "metrics are always served (on --metrics-bind-address)",
    "--metrics-endpoint": "metrics are served at /metrics",
    "--pprof-bind-address": "no pprof endpoint (Go only)",
    "--secure-metrics": "metrics are served over plain HTTP",
    "--enable-http2": "metrics are served over plain HTTP/1.1",
    "--cache-sync-timeout": "caches are waited for as long as the API server answers (--startup-timeout "
    "bounds the wait for an API server that does not)",
    "--metric-tls-min-version": "metrics are served over plain HTTP",
    "--metric-tls-cipher-suites": "metrics are served over plain HTTP",
    "--feature-gates": "no feature gates here (no spark-defaults.conf loading, no partial restarts)",
    # controller-runtime's other zap flags (its --zap-log-level and --zap-encoder are read above)
    "--zap-devel": "development logging is --log-level=debug --log-format=text",
    "--zap-stacktrace-level": "a stack trace is logged with every error that has one",
    "--zap-time-encoding": "log timestamps are ISO 8601 (UTC in json)",
}
HEALTH_PROBE_DEFAULT = ":8081"  # the Spark Operator's: its chart's probes ask this port, not passing the flag
# Read here and rewritten (the rest of sparkfleet's and Kubeflow's shared flags pass through as given).
REWRITTEN = frozenset({"--namespaces", "--zap-log-level", "--zap-encoder"})
# Dropped Go booleans: a value of theirs comes with '=' only, never as the next argument.
_DROPPED_BOOLEANS = frozenset({"--enable-metrics", "--secure-metrics", "--enable-http2", "--zap-devel"})
_TAKES_VALUE = (REWRITTEN | set(DROPPED)) - _DROPPED_BOOLEANS


def controller_start(args: list[str]) -> list[str]:
    """``sparkfleet run``'s arguments for ``controller start <args>`` (the Spark Operator's image's
    command): its defaults that differ from sparkfleet's are made explicit. Its chart's probes ask
    :8081 without passing --health-probe-bind-address, so that is served unless another is given."""
    if any(arg.partition("=")[0] == "--health-probe-bind-address" for arg in args):
        return list(args)
    return [*args, f"--health-probe-bind-address={HEALTH_PROBE_DEFAULT}"]


@dataclass
class Translation:
    argv: list[str]
    warnings: list[str] = field(default_factory=list)


def _truth(flag: str, value: str | None) -> bool:
    if value is None:
        return True
    lowered = value.strip().lower()
    if lowered in ("true", "1", "t"):
        return True
    if lowered in ("false", "0", "f"):
        return False
    raise ValueError(f"{flag}: {value!r} is not a boolean (true or false)")


def _every_namespace(value: str | None) -> bool:
    """Whether a Spark Operator ``--namespaces`` value holds its "every namespace", an empty item
    (the chart passes ``--namespaces=""``: the quotes reach the process, and CSV reads one empty item)."""
    return value is not None and value != "" and any(not n.strip() for n in value.replace('"', "").split(","))


def _namespaces_values(args: list[str]) -> list[str | None]:
    values = []
    for i, arg in enumerate(args):
        flag, eq, inline = arg.partition("=")
        if flag == "--namespaces":
            following = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else None
            values.append(inline if eq else following)
    return values


def translate(args: list[str]) -> Translation:
    """sparkfleet's arguments for Kubeflow's (and sparkfleet's own, which pass through untouched).

    Raises ValueError naming the flag for a value that cannot be read (``--zap-log-level=loud``)."""
    out = Translation(argv=[])
    # The Spark Operator serves every namespace when --namespaces holds an empty item, whatever
    # --namespace-selector adds; sparkfleet says every namespace by giving no --namespaces.
    every_namespace = any(_every_namespace(v) for v in _namespaces_values(args))
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("--") or arg == "--":
            out.argv.append(arg)
            continue
        flag, eq, inline = arg.partition("=")
        value: str | None = inline if eq else None
        if not (flag in BOOLEANS or flag in DROPPED or flag in REWRITTEN):
            if flag == "--namespace-selector" and every_namespace:
                if not eq and i < len(args) and not args[i].startswith("--"):
                    i += 1
                out.warnings.append(
                    f'{flag}: accepted and ignored: --namespaces="" already serves every namespace'
                )
                continue
            out.argv.append(arg)
            continue
        if value is None and flag in _TAKES_VALUE and i < len(args) and not args[i].startswith("--"):
            value = args[i]
            i += 1
        if flag in BOOLEANS:
            target = BOOLEANS[flag]
            out.argv.append(target if _truth(flag, value) else "--no-" + target.removeprefix("--"))
        elif flag == "--namespaces":
            # The Spark Operator's chart passes --namespaces="" (the quotes are part of the value) for
            # every namespace; an empty list means the same here.
            names = [n for n in (value or "").replace('"', "").split(",") if n.strip()]
            out.argv.extend(f"--namespaces={n.strip()}" for n in names)
        elif flag == "--zap-log-level":
            level = ZAP_LEVELS.get((value or "").strip().lower())
            if level is None:
                if (value or "").strip().lstrip("-").isdigit():  # zap's numeric verbosity: debug and beyond
                    level = "debug"
                else:
                    raise ValueError(f"--zap-log-level: {value!r} is not one of {', '.join(ZAP_LEVELS)}")
            out.argv.append(f"--log-level={level}")
        elif flag == "--zap-encoder":
            encoder = ZAP_ENCODERS.get((value or "").strip().lower())
            if encoder is None:
                raise ValueError(f"--zap-encoder: {value!r} is not json or console")
            out.argv.append(f"--log-format={encoder}")
        else:
            out.warnings.append(f"{flag}: accepted and ignored: {DROPPED[flag]}")
    return out
