"""``python -m sparkfleet.chaos``: run the fault scenarios and write the JSON report (``make chaos``)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
import traceback
from pathlib import Path

import orjson

from sparkfleet.chaos import report
from sparkfleet.chaos.scenarios import SCALES, SCENARIOS, ScenarioResult
from sparkfleet.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkfleet.chaos", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="run just these scenarios")
    parser.add_argument("--report", type=Path, default=Path("chaos-report.json"))
    parser.add_argument("--workdir", type=Path, help="keep every log here (default: a temporary folder)")
    parser.add_argument(
        "--seed",
        type=int,
        help="the random-changes scenario's seed, to replay a run "
        "(default: $SPARKFLEET_RANDOM_SEED, or a fresh one, printed)",
    )
    args = parser.parse_args(argv)
    configure_logging("text", "warning")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sparkfleet-chaos-"))
    scale = dataclasses.replace(SCALES[args.scale], seed=args.seed)
    results = []
    for name in args.only or list(SCENARIOS):
        print(f"== {name} ({scale.name}); logs in {workdir / name}", flush=True)
        started = time.monotonic()
        try:
            result = asyncio.run(SCENARIOS[name](scale, workdir / name))
        except Exception as exc:  # a scenario that could not run is a failed one, on the record
            traceback.print_exc()
            result = ScenarioResult(name, name, error=f"{type(exc).__name__}: {exc}")
        result.seconds = time.monotonic() - started
        results.append(result)
        print(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode(), flush=True)
    built = report.build(scale, results)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_bytes(orjson.dumps(built, option=orjson.OPT_INDENT_2) + b"\n")
    table = report.markdown(built)
    args.report.with_suffix(".md").write_text(table + "\n")
    print(table)
    print(f"report: {args.report}; logs: {workdir}")
    return 0 if built["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
