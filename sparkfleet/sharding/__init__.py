"""Shards, the planner and the Lease coordinator. Knows nothing about Spark."""
