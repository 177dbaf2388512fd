"""A stand-in for the kubelet and the Spark driver, so that the demo, tests and benchmarks drive real pods
through real phases on a control plane without nodes."""

from sparkfleet.sim.pods import ANNOTATION_OUTCOME, ANNOTATION_RUN_SECONDS, PodSimulator, SimConfig, SimStats

__all__ = ["ANNOTATION_OUTCOME", "ANNOTATION_RUN_SECONDS", "PodSimulator", "SimConfig", "SimStats"]
