"""The controller runtime and the Spark controllers that one fleet instance runs."""
