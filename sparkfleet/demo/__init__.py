"""The main job end to end on the local control plane: a fleet, the pod simulator, the seed workload,
live progress and a report (``sparkfleet demo``, and the benchmark in ``bench/``)."""
